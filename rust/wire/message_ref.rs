//! [`MessageRef`]: a message decoded without allocating, borrowing the payload's bytes.
//!
//! `message_refs!` below builds it from the same list of kinds as [`Message`] (see
//! `for_each_message!` in `message.rs`): every variant of `Message` has a variant of the same name
//! here, whose fields are the [`FieldRef`] views of the owned fields: `String` becomes `&str`,
//! `Vec<u8>` becomes `&[u8]`, `Option<Vec<u8>>` becomes `Option<&[u8]>`, `RegistrationInfo` and
//! `Proposal` become [`RegistrationInfoRef`](super::RegistrationInfoRef) and
//! [`ProposalRef`](super::ProposalRef), integers and bools stay themselves. Counted lists
//! (`Vec<String>`, `Vec<Vec<u8>>`, `Vec<MapEntry>`, `Vec<RegistrationInfo>`, `Vec<Proposal>`) have
//! no borrowed form and are decoded owned inside the view, so only the responses that carry
//! lists and `ForwardProposals` allocate; every request the state machine applies decodes with no
//! allocation at all.
//!
//! The owned decode is this one followed by [`MessageRef::into_owned`], so the two accept and
//! refuse exactly the same bytes with the same errors.

use super::codec::{FieldRef, Reader};
use super::message::for_each_message;
use super::{MapEntry, Message, Proposal, RegistrationInfo, WireError, RESPONSE_KIND_BIT};

macro_rules! message_refs {
    ($(
        $(#[$meta:meta])*
        $kind:literal => $name:ident { $($field:ident: $ty:ty),* $(,)? }
    )*) => {
        /// A [`Message`] borrowing the payload it was decoded from: the same variants with the
        /// same fields, strings and byte strings as slices of the payload. See the module docs.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum MessageRef<'a> {
            $($(#[$meta])* $name { $($field: <$ty as FieldRef>::Ref<'a>),* },)*
        }

        impl<'a> MessageRef<'a> {
            /// The kind number of this message (the same as its owned message's).
            pub fn get_message_kind(&self) -> u16 {
                match self {
                    $(MessageRef::$name { .. } => $kind,)*
                }
            }

            /// The variant's name, for logs and error messages.
            pub fn name(&self) -> &'static str {
                match self {
                    $(MessageRef::$name { .. } => stringify!($name),)*
                }
            }

            /// Decodes a payload of the given kind without copying it; every byte must be
            /// consumed. Checks and errors are those of [`Message::decode_payload`].
            #[inline]
            pub fn decode_payload(
                kind: u16,
                payload: &'a [u8],
            ) -> Result<MessageRef<'a>, WireError> {
                let mut r = Reader::new(payload);
                // Each arm reads its fields into locals and checks for trailing bytes before it
                // builds the variant, so the variant is written once, into the result.
                match kind {
                    $($kind => {
                        $(let $field = r.get_ref::<$ty>(stringify!($field))?;)*
                        r.finish()?;
                        Ok(MessageRef::$name { $($field),* })
                    })*
                    other => Err(WireError::UnknownKind(other)),
                }
            }

            /// The owned message this view stands for, copying the borrowed fields.
            #[inline]
            pub fn into_owned(self) -> Message {
                match self {
                    $(MessageRef::$name { $($field),* } => Message::$name {
                        $($field: <$ty as FieldRef>::into_owned($field)),*
                    },)*
                }
            }
        }
    };
}

for_each_message!(message_refs);

impl MessageRef<'_> {
    /// The owned message this view stands for (see [`MessageRef::into_owned`]).
    pub fn to_owned(&self) -> Message {
        self.clone().into_owned()
    }

    /// True for responses (including errors and pongs).
    pub fn is_response(&self) -> bool {
        self.get_message_kind() & RESPONSE_KIND_BIT != 0
    }
}

impl From<MessageRef<'_>> for Message {
    fn from(view: MessageRef<'_>) -> Message {
        view.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::RegistrationInfoRef;

    fn payload(message: &Message) -> Vec<u8> {
        let mut buf = Vec::new();
        message.encode_payload(&mut buf);
        buf
    }

    /// True when `part` lies inside `whole`: the view points into the payload, no copy.
    fn borrows_from(part: &[u8], whole: &[u8]) -> bool {
        let range = whole.as_ptr_range();
        range.contains(&part.as_ptr()) && part.as_ptr_range().end <= range.end
    }

    #[test]
    fn a_put_borrows_its_name_key_and_value() {
        let owned = Message::MapPutRequest {
            map_name: "cache".into(),
            key: b"key".to_vec(),
            value: vec![9; 40],
        };
        let bytes = payload(&owned);
        let view = MessageRef::decode_payload(0x0303, &bytes).unwrap();
        let MessageRef::MapPutRequest {
            map_name,
            key,
            value,
        } = view
        else {
            panic!("decoded as {}", view.name());
        };
        assert_eq!((map_name, key, value), ("cache", &b"key"[..], &[9; 40][..]));
        assert!(borrows_from(map_name.as_bytes(), &bytes));
        assert!(borrows_from(key, &bytes));
        assert!(borrows_from(value, &bytes));
        assert_eq!(view.get_message_kind(), owned.get_message_kind());
        assert_eq!(view.name(), owned.name());
        assert_eq!(view.to_owned(), owned);
        assert_eq!(Message::from(view), owned);
    }

    #[test]
    fn options_and_structs_are_borrowed_too() {
        let owned = Message::GetNodeInfoResponse {
            info: Some(b"info".to_vec()),
        };
        let bytes = payload(&owned);
        let view = MessageRef::decode_payload(0x8105, &bytes).unwrap();
        assert_eq!(
            view,
            MessageRef::GetNodeInfoResponse {
                info: Some(&b"info"[..])
            }
        );
        assert!(view.is_response());

        let owned = Message::AddRegistrationRequest {
            address: "addr".into(),
            registration: RegistrationInfo {
                node_id: "n1".into(),
                seq: 3,
                local_only: true,
            },
        };
        let bytes = payload(&owned);
        let view = MessageRef::decode_payload(0x0201, &bytes).unwrap();
        assert_eq!(
            view,
            MessageRef::AddRegistrationRequest {
                address: "addr",
                registration: RegistrationInfoRef {
                    node_id: "n1",
                    seq: 3,
                    local_only: true,
                },
            }
        );
        assert_eq!(view.into_owned(), owned);
    }

    #[test]
    fn lists_are_decoded_owned_inside_the_view() {
        let owned = Message::MapEntriesResponse {
            entries: vec![MapEntry {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
            }],
        };
        let bytes = payload(&owned);
        let view = MessageRef::decode_payload(0x8311, &bytes).unwrap();
        assert_eq!(
            view,
            MessageRef::MapEntriesResponse {
                entries: vec![MapEntry {
                    key: b"k".to_vec(),
                    value: b"v".to_vec(),
                }]
            }
        );
        assert_eq!(view.to_owned(), owned);

        let owned = Message::ForwardProposals {
            proposals: vec![Proposal {
                origin: "n".into(),
                request_id: 1,
                settled_below: 1,
                kind: 0x0303,
                payload: vec![1, 2],
            }],
        };
        let bytes = payload(&owned);
        assert_eq!(
            MessageRef::decode_payload(0x0904, &bytes)
                .unwrap()
                .into_owned(),
            owned
        );
    }

    #[test]
    fn errors_are_the_owned_decodes() {
        assert_eq!(
            MessageRef::decode_payload(0x7fff, &[]),
            Err(WireError::UnknownKind(0x7fff))
        );
        let mut bytes = payload(&Message::Ping { sent_at_micros: 7 });
        bytes.push(0);
        assert_eq!(
            MessageRef::decode_payload(0x0001, &bytes),
            Err(WireError::TrailingBytes(1))
        );
        let mut bytes = payload(&Message::CounterGetRequest {
            counter_name: "c".into(),
        });
        bytes[4] = 0xff;
        assert_eq!(
            MessageRef::decode_payload(0x0502, &bytes),
            Err(WireError::BadUtf8("counter_name"))
        );
        assert_eq!(
            MessageRef::decode_payload(0x0502, &bytes[..3]),
            Err(WireError::FieldTooLong {
                field: "counter_name",
                claimed: 4,
                available: 3
            })
        );
    }
}
