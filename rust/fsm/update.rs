//! Writes: applying one command to the state, with the caller's answer and the events it causes
//! (membership, registrations, lock grants and expired waits), and removing a node that left or
//! was declared dead.

use super::locks::{AcquireOutcome, Wait};
use super::maps::TtlMap;
use super::{not_a_member, ApplyContext, Event, Member, StateMachine};
use crate::wire::{error_code, Message, RegistrationInfo};

impl StateMachine {
    pub(super) fn update(
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
                self.map_mut(&map_name).put(&key, value, None, now);
                MapPutResponse {}
            }
            MapPutTtlRequest {
                map_name,
                key,
                value,
                ttl_ms,
            } => {
                self.map_mut(&map_name)
                    .put(&key, value, deadline(ttl_ms), now);
                MapPutTtlResponse {}
            }
            MapPutIfAbsentRequest {
                map_name,
                key,
                value,
            } => MapPutIfAbsentResponse {
                previous: self.map_mut(&map_name).put_if_absent(key, value, None, now),
            },
            MapPutIfAbsentTtlRequest {
                map_name,
                key,
                value,
                ttl_ms,
            } => MapPutIfAbsentTtlResponse {
                previous: self
                    .map_mut(&map_name)
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
            } => CounterAddAndGetResponse {
                value: self.counter_add_and_get(&counter_name, delta),
            },
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

    /// The map called `name`, created empty if there is none; the name is copied only then.
    pub(super) fn map_mut(&mut self, name: &str) -> &mut TtlMap {
        if !self.maps.contains_key(name) {
            self.maps.insert(name.to_owned(), TtlMap::default());
        }
        self.maps.get_mut(name).expect("inserted above")
    }

    /// Adds `delta` to the counter called `name` (created at 0) and returns its new value; the
    /// name is copied only for a new counter.
    pub(super) fn counter_add_and_get(&mut self, name: &str, delta: i64) -> i64 {
        let counter = match self.counters.get_mut(name) {
            Some(c) => c,
            None => self.counters.entry(name.to_owned()).or_insert(0),
        };
        *counter = counter.wrapping_add(delta);
        *counter
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
        map.put(&key, value, deadline, now)
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
        map.put(&key, value, deadline, now);
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
}
