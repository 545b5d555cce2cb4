//! What a node's loop does with what its replica produced: answers go to their callers, except
//! a lock acquisition that queued, which waits here for its grant or expiry (or is given up
//! locally after its timeout when the cluster never says); events go to the callback thread in
//! apply order, after the loop has acted on its own grants, expiries and departed members.

use std::time::{Duration, Instant};

use super::callbacks::Delivery;
use super::polling::Caller;
use super::Loop;
use crate::fsm::Event;
use crate::raft::Completion;
use crate::wire::{error_code, Message};

/// What the loop keeps of a lock acquisition, should it queue.
pub(super) struct WaitFor {
    lock_name: String,
    /// The acquisition's own timeout (`LockAcquireTimeoutRequest`), if it has one.
    timeout: Option<Duration>,
}

impl WaitFor {
    pub(super) fn of(request: &Message) -> Option<WaitFor> {
        match request {
            Message::LockAcquireRequest { lock_name } => Some(WaitFor {
                lock_name: lock_name.clone(),
                timeout: None,
            }),
            Message::LockAcquireTimeoutRequest {
                lock_name,
                timeout_ms,
            } if *timeout_ms > 0 => Some(WaitFor {
                lock_name: lock_name.clone(),
                timeout: Some(Duration::from_millis(*timeout_ms)),
            }),
            _ => None,
        }
    }
}

/// A queued lock wait is given up locally this long after its own timeout if the cluster never
/// said (a partition): the caller is told it was not granted.
const LOCK_WAIT_GRACE: Duration = Duration::from_secs(2);

/// A queued lock acquisition waiting for its grant.
pub(super) struct LockWait {
    pub(super) caller: Caller,
    lock_name: String,
    timed: bool,
    give_up_at: Option<Instant>,
}

impl Loop {
    /// Answers callers and handles the replica's events.
    pub(super) fn deliver_outcomes(&mut self) {
        for completion in self.replica.take_completions() {
            self.complete(completion);
        }
        for event in self.replica.take_events() {
            self.on_event(event);
        }
    }

    fn complete(&mut self, c: Completion) {
        if self.leave.as_ref().is_some_and(|l| l.ticket == c.ticket) {
            self.leave_applied(c.response);
            return;
        }
        let Some((caller, wait)) = self.callbacks.remove(&c.ticket) else {
            return;
        };
        let queued = matches!(
            c.response,
            Message::LockAcquireResponse { granted: false, .. }
                | Message::LockAcquireTimeoutResponse { granted: false, .. }
        );
        match wait {
            Some(wait) if queued => {
                let give_up_at = wait.timeout.map(|t| Instant::now() + t + LOCK_WAIT_GRACE);
                self.lock_waits.insert(
                    c.ticket,
                    LockWait {
                        caller,
                        lock_name: wait.lock_name,
                        timed: wait.timeout.is_some(),
                        give_up_at,
                    },
                );
            }
            _ => self.deliver(Delivery::Answer(caller, c.response)),
        }
    }

    fn on_event(&mut self, event: Event) {
        match &event {
            Event::LockGranted {
                lock_name,
                node_id,
                request_id,
                fencing_token,
            } if *node_id == self.cfg.node_id => {
                // A grant nobody waits for (given up) is released by the cancel the replica
                // sends for it (`Replica::abandon_lock_wait`).
                if let Some(wait) = self.lock_waits.remove(request_id) {
                    let answer = grant_answer(wait.timed, true, *fencing_token);
                    self.deliver(Delivery::Answer(wait.caller, answer));
                }
            }
            Event::NodeLeft { node_id } | Event::Rejoined { node_id }
                if *node_id == self.cfg.node_id =>
            {
                // The cluster dropped this node's lock waits with it: nobody will grant them.
                for (_, wait) in self.lock_waits.drain() {
                    let answer = Message::error(
                        error_code::NOT_A_MEMBER,
                        format!(
                            "the wait for lock {} ended: this node was removed from the cluster",
                            wait.lock_name
                        ),
                    );
                    let _ = self.deliveries.send(Delivery::Answer(wait.caller, answer));
                }
            }
            Event::NodeLeft { node_id } => {
                // Dropped once this turn's frames are out (`flush`).
                if let Some(addr) = self.member_addresses.remove(node_id) {
                    if let Some(addr) = self.resolve(&addr) {
                        self.departed.push(addr);
                    }
                }
            }
            Event::LockWaitExpired {
                node_id,
                request_id,
                ..
            } if *node_id == self.cfg.node_id => {
                if let Some(wait) = self.lock_waits.remove(request_id) {
                    let answer = grant_answer(wait.timed, false, 0);
                    self.deliver(Delivery::Answer(wait.caller, answer));
                }
            }
            _ => {}
        }
        self.deliver(Delivery::Event(event));
    }

    /// Tells callers whose lock wait outlived its timeout (the cluster never answered: a
    /// partition) that they did not get the lock, and withdraws the wait.
    pub(super) fn give_up_lock_waits(&mut self, now: Instant) {
        let due: Vec<u32> = self
            .lock_waits
            .iter()
            .filter(|(_, w)| w.give_up_at.is_some_and(|t| now >= t))
            .map(|(t, _)| *t)
            .collect();
        for ticket in due {
            let wait = self.lock_waits.remove(&ticket).expect("listed");
            self.replica.abandon_lock_wait(wait.lock_name, ticket);
            self.deliver(Delivery::Answer(
                wait.caller,
                grant_answer(wait.timed, false, 0),
            ));
        }
    }

    pub(super) fn deliver(&self, delivery: Delivery) {
        let _ = self.deliveries.send(delivery);
    }
}

/// The answer to a queued acquisition, in the kind of its request.
fn grant_answer(timed: bool, granted: bool, fencing_token: u64) -> Message {
    if timed {
        Message::LockAcquireTimeoutResponse {
            granted,
            fencing_token,
        }
    } else {
        Message::LockAcquireResponse {
            granted,
            fencing_token,
        }
    }
}
