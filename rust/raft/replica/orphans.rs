//! Lock acquisitions nobody waits for: a grant, or a wait, that no caller will ever hear of must
//! not keep the lock from everyone else. The acquisition is cancelled (`LockCancelRequest`, which
//! drops that acquisition's wait or releases that acquisition's hold, and nothing else) through
//! the write-back queue of `rejoin.rs`, which proposes it again until it is applied.
//!
//! Two ways to get there: the caller gave up waiting (the node's loop says so, see
//! [`Replica::abandon_lock_wait`]), or the acquisition's request failed here (it timed out, the
//! quorum was lost, or this node started over after a removal) while a copy of it was on its way
//! to the log. Such an acquisition is remembered until the state shows it holding or waiting
//! (then it is cancelled) or shows it can no longer be applied (this node's next request applied
//! moves its exactly-once floor past it, see `fsm::sessions`). Checked after every drive, so an
//! acquisition applied through an installed snapshot is found too.

use super::{Phase, Replica};
use crate::wire::{Message, MessageRef, Proposal};

/// Failed acquisitions remembered at most (the oldest are forgotten first).
const MAX_FAILED_ACQUISITIONS: usize = 1024;

impl Replica {
    /// The caller of acquisition `ticket` of `lock_name` stopped waiting: its wait is withdrawn,
    /// or the lock released if it was granted meanwhile.
    pub fn abandon_lock_wait(&mut self, lock_name: String, ticket: u32) {
        self.cancel_acquisition(lock_name, ticket);
    }

    /// A write of this node failed before it was known to be applied: if it is a lock
    /// acquisition, it is watched for in the state.
    pub(super) fn write_failed(&mut self, ticket: u32, proposal: &Proposal) {
        let acquisition = MessageRef::decode_payload(proposal.kind, &proposal.payload)
            .ok()
            .and_then(|request| match request {
                MessageRef::LockAcquireRequest { lock_name }
                | MessageRef::LockAcquireTimeoutRequest { lock_name, .. } => {
                    Some(lock_name.to_owned())
                }
                _ => None,
            });
        if let Some(lock_name) = acquisition {
            if self.failed_acquisitions.len() == MAX_FAILED_ACQUISITIONS {
                self.failed_acquisitions.remove(0);
            }
            self.failed_acquisitions.push((lock_name, ticket));
        }
    }

    /// Cancels the failed acquisitions the state shows holding or waiting, and forgets those
    /// that can no longer be applied.
    pub(super) fn cancel_orphaned_acquisitions(&mut self) {
        if self.failed_acquisitions.is_empty() || self.replaying() {
            return;
        }
        let me = self.cfg.node_id.clone();
        let mut orphans = Vec::new();
        self.failed_acquisitions.retain(|(lock_name, ticket)| {
            if self.fsm.acquisition_pending(lock_name, &me, *ticket) {
                orphans.push((lock_name.clone(), *ticket));
                false
            } else {
                self.fsm.may_still_apply(&me, *ticket)
            }
        });
        for (lock_name, ticket) in orphans {
            log::debug!(
                "{me}: lock acquisition {ticket} of {lock_name} was applied after its request \
                 failed; cancelling it"
            );
            self.cancel_acquisition(lock_name, ticket);
        }
    }

    fn cancel_acquisition(&mut self, lock_name: String, acquire_request_id: u32) {
        let cancel = Message::LockCancelRequest {
            lock_name,
            acquire_request_id,
        };
        if self.restore_queue.contains(&cancel) || self.restoring.values().any(|w| *w == cancel) {
            return;
        }
        // Proposed at once while this node is a member; otherwise, and again after a failure,
        // by the write-back queue's duties at the tick.
        if self.phase == Phase::Member && !self.replaying() {
            self.submit_restore(cancel);
        } else {
            self.restore_queue.push(cancel);
        }
    }
}
