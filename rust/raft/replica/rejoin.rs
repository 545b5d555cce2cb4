//! Healing after eviction. A node the others declared dead (a pause or a partition longer than
//! the failure timeout) is no longer in their raft configuration, so nothing raft sends tells it
//! so; it may not even have applied its own removal. So a member that has reached no leader for
//! the no-quorum time, or that applied its own removal, asks the members it knows to let it in
//! again (`ClusterJoinRequest`, every `rejoin_probe_ticks`); so does a member the leader
//! addresses by a higher raft id than its own (it was removed and admitted again, both unheard,
//! when a join request it sent earlier reached the leader late). The leader answers a member
//! with its raft id and admits a non-member under a new one, through the same committed
//! `AddMemberRequest` as a first join; raft ids are never reused, so an answer with a higher id
//! than this replica's means it was removed and is admitted again.
//!
//! Then the replica starts over under the new id with an empty log (the leader sends the state)
//! and, until its own admission is applied, tells nobody of the history it replays. At that point
//! it emits the events that take the layer above from the state it last heard of to the
//! cluster's (members that left, members that joined in order, itself moved to the end of the
//! join order, every address whose registrations changed), then [`Event::Rejoined`], and writes
//! back what the removal took from it: its registrations and node info as they stood when it was
//! removed (`StateMachine::owned_by`). Those writes are retried until applied, across further
//! evictions. Locks it held stay released (others may hold them now); requests in flight when
//! it started over fail with an error that says so (a write among them may or may not have been
//! applied, as with a timeout).
//!
//! Requests of the old incarnation cannot be mistaken for new ones: the new incarnation's
//! request ids start 2^20 past the old ones, and its first applied write sets its session's
//! floor above every old id. An old write can still apply in the short window between the
//! admission and that first write if a frame carrying it was delayed that long; it then
//! applies as a write of a member, as a write that timed out may.

use super::proposals::Unsent;
use super::{serial_before, Completion, PendingWrite, Phase, Replica};
use crate::fsm::{Event, StateMachine};
use crate::wire::{error_code, Message};

/// How far a new incarnation's request ids start past the old ones.
const TICKET_GAP: u32 = 1 << 20;

/// A replica between its readmission and the apply of it.
pub(super) struct Rejoin {
    /// The state this replica had applied when it started over: what the layer above last
    /// heard of.
    before: StateMachine,
}

impl Replica {
    /// Whether this replica should ask to be let in again: it applied its own removal, or it
    /// has reached no leader for the no-quorum time (it may have been removed meanwhile).
    pub(super) fn adrift(&self) -> bool {
        self.leaving.is_none()
            && (self.phase == (Phase::Removed { left: false }) || self.quorum_lost())
    }

    /// Whether this replica is adrift and knows no other member to ask to let it in again: it
    /// was admitted, and cut off before the cluster's state reached it. The layer above then
    /// sends [`Replica::join_request`] to the addresses it joined through, as while joining; an
    /// answer admits it again like any readmission.
    pub fn needs_join_contact(&self) -> bool {
        let own = self.raft_id();
        self.adrift()
            && !self
                .peers
                .iter()
                .any(|(id, a)| *id != own && *a != self.cfg.address)
    }

    /// Tick: asks every member this replica knows to let it in again when it is adrift, and
    /// writes back what a readmission restores once the cluster can take it.
    pub(super) fn rejoin_duties(&mut self) {
        if self.adrift() && self.ticks >= self.next_rejoin_probe_tick {
            let own = self.raft_id();
            let mut addresses: Vec<String> = self
                .peers
                .iter()
                .filter(|(id, a)| **id != own && **a != self.cfg.address)
                .map(|(_, a)| a.clone())
                .collect();
            addresses.sort_unstable();
            addresses.dedup();
            log::debug!(
                "{}: reaching no leader; asking {addresses:?} to let it in",
                self.cfg.node_id
            );
            self.ask_to_be_let_in(addresses);
        }
        if !self.restore_queue.is_empty()
            && self.phase == Phase::Member
            && self.rejoin.is_none()
            && !self.quorum_lost()
            && self.ticks >= self.next_restore_tick
        {
            self.next_restore_tick = self.ticks + self.cfg.rejoin_probe_ticks;
            for write in std::mem::take(&mut self.restore_queue) {
                self.submit_restore(write);
            }
        }
    }

    /// The leader addressed this replica by a higher raft id than its own: asks it (at most once
    /// every `rejoin_probe_ticks`) to let this node in, which it answers with that id, and waits
    /// as a replica that asked to be let in again does. If the leader answers with this
    /// replica's own id instead, the wait stays on (see `admitted`) until a readmission: higher
    /// ids are dropped meanwhile rather than refused.
    pub(super) fn ask_leader_for_own_id(&mut self) {
        if self.ticks < self.next_rejoin_probe_tick {
            return;
        }
        if let Some(leader) = self.leader_address() {
            self.ask_to_be_let_in(vec![leader]);
        }
    }

    /// Sends a join request to each of `addresses`, and waits for an answer with a new raft id
    /// (messages for a higher id are dropped meanwhile); the next ask is `rejoin_probe_ticks`
    /// away.
    fn ask_to_be_let_in(&mut self, addresses: Vec<String>) {
        self.next_rejoin_probe_tick = self.ticks + self.cfg.rejoin_probe_ticks;
        for address in addresses {
            let frame = self.join_request();
            self.outbox.push((address, frame));
        }
        self.asked_readmission = true;
    }

    /// A member answered a join request with `raft_id`: a joining replica starts, and a member
    /// answered with a newer id than its own starts over under it.
    pub(super) fn admitted(&mut self, raft_id: u64) {
        match self.phase {
            Phase::Joining => {
                if let Err(e) = self.start_as(raft_id) {
                    log::error!("{}: cannot start raft: {e}", self.cfg.node_id);
                }
            }
            Phase::Member | Phase::Removed { left: false }
                if raft_id > self.raft_id() && self.leaving.is_none() =>
            {
                // Admitted again: messages for a higher id than this one are news again. An
                // answer with this replica's own id does not end the wait: a member whose state
                // has not applied the removal yet answers so while the leader admits it anew.
                self.asked_readmission = false;
                self.start_over(raft_id);
            }
            _ => {}
        }
    }

    fn start_over(&mut self, raft_id: u64) {
        let old = self.raft_id();
        log::warn!(
            "{}: this node was removed from the cluster while unreachable (raft id {old}); it is \
             admitted again as raft id {raft_id}: its locks were released, requests in flight fail",
            self.cfg.node_id
        );
        let before = std::mem::take(&mut self.fsm);
        let mut restore = self
            .captured
            .take()
            .unwrap_or_else(|| before.owned_by(&self.cfg.node_id));
        for write in std::mem::take(&mut self.restore_queue)
            .into_iter()
            .chain(std::mem::take(&mut self.restoring).into_values())
        {
            if !restore.contains(&write) {
                restore.push(write);
            }
        }
        self.restore_queue = restore;
        self.fail_open(
            error_code::NOT_A_MEMBER,
            "this node was removed from the cluster after being unreachable and has rejoined; the \
             request was in flight then (a write may or may not have been applied)",
        );
        self.next_ticket = self.next_ticket.wrapping_add(TICKET_GAP);
        self.joins.clear();
        self.internal.clear();
        self.last_heard.clear();
        self.refused_since.clear();
        self.peers.remove(&old);
        self.leader_since_tick = None;
        self.known_leader = 0;
        self.checked_snapshot = None;
        self.raw = None;
        self.phase = Phase::Joining;
        self.rejoin = Some(Rejoin { before });
        if let Err(e) = self.start_as(raft_id) {
            log::error!("{}: cannot start raft again: {e}", self.cfg.node_id);
        }
    }

    /// Fails every open ticket with `code` (they belong to an incarnation that is gone).
    fn fail_open(&mut self, code: u16, message: &str) {
        let mut writes: Vec<(u32, PendingWrite)> = self.pending_writes.drain().collect();
        writes.sort_unstable_by_key(|(t, _)| *t);
        for (ticket, w) in &writes {
            self.write_failed(*ticket, &w.proposal);
        }
        let mut tickets: Vec<u32> = writes.into_iter().map(|(t, _)| t).collect();
        tickets.extend(self.reads.drain().into_iter().map(|r| r.ticket));
        tickets.sort_unstable();
        for t in tickets {
            self.completions.push(Completion {
                ticket: t,
                response: Message::error(code, message.to_owned()),
            });
        }
        self.unsent.clear();
    }

    /// Whether events are withheld: between starting over and the apply of the readmission,
    /// this replica replays history the layer above must not hear as news.
    pub(super) fn replaying(&self) -> bool {
        self.rejoin.is_some()
    }

    /// Before a command that removes this node (not a graceful leave) is applied: keeps what
    /// the removal takes, to write it back after a readmission.
    pub(super) fn removal_ahead(&mut self) {
        if self.rejoin.is_none() && self.leaving.is_none() && self.captured.is_none() {
            self.captured = Some(self.fsm.owned_by(&self.cfg.node_id));
        }
    }

    /// After an apply or a snapshot: once this replica's readmission is in its state, the layer
    /// above hears what changed while it was away, and what the removal took is written back.
    pub(super) fn check_readmitted(&mut self) {
        let own = self.raft_id();
        let readmitted = self.rejoin.is_some()
            && self
                .fsm
                .member_by_raft_id(own)
                .is_some_and(|m| m.node_id == self.cfg.node_id);
        if !readmitted {
            return;
        }
        let rejoin = self.rejoin.take().expect("checked");
        self.incarnation += 1;
        let node_id = self.cfg.node_id.clone();
        let changes = self.fsm.changes_since(&rejoin.before, Some(&node_id));
        self.events.extend(changes);
        self.events.push(Event::Rejoined {
            node_id: node_id.clone(),
        });
        log::info!(
            "{node_id}: back in the cluster as raft id {own}; writing back {} registrations and \
             node info",
            self.restore_queue.len()
        );
        for write in std::mem::take(&mut self.restore_queue) {
            self.submit_restore(write);
        }
    }

    pub(super) fn submit_restore(&mut self, write: Message) {
        let ticket = self.next_ticket();
        let proposal = self.proposal(ticket, &write);
        self.pending_writes.insert(
            ticket,
            PendingWrite {
                deadline_tick: self.ticks + self.cfg.request_timeout_ticks,
                leader: 0,
                proposal,
            },
        );
        self.unsent.push(Unsent::Own(ticket));
        self.restoring.insert(ticket, write);
    }

    /// Once this node is a member: if the cluster kept a session of its node id from an earlier
    /// process (one that left, or was declared dead, under the same id: sessions outlive their
    /// node, see `fsm::sessions`), its request ids continue past that process's, which the state
    /// machine would otherwise skip as repeats. A readmitted replica's ids are past them already.
    pub(super) fn number_past_earlier_process(&mut self) {
        if self.numbered_past_earlier || !self.fsm.is_member(&self.cfg.node_id) {
            return;
        }
        self.numbered_past_earlier = true;
        if let Some(newest) = self.fsm.newest_request_of(&self.cfg.node_id) {
            // Ahead of this process's own ids (at most its own join so far, when it bootstrapped).
            if serial_before(self.next_ticket, newest) {
                log::debug!(
                    "{}: the cluster holds requests of this node id up to {newest}; numbering \
                     continues past them",
                    self.cfg.node_id
                );
                self.next_ticket = newest.wrapping_add(TICKET_GAP);
            }
        }
    }

    /// A write-back ended: applied (`Ok`) or failed; a failed one is queued to be tried again.
    /// False when `ticket` is not a write-back.
    pub(super) fn restore_settled(&mut self, ticket: u32, response: &Message) -> bool {
        let Some(write) = self.restoring.remove(&ticket) else {
            return false;
        };
        if let Message::ErrorResponse { message, .. } = response {
            log::debug!(
                "{}: writing back {} failed ({message}); trying again",
                self.cfg.node_id,
                write.name()
            );
            self.restore_queue.push(write);
        }
        true
    }

    /// A graceful leave gives nothing back.
    pub(super) fn forget_restore(&mut self) {
        self.captured = None;
        self.restore_queue.clear();
        self.restoring.clear();
    }

    /// How many times this node was removed and admitted again.
    pub fn incarnation(&self) -> u32 {
        self.incarnation
    }
}
