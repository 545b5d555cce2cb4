//! One node's replica: a raft-rs `RawNode` and the state machine it feeds, driven by calls that
//! carry the time in and messages out. No sockets, threads or clock: the node runtime drives it
//! over TCP, and the simulation in `tests/` drives several over a seeded in-memory network.
//!
//! Requests become tickets. A write is proposed by the leader (a follower forwards it) and its
//! ticket completes when the command is applied here, with the state machine's answer. A read
//! joins a ReadIndex batch and completes once this replica has applied up to the confirmed index.
//! A ticket that outlives its deadline fails with an error that says whether a leader was known.
//!
//! The Ready loop (in `ready.rs`) follows raft-rs's documented order: send messages, apply a
//! snapshot, apply committed entries, append entries, save the hard state, send persisted
//! messages, advance, then the light ready's commit index, messages and committed entries, then
//! `advance_apply`. Proposing, forwarding and proposing again after a leader change are in
//! `proposals.rs`; ticks, deadlines, leader changes and the loss of quorum in `clock.rs`. Frames
//! received from other nodes are in `inbound.rs`, joining in `join.rs`. This file holds the
//! rest: the replica's state, starting, tickets and the drive.

use std::collections::HashMap;

use raft::{RawNode, StateRole};

use super::command;
use super::membership::process_domain;
use super::reads::{Read, ReadBatches, ReadRelay};
use super::storage::LogStore;
use crate::fsm::{is_read_only, Event, StateMachine};
use crate::wire::{error_code, FramedMessage, Message, Proposal, DEFAULT_MAX_FRAME_SIZE};

mod clock;
mod feed;
mod inbound;
mod join;
mod orphans;
mod proposals;
mod ready;
mod rejoin;
mod relay;
mod stats;
mod validate;

use feed::LearnerFeed;
use join::PendingJoin;
use proposals::Unsent;
use rejoin::Rejoin;
pub use stats::ReplicaStats;
use validate::CheckedSnapshot;
pub use validate::Refused;

/// Bytes of a frame that carries replicated commands which are not the commands: the frame
/// header, the sender's address (at most 255 bytes plus the port), raft's message and entry
/// fields, and a command's own (leader's time, origin of at most 255 bytes, request ids, kind).
/// Measured at under 800 bytes; a write whose command exceeds the frame limit less this is
/// refused before it is proposed, so no log entry can ever be too large to replicate.
pub const REPLICATION_HEADROOM: usize = 1024;

/// How long a member whose port refuses connections may stay unheard before it is declared dead
/// (capped by the failure timeout). Long enough for a frame already on its way from it to arrive.
const REFUSED_DEAD_AFTER_MS: u64 = 250;

/// Settings of a replica, in ticks of the driver's clock.
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// The Vert.x node id.
    pub node_id: String,
    /// Where this node listens, as other nodes reach it.
    pub address: String,
    /// What fails together with this node (see [`process_domain`]): the leader keeps voters in
    /// different domains where members allow it.
    pub domain: String,
    /// The most voters the cluster keeps (odd); the rest are learners.
    pub voters: usize,
    pub election_ticks: usize,
    pub heartbeat_ticks: usize,
    /// A member unheard by the leader for this many ticks is declared dead.
    pub dead_after_ticks: u64,
    /// A member whose listen port refuses connections (nothing listens there: its process is
    /// gone), and that stays unheard for this many ticks after the first refusal, is declared
    /// dead without waiting for `dead_after_ticks`.
    pub refused_dead_after_ticks: u64,
    /// A request not answered within this many ticks fails.
    pub request_timeout_ticks: u64,
    /// Without a leader for this many ticks, requests fail at once with "no quorum".
    pub no_quorum_after_ticks: u64,
    /// A member that reaches no leader (or applied its own removal) asks to be let in again
    /// this often (see `rejoin.rs`).
    pub rejoin_probe_ticks: u64,
    /// Once the log holds this many applied entries, its older half is dropped.
    pub compact_after_entries: u64,
    /// Once the log holds this many bytes of entries, it is compacted down to half of them.
    pub compact_after_bytes: u64,
    /// The largest write this replica proposes, in bytes of its command: what fits a frame of
    /// the transport's maximum with room for replication's own fields
    /// ([`REPLICATION_HEADROOM`]). Larger writes fail at once, saying so.
    pub max_command_bytes: usize,
    /// Milliseconds per tick, for error messages.
    pub tick_ms: u64,
    /// The range raft draws election timeouts from, in ticks; `None` for raft's default
    /// (`election_ticks` to twice that). A simulation pins it per node to replay runs exactly.
    pub election_range: Option<(usize, usize)>,
}

/// The answer to one ticket: the state machine's response or an `ErrorResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub ticket: u32,
    pub response: Message,
}

/// A write of this replica awaiting its apply.
#[derive(Debug, Clone)]
struct PendingWrite {
    deadline_tick: u64,
    /// The leader it was proposed by or forwarded to; 0 while it waits for one.
    leader: u64,
    /// Kept to propose it again if that leader loses leadership first.
    proposal: Proposal,
}

/// Where the replica is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for a member to let it in.
    Joining,
    Member,
    /// Removed from the cluster: gracefully (`left`) or declared dead by the others.
    Removed {
        left: bool,
    },
}

pub struct Replica {
    pub(super) cfg: ReplicaConfig,
    pub(super) raw: Option<RawNode<LogStore>>,
    pub(super) fsm: StateMachine,
    pub(super) phase: Phase,
    pub(super) ticks: u64,
    next_ticket: u32,
    /// [`Replica::settled_below`] as computed since the last drive. Tickets only settle or are
    /// added after it, so it stays a safe (never too high) floor until it is recomputed.
    settled_floor: std::cell::Cell<Option<u32>>,
    /// Writes of this replica awaiting their apply.
    pending_writes: HashMap<u32, PendingWrite>,
    /// The leader as this replica last knew it, to notice a change.
    known_leader: u64,
    /// Writes waiting for a leader to forward them to.
    unsent: Vec<Unsent>,
    reads: ReadBatches,
    /// Leader only: the read index requests of every member, asked a round at a time.
    relay: ReadRelay,
    /// Joins this replica proposed as leader, by ticket.
    pub(super) joins: HashMap<u32, PendingJoin>,
    /// Tickets of this replica's own internal commands (expiry, declared dead, its own join).
    pub(super) internal: HashMap<u32, u64>,
    /// raft id -> listen address, from the member list and from raft messages received.
    pub(super) peers: HashMap<u64, String>,
    /// Leader only: the tick each peer was last heard from.
    pub(super) last_heard: HashMap<u64, u64>,
    /// Leader: what goes to learners, and when (see `feed.rs`).
    feed: LearnerFeed,
    /// The tick a peer's listen port first refused a connection since it was last heard from.
    pub(super) refused_since: HashMap<u64, u64>,
    /// Leader: the applied index and tick of the last look at the membership (`membership.rs`).
    pub(super) reconciled: Option<(u64, u64)>,
    /// The tick this replica became leader; `None` while it does not lead.
    pub(super) leader_since_tick: Option<u64>,
    /// Leader only: the anchor of its count of cluster time (the count, and its monotonic time
    /// and tick then); see `clock.rs`.
    clock: Option<(u64, u64, u64)>,
    /// The count at which the last expiry was proposed.
    pub(super) last_expiry_stamp: u64,
    /// The tick this replica last heard from its leader (a learner never campaigns, so without
    /// this it would trust a leader it is cut off from forever).
    leader_contact_tick: u64,
    pub(super) no_leader_since_tick: Option<u64>,
    pub(super) next_expire_tick: u64,
    pub(super) next_transfer_tick: u64,
    /// The ticket of the graceful leave in flight.
    pub(super) leaving: Option<u32>,
    /// The snapshot of the raft message being stepped, decoded while it was checked.
    pub(super) checked_snapshot: Option<CheckedSnapshot>,
    /// Set between starting over after a removal and the apply of the readmission.
    rejoin: Option<Rejoin>,
    /// What this node's removal took from it, kept when the removal was applied here.
    captured: Option<Vec<Message>>,
    /// Writes that give a readmitted node back what its removal took, not yet proposed.
    restore_queue: Vec<Message>,
    /// This node's lock acquisitions that may hold or wait for nobody: requests that failed
    /// but may still be applied, and holds whose release failed (see `orphans.rs`).
    failed_acquisitions: orphans::Orphans,
    /// Whether this replica's request ids were checked against a session its node id left in
    /// the cluster (`rejoin::number_past_earlier_process`).
    numbered_past_earlier: bool,
    /// Those writes in flight, by ticket.
    restoring: HashMap<u32, Message>,
    next_rejoin_probe_tick: u64,
    /// This replica asked to be let in again and has not been admitted under a new id since: a
    /// message for a higher raft id may be for the id it is being admitted under.
    pub(super) asked_readmission: bool,
    next_restore_tick: u64,
    incarnation: u32,
    outbox: Vec<(String, FramedMessage<Message>)>,
    completions: Vec<Completion>,
    events: Vec<Event>,
    logger: slog::Logger,
}

fn raft_logger() -> slog::Logger {
    use slog::Drain;
    slog::Logger::root(slog_stdlog::StdLog.fuse(), slog::o!())
}

impl ReplicaConfig {
    /// Settings for a tick of `tick_ms`: elections after 10 ticks, heartbeats every 2, a member
    /// declared dead after `failure_timeout_ms`, requests failing after 10 s.
    pub fn new(
        node_id: impl Into<String>,
        address: impl Into<String>,
        tick_ms: u64,
        failure_timeout_ms: u64,
    ) -> Self {
        let ticks = |ms: u64| ms.div_ceil(tick_ms).max(1);
        ReplicaConfig {
            node_id: node_id.into(),
            address: address.into(),
            domain: process_domain(),
            voters: 3,
            election_ticks: 10,
            heartbeat_ticks: 2,
            dead_after_ticks: ticks(failure_timeout_ms),
            refused_dead_after_ticks: ticks(REFUSED_DEAD_AFTER_MS.min(failure_timeout_ms)),
            request_timeout_ticks: ticks(10_000),
            no_quorum_after_ticks: 40,
            rejoin_probe_ticks: 20,
            compact_after_entries: 50_000,
            compact_after_bytes: 64 * 1024 * 1024,
            max_command_bytes: DEFAULT_MAX_FRAME_SIZE - REPLICATION_HEADROOM,
            tick_ms,
            election_range: None,
        }
    }
}

impl Replica {
    fn new(cfg: ReplicaConfig) -> Replica {
        Replica {
            cfg,
            raw: None,
            fsm: StateMachine::new(),
            phase: Phase::Joining,
            ticks: 0,
            next_ticket: 0,
            settled_floor: std::cell::Cell::new(None),
            pending_writes: HashMap::new(),
            known_leader: 0,
            unsent: Vec::new(),
            reads: ReadBatches::default(),
            relay: ReadRelay::default(),
            joins: HashMap::new(),
            internal: HashMap::new(),
            peers: HashMap::new(),
            last_heard: HashMap::new(),
            feed: LearnerFeed::default(),
            refused_since: HashMap::new(),
            reconciled: None,
            leader_since_tick: None,
            leader_contact_tick: 0,
            clock: None,
            last_expiry_stamp: 0,
            no_leader_since_tick: Some(0),
            next_expire_tick: 0,
            next_transfer_tick: 0,
            leaving: None,
            checked_snapshot: None,
            rejoin: None,
            captured: None,
            restore_queue: Vec::new(),
            failed_acquisitions: orphans::Orphans::default(),
            numbered_past_earlier: false,
            restoring: HashMap::new(),
            next_rejoin_probe_tick: 0,
            asked_readmission: false,
            next_restore_tick: 0,
            incarnation: 0,
            outbox: Vec::new(),
            completions: Vec::new(),
            events: Vec::new(),
            logger: raft_logger(),
        }
    }

    fn raft_config(&self, raft_id: u64) -> raft::Config {
        raft::Config {
            id: raft_id,
            election_tick: self.cfg.election_ticks,
            heartbeat_tick: self.cfg.heartbeat_ticks,
            pre_vote: true,
            check_quorum: true,
            // A batch of entries must fit a frame too.
            max_size_per_msg: (self.cfg.max_command_bytes as u64).min(1024 * 1024),
            max_inflight_msgs: 256,
            // Appends to one peer that raft-rs makes before they leave in a Ready go as one.
            batch_append: true,
            min_election_tick: self.cfg.election_range.map_or(0, |r| r.0),
            max_election_tick: self.cfg.election_range.map_or(0, |r| r.1),
            ..Default::default()
        }
    }

    /// A replica that starts a new cluster as its only voter (raft id 1), elects itself at once
    /// and proposes its own membership.
    pub fn bootstrap(cfg: ReplicaConfig, now_ms: u64) -> raft::Result<Replica> {
        let mut r = Replica::new(cfg);
        let config = r.raft_config(1);
        let store = LogStore::bootstrap(1, r.fsm.create_snapshot());
        let mut raw = RawNode::new(&config, store, &r.logger)?;
        raw.campaign()?;
        r.raw = Some(raw);
        r.phase = Phase::Member;
        r.peers.insert(1, r.cfg.address.clone());
        let add_self = Message::AddMemberRequest {
            node_id: r.cfg.node_id.clone(),
            address: r.cfg.address.clone(),
            domain: r.cfg.domain.clone(),
        };
        let ticket = r.next_ticket();
        r.internal.insert(ticket, u64::MAX);
        let proposal = r.proposal(ticket, &add_self);
        r.propose_or_forward(proposal, now_ms);
        Ok(r)
    }

    /// A replica that will join an existing cluster (see [`Replica::join_request`]).
    pub fn joining(cfg: ReplicaConfig) -> Replica {
        Replica::new(cfg)
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn node_id(&self) -> &str {
        &self.cfg.node_id
    }

    pub fn fsm(&self) -> &StateMachine {
        &self.fsm
    }

    pub fn raft_id(&self) -> u64 {
        self.raw.as_ref().map_or(0, |r| r.raft.id)
    }

    pub fn is_leader(&self) -> bool {
        self.raw
            .as_ref()
            .is_some_and(|r| r.raft.state == StateRole::Leader)
    }

    pub fn leader_id(&self) -> u64 {
        self.raw.as_ref().map_or(0, |r| r.raft.leader_id)
    }

    /// Bytes of entry data this replica's log holds (bounded by `compact_after_bytes`).
    pub fn log_bytes(&self) -> u64 {
        self.raw.as_ref().map_or(0, |r| r.store().log_bytes())
    }

    /// The configuration this replica's raft runs on.
    #[cfg(test)]
    pub fn conf_state(&self) -> raft::prelude::ConfState {
        self.raw
            .as_ref()
            .map_or_else(Default::default, |r| r.raft.prs().conf().to_conf_state())
    }

    /// Leader: the entries held for a learner (see `feed.rs`).
    #[cfg(test)]
    pub fn held_for(&self, raft_id: u64) -> usize {
        self.feed.held_for(raft_id).map_or(0, |m| m.entries.len())
    }

    /// Voter ids of the configuration this replica has applied.
    pub fn voters(&self) -> Vec<u64> {
        self.raw.as_ref().map_or_else(Vec::new, |r| {
            let mut v: Vec<u64> = r.raft.prs().conf().voters().ids().iter().collect();
            v.sort_unstable();
            v
        })
    }

    /// Whether the voters are exactly `voters` (sorted, as [`Self::voters`] lists them).
    pub fn has_voters(&self, voters: &[u64]) -> bool {
        match self.raw.as_ref() {
            None => voters.is_empty(),
            Some(r) => {
                let ids = r.raft.prs().conf().voters().ids();
                ids.len() == voters.len() && ids.iter().all(|id| voters.binary_search(&id).is_ok())
            }
        }
    }

    pub fn is_voter(&self) -> bool {
        let id = self.raft_id();
        id != 0 && self.voters().contains(&id)
    }

    pub fn take_outbox(&mut self) -> Vec<(String, FramedMessage<Message>)> {
        std::mem::take(&mut self.outbox)
    }

    pub fn take_completions(&mut self) -> Vec<Completion> {
        std::mem::take(&mut self.completions)
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    pub(super) fn next_ticket(&mut self) -> u32 {
        self.next_ticket = self.next_ticket.wrapping_add(1).max(1);
        self.next_ticket
    }

    /// Submits a request; its answer arrives later as a [`Completion`] with the returned ticket.
    pub fn submit(&mut self, request: Message, _now_ms: u64) -> u32 {
        let ticket = self.next_ticket();
        let deadline = self.ticks + self.cfg.request_timeout_ticks;
        match self.phase {
            Phase::Removed { left } => {
                let (code, why) = if left {
                    (error_code::CLOSED, "this node has left the cluster")
                } else {
                    (
                        error_code::NOT_A_MEMBER,
                        "this node was removed from the cluster after being unreachable; it \
                         rejoins once it reaches a majority of the cluster again",
                    )
                };
                self.fail(ticket, code, why.to_owned());
                return ticket;
            }
            Phase::Joining | Phase::Member => {}
        }
        if self.quorum_lost() {
            let msg = self.no_quorum_message();
            self.release_failed(ticket, &request);
            self.fail(ticket, error_code::NO_QUORUM, msg);
            return ticket;
        }
        if matches!(&request, Message::LeaveRequest { node_id } if *node_id == self.cfg.node_id) {
            self.leaving = Some(ticket);
            self.forget_restore();
        }
        if self.fsm.answers_locally(&request) {
            let response = self.fsm.query(&request, self.read_time());
            self.completions.push(Completion { ticket, response });
        } else if is_read_only(&request) {
            self.reads.push(Read {
                ticket,
                request,
                deadline_tick: deadline,
            });
        } else {
            let proposal = self.proposal(ticket, &request);
            let size = command::encoded_len(&proposal);
            if size > self.cfg.max_command_bytes {
                let msg = format!(
                    "the request is too large to replicate: its command takes {size} bytes, the \
                     largest is {} (the maximum frame size less {REPLICATION_HEADROOM} bytes)",
                    self.cfg.max_command_bytes
                );
                self.fail(ticket, error_code::TOO_LARGE, msg);
                return ticket;
            }
            self.pending_writes.insert(
                ticket,
                PendingWrite {
                    deadline_tick: deadline,
                    leader: 0,
                    proposal,
                },
            );
            self.unsent.push(Unsent::Own(ticket));
        }
        ticket
    }

    fn fail(&mut self, ticket: u32, code: u16, message: String) {
        let response = Message::error(code, message);
        if !self.restore_settled(ticket, &response) {
            self.completions.push(Completion { ticket, response });
        }
    }

    /// Moves raft forward: forwards or proposes queued writes, starts read rounds, and handles
    /// every Ready. Call after any input.
    pub fn drive(&mut self, now_ms: u64) {
        self.settled_floor.set(None);
        if self.raw.is_none() {
            return;
        }
        self.track_leader(now_ms);
        if self.is_leader() {
            self.propose_expiry(now_ms);
        }
        self.send_unsent(now_ms);
        if let Some(ctx) = self.reads.start_batch(self.ticks, self.raft_id()) {
            self.ask_read_index(ctx);
        }
        self.start_read_round();
        while self.raw.as_ref().is_some_and(|r| r.has_ready()) {
            self.handle_ready();
        }
        if self.is_leader() {
            self.reconcile_membership();
            // raft asks for a snapshot while sending, outside any Ready.
            self.maybe_snapshot();
            // A configuration change or a snapshot just taken goes out now, not next turn.
            while self.raw.as_ref().is_some_and(|r| r.has_ready()) {
                self.handle_ready();
            }
        }
        self.answer_reads();
        self.number_past_earlier_process();
        self.cancel_orphaned_acquisitions();
    }

    /// Fails every open ticket (the node is closing).
    pub fn fail_all(&mut self, message: &str) {
        let mut tickets: Vec<u32> = self.pending_writes.drain().map(|(t, _)| t).collect();
        tickets.extend(self.reads.drain().into_iter().map(|r| r.ticket));
        tickets.sort_unstable();
        for t in tickets {
            self.fail(t, error_code::CLOSED, message.to_owned());
        }
        self.unsent.clear();
    }
}

/// `a` comes before `b` among ticket numbers, which wrap around (serial-number order).
fn serial_before(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 1 << 31
}
