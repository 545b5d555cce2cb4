//! Joining: the frame a new node sends to ask a member to let it in, the leader's admission of
//! a joiner (one committed `AddMemberRequest` per joiner and term, however many members it asks
//! and forward its request), and the joiner starting raft under the raft id it was given (the
//! leader then adds it to raft's configuration, see `membership.rs`, and sends it the state).
//! Rejoining after an eviction, which ends in the same admission, is in `rejoin.rs`.

use raft::RawNode;

use super::{Phase, Replica};
use crate::raft::storage::LogStore;
use crate::wire::{FramedMessage, Message, MessageFlags};

/// A join this replica proposed as leader, answered once applied.
#[derive(Debug, Clone)]
pub(in crate::raft) struct PendingJoin {
    node_id: String,
    /// The term it was proposed in: a leader of a later term proposes a retried join again.
    term: u64,
    /// The joiner's listen address, where the answer goes.
    pub(super) address: String,
    pub(super) request_id: u32,
}

impl Replica {
    /// The frame that asks a member to let this replica in. `request_id` 0 is the join's.
    pub fn join_request(&self) -> FramedMessage<Message> {
        FramedMessage::request(
            0,
            Message::ClusterJoinRequest {
                node_id: self.cfg.node_id.clone(),
                address: self.cfg.address.clone(),
                domain: self.cfg.domain.clone(),
            },
        )
    }

    /// Starts raft once a member has let this replica in with `raft_id`. Empty storage: the
    /// leader sends the log or a snapshot.
    pub(super) fn start_as(&mut self, raft_id: u64) -> raft::Result<()> {
        if self.raw.is_some() {
            return Ok(());
        }
        let config = self.raft_config(raft_id);
        self.raw = Some(RawNode::new(&config, LogStore::default(), &self.logger)?);
        self.phase = Phase::Member;
        self.leader_contact_tick = self.ticks;
        self.peers.insert(raft_id, self.cfg.address.clone());
        log::info!(
            "{}: joined the cluster as raft id {raft_id}",
            self.cfg.node_id
        );
        Ok(())
    }

    pub(super) fn on_join_request(
        &mut self,
        request_id: u32,
        node_id: String,
        address: String,
        domain: String,
        now_ms: u64,
    ) {
        if self.is_leader() {
            if let Some(raft_id) = self.fsm.raft_id_of(&node_id) {
                // A retried join whose first attempt was applied: answer again.
                let reply =
                    FramedMessage::response(request_id, Message::ClusterJoinResponse { raft_id });
                self.outbox.push((address, reply));
                return;
            }
            let term = self.raw.as_ref().map_or(0, |r| r.raft.term);
            let proposed = |j: &PendingJoin| j.node_id == node_id && j.term == term;
            if self.joins.values().any(proposed) {
                // Its admission is proposed already in this term and answered once applied.
                // (A node that asks to be let in again asks every member it knows, and each
                // forwards the request here: an entry each would flood the log after a
                // partition heals.)
                return;
            }
            let ticket = self.next_ticket();
            let join = PendingJoin {
                node_id: node_id.clone(),
                term,
                address: address.clone(),
                request_id,
            };
            self.joins.insert(ticket, join);
            self.internal
                .insert(ticket, self.ticks + self.cfg.request_timeout_ticks);
            let add = Message::AddMemberRequest {
                node_id,
                address,
                domain,
            };
            let proposal = self.proposal(ticket, &add);
            self.propose_or_forward(proposal, now_ms);
        } else if let Some(leader) = self.leader_address() {
            let frame = FramedMessage::new(
                MessageFlags::REQUEST,
                request_id,
                Message::ClusterJoinRequest {
                    node_id,
                    address,
                    domain,
                },
            );
            self.outbox.push((leader, frame));
        }
    }
}
