//! The native log inside the application's logging: records of the `log` facade are encoded into
//! a bounded in-memory batch and handed to Java's `NativeLog.write(byte[])` by one thread of their
//! own (`vertx-bop-log`), at most every [`DRAIN_EVERY`] or sooner when the batch grows. A thread
//! that logs (the node loop, raft) only formats and appends under a short lock: it never waits on
//! Java. When Java falls behind and the batch reaches [`MAX_BATCH`] bytes, further records are
//! dropped and counted, and the next batch starts with a warning saying how many.
//!
//! Batch layout, per record: level `u8` (1 error, 2 warn, 3 info, 4 debug, 5 trace), target
//! length `u16` LE and UTF-8 bytes, message length `u32` LE and UTF-8 bytes (a message is cut at
//! [`MAX_MESSAGE`] bytes, on a character boundary).

use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use jni::objects::{GlobalRef, JMethodID, JObject, JValue};
use jni::signature::{Primitive, ReturnType};
use jni::{JNIEnv, JavaVM};
use log::{Level, Log, Metadata, Record};

/// How long a record may wait in the batch.
const DRAIN_EVERY: Duration = Duration::from_millis(200);
/// The batch size that wakes the drain thread early.
const WAKE_AT: usize = 64 * 1024;
/// The most bytes the batch holds; records beyond are dropped and counted.
const MAX_BATCH: usize = 4 * 1024 * 1024;
/// The longest message passed on, in bytes.
const MAX_MESSAGE: usize = 16 * 1024;

struct Batch {
    bytes: Vec<u8>,
    dropped: u64,
}

static BATCH: Mutex<Batch> = Mutex::new(Batch {
    bytes: Vec::new(),
    dropped: 0,
});
static WAKE: Condvar = Condvar::new();

/// Where batches go: the `NativeLog` object the last `logTo` call named.
struct Sink {
    vm: JavaVM,
    target: GlobalRef,
    write: JMethodID,
}

static SINK: Mutex<Option<Sink>> = Mutex::new(None);

struct Forward;

impl Log for Forward {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = record.args().to_string();
        let mut batch = BATCH.lock().unwrap_or_else(|e| e.into_inner());
        if batch.bytes.len() >= MAX_BATCH {
            batch.dropped += 1;
            return;
        }
        encode_record(&mut batch.bytes, record.level(), record.target(), &message);
        if batch.bytes.len() >= WAKE_AT {
            WAKE.notify_one();
        }
    }

    fn flush(&self) {}
}

/// Appends one record in the batch layout.
pub(crate) fn encode_record(out: &mut Vec<u8>, level: Level, target: &str, message: &str) {
    out.push(level as u8);
    let target = truncate(target, u16::MAX as usize);
    out.extend_from_slice(&(target.len() as u16).to_le_bytes());
    out.extend_from_slice(target.as_bytes());
    let message = truncate(message, MAX_MESSAGE);
    out.extend_from_slice(&(message.len() as u32).to_le_bytes());
    out.extend_from_slice(message.as_bytes());
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Sends records to `sink` (a `NativeLog`) from now on; installs the forwarding logger and its
/// thread on the first call. Returns false when another logger (standard error) is installed.
pub(crate) fn forward_to(env: &mut JNIEnv<'_>, sink: &JObject<'_>) -> jni::errors::Result<bool> {
    let class = env.get_object_class(sink)?;
    let next = Sink {
        vm: env.get_java_vm()?,
        target: env.new_global_ref(sink)?,
        write: env.get_method_id(&class, "write", "([B)V")?,
    };
    *SINK.lock().unwrap_or_else(|e| e.into_inner()) = Some(next);
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    Ok(*INSTALLED.get_or_init(|| {
        if log::set_logger(&Forward).is_err() {
            return false;
        }
        let spawned = std::thread::Builder::new()
            .name("vertx-bop-log".into())
            .spawn(drain);
        if let Err(e) = spawned {
            eprintln!("vertx-cluster: cannot start the log thread: {e}");
        }
        true
    }))
}

/// The drain thread: hands each batch to Java.
fn drain() {
    loop {
        let (bytes, dropped) = {
            let mut batch = BATCH.lock().unwrap_or_else(|e| e.into_inner());
            if batch.bytes.is_empty() && batch.dropped == 0 {
                batch = WAKE
                    .wait_timeout(batch, DRAIN_EVERY)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            (
                std::mem::take(&mut batch.bytes),
                std::mem::take(&mut batch.dropped),
            )
        };
        if bytes.is_empty() && dropped == 0 {
            continue;
        }
        let mut out = Vec::with_capacity(bytes.len() + 128);
        if dropped > 0 {
            let warning = format!(
                "{dropped} native log records were dropped: the application's logging did not keep up"
            );
            encode_record(&mut out, Level::Warn, "vertx_cluster::log", &warning);
        }
        out.extend_from_slice(&bytes);
        deliver(&out);
    }
}

/// Calls `NativeLog.write(batch)`; on failure, the batch goes to standard error.
fn deliver(batch: &[u8]) {
    let sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
    let Some(sink) = sink.as_ref() else {
        return;
    };
    let mut env = match attach_named(&sink.vm) {
        Ok(env) => env,
        Err(e) => {
            eprintln!("vertx-cluster: cannot attach the log thread to the JVM: {e}");
            return;
        }
    };
    let outcome = env.with_local_frame(4, |env| {
        let bytes = JObject::from(env.byte_array_from_slice(batch)?);
        let args = [JValue::Object(&bytes).as_jni()];
        // SAFETY: `write` was looked up on the sink's class with signature ([B)V, and the one
        // argument is a byte[].
        unsafe {
            env.call_method_unchecked(
                &sink.target,
                sink.write,
                ReturnType::Primitive(Primitive::Void),
                &args,
            )
        }
        .map(|_| ())
    });
    if env.exception_check().unwrap_or(false) {
        let _ = env.exception_describe();
        let _ = env.exception_clear();
    } else if let Err(e) = outcome {
        eprintln!("vertx-cluster: cannot hand native log records to Java: {e}");
    }
}

/// The current thread's `JNIEnv`, attaching it first as a daemon under its Rust name (so thread
/// dumps show `vertx-bop-log`, not `Thread-N`). It stays attached: the thread lives as long as
/// the process.
fn attach_named(vm: &JavaVM) -> jni::errors::Result<JNIEnv<'_>> {
    if let Ok(env) = vm.get_env() {
        return Ok(env);
    }
    let name = std::ffi::CString::new(std::thread::current().name().unwrap_or("vertx-bop-log"))
        .unwrap_or_default();
    let mut args = jni::sys::JavaVMAttachArgs {
        version: jni::sys::JNI_VERSION_1_8,
        name: name.as_ptr() as *mut std::ffi::c_char,
        group: std::ptr::null_mut(),
    };
    let raw = vm.get_java_vm_pointer();
    let mut env: *mut std::ffi::c_void = std::ptr::null_mut();
    // SAFETY: `raw` is the live JavaVM the sink was created from; AttachCurrentThreadAsDaemon is
    // part of every JNI invocation interface, and `args` (with `name`) outlives the call, which
    // copies the name.
    let code = unsafe {
        match (**raw).AttachCurrentThreadAsDaemon {
            Some(attach) => attach(raw, &mut env, &mut args as *mut _ as *mut std::ffi::c_void),
            None => jni::sys::JNI_ERR,
        }
    };
    if code != jni::sys::JNI_OK || env.is_null() {
        return vm.attach_current_thread_as_daemon();
    }
    // SAFETY: a non-null env pointer the JVM just handed to this thread.
    unsafe { JNIEnv::from_raw(env as *mut jni::sys::JNIEnv) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_level_target_and_message_with_their_lengths() {
        let mut out = Vec::new();
        encode_record(&mut out, Level::Info, "raft::raft", "became leader");
        let mut expected = vec![3u8, 10, 0];
        expected.extend_from_slice(b"raft::raft");
        expected.extend_from_slice(&13u32.to_le_bytes());
        expected.extend_from_slice(b"became leader");
        assert_eq!(out, expected);
    }

    #[test]
    fn a_long_message_is_cut_on_a_character_boundary() {
        let message = "é".repeat(MAX_MESSAGE); // two bytes each
        let mut out = Vec::new();
        encode_record(&mut out, Level::Warn, "t", &message);
        let length = u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize;
        assert_eq!(length, MAX_MESSAGE);
        assert!(std::str::from_utf8(&out[8..]).is_ok());
        assert_eq!(out.len(), 8 + MAX_MESSAGE);
    }
}
