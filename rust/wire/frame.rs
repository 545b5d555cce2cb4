//! The frame: a 16-byte little-endian header, then the payload.
//!
//! ```text
//! checksum u32 | size u32 | protocol_version u8 | flags u8 | message_kind u16 | request_id u32 | payload
//! ```
//! `checksum` is CRC32 over every byte after it; `size` is the whole frame's length, header
//! included. Decoding checks, in order: enough bytes for a header, the declared size against the
//! configured maximum and against the bytes given, the checksum, the version, then the payload for
//! the declared kind. Each failure is a [`WireError`] naming what was wrong.
//!
//! A frame decodes two ways with the same checks: [`FramedMessage::decode`] gives an owned
//! [`Message`], and [`FramedMessage::decode_ref`] a [`FrameRef`] whose [`MessageRef`] borrows the
//! frame's bytes and allocates nothing for the request kinds. The owned decode is the borrowed
//! one followed by [`FramedMessage::into_owned`].

use std::ops::{BitAnd, BitOr, BitOrAssign};

use super::{Message, MessageRef, WireError};

/// The protocol version this build speaks. A frame of any other version is refused.
pub const PROTOCOL_VERSION: u8 = 2;
/// Bytes before the payload.
pub const HEADER_SIZE: usize = 16;
/// The default largest frame accepted or produced: 16 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 16 * 1024 * 1024;

/// The header's flag bits. Unknown bits are carried through untouched (room for more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MessageFlags(pub u8);

impl MessageFlags {
    pub const NONE: MessageFlags = MessageFlags(0);
    pub const REQUEST: MessageFlags = MessageFlags(0x01);
    pub const RESPONSE: MessageFlags = MessageFlags(0x02);
    pub const PING: MessageFlags = MessageFlags(0x04);
    pub const PONG: MessageFlags = MessageFlags(0x08);

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn contains(self, other: MessageFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for MessageFlags {
    type Output = MessageFlags;
    fn bitor(self, rhs: MessageFlags) -> MessageFlags {
        MessageFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for MessageFlags {
    fn bitor_assign(&mut self, rhs: MessageFlags) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for MessageFlags {
    type Output = MessageFlags;
    fn bitand(self, rhs: MessageFlags) -> MessageFlags {
        MessageFlags(self.0 & rhs.0)
    }
}

/// A message with its header fields. `message_kind` must equal `payload.get_message_kind()`;
/// encoding checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramedMessage<M> {
    pub protocol_version: u8,
    pub flags: MessageFlags,
    pub message_kind: u16,
    pub request_id: u32,
    pub payload: M,
}

/// A decoded frame whose message borrows the frame's bytes: see [`FramedMessage::decode_ref`].
pub type FrameRef<'a> = FramedMessage<MessageRef<'a>>;

impl<M> FramedMessage<M> {
    /// The same header with the payload passed through `f`.
    #[inline]
    fn map_payload<N>(self, f: impl FnOnce(M) -> N) -> FramedMessage<N> {
        FramedMessage {
            protocol_version: self.protocol_version,
            flags: self.flags,
            message_kind: self.message_kind,
            request_id: self.request_id,
            payload: f(self.payload),
        }
    }
}

impl FramedMessage<Message> {
    /// A frame of the current version whose kind is taken from the payload.
    pub fn new(flags: MessageFlags, request_id: u32, payload: Message) -> Self {
        FramedMessage {
            protocol_version: PROTOCOL_VERSION,
            flags,
            message_kind: payload.get_message_kind(),
            request_id,
            payload,
        }
    }

    /// A request frame.
    pub fn request(request_id: u32, payload: Message) -> Self {
        Self::new(MessageFlags::REQUEST, request_id, payload)
    }

    /// The response frame answering this request: same id, RESPONSE flag.
    pub fn reply(&self, payload: Message) -> Self {
        Self::response(self.request_id, payload)
    }

    /// A response frame for `request_id`: RESPONSE flag, plus PONG for a pong.
    pub fn response(request_id: u32, payload: Message) -> Self {
        let flags = if matches!(payload, Message::Pong { .. }) {
            MessageFlags::RESPONSE | MessageFlags::PONG
        } else {
            MessageFlags::RESPONSE
        };
        Self::new(flags, request_id, payload)
    }

    /// Encodes into a new buffer, refusing frames above [`DEFAULT_MAX_FRAME_SIZE`].
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let mut buf = Vec::with_capacity(64);
        self.encode_into(&mut buf, DEFAULT_MAX_FRAME_SIZE)?;
        Ok(buf)
    }

    /// Appends the encoded frame to `buf`. On error `buf` is left as it was.
    pub fn encode_into(&self, buf: &mut Vec<u8>, max_frame_size: usize) -> Result<(), WireError> {
        let payload_kind = self.payload.get_message_kind();
        if self.message_kind != payload_kind {
            return Err(WireError::KindMismatch {
                header: self.message_kind,
                payload: payload_kind,
            });
        }
        if self.protocol_version != PROTOCOL_VERSION {
            return Err(WireError::UnsupportedVersion(self.protocol_version));
        }
        let start = buf.len();
        buf.extend_from_slice(&[0; 8]);
        buf.push(self.protocol_version);
        buf.push(self.flags.0);
        buf.extend_from_slice(&self.message_kind.to_le_bytes());
        buf.extend_from_slice(&self.request_id.to_le_bytes());
        self.payload.encode_payload(buf);
        let size = buf.len() - start;
        if size > max_frame_size {
            buf.truncate(start);
            return Err(WireError::FrameTooLarge {
                size,
                max: max_frame_size,
            });
        }
        buf[start + 4..start + 8].copy_from_slice(&(size as u32).to_le_bytes());
        let checksum = crc32fast::hash(&buf[start + 4..]);
        buf[start..start + 4].copy_from_slice(&checksum.to_le_bytes());
        Ok(())
    }

    /// Decodes exactly one frame occupying all of `bytes`: [`FramedMessage::decode_ref`], then
    /// the borrowed fields copied out.
    #[inline]
    pub fn decode(bytes: &[u8], max_frame_size: usize) -> Result<Self, WireError> {
        FramedMessage::decode_ref(bytes, max_frame_size).map(FrameRef::into_owned)
    }
}

impl<'a> FramedMessage<MessageRef<'a>> {
    /// Decodes exactly one frame occupying all of `bytes` without copying it: the message's
    /// strings and byte strings are slices of `bytes` (only list fields are allocated). Checks,
    /// in order: a whole header, the declared size against `max_frame_size` and against
    /// `bytes.len()`, the CRC32, the protocol version, then the payload for the declared kind
    /// with no byte left over. Any failure is the same [`WireError`] the owned
    /// [`FramedMessage::decode`] gives.
    ///
    /// ```
    /// use vertx_cluster::wire::{FrameRef, FramedMessage, Message, MessageRef, DEFAULT_MAX_FRAME_SIZE};
    ///
    /// let put = Message::MapPutRequest { map_name: "m".into(), key: b"k".to_vec(), value: b"v".to_vec() };
    /// let bytes = FramedMessage::request(3, put.clone()).encode().unwrap();
    /// let frame = FrameRef::decode_ref(&bytes, DEFAULT_MAX_FRAME_SIZE).unwrap();
    /// assert_eq!(frame.request_id, 3);
    /// assert_eq!(frame.payload, MessageRef::MapPutRequest { map_name: "m", key: b"k", value: b"v" });
    /// assert_eq!(frame.payload.to_owned(), put);
    /// ```
    #[inline]
    pub fn decode_ref(bytes: &'a [u8], max_frame_size: usize) -> Result<Self, WireError> {
        let size = frame_size(bytes, max_frame_size)?.ok_or(WireError::ShortFrame(bytes.len()))?;
        if size != bytes.len() {
            return Err(WireError::SizeMismatch {
                declared: size,
                actual: bytes.len(),
            });
        }
        let expected = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes"));
        let actual = crc32fast::hash(&bytes[4..]);
        if expected != actual {
            return Err(WireError::BadChecksum { expected, actual });
        }
        let protocol_version = bytes[8];
        if protocol_version != PROTOCOL_VERSION {
            return Err(WireError::UnsupportedVersion(protocol_version));
        }
        let flags = MessageFlags(bytes[9]);
        let message_kind = u16::from_le_bytes([bytes[10], bytes[11]]);
        let request_id = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes"));
        let payload = MessageRef::decode_payload(message_kind, &bytes[HEADER_SIZE..])?;
        Ok(FramedMessage {
            protocol_version,
            flags,
            message_kind,
            request_id,
            payload,
        })
    }

    /// The owned frame: the same header, the message copied out of the bytes.
    #[inline]
    pub fn into_owned(self) -> FramedMessage<Message> {
        self.map_payload(MessageRef::into_owned)
    }

    /// The owned frame (see [`FramedMessage::into_owned`]).
    pub fn to_owned(&self) -> FramedMessage<Message> {
        self.clone().into_owned()
    }
}

/// Reads the declared size of the frame at the start of `buf`, for splitting a byte stream:
/// `Ok(None)` while fewer than [`HEADER_SIZE`] bytes are present, an error when the declared size
/// is below the header size or above `max_frame_size` (the stream cannot be trusted after that).
pub fn frame_size(buf: &[u8], max_frame_size: usize) -> Result<Option<usize>, WireError> {
    if buf.len() < HEADER_SIZE {
        return Ok(None);
    }
    let size = u32::from_le_bytes(buf[4..8].try_into().expect("4 bytes")) as usize;
    if size < HEADER_SIZE {
        return Err(WireError::ShortFrame(size));
    }
    if size > max_frame_size {
        return Err(WireError::FrameTooLarge {
            size,
            max: max_frame_size,
        });
    }
    Ok(Some(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping() -> FramedMessage<Message> {
        FramedMessage::new(MessageFlags::PING, 9, Message::Ping { sent_at_micros: 42 })
    }

    #[test]
    fn header_layout_is_the_sheets() {
        let bytes = ping().encode().unwrap();
        assert_eq!(bytes.len(), HEADER_SIZE + 8);
        assert_eq!(&bytes[4..8], &(bytes.len() as u32).to_le_bytes());
        assert_eq!(bytes[8], PROTOCOL_VERSION);
        assert_eq!(bytes[9], MessageFlags::PING.bits());
        assert_eq!(&bytes[10..12], &0x0001u16.to_le_bytes());
        assert_eq!(&bytes[12..16], &9u32.to_le_bytes());
        assert_eq!(&bytes[0..4], &crc32fast::hash(&bytes[4..]).to_le_bytes());
    }

    /// Both decodes of `bytes`, which must agree; the owned one is returned.
    fn decode(bytes: &[u8], max: usize) -> Result<FramedMessage<Message>, WireError> {
        let owned = FramedMessage::decode(bytes, max);
        let borrowed = FrameRef::decode_ref(bytes, max).map(FrameRef::into_owned);
        assert_eq!(borrowed, owned, "borrowed and owned decode disagree");
        owned
    }

    #[test]
    fn every_corruption_is_named() {
        let good = ping().encode().unwrap();
        let max = DEFAULT_MAX_FRAME_SIZE;

        assert_eq!(decode(&good[..10], max), Err(WireError::ShortFrame(10)));

        let mut bad_crc = good.clone();
        bad_crc[20] ^= 0xff;
        assert!(matches!(
            decode(&bad_crc, max),
            Err(WireError::BadChecksum { .. })
        ));

        let mut bad_version = good.clone();
        bad_version[8] = 99;
        let crc = crc32fast::hash(&bad_version[4..]);
        bad_version[0..4].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            decode(&bad_version, max),
            Err(WireError::UnsupportedVersion(99))
        );

        let mut bad_kind = good.clone();
        bad_kind[10..12].copy_from_slice(&0x7777u16.to_le_bytes());
        let crc = crc32fast::hash(&bad_kind[4..]);
        bad_kind[0..4].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decode(&bad_kind, max), Err(WireError::UnknownKind(0x7777)));

        assert_eq!(
            decode(&good, 20),
            Err(WireError::FrameTooLarge {
                size: good.len(),
                max: 20
            })
        );

        let mut longer = good.clone();
        longer.push(0);
        assert_eq!(
            decode(&longer, max),
            Err(WireError::SizeMismatch {
                declared: good.len(),
                actual: good.len() + 1
            })
        );
    }

    #[test]
    fn oversized_frames_are_refused_on_encode_and_leave_the_buffer_alone() {
        let big = FramedMessage::request(
            1,
            Message::MapPutRequest {
                map_name: "m".into(),
                key: vec![1],
                value: vec![0; 4096],
            },
        );
        let mut buf = vec![7u8];
        let err = big.encode_into(&mut buf, 1024).unwrap_err();
        assert!(matches!(err, WireError::FrameTooLarge { max: 1024, .. }));
        assert_eq!(buf, vec![7u8]);
    }

    #[test]
    fn mismatched_header_kind_is_refused_on_encode() {
        let mut frame = ping();
        frame.message_kind = 0x0101;
        assert_eq!(
            frame.encode(),
            Err(WireError::KindMismatch {
                header: 0x0101,
                payload: 0x0001
            })
        );
    }

    #[test]
    fn frame_size_splits_a_stream() {
        let a = ping().encode().unwrap();
        assert_eq!(frame_size(&a[..5], 1024), Ok(None));
        assert_eq!(frame_size(&a, 1024), Ok(Some(a.len())));
        let mut lying = a.clone();
        lying[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            frame_size(&lying, 1024),
            Err(WireError::FrameTooLarge { .. })
        ));
    }
}
