//! The replicated state machine: `apply(command, context) -> response`.
//!
//! Deterministic and pure: no clock, thread or I/O. Everything time-dependent reads the
//! leader-stamped time in [`ApplyContext`], and everything that identifies a caller reads the
//! context's origin node and request id, so replicas that apply the same commands in the same
//! order hold the same state and produce identical snapshot bytes.
//!
//! Maps, sets, counters and locks spring into existence on first write; the `Create*` commands
//! only make that explicit. Reads (`is_read_only`) never change state and may be served from a
//! replica once it is known to be current. Effects beyond the caller's own answer (a node joined
//! or left, an address's registrations changed, a queued lock was granted or a wait expired) are
//! returned as [`Event`]s in apply order for the layer above to deliver.

mod locks;
mod maps;
mod sessions;
mod snapshot;

use std::collections::{BTreeMap, BTreeSet};

use crate::wire::{error_code, MapEntry, Message, RegistrationInfo};
use locks::{AcquireOutcome, LockTable, Wait};
pub use locks::{Holder, LockState, Waiter};
use maps::TtlMap;
use sessions::Sessions;
pub use snapshot::SnapshotError;

/// Hash maps with a fixed-seed fast hash: quick on short byte keys, and the same iteration order
/// on every replica (listings are sorted anyway; nothing depends on it).
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// What a command is applied under: its log position, the leader's time when it was proposed,
/// and who proposed it.
#[derive(Debug, Clone, Copy)]
pub struct ApplyContext<'a> {
    /// The log index of the command; also the fencing token of a lock it grants.
    pub index: u64,
    /// Milliseconds since the Unix epoch, stamped by the leader.
    pub now_ms: u64,
    /// The Vert.x node id of the proposing node.
    pub origin: &'a str,
    /// The proposer's request id; identifies a lock waiter together with `origin`.
    pub request_id: u32,
}

/// An effect of a command beyond the answer to its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    NodeAdded {
        node_id: String,
    },
    NodeLeft {
        node_id: String,
    },
    /// The registrations of `address` changed; `registrations` is the full new list.
    RegistrationsChanged {
        address: String,
        registrations: Vec<RegistrationInfo>,
    },
    /// A queued acquire was granted.
    LockGranted {
        lock_name: String,
        node_id: String,
        request_id: u32,
        fencing_token: u64,
    },
    /// A queued acquire timed out without being granted.
    LockWaitExpired {
        lock_name: String,
        node_id: String,
        request_id: u32,
    },
}

/// The outcome of applying one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub response: Message,
    pub events: Vec<Event>,
}

/// A cluster member, in join order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub node_id: String,
    /// The member's raft id; 0 for a member that joined with a plain `JoinRequest` and takes no
    /// part in replication.
    pub raft_id: u64,
    /// Where the member's node listens; empty when `raft_id` is 0.
    pub address: String,
    pub info: Option<Vec<u8>>,
}

/// The whole replicated state.
#[derive(Debug, Default, Clone)]
pub struct StateMachine {
    last_applied: u64,
    /// The raft id the next `AddMemberRequest` assigns; ids are never reused.
    next_raft_id: u64,
    members: Vec<Member>,
    registrations: FastMap<String, Vec<RegistrationInfo>>,
    maps: FastMap<String, TtlMap>,
    sets: FastMap<String, BTreeSet<Vec<u8>>>,
    counters: FastMap<String, i64>,
    locks: LockTable,
    sync_maps: FastMap<String, BTreeMap<Vec<u8>, Vec<u8>>>,
    /// Which replicated requests of each node were applied, so a re-proposal applies once.
    sessions: Sessions,
}

/// True for commands that never change state.
pub fn is_read_only(command: &Message) -> bool {
    use Message::*;
    matches!(
        command,
        Ping { .. }
            | NodeListRequest {}
            | GetNodeInfoRequest { .. }
            | GetRegistrationsRequest { .. }
            | MapGetRequest { .. }
            | MapSizeRequest { .. }
            | MapKeysRequest { .. }
            | MapValuesRequest { .. }
            | MapEntriesRequest { .. }
            | SetContainsRequest { .. }
            | SetSizeRequest { .. }
            | SetMembersRequest { .. }
            | CounterGetRequest { .. }
            | SyncMapGetRequest { .. }
            | SyncMapContainsRequest { .. }
            | SyncMapEntriesRequest { .. }
    )
}

/// True for the reads a node answers from its own applied state, without a ReadIndex round: the
/// sync map Vert.x HA keeps `__vertx.haInfo` in. HA reads it from node events, on every node at
/// once, and compares what it read across nodes; a read that waits for the leader lets the
/// cluster move on meanwhile (another failover removes an entry), and the nodes then disagree
/// about who fails a node over. A local read sees the node's own writes (a write completes once
/// applied here) and everything up to the last event the node delivered.
pub fn is_local_read(command: &Message) -> bool {
    use Message::*;
    matches!(
        command,
        SyncMapGetRequest { .. } | SyncMapContainsRequest { .. } | SyncMapEntriesRequest { .. }
    )
}

fn not_a_member(node_id: &str) -> Message {
    Message::error(
        error_code::NOT_A_MEMBER,
        format!("Not a member of the cluster: {node_id}"),
    )
}

impl StateMachine {
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of the last command applied (0 before any).
    pub fn last_applied(&self) -> u64 {
        self.last_applied
    }

    /// Members in join order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn is_member(&self, node_id: &str) -> bool {
        self.members.iter().any(|m| m.node_id == node_id)
    }

    /// The member with this raft id.
    pub fn member_by_raft_id(&self, raft_id: u64) -> Option<&Member> {
        self.members.iter().find(|m| m.raft_id == raft_id)
    }

    /// The earliest deadline of a map entry or lock wait still stored, if any: when an expire
    /// command would have something to remove.
    pub fn next_deadline(&self) -> Option<u64> {
        let maps = self.maps.values().filter_map(TtlMap::next_deadline).min();
        let waits = self.locks.next_deadline();
        match (maps, waits) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The current holder of a lock.
    pub fn lock_holder(&self, name: &str) -> Option<&Holder> {
        self.locks.holder(name)
    }

    /// Applies one committed command. Read-only commands are answered too, without a change.
    pub fn apply(&mut self, command: Message, ctx: &ApplyContext<'_>) -> Applied {
        self.last_applied = self.last_applied.max(ctx.index);
        let mut events = Vec::new();
        let response = if is_read_only(&command) {
            self.query(&command, ctx.now_ms)
        } else {
            self.update(command, ctx, &mut events)
        };
        Applied { response, events }
    }

    /// Applies a command proposed through replication, unless the same request of the same node
    /// (`ctx.origin`, `ctx.request_id`) was applied already; `settled_below` is the proposer's
    /// lowest open request id (see the `sessions` module). `None` for a repeat.
    pub fn apply_once(
        &mut self,
        command: Message,
        ctx: &ApplyContext<'_>,
        settled_below: u32,
    ) -> Option<Applied> {
        if !self
            .sessions
            .first_time(ctx.origin, ctx.request_id, settled_below)
        {
            self.last_applied = self.last_applied.max(ctx.index);
            log::debug!(
                "index {}: request {} of {} applied already; skipped",
                ctx.index,
                ctx.request_id,
                ctx.origin
            );
            return None;
        }
        Some(self.apply(command, ctx))
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

    fn update(
        &mut self,
        command: Message,
        ctx: &ApplyContext<'_>,
        events: &mut Vec<Event>,
    ) -> Message {
        use Message::*;
        let now = ctx.now_ms;
        let deadline = |ttl_ms: u64| Some(now.saturating_add(ttl_ms));
        match command {
            // ---- membership ----
            JoinRequest { node_id } => {
                if !self.is_member(&node_id) {
                    log::debug!("index {}: node {node_id} joined", ctx.index);
                    events.push(Event::NodeAdded {
                        node_id: node_id.clone(),
                    });
                    self.members.push(Member {
                        node_id,
                        raft_id: 0,
                        address: String::new(),
                        info: None,
                    });
                }
                JoinResponse {
                    members: self.members.iter().map(|m| m.node_id.clone()).collect(),
                }
            }
            AddMemberRequest { node_id, address } => {
                if let Some(m) = self.members.iter().find(|m| m.node_id == node_id) {
                    return AddMemberResponse { raft_id: m.raft_id };
                }
                let raft_id = self.next_raft_id.max(1);
                self.next_raft_id = raft_id + 1;
                log::debug!(
                    "index {}: node {node_id} at {address} joined as raft id {raft_id}",
                    ctx.index
                );
                events.push(Event::NodeAdded {
                    node_id: node_id.clone(),
                });
                self.members.push(Member {
                    node_id,
                    raft_id,
                    address,
                    info: None,
                });
                AddMemberResponse { raft_id }
            }
            LeaveRequest { node_id } => LeaveResponse {
                was_member: self.remove_node(&node_id, ctx, events),
            },
            SetNodeInfoRequest { node_id, info } => {
                match self.members.iter_mut().find(|m| m.node_id == node_id) {
                    Some(m) => {
                        m.info = Some(info);
                        SetNodeInfoResponse {}
                    }
                    None => not_a_member(&node_id),
                }
            }

            // ---- registrations ----
            AddRegistrationRequest {
                address,
                registration,
            } => {
                if !self.is_member(&registration.node_id) {
                    return not_a_member(&registration.node_id);
                }
                let list = self.registrations.entry(address.clone()).or_default();
                if !list.contains(&registration) {
                    list.push(registration);
                    let registrations = list.clone();
                    events.push(Event::RegistrationsChanged {
                        address,
                        registrations,
                    });
                }
                AddRegistrationResponse {}
            }
            RemoveRegistrationRequest {
                address,
                registration,
            } => {
                let (removed, remaining) = match self.registrations.get_mut(&address) {
                    Some(list) => {
                        let before = list.len();
                        list.retain(|r| r != &registration);
                        let removed = list.len() != before;
                        let remaining = list.clone();
                        if list.is_empty() {
                            self.registrations.remove(&address);
                        }
                        (removed, remaining)
                    }
                    None => (false, Vec::new()),
                };
                if removed {
                    events.push(Event::RegistrationsChanged {
                        address,
                        registrations: remaining,
                    });
                }
                RemoveRegistrationResponse { removed }
            }

            // ---- async maps ----
            CreateMapRequest { name } => {
                self.maps.entry(name).or_default();
                CreateMapResponse {}
            }
            MapPutRequest {
                map_name,
                key,
                value,
            } => {
                self.map_mut(map_name).put(key, value, None, now);
                MapPutResponse {}
            }
            MapPutTtlRequest {
                map_name,
                key,
                value,
                ttl_ms,
            } => {
                self.map_mut(map_name)
                    .put(key, value, deadline(ttl_ms), now);
                MapPutTtlResponse {}
            }
            MapPutIfAbsentRequest {
                map_name,
                key,
                value,
            } => MapPutIfAbsentResponse {
                previous: self.map_mut(map_name).put_if_absent(key, value, None, now),
            },
            MapPutIfAbsentTtlRequest {
                map_name,
                key,
                value,
                ttl_ms,
            } => MapPutIfAbsentTtlResponse {
                previous: self
                    .map_mut(map_name)
                    .put_if_absent(key, value, deadline(ttl_ms), now),
            },
            MapRemoveRequest { map_name, key } => MapRemoveResponse {
                previous: self
                    .maps
                    .get_mut(&map_name)
                    .and_then(|m| m.remove(&key, now)),
            },
            MapRemoveIfPresentRequest {
                map_name,
                key,
                value,
            } => {
                let map = self.maps.get_mut(&map_name);
                let removed = map.is_some_and(|m| {
                    m.get(&key, now) == Some(&value) && m.remove(&key, now).is_some()
                });
                MapRemoveIfPresentResponse { removed }
            }
            MapReplaceRequest {
                map_name,
                key,
                value,
            } => MapReplaceResponse {
                previous: self.replace(map_name, key, value, None, now),
            },
            MapReplaceTtlRequest {
                map_name,
                key,
                value,
                ttl_ms,
            } => MapReplaceTtlResponse {
                previous: self.replace(map_name, key, value, deadline(ttl_ms), now),
            },
            MapReplaceIfPresentRequest {
                map_name,
                key,
                old_value,
                new_value,
            } => MapReplaceIfPresentResponse {
                replaced: self.replace_if(map_name, key, &old_value, new_value, None, now),
            },
            MapReplaceIfPresentTtlRequest {
                map_name,
                key,
                old_value,
                new_value,
                ttl_ms,
            } => MapReplaceIfPresentTtlResponse {
                replaced: self.replace_if(
                    map_name,
                    key,
                    &old_value,
                    new_value,
                    deadline(ttl_ms),
                    now,
                ),
            },
            MapClearRequest { map_name } => {
                if let Some(m) = self.maps.get_mut(&map_name) {
                    m.clear();
                }
                MapClearResponse {}
            }
            ExpireRequest {} => {
                let expired_entries = self.maps.values_mut().map(|m| m.expire(now)).sum::<usize>();
                let expired_waits = self.locks.expire(now, events);
                if expired_entries + expired_waits > 0 {
                    log::debug!(
                        "index {}: expired {expired_entries} entries and {expired_waits} lock waits at {now}",
                        ctx.index
                    );
                }
                ExpireResponse {
                    expired_entries: expired_entries as u64,
                    expired_waits: expired_waits as u64,
                }
            }

            // ---- sets ----
            CreateSetRequest { name } => {
                self.sets.entry(name).or_default();
                CreateSetResponse {}
            }
            SetAddRequest { set_name, value } => SetAddResponse {
                added: self.sets.entry(set_name).or_default().insert(value),
            },
            SetRemoveRequest { set_name, value } => SetRemoveResponse {
                removed: self
                    .sets
                    .get_mut(&set_name)
                    .is_some_and(|s| s.remove(&value)),
            },

            // ---- counters ----
            CreateCounterRequest { name } => CreateCounterResponse {
                value: *self.counters.entry(name).or_insert(0),
            },
            CounterAddAndGetRequest {
                counter_name,
                delta,
            } => {
                let c = self.counters.entry(counter_name).or_insert(0);
                *c = c.wrapping_add(delta);
                CounterAddAndGetResponse { value: *c }
            }
            CounterGetAndAddRequest {
                counter_name,
                delta,
            } => {
                let c = self.counters.entry(counter_name).or_insert(0);
                let old = *c;
                *c = old.wrapping_add(delta);
                CounterGetAndAddResponse { value: old }
            }
            CounterCompareAndSetRequest {
                counter_name,
                expected,
                value,
            } => {
                let c = self.counters.entry(counter_name).or_insert(0);
                let swapped = *c == expected;
                if swapped {
                    *c = value;
                }
                CounterCompareAndSetResponse { swapped }
            }

            // ---- locks ----
            CreateLockRequest { name: _ } => CreateLockResponse {},
            LockAcquireRequest { lock_name } => {
                let (granted, fencing_token) = self.acquire(lock_name, Wait::Forever, ctx);
                LockAcquireResponse {
                    granted,
                    fencing_token,
                }
            }
            LockAcquireTimeoutRequest {
                lock_name,
                timeout_ms,
            } => {
                let wait = match timeout_ms {
                    0 => Wait::No,
                    t => Wait::Until(now.saturating_add(t)),
                };
                let (granted, fencing_token) = self.acquire(lock_name, wait, ctx);
                LockAcquireTimeoutResponse {
                    granted,
                    fencing_token,
                }
            }
            LockReleaseRequest { lock_name } => LockReleaseResponse {
                released: self
                    .locks
                    .release(&lock_name, ctx.origin, ctx.index, now, events),
            },
            LockCancelRequest {
                lock_name,
                acquire_request_id,
            } => LockCancelResponse {
                cancelled: self
                    .locks
                    .cancel(&lock_name, ctx.origin, acquire_request_id),
            },

            // ---- sync maps ----
            SyncMapPutRequest {
                map_name,
                key,
                value,
            } => SyncMapPutResponse {
                previous: self
                    .sync_maps
                    .entry(map_name)
                    .or_default()
                    .insert(key, value),
            },
            SyncMapRemoveRequest { map_name, key } => SyncMapRemoveResponse {
                previous: self
                    .sync_maps
                    .get_mut(&map_name)
                    .and_then(|m| m.remove(&key)),
            },

            other => Message::error(
                error_code::UNSUPPORTED,
                format!(
                    "{} is not a request the state machine applies",
                    other.name()
                ),
            ),
        }
    }

    fn member(&self, node_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.node_id == node_id)
    }

    fn map(&self, name: &str) -> Option<&TtlMap> {
        self.maps.get(name)
    }

    fn map_mut(&mut self, name: String) -> &mut TtlMap {
        self.maps.entry(name).or_default()
    }

    fn live_entries<T>(
        &self,
        map_name: &str,
        now_ms: u64,
        f: impl Fn(&Vec<u8>, &Vec<u8>) -> T,
    ) -> Vec<T> {
        self.map(map_name)
            .map(|m| {
                m.live_sorted(now_ms)
                    .into_iter()
                    .map(|(k, v)| f(k, v))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn replace(
        &mut self,
        map_name: String,
        key: Vec<u8>,
        value: Vec<u8>,
        deadline: Option<u64>,
        now: u64,
    ) -> Option<Vec<u8>> {
        let map = self.maps.get_mut(&map_name)?;
        map.get(&key, now)?;
        map.put(key, value, deadline, now)
    }

    fn replace_if(
        &mut self,
        map_name: String,
        key: Vec<u8>,
        expected: &[u8],
        value: Vec<u8>,
        deadline: Option<u64>,
        now: u64,
    ) -> bool {
        let Some(map) = self.maps.get_mut(&map_name) else {
            return false;
        };
        if map.get(&key, now).map(Vec::as_slice) != Some(expected) {
            return false;
        }
        map.put(key, value, deadline, now);
        true
    }

    fn acquire(&mut self, lock_name: String, wait: Wait, ctx: &ApplyContext<'_>) -> (bool, u64) {
        match self
            .locks
            .acquire(lock_name, ctx.origin, ctx.request_id, wait, ctx.index)
        {
            AcquireOutcome::Granted(token) => (true, token),
            AcquireOutcome::Queued | AcquireOutcome::Refused => (false, 0),
        }
    }

    /// Removes a member: its registrations and node info go, its locks are released (the next
    /// waiters granted in order) and its waits dropped. Sync map entries stay: Vert.x HA reads a
    /// dead node's entry to fail its deployments over.
    fn remove_node(
        &mut self,
        node_id: &str,
        ctx: &ApplyContext<'_>,
        events: &mut Vec<Event>,
    ) -> bool {
        let was_member = match self.members.iter().position(|m| m.node_id == node_id) {
            Some(pos) => {
                self.members.remove(pos);
                true
            }
            None => false,
        };
        let mut changed: Vec<(String, Vec<RegistrationInfo>)> = Vec::new();
        self.registrations.retain(|address, list| {
            let before = list.len();
            list.retain(|r| r.node_id != node_id);
            if list.len() != before {
                changed.push((address.clone(), list.clone()));
            }
            !list.is_empty()
        });
        changed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        events.extend(changed.into_iter().map(|(address, registrations)| {
            Event::RegistrationsChanged {
                address,
                registrations,
            }
        }));
        self.locks
            .remove_node(node_id, ctx.index, ctx.now_ms, events);
        self.sessions.remove(node_id);
        if was_member {
            log::debug!("index {}: node {node_id} left", ctx.index);
            events.push(Event::NodeLeft {
                node_id: node_id.to_owned(),
            });
        }
        was_member
    }

    /// Checks the state's invariants; for tests.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for m in &self.members {
            if !seen.insert(&m.node_id) {
                return Err(format!("member {} listed twice", m.node_id));
            }
        }
        for (address, list) in &self.registrations {
            if list.is_empty() {
                return Err(format!("empty registration list kept for {address}"));
            }
        }
        self.locks.check_invariants()
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
