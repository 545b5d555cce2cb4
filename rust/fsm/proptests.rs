//! Property tests of the state machine over random command sequences drawn from a small universe
//! of nodes, locks, maps, keys, counters, sets and addresses, so that commands collide often.
//!
//! A [`Model`] built from plain std collections is the reference: it predicts every response and
//! every event, and answers the same read-only queries. Sequences are "concretized" through the
//! model first (a cancel picks a request that is actually queued, a compare-and-set may expect
//! the current value), so every state machine in a test applies the very same messages. Command
//! `i` is applied at index `i`, with request id `i`, from a random node of the universe, at a
//! leader time that advances by 0..50 ms per command.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;
use proptest::strategy::Union;

use super::{is_read_only, Applied, ApplyContext, Event, SnapshotError, StateMachine};
use crate::wire::{error_code, MapEntry, Message, MessageRef, RegistrationInfo};

const NODES: [&str; 4] = ["node-a", "node-b", "node-c", "node-d"];
const LOCKS: [&str; 3] = ["lock-1", "lock-2", "lock-3"];
const MAPS: [&str; 2] = ["map-1", "map-2"];
const KEYS: [&[u8]; 4] = [b"k0", b"k1", b"k2", b"k3"];
const VALUES: [&[u8]; 3] = [b"v0", b"v1", b"v2"];
const COUNTERS: [&str; 2] = ["counter-1", "counter-2"];
const ADDRESSES: [&str; 2] = ["addr-1", "addr-2"];
const SETS: [&str; 2] = ["set-1", "set-2"];
const SYNC_MAPS: [&str; 2] = ["sync-1", "sync-2"];

/// Time of the first command; each step advances it by 0..50 ms (sometimes exactly onto a
/// pending deadline, see [`Step::to_deadline`]).
const START_MS: u64 = 1_700_000_000_000;
/// Longer than any TTL or lock timeout the strategies produce.
const BEYOND_ALL_TTLS_MS: u64 = 5_000;

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

/// A command over the universe, by index. Turned into a [`Message`] by [`Model::resolve`].
#[derive(Debug, Clone)]
enum Cmd {
    Join(usize),
    Leave(usize),
    SetNodeInfo(usize, u8),
    AddReg {
        address: usize,
        node: usize,
        seq: u64,
        local_only: bool,
    },
    RemoveReg {
        address: usize,
        node: usize,
        seq: u64,
        local_only: bool,
    },
    Put {
        map: usize,
        key: usize,
        value: usize,
    },
    PutTtl {
        map: usize,
        key: usize,
        value: usize,
        ttl: u64,
    },
    PutIfAbsent {
        map: usize,
        key: usize,
        value: usize,
    },
    PutIfAbsentTtl {
        map: usize,
        key: usize,
        value: usize,
        ttl: u64,
    },
    Remove {
        map: usize,
        key: usize,
    },
    /// `value: None` expects the current live value (or `VALUES[0]` when there is none).
    RemoveIfPresent {
        map: usize,
        key: usize,
        value: Option<usize>,
    },
    Replace {
        map: usize,
        key: usize,
        value: usize,
    },
    ReplaceTtl {
        map: usize,
        key: usize,
        value: usize,
        ttl: u64,
    },
    /// `old: None` expects the current live value (or `VALUES[0]` when there is none).
    ReplaceIfPresent {
        map: usize,
        key: usize,
        old: Option<usize>,
        new: usize,
    },
    ReplaceIfPresentTtl {
        map: usize,
        key: usize,
        old: Option<usize>,
        new: usize,
        ttl: u64,
    },
    Clear {
        map: usize,
    },
    Get {
        map: usize,
        key: usize,
    },
    Expire,
    AddAndGet {
        counter: usize,
        delta: i64,
    },
    GetAndAdd {
        counter: usize,
        delta: i64,
    },
    /// `expected: None` expects the counter's current value, so the swap happens.
    Cas {
        counter: usize,
        expected: Option<i64>,
        value: i64,
    },
    Acquire {
        lock: usize,
    },
    AcquireTimeout {
        lock: usize,
        timeout: u64,
    },
    /// `by_holder` sends the release from the holder's node instead of the step's origin.
    Release {
        lock: usize,
        by_holder: bool,
    },
    /// Cancels the `pick`-th queued waiter (from its own node when `own`), or a stale request id
    /// when nobody waits.
    Cancel {
        lock: usize,
        pick: usize,
        own: bool,
    },
    SyncPut {
        map: usize,
        key: usize,
        value: usize,
    },
    SyncRemove {
        map: usize,
        key: usize,
    },
    SetAdd {
        set: usize,
        value: usize,
    },
    SetRemove {
        set: usize,
        value: usize,
    },
}

#[derive(Debug, Clone)]
struct Step {
    cmd: Cmd,
    origin: usize,
    dt_ms: u64,
    /// Instead of `dt_ms`, advance exactly to the `n`-th next pending deadline (a lock wait or
    /// a map entry) if it is less than 50 ms away, so commands land on deadlines exactly.
    to_deadline: Option<usize>,
}

/// TTLs and lock timeouts: zero, a few ms (so deadlines often fall exactly on a later command's
/// time), up to a few steps, and long.
fn ttl() -> impl Strategy<Value = u64> {
    prop_oneof![1 => Just(0u64), 2 => 1u64..4, 3 => 4u64..120, 2 => 120u64..2_000]
}

/// Time between two commands: often 0 or 1 ms, so deadlines are hit exactly.
fn dt() -> impl Strategy<Value = u64> {
    prop_oneof![1 => Just(0u64), 1 => Just(1u64), 3 => 0u64..50]
}

fn delta() -> impl Strategy<Value = i64> {
    prop_oneof![6 => -3i64..=3, 1 => Just(i64::MAX), 1 => Just(i64::MIN)]
}

/// Membership, lock and expire commands, weighted for the general mix or, with `focus`, for a
/// lock-only run.
fn lock_arms(focus: bool) -> Vec<(u32, BoxedStrategy<Cmd>)> {
    use Cmd::*;
    let (n, l) = (NODES.len(), LOCKS.len());
    let w = |general: u32, focused: u32| if focus { focused } else { general };
    vec![
        (w(4, 2), (0..n).prop_map(Join).boxed()),
        (w(1, 2), (0..n).prop_map(Leave).boxed()),
        (w(2, 2), Just(Expire).boxed()),
        (w(4, 3), (0..l).prop_map(|lock| Acquire { lock }).boxed()),
        (
            w(4, 6),
            (0..l, prop_oneof![1 => Just(0u64), 2 => ttl()])
                .prop_map(|(lock, timeout)| AcquireTimeout { lock, timeout })
                .boxed(),
        ),
        (
            w(4, 6),
            (0..l, any::<bool>())
                .prop_map(|(lock, by_holder)| Release { lock, by_holder })
                .boxed(),
        ),
        (
            w(2, 2),
            (0..l, 0..8usize, prop::bool::weighted(0.8))
                .prop_map(|(lock, pick, own)| Cancel { lock, pick, own })
                .boxed(),
        ),
    ]
}

/// Any command of the universe.
fn cmd() -> impl Strategy<Value = Cmd> {
    use Cmd::*;
    let n = NODES.len();
    let (m, k, v) = (MAPS.len(), KEYS.len(), VALUES.len());
    let c = COUNTERS.len();
    let reg = || (0..ADDRESSES.len(), 0..n, 0..2u64, any::<bool>());
    let mut arms = lock_arms(false);
    arms.extend([
        (
            1,
            (0..n, any::<u8>())
                .prop_map(|(n, b)| SetNodeInfo(n, b))
                .boxed(),
        ),
        (
            2,
            reg()
                .prop_map(|(address, node, seq, local_only)| AddReg {
                    address,
                    node,
                    seq,
                    local_only,
                })
                .boxed(),
        ),
        (
            1,
            reg()
                .prop_map(|(address, node, seq, local_only)| RemoveReg {
                    address,
                    node,
                    seq,
                    local_only,
                })
                .boxed(),
        ),
        (
            3,
            (0..m, 0..k, 0..v)
                .prop_map(|(map, key, value)| Put { map, key, value })
                .boxed(),
        ),
        (
            3,
            (0..m, 0..k, 0..v, ttl())
                .prop_map(|(map, key, value, ttl)| PutTtl {
                    map,
                    key,
                    value,
                    ttl,
                })
                .boxed(),
        ),
        (
            2,
            (0..m, 0..k, 0..v)
                .prop_map(|(map, key, value)| PutIfAbsent { map, key, value })
                .boxed(),
        ),
        (
            2,
            (0..m, 0..k, 0..v, ttl())
                .prop_map(|(map, key, value, ttl)| PutIfAbsentTtl {
                    map,
                    key,
                    value,
                    ttl,
                })
                .boxed(),
        ),
        (
            2,
            (0..m, 0..k)
                .prop_map(|(map, key)| Remove { map, key })
                .boxed(),
        ),
        (
            1,
            (0..m, 0..k, prop::option::of(0..v))
                .prop_map(|(map, key, value)| RemoveIfPresent { map, key, value })
                .boxed(),
        ),
        (
            2,
            (0..m, 0..k, 0..v)
                .prop_map(|(map, key, value)| Replace { map, key, value })
                .boxed(),
        ),
        (
            2,
            (0..m, 0..k, 0..v, ttl())
                .prop_map(|(map, key, value, ttl)| ReplaceTtl {
                    map,
                    key,
                    value,
                    ttl,
                })
                .boxed(),
        ),
        (
            1,
            (0..m, 0..k, prop::option::of(0..v), 0..v)
                .prop_map(|(map, key, old, new)| ReplaceIfPresent { map, key, old, new })
                .boxed(),
        ),
        (
            1,
            (0..m, 0..k, prop::option::of(0..v), 0..v, ttl())
                .prop_map(|(map, key, old, new, ttl)| ReplaceIfPresentTtl {
                    map,
                    key,
                    old,
                    new,
                    ttl,
                })
                .boxed(),
        ),
        (1, (0..m).prop_map(|map| Clear { map }).boxed()),
        (
            1,
            (0..m, 0..k).prop_map(|(map, key)| Get { map, key }).boxed(),
        ),
        (
            2,
            (0..c, delta())
                .prop_map(|(counter, delta)| AddAndGet { counter, delta })
                .boxed(),
        ),
        (
            2,
            (0..c, delta())
                .prop_map(|(counter, delta)| GetAndAdd { counter, delta })
                .boxed(),
        ),
        (
            2,
            (0..c, prop::option::weighted(0.5, delta()), delta())
                .prop_map(|(counter, expected, value)| Cas {
                    counter,
                    expected,
                    value,
                })
                .boxed(),
        ),
        (
            1,
            (0..2usize, 0..k, 0..v)
                .prop_map(|(map, key, value)| SyncPut { map, key, value })
                .boxed(),
        ),
        (
            1,
            (0..2usize, 0..k)
                .prop_map(|(map, key)| SyncRemove { map, key })
                .boxed(),
        ),
        (
            1,
            (0..SETS.len(), 0..v)
                .prop_map(|(set, value)| SetAdd { set, value })
                .boxed(),
        ),
        (
            1,
            (0..SETS.len(), 0..v)
                .prop_map(|(set, value)| SetRemove { set, value })
                .boxed(),
        ),
    ]);
    Union::new_weighted(arms)
}

/// Sequences of any commands.
fn steps(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Step>> {
    steps_of(cmd(), len, 0.25)
}

/// Sequences of membership, lock and expire commands that often land exactly on deadlines.
fn lock_steps(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Step>> {
    steps_of(Union::new_weighted(lock_arms(true)), len, 0.5)
}

fn steps_of(
    cmd: impl Strategy<Value = Cmd>,
    len: std::ops::Range<usize>,
    to_deadline: f64,
) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (
            cmd,
            0..NODES.len(),
            dt(),
            prop::option::weighted(to_deadline, 0..2usize),
        )
            .prop_map(|(cmd, origin, dt_ms, to_deadline)| Step {
                cmd,
                origin,
                dt_ms,
                to_deadline,
            }),
        len,
    )
}

/// A command with the context it is applied under.
#[derive(Debug, Clone)]
struct Concrete {
    msg: Message,
    index: u64,
    now_ms: u64,
    origin: &'static str,
    request_id: u32,
}

impl Concrete {
    fn ctx(&self) -> ApplyContext<'static> {
        ApplyContext {
            index: self.index,
            now_ms: self.now_ms,
            origin: self.origin,
            request_id: self.request_id,
        }
    }
}

/// A concrete command and the model's prediction of its outcome.
#[derive(Debug, Clone)]
struct Planned {
    cmd: Concrete,
    expected: Applied,
}

/// The log position and leader time of the next command.
#[derive(Debug, Clone, Copy)]
struct Clock {
    index: u64,
    now_ms: u64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            index: 0,
            now_ms: START_MS,
        }
    }
}

/// Turns steps into concrete commands (index +1, time +dt, request id = index), running them
/// through `model` so each carries the model's expected outcome.
fn plan(steps: &[Step], model: &mut Model, clock: &mut Clock) -> Vec<Planned> {
    steps
        .iter()
        .map(|step| {
            clock.index += 1;
            clock.now_ms = step
                .to_deadline
                .and_then(|n| model.upcoming_deadline(clock.now_ms, n))
                .unwrap_or(clock.now_ms + step.dt_ms);
            let cmd = model.resolve(step, *clock);
            let expected = model.apply(&cmd);
            Planned { cmd, expected }
        })
        .collect()
}

fn s(v: &[u8]) -> Vec<u8> {
    v.to_vec()
}

// ---------------------------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
struct MHolder {
    node: String,
    request_id: u32,
    token: u64,
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
struct Model {
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
    fn upcoming_deadline(&self, now: u64, n: usize) -> Option<u64> {
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

    fn holder(&self, lock: &str) -> Option<&MHolder> {
        self.locks.get(lock).map(|l| &l.holder)
    }

    /// Picks the message and context for a step.
    fn resolve(&self, step: &Step, clock: Clock) -> Concrete {
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
                let acquire_request_id = match queue {
                    Some(q) if !q.is_empty() => {
                        let w = &q[pick % q.len()];
                        if own {
                            origin = NODES
                                .iter()
                                .find(|n| **n == w.node)
                                .expect("a node of the universe");
                        }
                        w.request_id
                    }
                    _ => (clock.index as u32).wrapping_sub(pick as u32 + 1),
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

    /// Hands a freed lock to the first waiter whose deadline has not passed, or drops it.
    fn grant_next(&mut self, name: &str, index: u64, now: u64, events: &mut Vec<Event>) {
        let lock = self.locks.get_mut(name).expect("a held lock");
        while let Some(w) = lock.queue.pop_front() {
            if w.deadline.is_some_and(|d| d <= now) {
                events.push(Event::LockWaitExpired {
                    lock_name: name.to_owned(),
                    node_id: w.node,
                    request_id: w.request_id,
                });
                continue;
            }
            let token = Self::next_token(&mut self.last_token, index);
            events.push(Event::LockGranted {
                lock_name: name.to_owned(),
                node_id: w.node.clone(),
                request_id: w.request_id,
                fencing_token: token,
            });
            lock.holder = MHolder {
                node: w.node,
                request_id: w.request_id,
                token,
            };
            return;
        }
        self.locks.remove(name);
    }

    fn acquire(&mut self, name: String, c: &Concrete, wait: Option<Option<u64>>) -> (bool, u64) {
        match self.locks.get_mut(&name) {
            None => {
                let token = Self::next_token(&mut self.last_token, c.index);
                let holder = MHolder {
                    node: c.origin.to_owned(),
                    request_id: c.request_id,
                    token,
                };
                self.locks.insert(
                    name,
                    MLock {
                        holder,
                        queue: VecDeque::new(),
                    },
                );
                (true, token)
            }
            Some(lock) => {
                if let Some(deadline) = wait {
                    lock.queue.push_back(MWaiter {
                        node: c.origin.to_owned(),
                        request_id: c.request_id,
                        deadline,
                    });
                }
                (false, 0)
            }
        }
    }

    fn map_mut(&mut self, name: &str) -> &mut BTreeMap<Vec<u8>, MEntry> {
        self.maps.entry(name.to_owned()).or_default()
    }

    /// The expected outcome of applying `c`; updates the model.
    fn apply(&mut self, c: &Concrete) -> Applied {
        use Message::*;
        let now = c.now_ms;
        let deadline = |ttl: u64| Some(now.saturating_add(ttl));
        let mut events = Vec::new();
        if is_read_only(&c.msg) {
            return Applied {
                response: self.query(&c.msg, now),
                events,
            };
        }
        let response =
            match c.msg.clone() {
                JoinRequest { node_id } => {
                    if !self.is_member(&node_id) {
                        events.push(Event::NodeAdded {
                            node_id: node_id.clone(),
                        });
                        self.members.push((node_id, None));
                    }
                    JoinResponse {
                        members: self.member_ids(),
                    }
                }
                LeaveRequest { node_id } => {
                    let before = self.members.len();
                    self.members.retain(|(n, _)| *n != node_id);
                    let was_member = self.members.len() != before;
                    for (address, list) in self.registrations.iter_mut() {
                        let before = list.len();
                        list.retain(|r| r.node_id != node_id);
                        if list.len() != before {
                            events.push(Event::RegistrationsChanged {
                                address: address.clone(),
                                registrations: list.clone(),
                            });
                        }
                    }
                    self.registrations.retain(|_, list| !list.is_empty());
                    let names: Vec<String> = self.locks.keys().cloned().collect();
                    for name in names {
                        let lock = self.locks.get_mut(&name).expect("listed");
                        lock.queue.retain(|w| w.node != node_id);
                        if lock.holder.node == node_id {
                            self.grant_next(&name, c.index, now, &mut events);
                        }
                    }
                    if was_member {
                        events.push(Event::NodeLeft { node_id });
                    }
                    LeaveResponse { was_member }
                }
                SetNodeInfoRequest { node_id, info } => {
                    match self.members.iter_mut().find(|(n, _)| *n == node_id) {
                        Some(m) => {
                            m.1 = Some(info);
                            SetNodeInfoResponse {}
                        }
                        None => Message::error(
                            error_code::NOT_A_MEMBER,
                            format!("Not a member of the cluster: {node_id}"),
                        ),
                    }
                }
                AddRegistrationRequest {
                    address,
                    registration,
                } => {
                    if !self.is_member(&registration.node_id) {
                        Message::error(
                            error_code::NOT_A_MEMBER,
                            format!("Not a member of the cluster: {}", registration.node_id),
                        )
                    } else {
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
                }
                RemoveRegistrationRequest {
                    address,
                    registration,
                } => {
                    let mut removed = false;
                    let mut remaining = Vec::new();
                    if let Some(list) = self.registrations.get_mut(&address) {
                        let before = list.len();
                        list.retain(|r| *r != registration);
                        removed = list.len() != before;
                        remaining = list.clone();
                        if list.is_empty() {
                            self.registrations.remove(&address);
                        }
                    }
                    if removed {
                        events.push(Event::RegistrationsChanged {
                            address,
                            registrations: remaining,
                        });
                    }
                    RemoveRegistrationResponse { removed }
                }
                MapPutRequest {
                    map_name,
                    key,
                    value,
                } => {
                    self.map_mut(&map_name).insert(key, (value, None));
                    MapPutResponse {}
                }
                MapPutTtlRequest {
                    map_name,
                    key,
                    value,
                    ttl_ms,
                } => {
                    self.map_mut(&map_name)
                        .insert(key, (value, deadline(ttl_ms)));
                    MapPutTtlResponse {}
                }
                MapPutIfAbsentRequest {
                    map_name,
                    key,
                    value,
                } => {
                    let previous = self.live(&map_name, &key, now);
                    if previous.is_none() {
                        self.map_mut(&map_name).insert(key, (value, None));
                    }
                    MapPutIfAbsentResponse { previous }
                }
                MapPutIfAbsentTtlRequest {
                    map_name,
                    key,
                    value,
                    ttl_ms,
                } => {
                    let previous = self.live(&map_name, &key, now);
                    if previous.is_none() {
                        self.map_mut(&map_name)
                            .insert(key, (value, deadline(ttl_ms)));
                    }
                    MapPutIfAbsentTtlResponse { previous }
                }
                MapRemoveRequest { map_name, key } => {
                    let previous = self.live(&map_name, &key, now);
                    if let Some(m) = self.maps.get_mut(&map_name) {
                        m.remove(&key);
                    }
                    MapRemoveResponse { previous }
                }
                MapRemoveIfPresentRequest {
                    map_name,
                    key,
                    value,
                } => {
                    let removed = self.live(&map_name, &key, now) == Some(value);
                    if removed {
                        self.map_mut(&map_name).remove(&key);
                    }
                    MapRemoveIfPresentResponse { removed }
                }
                MapReplaceRequest {
                    map_name,
                    key,
                    value,
                } => {
                    let previous = self.live(&map_name, &key, now);
                    if previous.is_some() {
                        self.map_mut(&map_name).insert(key, (value, None));
                    }
                    MapReplaceResponse { previous }
                }
                MapReplaceTtlRequest {
                    map_name,
                    key,
                    value,
                    ttl_ms,
                } => {
                    let previous = self.live(&map_name, &key, now);
                    if previous.is_some() {
                        self.map_mut(&map_name)
                            .insert(key, (value, deadline(ttl_ms)));
                    }
                    MapReplaceTtlResponse { previous }
                }
                MapReplaceIfPresentRequest {
                    map_name,
                    key,
                    old_value,
                    new_value,
                } => {
                    let replaced = self.live(&map_name, &key, now) == Some(old_value);
                    if replaced {
                        self.map_mut(&map_name).insert(key, (new_value, None));
                    }
                    MapReplaceIfPresentResponse { replaced }
                }
                MapReplaceIfPresentTtlRequest {
                    map_name,
                    key,
                    old_value,
                    new_value,
                    ttl_ms,
                } => {
                    let replaced = self.live(&map_name, &key, now) == Some(old_value);
                    if replaced {
                        self.map_mut(&map_name)
                            .insert(key, (new_value, deadline(ttl_ms)));
                    }
                    MapReplaceIfPresentTtlResponse { replaced }
                }
                MapClearRequest { map_name } => {
                    if let Some(m) = self.maps.get_mut(&map_name) {
                        m.clear();
                    }
                    MapClearResponse {}
                }
                ExpireRequest {} => {
                    let mut expired_entries = 0;
                    for m in self.maps.values_mut() {
                        let before = m.len();
                        m.retain(|_, (_, d)| is_live(*d, now));
                        expired_entries += before - m.len();
                    }
                    let mut expired: Vec<(u64, String, String, u32)> = Vec::new();
                    for (name, lock) in self.locks.iter_mut() {
                        lock.queue.retain(|w| match w.deadline {
                            Some(d) if d <= now => {
                                expired.push((d, name.clone(), w.node.clone(), w.request_id));
                                false
                            }
                            _ => true,
                        });
                    }
                    expired.sort();
                    let expired_waits = expired.len() as u64;
                    events.extend(expired.into_iter().map(
                        |(_, lock_name, node_id, request_id)| Event::LockWaitExpired {
                            lock_name,
                            node_id,
                            request_id,
                        },
                    ));
                    ExpireResponse {
                        expired_entries: expired_entries as u64,
                        expired_waits,
                    }
                }
                CounterAddAndGetRequest {
                    counter_name,
                    delta,
                } => {
                    let v = self.counters.entry(counter_name).or_insert(0);
                    *v = v.wrapping_add(delta);
                    CounterAddAndGetResponse { value: *v }
                }
                CounterGetAndAddRequest {
                    counter_name,
                    delta,
                } => {
                    let v = self.counters.entry(counter_name).or_insert(0);
                    let old = *v;
                    *v = old.wrapping_add(delta);
                    CounterGetAndAddResponse { value: old }
                }
                CounterCompareAndSetRequest {
                    counter_name,
                    expected,
                    value,
                } => {
                    let v = self.counters.entry(counter_name).or_insert(0);
                    let swapped = *v == expected;
                    if swapped {
                        *v = value;
                    }
                    CounterCompareAndSetResponse { swapped }
                }
                LockAcquireRequest { lock_name } => {
                    let (granted, fencing_token) = self.acquire(lock_name, c, Some(None));
                    LockAcquireResponse {
                        granted,
                        fencing_token,
                    }
                }
                LockAcquireTimeoutRequest {
                    lock_name,
                    timeout_ms,
                } => {
                    let wait = (timeout_ms > 0).then(|| deadline(timeout_ms));
                    let (granted, fencing_token) = self.acquire(lock_name, c, wait);
                    LockAcquireTimeoutResponse {
                        granted,
                        fencing_token,
                    }
                }
                LockReleaseRequest { lock_name } => {
                    let released = self.holder(&lock_name).is_some_and(|h| h.node == c.origin);
                    if released {
                        self.grant_next(&lock_name, c.index, now, &mut events);
                    }
                    LockReleaseResponse { released }
                }
                LockCancelRequest {
                    lock_name,
                    acquire_request_id,
                } => {
                    let mut cancelled = false;
                    if let Some(lock) = self.locks.get_mut(&lock_name) {
                        if let Some(pos) = lock
                            .queue
                            .iter()
                            .position(|w| w.node == c.origin && w.request_id == acquire_request_id)
                        {
                            lock.queue.remove(pos);
                            cancelled = true;
                        }
                    }
                    LockCancelResponse { cancelled }
                }
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
                SetAddRequest { set_name, value } => SetAddResponse {
                    added: self.sets.entry(set_name).or_default().insert(value),
                },
                SetRemoveRequest { set_name, value } => SetRemoveResponse {
                    removed: self
                        .sets
                        .get_mut(&set_name)
                        .is_some_and(|s| s.remove(&value)),
                },
                other => panic!("the strategies do not produce {}", other.name()),
            };
        Applied { response, events }
    }

    /// The expected answer to a read-only command at `now`.
    fn query(&self, q: &Message, now: u64) -> Message {
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

// ---------------------------------------------------------------------------------------------
// Queries and helpers
// ---------------------------------------------------------------------------------------------

/// Every read-only query over the universe whose answer depends on the time (async maps).
fn timed_queries() -> Vec<Message> {
    let mut out = Vec::new();
    for map in MAPS {
        for key in KEYS {
            out.push(Message::MapGetRequest {
                map_name: map.to_owned(),
                key: s(key),
            });
        }
        out.push(Message::MapSizeRequest {
            map_name: map.to_owned(),
        });
        out.push(Message::MapKeysRequest {
            map_name: map.to_owned(),
        });
        out.push(Message::MapValuesRequest {
            map_name: map.to_owned(),
        });
        out.push(Message::MapEntriesRequest {
            map_name: map.to_owned(),
        });
    }
    out
}

/// Every other read-only query over the universe.
fn untimed_queries() -> Vec<Message> {
    let mut out = vec![Message::NodeListRequest {}];
    for node in NODES {
        out.push(Message::GetNodeInfoRequest {
            node_id: node.to_owned(),
        });
    }
    for address in ADDRESSES {
        out.push(Message::GetRegistrationsRequest {
            address: address.to_owned(),
        });
    }
    for counter in COUNTERS {
        out.push(Message::CounterGetRequest {
            counter_name: counter.to_owned(),
        });
    }
    for set in SETS {
        for value in VALUES {
            out.push(Message::SetContainsRequest {
                set_name: set.to_owned(),
                value: s(value),
            });
        }
        out.push(Message::SetSizeRequest {
            set_name: set.to_owned(),
        });
        out.push(Message::SetMembersRequest {
            set_name: set.to_owned(),
        });
    }
    for map in SYNC_MAPS {
        for key in KEYS {
            out.push(Message::SyncMapGetRequest {
                map_name: map.to_owned(),
                key: s(key),
            });
            out.push(Message::SyncMapContainsRequest {
                map_name: map.to_owned(),
                key: s(key),
            });
        }
        out.push(Message::SyncMapEntriesRequest {
            map_name: map.to_owned(),
        });
    }
    out
}

/// The times at which time-dependent queries are asked after a command applied at `now`,
/// including the deadlines' boundaries one TTL step ahead and a time past every TTL.
fn query_times(now: u64) -> [u64; 4] {
    [now, now + 1, now + 37, now + BEYOND_ALL_TTLS_MS]
}

/// Lock holders as (node, request id, fencing token), one per lock of the universe.
fn holders(sm: &StateMachine) -> Vec<Option<(String, u32, u64)>> {
    LOCKS
        .iter()
        .map(|l| {
            sm.lock_holder(l)
                .map(|h| (h.node_id.clone(), h.request_id, h.fencing_token))
        })
        .collect()
}

/// Everything observable from outside: answers to every query at several times, lock holders,
/// the member list and the last applied index.
fn observe(sm: &StateMachine, now: u64) -> Vec<String> {
    let mut out = vec![
        format!("last_applied {}", sm.last_applied()),
        format!("{:?}", sm.members()),
    ];
    out.extend(holders(sm).iter().map(|h| format!("{h:?}")));
    out.extend(
        untimed_queries()
            .iter()
            .map(|q| format!("{:?}", sm.query(q, now))),
    );
    for t in query_times(now) {
        out.extend(
            timed_queries()
                .iter()
                .map(|q| format!("{t}: {:?}", sm.query(q, t))),
        );
    }
    out
}

fn apply_all(sm: &mut StateMachine, plan: &[Planned]) {
    for p in plan {
        sm.apply(p.cmd.msg.clone(), &p.cmd.ctx());
    }
}

/// A state machine after a random run, and its time at the end.
fn run(steps: &[Step]) -> (StateMachine, u64) {
    let mut clock = Clock::default();
    let planned = plan(steps, &mut Model::default(), &mut clock);
    let mut sm = StateMachine::new();
    apply_all(&mut sm, &planned);
    (sm, clock.now_ms)
}

/// Applies `steps` to a state machine and to the reference model, comparing after each step
/// (see `agrees_with_the_reference_model`).
fn check_against_model(steps: &[Step]) -> Result<(), TestCaseError> {
    let planned = plan(steps, &mut Model::default(), &mut Clock::default());
    // Replay the model alongside, to compare its state after each step.
    let mut model = Model::default();
    let mut sm = StateMachine::new();
    let timed = timed_queries();
    let untimed = untimed_queries();
    let mut last_token_of: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_token = 0u64;
    for (i, p) in planned.iter().enumerate() {
        let c = &p.cmd;
        let expected = model.apply(c);
        prop_assert_eq!(&expected, &p.expected);
        let got = sm.apply(c.msg.clone(), &c.ctx());
        prop_assert_eq!(&got, &expected, "step {}: {:?}", i, c);

        // Fencing tokens of this command's grants, in grant order.
        let mut grants: Vec<(String, u64)> = Vec::new();
        match &got.response {
            Message::LockAcquireResponse {
                granted: true,
                fencing_token,
            }
            | Message::LockAcquireTimeoutResponse {
                granted: true,
                fencing_token,
            } => {
                let (Message::LockAcquireRequest { lock_name }
                | Message::LockAcquireTimeoutRequest { lock_name, .. }) = &c.msg
                else {
                    unreachable!()
                };
                grants.push((lock_name.clone(), *fencing_token));
            }
            _ => {}
        }
        for e in &got.events {
            if let Event::LockGranted {
                lock_name,
                fencing_token,
                ..
            } = e
            {
                grants.push((lock_name.clone(), *fencing_token));
            }
        }
        // Tokens strictly increase across all grants, also between grants made by one command
        // (see `fencing_tokens_are_unique_across_locks_freed_by_one_leave`), and are at least
        // the granting command's index.
        for (lock, token) in &grants {
            prop_assert!(
                *token >= c.index,
                "step {}: token {} below its command's index {}",
                i,
                token,
                c.index
            );
            prop_assert!(
                *token > last_token,
                "step {}: token {} after {}",
                i,
                token,
                last_token
            );
            if let Some(prev) = last_token_of.insert(lock.clone(), *token) {
                prop_assert!(
                    *token > prev,
                    "step {}: {} token {} after {}",
                    i,
                    lock,
                    token,
                    prev
                );
            }
        }
        for (_, token) in &grants {
            prop_assert!(
                *token > last_token,
                "step {}: token {} after {}",
                i,
                token,
                last_token
            );
            last_token = *token;
        }

        for (l, h) in LOCKS.iter().zip(holders(&sm)) {
            let m = model
                .holder(l)
                .map(|h| (h.node.clone(), h.request_id, h.token));
            prop_assert_eq!(h, m, "step {}: holder of {}", i, l);
        }
        for q in &untimed {
            prop_assert_eq!(
                sm.query(q, c.now_ms),
                model.query(q, c.now_ms),
                "step {}",
                i
            );
        }
        for t in query_times(c.now_ms) {
            for q in &timed {
                prop_assert_eq!(sm.query(q, t), model.query(q, t), "step {} at {}", i, t);
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every prefix of a random command sequence leaves the state machine's internal invariants
    /// intact (unique members, no empty registration lists, lock table and deadline index in
    /// step, no free lock kept).
    #[test]
    fn invariants_hold_after_every_command(steps in steps(1..120)) {
        let planned = plan(&steps, &mut Model::default(), &mut Clock::default());
        let mut sm = StateMachine::new();
        for (i, p) in planned.iter().enumerate() {
            sm.apply(p.cmd.msg.clone(), &p.cmd.ctx());
            if let Err(e) = sm.check_invariants() {
                return Err(TestCaseError::fail(format!("after step {i} {:?}: {e}", p.cmd)));
            }
        }
    }

    /// The state machine agrees with the reference model on every response and event, on the
    /// holder of every lock, and on every map, counter, set, sync map, member and registration
    /// query (maps at several times, so TTL boundaries are read as absent at the deadline).
    /// Locks: one holder at a time, queued waiters granted in FIFO order skipping expired,
    /// cancelled and departed ones (the model's queue); a grant's fencing token is its command's
    /// index, strictly increasing per lock and from command to command. Counters: wrapping sums
    /// and CAS results.
    #[test]
    fn agrees_with_the_reference_model(steps in steps(1..120)) {
        check_against_model(&steps)?;
    }

    /// The same comparison over lock-only runs (joins, leaves, acquires with and without
    /// timeouts, releases, cancels, expires) in which commands often land exactly on a wait's
    /// deadline: a waiter whose deadline is at or before the command's time is expired, never
    /// granted, whether the lock frees up by a release, a leave or an expire.
    #[test]
    fn lock_runs_agree_with_the_reference_model(steps in lock_steps(1..80)) {
        check_against_model(&steps)?;
    }

    /// Replicas are deterministic: two state machines applying the same commands return the same
    /// outcomes and produce identical snapshot bytes. A snapshot taken mid-run restores into a
    /// fresh state machine with identical snapshot bytes and identical answers to every query,
    /// and the original and the restored copy stay identical (outcomes and snapshots) while both
    /// apply the rest of the run.
    #[test]
    fn snapshots_are_deterministic_and_restore_exactly(
        first in steps(0..80),
        rest in steps(0..60),
    ) {
        let mut model = Model::default();
        let mut clock = Clock::default();
        let first = plan(&first, &mut model, &mut clock);
        let rest = plan(&rest, &mut model, &mut clock);

        let mut a = StateMachine::new();
        let mut b = StateMachine::new();
        for p in &first {
            let ra = a.apply(p.cmd.msg.clone(), &p.cmd.ctx());
            let rb = b.apply(p.cmd.msg.clone(), &p.cmd.ctx());
            prop_assert_eq!(ra, rb);
        }
        let snapshot = a.create_snapshot();
        prop_assert_eq!(&snapshot, &b.create_snapshot());

        let mut restored = StateMachine::new();
        restored.restore_from_snapshot(&snapshot).unwrap();
        prop_assert_eq!(&restored.create_snapshot(), &snapshot);
        prop_assert!(restored.check_invariants().is_ok());
        prop_assert_eq!(observe(&restored, clock.now_ms), observe(&a, clock.now_ms));
        let direct = StateMachine::from_snapshot(&snapshot).unwrap();
        prop_assert_eq!(&direct.create_snapshot(), &snapshot);

        for p in &rest {
            let ra = a.apply(p.cmd.msg.clone(), &p.cmd.ctx());
            let rr = restored.apply(p.cmd.msg.clone(), &p.cmd.ctx());
            prop_assert_eq!(ra, rr, "{:?}", p.cmd);
            prop_assert_eq!(a.create_snapshot(), restored.create_snapshot(), "{:?}", p.cmd);
        }
        prop_assert_eq!(observe(&restored, clock.now_ms), observe(&a, clock.now_ms));
    }

    /// Replicas apply log entries in place (`apply_once_ref`, borrowing the entry's bytes); that
    /// gives the same outcomes, the same snapshot bytes and the same handling of repeats as
    /// applying the owned commands (`apply_once`).
    #[test]
    fn borrowed_and_owned_applies_agree(steps in steps(1..120)) {
        let planned = plan(&steps, &mut Model::default(), &mut Clock::default());
        let mut owned = StateMachine::new();
        let mut borrowed = StateMachine::new();
        for p in &planned {
            let ctx = p.cmd.ctx();
            let mut payload = Vec::new();
            p.cmd.msg.encode_payload(&mut payload);
            let kind = p.cmd.msg.get_message_kind();
            // The second time is a repeat (skipped, unless the command removed the origin's
            // session: a leave).
            for _ in 0..2 {
                let view = MessageRef::decode_payload(kind, &payload).unwrap();
                let a = owned.apply_once(p.cmd.msg.clone(), &ctx, ctx.request_id);
                let b = borrowed.apply_once_ref(view, &ctx, ctx.request_id);
                prop_assert_eq!(a, b, "{:?}", p.cmd);
            }
            prop_assert_eq!(owned.create_snapshot(), borrowed.create_snapshot(), "{:?}", p.cmd);
        }
    }

    /// A snapshot that is truncated, has one byte changed anywhere, or carries another magic or
    /// format version is refused, and the state it was offered to stays exactly as it was; the
    /// intact snapshot is then accepted.
    #[test]
    fn corrupt_snapshots_are_refused_and_change_nothing(
        victim in steps(0..40),
        source in steps(1..40),
        cut in any::<prop::sample::Index>(),
        position in any::<prop::sample::Index>(),
        xor in 1u8..=255,
        magic in any::<[u8; 4]>(),
        version in any::<u16>(),
    ) {
        let (mut sm, _) = run(&victim);
        let before = sm.create_snapshot();
        let good = run(&source).0.create_snapshot();

        let truncated = &good[..cut.index(good.len())];
        prop_assert!(sm.restore_from_snapshot(truncated).is_err());
        prop_assert_eq!(&sm.create_snapshot(), &before);

        let mut flipped = good.clone();
        flipped[position.index(good.len())] ^= xor;
        prop_assert!(sm.restore_from_snapshot(&flipped).is_err());
        prop_assert_eq!(&sm.create_snapshot(), &before);

        if magic != good[0..4] {
            let mut bad = good.clone();
            bad[0..4].copy_from_slice(&magic);
            prop_assert_eq!(sm.restore_from_snapshot(&bad), Err(SnapshotError::NotASnapshot));
            prop_assert_eq!(&sm.create_snapshot(), &before);
        }
        if version.to_le_bytes() != good[4..6] {
            let mut bad = good.clone();
            bad[4..6].copy_from_slice(&version.to_le_bytes());
            prop_assert_eq!(
                sm.restore_from_snapshot(&bad),
                Err(SnapshotError::UnsupportedVersion(version))
            );
            prop_assert_eq!(&sm.create_snapshot(), &before);
        }

        sm.restore_from_snapshot(&good).unwrap();
        prop_assert_eq!(sm.create_snapshot(), good);
    }

    /// Restoring never panics, whatever the bytes: random bytes, random bodies behind a valid
    /// preamble and checksum, and valid snapshots whose body was cut, extended or changed and
    /// then re-signed so the decoder gets past the checksum. A refused restore changes nothing.
    #[test]
    fn restoring_arbitrary_bytes_never_panics(
        victim in steps(0..30),
        source in steps(0..30),
        random in prop::collection::vec(any::<u8>(), 0..200),
        cut in any::<prop::sample::Index>(),
        position in any::<prop::sample::Index>(),
        xor in any::<u8>(),
        noise in prop::collection::vec(any::<u8>(), 0..12),
    ) {
        let (mut sm, _) = run(&victim);
        let before = sm.create_snapshot();
        let good = run(&source).0.create_snapshot();
        let sign = |body: &[u8]| {
            let mut out = good[0..6].to_vec();
            out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
            out.extend_from_slice(body);
            out
        };

        let mut mutated_body = good[10..].to_vec();
        mutated_body.truncate(cut.index(mutated_body.len() + 1));
        if !mutated_body.is_empty() {
            let i = position.index(mutated_body.len());
            mutated_body[i] ^= xor;
        }
        mutated_body.extend_from_slice(&noise);

        for candidate in [random.clone(), sign(&random), sign(&mutated_body)] {
            let mut target = sm.clone();
            match target.restore_from_snapshot(&candidate) {
                Ok(()) => {
                    // Whatever decoded is a state the machine can keep working with.
                    let _ = target.create_snapshot();
                }
                Err(_) => prop_assert_eq!(&target.create_snapshot(), &before),
            }
        }
        prop_assert!(sm.restore_from_snapshot(&random).is_err());
        prop_assert_eq!(sm.create_snapshot(), before);
    }
}

/// Known deviation from the lock table's documented guarantee ("tokens grow strictly with every
/// grant of the cluster"): when a node holding two locks leaves, both locks are handed to their
/// next waiters by the same command, so both grants carry the same fencing token (its index).
#[test]
fn fencing_tokens_are_unique_across_locks_freed_by_one_leave() {
    let mut sm = StateMachine::new();
    let commands = [
        (
            "node-a",
            Message::LockAcquireRequest {
                lock_name: "lock-1".into(),
            },
        ),
        (
            "node-b",
            Message::LockAcquireRequest {
                lock_name: "lock-1".into(),
            },
        ),
        (
            "node-a",
            Message::LockAcquireRequest {
                lock_name: "lock-2".into(),
            },
        ),
        (
            "node-b",
            Message::LockAcquireRequest {
                lock_name: "lock-2".into(),
            },
        ),
        (
            "node-a",
            Message::LeaveRequest {
                node_id: "node-a".into(),
            },
        ),
    ];
    let mut tokens = Vec::new();
    for (i, (origin, msg)) in commands.into_iter().enumerate() {
        let index = i as u64 + 1;
        let ctx = ApplyContext {
            index,
            now_ms: START_MS,
            origin,
            request_id: index as u32,
        };
        for e in sm.apply(msg, &ctx).events {
            if let Event::LockGranted { fencing_token, .. } = e {
                tokens.push(fencing_token);
            }
        }
    }
    assert_eq!(tokens.len(), 2, "both locks go to node-b");
    assert!(tokens[0] < tokens[1], "fencing tokens {tokens:?} repeat");
}
