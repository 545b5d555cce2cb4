//! The `Message` enum: every request and response the cluster exchanges, with its kind number.
//!
//! Kinds are stable protocol numbers: never reuse or renumber one. Requests use the low half of a
//! family's range and their responses the same number with the top bit (0x8000) set, so a response's
//! kind always names the request it answers. Fields are encoded in declaration order with the
//! primitives of [`super::codec`]; the message kind in the frame header selects the variant.
//!
//! The list of kinds lives in one macro, `for_each_message!`, that hands it to a generator:
//! `messages!` below makes [`Message`], and `message_refs!` (module `message_ref`) makes the
//! borrowed [`MessageRef`] from the same list, so the two cannot drift.
//!
//! Variants that the product sheet shows (`JoinRequest { node_id }`, `CreateMapRequest { name }`,
//! `MapPutRequest { map_name, key, value }`, `MapGetRequest`, `CreateLockRequest`,
//! `LockAcquireRequest { lock_name }`, `LockReleaseRequest`) keep exactly the sheet's fields so
//! its snippets compile; the TTL and timeout variants are separate kinds for that reason.

use super::codec::{wire_struct, Writer};
use super::{MessageRef, WireError};

wire_struct! {
    /// One event-bus handler registration: Vert.x's `RegistrationInfo`.
    pub struct RegistrationInfo {
        pub node_id: String,
        /// The registering node's handler sequence; several per node act as weights.
        pub seq: u64,
        /// Local-only handlers are never routed to from other nodes.
        pub local_only: bool,
    }
    borrowed RegistrationInfoRef;
}

wire_struct! {
    /// A request proposed for replication: who asked, the asker's request id, the asker's lowest
    /// request id still open (every earlier one is settled, so a re-proposal can be recognised),
    /// and the request itself as its kind and encoded payload.
    pub struct Proposal {
        pub origin: String,
        pub request_id: u32,
        pub settled_below: u32,
        pub kind: u16,
        pub payload: Vec<u8>,
    }
    borrowed ProposalRef;
}

wire_struct! {
    /// A key and its value, as returned by entry listings.
    pub struct MapEntry {
        pub key: Vec<u8>,
        pub value: Vec<u8>,
    }
    borrowed MapEntryRef;
}

/// Error codes carried by [`Message::ErrorResponse`].
pub mod error_code {
    /// The frame or payload could not be decoded.
    pub const MALFORMED: u16 = 1;
    /// The message kind is not a request this node serves.
    pub const UNSUPPORTED: u16 = 2;
    /// The named node is not a member of the cluster.
    pub const NOT_A_MEMBER: u16 = 3;
    // 4 is reserved: no request conflicts with the state it names (maps, sets, counters and
    // locks spring into existence on first use), so no answer carries it.
    /// This node cannot reach a quorum: writes and linearizable reads are refused.
    pub const NO_QUORUM: u16 = 5;
    /// The operation did not complete in time.
    pub const TIMEOUT: u16 = 6;
    /// The node is closed or closing.
    pub const CLOSED: u16 = 7;
    /// A value or frame is larger than the configured maximum.
    pub const TOO_LARGE: u16 = 8;
}

macro_rules! messages {
    ($(
        $(#[$meta:meta])*
        $kind:literal => $name:ident { $($field:ident: $ty:ty),* $(,)? }
    )*) => {
        /// Every message of the protocol. See the module docs for the numbering rules.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Message {
            $($(#[$meta])* $name { $($field: $ty),* },)*
        }

        impl Message {
            /// Every kind this build knows, in declaration order.
            pub const KINDS: &'static [u16] = &[$($kind),*];

            /// The kind number written into the frame header for this message.
            pub fn get_message_kind(&self) -> u16 {
                match self {
                    $(Message::$name { .. } => $kind,)*
                }
            }

            /// The variant's name, for logs and error messages.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Message::$name { .. } => stringify!($name),)*
                }
            }

            /// Appends the payload (the fields only; the kind travels in the header).
            #[allow(unused_variables)]
            pub fn encode_payload(&self, buf: &mut Vec<u8>) {
                let mut w = Writer::new(buf);
                match self {
                    $(Message::$name { $($field),* } => { $(w.put($field);)* })*
                }
            }

            /// Decodes a payload of the given kind; every byte must be consumed. This is the
            /// borrowed decode ([`MessageRef::decode_payload`]) followed by
            /// [`MessageRef::into_owned`], so both accept and refuse exactly the same bytes.
            #[inline]
            pub fn decode_payload(kind: u16, payload: &[u8]) -> Result<Message, WireError> {
                MessageRef::decode_payload(kind, payload).map(MessageRef::into_owned)
            }

            /// The owned decode written field by field with [`Field::decode`](super::codec::Field),
            /// independent of `MessageRef`: the oracle the property tests hold both decodes to.
            #[cfg(test)]
            pub(crate) fn decode_payload_by_fields(
                kind: u16,
                payload: &[u8],
            ) -> Result<Message, WireError> {
                let mut r = super::codec::Reader::new(payload);
                let message = match kind {
                    $($kind => Message::$name { $($field: r.get(stringify!($field))?),* },)*
                    other => return Err(WireError::UnknownKind(other)),
                };
                r.finish()?;
                Ok(message)
            }
        }

        #[cfg(test)]
        pub(crate) mod arbitrary {
            //! proptest strategies producing every variant with arbitrary field values.
            use super::*;
            use proptest::prelude::*;
            use crate::wire::arbitrary_fields::Arb;

            pub(crate) fn any_message() -> BoxedStrategy<Message> {
                let variants: Vec<BoxedStrategy<Message>> = vec![$(
                    (Just(()), $(<$ty as Arb>::arb(),)*)
                        .prop_map(|((), $($field,)*)| Message::$name { $($field),* })
                        .boxed(),
                )*];
                proptest::strategy::Union::new(variants).boxed()
            }
        }
    };
}

/// The protocol's messages, `kind => Variant { field: Type, ... }` in declaration order, handed
/// to the generator macro `$generate` (`messages!` here, `message_refs!` for the borrowed view).
macro_rules! for_each_message {
    ($generate:ident) => { $generate! {
    // ---- transport and errors (0x00xx) ----
    /// Liveness probe; `sent_at_micros` is echoed so the sender can measure the round trip.
    0x0001 => Ping { sent_at_micros: u64 }
    0x8001 => Pong { sent_at_micros: u64 }
    /// The answer to any request that failed. `code` is one of
    /// [`error_code`](crate::wire::error_code).
    0x8000 => ErrorResponse { code: u16, message: String }

    // ---- membership and node info (0x01xx) ----
    /// Adds the node to the member list (a no-op answer for a node already in it).
    0x0101 => JoinRequest { node_id: String }
    /// The member list after the join, in join order.
    0x8101 => JoinResponse { members: Vec<String> }
    /// Removes the node: its registrations and node info go, its locks are released and its
    /// waits dropped. Sync map entries stay.
    0x0102 => LeaveRequest { node_id: String }
    0x8102 => LeaveResponse { was_member: bool }
    0x0103 => NodeListRequest {}
    0x8103 => NodeListResponse { nodes: Vec<String> }
    /// Publishes a member's node info (Vert.x `NodeInfo`, opaque to the cluster).
    0x0104 => SetNodeInfoRequest { node_id: String, info: Vec<u8> }
    0x8104 => SetNodeInfoResponse {}
    /// Fails with `NOT_A_MEMBER` for a node that is not in the member list.
    0x0105 => GetNodeInfoRequest { node_id: String }
    0x8105 => GetNodeInfoResponse { info: Option<Vec<u8>> }

    // ---- event-bus registrations (0x02xx) ----
    0x0201 => AddRegistrationRequest { address: String, registration: RegistrationInfo }
    0x8201 => AddRegistrationResponse {}
    /// Removes exactly the equal registration (node id, sequence and local-only flag).
    0x0202 => RemoveRegistrationRequest { address: String, registration: RegistrationInfo }
    0x8202 => RemoveRegistrationResponse { removed: bool }
    0x0203 => GetRegistrationsRequest { address: String }
    0x8203 => GetRegistrationsResponse { registrations: Vec<RegistrationInfo> }

    // ---- async maps (0x03xx); TTLs are in milliseconds ----
    0x0301 => CreateMapRequest { name: String }
    0x8301 => CreateMapResponse {}
    0x0302 => MapGetRequest { map_name: String, key: Vec<u8> }
    0x8302 => MapGetResponse { value: Option<Vec<u8>> }
    /// A plain put clears any TTL the entry had.
    0x0303 => MapPutRequest { map_name: String, key: Vec<u8>, value: Vec<u8> }
    0x8303 => MapPutResponse {}
    0x0304 => MapPutTtlRequest { map_name: String, key: Vec<u8>, value: Vec<u8>, ttl_ms: u64 }
    0x8304 => MapPutTtlResponse {}
    0x0305 => MapPutIfAbsentRequest { map_name: String, key: Vec<u8>, value: Vec<u8> }
    0x8305 => MapPutIfAbsentResponse { previous: Option<Vec<u8>> }
    /// The TTL applies only when the entry is created; an existing entry is left untouched.
    0x0306 => MapPutIfAbsentTtlRequest { map_name: String, key: Vec<u8>, value: Vec<u8>, ttl_ms: u64 }
    0x8306 => MapPutIfAbsentTtlResponse { previous: Option<Vec<u8>> }
    0x0307 => MapRemoveRequest { map_name: String, key: Vec<u8> }
    0x8307 => MapRemoveResponse { previous: Option<Vec<u8>> }
    0x0308 => MapRemoveIfPresentRequest { map_name: String, key: Vec<u8>, value: Vec<u8> }
    0x8308 => MapRemoveIfPresentResponse { removed: bool }
    /// Replaces only an existing entry; a missing key creates nothing.
    0x0309 => MapReplaceRequest { map_name: String, key: Vec<u8>, value: Vec<u8> }
    0x8309 => MapReplaceResponse { previous: Option<Vec<u8>> }
    0x030a => MapReplaceTtlRequest { map_name: String, key: Vec<u8>, value: Vec<u8>, ttl_ms: u64 }
    0x830a => MapReplaceTtlResponse { previous: Option<Vec<u8>> }
    0x030b => MapReplaceIfPresentRequest { map_name: String, key: Vec<u8>, old_value: Vec<u8>, new_value: Vec<u8> }
    0x830b => MapReplaceIfPresentResponse { replaced: bool }
    0x030c => MapReplaceIfPresentTtlRequest { map_name: String, key: Vec<u8>, old_value: Vec<u8>, new_value: Vec<u8>, ttl_ms: u64 }
    0x830c => MapReplaceIfPresentTtlResponse { replaced: bool }
    0x030d => MapClearRequest { map_name: String }
    0x830d => MapClearResponse {}
    0x030e => MapSizeRequest { map_name: String }
    0x830e => MapSizeResponse { size: u64 }
    0x030f => MapKeysRequest { map_name: String }
    0x830f => MapKeysResponse { keys: Vec<Vec<u8>> }
    0x0310 => MapValuesRequest { map_name: String }
    0x8310 => MapValuesResponse { values: Vec<Vec<u8>> }
    0x0311 => MapEntriesRequest { map_name: String }
    0x8311 => MapEntriesResponse { entries: Vec<MapEntry> }
    /// Removes every map entry and lock wait whose deadline is at or before the command's
    /// leader-stamped time. Proposed by the leader, so every replica expires at the same index.
    0x0312 => ExpireRequest {}
    0x8312 => ExpireResponse { expired_entries: u64, expired_waits: u64 }

    // ---- sets (0x04xx) ----
    0x0401 => CreateSetRequest { name: String }
    0x8401 => CreateSetResponse {}
    0x0402 => SetAddRequest { set_name: String, value: Vec<u8> }
    0x8402 => SetAddResponse { added: bool }
    0x0403 => SetRemoveRequest { set_name: String, value: Vec<u8> }
    0x8403 => SetRemoveResponse { removed: bool }
    0x0404 => SetContainsRequest { set_name: String, value: Vec<u8> }
    0x8404 => SetContainsResponse { contains: bool }
    0x0405 => SetSizeRequest { set_name: String }
    0x8405 => SetSizeResponse { size: u64 }
    0x0406 => SetMembersRequest { set_name: String }
    0x8406 => SetMembersResponse { members: Vec<Vec<u8>> }

    // ---- counters (0x05xx); a counter that was never written reads 0 ----
    0x0501 => CreateCounterRequest { name: String }
    0x8501 => CreateCounterResponse { value: i64 }
    0x0502 => CounterGetRequest { counter_name: String }
    0x8502 => CounterGetResponse { value: i64 }
    /// Wrapping addition, like Java's `long`.
    0x0503 => CounterAddAndGetRequest { counter_name: String, delta: i64 }
    0x8503 => CounterAddAndGetResponse { value: i64 }
    0x0504 => CounterGetAndAddRequest { counter_name: String, delta: i64 }
    0x8504 => CounterGetAndAddResponse { value: i64 }
    0x0505 => CounterCompareAndSetRequest { counter_name: String, expected: i64, value: i64 }
    0x8505 => CounterCompareAndSetResponse { swapped: bool }

    // ---- locks (0x06xx) ----
    // A waiter is identified by the requesting node and the request id of its acquire.
    // A grant that is not immediate arrives later as a state-machine event.
    0x0601 => CreateLockRequest { name: String }
    0x8601 => CreateLockResponse {}
    /// Waits without a deadline. `granted` is false when the request was queued.
    0x0602 => LockAcquireRequest { lock_name: String }
    0x8602 => LockAcquireResponse { granted: bool, fencing_token: u64 }
    /// Waits at most `timeout_ms`; a timeout of 0 fails at once when the lock is held.
    0x0603 => LockAcquireTimeoutRequest { lock_name: String, timeout_ms: u64 }
    0x8603 => LockAcquireTimeoutResponse { granted: bool, fencing_token: u64 }
    /// Releases the lock if the requesting node holds it; the next waiter is granted in order.
    0x0604 => LockReleaseRequest { lock_name: String }
    0x8604 => LockReleaseResponse { released: bool }
    /// Withdraws a queued acquire identified by its request id.
    0x0605 => LockCancelRequest { lock_name: String, acquire_request_id: u32 }
    0x8605 => LockCancelResponse { cancelled: bool }

    // ---- sync maps (0x07xx): Vert.x HA's `__vertx.haInfo`; entries outlive their writer ----
    0x0701 => SyncMapPutRequest { map_name: String, key: Vec<u8>, value: Vec<u8> }
    0x8701 => SyncMapPutResponse { previous: Option<Vec<u8>> }
    0x0702 => SyncMapGetRequest { map_name: String, key: Vec<u8> }
    0x8702 => SyncMapGetResponse { value: Option<Vec<u8>> }
    0x0703 => SyncMapRemoveRequest { map_name: String, key: Vec<u8> }
    0x8703 => SyncMapRemoveResponse { previous: Option<Vec<u8>> }
    0x0704 => SyncMapContainsRequest { map_name: String, key: Vec<u8> }
    0x8704 => SyncMapContainsResponse { contains: bool }
    0x0705 => SyncMapEntriesRequest { map_name: String }
    0x8705 => SyncMapEntriesResponse { entries: Vec<MapEntry> }

    // ---- between nodes of a replicated cluster (0x09xx) ----
    /// One raft-rs message (protobuf bytes). `from_address` is the sender's listen address, so a
    /// node learns where to answer before its replica knows the sender. One-way.
    0x0901 => RaftMessage { from_address: String, data: Vec<u8> }
    /// A state-machine command: adds a node of the replicated cluster with its listen address
    /// and its failure domain (what fails together with it: its process, by default), and
    /// assigns it the next raft id (the member's existing id when it is already a member).
    0x0902 => AddMemberRequest { node_id: String, address: String, domain: String }
    0x8902 => AddMemberResponse { raft_id: u64 }
    /// A node asks any member to be let into the cluster; the leader answers, with the same
    /// request id, at `address`. `domain` as in `AddMemberRequest`.
    0x0903 => ClusterJoinRequest { node_id: String, address: String, domain: String }
    0x8903 => ClusterJoinResponse { raft_id: u64 }
    /// Requests a follower forwards to the leader, in the order they arrived. One-way: each
    /// requester learns its outcome when the command is applied on its own node.
    0x0904 => ForwardProposals { proposals: Vec<Proposal> }
    } };
}
pub(crate) use for_each_message;

for_each_message!(messages);

/// The bit that marks a response kind.
pub const RESPONSE_KIND_BIT: u16 = 0x8000;

/// Kinds sent without any answer.
pub const ONE_WAY_KINDS: &[u16] = &[0x0901, 0x0904];

impl Message {
    /// True for responses (including errors and pongs).
    pub fn is_response(&self) -> bool {
        self.get_message_kind() & RESPONSE_KIND_BIT != 0
    }

    /// An error response with the given code.
    pub fn error(code: u16, message: impl Into<String>) -> Message {
        Message::ErrorResponse {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn kinds_are_unique() {
        let mut seen = HashSet::new();
        for kind in Message::KINDS {
            assert!(seen.insert(kind), "kind {kind:#06x} declared twice");
        }
    }

    #[test]
    fn every_request_kind_has_its_response() {
        for &kind in Message::KINDS {
            if kind & RESPONSE_KIND_BIT == 0 && !ONE_WAY_KINDS.contains(&kind) {
                assert!(
                    Message::KINDS.contains(&(kind | RESPONSE_KIND_BIT)),
                    "request {kind:#06x} has no response kind"
                );
            }
        }
    }

    #[test]
    fn unknown_kind_is_an_error() {
        assert_eq!(
            Message::decode_payload(0x7fff, &[]),
            Err(WireError::UnknownKind(0x7fff))
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut payload = Vec::new();
        Message::Ping { sent_at_micros: 7 }.encode_payload(&mut payload);
        payload.push(0);
        assert_eq!(
            Message::decode_payload(0x0001, &payload),
            Err(WireError::TrailingBytes(1))
        );
    }
}
