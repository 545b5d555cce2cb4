//! Property tests: every message round-trips through a frame, no byte sequence, random or
//! mutated from a valid frame, makes the decoder panic, and the borrowed decode
//! ([`FrameRef::decode_ref`], [`MessageRef::decode_payload`]) always agrees with the owned one:
//! the same header and message for good bytes, the same error for bad ones. Both are also held to
//! an independent field-by-field owned decode (`Message::decode_payload_by_fields`).

use proptest::prelude::*;

use super::message::arbitrary::any_message;
use super::{
    FrameRef, FramedMessage, Message, MessageFlags, MessageRef, WireError, DEFAULT_MAX_FRAME_SIZE,
    HEADER_SIZE,
};

fn any_frame() -> impl Strategy<Value = FramedMessage<Message>> {
    (any::<u8>(), any::<u32>(), any_message())
        .prop_map(|(flags, id, msg)| FramedMessage::new(MessageFlags(flags), id, msg))
}

/// Decodes `bytes` both ways and checks they agree; returns the owned outcome.
fn decode_both(
    bytes: &[u8],
    max_frame_size: usize,
) -> Result<Result<FramedMessage<Message>, WireError>, TestCaseError> {
    let owned = FramedMessage::decode(bytes, max_frame_size);
    let borrowed = FrameRef::decode_ref(bytes, max_frame_size);
    match (&owned, &borrowed) {
        (Ok(o), Ok(b)) => {
            prop_assert_eq!(
                (b.protocol_version, b.flags, b.message_kind, b.request_id),
                (o.protocol_version, o.flags, o.message_kind, o.request_id)
            );
            prop_assert_eq!(b.payload.get_message_kind(), o.payload.get_message_kind());
            prop_assert_eq!(b.payload.name(), o.payload.name());
            prop_assert_eq!(&b.payload.to_owned(), &o.payload);
            prop_assert_eq!(&b.to_owned(), o);
            // The independent decoder agrees on the payload.
            let by_fields =
                Message::decode_payload_by_fields(o.message_kind, &bytes[HEADER_SIZE..]);
            prop_assert_eq!(by_fields.as_ref(), Ok(&o.payload));
        }
        (Err(o), Err(b)) => prop_assert_eq!(o, b),
        _ => prop_assert!(
            false,
            "owned decode gave {:?}, borrowed decode gave {:?}",
            owned,
            borrowed
        ),
    }
    Ok(owned)
}

/// Decodes a payload three ways (borrowed, owned, field by field) and checks they agree.
fn decode_payload_all(kind: u16, payload: &[u8]) -> Result<(), TestCaseError> {
    let borrowed = MessageRef::decode_payload(kind, payload).map(|m| m.into_owned());
    let owned = Message::decode_payload(kind, payload);
    let by_fields = Message::decode_payload_by_fields(kind, payload);
    prop_assert_eq!(&borrowed, &by_fields);
    prop_assert_eq!(&owned, &by_fields);
    Ok(())
}

/// Re-signs `bytes` (size and checksum) so a decoder gets past the header into the payload.
fn re_sign(bytes: &mut [u8]) {
    let size = bytes.len() as u32;
    bytes[4..8].copy_from_slice(&size.to_le_bytes());
    let crc = crc32fast::hash(&bytes[4..]);
    bytes[0..4].copy_from_slice(&crc.to_le_bytes());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_message_round_trips(frame in any_frame()) {
        let bytes = frame.encode().unwrap();
        prop_assert_eq!(FramedMessage::decode(&bytes, DEFAULT_MAX_FRAME_SIZE).unwrap(), frame);
    }

    #[test]
    fn borrowed_decode_agrees_with_owned(frame in any_frame()) {
        let bytes = frame.encode().unwrap();
        let owned = decode_both(&bytes, DEFAULT_MAX_FRAME_SIZE)?;
        prop_assert_eq!(owned, Ok(frame.clone()));
        // Limits around the frame's size: refused with the same error both ways below it.
        for max in [bytes.len() - 1, bytes.len(), bytes.len() + 1] {
            let _ = decode_both(&bytes, max)?;
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = FramedMessage::decode(&bytes, DEFAULT_MAX_FRAME_SIZE);
        let _ = Message::decode_payload(u16::from_le_bytes([bytes.first().copied().unwrap_or(0), 3]), &bytes);
    }

    #[test]
    fn random_bytes_decode_alike(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
        max in prop_oneof![Just(DEFAULT_MAX_FRAME_SIZE), 0usize..300],
        signed in any::<bool>(),
    ) {
        let mut bytes = bytes;
        if signed && bytes.len() >= HEADER_SIZE {
            // A valid size and checksum over random contents: reaches the version and payload.
            re_sign(&mut bytes);
        }
        let _ = decode_both(&bytes, max)?;
    }

    #[test]
    fn random_payloads_of_every_kind_decode_alike(
        kind in prop_oneof![prop::sample::select(Message::KINDS), any::<u16>()],
        payload in proptest::collection::vec(any::<u8>(), 0..96),
    ) {
        decode_payload_all(kind, &payload)?;
    }

    #[test]
    fn mutated_payloads_decode_alike(
        message in any_message(),
        position in any::<prop::sample::Index>(),
        xor in 1u8..=255,
        cut in any::<prop::sample::Index>(),
        noise in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let mut payload = Vec::new();
        message.encode_payload(&mut payload);
        let kind = message.get_message_kind();
        decode_payload_all(kind, &payload)?;
        if !payload.is_empty() {
            let mut flipped = payload.clone();
            flipped[position.index(payload.len())] ^= xor;
            decode_payload_all(kind, &flipped)?;
        }
        let mut cut_and_noise = payload[..cut.index(payload.len() + 1)].to_vec();
        cut_and_noise.extend_from_slice(&noise);
        decode_payload_all(kind, &cut_and_noise)?;
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
        // CRC32 detects every single-byte error: a mutated frame never decodes as valid, and
        // both decodes refuse it with the same error.
        prop_assert!(decode_both(&bytes, DEFAULT_MAX_FRAME_SIZE)?.is_err());
    }

    #[test]
    fn mutated_payloads_with_fixed_checksums_never_panic(
        frame in any_frame(),
        cut in any::<prop::sample::Index>(),
        noise in proptest::collection::vec(any::<u8>(), 0..16),
        flip in any::<Option<(prop::sample::Index, u8)>>(),
    ) {
        // Re-sign the mutated bytes so the decoder gets past the checksum into the payload.
        let mut bytes = frame.encode().unwrap();
        let at = HEADER_SIZE + cut.index(bytes.len() - HEADER_SIZE + 1);
        bytes.truncate(at);
        bytes.extend_from_slice(&noise);
        if let Some((position, xor)) = flip {
            let i = HEADER_SIZE + position.index(bytes.len() - HEADER_SIZE + 1);
            if let Some(b) = bytes.get_mut(i) {
                *b ^= xor;
            }
        }
        re_sign(&mut bytes);
        match decode_both(&bytes, DEFAULT_MAX_FRAME_SIZE)? {
            Ok(decoded) => prop_assert_eq!(decoded.message_kind, frame.message_kind),
            Err(e) => {
                let re_signed_checksum_rejected = matches!(e, WireError::BadChecksum { .. });
                prop_assert!(!re_signed_checksum_rejected, "re-signed frame failed its checksum: {}", e);
            }
        }
    }
}
