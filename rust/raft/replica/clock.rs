//! The clock side of a [`Replica`]: raft ticks, the leader's periodic duties, requests that
//! outlive their deadline, noticing leader changes and the loss of quorum, and the cluster's
//! time.
//!
//! **Cluster time.** TTLs and lock-wait timeouts are judged by one clock the whole cluster
//! shares, never by a node's wall clock. The replica is given only its driver's monotonic time
//! (`now_ms` everywhere here: milliseconds that never go back and are not moved by setting the
//! wall clock or by NTP steps). Each replica keeps an anchor: the latest leader stamp it applied
//! and its own monotonic time when it did. Its cluster time is that stamp plus the monotonic time
//! elapsed since. A leader stamps each command it proposes with its cluster time; the state
//! machine applies each command at the latest stamp so far, so expiry is decided in log order,
//! the same on every replica. Reads are answered at the reading replica's cluster time.
//!
//! What follows: a node whose wall clock is skewed or jumps sees no entry expire early or late
//! (the wall clock is not read); a leader's clock cannot expire everything at once, since a
//! stamp advances only by the monotonic time its leader measured since the stamp it took over
//! from (a process paused for a minute moves its clock by a minute, which is the time that
//! passed). Cluster time never runs ahead of real time: every replica's count starts from a stamp
//! taken before it was received, so it lags by at most the replication delay of the stamp it
//! follows; an entry expires no earlier than its TTL after its write began, and at most that lag
//! (plus the leader's expiry round, a tick or two) later. The first node of a cluster starts the
//! clock at its own monotonic reading; its value means nothing outside the cluster.

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

    /// The cluster's time at this replica's monotonic time `now_ms` (0 before any stamp).
    pub fn cluster_time(&self, now_ms: u64) -> u64 {
        self.clock.map_or(0, |(stamp, at)| {
            stamp.saturating_add(now_ms.saturating_sub(at))
        })
    }

    /// Takes `stamp` (a leader's cluster time, applied here at `now_ms`) as the anchor when it is
    /// ahead of this replica's own count.
    pub(super) fn observe_stamp(&mut self, stamp: u64, now_ms: u64) {
        if self.clock.is_none() || stamp > self.cluster_time(now_ms) {
            self.clock = Some((stamp, now_ms));
        }
    }

    /// The time a read is answered at: this replica's cluster time, never before the state's.
    pub(super) fn read_time(&self, now_ms: u64) -> u64 {
        self.cluster_time(now_ms).max(self.fsm.time_ms())
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
        self.rejoin_duties();
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
