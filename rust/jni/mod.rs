//! The JNI bridge: the native methods of `io.vertx.spi.cluster.bop.impl.jni.BopNative`.
//!
//! Every exported function runs inside [`guard`]: a Rust panic is caught (the JVM would abort
//! otherwise) and becomes a `BopNativeException` carrying the panic message and the Rust
//! backtrace; every other failure becomes the Java exception [`errors::throw`] maps it to.
//! Requests and answers cross as wire frames, the same bytes nodes exchange. This is the only
//! module that uses `jni` or `unsafe`.

#[cfg(feature = "bench-hooks")]
mod bench_hooks;
mod errors;
mod handles;
mod listener;
mod log_forward;
mod logging;

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Once};

use jni::objects::{JByteArray, JClass, JObject};
use jni::sys::{jboolean, jbyteArray, jint, jlong, jstring, JNI_FALSE, JNI_TRUE};
use jni::JNIEnv;

use crate::node::{Node, NodeOptions};
use crate::wire::FramedMessage;
use errors::{throw, JniError};
use listener::Listener;

thread_local! {
    /// The backtrace of the last panic on this thread, taken by the panic hook.
    static PANIC_TRACE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records a backtrace for every panic, so a caught one can be reported with it.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let trace = std::backtrace::Backtrace::force_capture().to_string();
            PANIC_TRACE.with(|t| *t.borrow_mut() = Some(trace));
            previous(info);
        }));
    });
}

/// Runs `f`, turning its error or panic into a pending Java exception and `fallback`.
fn guard<'local, T>(
    env: &mut JNIEnv<'local>,
    fallback: T,
    f: impl FnOnce(&mut JNIEnv<'local>) -> Result<T, JniError>,
) -> T {
    install_panic_hook();
    match catch_unwind(AssertUnwindSafe(|| f(env))) {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => {
            throw(env, e);
            fallback
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            let trace = PANIC_TRACE
                .with(|t| t.borrow_mut().take())
                .unwrap_or_default();
            throw(
                env,
                JniError::Native(format!("panic in the native core: {message}\n{trace}")),
            );
            fallback
        }
    }
}

#[no_mangle]
pub extern "system" fn Java_io_vertx_spi_cluster_bop_impl_jni_BopNative_version<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
) -> jstring {
    guard(&mut env, std::ptr::null_mut(), |env| {
        Ok(env.new_string(crate::greeting())?.into_raw())
    })
}

/// Sends the native log to `sink` (a `NativeLog`) at `level` (0 off, 1 error ... 5 trace), unless
/// `VERTX_CLUSTER_LOG` asks for standard error; returns whether records now reach `sink`. The
/// logger is the process's: the last call's sink and level apply to every node.
#[no_mangle]
pub extern "system" fn Java_io_vertx_spi_cluster_bop_impl_jni_BopNative_logTo<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    sink: JObject<'local>,
    level: jint,
) -> jboolean {
    guard(&mut env, JNI_FALSE, |env| {
        if logging::wants_stderr() {
            logging::init_from_env();
            return Ok(JNI_FALSE);
        }
        if sink.is_null() {
            return Err(JniError::BadArgument("the log sink is null".into()));
        }
        if !log_forward::forward_to(env, &sink)? {
            return Ok(JNI_FALSE);
        }
        log::set_max_level(logging::level_of(level));
        Ok(JNI_TRUE)
    })
}

/// Starts a node from its settings ([`NodeOptions::encode_settings`]'s layout) and returns its
/// handle once it is a member.
#[no_mangle]
pub extern "system" fn Java_io_vertx_spi_cluster_bop_impl_jni_BopNative_start<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    settings: JByteArray<'local>,
    listener: JObject<'local>,
) -> jlong {
    guard(&mut env, 0, |env| {
        // The native log is set up once, when the first node starts, not on every call.
        logging::init_from_env();
        if settings.is_null() {
            return Err(JniError::BadArgument("settings are null".into()));
        }
        if listener.is_null() {
            return Err(JniError::BadArgument("listener is null".into()));
        }
        let mut options = NodeOptions::decode_settings(&env.convert_byte_array(&settings)?)?;
        let listener = Arc::new(Listener::new(env, &listener)?);
        let events = Arc::clone(&listener);
        options.on_event = Some(Arc::new(move |event| events.event(event)));
        let idle = Arc::clone(&listener);
        options.on_idle = Some(Arc::new(move || idle.flush()));
        let stopped = Arc::clone(&listener);
        options.on_stopped = Some(Arc::new(move |why| stopped.stopped(&why)));
        let node = Node::start(options)?;
        Ok(handles::insert(node, listener))
    })
}

/// Submits the request frames laid back to back in `frames` (one or more).
#[no_mangle]
pub extern "system" fn Java_io_vertx_spi_cluster_bop_impl_jni_BopNative_requests<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    frames: JByteArray<'local>,
) {
    guard(&mut env, (), |env| submit(env, handle, &frames))
}

/// Submits the request frames laid back to back in `frames`. Every frame is checked before any
/// is submitted, so a bad one refuses the whole batch.
fn submit(env: &mut JNIEnv<'_>, handle: jlong, frames: &JByteArray<'_>) -> Result<(), JniError> {
    let entry = handles::get(handle)?;
    if frames.is_null() {
        return Err(JniError::BadArgument("frame is null".into()));
    }
    let max = entry.node.max_frame_size();
    let bytes = env.convert_byte_array(frames)?;
    let mut requests = Vec::new();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let size = match crate::wire::frame_size(rest, max) {
            Ok(Some(size)) if size <= rest.len() => size,
            Ok(_) => {
                return Err(JniError::BadArgument(format!(
                    "malformed request frame: short frame of {} bytes",
                    rest.len()
                )))
            }
            Err(crate::wire::WireError::FrameTooLarge { size, max }) => {
                return Err(JniError::BadArgument(format!(
                    "request of {size} bytes exceeds the maximum frame size of {max} bytes"
                )))
            }
            Err(e) => {
                return Err(JniError::BadArgument(format!(
                    "malformed request frame: {e}"
                )))
            }
        };
        let framed = FramedMessage::decode(&rest[..size], max)
            .map_err(|e| JniError::BadArgument(format!("malformed request frame: {e}")))?;
        requests.push(framed);
        rest = &rest[size..];
    }
    for framed in requests {
        let request_id = framed.request_id;
        let listener = Arc::clone(&entry.listener);
        // A node whose loop stopped refuses at once, saying why; the caller fails the batch.
        entry.node.request(
            framed.payload,
            Box::new(move |response| listener.response(request_id, response)),
        )?;
    }
    Ok(())
}

#[no_mangle]
pub extern "system" fn Java_io_vertx_spi_cluster_bop_impl_jni_BopNative_leave<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    guard(&mut env, (), |_| {
        let entry = handles::get(handle)?;
        let outcome = entry.node.leave();
        handles::remove(handle)?;
        outcome.map_err(JniError::from)
    })
}

#[no_mangle]
pub extern "system" fn Java_io_vertx_spi_cluster_bop_impl_jni_BopNative_close<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    guard(&mut env, (), |_| {
        handles::remove(handle)?.node.close();
        Ok(())
    })
}

/// The node's status ([`crate::node::NodeStatus::encode`]'s layout): address, leadership,
/// members, voters and transport counters.
#[no_mangle]
pub extern "system" fn Java_io_vertx_spi_cluster_bop_impl_jni_BopNative_status<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jbyteArray {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let encoded = handles::get(handle)?.node.status().encode();
        Ok(env.byte_array_from_slice(&encoded)?.into_raw())
    })
}
