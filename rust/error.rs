//! The crate's one error type. Each variant says what was wrong in words a user can act on; the
//! JNI layer maps variants to Java exception classes in one place.

use crate::fsm::SnapshotError;
use crate::wire::WireError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A configuration value (usually an environment variable) could not be used.
    #[error("invalid value {value:?} for {variable}: {reason}")]
    Config {
        variable: &'static str,
        value: String,
        reason: &'static str,
    },
    /// A setting that cannot be used as given (a missing cluster secret, a name too long).
    #[error("{0}")]
    Invalid(String),
    /// An address that is not `host:port`.
    #[error("invalid address {0:?}: expected host:port with a port from 0 to 65535")]
    InvalidAddress(String),
    /// Bytes that are not a valid frame, or a frame that cannot be encoded.
    #[error("wire error: {0}")]
    Wire(#[from] WireError),
    /// Snapshot bytes that were refused.
    #[error("snapshot refused: {0}")]
    Snapshot(#[from] SnapshotError),
    /// An operating-system call failed.
    #[error("{context}: {message}")]
    Io { context: String, message: String },
    /// The node could not get into a cluster.
    #[error("could not join the cluster: {0}")]
    Join(String),
    /// The node could not leave the cluster cleanly.
    #[error("could not leave the cluster: {0}")]
    Leave(String),
    /// The node is closed or closing.
    #[error("the node is closed")]
    Closed,
    /// The node's event loop stopped: why, in words (a panic's message, a failed poll).
    #[error("{0}")]
    Stopped(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, e: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            message: e.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
