//! Linearizable reads by ReadIndex, batched: every read that arrives before the next round joins
//! one batch, and a batch costs one ReadIndex round however many reads it holds. A batch is
//! answered from the local state machine once it has applied up to the index the leader
//! confirmed. raft-rs drops a ReadIndex request silently when there is no leader or the leader
//! has not yet committed an entry of its term, so a batch without an answer is asked again.
//!
//! A batch's context names the asking node (its raft id) and the batch: the leader keeps one
//! pending read per context and drops a second request with a context it is already serving, so
//! a context made of the batch number alone would let two members' batches collide (their
//! numbers both count from 1), and the second would wait for its retry.
//!
//! The leader does not step other members' ReadIndex requests into raft one by one: raft-rs
//! heartbeats every peer for each, with its own context, so a hundred members reading at once
//! cost the leader a hundred rounds, and its voters a hundred answers each. It collects the
//! requests that arrive before its next round ([`ReadRelay`]), adds its own batch, asks raft for
//! one round for them all, and answers each asker itself with the index that round confirmed
//! (what raft-rs's answer would carry). Confirming a later round for an earlier request is safe:
//! the round starts after the request arrived, so its index covers every write committed then.

use std::collections::BTreeMap;

use crate::wire::Message;

pub(crate) struct Read {
    pub ticket: u32,
    pub request: Message,
    pub deadline_tick: u64,
}

struct Batch {
    reads: Vec<Read>,
    asked_tick: u64,
    index: Option<u64>,
}

#[derive(Default)]
pub(crate) struct ReadBatches {
    next_id: u64,
    forming: Vec<Read>,
    in_flight: BTreeMap<u64, Batch>,
}

impl ReadBatches {
    pub fn push(&mut self, read: Read) {
        self.forming.push(read);
    }

    /// No read forming or waiting for its index.
    pub fn is_empty(&self) -> bool {
        self.forming.is_empty() && self.in_flight.is_empty()
    }

    /// Closes the forming batch; returns the context to ask ReadIndex with, if there was one.
    /// `asker` is this node's raft id.
    pub fn start_batch(&mut self, tick: u64, asker: u64) -> Option<Vec<u8>> {
        if self.forming.is_empty() {
            return None;
        }
        self.next_id += 1;
        let batch = Batch {
            reads: std::mem::take(&mut self.forming),
            asked_tick: tick,
            index: None,
        };
        self.in_flight.insert(self.next_id, batch);
        Some(context(asker, self.next_id))
    }

    /// Records the leader's answer for a batch this node (`asker`) asked.
    pub fn confirmed(&mut self, context: &[u8], index: u64, asker: u64) {
        let Some((from, id)) = parse_context(context) else {
            return;
        };
        if from != asker {
            return;
        }
        if let Some(batch) = self.in_flight.get_mut(&id) {
            batch.index.get_or_insert(index);
        }
    }

    /// Takes every read whose batch is confirmed at or below `applied`.
    pub fn ready(&mut self, applied: u64) -> Vec<Read> {
        let done: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, b)| b.index.is_some_and(|i| i <= applied))
            .map(|(id, _)| *id)
            .collect();
        done.into_iter()
            .flat_map(|id| self.in_flight.remove(&id).expect("listed").reads)
            .collect()
    }

    /// Contexts of unanswered batches asked at or before `tick - retry_after`, re-stamped.
    pub fn due_for_retry(&mut self, tick: u64, retry_after: u64, asker: u64) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for (id, batch) in &mut self.in_flight {
            if batch.index.is_none() && tick >= batch.asked_tick + retry_after {
                batch.asked_tick = tick;
                out.push(context(asker, *id));
            }
        }
        out
    }

    /// Takes every read whose deadline has passed.
    pub fn expired(&mut self, tick: u64) -> Vec<Read> {
        let mut out = Vec::new();
        let (keep, gone): (Vec<Read>, Vec<Read>) = std::mem::take(&mut self.forming)
            .into_iter()
            .partition(|r| r.deadline_tick > tick);
        self.forming = keep;
        out.extend(gone);
        for batch in self.in_flight.values_mut() {
            let (keep, gone): (Vec<Read>, Vec<Read>) = std::mem::take(&mut batch.reads)
                .into_iter()
                .partition(|r| r.deadline_tick > tick);
            batch.reads = keep;
            out.extend(gone);
        }
        self.in_flight.retain(|_, b| !b.reads.is_empty());
        out
    }

    /// Takes every read, for failing them all.
    pub fn drain(&mut self) -> Vec<Read> {
        let mut out = std::mem::take(&mut self.forming);
        for (_, b) in std::mem::take(&mut self.in_flight) {
            out.extend(b.reads);
        }
        out
    }
}

/// One ReadIndex request answered by a leader's round: the asker's raft id and its context.
pub(crate) type Ask = (u64, Vec<u8>);

struct Round {
    asks: Vec<Ask>,
    asked_tick: u64,
}

/// Leader only: the ReadIndex requests collected for its next round, and the rounds in flight.
#[derive(Default)]
pub(crate) struct ReadRelay {
    next_round: u64,
    forming: Vec<Ask>,
    in_flight: BTreeMap<u64, Round>,
}

impl ReadRelay {
    /// Adds a request to the next round. A request asked twice (a retry) is answered twice,
    /// which its asker ignores: looking for it first would cost a scan per request.
    pub fn push(&mut self, asker: u64, context: Vec<u8>) {
        self.forming.push((asker, context));
    }

    /// Closes the forming round; returns the context to ask raft with, if there was one. A
    /// round's context names raft id 0, which no member has, so it is never an asker's.
    pub fn start_round(&mut self, tick: u64) -> Option<Vec<u8>> {
        if self.forming.is_empty() {
            return None;
        }
        self.next_round += 1;
        let round = Round {
            asks: std::mem::take(&mut self.forming),
            asked_tick: tick,
        };
        self.in_flight.insert(self.next_round, round);
        Some(context(0, self.next_round))
    }

    /// The asks of the round `context` names, once raft confirmed it; `None` for any other
    /// context.
    pub fn confirmed(&mut self, context: &[u8]) -> Option<Vec<Ask>> {
        match parse_context(context)? {
            (0, round) => self.in_flight.remove(&round).map(|r| r.asks),
            _ => None,
        }
    }

    /// Forgets rounds asked before `tick`: raft drops a round silently (a leader that has not
    /// committed an entry of its term yet), and its askers ask again.
    pub fn forget_asked_before(&mut self, tick: u64) {
        self.in_flight.retain(|_, r| r.asked_tick >= tick);
    }

    /// Forgets everything (this replica no longer leads; the askers ask the next leader).
    pub fn clear(&mut self) {
        self.forming.clear();
        self.in_flight.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.forming.is_empty() && self.in_flight.is_empty()
    }
}

/// A batch's ReadIndex context: the asker's raft id, then the batch number (little-endian).
fn context(asker: u64, batch: u64) -> Vec<u8> {
    let mut ctx = Vec::with_capacity(16);
    ctx.extend_from_slice(&asker.to_le_bytes());
    ctx.extend_from_slice(&batch.to_le_bytes());
    ctx
}

fn parse_context(context: &[u8]) -> Option<(u64, u64)> {
    let bytes = <[u8; 16]>::try_from(context).ok()?;
    let (asker, batch) = bytes.split_at(8);
    Some((
        u64::from_le_bytes(asker.try_into().ok()?),
        u64::from_le_bytes(batch.try_into().ok()?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(ticket: u32, deadline_tick: u64) -> Read {
        Read {
            ticket,
            request: Message::NodeListRequest {},
            deadline_tick,
        }
    }

    #[test]
    fn one_round_answers_a_whole_batch_once_applied() {
        let mut b = ReadBatches::default();
        b.push(read(1, 100));
        b.push(read(2, 100));
        let ctx = b.start_batch(0, 5).unwrap();
        assert!(b.start_batch(0, 5).is_none());
        b.push(read(3, 100));
        b.confirmed(&ctx, 7, 5);
        assert!(b.ready(6).is_empty());
        let done: Vec<u32> = b.ready(7).iter().map(|r| r.ticket).collect();
        assert_eq!(done, vec![1, 2]);
        assert_eq!(b.drain().len(), 1);
    }

    #[test]
    fn unanswered_batches_are_asked_again_and_expire() {
        let mut b = ReadBatches::default();
        b.push(read(1, 10));
        let ctx = b.start_batch(0, 5).unwrap();
        assert!(b.due_for_retry(3, 4, 5).is_empty());
        assert_eq!(b.due_for_retry(4, 4, 5), vec![ctx]);
        assert!(b.expired(9).is_empty());
        assert_eq!(b.expired(10).len(), 1);
        assert!(b.drain().is_empty());
    }

    #[test]
    fn two_members_first_batches_have_different_contexts() {
        let mut a = ReadBatches::default();
        let mut b = ReadBatches::default();
        a.push(read(1, 100));
        b.push(read(1, 100));
        let ca = a.start_batch(0, 1).unwrap();
        let cb = b.start_batch(0, 2).unwrap();
        assert_ne!(ca, cb);
        // An answer meant for another member's batch of the same number is not this one's.
        a.confirmed(&cb, 9, 1);
        assert!(a.ready(9).is_empty());
        a.confirmed(&ca, 9, 1);
        assert_eq!(a.ready(9).len(), 1);
        // Malformed contexts are ignored.
        b.confirmed(&[1, 2, 3], 9, 2);
        assert!(b.ready(9).is_empty());
    }

    #[test]
    fn a_relay_round_answers_every_ask_collected_before_it() {
        let mut r = ReadRelay::default();
        assert!(r.start_round(0).is_none());
        r.push(2, context(2, 1));
        r.push(3, context(3, 1));
        let round = r.start_round(0).unwrap();
        r.push(4, context(4, 1));
        let next = r.start_round(1).unwrap();
        assert_ne!(round, next);
        // A member's own batch context is not a round's.
        assert_eq!(r.confirmed(&context(2, 1)), None);
        assert_eq!(
            r.confirmed(&round),
            Some(vec![(2, context(2, 1)), (3, context(3, 1))])
        );
        assert_eq!(r.confirmed(&round), None, "answered once");
        r.forget_asked_before(2);
        assert_eq!(r.confirmed(&next), None, "forgotten");
        assert!(r.is_empty());
    }
}
