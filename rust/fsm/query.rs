//! Reads: answering a read-only command from the current state.

use super::{is_local_read, not_a_member, StateMachine};
use crate::wire::{error_code, MapEntry, Message};

impl StateMachine {
    /// Whether this node answers `command` from its own applied state, without a round with the
    /// leader: a local read (see `Role::LocalRead`), or the node info of a member whose info this
    /// state holds. A member sets its info before it registers a consumer or sends a message
    /// (Vert.x starts its event bus so), so a node that learned of the member from registrations
    /// it read holds the info already, and does not wait for the leader to open a connection.
    /// One that learned of it otherwise (a message from it that came first) and does not hold
    /// it yet asks the leader, as for any read.
    pub fn answers_locally(&self, command: &Message) -> bool {
        match command {
            Message::GetNodeInfoRequest { node_id } => {
                self.member(node_id).is_some_and(|m| m.info.is_some())
            }
            other => is_local_read(other),
        }
    }

    /// Answers a read-only command from the current state at time `now_ms`.
    pub fn query(&self, command: &Message, now_ms: u64) -> Message {
        use Message::*;
        match command {
            Ping { sent_at_micros } => Pong {
                sent_at_micros: *sent_at_micros,
            },
            NodeListRequest {} => NodeListResponse {
                nodes: self.members.iter().map(|m| m.node_id.clone()).collect(),
            },
            GetNodeInfoRequest { node_id } => match self.member(node_id) {
                Some(m) => GetNodeInfoResponse {
                    info: m.info.clone(),
                },
                None => not_a_member(node_id),
            },
            GetRegistrationsRequest { address } => GetRegistrationsResponse {
                registrations: self.registrations.get(address).cloned().unwrap_or_default(),
            },
            MapGetRequest { map_name, key } => MapGetResponse {
                value: self.map(map_name).and_then(|m| m.get(key, now_ms).cloned()),
            },
            MapSizeRequest { map_name } => MapSizeResponse {
                size: self.map(map_name).map_or(0, |m| m.len(now_ms)) as u64,
            },
            MapKeysRequest { map_name } => MapKeysResponse {
                keys: self.live_entries(map_name, now_ms, |k, _| k.clone()),
            },
            MapValuesRequest { map_name } => MapValuesResponse {
                values: self.live_entries(map_name, now_ms, |_, v| v.clone()),
            },
            MapEntriesRequest { map_name } => MapEntriesResponse {
                entries: self.live_entries(map_name, now_ms, |k, v| MapEntry {
                    key: k.clone(),
                    value: v.clone(),
                }),
            },
            SetContainsRequest { set_name, value } => SetContainsResponse {
                contains: self.sets.get(set_name).is_some_and(|s| s.contains(value)),
            },
            SetSizeRequest { set_name } => SetSizeResponse {
                size: self.sets.get(set_name).map_or(0, |s| s.len()) as u64,
            },
            SetMembersRequest { set_name } => SetMembersResponse {
                members: self
                    .sets
                    .get(set_name)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default(),
            },
            CounterGetRequest { counter_name } => CounterGetResponse {
                value: self.counters.get(counter_name).copied().unwrap_or(0),
            },
            SyncMapGetRequest { map_name, key } => SyncMapGetResponse {
                value: self
                    .sync_maps
                    .get(map_name)
                    .and_then(|m| m.get(key))
                    .cloned(),
            },
            SyncMapContainsRequest { map_name, key } => SyncMapContainsResponse {
                contains: self
                    .sync_maps
                    .get(map_name)
                    .is_some_and(|m| m.contains_key(key)),
            },
            SyncMapEntriesRequest { map_name } => SyncMapEntriesResponse {
                entries: self
                    .sync_maps
                    .get(map_name)
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| MapEntry {
                                key: k.clone(),
                                value: v.clone(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            other => Message::error(
                error_code::UNSUPPORTED,
                format!("{} is not a read-only request", other.name()),
            ),
        }
    }
}
