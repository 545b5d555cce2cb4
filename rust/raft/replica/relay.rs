//! The leader's side of [`ReadRelay`] (see `reads.rs`): the ReadIndex requests of other members
//! and its own read batches asked of raft in one round, and each asker answered with the index
//! that round confirmed.

use raft::prelude::{Entry, Message as RaftMsg, MessageType};

use super::Replica;

impl Replica {
    /// Takes a ReadIndex request from another member for the leader's next round. `false` when
    /// this replica does not lead: raft forwards the request to the leader.
    pub(super) fn relay_read(&mut self, msg: &RaftMsg) -> bool {
        if msg.get_msg_type() != MessageType::MsgReadIndex || !self.is_leader() {
            return false;
        }
        // Checked: a read index carries exactly one entry, its context.
        let context = msg.entries[0].data.to_vec();
        self.relay.push(msg.from, context);
        true
    }

    /// Asks for the read index of this replica's own batch `context`.
    pub(super) fn ask_read_index(&mut self, context: Vec<u8>) {
        if self.is_leader() {
            self.relay.push(self.raft_id(), context);
        } else if let Some(raw) = self.raw.as_mut() {
            raw.read_index(context);
        }
    }

    /// Starts one raft round for every read collected since the last (leader only).
    pub(super) fn start_read_round(&mut self) {
        if !self.is_leader() {
            if !self.relay.is_empty() {
                self.relay.clear();
            }
            return;
        }
        if let Some(context) = self.relay.start_round(self.ticks) {
            self.raw.as_mut().expect("a leader").read_index(context);
        }
    }

    /// Forgets rounds raft dropped (at a tick): asked over two retries ago (`retry` ticks each),
    /// their askers have asked again since.
    pub(super) fn forget_stale_rounds(&mut self, retry: u64) {
        self.relay
            .forget_asked_before(self.ticks.saturating_sub(2 * retry));
    }

    /// Raft confirmed the read index `index` for `context`: a round of the leader's, whose
    /// askers are answered, or a batch of this replica's own.
    pub(super) fn read_confirmed(&mut self, context: &[u8], index: u64) {
        let own = self.raft_id();
        let Some(asks) = self.relay.confirmed(context) else {
            self.reads.confirmed(context, index, own);
            return;
        };
        let term = self.raw.as_ref().map_or(0, |r| r.raft.term);
        let mut answers = Vec::new();
        for (asker, context) in asks {
            if asker == own {
                self.reads.confirmed(&context, index, own);
                continue;
            }
            // What raft-rs's leader answers a read index with.
            let mut m = RaftMsg::default();
            m.set_msg_type(MessageType::MsgReadIndexResp);
            m.from = own;
            m.to = asker;
            m.term = term;
            m.index = index;
            let entry = Entry {
                data: context.into(),
                ..Default::default()
            };
            m.set_entries(vec![entry].into());
            answers.push(m);
        }
        self.send_raft(answers);
    }
}
