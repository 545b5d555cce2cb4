//! The wire protocol: frames, messages and their byte encoding. Pure: no I/O, no threads, no
//! clock. The same frames travel between nodes and across the JNI boundary, and the bytes are
//! pinned by golden vectors in `tests/vectors/` that the Java codec decodes too.
//!
//! ```
//! use vertx_cluster::wire::{FramedMessage, Message, MessageFlags, PROTOCOL_VERSION, DEFAULT_MAX_FRAME_SIZE};
//!
//! let frame = FramedMessage {
//!     protocol_version: PROTOCOL_VERSION,
//!     flags: MessageFlags::REQUEST,
//!     message_kind: Message::NodeListRequest {}.get_message_kind(),
//!     request_id: 7,
//!     payload: Message::NodeListRequest {},
//! };
//! let bytes = frame.encode().unwrap();
//! assert_eq!(FramedMessage::decode(&bytes, DEFAULT_MAX_FRAME_SIZE).unwrap(), frame);
//! ```
//!
//! Frames decode two ways, with the same checks and the same errors:
//! [`FramedMessage::decode`] builds an owned [`Message`]; [`FrameRef::decode_ref`] builds a
//! [`MessageRef`] whose strings and byte strings are slices of the frame, so the requests the
//! state machine applies decode without allocating (only list fields, found in some responses and
//! in `ForwardProposals`, are decoded owned inside the view). `MessageRef` is generated from the
//! same list of kinds as `Message`; `to_owned()`/`into_owned()` give the owned message, and the
//! owned decode is the borrowed one followed by `into_owned()`.
//!
//! ```
//! use vertx_cluster::wire::{FrameRef, FramedMessage, Message, MessageRef, DEFAULT_MAX_FRAME_SIZE};
//!
//! let add = Message::CounterAddAndGetRequest { counter_name: "hits".into(), delta: 1 };
//! let bytes = FramedMessage::request(8, add.clone()).encode().unwrap();
//! let frame = FrameRef::decode_ref(&bytes, DEFAULT_MAX_FRAME_SIZE).unwrap();
//! match frame.payload {
//!     MessageRef::CounterAddAndGetRequest { counter_name, delta } => {
//!         assert_eq!((counter_name, delta), ("hits", 1)); // `counter_name` points into `bytes`
//!     }
//!     ref other => panic!("unexpected {}", other.name()),
//! }
//! assert_eq!(frame.into_owned(), FramedMessage::decode(&bytes, DEFAULT_MAX_FRAME_SIZE).unwrap());
//! ```

pub(crate) mod codec;
mod frame;
mod message;
mod message_ref;

#[cfg(test)]
mod arbitrary_fields;
#[cfg(test)]
mod proptests;

pub use frame::{
    frame_size, FrameRef, FramedMessage, MessageFlags, DEFAULT_MAX_FRAME_SIZE, HEADER_SIZE,
    PROTOCOL_VERSION,
};
#[cfg(test)]
pub(crate) use message::arbitrary::any_message;
pub use message::{
    error_code, MapEntry, MapEntryRef, Message, Proposal, ProposalRef, RegistrationInfo,
    RegistrationInfoRef, ONE_WAY_KINDS, RESPONSE_KIND_BIT,
};
pub use message_ref::MessageRef;

/// Why bytes could not be decoded (or a frame could not be encoded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("short frame: {0} bytes, the header alone takes 16")]
    ShortFrame(usize),
    #[error("frame of {size} bytes exceeds the maximum of {max}")]
    FrameTooLarge { size: usize, max: usize },
    #[error("frame declares {declared} bytes but {actual} were given")]
    SizeMismatch { declared: usize, actual: usize },
    #[error("bad checksum: header says {expected:#010x}, bytes give {actual:#010x}")]
    BadChecksum { expected: u32, actual: u32 },
    #[error("unsupported protocol version {0} (this build speaks {PROTOCOL_VERSION})")]
    UnsupportedVersion(u8),
    #[error("unknown message kind {0:#06x}")]
    UnknownKind(u16),
    #[error("header kind {header:#06x} does not match the payload's kind {payload:#06x}")]
    KindMismatch { header: u16, payload: u16 },
    #[error("field `{field}` claims {claimed} bytes but only {available} remain")]
    FieldTooLong {
        field: &'static str,
        claimed: usize,
        available: usize,
    },
    #[error("field `{field}` has invalid tag {tag}")]
    BadTag { field: &'static str, tag: u8 },
    #[error("field `{0}` is not valid UTF-8")]
    BadUtf8(&'static str),
    #[error("{0} unexpected bytes after the payload")]
    TrailingBytes(usize),
}
