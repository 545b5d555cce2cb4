//! The JNI bridge: the native methods of `io.vertx.spi.cluster.bop.impl.jni.BopNative`.
//!
//! Every exported function runs inside [`guard`]: a Rust panic is caught (the JVM would abort
//! otherwise) and becomes a `BopNativeException` carrying the panic message and the Rust
//! backtrace; every other failure becomes the Java exception [`errors::throw`] maps it to.
//! Requests and answers cross as wire frames, the same bytes nodes exchange. This is the only
//! module that uses `jni` or `unsafe`.

mod errors;
mod handles;
mod listener;
mod logging;

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Once};
use std::time::Duration;

use jni::objects::{JByteArray, JClass, JObject, JObjectArray, JString};
use jni::sys::{jboolean, jint, jlong, jobjectArray, jstring, JNI_FALSE, JNI_TRUE};
use jni::JNIEnv;

use crate::node::{DiscoveryMode, Node, NodeOptions};
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

fn string(env: &mut JNIEnv<'_>, s: &JString<'_>, what: &str) -> Result<String, JniError> {
    if s.is_null() {
        return Err(JniError::BadArgument(format!("{what} is null")));
    }
    Ok(env.get_string(s)?.into())
}

fn millis(value: jlong, what: &str) -> Result<Duration, JniError> {
    u64::try_from(value)
        .ok()
        .filter(|v| *v > 0)
        .map(Duration::from_millis)
        .ok_or_else(|| {
            JniError::BadArgument(format!(
                "{what} must be a positive number of milliseconds, not {value}"
            ))
        })
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

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_vertx_spi_cluster_bop_impl_jni_BopNative_start<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    cluster_name: JString<'local>,
    node_id: JString<'local>,
    host: JString<'local>,
    port: jint,
    seeds: JObjectArray<'local>,
    dns_name: JString<'local>,
    dns_port: jint,
    failure_timeout_ms: jlong,
    ping_interval_ms: jlong,
    tick_ms: jlong,
    voters: jint,
    request_timeout_ms: jlong,
    join_timeout_ms: jlong,
    max_frame_size: jlong,
    listener: JObject<'local>,
) -> jlong {
    guard(&mut env, 0, |env| {
        // The native log is set up once, when the first node starts, not on every call.
        logging::init_from_env();
        if listener.is_null() {
            return Err(JniError::BadArgument("listener is null".into()));
        }
        let mut options = NodeOptions::new(string(env, &cluster_name, "cluster name")?);
        options.node_id = string(env, &node_id, "node id")?;
        options.host = string(env, &host, "host")?;
        options.port = u16::try_from(port)
            .map_err(|_| JniError::BadArgument(format!("port {port} is not in 0..65535")))?;
        options.failure_timeout = millis(failure_timeout_ms, "failure timeout")?;
        options.ping_interval = millis(ping_interval_ms, "ping interval")?;
        options.tick = millis(tick_ms, "tick")?;
        options.request_timeout = millis(request_timeout_ms, "request timeout")?;
        options.join_timeout = millis(join_timeout_ms, "join timeout")?;
        options.voters = usize::try_from(voters)
            .ok()
            .filter(|v| *v >= 1)
            .ok_or_else(|| {
                JniError::BadArgument(format!("voters must be at least 1, not {voters}"))
            })?;
        options.max_frame_size = usize::try_from(max_frame_size)
            .ok()
            .filter(|v| *v >= 1024)
            .ok_or_else(|| {
                JniError::BadArgument(format!(
                    "max frame size {max_frame_size} is below 1024 bytes"
                ))
            })?;
        let mut seed_list = Vec::new();
        if !seeds.is_null() {
            for i in 0..env.get_array_length(&seeds)? {
                let seed = JString::from(env.get_object_array_element(&seeds, i)?);
                seed_list.push(string(env, &seed, "seed")?);
            }
        }
        options.discovery = if !dns_name.is_null() {
            let port = u16::try_from(dns_port).map_err(|_| {
                JniError::BadArgument(format!("DNS port {dns_port} is not in 0..65535"))
            })?;
            DiscoveryMode::Dns {
                name: string(env, &dns_name, "DNS name")?,
                port,
            }
        } else if !seed_list.is_empty() {
            DiscoveryMode::Seeds(seed_list)
        } else {
            DiscoveryMode::Local
        };
        let listener = Arc::new(Listener::new(env, &listener)?);
        let events = Arc::clone(&listener);
        options.on_event = Some(Arc::new(move |event| events.event(event)));
        let idle = Arc::clone(&listener);
        options.on_idle = Some(Arc::new(move || idle.flush()));
        let node = Node::start(options)?;
        Ok(handles::insert(node, listener))
    })
}

#[no_mangle]
pub extern "system" fn Java_io_vertx_spi_cluster_bop_impl_jni_BopNative_request<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    frame: JByteArray<'local>,
) {
    guard(&mut env, (), |env| submit(env, handle, &frame))
}

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
        entry.node.request(
            framed.payload,
            Box::new(move |response| listener.response(request_id, response)),
        );
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

#[no_mangle]
pub extern "system" fn Java_io_vertx_spi_cluster_bop_impl_jni_BopNative_members<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jobjectArray {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let members = handles::get(handle)?.node.members();
        let array =
            env.new_object_array(members.len() as i32, "java/lang/String", JObject::null())?;
        for (i, m) in members.iter().enumerate() {
            let s = env.new_string(m)?;
            env.set_object_array_element(&array, i as i32, &s)?;
            env.delete_local_ref(s)?;
        }
        Ok(array.into_raw())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_vertx_spi_cluster_bop_impl_jni_BopNative_address<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jstring {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let entry = handles::get(handle)?;
        Ok(env.new_string(entry.node.address())?.into_raw())
    })
}

/// How many voters the raft configuration this node has applied holds.
#[no_mangle]
pub extern "system" fn Java_io_vertx_spi_cluster_bop_impl_jni_BopNative_voterCount<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jint {
    guard(&mut env, 0, |_| {
        Ok(jint::try_from(handles::get(handle)?.node.voters().len()).unwrap_or(jint::MAX))
    })
}

#[no_mangle]
pub extern "system" fn Java_io_vertx_spi_cluster_bop_impl_jni_BopNative_isLeader<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jboolean {
    guard(&mut env, JNI_FALSE, |_| {
        Ok(if handles::get(handle)?.node.is_leader() {
            JNI_TRUE
        } else {
            JNI_FALSE
        })
    })
}

#[no_mangle]
pub extern "system" fn Java_io_vertx_spi_cluster_bop_impl_jni_BopNative_malformedFrames<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jlong {
    guard(&mut env, 0, |_| {
        Ok(handles::get(handle)?
            .node
            .transport_stats()
            .malformed_frames as jlong)
    })
}

/// For the JNI benchmark: runs `iterations` calls of the request in `frame` through the node
/// from Rust and returns the total nanoseconds, so the cost Java adds can be told apart.
#[no_mangle]
pub extern "system" fn Java_io_vertx_spi_cluster_bop_impl_jni_BopNative_timeNativeCalls<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    frame: JByteArray<'local>,
    iterations: jint,
    in_flight: jint,
) -> jlong {
    guard(&mut env, 0, |env| {
        let entry = handles::get(handle)?;
        if frame.is_null() {
            return Err(JniError::BadArgument("frame is null".into()));
        }
        let bytes = env.convert_byte_array(&frame)?;
        let framed = FramedMessage::decode(&bytes, entry.node.max_frame_size())
            .map_err(|e| JniError::BadArgument(format!("malformed request frame: {e}")))?;
        let iterations = iterations.max(0) as usize;
        let started = std::time::Instant::now();
        if in_flight <= 1 {
            for _ in 0..iterations {
                std::hint::black_box(entry.node.call(framed.payload.clone()));
            }
        } else {
            time_pipelined(&entry.node, &framed.payload, iterations, in_flight as usize)?;
        }
        Ok(started.elapsed().as_nanos() as jlong)
    })
}

/// Runs `iterations` requests through the node with `in_flight` of them outstanding, answers on
/// the node's callback thread, as the Java layer runs them.
fn time_pipelined(
    node: &Node,
    request: &crate::wire::Message,
    iterations: usize,
    in_flight: usize,
) -> Result<(), JniError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let submit = || {
        let tx = tx.clone();
        node.request(
            request.clone(),
            Box::new(move |answer| {
                let _ = tx.send(answer);
            }),
        );
    };
    let mut sent = 0;
    while sent < in_flight.min(iterations) {
        submit();
        sent += 1;
    }
    for _ in 0..iterations {
        let answer = rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| JniError::Native("no answer within 30 s".into()))?;
        std::hint::black_box(answer);
        if sent < iterations {
            submit();
            sent += 1;
        }
    }
    Ok(())
}
