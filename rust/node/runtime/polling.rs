//! When the node's threads poll instead of sleeping, and the count of callers' requests waiting
//! for answers that decides it; and when an idle learner's loop lets its ticks wait.
//!
//! The counts (`LIVE_NODES`, `IN_FLIGHT`) are the process's, not a node's, on purpose: what they
//! decide is how the threads of every node in the process share the same cores. One node alone
//! (the product's setup) always polls after work; several nodes in one process (the TCK, the
//! benchmarks) poll only while the process as a whole is lightly loaded, because a node's loop
//! that spins takes the core another node's loop needs. A per-node count could not see that.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use super::super::Callback;
use super::{monotonic_ms, Loop};
use crate::wire::Message;

/// After work, threads keep polling this long before they sleep: waking a sleeping thread costs
/// tens of microseconds on a virtual machine, and requests often come back to back. Long enough
/// to span a replication round trip between nodes (a follower hears of the next write about one
/// round trip after the last), so that one slow round does not cost a wake-up as well.
const SPIN: Duration = Duration::from_micros(150);
/// With several nodes in one process, threads poll only while at most this many requests of the
/// process wait for answers: under load those loops batch better when they sleep.
const LIGHT_LOAD: usize = 4;

/// Nodes running in this process.
static LIVE_NODES: AtomicUsize = AtomicUsize::new(0);
/// Requests of this process's callers not answered yet: counted in by `Node::request`, out by
/// the loop that answers them.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// How long a thread polls for more work before it sleeps. A process with one node (the
/// product's setup) always does: its callers keep it busy in bursts. Several nodes in one
/// process (tests, benchmarks) share the cores: their threads poll only under light load. Every
/// round yields ([`spin_pause`]), so a thread with work runs first, whether it belongs to another
/// node of this process or to another process on the same host.
pub(super) fn spin_time() -> Duration {
    if LIVE_NODES.load(Ordering::Relaxed) <= 1 || light_load() {
        SPIN
    } else {
        Duration::ZERO
    }
}

/// At most [`LIGHT_LOAD`] requests of this process wait for answers.
pub(super) fn light_load() -> bool {
    IN_FLIGHT.load(Ordering::Relaxed) <= LIGHT_LOAD
}

/// One round of a spin gives the core away to any thread that has work: other nodes' threads,
/// or other processes on the same host (several single-node JVMs on a small machine).
pub(super) fn spin_pause() {
    std::thread::yield_now();
}

/// A caller's callback, counted in [`IN_FLIGHT`] from the request until it has been answered
/// (or dropped unanswered: the node closed).
pub(in crate::node) struct Caller(Option<Callback>);

impl Caller {
    pub(in crate::node) fn new(callback: Callback) -> Caller {
        IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
        Caller(Some(callback))
    }

    pub(super) fn answer(mut self, answer: Message) {
        if let Some(callback) = self.0.take() {
            callback(answer);
        }
    }
}

impl Drop for Caller {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts a node's loop in ([`node_stopped`] counts it out).
pub(super) fn node_started() {
    LIVE_NODES.fetch_add(1, Ordering::Relaxed);
}

pub(super) fn node_stopped() {
    LIVE_NODES.fetch_sub(1, Ordering::Relaxed);
}

/// Polls the channel for [`spin_time`] before the caller blocks on it.
pub(in crate::node) fn spin_recv<T>(channel: &Receiver<T>) -> Option<T> {
    let until = Instant::now() + spin_time();
    loop {
        match channel.try_recv() {
            Ok(value) => return Some(value),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) if Instant::now() >= until => return None,
            Err(mpsc::TryRecvError::Empty) => spin_pause(),
        }
    }
}

impl Loop {
    /// Whether this node's ticks may wait: an idle learner ([`Replica::is_idle_learner`]) whose
    /// loop has nothing of its own to time either (no caller's request, lock wait, leave or
    /// join in progress).
    pub(super) fn ticks_may_wait(&self) -> bool {
        self.callbacks.is_empty()
            && self.lock_waits.is_empty()
            && self.leave.is_none()
            && self.joined.is_none()
            && self.replica.is_idle_learner()
    }

    /// How many ticks an idle learner counts at a time at most: two more than the ticks between
    /// the leader's heartbeats to a learner ([`Replica::learner_heartbeat_ticks`], 4 at the
    /// defaults), so that it wakes for those heartbeats alone, a tick late included, and its
    /// ticks are counted at most five ticks (125 ms at the default tick) late.
    pub(super) fn lazy_ticks(&self) -> u32 {
        self.replica.learner_heartbeat_ticks() as u32 + 2
    }

    /// Counts the ticks an idle learner let wait, [`Loop::lazy_ticks`] at most; the turn's own
    /// tick in `Loop::run` then finds none due, or drops the rest as after a pause.
    pub(super) fn count_waiting_ticks(&mut self) {
        let now = Instant::now();
        let now_ms = monotonic_ms();
        let lazy_ticks = self.lazy_ticks();
        let mut counted = 0;
        while now >= self.next_tick && counted < lazy_ticks {
            self.replica.tick(now_ms);
            self.next_tick += self.tick;
            counted += 1;
        }
    }
}
