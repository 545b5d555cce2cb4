//! Lock sessions: acquire, wait in the queue, hold for a few ticks and release, and how the
//! answers and grant events move a session from one phase to the next.

use vertx_cluster::wire::Message;

use super::{Session, Workload};
use crate::history::{Hold, Op, OpKind, Outcome};
use crate::world::Sim;
use crate::TICK_MS;

#[derive(Debug)]
pub(super) enum LockPhase {
    Idle {
        next_tick: u64,
    },
    Acquiring {
        node: String,
        ticket: u32,
    },
    Queued {
        node: String,
        ticket: u32,
        since: u64,
    },
    Holding {
        node: String,
        ticket: u32,
        hold: usize,
        release_tick: u64,
        /// The node's incarnation when the grant was seen: a node removed and admitted again
        /// since lost the lock, and does not release it (as the Java layer does).
        incarnation: u32,
    },
    Releasing {
        node: String,
        ticket: u32,
        op: usize,
        /// The hold it ends (in `Workload::holds`).
        hold: usize,
    },
}

impl LockPhase {
    /// The node and acquire ticket this session is using, if any.
    pub(super) fn using(&self) -> Option<(&str, u32)> {
        match self {
            LockPhase::Idle { .. } => None,
            LockPhase::Acquiring { node, ticket }
            | LockPhase::Queued { node, ticket, .. }
            | LockPhase::Holding { node, ticket, .. }
            | LockPhase::Releasing { node, ticket, .. } => Some((node, *ticket)),
        }
    }
}

impl Workload {
    /// A lock session's acquire or release was answered: the phase it moves to.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn lock_op_done(
        &mut self,
        sim: &Sim,
        s: usize,
        lock: &'static str,
        idx: usize,
        op: &Op,
        clock: u64,
        next_tick: u64,
    ) {
        let tick = sim.tick;
        let Session::Lock { phase, .. } = &self.sessions[s] else {
            return;
        };
        let new_phase = match (phase, &op.kind, &op.outcome) {
            (LockPhase::Acquiring { ticket, .. }, OpKind::Acquire(_, timeout), outcome)
                if *ticket == op.ticket =>
            {
                match outcome {
                    Outcome::Ok(
                        Message::LockAcquireResponse {
                            granted: true,
                            fencing_token,
                        }
                        | Message::LockAcquireTimeoutResponse {
                            granted: true,
                            fencing_token,
                        },
                    ) => {
                        let token = *fencing_token;
                        let seen = self.observed.clone();
                        let inc = (seen.incarnation, seen.node_id.as_str());
                        Some(self.start_hold(s, lock, &op.node, op.ticket, token, clock, tick, inc))
                    }
                    // A timeout of 0 asks for the lock only if it is free: nothing is queued.
                    Outcome::Ok(Message::LockAcquireTimeoutResponse { granted: false, .. })
                        if *timeout == Some(0) =>
                    {
                        Some(LockPhase::Idle { next_tick })
                    }
                    Outcome::Ok(
                        Message::LockAcquireResponse { granted: false, .. }
                        | Message::LockAcquireTimeoutResponse { granted: false, .. },
                    ) => Some(LockPhase::Queued {
                        node: op.node.clone(),
                        ticket: op.ticket,
                        since: tick,
                    }),
                    // Maybe applied later: the replica cancels such an acquisition.
                    _ => Some(LockPhase::Idle { next_tick }),
                }
            }
            (LockPhase::Releasing { op: o, hold, .. }, _, outcome) if *o == idx => {
                match outcome {
                    Outcome::Ok(Message::LockReleaseResponse { released: true }) => {}
                    Outcome::Ok(Message::LockReleaseResponse { released: false }) => {
                        // Refused rightly once the incarnation the lock was
                        // granted to was removed (which released it), even when
                        // the node was admitted again before this answer.
                        let h = &self.holds[*hold];
                        let released_by_removal = sim
                            .removals
                            .get(&h.node_id)
                            .is_some_and(|r| r.len() > h.incarnation as usize);
                        if !released_by_removal {
                            self.anomalies.push(format!(
                                "a holder's release was refused (released: false): {}",
                                op.describe(idx)
                            ));
                        }
                    }
                    _ => {
                        // The replica cancels the hold itself (nobody can release again).
                    }
                }
                Some(LockPhase::Idle { next_tick })
            }
            _ => None,
        };
        if let Some(p) = new_phase {
            if let Session::Lock { phase, .. } = &mut self.sessions[s] {
                *phase = p;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start_hold(
        &mut self,
        session: usize,
        lock: &'static str,
        node: &str,
        ticket: u32,
        token: u64,
        clock: u64,
        tick: u64,
        (incarnation, node_id): (u32, &str),
    ) -> LockPhase {
        self.holds.push(Hold {
            lock,
            session,
            node: node.to_owned(),
            ticket,
            token,
            start: clock,
            end: None,
            incarnation,
            node_id: node_id.to_owned(),
        });
        LockPhase::Holding {
            node: node.to_owned(),
            ticket,
            hold: self.holds.len() - 1,
            release_tick: tick + self.rng.between(2, 10),
            incarnation,
        }
    }

    pub(super) fn on_granted(
        &mut self,
        sim: &Sim,
        node: &str,
        lock: &str,
        ticket: u32,
        token: u64,
        clock: u64,
    ) {
        for s in 0..self.sessions.len() {
            let Session::Lock { lock: l, phase } = &self.sessions[s] else {
                continue;
            };
            // Only a wait the answer said was queued, as a node's loop does: a grant that comes
            // while the acquisition's own answer is outstanding (its entry reached this node in a
            // snapshot, say) goes to nobody, and the acquisition is cancelled if it then fails.
            let waiting = matches!(phase, LockPhase::Queued { .. });
            if *l == lock && waiting && phase.using() == Some((node, ticket)) {
                let l = *l;
                let seen = self.observed.clone();
                let inc = (seen.incarnation, seen.node_id.as_str());
                let p = self.start_hold(s, l, node, ticket, token, clock, sim.tick, inc);
                if let Session::Lock { phase, .. } = &mut self.sessions[s] {
                    *phase = p;
                }
                return;
            }
        }
        // Nobody waits for it: the replica cancels it (the wait was given up).
    }

    /// A wait ended without its lock (its node reports it expired): its session stops waiting.
    /// The lock must not be its, and the wait must have lasted its timeout, unless its node was
    /// removed meanwhile.
    pub(super) fn on_expired(&mut self, sim: &Sim, node: &str, lock: &str, ticket: u32) {
        if grant_unreported(sim, node, lock, ticket) {
            self.anomalies.push(format!(
                "the wait of ticket {ticket} on {node} for {lock} expired, but {node} shows it \
                 holding the lock"
            ));
        }
        for s in 0..self.sessions.len() {
            let Session::Lock { lock: l, phase } = &mut self.sessions[s] else {
                continue;
            };
            if *l == lock
                && matches!(phase, LockPhase::Queued { .. })
                && phase.using() == Some((node, ticket))
            {
                if let Some(early) = expired_early(sim, &self.ops, node, ticket) {
                    self.anomalies.push(early);
                }
                *phase = LockPhase::Idle {
                    next_tick: sim.tick,
                };
                self.expired += 1;
                return;
            }
        }
    }

    pub(super) fn in_use(&self, node: &str, lock: &str, except: usize) -> bool {
        self.sessions.iter().enumerate().any(|(i, s)| {
            i != except
                && matches!(s, Session::Lock { lock: l, phase } if *l == lock && phase.using().is_some_and(|(n, _)| n == node))
        })
    }
}

/// Why the end of `node`'s wait `ticket`, seen now, came too early, if it did. A wait ends
/// without its lock when its timeout runs out, or when its node is removed from the cluster (the
/// node reports it when it is let in again); otherwise it lasts. The timeout is timed by the
/// cluster's time, which leads real time by at most one tick (see check 5), so a jump of a
/// node's clock makes no expiry early.
fn expired_early(sim: &Sim, ops: &[Op], node: &str, ticket: u32) -> Option<String> {
    let (idx, op) = ops
        .iter()
        .enumerate()
        .rev()
        .find(|(_, o)| o.node == node && o.ticket == ticket)?;
    let OpKind::Acquire(_, timeout) = op.kind else {
        return None;
    };
    let removed_since = sim
        .removals
        .get(&sim.nodes[node].node_id)
        .is_some_and(|at| at.iter().any(|&c| c > op.inv));
    if removed_since {
        return None;
    }
    let elapsed_ms = (sim.tick.saturating_sub(op.inv_tick) + 1) * TICK_MS;
    match timeout {
        None => Some(format!(
            "an acquisition without a timeout was told its wait ended, its node never removed: \
             {}",
            op.describe(idx)
        )),
        Some(t) if elapsed_ms < t => Some(format!(
            "a wait expired at most {elapsed_ms} ms after its acquisition (timeout {t} ms) was \
             invoked: {}",
            op.describe(idx)
        )),
        Some(_) => None,
    }
}

/// Whether `node`'s replica shows `lock` held by acquisition `ticket` of its current process (a
/// session that still waits, or was told its wait expired: the grant was never reported to it,
/// though a session sees every grant its node applies as it is applied).
pub(super) fn grant_unreported(sim: &Sim, node: &str, lock: &str, ticket: u32) -> bool {
    let Some(holder) = sim.replica(node).and_then(|r| r.fsm().lock_holder(lock)) else {
        return false;
    };
    holder.node_id == sim.nodes[node].node_id && holder.request_id == ticket
}
