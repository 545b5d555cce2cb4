//! Locks: acquisitions (queued in order, with or without a timeout), releases and cancels (of
//! one acquisition's wait or hold); the grant's fencing token is its log index.

use super::super::locks::{AcquireOutcome, Wait};
use super::super::{ApplyContext, Event, StateMachine};
use crate::wire::Message;

impl StateMachine {
    /// Applies a lock command. `Err` gives back a command of another domain.
    pub(in crate::fsm) fn apply_locks(
        &mut self,
        command: Message,
        ctx: &ApplyContext<'_>,
        events: &mut Vec<Event>,
    ) -> Result<Message, Message> {
        use Message::*;
        let now = ctx.now_ms;
        Ok(match command {
            CreateLockRequest { name: _ } => CreateLockResponse {},
            LockAcquireRequest { lock_name } => {
                let (granted, fencing_token) = self.acquire(lock_name, Wait::Forever, ctx);
                LockAcquireResponse {
                    granted,
                    fencing_token,
                }
            }
            LockAcquireTimeoutRequest {
                lock_name,
                timeout_ms,
            } => {
                let wait = match timeout_ms {
                    0 => Wait::No,
                    t => Wait::Until(now.saturating_add(t)),
                };
                let (granted, fencing_token) = self.acquire(lock_name, wait, ctx);
                LockAcquireTimeoutResponse {
                    granted,
                    fencing_token,
                }
            }
            LockReleaseRequest { lock_name } => LockReleaseResponse {
                released: self
                    .locks
                    .release(&lock_name, ctx.origin, ctx.index, now, events),
            },
            LockCancelRequest {
                lock_name,
                acquire_request_id,
            } => LockCancelResponse {
                cancelled: self.locks.cancel(
                    &lock_name,
                    ctx.origin,
                    acquire_request_id,
                    ctx.index,
                    now,
                    events,
                ),
            },
            other => return Err(other),
        })
    }

    fn acquire(&mut self, lock_name: String, wait: Wait, ctx: &ApplyContext<'_>) -> (bool, u64) {
        match self
            .locks
            .acquire(lock_name, ctx.origin, ctx.request_id, wait, ctx.index)
        {
            AcquireOutcome::Granted(token) => (true, token),
            AcquireOutcome::Queued | AcquireOutcome::Refused => (false, 0),
        }
    }
}
