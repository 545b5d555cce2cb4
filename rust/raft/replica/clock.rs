//! The clock side of a [`Replica`]: raft ticks, the leader's periodic duties, requests that
//! outlive their deadline, and noticing leader changes and the loss of quorum.

use super::proposals::Unsent;
use super::{Phase, Replica};
use crate::wire::error_code;

impl Replica {
    pub(super) fn quorum_lost(&self) -> bool {
        self.phase == Phase::Member
            && self
                .no_leader_since_tick
                .is_some_and(|t| self.ticks >= t + self.cfg.no_quorum_after_ticks)
    }

    pub(super) fn no_quorum_message(&self) -> String {
        let ms = self.cfg.no_quorum_after_ticks * self.cfg.tick_ms;
        format!(
            "no quorum: this node has reached no leader for at least {ms} ms (it is cut off from a majority of the cluster's voters)"
        )
    }

    /// Advances the clock by one tick.
    pub fn tick(&mut self, now_ms: u64) {
        self.ticks += 1;
        if let Some(raw) = self.raw.as_mut() {
            raw.tick();
        }
        self.expire_requests();
        let retry = 2 * self.cfg.heartbeat_ticks as u64;
        for ctx in self.reads.due_for_retry(self.ticks, retry) {
            if let Some(raw) = self.raw.as_mut() {
                raw.read_index(ctx);
            }
        }
        if self.is_leader() {
            self.detect_failures(now_ms);
            self.propose_expiry(now_ms);
        }
    }

    fn expire_requests(&mut self) {
        let tick = self.ticks;
        let lost = self.quorum_lost();
        let message = if lost || self.leader_id() == 0 {
            (error_code::NO_QUORUM, self.no_quorum_message())
        } else {
            let ms = self.cfg.request_timeout_ticks * self.cfg.tick_ms;
            (
                error_code::TIMEOUT,
                format!("timed out after {ms} ms waiting for the cluster to commit the request"),
            )
        };
        let mut expired: Vec<u32> = self
            .pending_writes
            .iter()
            .filter(|(_, w)| lost || w.deadline_tick <= tick)
            .map(|(t, _)| *t)
            .collect();
        let reads = if lost {
            self.reads.drain()
        } else {
            self.reads.expired(tick)
        };
        expired.extend(reads.iter().map(|r| r.ticket));
        expired.sort_unstable();
        for ticket in expired {
            self.pending_writes.remove(&ticket);
            self.fail(ticket, message.0, message.1.clone());
        }
        let unsent_before = self.unsent.len();
        let pending = &self.pending_writes;
        let internal = &self.internal;
        let node_id = &self.cfg.node_id;
        self.unsent.retain(|item| match item {
            Unsent::Own(ticket) => pending.contains_key(ticket),
            Unsent::Other(p) => {
                p.origin != *node_id
                    || pending.contains_key(&p.request_id)
                    || internal.contains_key(&p.request_id)
            }
        });
        if self.unsent.len() != unsent_before {
            log::debug!(
                "{}: dropped {} unsent requests that timed out",
                self.cfg.node_id,
                unsent_before - self.unsent.len()
            );
        }
        self.internal.retain(|_, d| *d > tick);
        let internal = &self.internal;
        self.joins.retain(|t, _| internal.contains_key(t));
    }

    pub(super) fn track_leader(&mut self) {
        let leader = self.leader_id();
        let out_of_touch = !self.is_leader()
            && self.ticks > self.leader_contact_tick + 2 * self.cfg.election_ticks as u64;
        let reachable_leader = if out_of_touch { 0 } else { leader };
        if leader != 0 && leader != self.known_leader {
            let old = std::mem::replace(&mut self.known_leader, leader);
            if old != 0 {
                self.repropose_writes_of_leader(old);
            }
        }
        match (reachable_leader, self.no_leader_since_tick) {
            (0, None) => self.no_leader_since_tick = Some(self.ticks),
            (l, Some(_)) if l != 0 => self.no_leader_since_tick = None,
            _ => {}
        }
        if self.is_leader() && self.leader_since_tick.is_none() {
            self.leader_since_tick = Some(self.ticks);
            // Everyone gets a full timeout from the moment this replica leads.
            let tick = self.ticks;
            for v in self.last_heard.values_mut() {
                *v = tick;
            }
        } else if !self.is_leader() {
            self.leader_since_tick = None;
        }
    }
}
