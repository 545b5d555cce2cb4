//! The Ready path of a [`Replica`]: handling raft-rs's `Ready` in the documented order, sending
//! raft messages, installing snapshots, applying committed entries to the state machine (and
//! answering the tickets and joins they complete), answering confirmed reads, and taking and
//! compacting snapshots.

use protobuf::Message as _;
use raft::prelude::{
    ConfChange, ConfChangeType, ConfChangeV2, Entry, EntryType, Message as RaftMsg, MessageType,
    Snapshot,
};
use raft::{ProgressState, SnapshotStatus};
use raft_proto::ConfChangeI;

use super::super::command::{self, Command};
use super::feed::{Peers, MAX_HELD_BYTES};
use super::{Completion, Phase, Replica};
use crate::fsm::{may_come_from_outside, ApplyContext, Event, StateMachine};
use crate::wire::{error_code, FramedMessage, Message, MessageFlags, MessageRef};

impl Replica {
    pub(super) fn handle_ready(&mut self) {
        let raw = self.raw.as_mut().expect("checked by the caller");
        let mut rd = raw.ready();
        let messages = rd.take_messages();
        self.send_raft(messages);
        if !rd.snapshot().is_empty() {
            self.install_snapshot(rd.snapshot().clone());
        }
        self.checked_snapshot = None;
        let committed = rd.take_committed_entries();
        self.apply_entries(committed);
        let raw = self.raw.as_mut().expect("still there");
        if !rd.entries().is_empty() {
            raw.mut_store()
                .append(rd.entries())
                .expect("appending to the in-memory log");
        }
        if let Some(hs) = rd.hs() {
            raw.mut_store().set_hard_state(hs.clone());
        }
        for rs in rd.take_read_states() {
            self.read_confirmed(&rs.request_ctx, rs.index);
        }
        let persisted = rd.take_persisted_messages();
        self.send_raft(persisted);
        let raw = self.raw.as_mut().expect("still there");
        let mut light = raw.advance(rd);
        if let Some(commit) = light.commit_index() {
            raw.mut_store().set_commit(commit);
        }
        let messages = light.take_messages();
        let committed = light.take_committed_entries();
        self.send_raft(messages);
        self.apply_entries(committed);
        self.raw.as_mut().expect("still there").advance_apply();
        let expedited = self.feed.take_expedited();
        self.dispatch(expedited);
        self.maybe_snapshot();
    }

    /// Sends raft's messages, voters' first (a commit waits for them only); what goes to
    /// learners is coalesced (see `feed.rs`).
    pub(super) fn send_raft(&mut self, messages: Vec<RaftMsg>) {
        let learner_heartbeat_ticks = self.learner_heartbeat_ticks();
        let messages = match self.raw.as_ref() {
            Some(raw) => {
                let prs = raw.raft.prs();
                let steady = |id: u64| {
                    prs.get(id)
                        .is_some_and(|p| p.state == ProgressState::Replicate)
                };
                let peers = Peers {
                    learners: prs.conf().learners(),
                    steady: &steady,
                    tick: self.ticks,
                    learner_heartbeat_ticks,
                    max_held_bytes: MAX_HELD_BYTES.min(self.cfg.max_command_bytes),
                };
                self.feed.route(messages, &peers)
            }
            None => messages,
        };
        self.dispatch(messages);
    }

    /// Sends what the feed held for learners (at each tick).
    pub(super) fn release_held(&mut self) {
        let Some(raw) = self.raw.as_ref() else {
            return;
        };
        let held = self.feed.release_all(
            raw.raft.raft_log.committed,
            raw.raft.prs().conf().learners(),
        );
        self.dispatch(held);
    }

    /// Sends raft messages as they are.
    pub(super) fn dispatch(&mut self, messages: Vec<RaftMsg>) {
        for msg in messages {
            let Some(addr) = self.address_of(msg.to) else {
                log::debug!("{}: no address for raft id {}", self.cfg.node_id, msg.to);
                continue;
            };
            let snapshot_to = (msg.get_msg_type() == MessageType::MsgSnapshot).then_some(msg.to);
            let data = msg
                .write_to_bytes()
                .expect("protobuf encoding of a raft message");
            let frame = FramedMessage::new(
                MessageFlags::NONE,
                0,
                Message::RaftMessage {
                    from_address: self.cfg.address.clone(),
                    data,
                },
            );
            self.outbox.push((addr, frame));
            if let Some(to) = snapshot_to {
                // The transport does not report delivery: count the snapshot as sent, so raft
                // probes the follower again instead of waiting for it forever (a lost snapshot
                // is then sent again).
                if let Some(raw) = self.raw.as_mut() {
                    raw.report_snapshot(to, SnapshotStatus::Finish);
                }
            }
        }
    }

    fn address_of(&self, raft_id: u64) -> Option<String> {
        if let Some(a) = self.peers.get(&raft_id) {
            return Some(a.clone());
        }
        self.fsm
            .member_by_raft_id(raft_id)
            .map(|m| m.address.clone())
    }

    fn install_snapshot(&mut self, snapshot: Snapshot) {
        let meta = snapshot.get_metadata();
        let decoded = match self.checked_snapshot.take() {
            Some(c) if (c.index, c.term) == (meta.index, meta.term) => Ok(c.fsm),
            _ => StateMachine::from_snapshot(snapshot.get_data()),
        };
        match decoded {
            Ok(fsm) => {
                let index = snapshot.get_metadata().index;
                let before = std::mem::replace(&mut self.fsm, fsm);
                self.catch_up_events(&before);
                for m in self.fsm.members() {
                    if m.raft_id != 0 {
                        self.peers.insert(m.raft_id, m.address.clone());
                    }
                }
                let raw = self.raw.as_mut().expect("checked");
                if let Err(e) = raw.mut_store().apply_snapshot(snapshot) {
                    log::error!(
                        "{}: snapshot at {index} refused by storage: {e}",
                        self.cfg.node_id
                    );
                }
                log::info!(
                    "{}: installed a snapshot at index {index}",
                    self.cfg.node_id
                );
                self.check_readmitted();
            }
            Err(e) => log::error!("{}: received a corrupt snapshot: {e}", self.cfg.node_id),
        }
    }

    fn apply_entries(&mut self, entries: Vec<Entry>) {
        for entry in entries {
            // A leader's first entry of its term is empty; an empty joint change is not: it
            // leaves the joint configuration.
            if entry.data.is_empty() && entry.get_entry_type() != EntryType::EntryConfChangeV2 {
                continue;
            }
            match entry.get_entry_type() {
                EntryType::EntryNormal => match command::decode(&entry.data) {
                    Ok(c) => self.apply_command(entry.index, c),
                    Err(e) => log::error!(
                        "{}: undecodable entry {}: {e}",
                        self.cfg.node_id,
                        entry.index
                    ),
                },
                EntryType::EntryConfChange => match ConfChange::parse_from_bytes(&entry.data) {
                    Ok(cc) => self.apply_conf_change(cc.into_v2()),
                    Err(_) => log::error!(
                        "{}: undecodable conf change {}",
                        self.cfg.node_id,
                        entry.index
                    ),
                },
                // Learners added together, and the empty change that leaves that joint
                // configuration (see `membership.rs`).
                EntryType::EntryConfChangeV2 => match ConfChangeV2::parse_from_bytes(&entry.data) {
                    Ok(cc) => self.apply_conf_change(cc),
                    Err(_) => log::error!(
                        "{}: undecodable conf change {}",
                        self.cfg.node_id,
                        entry.index
                    ),
                },
            }
        }
    }

    fn apply_conf_change(&mut self, cc: ConfChangeV2) {
        let raw = self.raw.as_mut().expect("applying needs raft");
        match raw.apply_conf_change(&cc) {
            Ok(cs) => {
                log::debug!(
                    "{}: conf change {:?} -> voters {:?} learners {:?}",
                    self.cfg.node_id,
                    cc.changes,
                    cs.voters,
                    cs.learners
                );
                raw.mut_store().set_conf_state(cs);
                for change in &cc.changes {
                    if change.get_change_type() == ConfChangeType::RemoveNode {
                        self.last_heard.remove(&change.node_id);
                        self.refused_since.remove(&change.node_id);
                    }
                }
            }
            Err(e) => log::error!("{}: conf change refused: {e}", self.cfg.node_id),
        }
    }

    /// A member that skipped part of the log by installing a snapshot tells the layer above
    /// what the skipped entries would have: who left and joined, which registrations changed,
    /// which of its lock waits were granted or ended, and its own removal if that was among them.
    fn catch_up_events(&mut self, before: &StateMachine) {
        if self.replaying() || before.last_applied() == 0 || self.phase != Phase::Member {
            return;
        }
        self.events.extend(self.fsm.changes_since(before, None));
        let me = &self.cfg.node_id;
        let mut ended: Vec<(u64, Event)> = Vec::new();
        for (lock_name, request_id) in before.lock_waits_of(me) {
            let event = match self.fsm.lock_holder(&lock_name) {
                Some(h) if h.node_id == *me && h.request_id == request_id => (
                    h.fencing_token,
                    Event::LockGranted {
                        lock_name,
                        node_id: me.clone(),
                        request_id,
                        fencing_token: h.fencing_token,
                    },
                ),
                _ if self.fsm.acquisition_pending(&lock_name, me, request_id) => continue,
                // Expired, or dropped with a cancel: not granted, in any case.
                _ => (
                    0,
                    Event::LockWaitExpired {
                        lock_name,
                        node_id: me.clone(),
                        request_id,
                    },
                ),
            };
            ended.push(event);
        }
        // Grants in the order they were made, as the entries would have told them.
        ended.sort_by_key(|(token, _)| *token);
        self.events.extend(ended.into_iter().map(|(_, e)| e));
        if before.is_member(me) && !self.fsm.is_member(me) {
            let left = self.leaving.is_some();
            if !left && self.captured.is_none() {
                self.captured = Some(before.owned_by(me));
            }
            self.phase = Phase::Removed { left };
        }
    }

    fn apply_command(&mut self, index: u64, c: Command<'_>) {
        let ctx = ApplyContext {
            index,
            now_ms: c.now_ms,
            origin: c.origin,
            request_id: c.request_id,
        };
        if !self.fsm.is_member(c.origin) && !may_come_from_outside(&c.request) {
            // A node removed from the cluster (declared dead while cut off) must not take locks
            // or write: nobody would clean up after it. Decided at this log position, the same on
            // every replica.
            log::debug!(
                "index {index}: {} from non-member {} refused",
                c.request.name(),
                c.origin
            );
            let refused = (c.origin == self.cfg.node_id)
                .then(|| self.pending_writes.remove(&c.request_id))
                .flatten();
            if let Some(w) = refused {
                // A copy of it may still come after this node is admitted again.
                self.write_failed(c.request_id, &w.proposal);
                self.fail(
                    c.request_id,
                    error_code::NOT_A_MEMBER,
                    "this node is no longer a member of the cluster".to_owned(),
                );
            }
            return;
        }
        if matches!(&c.request, MessageRef::LeaveRequest { node_id } if *node_id == self.cfg.node_id)
        {
            self.removal_ahead();
        }

        let Some(applied) = self.fsm.apply_once_ref(c.request, &ctx, c.settled_below) else {
            // A second copy of a request proposed again after a leader change.
            return;
        };
        if let Message::AddMemberResponse { raft_id } = &applied.response {
            // Every replica learns the new member's address from the log.
            if let Some(m) = self.fsm.member_by_raft_id(*raft_id) {
                self.peers.insert(m.raft_id, m.address.clone());
            }
            if self.replaying() {
                self.check_readmitted();
                return;
            }
        }
        if self.replaying() {
            // History of the cluster, replayed by a node starting over: not news.
            return;
        }
        for event in &applied.events {
            if let Event::NodeLeft { node_id } = event {
                if *node_id == self.cfg.node_id {
                    let left = self.leaving.is_some();
                    self.phase = Phase::Removed { left };
                    log::info!(
                        "{}: removed from the cluster (graceful: {left})",
                        self.cfg.node_id
                    );
                }
            }
        }
        if self.is_leader() {
            self.expedite(&applied.events);
        }
        self.events.extend(applied.events);
        if c.origin != self.cfg.node_id {
            return;
        }
        if let Some(join) = self.joins.remove(&c.request_id) {
            let reply = FramedMessage::response(join.request_id, join_reply(&applied.response));
            self.outbox.push((join.address, reply));
        }
        if self.internal.remove(&c.request_id).is_some() {
            return;
        }
        if self.pending_writes.remove(&c.request_id).is_some()
            && !self.restore_settled(c.request_id, &applied.response)
        {
            self.completions.push(Completion {
                ticket: c.request_id,
                response: applied.response,
            });
        }
    }

    /// What is held for learners leaves now rather than at the next tick when an entry's events
    /// concern them: a lock granted to a learner, or its wait for one timed out, is answered by
    /// the learner's own state machine; members and registrations are read by every member from
    /// its own state.
    fn expedite(&mut self, events: &[Event]) {
        for event in events {
            match event {
                Event::LockGranted { node_id, .. } | Event::LockWaitExpired { node_id, .. } => {
                    if node_id != &self.cfg.node_id {
                        if let Some(raft_id) = self.fsm.raft_id_of(node_id) {
                            self.feed.expedite(raft_id);
                        }
                    }
                }
                Event::NodeAdded { .. }
                | Event::NodeLeft { .. }
                | Event::RegistrationsChanged { .. }
                | Event::Rejoined { .. } => self.feed.expedite_all(),
            }
        }
    }

    pub(super) fn answer_reads(&mut self) {
        // raft's applied index, not the state machine's: conf changes and empty entries count.
        let applied = self.raw.as_ref().map_or(0, |r| r.raft.raft_log.applied);
        for read in self.reads.ready(applied) {
            let response = self.fsm.query(&read.request, self.read_time());
            self.completions.push(Completion {
                ticket: read.ticket,
                response,
            });
        }
    }

    /// The state machine as a raft snapshot at the applied index.
    fn take_snapshot(&self) -> Option<Snapshot> {
        let raw = self.raw.as_ref().expect("checked");
        let applied = raw.raft.raft_log.applied;
        let term = raw.raft.raft_log.term(applied).ok()?;
        let mut snapshot = Snapshot::default();
        snapshot.set_data(self.fsm.create_snapshot().into());
        let meta = snapshot.mut_metadata();
        meta.index = applied;
        meta.term = term;
        meta.set_conf_state(raw.raft.prs().conf().to_conf_state());
        Some(snapshot)
    }

    /// Takes a snapshot when raft wants one to send, and compacts the log once it is long:
    /// once `compact_after_entries` applied entries, or `compact_after_bytes` bytes of entries,
    /// have piled up, the older half goes, so a follower a little behind still catches up from
    /// the log. Compaction builds no snapshot (serialising the whole state machine every few
    /// thousand writes was the leader's largest cost under load); one is built only when a
    /// follower needs it.
    pub(super) fn maybe_snapshot(&mut self) {
        let raw = self.raw.as_ref().expect("checked");
        let applied = raw.raft.raft_log.applied;
        let store = raw.store();
        let first = store.first_log_index();
        let threshold = self.cfg.compact_after_entries.max(2);
        let too_long = applied >= first && applied - first >= threshold;
        let too_large = store.log_bytes() >= self.cfg.compact_after_bytes;
        if too_long || too_large {
            let from =
                store.compaction_point(applied, threshold / 2, self.cfg.compact_after_bytes / 2);
            let store = self.raw.as_mut().expect("checked").mut_store();
            match store.compact(from) {
                Ok(()) => log::debug!("{}: log compacted up to {from}", self.cfg.node_id),
                Err(e) => log::warn!(
                    "{}: log compaction up to {from} failed: {e}",
                    self.cfg.node_id
                ),
            }
        }
        let raw = self.raw.as_ref().expect("checked");
        let Some(to) = raw.store().take_snapshot_wanted() else {
            return;
        };
        if let Some(snapshot) = self.take_snapshot() {
            let raw = self.raw.as_mut().expect("checked");
            raw.mut_store().set_snapshot(snapshot);
            // Sent with the next Ready, not after the follower's next response. (raft-rs's
            // `send_append` panics for a peer it no longer tracks: a conf change applied since
            // the request may have removed it.)
            if raw.raft.state == raft::StateRole::Leader && raw.raft.prs().get(to).is_some() {
                raw.raft.send_append(to);
            }
        }
    }
}

/// What the joiner is told once its membership was applied.
fn join_reply(applied: &Message) -> Message {
    match applied {
        Message::AddMemberResponse { raft_id } => {
            Message::ClusterJoinResponse { raft_id: *raft_id }
        }
        other => other.clone(),
    }
}
