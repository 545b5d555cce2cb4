//! The write path of a [`Replica`]: stamping a request into a proposal, proposing the queued
//! proposals in one batch when leading, forwarding them in one frame to the leader otherwise,
//! and proposing again, through a new leader, the writes a lost leader left unapplied.

use raft::prelude::{Entry, Message as RaftMsg, MessageType};

use super::super::command;
use super::{serial_before, PendingWrite, Replica};
use crate::wire::{FramedMessage, Message, MessageFlags, Proposal};

/// A write waiting to be proposed (leader) or forwarded (follower).
#[derive(Debug)]
pub(super) enum Unsent {
    /// A write of this replica: its proposal is in `pending_writes`, not copied.
    Own(u32),
    /// An internal command, or a write another node forwarded.
    Other(Proposal),
}

impl Replica {
    /// The proposal of a request of this replica, stamped with its lowest open request id.
    pub(in crate::raft) fn proposal(&self, ticket: u32, request: &Message) -> Proposal {
        let settled = self.settled_below();
        // The request itself is open too, whether or not it is registered yet.
        let settled = if serial_before(ticket, settled) {
            ticket
        } else {
            settled
        };
        command::proposal(&self.cfg.node_id, ticket, settled, request)
    }

    /// The oldest ticket of this replica that may still be applied: every earlier one is settled.
    /// Computed once per drive (a scan of the open tickets), not once per proposal.
    pub(super) fn settled_below(&self) -> u32 {
        if let Some(floor) = self.settled_floor.get() {
            return floor;
        }
        let floor = self.scan_settled_below();
        self.settled_floor.set(Some(floor));
        floor
    }

    fn scan_settled_below(&self) -> u32 {
        self.pending_writes
            .keys()
            .chain(self.internal.keys())
            .copied()
            .fold(self.next_ticket.wrapping_add(1), |oldest, t| {
                if serial_before(t, oldest) {
                    t
                } else {
                    oldest
                }
            })
    }

    /// Queues a proposal: the next [`Replica::drive`] proposes everything queued as one raft
    /// message when this replica leads, or forwards it in one frame to the leader.
    pub(in crate::raft) fn propose_or_forward(&mut self, p: Proposal, _now_ms: u64) {
        self.unsent.push(Unsent::Other(p));
    }

    /// Whether writes wait to be proposed or forwarded (the next drive sends them when it can).
    pub fn has_unsent(&self) -> bool {
        !self.unsent.is_empty()
    }

    /// Proposes a batch as leader in one raft message, stamping the time. When raft refuses the
    /// batch (leadership moving away), it waits in the queue for the next leader.
    fn propose_batch(&mut self, batch: Vec<Unsent>, now_ms: u64) {
        let me = self.raft_id();
        let stamp = self.cluster_time(now_ms);
        let mut entries = Vec::with_capacity(batch.len());
        for item in &batch {
            let proposal = match item {
                Unsent::Own(ticket) => match self.pending_writes.get_mut(ticket) {
                    Some(w) => {
                        w.leader = me;
                        &w.proposal
                    }
                    None => continue,
                },
                Unsent::Other(p) => p,
            };
            entries.push(Entry {
                data: command::encode(stamp, proposal).into(),
                ..Default::default()
            });
        }
        let mut m = RaftMsg::default();
        m.set_msg_type(MessageType::MsgPropose);
        m.from = me;
        m.set_entries(entries.into());
        let raw = self.raw.as_mut().expect("only a leader proposes");
        let stepped = raw.raft.step(m);
        if stepped.is_ok() {
            self.learners_wait(&batch);
        }
        if let Err(e) = stepped {
            log::debug!(
                "{}: {} proposals not accepted ({e}); kept for the next leader",
                self.cfg.node_id,
                batch.len()
            );
            for item in &batch {
                if let Unsent::Own(ticket) = item {
                    if let Some(w) = self.pending_writes.get_mut(ticket) {
                        w.leader = 0;
                    }
                }
            }
            let mut queued = batch;
            queued.append(&mut self.unsent);
            self.unsent = queued;
        }
    }

    /// The learners whose writes were just appended wait for their commit: the feed sends them
    /// their messages at once until then (see `feed.rs`).
    fn learners_wait(&mut self, batch: &[Unsent]) {
        let raw = self.raw.as_ref().expect("only a leader proposes");
        let learners = raw.raft.prs().conf().learners();
        if learners.is_empty() {
            return;
        }
        let index = raw.raft.raft_log.last_index();
        let mut origins: Vec<&str> = batch
            .iter()
            .filter_map(|item| match item {
                Unsent::Other(p) if p.origin != self.cfg.node_id => Some(p.origin.as_str()),
                _ => None,
            })
            .collect();
        origins.sort_unstable();
        origins.dedup();
        for origin in origins {
            let raft_id = self.fsm.raft_id_of(origin);
            if let Some(id) = raft_id.filter(|id| learners.contains(id)) {
                self.feed.wait_for(id, index);
            }
        }
    }

    /// Sends the queued writes on: proposed in one batch when this replica leads, forwarded in
    /// one frame to the leader otherwise (they wait while there is none).
    pub(super) fn send_unsent(&mut self, now_ms: u64) {
        if !self.unsent.is_empty() {
            if self.is_leader() {
                let batch = std::mem::take(&mut self.unsent);
                self.propose_batch(batch, now_ms);
            } else if let Some(addr) = self.leader_address() {
                let leader = self.leader_id();
                // Frames of at most one command's budget each (a command alone always fits).
                let budget = self.cfg.max_command_bytes;
                let mut frames = Vec::new();
                let mut proposals = Vec::with_capacity(self.unsent.len());
                let mut bytes = 0;
                for item in std::mem::take(&mut self.unsent) {
                    let proposal = match item {
                        Unsent::Own(ticket) => match self.pending_writes.get_mut(&ticket) {
                            Some(w) => {
                                w.leader = leader;
                                w.proposal.clone()
                            }
                            None => continue,
                        },
                        Unsent::Other(p) => {
                            if p.origin == self.cfg.node_id {
                                if let Some(w) = self.pending_writes.get_mut(&p.request_id) {
                                    w.leader = leader;
                                }
                            }
                            p
                        }
                    };
                    let size = command::encoded_len(&proposal);
                    if bytes + size > budget && !proposals.is_empty() {
                        frames.push(std::mem::take(&mut proposals));
                        bytes = 0;
                    }
                    bytes += size;
                    proposals.push(proposal);
                }
                frames.push(proposals);
                for proposals in frames {
                    let frame = FramedMessage::new(
                        MessageFlags::NONE,
                        0,
                        Message::ForwardProposals { proposals },
                    );
                    self.outbox.push((addr.clone(), frame));
                }
            }
        }
    }

    /// Proposes again, through the new leader, the writes that went to a leader that lost
    /// leadership before they were applied: the first copy may or may not be in the log, and the
    /// state machine applies a request only once.
    pub(super) fn repropose_writes_of_leader(&mut self, old: u64) {
        let newest = self.next_ticket;
        let mut again: Vec<(&u32, &mut PendingWrite)> = self
            .pending_writes
            .iter_mut()
            .filter(|(_, w)| w.leader == old)
            .collect();
        // Oldest first.
        again.sort_by_key(|(ticket, _)| std::cmp::Reverse(newest.wrapping_sub(**ticket)));
        let mut proposals = Vec::with_capacity(again.len());
        for (ticket, w) in again {
            w.leader = 0;
            proposals.push(Unsent::Own(*ticket));
        }
        if !proposals.is_empty() {
            log::debug!(
                "{}: proposing {} writes again after a leader change",
                self.cfg.node_id,
                proposals.len()
            );
        }
        // Ahead of anything queued since: the order of a node's requests is kept.
        proposals.append(&mut self.unsent);
        self.unsent = proposals;
    }
}
