//! What each request kind is to the replicated state, in one table checked against every kind
//! the wire protocol knows (the test below fails for a kind added without a role, or given one
//! the state machine does not honour). The layers above read it to tell reads from writes, the
//! HA map's local reads, the arrivals and departures a node may propose while it is not a
//! member, the cluster's own commands, and the messages between nodes that are no command.

use crate::wire::{Message, MessageRef};

/// What a request kind is to the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Changes nothing; answered after a ReadIndex round.
    Read,
    /// Changes nothing; answered from the node's applied state without a round with the leader:
    /// the sync map Vert.x HA keeps `__vertx.haInfo` in. HA reads it from node events, on every
    /// node at once, and compares what it read across nodes; a read that waits for the leader
    /// lets the cluster move on meanwhile (another failover removes an entry), and the nodes then
    /// disagree about who fails a node over. A local read sees the node's own writes (a write
    /// completes once applied here) and everything up to the last event the node delivered.
    LocalRead,
    /// A write a member proposes for its caller.
    Write,
    /// An arrival or a departure: a node may propose these before it is a member (its own
    /// admission when it starts a cluster) or after it stopped being one (its leave).
    Membership,
    /// A command the cluster proposes for itself: the leader's expiry of what ran out.
    Internal,
    /// No state-machine command: raft traffic, join requests and forwarded proposals between
    /// nodes, and responses.
    Protocol,
}

/// The role of the request kind `kind`.
pub fn role(kind: u16) -> Role {
    use Role::*;
    match kind {
        0x0001 => Read,                         // Ping
        0x0101 | 0x0102 | 0x0902 => Membership, // Join, Leave, AddMember
        0x0103 | 0x0105 => Read,                // NodeList, GetNodeInfo
        0x0104 => Write,                        // SetNodeInfo
        0x0201 | 0x0202 => Write,               // Add/RemoveRegistration
        0x0203 => Read,                         // GetRegistrations
        0x0301 | 0x0303..=0x030d => Write,      // CreateMap, puts, removes, replaces, clear
        0x0302 | 0x030e..=0x0311 => Read,       // MapGet, size, keys, values, entries
        0x0312 => Internal,                     // Expire
        0x0401..=0x0403 => Write,               // CreateSet, SetAdd, SetRemove
        0x0404..=0x0406 => Read,                // SetContains, SetSize, SetMembers
        0x0501 | 0x0503..=0x0505 => Write,      // CreateCounter, additions, compare-and-set
        0x0502 => Read,                         // CounterGet
        0x0601..=0x0605 => Write,               // locks
        0x0701 | 0x0703 => Write,               // SyncMapPut, SyncMapRemove
        0x0702 | 0x0704 | 0x0705 => LocalRead,  // SyncMapGet, SyncMapContains, entries
        _ => Protocol,
    }
}

/// True for commands that never change state.
pub fn is_read_only(command: &Message) -> bool {
    matches!(
        role(command.get_message_kind()),
        Role::Read | Role::LocalRead
    )
}

/// True for the reads a node answers from its own applied state (see [`Role::LocalRead`]).
pub fn is_local_read(command: &Message) -> bool {
    role(command.get_message_kind()) == Role::LocalRead
}

/// True for the commands a node may propose while it is not a member (see [`Role::Membership`]).
pub fn may_come_from_outside(command: &MessageRef<'_>) -> bool {
    role(command.get_message_kind()) == Role::Membership
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::fsm::{ApplyContext, StateMachine};
    use crate::wire::any_message;
    use crate::wire::{error_code, RESPONSE_KIND_BIT};

    proptest! {
        // Enough cases that every one of the ~90 kinds is drawn.
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Every request kind has the role the state machine gives it: a command it refuses as
        /// unsupported is protocol, a read changes nothing, everything else it applies.
        #[test]
        fn every_kind_has_the_role_the_state_machine_honours(message in any_message()) {
            let kind = message.get_message_kind();
            if kind & RESPONSE_KIND_BIT != 0 {
                return Ok(());
            }
            let mut fsm = StateMachine::new();
            let ctx = ApplyContext { index: 1, now_ms: 0, origin: "n", request_id: 1 };
            let answer = fsm.apply(message.clone(), &ctx).response;
            let unsupported = matches!(
                answer,
                Message::ErrorResponse { code, .. } if code == error_code::UNSUPPORTED
            );
            prop_assert_eq!(unsupported, role(kind) == Role::Protocol, "{}", message.name());
            if is_read_only(&message) {
                let mut untouched = StateMachine::new();
                untouched.apply(Message::Ping { sent_at_micros: 0 }, &ctx);
                prop_assert_eq!(fsm.create_snapshot(), untouched.create_snapshot());
            }
        }
    }
}
