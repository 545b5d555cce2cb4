//! The reference model: the cluster state in plain std collections, its read helpers, how a
//! step is resolved into a concrete message ([`Model::resolve`]) and the expected answers to
//! read-only queries ([`Model::query`]). How it applies a command is in `model/apply.rs`.

use super::*;

mod apply;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MHolder {
    pub(super) node: String,
    pub(super) request_id: u32,
    pub(super) token: u64,
}

#[derive(Debug, Clone)]
struct MWaiter {
    node: String,
    request_id: u32,
    deadline: Option<u64>,
}

/// A held lock and its FIFO queue. A free lock has no entry.
#[derive(Debug, Clone)]
struct MLock {
    holder: MHolder,
    queue: VecDeque<MWaiter>,
}

/// A map value and its absolute deadline, if any.
type MEntry = (Vec<u8>, Option<u64>);

fn is_live(deadline: Option<u64>, now: u64) -> bool {
    match deadline {
        Some(d) => d > now,
        None => true,
    }
}

#[derive(Debug, Clone, Default)]
pub(super) struct Model {
    members: Vec<(String, Option<Vec<u8>>)>,
    registrations: BTreeMap<String, Vec<RegistrationInfo>>,
    maps: BTreeMap<String, BTreeMap<Vec<u8>, MEntry>>,
    counters: BTreeMap<String, i64>,
    sets: BTreeMap<String, BTreeSet<Vec<u8>>>,
    sync_maps: BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>,
    locks: BTreeMap<String, MLock>,
    last_token: u64,
}

impl Model {
    /// The next fencing token: the command's index, or one past the last token when one command
    /// makes several grants.
    fn next_token(last_token: &mut u64, index: u64) -> u64 {
        *last_token = (*last_token).max(index - 1) + 1;
        *last_token
    }

    fn is_member(&self, node: &str) -> bool {
        self.members.iter().any(|(n, _)| n == node)
    }

    fn member_ids(&self) -> Vec<String> {
        self.members.iter().map(|(n, _)| n.clone()).collect()
    }

    fn live(&self, map: &str, key: &[u8], now: u64) -> Option<Vec<u8>> {
        let (value, deadline) = self.maps.get(map)?.get(key)?;
        is_live(*deadline, now).then(|| value.clone())
    }

    fn live_entries(&self, map: &str, now: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.maps
            .get(map)
            .map(|m| {
                m.iter()
                    .filter(|(_, (_, d))| is_live(*d, now))
                    .map(|(k, (v, _))| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `n`-th distinct deadline of a lock wait or map entry in `now..now + 50`.
    pub(super) fn upcoming_deadline(&self, now: u64, n: usize) -> Option<u64> {
        let waits = self
            .locks
            .values()
            .flat_map(|l| l.queue.iter().filter_map(|w| w.deadline));
        let entries = self
            .maps
            .values()
            .flat_map(|m| m.values().filter_map(|(_, d)| *d));
        let upcoming: BTreeSet<u64> = waits
            .chain(entries)
            .filter(|d| (now..now + 50).contains(d))
            .collect();
        upcoming.into_iter().nth(n)
    }

    pub(super) fn holder(&self, lock: &str) -> Option<&MHolder> {
        self.locks.get(lock).map(|l| &l.holder)
    }

    /// Picks the message and context for a step.
    pub(super) fn resolve(&self, step: &Step, clock: Clock) -> Concrete {
        use Cmd::*;
        let mut origin = NODES[step.origin];
        let node_id = |n: usize| NODES[n].to_owned();
        let map_name = |m: usize| MAPS[m].to_owned();
        let reg = |node: usize, seq: u64, local_only: bool| RegistrationInfo {
            node_id: node_id(node),
            seq,
            local_only,
        };
        let expect = |map: usize, key: usize, value: Option<usize>| match value {
            Some(v) => s(VALUES[v]),
            None => self
                .live(MAPS[map], KEYS[key], clock.now_ms)
                .unwrap_or_else(|| s(VALUES[0])),
        };
        let msg = match step.cmd.clone() {
            Join(n) => Message::JoinRequest {
                node_id: node_id(n),
            },
            Leave(n) => Message::LeaveRequest {
                node_id: node_id(n),
            },
            SetNodeInfo(n, b) => Message::SetNodeInfoRequest {
                node_id: node_id(n),
                info: vec![b],
            },
            AddReg {
                address,
                node,
                seq,
                local_only,
            } => Message::AddRegistrationRequest {
                address: ADDRESSES[address].to_owned(),
                registration: reg(node, seq, local_only),
            },
            RemoveReg {
                address,
                node,
                seq,
                local_only,
            } => Message::RemoveRegistrationRequest {
                address: ADDRESSES[address].to_owned(),
                registration: reg(node, seq, local_only),
            },
            Put { map, key, value } => Message::MapPutRequest {
                map_name: map_name(map),
                key: s(KEYS[key]),
                value: s(VALUES[value]),
            },
            PutTtl {
                map,
                key,
                value,
                ttl,
            } => Message::MapPutTtlRequest {
                map_name: map_name(map),
                key: s(KEYS[key]),
                value: s(VALUES[value]),
                ttl_ms: ttl,
            },
            PutIfAbsent { map, key, value } => Message::MapPutIfAbsentRequest {
                map_name: map_name(map),
                key: s(KEYS[key]),
                value: s(VALUES[value]),
            },
            PutIfAbsentTtl {
                map,
                key,
                value,
                ttl,
            } => Message::MapPutIfAbsentTtlRequest {
                map_name: map_name(map),
                key: s(KEYS[key]),
                value: s(VALUES[value]),
                ttl_ms: ttl,
            },
            Remove { map, key } => Message::MapRemoveRequest {
                map_name: map_name(map),
                key: s(KEYS[key]),
            },
            RemoveIfPresent { map, key, value } => Message::MapRemoveIfPresentRequest {
                map_name: map_name(map),
                key: s(KEYS[key]),
                value: expect(map, key, value),
            },
            Replace { map, key, value } => Message::MapReplaceRequest {
                map_name: map_name(map),
                key: s(KEYS[key]),
                value: s(VALUES[value]),
            },
            ReplaceTtl {
                map,
                key,
                value,
                ttl,
            } => Message::MapReplaceTtlRequest {
                map_name: map_name(map),
                key: s(KEYS[key]),
                value: s(VALUES[value]),
                ttl_ms: ttl,
            },
            ReplaceIfPresent { map, key, old, new } => Message::MapReplaceIfPresentRequest {
                map_name: map_name(map),
                key: s(KEYS[key]),
                old_value: expect(map, key, old),
                new_value: s(VALUES[new]),
            },
            ReplaceIfPresentTtl {
                map,
                key,
                old,
                new,
                ttl,
            } => Message::MapReplaceIfPresentTtlRequest {
                map_name: map_name(map),
                key: s(KEYS[key]),
                old_value: expect(map, key, old),
                new_value: s(VALUES[new]),
                ttl_ms: ttl,
            },
            Clear { map } => Message::MapClearRequest {
                map_name: map_name(map),
            },
            Get { map, key } => Message::MapGetRequest {
                map_name: map_name(map),
                key: s(KEYS[key]),
            },
            Expire => Message::ExpireRequest {},
            AddAndGet { counter, delta } => Message::CounterAddAndGetRequest {
                counter_name: COUNTERS[counter].to_owned(),
                delta,
            },
            GetAndAdd { counter, delta } => Message::CounterGetAndAddRequest {
                counter_name: COUNTERS[counter].to_owned(),
                delta,
            },
            Cas {
                counter,
                expected,
                value,
            } => Message::CounterCompareAndSetRequest {
                counter_name: COUNTERS[counter].to_owned(),
                expected: expected
                    .unwrap_or_else(|| self.counters.get(COUNTERS[counter]).copied().unwrap_or(0)),
                value,
            },
            Acquire { lock } => Message::LockAcquireRequest {
                lock_name: LOCKS[lock].to_owned(),
            },
            AcquireTimeout { lock, timeout } => Message::LockAcquireTimeoutRequest {
                lock_name: LOCKS[lock].to_owned(),
                timeout_ms: timeout,
            },
            Release { lock, by_holder } => {
                if let (true, Some(h)) = (by_holder, self.holder(LOCKS[lock])) {
                    origin = NODES
                        .iter()
                        .find(|n| **n == h.node)
                        .expect("a node of the universe");
                }
                Message::LockReleaseRequest {
                    lock_name: LOCKS[lock].to_owned(),
                }
            }
            Cancel { lock, pick, own } => {
                let queue = self.locks.get(LOCKS[lock]).map(|l| &l.queue);
                let holder = self.holder(LOCKS[lock]).filter(|_| pick % 3 == 0);
                let acquisition = match (holder, queue) {
                    // Every third pick, the holder's own acquisition: a cancel releases it.
                    (Some(h), _) => Some((&h.node, h.request_id)),
                    (None, Some(q)) if !q.is_empty() => {
                        let w = &q[pick % q.len()];
                        Some((&w.node, w.request_id))
                    }
                    _ => None,
                };
                let acquire_request_id = match acquisition {
                    Some((node, request_id)) => {
                        if own {
                            origin = NODES
                                .iter()
                                .find(|n| *n == node)
                                .expect("a node of the universe");
                        }
                        request_id
                    }
                    None => (clock.index as u32).wrapping_sub(pick as u32 + 1),
                };
                Message::LockCancelRequest {
                    lock_name: LOCKS[lock].to_owned(),
                    acquire_request_id,
                }
            }
            SyncPut { map, key, value } => Message::SyncMapPutRequest {
                map_name: SYNC_MAPS[map].to_owned(),
                key: s(KEYS[key]),
                value: s(VALUES[value]),
            },
            SyncRemove { map, key } => Message::SyncMapRemoveRequest {
                map_name: SYNC_MAPS[map].to_owned(),
                key: s(KEYS[key]),
            },
            SetAdd { set, value } => Message::SetAddRequest {
                set_name: SETS[set].to_owned(),
                value: s(VALUES[value]),
            },
            SetRemove { set, value } => Message::SetRemoveRequest {
                set_name: SETS[set].to_owned(),
                value: s(VALUES[value]),
            },
        };
        Concrete {
            msg,
            index: clock.index,
            now_ms: clock.now_ms,
            origin,
            request_id: clock.index as u32,
        }
    }

    /// The expected answer to a read-only command at `now`.
    pub(super) fn query(&self, q: &Message, now: u64) -> Message {
        use Message::*;
        let entries = |pairs: Vec<(Vec<u8>, Vec<u8>)>| -> Vec<MapEntry> {
            pairs
                .into_iter()
                .map(|(key, value)| MapEntry { key, value })
                .collect()
        };
        match q {
            NodeListRequest {} => NodeListResponse {
                nodes: self.member_ids(),
            },
            GetNodeInfoRequest { node_id } => match self.members.iter().find(|(n, _)| n == node_id)
            {
                Some((_, info)) => GetNodeInfoResponse { info: info.clone() },
                None => Message::error(
                    error_code::NOT_A_MEMBER,
                    format!("Not a member of the cluster: {node_id}"),
                ),
            },
            GetRegistrationsRequest { address } => GetRegistrationsResponse {
                registrations: self.registrations.get(address).cloned().unwrap_or_default(),
            },
            MapGetRequest { map_name, key } => MapGetResponse {
                value: self.live(map_name, key, now),
            },
            MapSizeRequest { map_name } => MapSizeResponse {
                size: self.live_entries(map_name, now).len() as u64,
            },
            MapKeysRequest { map_name } => MapKeysResponse {
                keys: self
                    .live_entries(map_name, now)
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect(),
            },
            MapValuesRequest { map_name } => MapValuesResponse {
                values: self
                    .live_entries(map_name, now)
                    .into_iter()
                    .map(|(_, v)| v)
                    .collect(),
            },
            MapEntriesRequest { map_name } => MapEntriesResponse {
                entries: entries(self.live_entries(map_name, now)),
            },
            CounterGetRequest { counter_name } => CounterGetResponse {
                value: self.counters.get(counter_name).copied().unwrap_or(0),
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
                entries: entries(
                    self.sync_maps
                        .get(map_name)
                        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                ),
            },
            other => panic!("no model answer for {}", other.name()),
        }
    }
}
