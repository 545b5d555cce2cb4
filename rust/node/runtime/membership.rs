//! This node's own membership: bootstrapping a cluster, joining one (asking candidates in turn,
//! re-reading discovery, giving up at the join timeout), and leaving it gracefully (retried across
//! leader changes, then waiting for the vote to be handed on).

use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::{monotonic_ms, LeaveState, Loop};
use crate::error::{Error, Result};
use crate::node::discovery::Plan;
use crate::raft::{Phase, Replica};
use crate::wire::{error_code, Message};

/// How often a joining node asks a member again.
const JOIN_RETRY: Duration = Duration::from_millis(250);
/// How long a graceful leave waits for the node to hand its vote on.
const LEAVE_HANDOFF: Duration = Duration::from_secs(5);
/// How long a leave that failed for want of a leader is retried.
const LEAVE_RETRY_WINDOW: Duration = Duration::from_secs(10);

impl Loop {
    pub(super) fn bootstrap(&mut self) -> Result<()> {
        log::info!(
            "{}: bootstrapping a new cluster at {}",
            self.cfg.node_id,
            self.local
        );
        self.replica = Replica::bootstrap(self.cfg.clone(), monotonic_ms())
            .map_err(|e| Error::Join(format!("cannot start raft: {e}")))?;
        self.join.bootstrap_at = None;
        Ok(())
    }

    pub(super) fn start_leave(&mut self, done: Sender<Result<()>>, now_ms: u64) {
        if self.leave.is_some() || !matches!(self.replica.phase(), Phase::Member) {
            let _ = done.send(Ok(()));
            return;
        }
        let ticket = self.replica.submit(
            Message::LeaveRequest {
                node_id: self.cfg.node_id.clone(),
            },
            now_ms,
        );
        self.leave = Some(LeaveState {
            ticket,
            done,
            applied_at: None,
            give_up_at: Instant::now() + LEAVE_RETRY_WINDOW,
        });
    }

    /// When [`Loop::joining_step`] next has something to do (it is due every turn before then
    /// only if other work wakes the loop): the next join attempt or bootstrap while joining, the
    /// join timeout until the cluster's state has arrived.
    pub(super) fn join_due(&self) -> Option<Instant> {
        if self.replica.phase() == Phase::Joining {
            let mut due = self.join.next_attempt.min(self.join.deadline);
            if let Some(t) = self.join.bootstrap_at {
                due = due.min(t);
            }
            Some(due)
        } else if self.joined.is_some() {
            Some(self.join.deadline)
        } else {
            None
        }
    }

    pub(super) fn joining_step(&mut self, now: Instant) -> Result<()> {
        if self.replica.phase() != Phase::Joining {
            if self.replica.needs_join_contact() && now >= self.join.next_attempt {
                // Admitted, then cut off before the cluster's state came: it knows no member
                // but those it joined through.
                self.join.next_attempt = now + JOIN_RETRY;
                self.send_join_request();
            }
            if self.joined.is_some() && now >= self.join.deadline {
                // Admitted (a raft id was assigned) but the cluster's log never arrived.
                return Err(Error::Join(
                    "admitted to the cluster, but its state never reached this node within the \
                     join timeout"
                        .into(),
                ));
            }
            return Ok(());
        }
        if self.join.bootstrap_at.is_some_and(|t| now >= t) {
            return self.bootstrap();
        }
        if now >= self.join.deadline {
            let refused = match self.transport.last_handshake_failure() {
                Some(why) => format!("; the last connection refused: {why}"),
                None => String::new(),
            };
            return Err(Error::Join(format!(
                "no member answered within the join timeout (tried {:?}{refused})",
                self.join.candidates
            )));
        }
        if now < self.join.next_attempt {
            return Ok(());
        }
        self.join.next_attempt = now + JOIN_RETRY;
        if self.join.attempt > 0
            && self.join.attempt.is_multiple_of(8)
            && self.join.bootstrap_at.is_none()
        {
            // Re-read who is alive; with nobody left, discovery decides afresh.
            match self.discovery.candidates(self.own) {
                Ok(c) if !c.is_empty() => self.join.candidates = c,
                Ok(_) => {
                    self.registration = None;
                    let (plan, registration) = self
                        .discovery
                        .start(self.local)
                        .map_err(|e| Error::io("discovering the cluster", e))?;
                    self.registration = Some(registration);
                    match plan {
                        Plan::Bootstrap { .. } => return self.bootstrap(),
                        Plan::Join { candidates } => self.join.candidates = candidates,
                    }
                }
                Err(e) => log::warn!("{}: discovery failed: {e}", self.cfg.node_id),
            }
        }
        self.send_join_request();
        Ok(())
    }

    /// Sends a join request to the next of the join candidates, if there are any.
    fn send_join_request(&mut self) {
        if self.join.candidates.is_empty() {
            return;
        }
        let to = self.join.candidates[self.join.attempt % self.join.candidates.len()];
        self.join.attempt += 1;
        let frame = self.replica.join_request();
        if let Err(e) = self.transport.send(self.poll.registry(), to, &frame) {
            log::debug!("{}: join request to {to} not sent: {e}", self.cfg.node_id);
        }
    }

    pub(super) fn leave_applied(&mut self, response: Message) {
        let Some(leave) = self.leave.as_mut() else {
            return;
        };
        match response {
            Message::LeaveResponse { .. } => leave.applied_at = Some(Instant::now()),
            Message::ErrorResponse { code, message }
                if code != error_code::CLOSED && Instant::now() < leave.give_up_at =>
            {
                log::debug!(
                    "{}: leave not committed ({message}); trying again",
                    self.cfg.node_id
                );
                let request = Message::LeaveRequest {
                    node_id: self.cfg.node_id.clone(),
                };
                leave.ticket = self.replica.submit(request, monotonic_ms());
            }
            Message::ErrorResponse { message, .. } => {
                let leave = self.leave.take().expect("checked");
                let _ = leave.done.send(Err(Error::Leave(message)));
            }
            _ => {}
        }
    }

    pub(super) fn check_leave(&mut self, now: Instant) {
        let Some(applied_at) = self.leave.as_ref().and_then(|l| l.applied_at) else {
            return;
        };
        let others = self.replica.fsm().members().iter().any(|m| m.raft_id != 0);
        let handed_over = !self.replica.is_voter() || !others;
        if handed_over || now >= applied_at + LEAVE_HANDOFF {
            let leave = self.leave.take().expect("checked");
            let _ = leave.done.send(Ok(()));
        }
    }

    pub(super) fn check_joined(&mut self) {
        if self.joined.is_some()
            && self.replica.phase() == Phase::Member
            && self.replica.fsm().is_member(&self.cfg.node_id)
        {
            log::info!(
                "{}: member of the cluster at {} ({} members)",
                self.cfg.node_id,
                self.local,
                self.replica.fsm().members().len()
            );
            let _ = self.joined.take().expect("checked").send(Ok(()));
        }
    }
}
