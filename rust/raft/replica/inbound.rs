//! Frames received from other nodes: raft messages (checked by `validate.rs` before raft sees
//! them, and read-index rounds relayed for learners), proposals forwarded to the leader, and the
//! join handshake.

use protobuf::Message as _;
use raft::prelude::{Message as RaftMsg, MessageType};

use super::{validate, Refused, Replica, Unsent};
use crate::wire::{FramedMessage, Message, MessageFlags};

impl Replica {
    /// Handles a frame from another node. A raft message that fails the checks of
    /// `validate.rs` is refused before raft sees it: the caller counts it and closes the
    /// connection that carried it.
    pub fn receive(&mut self, frame: FramedMessage<Message>, now_ms: u64) -> Result<(), Refused> {
        match frame.payload {
            Message::RaftMessage { from_address, data } => {
                // Parsed from shared bytes: the entries' data are slices of this buffer, not
                // copies of it.
                let data = bytes::Bytes::from(data);
                let msg = RaftMsg::parse_from_carllerche_bytes(&data).map_err(|e| Refused {
                    reason: "undecodable raft message",
                    detail: format!("from {from_address}: {e}"),
                })?;
                if self.raw.is_none() {
                    return Ok(());
                }
                if self.readdressed_by_leader(&msg) {
                    self.ask_leader_for_own_id();
                    return Ok(());
                }
                if self.stale_recipient(&msg) {
                    return Ok(());
                }
                let raw = self.raw.as_mut().expect("checked");
                if let Some(snapshot) = validate::check(&raw.raft, &msg)? {
                    self.checked_snapshot = Some(snapshot);
                }
                self.peers.entry(msg.from).or_insert(from_address);
                self.last_heard.insert(msg.from, self.ticks);
                self.refused_since.remove(&msg.from);
                if msg.from == raw.raft.leader_id || msg.get_msg_type() == MessageType::MsgAppend {
                    self.leader_contact_tick = self.ticks;
                }
                if self.relay_read(&msg) {
                    return Ok(());
                }
                let raw = self.raw.as_mut().expect("checked");
                if let Err(e) = raw.step(msg) {
                    log::debug!("{}: raft step: {e}", self.cfg.node_id);
                }
            }
            Message::ForwardProposals { mut proposals } => {
                if self.is_leader() {
                    self.unsent.extend(proposals.drain(..).map(Unsent::Other));
                } else if let Some(addr) = self.leader_address() {
                    let frame = FramedMessage::new(
                        MessageFlags::NONE,
                        0,
                        Message::ForwardProposals { proposals },
                    );
                    self.outbox.push((addr, frame));
                }
            }
            Message::ClusterJoinRequest {
                node_id,
                address,
                domain,
            } => {
                self.on_join_request(frame.request_id, node_id, address, domain, now_ms);
            }
            Message::ClusterJoinResponse { raft_id } => self.admitted(raft_id),
            other => {
                log::debug!(
                    "{}: ignoring {} from a peer",
                    self.cfg.node_id,
                    other.name()
                );
            }
        }
        Ok(())
    }

    /// A message for another raft id that is no news to refuse: one for an earlier incarnation
    /// of this node (raft ids only grow), or, once this replica has asked to be let in again
    /// and until it is admitted under a new id, one for a higher id: the id it is being admitted
    /// under (the leader's first messages may come before its answer, and a late message from
    /// the leader may have made this replica believe it is still a member meanwhile). Dropped
    /// unread, as raft lets any message be lost; any other wrong recipient, but one the leader
    /// sent (`readdressed_by_leader`), is refused by the checks.
    fn stale_recipient(&self, msg: &RaftMsg) -> bool {
        let (own, to) = (self.raft_id(), msg.to);
        // A read index this replica sent to a leader that has stepped down since comes back:
        // raft-rs forwards it to its new leader, this one, keeping the sender.
        let own_read = msg.from == own && msg.get_msg_type() == MessageType::MsgReadIndex;
        let readmitted = to > own && (self.asked_readmission || self.adrift());
        let stale = own_read || to < own || readmitted;
        if stale {
            log::debug!(
                "{}: dropped a raft message for raft id {to} (this node is {own})",
                self.cfg.node_id
            );
        }
        stale
    }

    /// A message for a higher raft id from the leader this replica follows: the cluster removed
    /// this node and admitted it again under that id while it did not hear of either (a join
    /// request it sent before its last admission reached the leader late, after a removal this
    /// replica has not applied yet). Dropped unread; the caller asks the leader for the id
    /// (again every probe interval while such messages come). From anyone else, such a message
    /// is refused by the checks unless this replica is waiting to be let in again
    /// (`stale_recipient`). Not while this node leaves: its leave removes it, and a join request
    /// then would admit it again.
    fn readdressed_by_leader(&self, msg: &RaftMsg) -> bool {
        let (own, leader) = (self.raft_id(), self.leader_id());
        let readdressed = msg.to > own
            && msg.from == leader
            && leader != 0
            && leader != own
            && self.leaving.is_none();
        if readdressed {
            log::debug!(
                "{}: the leader sent a raft message for raft id {} (this node is {own})",
                self.cfg.node_id,
                msg.to
            );
        }
        readdressed
    }

    pub(super) fn leader_address(&self) -> Option<String> {
        let leader = self.leader_id();
        if leader == 0 || leader == self.raft_id() {
            return None;
        }
        self.peers.get(&leader).cloned()
    }
}
