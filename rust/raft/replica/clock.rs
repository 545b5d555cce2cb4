//! The clock side of a [`Replica`]: raft ticks, the leader's periodic duties, requests that
//! outlive their deadline, noticing leader changes and the loss of quorum, and the cluster's
//! time.
//!
//! **Cluster time.** TTLs and lock-wait timeouts are judged by one clock the whole cluster
//! shares, never by a node's wall clock. The replica is given only its driver's monotonic time
//! (`now_ms` everywhere here: milliseconds that never go back and are not moved by setting the
//! wall clock or by NTP steps). Only the leader counts: when it takes over, it starts from the
//! state's time (the latest stamp applied, [`StateMachine::time_ms`]) and counts on with its
//! monotonic clock. It stamps every command it proposes with that count, and the state machine
//! applies each command at the latest stamp so far, so a TTL's deadline and the moment an entry
//! counts as expired are decided in log order, the same on every replica. The leader proposes
//! the expiry (an `ExpireRequest`) as soon as its count passes the earliest deadline (the node
//! loop wakes for it); reads are answered at the state's time, so an entry is read until the
//! expiry's position in the log, and from there on nowhere.
//!
//! Why never early: a leader's count starts at a stamp taken before it took over, so it runs
//! behind real time by at least as much as its predecessor's did; a deadline stamped by one
//! leader is judged by the same or a later one, so an entry expires no earlier than its TTL after
//! its write began. Each leader change can make TTLs later by about the time the cluster had no
//! leader, never earlier; within a term, late by the expiry's commit (a millisecond or so).
//!
//! The count since the anchor is also capped by the raft ticks counted since it (ticks never run
//! ahead of real time, and a loop paused or starved does not replay missed ones): at each tick
//! the anchor moves to the tick, by at most the ticks counted; between ticks the count may run up
//! to one tick ahead. So a jump of the monotonic clock itself (a suspended virtual machine) moves
//! the leader's count by at most one tick more than it ran, and a paused leader's count lags
//! instead of leaping. What follows: a node whose wall clock is skewed or jumps sees no entry
//! expire early or late (no wall clock is read), and a leader's clock cannot expire everything at
//! once. The clock starts at 0 when the cluster is created; its value means nothing outside it.

use super::feed::LEARNER_HEARTBEAT_INTERVALS;
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

    /// The cluster's time at monotonic time `now_ms`: the leader's count; a follower, which
    /// does not count, answers the state's time.
    pub fn cluster_time(&self, now_ms: u64) -> u64 {
        self.counted_time(now_ms, 1)
    }

    /// Cluster time with the monotonic time since the anchor capped by the ticks counted since
    /// it plus `spare` ticks.
    fn counted_time(&self, now_ms: u64, spare: u64) -> u64 {
        self.clock
            .map_or(self.fsm.time_ms(), |(stamp, at, at_tick)| {
                let ticked = (self.ticks.saturating_sub(at_tick) + spare) * self.cfg.tick_ms;
                stamp.saturating_add(now_ms.saturating_sub(at).min(ticked))
            })
    }

    /// The time a read is answered at: the state's.
    pub(super) fn read_time(&self) -> u64 {
        self.fsm.time_ms()
    }

    /// Leader: milliseconds until the earliest TTL or lock-wait deadline passes by its count
    /// (0 when it has), unless an expiry is in flight; `None` elsewhere. The driver wakes then.
    pub fn expiry_due_in(&self, now_ms: u64) -> Option<u64> {
        if !self.is_leader() || self.expiry_in_flight() {
            return None;
        }
        let now = self.cluster_time(now_ms);
        self.fsm.next_deadline().map(|d| d.saturating_sub(now))
    }

    /// An expiry proposed and not yet applied (given up after two ticks).
    pub(super) fn expiry_in_flight(&self) -> bool {
        self.last_expiry_stamp > self.fsm.time_ms() && self.ticks < self.next_expire_tick
    }

    /// A learner with nothing in flight that its ticks time: no write, read, internal command,
    /// leave or readmission of its own, and a leader it hears from. raft-rs gives a learner
    /// nothing to time (it never campaigns) and it keeps no cluster clock, so its driver may let
    /// ticks wait for the next frame that wakes it (the leader's heartbeats) and count them all
    /// then, a few ticks late at most: its deadlines and its no-quorum count are the same ticks,
    /// counted later. Anything of its own to time makes it tick on time again.
    pub fn is_idle_learner(&self) -> bool {
        let Some(raw) = self.raw.as_ref() else {
            return false;
        };
        self.phase == Phase::Member
            && raw.raft.prs().conf().learners().contains(&raw.raft.id)
            && self.no_leader_since_tick.is_none()
            && self.pending_writes.is_empty()
            && self.reads.is_empty()
            && self.unsent.is_empty()
            && self.internal.is_empty()
            && self.leaving.is_none()
            && self.rejoin.is_none()
            && self.restore_queue.is_empty()
    }

    /// How many ticks apart a leader heartbeats a learner at most (see `feed.rs`): what an idle
    /// learner's driver waits for.
    pub fn learner_heartbeat_ticks(&self) -> u64 {
        LEARNER_HEARTBEAT_INTERVALS * self.cfg.heartbeat_ticks as u64
    }

    /// Advances the clock by one tick.
    pub fn tick(&mut self, now_ms: u64) {
        self.ticks += 1;
        self.release_held();
        if self.clock.is_some() {
            self.clock = Some((self.counted_time(now_ms, 0), now_ms, self.ticks));
        }
        if let Some(raw) = self.raw.as_mut() {
            raw.tick();
        }
        self.expire_requests();
        let retry = 2 * self.cfg.heartbeat_ticks as u64;
        let asker = self.raft_id();
        for ctx in self.reads.due_for_retry(self.ticks, retry, asker) {
            self.ask_read_index(ctx);
        }
        self.forget_stale_rounds(retry);
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
            if let Some(w) = self.pending_writes.remove(&ticket) {
                self.write_failed(ticket, &w.proposal);
            }
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

    pub(super) fn track_leader(&mut self, now_ms: u64) {
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
            self.clock = Some((self.fsm.time_ms(), now_ms, self.ticks));
            // Everyone gets a full timeout from the moment this replica leads.
            let tick = self.ticks;
            for v in self.last_heard.values_mut() {
                *v = tick;
            }
        } else if !self.is_leader() {
            self.leader_since_tick = None;
            self.clock = None;
        }
    }
}
