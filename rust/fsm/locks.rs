//! Cluster locks: one holder per name and a FIFO queue of waiters.
//!
//! A holder or waiter is identified by its node and the request id of its acquire. A grant
//! carries a fencing token: the log index of the command that granted it, or one past the previous
//! token when a single command makes several grants (a departing node freeing several locks), so
//! tokens grow strictly with every grant of the cluster. A waiter with a deadline is dropped by the expire
//! command once its deadline passes, or skipped when the lock frees up after its deadline; both
//! are decided by leader-stamped time, so every replica grants the same waiter.
//! Invariants: at most one holder per lock; waiters are granted in the order they queued; a lock
//! with no holder has no waiters (they would have been granted), and an entry with neither is
//! dropped from the table.

use std::collections::{BTreeSet, VecDeque};

use super::{Event, FastMap};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub node_id: String,
    pub request_id: u32,
    pub fencing_token: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiter {
    pub node_id: String,
    pub request_id: u32,
    pub deadline: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockState {
    pub holder: Option<Holder>,
    pub waiters: VecDeque<Waiter>,
}

/// How long an acquire may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    Forever,
    Until(u64),
    /// Fail at once if the lock is held.
    No,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcquireOutcome {
    Granted(u64),
    Queued,
    Refused,
}

/// The token for a grant made by the command at `index`: the index itself, unless an earlier
/// grant of the same command already used it.
fn next_token(last_token: &mut u64, index: u64) -> u64 {
    *last_token = (*last_token).max(index.saturating_sub(1)) + 1;
    *last_token
}

#[derive(Debug, Default, Clone)]
pub(crate) struct LockTable {
    locks: FastMap<String, LockState>,
    /// (deadline, lock, node, request id) of every waiter with a deadline.
    wait_deadlines: BTreeSet<(u64, String, String, u32)>,
    /// The last fencing token handed out.
    last_token: u64,
}

impl LockTable {
    pub fn holder(&self, name: &str) -> Option<&Holder> {
        self.locks.get(name).and_then(|l| l.holder.as_ref())
    }

    pub fn acquire(
        &mut self,
        name: String,
        node_id: &str,
        request_id: u32,
        wait: Wait,
        index: u64,
    ) -> AcquireOutcome {
        let Some(lock) = self.locks.get_mut(&name) else {
            // Free locks have no entry (see the module invariants).
            let fencing_token = next_token(&mut self.last_token, index);
            let holder = Holder {
                node_id: node_id.to_owned(),
                request_id,
                fencing_token,
            };
            let state = LockState {
                holder: Some(holder),
                waiters: VecDeque::new(),
            };
            self.locks.insert(name, state);
            return AcquireOutcome::Granted(fencing_token);
        };
        let deadline = match wait {
            Wait::No => return AcquireOutcome::Refused,
            Wait::Forever => None,
            Wait::Until(d) => Some(d),
        };
        let already_queued = lock
            .waiters
            .iter()
            .any(|w| w.node_id == node_id && w.request_id == request_id);
        if already_queued {
            // A retried acquire keeps its place in the queue.
            return AcquireOutcome::Queued;
        }
        lock.waiters.push_back(Waiter {
            node_id: node_id.to_owned(),
            request_id,
            deadline,
        });
        if let Some(d) = deadline {
            self.wait_deadlines
                .insert((d, name, node_id.to_owned(), request_id));
        }
        AcquireOutcome::Queued
    }

    /// Releases `name` if `node_id` holds it, granting the next live waiter.
    pub fn release(
        &mut self,
        name: &str,
        node_id: &str,
        index: u64,
        now_ms: u64,
        events: &mut Vec<Event>,
    ) -> bool {
        let Some(lock) = self.locks.get_mut(name) else {
            return false;
        };
        if lock.holder.as_ref().is_none_or(|h| h.node_id != node_id) {
            return false;
        }
        lock.holder = None;
        self.grant_next(name, index, now_ms, events);
        true
    }

    /// Hands a free lock to the first waiter whose deadline has not passed.
    fn grant_next(&mut self, name: &str, index: u64, now_ms: u64, events: &mut Vec<Event>) {
        let lock = self.locks.get_mut(name).expect("caller checked");
        while let Some(w) = lock.waiters.pop_front() {
            if let Some(d) = w.deadline {
                self.wait_deadlines
                    .remove(&(d, name.to_owned(), w.node_id.clone(), w.request_id));
                if d <= now_ms {
                    events.push(Event::LockWaitExpired {
                        lock_name: name.to_owned(),
                        node_id: w.node_id,
                        request_id: w.request_id,
                    });
                    continue;
                }
            }
            let fencing_token = next_token(&mut self.last_token, index);
            log::debug!(
                "lock {name}: granted to {} (request {}), token {fencing_token}",
                w.node_id,
                w.request_id
            );
            events.push(Event::LockGranted {
                lock_name: name.to_owned(),
                node_id: w.node_id.clone(),
                request_id: w.request_id,
                fencing_token,
            });
            lock.holder = Some(Holder {
                node_id: w.node_id,
                request_id: w.request_id,
                fencing_token,
            });
            return;
        }
        self.locks.remove(name);
    }

    /// The acquisitions of `node_id` waiting in a queue: (lock, acquire request id).
    pub fn waits_of(&self, node_id: &str) -> Vec<(String, u32)> {
        let mut waits: Vec<(String, u32)> = self
            .locks
            .iter()
            .flat_map(|(name, l)| {
                l.waiters
                    .iter()
                    .filter(|w| w.node_id == node_id)
                    .map(move |w| (name.clone(), w.request_id))
            })
            .collect();
        waits.sort_unstable();
        waits
    }

    /// Whether acquisition `request_id` of `node_id` holds or waits for lock `name`.
    pub fn holds_or_waits(&self, name: &str, node_id: &str, request_id: u32) -> bool {
        self.locks.get(name).is_some_and(|l| {
            l.holder
                .as_ref()
                .is_some_and(|h| h.node_id == node_id && h.request_id == request_id)
                || l.waiters
                    .iter()
                    .any(|w| w.node_id == node_id && w.request_id == request_id)
        })
    }

    /// Withdraws an acquire: drops its wait if it is queued, or releases the lock if that
    /// acquire holds it (a grant its caller never heard of: it gave up, or its request failed and
    /// was applied anyway). Only that acquire's wait or hold, so a cancel applied late never frees
    /// a later grant to the same node. False when the acquire neither waits nor holds.
    pub fn cancel(
        &mut self,
        name: &str,
        node_id: &str,
        request_id: u32,
        index: u64,
        now_ms: u64,
        events: &mut Vec<Event>,
    ) -> bool {
        let Some(lock) = self.locks.get_mut(name) else {
            return false;
        };
        if lock
            .holder
            .as_ref()
            .is_some_and(|h| h.node_id == node_id && h.request_id == request_id)
        {
            return self.release(name, node_id, index, now_ms, events);
        }
        let Some(pos) = lock
            .waiters
            .iter()
            .position(|w| w.node_id == node_id && w.request_id == request_id)
        else {
            return false;
        };
        let w = lock.waiters.remove(pos).expect("position is in range");
        if let Some(d) = w.deadline {
            self.wait_deadlines
                .remove(&(d, name.to_owned(), w.node_id, w.request_id));
        }
        true
    }

    /// Drops every wait of `node_id` and releases every lock it holds, in lock-name order.
    pub fn remove_node(&mut self, node_id: &str, index: u64, now_ms: u64, events: &mut Vec<Event>) {
        let mut names: Vec<String> = self
            .locks
            .iter()
            .filter(|(_, l)| {
                l.holder.as_ref().is_some_and(|h| h.node_id == node_id)
                    || l.waiters.iter().any(|w| w.node_id == node_id)
            })
            .map(|(n, _)| n.clone())
            .collect();
        names.sort_unstable();
        self.wait_deadlines.retain(|(_, _, n, _)| n != node_id);
        for name in names {
            let lock = self.locks.get_mut(&name).expect("collected above");
            lock.waiters.retain(|w| w.node_id != node_id);
            if lock.holder.as_ref().is_some_and(|h| h.node_id == node_id) {
                log::debug!("lock {name}: released because holder {node_id} left");
                lock.holder = None;
                self.grant_next(&name, index, now_ms, events);
            }
        }
    }

    /// Drops every wait whose deadline is at or before `now_ms`; returns how many went.
    pub fn expire(&mut self, now_ms: u64, events: &mut Vec<Event>) -> usize {
        let mut expired = 0;
        while self
            .wait_deadlines
            .first()
            .is_some_and(|(d, ..)| *d <= now_ms)
        {
            let (_, name, node_id, request_id) =
                self.wait_deadlines.pop_first().expect("first exists");
            if let Some(lock) = self.locks.get_mut(&name) {
                lock.waiters
                    .retain(|w| !(w.node_id == node_id && w.request_id == request_id));
            }
            expired += 1;
            events.push(Event::LockWaitExpired {
                lock_name: name,
                node_id,
                request_id,
            });
        }
        expired
    }

    /// The earliest deadline of a queued wait.
    pub fn next_deadline(&self) -> Option<u64> {
        self.wait_deadlines.first().map(|(d, ..)| *d)
    }

    pub fn last_token(&self) -> u64 {
        self.last_token
    }

    pub fn set_last_token(&mut self, token: u64) {
        self.last_token = token;
    }

    /// Every lock sorted by name: the snapshot's view.
    pub fn sorted(&self) -> Vec<(&String, &LockState)> {
        let mut out: Vec<_> = self.locks.iter().collect();
        out.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out
    }

    /// Restores one lock from a snapshot.
    pub fn insert_raw(&mut self, name: String, state: LockState) {
        for w in &state.waiters {
            if let Some(d) = w.deadline {
                self.wait_deadlines
                    .insert((d, name.clone(), w.node_id.clone(), w.request_id));
            }
        }
        self.locks.insert(name, state);
    }

    /// Checks the invariants listed in the module docs; for tests.
    #[cfg(test)]
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut timed = 0;
        for (name, lock) in &self.locks {
            if lock.holder.is_none() {
                return Err(format!("lock {name} kept with no holder"));
            }
            for w in &lock.waiters {
                if let Some(d) = w.deadline {
                    timed += 1;
                    let key = (d, name.clone(), w.node_id.clone(), w.request_id);
                    if !self.wait_deadlines.contains(&key) {
                        return Err(format!("waiter {key:?} missing from the deadline index"));
                    }
                }
            }
        }
        if timed != self.wait_deadlines.len() {
            return Err(format!(
                "deadline index has {} entries for {timed} timed waiters",
                self.wait_deadlines.len()
            ));
        }
        Ok(())
    }
}
