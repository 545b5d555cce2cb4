//! The node's event loop: one thread that owns the poll, the transport and the replica, and a
//! callback thread that runs completions and events in the order the loop hands them over.
//!
//! Each turn of the loop: wait on the poll until a socket is ready, a command arrives (the waker)
//! or the next tick is due; read frames; take commands; tick raft when due; drive the replica;
//! hand its outgoing frames to the transport and its completions and events to the callback
//! thread. Lock acquisitions that queue are kept until their grant or expiry arrives as an event,
//! so the caller hears once: granted (with the fencing token) or not. What the loop does with
//! the replica's answers and events is in `answers.rs`, joining and leaving in `membership.rs`,
//! frames received in `inbox.rs`, the callback thread in `callbacks.rs`, when threads poll
//! instead of sleeping in `polling.rs`, and starting a node (binding, discovery, the threads) in
//! `start.rs`.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Events, Poll, Waker};

use super::discovery::{Discovery, Own, Registration};
use crate::error::{Error, Result};
use crate::raft::{Replica, ReplicaConfig, ReplicaStats};
use crate::transport::{Faults, Transport, TransportStats};
use crate::wire::{error_code, Message};

mod answers;
mod callbacks;
mod inbox;
mod membership;
mod polling;
mod start;

use answers::{LockWait, WaitFor};
use callbacks::Delivery;
use polling::{light_load, node_stopped, spin_pause, spin_time};
pub(super) use polling::{spin_recv, Caller};
pub(super) use start::start;

pub(super) enum Command {
    Request(Message, Caller),
    Leave(Sender<Result<()>>),
    Shutdown,
}

/// What other threads may read of the node without asking the loop.
#[derive(Clone, Default)]
pub(super) struct View {
    pub members: Vec<String>,
    pub leader: bool,
    pub voters: Vec<u64>,
    /// 0 until the node has joined.
    pub raft_id: u64,
    pub transport: TransportStats,
    pub raft: ReplicaStats,
    /// Open connections: inbound, outbound.
    pub connections: (usize, usize),
}

#[derive(Default)]
pub(super) struct Shared {
    view: Mutex<View>,
    /// Set while the loop is about to block in the poll: only then does a sender pay for the
    /// waker (a system call per request otherwise).
    sleeping: AtomicBool,
    /// Why the loop is gone, once it is: later requests fail at once with this.
    stopped: Mutex<Option<String>>,
}

impl Shared {
    /// Called after a command was queued: wakes the loop if it sleeps or is about to.
    pub fn wake_if_sleeping(&self, waker: &Waker) -> std::io::Result<()> {
        fence(Ordering::SeqCst);
        if self.sleeping.swap(false, Ordering::SeqCst) {
            waker.wake()
        } else {
            Ok(())
        }
    }

    pub fn view(&self) -> View {
        self.view.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn stopped(&self) -> Option<String> {
        self.stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records why the loop stopped (the first reason wins).
    fn stop(&self, why: String) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        if stopped.is_none() {
            *stopped = Some(why);
        }
    }
}

/// Milliseconds on the process's monotonic clock: the only time the replica is given (see
/// `raft::replica::clock`), so setting the wall clock or an NTP step changes nothing.
fn monotonic_ms() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

struct JoinState {
    candidates: Vec<SocketAddr>,
    attempt: usize,
    next_attempt: Instant,
    /// Seeds that should bootstrap do so at this instant if no cluster answered before.
    bootstrap_at: Option<Instant>,
    deadline: Instant,
}

struct LeaveState {
    ticket: u32,
    done: Sender<Result<()>>,
    applied_at: Option<Instant>,
    /// Leaving is retried (it is idempotent) until this instant when the cluster is busy
    /// electing a leader.
    give_up_at: Instant,
}

struct Loop {
    poll: Poll,
    transport: Transport,
    replica: Replica,
    cfg: ReplicaConfig,
    discovery: Discovery,
    registration: Option<Registration>,
    local: SocketAddr,
    /// Where this node is bound and advertised, for discovery.
    own: Own,
    commands: Receiver<Command>,
    deliveries: Sender<Delivery>,
    shared: Arc<Shared>,
    /// Tickets of caller requests, with what they asked.
    callbacks: HashMap<u32, (Caller, Option<WaitFor>)>,
    lock_waits: HashMap<u32, LockWait>,
    leave: Option<LeaveState>,
    joined: Option<Sender<Result<()>>>,
    join: JoinState,
    tick: Duration,
    next_tick: Instant,
    addresses: HashMap<String, Option<SocketAddr>>,
    /// Listen addresses of members, so a departed member's connection can be dropped.
    member_addresses: HashMap<String, String>,
    /// Departed members whose connections go once the frames of this turn are sent.
    departed: Vec<SocketAddr>,
    /// The view last published, to publish again only what changed.
    published: Option<View>,
    /// Fault injection of tests and drills.
    faults: Option<Faults>,
    /// Why the loop stopped by itself (a panic, a failed poll); `None` after a close.
    fault: Option<String>,
}

impl Loop {
    fn run(&mut self) {
        let mut events = Events::with_capacity(256);
        let mut inbox = Vec::new();
        // Starting is work: a bootstrapping node's own admission waits to be proposed, a
        // joining node's request to be sent. Without the spin the first poll would sleep until
        // the first tick.
        let mut spin_until = Instant::now() + spin_time();
        loop {
            let now = Instant::now();
            // An idle learner's ticks wait for the next frame that wakes it (the leader's
            // heartbeat, every fourth tick at the defaults), or `lazy_ticks` - 1 ticks at most:
            // it wakes for the heartbeats alone, not for each tick as well.
            let lazy = self.ticks_may_wait();
            let mut due_at = if lazy {
                self.next_tick + self.tick * (self.lazy_ticks() - 1)
            } else {
                self.next_tick
            };
            if let Some(t) = self.join_due() {
                due_at = due_at.min(t);
            }
            if let Some(t) = self.transport.next_deadline() {
                due_at = due_at.min(t);
            }
            if let Some(ms) = self.replica.expiry_due_in(monotonic_ms()) {
                // A TTL runs out: the leader proposes its expiry then, not at the next tick.
                due_at = due_at.min(now + Duration::from_millis(ms));
            }
            let mut wake_at = due_at;
            if now < spin_until {
                wake_at = now;
                spin_pause();
            }
            let mut timeout = wake_at.saturating_duration_since(now);
            // Announce the sleep, then look at the queue once more: a command queued before the
            // announcement is seen here, one queued after it finds the flag and wakes the poll.
            let mut early = None;
            if !timeout.is_zero() {
                self.shared.sleeping.store(true, Ordering::SeqCst);
                fence(Ordering::SeqCst);
                early = self.commands.try_recv().ok();
                if early.is_some() {
                    timeout = Duration::ZERO;
                }
            }
            let polled = self.poll.poll(&mut events, Some(timeout));
            self.shared.sleeping.store(false, Ordering::SeqCst);
            if let Err(e) = polled {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    self.fault = Some(format!("the node's event loop stopped: poll failed: {e}"));
                    break;
                }
            }
            if let Some(faults) = &self.faults {
                if faults.take_loop_panic(self.local) {
                    panic!("injected fault: the event loop of {} panics", self.local);
                }
            }
            if !events.is_empty() {
                spin_until = Instant::now() + spin_time();
            }
            for event in events.iter() {
                if self.transport.owns(event.token()) {
                    self.transport
                        .handle_event(self.poll.registry(), event, &mut inbox);
                }
            }
            if lazy {
                // Before anything that reads the tick count (a request's deadline).
                self.count_waiting_ticks();
            }
            let mut next = early.or_else(|| self.commands.try_recv().ok());
            if events.is_empty()
                && next.is_none()
                && !self.replica.has_unsent()
                && Instant::now() < due_at
            {
                // A round of the spin that found nothing: the rest of the turn would find
                // nothing either, as it would not have run had the loop slept.
                continue;
            }
            let now_ms = monotonic_ms();
            let mut shutdown = false;
            if next.is_some() {
                // Commands are work too (they no longer wake the poll while it spins).
                spin_until = Instant::now() + spin_time();
            }
            while let Some(command) = next {
                match command {
                    Command::Request(request, caller) => self.submit(request, caller, now_ms),
                    Command::Leave(done) => self.start_leave(done, now_ms),
                    Command::Shutdown => shutdown = true,
                }
                next = self.commands.try_recv().ok();
            }
            if shutdown {
                break;
            }
            self.receive_all(&mut inbox, now_ms);
            let now = Instant::now();
            if now >= self.next_tick {
                self.replica.tick(now_ms);
                self.next_tick += self.tick;
                if self.next_tick < now {
                    // The loop fell behind (a paused process); do not replay missed ticks.
                    self.next_tick = now + self.tick;
                }
                self.give_up_lock_waits(now);
            }
            self.transport.on_timer(self.poll.registry(), now);
            self.report_refused();
            if let Err(e) = self.joining_step(now) {
                if let Some(joined) = self.joined.take() {
                    let _ = joined.send(Err(e));
                }
                break;
            }
            self.replica.drive(now_ms);
            // The view before the deliveries: whoever hears an event or an answer and then reads
            // the member list sees at least that much applied, and a node that has just joined
            // sees itself among the members.
            self.publish_view();
            self.flush();
            self.check_joined();
            self.check_leave(now);
        }
        self.close();
    }

    fn submit(&mut self, request: Message, caller: Caller, now_ms: u64) {
        let wait = WaitFor::of(&request);
        let ticket = self.replica.submit(request, now_ms);
        self.callbacks.insert(ticket, (caller, wait));
    }

    /// Tells the replica which members' ports refused a connection (their process is gone).
    fn report_refused(&mut self) {
        for refused in self.transport.take_refused() {
            for (address, resolved) in &self.addresses {
                if *resolved == Some(refused) {
                    self.replica.connection_refused(address);
                }
            }
        }
    }

    fn resolve(&mut self, address: &str) -> Option<SocketAddr> {
        *self
            .addresses
            .entry(address.to_owned())
            .or_insert_with(|| address.to_socket_addrs().ok().and_then(|mut a| a.next()))
    }

    fn flush(&mut self) {
        // Under light load the answers go first: writing the frames costs system calls, and a
        // caller waiting on an applied entry need not wait for them. Under load the frames go
        // first, so the followers work while this loop delivers.
        let answers_first = light_load();
        if answers_first {
            self.deliver_outcomes();
        }
        for (to, frame) in self.replica.take_outbox() {
            match self.resolve(&to) {
                Some(addr) => {
                    if let Err(e) = self.transport.enqueue(addr, &frame) {
                        log::debug!("{}: frame to {to} not sent: {e}", self.cfg.node_id);
                    }
                }
                None => log::warn!("{}: cannot resolve peer address {to}", self.cfg.node_id),
            }
        }
        self.transport.flush_queued(self.poll.registry());
        if !answers_first {
            self.deliver_outcomes();
        }
        for addr in self.departed.drain(..) {
            self.transport.forget(self.poll.registry(), addr);
        }
        // Releases and cancels queued by events go out with the next drive.
    }

    fn publish_view(&mut self) {
        let stats = self.transport.stats();
        let raft = self.replica.stats();
        let connections = self.transport.connection_counts();
        let leader = self.replica.is_leader();
        let members = self.replica.fsm().members();
        if let Some(last) = &mut self.published {
            // Compared in place: this runs every turn, and most turns change the transport's
            // counters at most.
            if last.leader == leader
                && last.raft_id == self.replica.raft_id()
                && self.replica.has_voters(&last.voters)
                && members.iter().map(|m| &m.node_id).eq(last.members.iter())
            {
                if last.transport != stats || last.raft != raft || last.connections != connections {
                    last.transport = stats;
                    last.raft = raft;
                    last.connections = connections;
                    let mut view = self.shared.view.lock().unwrap_or_else(|e| e.into_inner());
                    view.transport = stats;
                    view.raft = raft;
                    view.connections = connections;
                }
                return;
            }
        }
        for m in members {
            if m.raft_id != 0 && !self.member_addresses.contains_key(&m.node_id) {
                self.member_addresses
                    .insert(m.node_id.clone(), m.address.clone());
            }
        }
        let view = View {
            members: members.iter().map(|m| m.node_id.clone()).collect(),
            leader,
            voters: self.replica.voters(),
            raft_id: self.replica.raft_id(),
            transport: stats,
            raft,
            connections,
        };
        *self.shared.view.lock().unwrap_or_else(|e| e.into_inner()) = view.clone();
        self.published = Some(view);
    }

    fn close(&mut self) {
        self.transport.shutdown(self.poll.registry());
        self.replica.fail_all("the node is closed");
        for c in self.replica.take_completions() {
            if let Some((caller, _)) = self.callbacks.remove(&c.ticket) {
                self.deliver(Delivery::Answer(caller, c.response));
            }
        }
        self.registration = None;
    }
}

impl Drop for Loop {
    /// Whatever ends the loop (a close, a panic), every caller still waiting hears why, and so
    /// does every caller whose request is still queued; later requests fail at once with the
    /// same reason (`Shared::stopped`). A loop that stopped by itself says so last.
    fn drop(&mut self) {
        node_stopped();
        let why = self
            .fault
            .clone()
            .unwrap_or_else(|| "the node is closed".to_owned());
        if let Some(fault) = &self.fault {
            log::error!("{}: {fault}", self.cfg.node_id);
        }
        self.shared.stop(why.clone());
        let closed = || Message::error(error_code::CLOSED, why.clone());
        for (_, (caller, _)) in self.callbacks.drain() {
            let _ = self.deliveries.send(Delivery::Answer(caller, closed()));
        }
        for (_, wait) in self.lock_waits.drain() {
            let _ = self
                .deliveries
                .send(Delivery::Answer(wait.caller, closed()));
        }
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Request(_, caller) => {
                    let _ = self.deliveries.send(Delivery::Answer(caller, closed()));
                }
                Command::Leave(done) => {
                    let _ = done.send(Err(Error::Stopped(why.clone())));
                }
                Command::Shutdown => {}
            }
        }
        if let Some(joined) = self.joined.take() {
            let _ = joined.send(Err(Error::Stopped(why.clone())));
        }
        if let Some(leave) = self.leave.take() {
            let _ = leave.done.send(Err(Error::Stopped(why.clone())));
        }
        if let Some(fault) = self.fault.take() {
            let _ = self.deliveries.send(Delivery::Stopped(fault));
        }
    }
}
