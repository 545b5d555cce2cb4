//! The client workload: plain and lock sessions, each with at most one outstanding operation,
//! and how observations move sessions on (`workload/locks.rs` moves
//! the lock sessions).

use std::collections::BTreeMap;

use vertx_cluster::wire::Message;

use crate::history::{Hold, Op, OpKind, Outcome};
use crate::rng::Rng;
use crate::world::{Obs, Process, Sim};
use crate::{
    COUNTERS, FINAL, KEYS, LOCKS, LOCK_GIVE_UP_TICKS, LOCK_SESSIONS_PER_LOCK, LOCK_TIMEOUTS_MS,
    PLAIN_SESSIONS, TTLS_MS,
};

mod locks;

use locks::LockPhase;

enum Session {
    Plain {
        busy: Option<usize>,
        next_tick: u64,
    },
    Lock {
        lock: &'static str,
        phase: LockPhase,
    },
}

pub(crate) struct Workload {
    rng: Rng,
    pub(crate) ops: Vec<Op>,
    pending: BTreeMap<(String, u32), usize>,
    sessions: Vec<Session>,
    pub(crate) holds: Vec<Hold>,
    /// Waits of sessions that ended without their lock (timed out, or dropped by a removal).
    pub(crate) expired: u64,
    next_value: u64,
    pub(crate) wind_down: bool,
    /// Where the final reads go.
    pub(crate) final_nodes: Vec<String>,
    pub(crate) anomalies: Vec<String>,
    /// Keys of the TTL map put so far, oldest first.
    pub(crate) ttl_keys: Vec<u64>,
    /// The process behind the observation being handled.
    observed: Process,
}

impl Workload {
    pub(crate) fn new(seed: u64) -> Workload {
        let mut sessions: Vec<Session> = (0..PLAIN_SESSIONS)
            .map(|_| Session::Plain {
                busy: None,
                next_tick: 0,
            })
            .collect();
        for lock in LOCKS {
            for _ in 0..LOCK_SESSIONS_PER_LOCK {
                sessions.push(Session::Lock {
                    lock,
                    phase: LockPhase::Idle { next_tick: 0 },
                });
            }
        }
        Workload {
            rng: Rng::new(seed, 4),
            ops: Vec::new(),
            pending: BTreeMap::new(),
            sessions,
            holds: Vec::new(),
            expired: 0,
            next_value: 1,
            wind_down: false,
            final_nodes: Vec::new(),
            anomalies: Vec::new(),
            ttl_keys: Vec::new(),
            observed: Process {
                incarnation: 0,
                node_id: String::new(),
            },
        }
    }

    fn invoke(&mut self, sim: &mut Sim, session: usize, node: &str, kind: OpKind) -> usize {
        sim.clock += 1;
        let inv = sim.clock;
        let ticket = sim.submit(node, kind.request()).expect("a live node");
        let idx = self.ops.len();
        self.ops.push(Op {
            session,
            node: node.to_owned(),
            ticket,
            kind,
            inv,
            inv_tick: sim.tick,
            comp_tick: None,
            comp: None,
            outcome: Outcome::Pending,
        });
        self.pending.insert((node.to_owned(), ticket), idx);
        idx
    }

    pub(crate) fn observe(&mut self, sim: &mut Sim) {
        for (clock, obs) in std::mem::take(&mut sim.obs) {
            match obs {
                Obs::Done {
                    node,
                    ticket,
                    response,
                    process,
                } => {
                    self.observed = process;
                    let Some(idx) = self.pending.remove(&(node, ticket)) else {
                        continue;
                    };
                    let op = &mut self.ops[idx];
                    op.comp = Some(clock);
                    op.comp_tick = Some(sim.tick);
                    op.outcome = match response {
                        Message::ErrorResponse { code, .. } => Outcome::Failed(code),
                        m => Outcome::Ok(m),
                    };
                    self.on_done(sim, idx, clock);
                }
                Obs::Granted {
                    node,
                    lock,
                    ticket,
                    token,
                    process,
                } => {
                    self.observed = process;
                    self.on_granted(sim, &node, &lock, ticket, token, clock)
                }
                Obs::Expired { node, lock, ticket } => self.on_expired(sim, &node, &lock, ticket),
                Obs::Crashed { node } => self.on_crash(&node, clock),
            }
        }
    }

    fn on_done(&mut self, sim: &Sim, idx: usize, clock: u64) {
        let tick = sim.tick;
        let op = self.ops[idx].clone();
        if !self.response_fits(&op) {
            self.anomalies
                .push(format!("unexpected answer: {}", op.describe(idx)));
        }
        match op.session {
            FINAL => {}
            s => {
                let next_tick = tick + self.rng.between(0, 3);
                match &mut self.sessions[s] {
                    Session::Plain { busy, next_tick: n } => {
                        if *busy == Some(idx) {
                            *busy = None;
                            *n = next_tick;
                        }
                    }
                    Session::Lock { lock, .. } => {
                        let lock = *lock;
                        self.lock_op_done(sim, s, lock, idx, &op, clock, next_tick);
                    }
                }
            }
        }
    }

    fn response_fits(&self, op: &Op) -> bool {
        let Outcome::Ok(m) = &op.outcome else {
            return true;
        };
        match op.kind {
            OpKind::Inc(_) => matches!(m, Message::CounterAddAndGetResponse { .. }),
            OpKind::CounterGet(_) => matches!(m, Message::CounterGetResponse { .. }),
            OpKind::Put(..) => matches!(m, Message::MapPutResponse {}),
            OpKind::PutTtl(..) => matches!(m, Message::MapPutTtlResponse {}),
            OpKind::GetTtl(id) => match m {
                Message::MapGetResponse { value } => value
                    .as_ref()
                    .is_none_or(|v| v.as_slice() == id.to_le_bytes()),
                _ => false,
            },
            OpKind::Get(_) => match m {
                Message::MapGetResponse { value } => value.as_ref().is_none_or(|v| v.len() == 8),
                _ => false,
            },
            OpKind::Acquire(_, None) => matches!(m, Message::LockAcquireResponse { .. }),
            OpKind::Acquire(_, Some(_)) => {
                matches!(m, Message::LockAcquireTimeoutResponse { .. })
            }
            OpKind::Release(_) => {
                matches!(m, Message::LockReleaseResponse { .. })
            }
        }
    }

    fn on_crash(&mut self, node: &str, clock: u64) {
        let lost: Vec<(String, u32)> = self
            .pending
            .keys()
            .filter(|(n, _)| n == node)
            .cloned()
            .collect();
        for key in lost {
            let idx = self.pending.remove(&key).expect("listed");
            self.ops[idx].outcome = Outcome::Lost;
        }
        for s in 0..self.sessions.len() {
            match &mut self.sessions[s] {
                Session::Plain { busy, .. } => {
                    if busy.is_some_and(|i| self.ops[i].node == node) {
                        *busy = None;
                    }
                }
                Session::Lock { phase, .. } => {
                    if phase.using().is_some_and(|(n, _)| n == node) {
                        if let LockPhase::Holding { hold, .. } = phase {
                            self.holds[*hold].end = Some(clock);
                        }
                        *phase = LockPhase::Idle { next_tick: 0 };
                    }
                }
            }
        }
    }

    fn plain_op(&mut self) -> OpKind {
        let roll = self.rng.below(100);
        let counter = COUNTERS[self.rng.below(COUNTERS.len() as u64) as usize];
        let key = self.rng.below(KEYS as u64) as usize;
        match roll {
            0..=34 => OpKind::Inc(counter),
            35..=49 => OpKind::CounterGet(counter),
            50..=69 => {
                self.next_value += 1;
                OpKind::Put(key, self.next_value)
            }
            70..=84 => OpKind::Get(key),
            85..=91 => {
                self.next_value += 1;
                let ttl = TTLS_MS[self.rng.below(TTLS_MS.len() as u64) as usize];
                self.ttl_keys.push(self.next_value);
                OpKind::PutTtl(self.next_value, ttl)
            }
            _ => match self.ttl_keys.len() {
                0 => OpKind::Get(key),
                n => {
                    let recent = self.rng.below(n.min(4) as u64) as usize;
                    OpKind::GetTtl(self.ttl_keys[n - 1 - recent])
                }
            },
        }
    }

    /// Starts new operations and moves lock sessions on.
    pub(crate) fn issue(&mut self, sim: &mut Sim) {
        let tick = sim.tick;
        let targets = sim.members();
        for s in 0..self.sessions.len() {
            match &self.sessions[s] {
                Session::Plain { busy, next_tick } => {
                    if busy.is_some() || *next_tick > tick || self.wind_down {
                        continue;
                    }
                    let Some(node) = self.rng.pick(&targets).cloned() else {
                        continue;
                    };
                    let kind = self.plain_op();
                    let idx = self.invoke(sim, s, &node, kind);
                    if let Session::Plain { busy, .. } = &mut self.sessions[s] {
                        *busy = Some(idx);
                    }
                }
                Session::Lock { lock, phase } => {
                    let lock = *lock;
                    let next = match phase {
                        LockPhase::Idle { next_tick } if !self.wind_down && *next_tick <= tick => {
                            let candidates: Vec<String> = targets
                                .iter()
                                .filter(|n| !self.in_use(n, lock, s))
                                .cloned()
                                .collect();
                            let Some(node) = self.rng.pick(&candidates).cloned() else {
                                continue;
                            };
                            // Half of them with a timeout, as Vert.x's `getLockWithTimeout`.
                            let timeout = (self.rng.below(2) == 0)
                                .then(|| LOCK_TIMEOUTS_MS[self.rng.below(4) as usize]);
                            let kind = OpKind::Acquire(lock, timeout);
                            let idx = self.invoke(sim, s, &node, kind);
                            let ticket = self.ops[idx].ticket;
                            LockPhase::Acquiring { node, ticket }
                        }
                        LockPhase::Queued {
                            node,
                            ticket,
                            since,
                        } if tick > since + LOCK_GIVE_UP_TICKS => {
                            // As a node's loop gives up a wait: the replica cancels it.
                            let (node, ticket) = (node.clone(), *ticket);
                            if locks::grant_unreported(sim, &node, lock, ticket) {
                                self.anomalies.push(format!(
                                    "s{s} gave up waiting for {lock} (ticket {ticket} on {node}), \
                                     which {node} shows granted to it: the grant was never reported"
                                ));
                            }
                            if sim.replica(&node).is_some() {
                                sim.abandon_lock_wait(&node, lock, ticket);
                            }
                            LockPhase::Idle { next_tick: tick }
                        }
                        LockPhase::Holding {
                            node,
                            ticket,
                            hold,
                            release_tick,
                            incarnation,
                        } if *release_tick <= tick || self.wind_down => {
                            let (node, ticket, hold) = (node.clone(), *ticket, *hold);
                            if sim.replica(&node).is_none() {
                                continue;
                            }
                            if incarnation_of(sim, &node) != *incarnation {
                                // Removed and admitted again since the grant: the lock was
                                // lost then. The session believed it held it until now.
                                sim.clock += 1;
                                self.holds[hold].end = Some(sim.clock);
                                if let Session::Lock { phase, .. } = &mut self.sessions[s] {
                                    *phase = LockPhase::Idle { next_tick: tick };
                                }
                                continue;
                            }
                            let idx = self.invoke(sim, s, &node, OpKind::Release(lock));
                            self.holds[hold].end = Some(self.ops[idx].inv);
                            LockPhase::Releasing {
                                node,
                                ticket,
                                op: idx,
                                hold,
                            }
                        }
                        _ => continue,
                    };
                    if let Session::Lock { phase, .. } = &mut self.sessions[s] {
                        *phase = next;
                    }
                }
            }
        }
    }

    /// Nothing outstanding, no session in the middle of a lock, and no lock held.
    pub(crate) fn quiescent(&self, sim: &Sim) -> Result<(), String> {
        if let Some(((node, ticket), idx)) = self
            .pending
            .iter()
            .find(|((n, _), _)| !sim.removed_at.contains_key(n))
        {
            return Err(format!(
                "ticket {ticket} on {node} still pending: {}",
                self.ops[*idx].describe(*idx)
            ));
        }
        for s in &self.sessions {
            if let Session::Lock { phase, .. } = s {
                if !matches!(phase, LockPhase::Idle { .. }) {
                    return Err(format!("a lock session is {phase:?}"));
                }
            }
        }
        for node in sim.healthy() {
            for lock in LOCKS {
                if let Some(h) = sim.replica(&node).expect("live").fsm().lock_holder(lock) {
                    return Err(format!("{lock} still held by {h:?} (as {node} sees it)"));
                }
            }
        }
        Ok(())
    }

    /// One read on a healthy member, retried on errors; part of the history.
    pub(crate) fn final_read(&mut self, sim: &mut Sim, kind: OpKind) -> Result<(), String> {
        for _ in 0..10 {
            let targets: Vec<String> = sim
                .healthy()
                .into_iter()
                .filter(|n| self.final_nodes.contains(n))
                .collect();
            let Some(node) = self.rng.pick(&targets).cloned() else {
                return Err("no healthy member left to read from".into());
            };
            let idx = self.invoke(sim, FINAL, &node, kind.clone());
            for _ in 0..500 {
                self.observe(sim);
                if self.ops[idx].comp.is_some() {
                    break;
                }
                sim.tick_once();
            }
            if matches!(self.ops[idx].outcome, Outcome::Ok(_)) {
                return Ok(());
            }
        }
        Err(format!("the final {kind:?} never succeeded"))
    }
}

/// How many times `node` was removed and admitted again (0 for a crashed node).
fn incarnation_of(sim: &Sim, node: &str) -> u32 {
    sim.replica(node).map_or(0, |r| r.incarnation())
}
