//! Property tests: every message round-trips through a frame, and no byte sequence, random or
//! mutated from a valid frame, makes the decoder panic.

use proptest::prelude::*;

use super::message::arbitrary::any_message;
use super::{FramedMessage, Message, MessageFlags, WireError, DEFAULT_MAX_FRAME_SIZE};

fn any_frame() -> impl Strategy<Value = FramedMessage<Message>> {
    (any::<u8>(), any::<u32>(), any_message())
        .prop_map(|(flags, id, msg)| FramedMessage::new(MessageFlags(flags), id, msg))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_message_round_trips(frame in any_frame()) {
        let bytes = frame.encode().unwrap();
        prop_assert_eq!(FramedMessage::decode(&bytes, DEFAULT_MAX_FRAME_SIZE).unwrap(), frame);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = FramedMessage::decode(&bytes, DEFAULT_MAX_FRAME_SIZE);
        let _ = Message::decode_payload(u16::from_le_bytes([bytes.first().copied().unwrap_or(0), 3]), &bytes);
    }

    #[test]
    fn any_single_byte_change_is_detected(
        frame in any_frame(),
        position in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let mut bytes = frame.encode().unwrap();
        let i = position.index(bytes.len());
        bytes[i] ^= xor;
        // CRC32 detects every single-byte error: a mutated frame never decodes as valid.
        prop_assert!(FramedMessage::decode(&bytes, DEFAULT_MAX_FRAME_SIZE).is_err());
    }

    #[test]
    fn mutated_payloads_with_fixed_checksums_never_panic(
        frame in any_frame(),
        cut in any::<prop::sample::Index>(),
        noise in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        // Re-sign the mutated bytes so the decoder gets past the checksum into the payload.
        let mut bytes = frame.encode().unwrap();
        let at = super::HEADER_SIZE + cut.index(bytes.len() - super::HEADER_SIZE + 1);
        bytes.truncate(at);
        bytes.extend_from_slice(&noise);
        let size = bytes.len() as u32;
        bytes[4..8].copy_from_slice(&size.to_le_bytes());
        let crc = crc32fast::hash(&bytes[4..]);
        bytes[0..4].copy_from_slice(&crc.to_le_bytes());
        match FramedMessage::decode(&bytes, DEFAULT_MAX_FRAME_SIZE) {
            Ok(decoded) => prop_assert_eq!(decoded.message_kind, frame.message_kind),
            Err(e) => {
                let re_signed_checksum_rejected = matches!(e, WireError::BadChecksum { .. });
                prop_assert!(!re_signed_checksum_rejected, "re-signed frame failed its checksum: {}", e);
            }
        }
    }
}
