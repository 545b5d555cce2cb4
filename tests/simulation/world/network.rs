//! The simulated network: envelopes in flight, each sent after the drop, delay and duplicate
//! draws of its link, and delivered round after round (shuffled when reordering) until none is
//! due; a frame for a crashed node's address is answered with a refused connection.

use protobuf::Message as _;
use raft::prelude::{Message as RaftMessage, MessageType};
use vertx_cluster::wire::{FramedMessage, Message};

use super::Sim;
use crate::MAX_ROUNDS_PER_TICK;

/// A frame on its way, due at tick `at`.
#[derive(Clone)]
pub(super) struct Envelope {
    at: u64,
    from: String,
    to: String,
    frame: FramedMessage<Message>,
}

fn is_snapshot(frame: &FramedMessage<Message>) -> bool {
    let snapshot = MessageType::MsgSnapshot as i32 as u8;
    match &frame.payload {
        // msg_type is field 1, so a snapshot's bytes start with its tag and value.
        Message::RaftMessage { data, .. } => {
            data.len() > 2
                && data[0] == 0x08
                && data[1] == snapshot
                && RaftMessage::parse_from_bytes(data)
                    .is_ok_and(|m| m.get_msg_type() == MessageType::MsgSnapshot)
        }
        _ => false,
    }
}

impl Sim {
    pub(super) fn send(&mut self, from: &str, to: String, frame: FramedMessage<Message>) {
        let link = (from.to_owned(), to);
        if !self.nodes.contains_key(&link.1) || self.blocked.contains(&link) {
            return;
        }
        let p = self.link_drop.get(&link).copied().unwrap_or(self.drop_p);
        if self.net_rng.chance(p)
            || (self.drop_snapshots_to.contains(&link.1) && is_snapshot(&frame))
        {
            return;
        }
        let at = if self.max_delay > 0 && self.net_rng.chance(self.delay_p) {
            self.tick + self.net_rng.between(1, self.max_delay)
        } else {
            self.tick
        };
        let (from, to) = link;
        let envelope = Envelope {
            at,
            from,
            to,
            frame,
        };
        if self.dup_p > 0.0 && self.net_rng.chance(self.dup_p) {
            // Sent again (a retransmission after a reconnect), a little later.
            let mut again = envelope.clone();
            again.at += self.net_rng.between(0, self.max_delay.max(1));
            self.duplicated += 1;
            self.in_flight.push(again);
        }
        self.in_flight.push(envelope);
    }

    /// Delivers every message due by now, round after round, in random order if reordering.
    pub(crate) fn deliver(&mut self) {
        for _ in 0..MAX_ROUNDS_PER_TICK {
            let tick = self.tick;
            // A paused process reads nothing: what is sent to it waits in its socket buffer.
            let paused = &self.paused_until;
            let (mut due, rest): (Vec<Envelope>, Vec<Envelope>) =
                std::mem::take(&mut self.in_flight)
                    .into_iter()
                    .partition(|e| e.at <= tick && !paused.contains_key(&e.to));
            self.in_flight = rest;
            if due.is_empty() {
                return;
            }
            if self.reorder {
                self.net_rng.shuffle(&mut due);
            }
            for e in due {
                if self.blocked.contains(&(e.from.clone(), e.to.clone())) {
                    continue;
                }
                if self.nodes.get(&e.to).is_some_and(|n| n.crashed) && !self.is_paused(&e.from) {
                    // The crashed node's host answers a connect with a refusal, as TCP does
                    // once nothing listens on the port.
                    let to = e.to;
                    self.step(&e.from, false, |r, _| r.connection_refused(&to));
                    continue;
                }
                let snapshot = is_snapshot(&e.frame);
                let mut refused = None;
                if self.step(&e.to, snapshot, |r, now| {
                    refused = r.receive(e.frame, now).err()
                }) {
                    self.delivered += 1;
                }
                if let Some(refused) = refused {
                    // Replicas of this product never send a frame another must refuse.
                    self.failures.push(format!(
                        "{} refused a frame from {}: {refused}",
                        e.to, e.from
                    ));
                }
            }
        }
    }
}
