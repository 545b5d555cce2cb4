//! The bridge's one error type and the one place that maps it to Java exception classes.

use jni::JNIEnv;

use crate::error::Error;

/// Why a native call failed, by the Java exception it becomes.
#[derive(Debug)]
pub(crate) enum JniError {
    /// A null, malformed or oversized argument: `IllegalArgumentException`.
    BadArgument(String),
    /// An unknown or closed handle: `IllegalStateException`.
    Closed(String),
    /// A failure of the node, or a caught panic with its backtrace: `BopNativeException`.
    Native(String),
    /// A Java exception is already pending; leave it for the caller to see.
    Pending,
}

impl From<jni::errors::Error> for JniError {
    fn from(e: jni::errors::Error) -> Self {
        match e {
            jni::errors::Error::JavaException => JniError::Pending,
            jni::errors::Error::NullPtr(what) | jni::errors::Error::NullDeref(what) => {
                JniError::BadArgument(format!("null argument: {what}"))
            }
            other => JniError::Native(format!("JNI call failed: {other}")),
        }
    }
}

impl From<Error> for JniError {
    fn from(e: Error) -> Self {
        match e {
            Error::Closed | Error::Stopped(_) => JniError::Closed(e.to_string()),
            Error::Wire(_)
            | Error::InvalidAddress(_)
            | Error::Config { .. }
            | Error::Invalid(_) => JniError::BadArgument(e.to_string()),
            other => JniError::Native(other.to_string()),
        }
    }
}

const NATIVE_EXCEPTION: &str = "io/vertx/spi/cluster/bop/impl/jni/BopNativeException";

/// Raises the Java exception for `error` (unless one is pending already).
pub(crate) fn throw(env: &mut JNIEnv<'_>, error: JniError) {
    if env.exception_check().unwrap_or(true) {
        return;
    }
    let (class, message) = match error {
        JniError::BadArgument(m) => ("java/lang/IllegalArgumentException", m),
        JniError::Closed(m) => ("java/lang/IllegalStateException", m),
        JniError::Native(m) => (NATIVE_EXCEPTION, m),
        JniError::Pending => return,
    };
    if env.throw_new(class, &message).is_err() {
        // The class could not be found (a broken jar): fall back to a class that always exists.
        let _ = env.exception_clear();
        let _ = env.throw_new("java/lang/RuntimeException", message);
    }
}
