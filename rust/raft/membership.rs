//! The leader's care of the cluster: declaring silent members dead, proposing expiry when a
//! deadline passes, and keeping the raft configuration in step with the member list.
//!
//! The member list (in the state machine) is the truth; the raft configuration follows it one
//! change at a time (raft-rs refuses a second change while one is pending):
//! 1. a raft node that is no longer a member is removed (the leader itself hands leadership to
//!    another voter first, or, alone, promotes a learner before it can go);
//! 2. members that are not yet in the configuration are added as learners (up to 64 in one
//!    joint change that raft-rs leaves by itself, so that a hundred members starting together
//!    do not wait for a hundred commit rounds one after the other);
//! 3. voters are promoted or demoted to reach the target count: one voter while the cluster
//!    has one or two members, else `voters` (odd), capped by the member count. Promotion takes a
//!    learner that has caught up with the log (raft replicates to it normally) and that the
//!    leader heard from recently; demotion a voter other than the leader.
//! 4. voters are spread over failure domains (a member's process by default, see
//!    [`process_domain`], or the rack or zone its options name), then over hosts (the host of a
//!    member's address). Promotion prefers the learner that shares the fewest domains, then
//!    hosts, with the voters (the earliest joined among equals), and demotion the voter that
//!    shares the most (the latest joined among equals). When a learner would share less than the
//!    voter a demotion would pick, the two swap in one joint change: several members of one
//!    process, started first, no longer keep the majority of the votes once members of other
//!    processes join.
//!
//! With 2f+1 voters the cluster survives f simultaneous failures; because a dead voter is
//! replaced by a learner (or the voter count shrinks) once it is declared dead, it survives any
//! sequence of single failures, each detected before the next, down to one node.

use std::collections::{HashMap, HashSet};

use raft::prelude::{ConfChange, ConfChangeTransition, ConfChangeType, ConfChangeV2};

use super::replica::Replica;
use crate::fsm::Member;
use crate::wire::Message;

/// The most members added as learners by one configuration change.
const LEARNERS_PER_CHANGE: usize = 64;

impl Replica {
    /// Leader: declares dead every member unheard for longer than the failure timeout, and
    /// every member whose listen port has refused connections (and that stayed unheard) for
    /// `refused_dead_after_ticks`.
    pub(super) fn detect_failures(&mut self, now_ms: u64) {
        let tick = self.ticks;
        let since = self.leader_since_tick.unwrap_or(self.ticks);
        let limit = self.cfg.dead_after_ticks;
        let refused_limit = self.cfg.refused_dead_after_ticks;
        let me = self.raft_id();
        let mut dead = Vec::new();
        for m in self.fsm.members() {
            if m.raft_id == 0 || m.raft_id == me {
                continue;
            }
            // A member this leader has not heard from yet (it just joined) is timed from now,
            // not from when this leader took over: it has had no chance to speak.
            let heard = (*self.last_heard.entry(m.raft_id).or_insert(tick)).max(since);
            if tick > heard + limit {
                dead.push((m.raft_id, m.node_id.clone(), "unheard", limit));
            } else if let Some(&refused) = self.refused_since.get(&m.raft_id) {
                if tick >= refused + refused_limit {
                    dead.push((
                        m.raft_id,
                        m.node_id.clone(),
                        "refusing connections",
                        tick - refused,
                    ));
                }
            }
        }
        for (raft_id, node_id, why, ticks) in dead {
            log::info!(
                "{}: declaring {node_id} dead: {why} for {} ms",
                self.cfg.node_id,
                ticks * self.cfg.tick_ms
            );
            // Reset its clock so the declaration is proposed once per timeout, not every tick.
            self.last_heard.insert(raft_id, tick);
            self.refused_since.remove(&raft_id);
            self.propose_internal(Message::LeaveRequest { node_id }, now_ms);
        }
    }

    /// Records that the listen port at `address` refused a connection: the members listening
    /// there are declared dead if they stay unheard for `refused_dead_after_ticks`.
    pub fn connection_refused(&mut self, address: &str) {
        let tick = self.ticks;
        for m in self.fsm.members() {
            if m.raft_id != 0 && m.address == address {
                self.refused_since.entry(m.raft_id).or_insert(tick);
            }
        }
    }

    /// Leader: proposes an expire command once the earliest deadline has passed by its count of
    /// cluster time, one at a time (see `replica/clock.rs`).
    pub(super) fn propose_expiry(&mut self, now_ms: u64) {
        if self.expiry_due_in(now_ms) == Some(0) {
            self.next_expire_tick = self.ticks + 2;
            self.last_expiry_stamp = self.cluster_time(now_ms);
            self.propose_internal(Message::ExpireRequest {}, now_ms);
        }
    }

    fn propose_internal(&mut self, request: Message, now_ms: u64) {
        let ticket = self.submit_internal();
        let proposal = self.proposal(ticket, &request);
        self.propose_or_forward(proposal, now_ms);
    }

    fn submit_internal(&mut self) -> u32 {
        // Internal tickets share the numbering of requests, so their applies are recognised.
        let ticket = self.next_ticket();
        self.internal
            .insert(ticket, self.ticks + self.cfg.request_timeout_ticks);
        ticket
    }

    /// Leader: moves the raft configuration one step toward the member list.
    pub(super) fn reconcile_membership(&mut self) {
        let Some(raw) = self.raw.as_ref() else {
            return;
        };
        // What it looks at changes with what is applied, and with time (who was heard from
        // recently, the hand-over's pace): once per applied index and tick is enough, and it
        // costs in proportion to the members on every turn of a leader's loop otherwise.
        let key = (raw.raft.raft_log.applied, self.ticks);
        if self.reconciled == Some(key) {
            return;
        }
        // Moving a vote for a better spread waits for nothing a write changes: once per tick.
        let new_tick = self.reconciled.is_none_or(|(_, tick)| tick != self.ticks);
        self.reconciled = Some(key);
        if raw.raft.has_pending_conf() {
            return;
        }
        let me = raw.raft.id;
        let conf = raw.raft.prs().conf();
        let voters: Vec<u64> = conf.voters().ids().iter().collect();
        let learners = conf.learners();
        let members: Vec<u64> = self
            .fsm
            .members()
            .iter()
            .map(|m| m.raft_id)
            .filter(|id| *id != 0)
            .collect();
        let in_conf = |id: &u64| conf.voters().contains(*id) || learners.contains(id);

        // 1. Raft nodes that are no longer members.
        let member_set: HashSet<u64> = members.iter().copied().collect();
        if let Some(&gone) = voters
            .iter()
            .chain(learners.iter())
            .find(|id| **id != me && !member_set.contains(id))
        {
            self.change(ConfChangeType::RemoveNode, gone);
            return;
        }
        // 2. Members not yet in the configuration join as learners, many at a time.
        let new: Vec<u64> = members
            .iter()
            .copied()
            .filter(|id| !in_conf(id))
            .take(LEARNERS_PER_CHANGE)
            .collect();
        match new[..] {
            [] => {}
            [one] => return self.change(ConfChangeType::AddLearnerNode, one),
            _ => return self.add_learners(&new),
        }
        // 3. The voter count, and (module doc, 4) where the voters are.
        let target = match members.len() {
            0..=2 => 1,
            n => {
                let t = self.cfg.voters.max(1).min(n);
                if t % 2 == 0 {
                    t - 1
                } else {
                    t
                }
            }
        };
        let leaving = !member_set.contains(&me);
        let staying_voters: Vec<u64> = voters
            .iter()
            .copied()
            .filter(|v| *v != me || !leaving)
            .collect();
        // At the target count only a better spread is left to look for, once per tick.
        if staying_voters.len() != target || new_tick {
            let recent = self.ticks.saturating_sub(self.cfg.dead_after_ticks / 2);
            let raw = self.raw.as_ref().expect("checked");
            let eligible = |id: &u64| {
                learners.contains(id)
                    && raw.raft.prs().get(*id).is_some_and(|pr| {
                        pr.state == raft::ProgressState::Replicate && pr.matched > 0
                    })
                    && self.last_heard.get(id).is_some_and(|t| *t >= recent)
            };
            let places = Places::of(self.fsm.members());
            // The voter a demotion takes: the most crowded other than this leader, the latest
            // joined among equals (`max_by_key` keeps the last of equal keys; members are in join
            // order).
            let demoted = |voters: &[u64]| {
                members
                    .iter()
                    .copied()
                    .filter(|id| *id != me && voters.contains(id))
                    .max_by_key(|id| places.crowding(*id, voters))
            };
            // The learner a promotion takes: the least crowded, the earliest joined among equals.
            let promoted = |voters: &[u64]| {
                members
                    .iter()
                    .copied()
                    .enumerate()
                    .filter(|(_, id)| eligible(id))
                    .min_by_key(|(at, id)| (places.crowding(*id, voters), *at))
                    .map(|(_, id)| id)
            };
            if staying_voters.len() < target {
                if let Some(id) = promoted(&staying_voters) {
                    self.change(ConfChangeType::AddNode, id);
                    return;
                }
            } else if staying_voters.len() > target {
                if let Some(id) = demoted(&staying_voters) {
                    self.change(ConfChangeType::AddLearnerNode, id);
                    return;
                }
            } else if let Some(victim) = demoted(&staying_voters) {
                let rest: Vec<u64> = staying_voters
                    .iter()
                    .copied()
                    .filter(|v| *v != victim)
                    .collect();
                if let Some(better) = promoted(&rest)
                    .filter(|l| places.crowding(*l, &rest) < places.crowding(victim, &rest))
                {
                    self.swap_voter(better, victim);
                    return;
                }
            }
        }
        // 5. A leader that is no longer a member hands over to another voter.
        if leaving && self.ticks >= self.next_transfer_tick {
            if let Some(&to) = voters.iter().find(|v| **v != me) {
                log::info!(
                    "{}: handing leadership to {to} before leaving",
                    self.cfg.node_id
                );
                self.next_transfer_tick = self.ticks + self.cfg.election_ticks as u64;
                self.raw.as_mut().expect("checked").transfer_leader(to);
            }
        }
    }

    /// Makes learner `promote` a voter and voter `demote` a learner in one joint change: the
    /// voter count never passes the target, and while the change is in flight a commit needs
    /// majorities of both the old voters and the new.
    fn swap_voter(&mut self, promote: u64, demote: u64) {
        self.joint_change(&[
            (promote, ConfChangeType::AddNode),
            (demote, ConfChangeType::AddLearnerNode),
        ]);
    }

    /// Adds several learners in one joint change: two configuration entries for the lot, where
    /// one change each would cost a commit round per joining member. Voters stay as they are, so
    /// both halves of the joint configuration have the same majority.
    fn add_learners(&mut self, ids: &[u64]) {
        let changes: Vec<_> = ids
            .iter()
            .map(|&id| (id, ConfChangeType::AddLearnerNode))
            .collect();
        self.joint_change(&changes);
    }

    /// Proposes `changes` as one joint change that raft-rs leaves by itself once it is applied
    /// (`auto_leave`).
    fn joint_change(&mut self, changes: &[(u64, ConfChangeType)]) {
        let mut cc = ConfChangeV2::default();
        cc.set_transition(ConfChangeTransition::Implicit);
        cc.set_changes(
            changes
                .iter()
                .map(|&(id, change)| raft_proto::new_conf_change_single(id, change))
                .collect(),
        );
        log::debug!("{}: proposing {changes:?}", self.cfg.node_id);
        let raw = self.raw.as_mut().expect("checked by the caller");
        if let Err(e) = raw.propose_conf_change(vec![], cc) {
            log::debug!(
                "{}: joint change {changes:?} dropped: {e}",
                self.cfg.node_id
            );
        }
    }

    fn change(&mut self, change: ConfChangeType, node_id: u64) {
        let mut cc = ConfChange::default();
        cc.set_change_type(change);
        cc.node_id = node_id;
        log::debug!("{}: proposing {change:?} {node_id}", self.cfg.node_id);
        let raw = self.raw.as_mut().expect("checked by the caller");
        if let Err(e) = raw.propose_conf_change(vec![], cc) {
            log::debug!(
                "{}: conf change {change:?} {node_id} dropped: {e}",
                self.cfg.node_id
            );
        }
    }
}

/// This process's failure domain, a node's default: `<host name>/<process id>`. Nodes in one
/// process fail together (the process dies, or its machine); nodes in separate processes of one
/// host fail together only with the host, which the members' addresses tell apart.
pub fn process_domain() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    format!("{}/{}", host.trim(), std::process::id())
}

/// Where each member runs: the host of its address and its failure domain.
struct Places<'a> {
    of: HashMap<u64, (&'a str, &'a str)>,
}

impl<'a> Places<'a> {
    fn of(members: &'a [Member]) -> Places<'a> {
        let of = members
            .iter()
            .map(|m| {
                let host = m.address.rsplit_once(':').map_or(&*m.address, |(h, _)| h);
                (m.raft_id, (host, &*m.domain))
            })
            .collect();
        Places { of }
    }

    /// How many of `voters` other than `id` share its failure domain, and how many its host (an
    /// unknown domain or host shares with none). Domains first: a domain named in the options (a
    /// rack, a zone) holds hosts, and the default one (a process) is held by a host, so two
    /// members of one process share a host as well.
    fn crowding(&self, id: u64, voters: &[u64]) -> (usize, usize) {
        let Some(&(host, domain)) = self.of.get(&id) else {
            return (0, 0);
        };
        let others = || {
            voters
                .iter()
                .filter(move |v| **v != id)
                .filter_map(|v| self.of.get(v))
        };
        let hosts = match host {
            "" => 0,
            _ => others().filter(|p| p.0 == host).count(),
        };
        let domains = match domain {
            "" => 0,
            _ => others().filter(|p| p.1 == domain).count(),
        };
        (domains, hosts)
    }
}
