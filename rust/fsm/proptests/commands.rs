//! The commands of the property tests: [`Cmd`] over the universe's indexes, the strategies that
//! draw them (any command, or lock-only runs that often land on deadlines), and [`plan`], which
//! concretizes steps through the reference model into messages with their context and expected
//! outcome.

use super::*;

/// A command over the universe, by index. Turned into a [`Message`] by [`Model::resolve`].
#[derive(Debug, Clone)]
pub(super) enum Cmd {
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
    /// Cancels the holder's acquisition (every third `pick` while the lock is held), else the
    /// `pick`-th queued waiter (from its own node when `own`), or a stale request id when nobody
    /// waits.
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
pub(super) struct Step {
    pub(super) cmd: Cmd,
    pub(super) origin: usize,
    pub(super) dt_ms: u64,
    /// Instead of `dt_ms`, advance exactly to the `n`-th next pending deadline (a lock wait or
    /// a map entry) if it is less than 50 ms away, so commands land on deadlines exactly.
    pub(super) to_deadline: Option<usize>,
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
pub(super) fn steps(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Step>> {
    steps_of(cmd(), len, 0.25)
}

/// Sequences of membership, lock and expire commands that often land exactly on deadlines.
pub(super) fn lock_steps(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Step>> {
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
pub(super) struct Concrete {
    pub(super) msg: Message,
    pub(super) index: u64,
    pub(super) now_ms: u64,
    pub(super) origin: &'static str,
    pub(super) request_id: u32,
}

impl Concrete {
    pub(super) fn ctx(&self) -> ApplyContext<'static> {
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
pub(super) struct Planned {
    pub(super) cmd: Concrete,
    pub(super) expected: Applied,
}

/// The log position and leader time of the next command.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    pub(super) index: u64,
    pub(super) now_ms: u64,
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
pub(super) fn plan(steps: &[Step], model: &mut Model, clock: &mut Clock) -> Vec<Planned> {
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

pub(super) fn s(v: &[u8]) -> Vec<u8> {
    v.to_vec()
}
