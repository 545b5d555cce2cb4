//! Lock acquisitions nobody waits for: a grant, or a wait, that no caller will ever hear of must
//! not keep the lock from everyone else. The acquisition is cancelled (`LockCancelRequest`, which
//! drops that acquisition's wait or releases that acquisition's hold, and nothing else) through
//! the write-back queue of `rejoin.rs`, which proposes it again until it is applied.
//!
//! Three ways to get there:
//! - the caller gave up waiting (the node's loop says so, see [`Replica::abandon_lock_wait`]);
//! - the acquisition's request failed here (it timed out, the quorum was lost, or this node
//!   started over after a removal) while a copy of it was on its way to the log;
//! - the caller released the lock and the release failed (timed out, or no quorum). A Vert.x
//!   `Lock.release()` returns nothing: its caller cannot know, nor try again.
//!
//! Such an acquisition is remembered until the state shows it holding or waiting (then it is
//! cancelled) or shows it can no longer be applied (this node's next request applied moves its
//! exactly-once floor past it, see `fsm::sessions`). Checked after every drive, so an acquisition
//! applied through an installed snapshot is found too.
//!
//! A failed release is taken for the acquisition that held the lock here when it failed: the
//! caller released the grant it was told of, and this replica applied that grant before telling
//! it. Its cancel waits until every request of this node up to the release is settled, so the
//! cancel carries an exactly-once floor past the release: a late copy of the release, applied
//! after the cancel freed the lock and it went to a later acquisition of this node, is skipped
//! instead of freeing that one.

use std::collections::VecDeque;

use super::{serial_before, Phase, Replica};
use crate::wire::{Message, MessageRef, Proposal};

/// Failed acquisitions remembered at most (the oldest are forgotten first, with a warning).
/// Each is a request of this node's own callers that failed while it may still apply; the
/// list empties as soon as any later request of this node applies, so it holds about as many
/// as were in flight when a partition or a lost quorum failed them.
const MAX_FAILED_ACQUISITIONS: usize = 65_536;

/// This node's acquisitions that may hold or wait for nobody.
#[derive(Debug, Default)]
pub(super) struct Orphans {
    waiting: VecDeque<Orphan>,
    /// This replica's raft id, its applied index and its settled floor when `waiting` was last
    /// checked against the state: nothing can have changed for them until one of these moves
    /// or an orphan is added.
    checked_at: Option<(u64, u64, u32)>,
}

/// An acquisition of this node that may hold or wait for nobody.
#[derive(Debug)]
pub(super) struct Orphan {
    lock_name: String,
    /// The request id of the acquisition.
    acquisition: u32,
    /// The failed release of its hold, whose request id must be settled before the cancel.
    release: Option<u32>,
}

impl Replica {
    /// The caller of acquisition `ticket` of `lock_name` stopped waiting: its wait is withdrawn,
    /// or the lock released if it was granted meanwhile.
    pub fn abandon_lock_wait(&mut self, lock_name: String, ticket: u32) {
        self.cancel_acquisition(lock_name, ticket);
    }

    /// A write of this node failed before it was known to be applied: if it is a lock
    /// acquisition, it is watched for in the state; if it is a release, the hold it released
    /// is cancelled instead.
    pub(super) fn write_failed(&mut self, ticket: u32, proposal: &Proposal) {
        match MessageRef::decode_payload(proposal.kind, &proposal.payload) {
            Ok(
                MessageRef::LockAcquireRequest { lock_name }
                | MessageRef::LockAcquireTimeoutRequest { lock_name, .. },
            ) => {
                let lock_name = lock_name.to_owned();
                self.remember(Orphan {
                    lock_name,
                    acquisition: ticket,
                    release: None,
                });
            }
            Ok(MessageRef::LockReleaseRequest { lock_name }) => {
                let lock_name = lock_name.to_owned();
                self.release_lost(ticket, lock_name);
            }
            _ => {}
        }
    }

    /// A request of this node failed before it was proposed: if it is a release, the hold it
    /// released is cancelled instead.
    pub(super) fn release_failed(&mut self, ticket: u32, request: &Message) {
        if let Message::LockReleaseRequest { lock_name } = request {
            self.release_lost(ticket, lock_name.clone());
        }
    }

    fn release_lost(&mut self, release: u32, lock_name: String) {
        let me = &self.cfg.node_id;
        let Some(holder) = self
            .fsm
            .lock_holder(&lock_name)
            .filter(|h| h.node_id == *me)
        else {
            // Not held by this node here: nothing to release.
            return;
        };
        let acquisition = holder.request_id;
        log::debug!(
            "{me}: releasing lock {lock_name} failed (request {release}); its hold (acquisition \
             {acquisition}) is cancelled instead"
        );
        self.remember(Orphan {
            lock_name,
            acquisition,
            release: Some(release),
        });
    }

    fn remember(&mut self, orphan: Orphan) {
        let orphans = &mut self.failed_acquisitions;
        if orphans.waiting.len() == MAX_FAILED_ACQUISITIONS {
            if let Some(oldest) = orphans.waiting.pop_front() {
                log::warn!(
                    "{}: over {MAX_FAILED_ACQUISITIONS} failed lock requests may still be \
                     applied; forgetting acquisition {} of lock {}, which keeps its lock held \
                     until this node leaves if it was applied",
                    self.cfg.node_id,
                    oldest.acquisition,
                    oldest.lock_name
                );
            }
        }
        orphans.waiting.push_back(orphan);
        orphans.checked_at = None;
    }

    /// Cancels the failed acquisitions the state shows holding or waiting, and forgets those
    /// that can no longer be applied.
    pub(super) fn cancel_orphaned_acquisitions(&mut self) {
        if self.failed_acquisitions.waiting.is_empty() || self.replaying() {
            return;
        }
        let settled_below = self.settled_below();
        let at = Some((self.raft_id(), self.fsm.last_applied(), settled_below));
        if self.failed_acquisitions.checked_at == at {
            return;
        }
        self.failed_acquisitions.checked_at = at;
        let me = self.cfg.node_id.clone();
        let mut orphans = Vec::new();
        self.failed_acquisitions.waiting.retain(|o| {
            if self
                .fsm
                .acquisition_pending(&o.lock_name, &me, o.acquisition)
            {
                // A hold whose release failed waits until that release can no longer apply.
                let ready = o.release.is_none_or(|r| serial_before(r, settled_below));
                if ready {
                    orphans.push((o.lock_name.clone(), o.acquisition));
                }
                !ready
            } else {
                o.release.is_none() && self.fsm.may_still_apply(&me, o.acquisition)
            }
        });
        for (lock_name, ticket) in orphans {
            log::debug!(
                "{me}: lock acquisition {ticket} of {lock_name} holds or waits for nobody; \
                 cancelling it"
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
