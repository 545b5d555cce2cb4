//! What a leader sends its learners, and when. A learner's commit does not count, so the
//! leader need not tell it of every write at once: appends to a learner whose replication is
//! steady are held and merged into one message, which leaves at the next tick (or before, when
//! there is a reason). At a hundred members this turns about four messages per write per learner
//! (the append, the commit, and an answer to each) into one exchange per tick per learner.
//!
//! A learner is still told at once when it waits:
//! - for a write it proposed (its messages leave at once until one carries a commit at or past
//!   the write's index),
//! - for a read (the leader's answer to its read index goes out after what is held for it),
//! - for a lock its state machine will grant or time out (see [`LearnerFeed::expedite`]);
//!
//! and every learner is told at once of a change to the members or to the event bus's
//! registrations, which each member serves from its own state ([`LearnerFeed::expedite_all`]):
//! a consumer registered on one node is known to the others as soon as it was before;
//!
//! and held appends always leave before any other message to the same peer, so each peer sees
//! raft's messages in raft's order, merely later. Delaying messages is safe in raft; merging two
//! appends that follow each other is what raft-rs's own `batch_append` does within one Ready.
//!
//! Learners also get at most one heartbeat per [`LEARNER_HEARTBEAT_INTERVALS`] heartbeat
//! intervals: a leader heartbeats every peer for each round of linearizable reads, though only
//! voters' answers count, and at every interval, though a learner waits on none of them (what it
//! waits for is sent at once, above; commits reach it with the appends). An idle learner's loop
//! wakes for these heartbeats alone (`node::runtime::polling`), so they are its idle cost.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use raft::prelude::{Message as RaftMsg, MessageType};

/// A learner gets at most one heartbeat per this many of raft's heartbeat intervals (100 ms at
/// the defaults). Twice as many heartbeats as this cost 100 idle members in one process about
/// twice the CPU (BENCHMARKS.md, "Scale"). They still come often enough for a learner to
/// know its leader: it counts the leader lost after two election timeouts without a word.
pub(super) const LEARNER_HEARTBEAT_INTERVALS: u64 = 2;

/// Appends held for one learner stay below this many bytes of entries (held bytes are memory per
/// learner; a merged append must also fit a frame, see [`Peers::max_held_bytes`]).
pub(super) const MAX_HELD_BYTES: usize = 256 * 1024;

/// The leader's messages to its learners: held appends, waits, heartbeats sent.
#[derive(Debug, Default)]
pub(super) struct LearnerFeed {
    /// Per learner, the appends held for it merged into one, with its entries' size.
    held: HashMap<u64, (RaftMsg, usize)>,
    /// Learner -> the log index of a write it proposed: its messages leave at once until one
    /// carries a commit at or past it.
    waiting: HashMap<u64, u64>,
    /// Learners whose held appends leave at the end of this turn.
    expedited: Vec<u64>,
    /// Everything held leaves at the end of this turn.
    expedite_all: bool,
    /// The tick of the last heartbeat sent to each learner.
    heartbeats: HashMap<u64, u64>,
}

/// What the feed needs to know of raft for one batch of messages.
pub(super) struct Peers<'a, S> {
    pub learners: &'a HashSet<u64, S>,
    /// Whether a peer's replication is steady (raft-rs's Replicate state). Probing or catching
    /// up by snapshot is not held back.
    pub steady: &'a dyn Fn(u64) -> bool,
    pub tick: u64,
    /// A learner gets at most one heartbeat per this many ticks.
    pub learner_heartbeat_ticks: u64,
    /// Held entries stay below this many bytes: [`MAX_HELD_BYTES`], or less when a frame
    /// must be smaller.
    pub max_held_bytes: usize,
}

impl LearnerFeed {
    /// Sorts `messages` into those to send now (voters' first, each peer's in raft's order) and
    /// those held.
    pub(super) fn route<S: BuildHasher>(
        &mut self,
        mut messages: Vec<RaftMsg>,
        peers: &Peers<S>,
    ) -> Vec<RaftMsg> {
        if peers.learners.is_empty() && self.held.is_empty() {
            return messages;
        }
        // A stable sort: each peer's messages keep raft's order.
        messages.sort_by_key(|m| peers.learners.contains(&m.to));
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            let to = m.to;
            if !peers.learners.contains(&to) {
                // A voter (perhaps a learner promoted while appends were held for it).
                out.extend(self.release(to));
                out.push(m);
                continue;
            }
            match m.get_msg_type() {
                MessageType::MsgHeartbeat => {
                    let every = peers.learner_heartbeat_ticks;
                    match self.heartbeats.get(&to) {
                        Some(&last) if peers.tick < last + every => {}
                        _ => {
                            self.heartbeats.insert(to, peers.tick);
                            out.extend(self.release(to));
                            out.push(m);
                        }
                    }
                }
                MessageType::MsgAppend if (peers.steady)(to) && !self.waiting.contains_key(&to) => {
                    let cap = peers.max_held_bytes;
                    if let Some(m) = self.hold(m, cap) {
                        // Not mergeable with what is held: that goes first, this is held.
                        out.extend(self.release(to));
                        if let Some(m) = self.hold(m, cap) {
                            out.push(m);
                        }
                    }
                }
                MessageType::MsgAppend => {
                    out.extend(self.release(to));
                    if self.waiting.get(&to).is_some_and(|&i| m.commit >= i) {
                        self.waiting.remove(&to);
                    }
                    out.push(m);
                }
                _ => {
                    out.extend(self.release(to));
                    out.push(m);
                }
            }
        }
        out
    }

    /// Holds an append, merged into what is held for its learner; gives it back when it does
    /// not follow what is held (another term, a resend from an earlier index) or would make the
    /// held message too large.
    fn hold(&mut self, mut m: RaftMsg, cap: usize) -> Option<RaftMsg> {
        let bytes: usize = m.entries.iter().map(entry_bytes).sum();
        let Some((held, held_bytes)) = self.held.get_mut(&m.to) else {
            if bytes >= cap {
                return Some(m);
            }
            self.held.insert(m.to, (m, bytes));
            return None;
        };
        let (last, last_term) = held
            .entries
            .last()
            .map_or((held.index, held.log_term), |e| (e.index, e.term));
        let follows = m.term == held.term && m.index == last && m.log_term == last_term;
        if !follows || *held_bytes + bytes >= cap {
            return Some(m);
        }
        let entries: Vec<_> = m.take_entries().into();
        let mut merged: Vec<_> = held.take_entries().into();
        merged.extend(entries);
        held.set_entries(merged.into());
        held.commit = held.commit.max(m.commit);
        *held_bytes += bytes;
        None
    }

    /// What is held for `to`, if anything.
    fn release(&mut self, to: u64) -> Option<RaftMsg> {
        self.held.remove(&to).map(|(m, _)| m)
    }

    /// Everything held (at a tick), and forgets waits that are over: a write committed at or
    /// before `committed` had its commit sent when it committed.
    pub(super) fn release_all<S: BuildHasher>(
        &mut self,
        committed: u64,
        learners: &HashSet<u64, S>,
    ) -> Vec<RaftMsg> {
        self.waiting
            .retain(|id, index| *index > committed && learners.contains(id));
        if self.heartbeats.len() > learners.len() + 16 {
            self.heartbeats.retain(|id, _| learners.contains(id));
        }
        self.expedite_all = true;
        self.take_expedited()
    }

    /// `learner` proposed a write that was appended at `index`.
    pub(super) fn wait_for(&mut self, learner: u64, index: u64) {
        let at = self.waiting.entry(learner).or_default();
        *at = (*at).max(index);
    }

    /// What is held for `learner` leaves at the end of this turn: applying an entry here told
    /// the leader that the learner's state machine will answer one of its requests once it
    /// applies that entry too (a lock granted to it, or its wait for one timed out).
    pub(super) fn expedite(&mut self, learner: u64) {
        if self.held.contains_key(&learner) && !self.expedited.contains(&learner) {
            self.expedited.push(learner);
        }
    }

    /// Everything held leaves at the end of this turn: applying an entry here changed what every
    /// member serves from its own state (the members, or the event bus's registrations, which
    /// every node reads locally to route a message).
    pub(super) fn expedite_all(&mut self) {
        self.expedite_all |= !self.held.is_empty();
    }

    /// What [`LearnerFeed::expedite`] and [`LearnerFeed::expedite_all`] asked for.
    pub(super) fn take_expedited(&mut self) -> Vec<RaftMsg> {
        let ids = std::mem::take(&mut self.expedited);
        if std::mem::take(&mut self.expedite_all) {
            let mut out: Vec<RaftMsg> = self.held.drain().map(|(_, (m, _))| m).collect();
            out.sort_by_key(|m| m.to);
            return out;
        }
        ids.into_iter().filter_map(|id| self.release(id)).collect()
    }

    #[cfg(test)]
    pub(super) fn held_for(&self, learner: u64) -> Option<&RaftMsg> {
        self.held.get(&learner).map(|(m, _)| m)
    }
}

fn entry_bytes(e: &raft::prelude::Entry) -> usize {
    e.data.len() + e.context.len() + 24
}

#[cfg(test)]
mod tests {
    use raft::prelude::Entry;

    use super::*;

    fn append(to: u64, term: u64, index: u64, log_term: u64, entries: &[(u64, usize)]) -> RaftMsg {
        let mut m = RaftMsg::default();
        m.set_msg_type(MessageType::MsgAppend);
        (m.to, m.term, m.index, m.log_term, m.commit) = (to, term, index, log_term, index);
        let entries: Vec<Entry> = entries
            .iter()
            .enumerate()
            .map(|(i, &(t, size))| Entry {
                index: index + 1 + i as u64,
                term: t,
                data: vec![0; size].into(),
                ..Default::default()
            })
            .collect();
        m.set_entries(entries.into());
        m
    }

    fn kinds(out: &[RaftMsg]) -> Vec<(u64, MessageType, u64, usize)> {
        out.iter()
            .map(|m| (m.to, m.get_msg_type(), m.index, m.entries.len()))
            .collect()
    }

    #[test]
    fn appends_that_follow_each_other_merge_and_any_other_message_sends_them_first() {
        let learners: HashSet<u64> = [4, 5].into();
        let steady = |_: u64| true;
        let peers = Peers {
            learners: &learners,
            steady: &steady,
            tick: 10,
            learner_heartbeat_ticks: 2,
            max_held_bytes: MAX_HELD_BYTES,
        };
        let mut feed = LearnerFeed::default();
        let out = feed.route(
            vec![
                append(4, 2, 10, 2, &[(2, 10)]),
                append(1, 2, 10, 2, &[(2, 10)]),
                append(4, 2, 11, 2, &[(2, 10), (2, 10)]),
            ],
            &peers,
        );
        assert_eq!(kinds(&out), vec![(1, MessageType::MsgAppend, 10, 1)]);
        let held = feed.held_for(4).unwrap();
        assert_eq!((held.index, held.entries.len(), held.commit), (10, 3, 11));

        // A resend from an earlier index does not follow: what is held goes first.
        let out = feed.route(vec![append(4, 2, 9, 2, &[(2, 10)])], &peers);
        assert_eq!(kinds(&out), vec![(4, MessageType::MsgAppend, 10, 3)]);
        assert_eq!(feed.held_for(4).unwrap().index, 9);

        // A heartbeat sends what is held before it; a second one in the same interval is dropped.
        let mut beat = RaftMsg::default();
        beat.set_msg_type(MessageType::MsgHeartbeat);
        beat.to = 4;
        let out = feed.route(vec![beat.clone(), beat], &peers);
        assert_eq!(
            kinds(&out),
            vec![
                (4, MessageType::MsgAppend, 9, 1),
                (4, MessageType::MsgHeartbeat, 0, 0)
            ]
        );
        assert!(feed.held_for(4).is_none());

        // Held entries stay below the cap: the append that would pass it leaves what is held.
        let big = MAX_HELD_BYTES / 2;
        assert!(feed
            .route(vec![append(5, 2, 20, 2, &[(2, big)])], &peers)
            .is_empty());
        let out = feed.route(vec![append(5, 2, 21, 2, &[(2, big)])], &peers);
        assert_eq!(kinds(&out), vec![(5, MessageType::MsgAppend, 20, 1)]);
        assert_eq!(feed.held_for(5).unwrap().index, 21);

        // With frames smaller than that, the cap is smaller.
        let small = Peers {
            max_held_bytes: 1000,
            ..peers
        };
        let mut narrow = LearnerFeed::default();
        assert!(narrow
            .route(vec![append(5, 2, 20, 2, &[(2, 500)])], &small)
            .is_empty());
        let out = narrow.route(vec![append(5, 2, 21, 2, &[(2, 500)])], &small);
        assert_eq!(kinds(&out), vec![(5, MessageType::MsgAppend, 20, 1)]);
        let out = narrow.route(vec![append(5, 2, 22, 2, &[(2, 2000)])], &small);
        assert_eq!(
            kinds(&out),
            vec![
                (5, MessageType::MsgAppend, 21, 1),
                (5, MessageType::MsgAppend, 22, 1)
            ]
        );

        // A learner waiting for its write gets its messages at once until one carries the commit.
        feed.wait_for(4, 30);
        let mut first = append(4, 2, 29, 2, &[(2, 10)]);
        first.commit = 29;
        let out = feed.route(vec![first], &peers);
        assert_eq!(out.len(), 1);
        let mut commit = append(4, 2, 30, 2, &[]);
        commit.commit = 30;
        assert_eq!(feed.route(vec![commit], &peers).len(), 1);
        assert!(feed
            .route(vec![append(4, 2, 30, 2, &[(2, 10)])], &peers)
            .is_empty());

        // A tick sends everything held.
        let out = feed.release_all(30, &learners);
        assert_eq!(
            kinds(&out),
            vec![
                (4, MessageType::MsgAppend, 30, 1),
                (5, MessageType::MsgAppend, 21, 1)
            ]
        );
    }
}
