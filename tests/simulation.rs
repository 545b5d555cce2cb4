//! A seeded simulation of a replicated cluster, in the raft-rs harness style: `Replica`s (I/O
//! free) on an in-memory network with a virtual clock of 10 ms ticks. No sockets, threads or
//! sleeps. The network drops messages, delays them by whole ticks (which reorders them), cuts the
//! cluster into a minority and a majority side (both ways or one way) that later heal, and
//! crashes nodes for good (the replica is dropped; storage is in memory, so a crashed node never
//! returns under its id; a message sent to it is refused, which its sender hears, as TCP does). Node 1 bootstraps; the others join by sending `join_request()` to a
//! member until their phase is `Member`. Faults start once the cluster has all its voters, and a
//! crash waits for calm weather (no partition for a while, the last crash declared dead) and
//! leaves a majority of voters alive: the design promises to survive single failures, one at a
//! time, and no more.
//!
//! Client sessions, each with at most one outstanding operation, call random live nodes:
//! counter increments and reads, map puts (a unique value per put) and gets on a few keys (one
//! register per key), and locks that are acquired (granted in the response or later by a
//! `LockGranted` event on the asking node), held a few ticks, and released from the same node.
//! Every operation records its invocation and completion on one logical clock, and its result:
//! an answer, an `ErrorResponse`, or nothing (its node crashed). After the faulty part of a run
//! everything heals and the cluster must settle (one leader, every live member caught up, no lock
//! left held); then each counter and key is read once more.
//!
//! Checks (a failure prints the seed, the knobs, the faults and a history excerpt, and keeps the
//! whole run in `target/tmp/simulation/seed-<n>.txt`):
//! 1. Locks: no two sessions hold a lock at once, taking a hold as [grant seen, release invoked]
//!    (cut short when the holder's node crashes or is declared dead, which releases its locks);
//!    later holds carry larger fencing tokens; no lock is left to a node that is not a member.
//!    Every replica applies the same `LockGranted` sequence: a token names the same grant
//!    everywhere, and a replica that applied the entries around a grant (not skipped by a
//!    snapshot) saw it.
//! 2. Counters: a final read lies between the acknowledged and the invoked increments; every
//!    acknowledged add-and-get value is distinct.
//! 3. Linearizability: counter values respect real-time order; each map key passes a
//!    Wing & Gong / Lowe search, where a put that failed or never completed may or may not have
//!    happened and a read that failed is absent.
//! 4. Replicas that applied the same index hold byte-identical state-machine snapshots (sampled
//!    during the run, and at the end between all settled members).
//!
//! Plus every request on a live node is answered, and a holder's release is never refused.
//!
//! A lock is released by node, not by acquire: a release whose outcome is unknown (it failed
//! with an error but may still be applied) could release a later grant to the same node. So after
//! such a release the (node, lock) pair is quarantined, for sessions and for the janitor that
//! releases grants nobody waits for (an acquire that failed but was applied), until a write
//! invoked `QUARANTINE_TICKS` after the error has committed: raft can no longer apply the release
//! after that.
//!
//! Seeds: 200 per `cargo test` (two tests of 100, one per core); `VERTX_CLUSTER_SIM_SEEDS=5000`
//! for more (with `--release`), `VERTX_CLUSTER_SIM_SEED=<n>` replays one seed and prints its run,
//! `VERTX_CLUSTER_SIM_TICKS=<n>` changes the length of a run.
//!
//! Determinism: the harness draws everything from splitmix64 streams of the seed and iterates
//! ordered collections only, and gives each node a fixed election timeout derived from the seed
//! (`ReplicaConfig::election_range`), since raft-rs would otherwise draw it from an unseeded RNG.
//! Failing seeds also save their whole run under `target/tmp/simulation/`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Instant;

use protobuf::Message as _;
use raft::prelude::{Message as RaftMessage, MessageType};
use vertx_cluster::fsm::Event;
use vertx_cluster::raft::{Completion, Phase, Replica, ReplicaConfig};
use vertx_cluster::wire::{error_code, FramedMessage, Message};

const TICK_MS: u64 = 10;
/// Delivery rounds per tick: a message sent while delivering is delivered in the next round of
/// the same tick unless it is delayed; whatever is left after this many rounds waits a tick.
const MAX_ROUNDS_PER_TICK: usize = 64;
const JOIN_RETRY_TICKS: u64 = 15;
const SAMPLE_EVERY_TICKS: u64 = 20;
/// How long after its error an unknown release can still travel outside a raft log (bounded
/// network delay times a few forwarding hops).
const QUARANTINE_TICKS: u64 = 100;
const LOCK_GIVE_UP_TICKS: u64 = 400;
const SETTLE_LIMIT_TICKS: u64 = 1500;
const DEFAULT_SEEDS: u64 = 200;
const DEFAULT_RUN_TICKS: u64 = 700;

const COUNTERS: [&str; 2] = ["c0", "c1"];
const KEYS: usize = 3;
const MAP: &str = "m";
const LOCKS: [&str; 2] = ["l0", "l1"];
const PLAIN_SESSIONS: usize = 5;
const LOCK_SESSIONS_PER_LOCK: usize = 2;
const FINAL: usize = usize::MAX;
const JANITOR: usize = usize::MAX - 1;
const BARRIER: usize = usize::MAX - 2;

// ---------------------------------------------------------------------------------------------
// Randomness

/// splitmix64: tiny, seedable, good enough to drive a simulation.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut rng = Rng(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0);
        self.next() % n
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            Some(&items[self.below(items.len() as u64) as usize])
        }
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

// ---------------------------------------------------------------------------------------------
// The simulated cluster

/// What a run does to the cluster.
#[derive(Debug, Clone)]
struct Knobs {
    nodes: usize,
    failure_timeout_ms: u64,
    request_timeout_ticks: Option<u64>,
    compact_after_entries: Option<u64>,
    drop_p: f64,
    delay_p: f64,
    max_delay_ticks: u64,
    reorder: bool,
    /// Chance per tick that a partition starts (when none is active).
    partition_p: f64,
    partition_ticks: (u64, u64),
    one_way_p: f64,
    /// Chance per tick that a node crashes.
    crash_p: f64,
    max_crashes: usize,
    run_ticks: u64,
}

impl Knobs {
    /// A reliable network and nothing declared dead: for scripted scenarios.
    fn quiet(nodes: usize) -> Knobs {
        Knobs {
            nodes,
            failure_timeout_ms: 30_000,
            request_timeout_ticks: None,
            compact_after_entries: None,
            drop_p: 0.0,
            delay_p: 0.0,
            max_delay_ticks: 0,
            reorder: false,
            partition_p: 0.0,
            partition_ticks: (0, 0),
            one_way_p: 0.0,
            crash_p: 0.0,
            max_crashes: 0,
            run_ticks: 0,
        }
    }

    /// One in ten runs is calm (no partitions, no crashes), three in ten favour crashes (which
    /// wait for calm weather), the rest favour partitions.
    fn random(rng: &mut Rng, run_ticks: u64) -> Knobs {
        let nodes = rng.between(3, 5) as usize;
        let profile = rng.below(10);
        let calm = profile == 0;
        let crashy = (1..=3).contains(&profile);
        Knobs {
            nodes,
            failure_timeout_ms: [800, 1500, 3000][rng.below(3) as usize],
            request_timeout_ticks: Some(300),
            compact_after_entries: rng.chance(0.3).then(|| rng.between(20, 80)),
            drop_p: if calm || rng.chance(0.2) {
                0.0
            } else {
                rng.between(1, 10) as f64 / 100.0
            },
            delay_p: rng.between(0, 30) as f64 / 100.0,
            max_delay_ticks: rng.between(1, 5),
            reorder: rng.chance(0.7),
            partition_p: if calm {
                0.0
            } else if crashy {
                1.0 / rng.between(300, 700) as f64
            } else {
                1.0 / rng.between(60, 200) as f64
            },
            partition_ticks: (10, rng.between(60, 300)),
            one_way_p: 0.2,
            crash_p: if calm {
                0.0
            } else if crashy {
                1.0 / rng.between(40, 150) as f64
            } else {
                1.0 / rng.between(200, 900) as f64
            },
            max_crashes: if crashy {
                nodes - 2
            } else {
                rng.between(0, nodes as u64 - 2) as usize
            },
            run_ticks,
        }
    }
}

/// A `LockGranted` event as one replica applied it, with the range of state-machine indexes
/// applied by the step that produced it.
#[derive(Debug, Clone)]
struct SeenGrant {
    token: u64,
    lock: String,
    node_id: String,
    request_id: u32,
    lo: u64,
    hi: u64,
}

struct Node {
    /// `None` once crashed.
    replica: Option<Replica>,
    crashed: bool,
    raft_id: u64,
    next_join_tick: u64,
    last_applied: u64,
    grants: Vec<SeenGrant>,
    /// Index ranges (lo, hi] this replica skipped by installing a snapshot.
    gaps: Vec<(u64, u64)>,
}

struct Envelope {
    at: u64,
    from: String,
    to: String,
    frame: FramedMessage<Message>,
}

/// What the clients observe, in order, stamped with the logical clock.
#[derive(Debug)]
enum Obs {
    Done {
        node: String,
        ticket: u32,
        response: Message,
    },
    Granted {
        node: String,
        lock: String,
        ticket: u32,
        token: u64,
    },
    Crashed {
        node: String,
    },
}

struct Sim {
    knobs: Knobs,
    net_rng: Rng,
    fault_rng: Rng,
    tick: u64,
    now_ms: u64,
    /// Logical time of invocations and observations.
    clock: u64,
    nodes: BTreeMap<String, Node>,
    in_flight: Vec<Envelope>,
    /// Directed links that drop everything.
    blocked: BTreeSet<(String, String)>,
    /// Per directed link drop probability, overriding `drop_p`.
    link_drop: BTreeMap<(String, String), f64>,
    /// Nodes that every raft snapshot sent to is lost on the way.
    drop_snapshots_to: BTreeSet<String>,
    drop_p: f64,
    delay_p: f64,
    max_delay: u64,
    reorder: bool,
    partition_until: Option<u64>,
    last_heal_tick: u64,
    crashes: usize,
    partitions: usize,
    obs: Vec<(u64, Obs)>,
    answers: BTreeMap<(String, u32), Message>,
    /// Clock of the first `NodeLeft` any replica applied, per node.
    removed_at: BTreeMap<String, u64>,
    journal: Vec<String>,
    samples: BTreeMap<u64, (String, u64)>,
    failures: Vec<String>,
    delivered: u64,
    verbose: bool,
    /// Added to each node's fixed election timeout (distinct per node), from the seed.
    election_base: usize,
}

fn is_snapshot(frame: &FramedMessage<Message>) -> bool {
    let snapshot = MessageType::MsgSnapshot as i32 as u8;
    match &frame.payload {
        // msg_type is field 1, so a snapshot's bytes start with its tag and value.
        Message::RaftMessage { data, .. } => {
            data.len() > 2
                && data[0] == 0x08
                && data[1] == snapshot
                && RaftMessage::parse_from_bytes(data)
                    .is_ok_and(|m| m.get_msg_type() == MessageType::MsgSnapshot)
        }
        _ => false,
    }
}

impl Sim {
    fn new(seed: u64, knobs: Knobs) -> Sim {
        let nodes = (1..=knobs.nodes)
            .map(|i| {
                let node = Node {
                    replica: None,
                    crashed: false,
                    raft_id: 0,
                    next_join_tick: 0,
                    last_applied: 0,
                    grants: Vec::new(),
                    gaps: Vec::new(),
                };
                (format!("n{i}"), node)
            })
            .collect();
        Sim {
            net_rng: Rng::new(seed, 2),
            fault_rng: Rng::new(seed, 3),
            drop_p: knobs.drop_p,
            delay_p: knobs.delay_p,
            max_delay: knobs.max_delay_ticks,
            reorder: knobs.reorder,
            knobs,
            tick: 0,
            now_ms: 1_000_000,
            clock: 0,
            nodes,
            in_flight: Vec::new(),
            blocked: BTreeSet::new(),
            link_drop: BTreeMap::new(),
            drop_snapshots_to: BTreeSet::new(),
            partition_until: None,
            last_heal_tick: 0,
            crashes: 0,
            partitions: 0,
            obs: Vec::new(),
            answers: BTreeMap::new(),
            removed_at: BTreeMap::new(),
            journal: Vec::new(),
            samples: BTreeMap::new(),
            failures: Vec::new(),
            delivered: 0,
            verbose: false,
            election_base: (seed % 10) as usize,
        }
    }

    fn config(&self, name: &str) -> ReplicaConfig {
        let mut cfg = ReplicaConfig::new(name, name, TICK_MS, self.knobs.failure_timeout_ms);
        // A fixed election timeout per node, distinct between nodes (so two candidates never
        // tie forever) and drawn from the seed: raft-rs's own draw is not seeded.
        let index: usize = name.trim_start_matches('n').parse().unwrap_or(1);
        let extra = (self.election_base + (index - 1) * 3) % 10;
        cfg.election_range = Some((10 + extra, 11 + extra));
        if let Some(t) = self.knobs.request_timeout_ticks {
            cfg.request_timeout_ticks = t;
        }
        if let Some(n) = self.knobs.compact_after_entries {
            cfg.compact_after_entries = n;
        }
        cfg
    }

    fn note(&mut self, line: String) {
        if self.verbose {
            println!("tick {:>5}: {line}", self.tick);
        }
        self.journal.push(format!("tick {}: {line}", self.tick));
    }

    /// Node 1 bootstraps the cluster; every other node starts joining.
    fn start(&mut self) {
        let names: Vec<String> = self.nodes.keys().cloned().collect();
        for name in names {
            let cfg = self.config(&name);
            let replica = if name == "n1" {
                Replica::bootstrap(cfg, self.now_ms).expect("bootstrap")
            } else {
                Replica::joining(cfg)
            };
            self.nodes.get_mut(&name).expect("listed").replica = Some(replica);
        }
        self.step("n1", false, |_, _| {});
    }

    fn replica(&self, name: &str) -> Option<&Replica> {
        self.nodes.get(name).and_then(|n| n.replica.as_ref())
    }

    fn live(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.replica.is_some())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Live nodes whose phase is `Member` (including ones the others declared dead).
    fn members(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| {
                n.replica
                    .as_ref()
                    .is_some_and(|r| r.phase() == Phase::Member)
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Live members that no replica has seen removed.
    fn healthy(&self) -> Vec<String> {
        self.members()
            .into_iter()
            .filter(|n| !self.removed_at.contains_key(n))
            .collect()
    }

    fn leader(&self) -> Option<String> {
        self.healthy()
            .into_iter()
            .filter(|n| self.replica(n).is_some_and(Replica::is_leader))
            .max_by_key(|n| self.nodes[n].last_applied)
    }

    /// Runs `f` on a live replica, drives it, and routes what comes out. False if crashed.
    fn step(&mut self, name: &str, snapshot: bool, f: impl FnOnce(&mut Replica, u64)) -> bool {
        let now = self.now_ms;
        let Some(node) = self.nodes.get_mut(name) else {
            return false;
        };
        let Some(r) = node.replica.as_mut() else {
            return false;
        };
        let before = r.fsm().last_applied();
        f(r, now);
        r.drive(now);
        let after = r.fsm().last_applied();
        let outbox = r.take_outbox();
        let completions: Vec<Completion> = r.take_completions();
        let events = r.take_events();
        if r.raft_id() != 0 {
            node.raft_id = r.raft_id();
        }
        node.last_applied = after;
        if snapshot && after > before {
            node.gaps.push((before, after));
        }
        for e in &events {
            if let Event::LockGranted {
                lock_name,
                node_id,
                request_id,
                fencing_token,
            } = e
            {
                node.grants.push(SeenGrant {
                    token: *fencing_token,
                    lock: lock_name.clone(),
                    node_id: node_id.clone(),
                    request_id: *request_id,
                    lo: before,
                    hi: after,
                });
            }
        }
        for (to, frame) in outbox {
            self.send(name, to, frame);
        }
        // A node's removal releases its locks in the same command that grants them to the next
        // waiter: stamp it first.
        for e in &events {
            if let Event::NodeLeft { node_id } = e {
                if !self.removed_at.contains_key(node_id) {
                    self.clock += 1;
                    self.removed_at.insert(node_id.clone(), self.clock);
                    self.note(format!("{node_id} removed (applied first by {name})"));
                }
            }
        }
        for c in completions {
            self.clock += 1;
            self.answers
                .insert((name.to_owned(), c.ticket), c.response.clone());
            let obs = Obs::Done {
                node: name.to_owned(),
                ticket: c.ticket,
                response: c.response,
            };
            self.obs.push((self.clock, obs));
        }
        for e in events {
            match e {
                Event::LockGranted {
                    lock_name,
                    node_id,
                    request_id,
                    fencing_token,
                } if node_id == name => {
                    self.clock += 1;
                    let obs = Obs::Granted {
                        node: node_id,
                        lock: lock_name,
                        ticket: request_id,
                        token: fencing_token,
                    };
                    self.obs.push((self.clock, obs));
                }
                _ => {}
            }
        }
        true
    }

    fn send(&mut self, from: &str, to: String, frame: FramedMessage<Message>) {
        let link = (from.to_owned(), to);
        if !self.nodes.contains_key(&link.1) || self.blocked.contains(&link) {
            return;
        }
        let p = self.link_drop.get(&link).copied().unwrap_or(self.drop_p);
        if self.net_rng.chance(p)
            || (self.drop_snapshots_to.contains(&link.1) && is_snapshot(&frame))
        {
            return;
        }
        let at = if self.max_delay > 0 && self.net_rng.chance(self.delay_p) {
            self.tick + self.net_rng.between(1, self.max_delay)
        } else {
            self.tick
        };
        let (from, to) = link;
        self.in_flight.push(Envelope {
            at,
            from,
            to,
            frame,
        });
    }

    /// Delivers every message due by now, round after round, in random order if reordering.
    fn deliver(&mut self) {
        for _ in 0..MAX_ROUNDS_PER_TICK {
            let tick = self.tick;
            let (mut due, rest): (Vec<Envelope>, Vec<Envelope>) =
                std::mem::take(&mut self.in_flight)
                    .into_iter()
                    .partition(|e| e.at <= tick);
            self.in_flight = rest;
            if due.is_empty() {
                return;
            }
            if self.reorder {
                self.net_rng.shuffle(&mut due);
            }
            for e in due {
                if self.blocked.contains(&(e.from.clone(), e.to.clone())) {
                    continue;
                }
                if self.nodes.get(&e.to).is_some_and(|n| n.crashed) {
                    // The crashed node's host answers a connect with a refusal, as TCP does
                    // once nothing listens on the port.
                    let to = e.to;
                    self.step(&e.from, false, |r, _| r.connection_refused(&to));
                    continue;
                }
                let snapshot = is_snapshot(&e.frame);
                if self.step(&e.to, snapshot, |r, now| r.receive(e.frame, now)) {
                    self.delivered += 1;
                }
            }
        }
    }

    /// The clock moves one tick on every live replica.
    fn advance(&mut self) {
        self.tick += 1;
        self.now_ms += TICK_MS;
        for name in self.live() {
            self.step(&name, false, |r, now| r.tick(now));
        }
    }

    /// One whole tick: the clock, joins, and every message due.
    fn tick_once(&mut self) {
        self.advance();
        self.retry_joins();
        self.deliver();
    }

    fn tick_n(&mut self, n: u64) {
        for _ in 0..n {
            self.tick_once();
        }
    }

    fn retry_joins(&mut self) {
        let members = self.members();
        for name in self.live() {
            let node = &self.nodes[&name];
            let r = node.replica.as_ref().expect("live");
            if r.phase() != Phase::Joining || self.tick < node.next_join_tick {
                continue;
            }
            let frame = r.join_request();
            let Some(to) = self.net_rng.pick(&members).cloned() else {
                continue;
            };
            self.nodes.get_mut(&name).expect("live").next_join_tick = self.tick + JOIN_RETRY_TICKS;
            self.send(&name, to, frame);
        }
    }

    fn submit(&mut self, node: &str, request: Message) -> Option<u32> {
        let mut ticket = None;
        self.step(node, false, |r, now| ticket = Some(r.submit(request, now)));
        ticket
    }

    fn crash(&mut self, name: &str) {
        let node = self.nodes.get_mut(name).expect("known node");
        node.replica = None;
        node.crashed = true;
        self.clock += 1;
        let obs = Obs::Crashed {
            node: name.to_owned(),
        };
        self.obs.push((self.clock, obs));
        self.note(format!("crash {name}"));
    }

    /// Cuts every link between `side` and the rest (only `side`'s outgoing ones if one way).
    fn partition(&mut self, side: &[String], one_way: bool) {
        let names: Vec<String> = self.nodes.keys().cloned().collect();
        for a in &names {
            for b in &names {
                if side.contains(a) != side.contains(b) && (!one_way || side.contains(a)) {
                    self.blocked.insert((a.clone(), b.clone()));
                }
            }
        }
    }

    fn isolate(&mut self, name: &str) {
        self.partition(&[name.to_owned()], false);
    }

    /// Makes the link from `from` to `to` lose each message with probability `p`.
    fn drop_link(&mut self, from: &str, to: &str, p: f64) {
        self.link_drop.insert((from.to_owned(), to.to_owned()), p);
    }

    fn heal(&mut self) {
        self.blocked.clear();
        self.link_drop.clear();
        self.partition_until = None;
        self.last_heal_tick = self.tick;
    }

    /// Nodes that may crash now: one crash at a time (the last one declared dead and out of every
    /// voter list), at least two healthy nodes left, and a majority of voters alive afterwards in
    /// every healthy replica's view. Crashing more would lose the cluster for good.
    fn crashable(&self) -> Vec<String> {
        let healthy = self.healthy();
        // A partitioned voter is a failure too, and the leader's proposal to declare it dead may
        // still commit well after the heal: two failures at once are more than 3 voters survive.
        let failure_ticks = self.knobs.failure_timeout_ms / TICK_MS;
        let calm = self.partition_until.is_none()
            && self.tick >= self.last_heal_tick + failure_ticks + 100;
        if healthy.len() < 3 || !calm {
            return Vec::new();
        }
        let crashed: Vec<(&String, u64)> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.crashed)
            .map(|(k, n)| (k, n.raft_id))
            .collect();
        let views: Vec<Vec<u64>> = healthy
            .iter()
            .map(|n| self.replica(n).expect("live").voters())
            .collect();
        let settled = crashed
            .iter()
            .all(|(k, _)| self.removed_at.contains_key(*k))
            && views
                .iter()
                .all(|v| !crashed.iter().any(|(_, id)| v.contains(id)));
        if !settled {
            return Vec::new();
        }
        let alive = |id: u64, victim: &str| {
            healthy
                .iter()
                .any(|n| n != victim && self.nodes[n].raft_id == id)
        };
        healthy
            .iter()
            .filter(|victim| {
                views.iter().all(|v| {
                    let up = v.iter().filter(|id| alive(**id, victim)).count();
                    up > v.len() / 2
                })
            })
            .cloned()
            .collect()
    }

    fn inject_faults(&mut self) {
        if let Some(until) = self.partition_until {
            if self.tick >= until {
                self.heal();
                self.note("heal".into());
            }
        } else if self.fault_rng.chance(self.knobs.partition_p) {
            let mut live = self.live();
            if live.len() >= 2 {
                let max_side = ((live.len() - 1) / 2).max(1) as u64;
                let k = self.fault_rng.between(1, max_side) as usize;
                self.fault_rng.shuffle(&mut live);
                let mut side: Vec<String> = live[..k].to_vec();
                if self.fault_rng.chance(0.3) {
                    if let Some(leader) = self.leader() {
                        if !side.contains(&leader) {
                            side[0] = leader;
                        }
                    }
                }
                side.sort();
                let one_way = self.fault_rng.chance(self.knobs.one_way_p);
                let (lo, hi) = self.knobs.partition_ticks;
                let len = self.fault_rng.between(lo, hi);
                self.partition(&side, one_way);
                self.partition_until = Some(self.tick + len);
                self.partitions += 1;
                let how = if one_way {
                    "cannot send to"
                } else {
                    "cut from"
                };
                self.note(format!(
                    "partition: {side:?} {how} the rest for {len} ticks"
                ));
            }
        }
        if self.crashes < self.knobs.max_crashes && self.fault_rng.chance(self.knobs.crash_p) {
            let candidates = self.crashable();
            let victim = match self.leader() {
                Some(l) if candidates.contains(&l) && self.fault_rng.chance(0.3) => Some(l),
                _ => self.fault_rng.pick(&candidates).cloned(),
            };
            if let Some(victim) = victim {
                self.crashes += 1;
                self.crash(&victim);
            }
        }
    }

    fn sample_snapshots(&mut self) {
        for name in self.live() {
            let fsm = self.replica(&name).expect("live").fsm();
            let index = fsm.last_applied();
            if index == 0 {
                continue;
            }
            let h = hash_bytes(&fsm.create_snapshot());
            match self.samples.get(&index) {
                Some((other, h2)) if *h2 != h => {
                    let msg = format!(
                        "check 4: {name} and {other} both applied up to index {index} but their state-machine snapshots differ"
                    );
                    self.failures.push(msg);
                }
                Some(_) => {}
                None => {
                    self.samples.insert(index, (name, h));
                }
            }
        }
    }

    /// One leader that every live, not removed node follows, all at the same applied index, and
    /// every member of the leader's list alive.
    fn converged(&self) -> Result<String, String> {
        let healthy = self.healthy();
        let leaders: Vec<&String> = healthy
            .iter()
            .filter(|n| self.replica(n).is_some_and(Replica::is_leader))
            .collect();
        let [leader] = leaders.as_slice() else {
            return Err(format!("leaders: {leaders:?}"));
        };
        let lr = self.replica(leader).expect("live");
        let applied = lr.fsm().last_applied();
        let members: Vec<&str> = lr
            .fsm()
            .members()
            .iter()
            .map(|m| m.node_id.as_str())
            .collect();
        for name in self.live() {
            if self.removed_at.contains_key(&name) {
                continue;
            }
            let r = self.replica(&name).expect("live");
            if !members.contains(&name.as_str()) {
                return Err(format!("{name} is not in the leader's member list"));
            }
            if r.phase() != Phase::Member || r.leader_id() != lr.raft_id() {
                return Err(format!("{name} does not follow {leader}"));
            }
            if r.fsm().last_applied() != applied {
                return Err(format!("{name} has not applied up to {applied}"));
            }
        }
        for m in &members {
            if self.nodes.get(*m).is_none_or(|n| n.crashed) {
                return Err(format!("crashed {m} is still a member"));
            }
        }
        Ok((*leader).clone())
    }

    // ---- scripted scenarios ----

    /// A cluster of `knobs.nodes` nodes, formed and settled.
    fn cluster(knobs: Knobs) -> Sim {
        let mut sim = Sim::new(0, knobs);
        sim.start();
        let voters = sim.nodes.len().min(3);
        for _ in 0..1000 {
            sim.tick_once();
            let settled = sim.converged().is_ok_and(|l| {
                sim.replica(&l).expect("live").voters().len() == voters
                    && sim.members().len() == sim.nodes.len()
            });
            if settled {
                sim.tick_n(5);
                return sim;
            }
        }
        panic!("the cluster never formed: {:?}", sim.converged());
    }

    fn answer(&mut self, node: &str, ticket: u32, max_ticks: u64) -> Option<Message> {
        for _ in 0..=max_ticks {
            if let Some(m) = self.answers.remove(&(node.to_owned(), ticket)) {
                return Some(m);
            }
            self.tick_once();
        }
        None
    }

    fn call(&mut self, node: &str, request: Message) -> Message {
        let ticket = self.submit(node, request).expect("live node");
        self.answer(node, ticket, 2000)
            .unwrap_or_else(|| panic!("no answer on {node}"))
    }

    fn snapshot_of(&self, node: &str) -> (u64, Vec<u8>) {
        let fsm = self.replica(node).expect("live").fsm();
        (fsm.last_applied(), fsm.create_snapshot())
    }

    fn voter_followers(&self, leader: &str) -> Vec<String> {
        let voters = self.replica(leader).expect("live").voters();
        self.live()
            .into_iter()
            .filter(|n| n != leader && voters.contains(&self.nodes[n].raft_id))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Clients and their history

#[derive(Debug, Clone, PartialEq)]
enum OpKind {
    Inc(&'static str),
    CounterGet(&'static str),
    Put(usize, u64),
    Get(usize),
    Acquire(&'static str),
    Release(&'static str),
    JanitorRelease(&'static str),
    Barrier(u64),
}

impl OpKind {
    fn request(&self) -> Message {
        let key = |k: &usize| format!("k{k}").into_bytes();
        match self {
            OpKind::Inc(c) => Message::CounterAddAndGetRequest {
                counter_name: (*c).into(),
                delta: 1,
            },
            OpKind::CounterGet(c) => Message::CounterGetRequest {
                counter_name: (*c).into(),
            },
            OpKind::Put(k, v) => Message::MapPutRequest {
                map_name: MAP.into(),
                key: key(k),
                value: v.to_le_bytes().to_vec(),
            },
            OpKind::Get(k) => Message::MapGetRequest {
                map_name: MAP.into(),
                key: key(k),
            },
            OpKind::Acquire(l) => Message::LockAcquireRequest {
                lock_name: (*l).into(),
            },
            OpKind::Release(l) | OpKind::JanitorRelease(l) => Message::LockReleaseRequest {
                lock_name: (*l).into(),
            },
            OpKind::Barrier(v) => Message::MapPutRequest {
                map_name: "barrier".into(),
                key: b"b".to_vec(),
                value: v.to_le_bytes().to_vec(),
            },
        }
    }

    fn is_write(&self) -> bool {
        !matches!(self, OpKind::CounterGet(_) | OpKind::Get(_))
    }
}

#[derive(Debug, Clone)]
enum Outcome {
    Pending,
    Ok(Message),
    Failed(u16),
    /// Its node crashed first.
    Lost,
}

#[derive(Debug, Clone)]
struct Op {
    session: usize,
    node: String,
    ticket: u32,
    kind: OpKind,
    inv: u64,
    inv_tick: u64,
    comp: Option<u64>,
    outcome: Outcome,
}

impl Op {
    fn describe(&self, idx: usize) -> String {
        let who = match self.session {
            FINAL => "final".to_owned(),
            JANITOR => "janitor".to_owned(),
            BARRIER => "barrier".to_owned(),
            s => format!("s{s}"),
        };
        let outcome = match &self.outcome {
            Outcome::Pending => "pending".to_owned(),
            Outcome::Lost => "never completed (node crashed)".to_owned(),
            Outcome::Failed(code) => format!("ErrorResponse code {code}"),
            Outcome::Ok(m) => short(m),
        };
        let comp = self.comp.map_or("-".to_owned(), |c| c.to_string());
        format!(
            "#{idx} {who} on {} (ticket {}, tick {}): {:?} [{} .. {comp}] -> {outcome}",
            self.node, self.ticket, self.inv_tick, self.kind, self.inv
        )
    }
}

fn short(m: &Message) -> String {
    match m {
        Message::MapGetResponse { value } => {
            format!("MapGetResponse {:?}", value.as_deref().map(decode_value))
        }
        other => format!("{other:?}"),
    }
}

fn decode_value(bytes: &[u8]) -> u64 {
    <[u8; 8]>::try_from(bytes).map_or(u64::MAX, u64::from_le_bytes)
}

#[derive(Debug)]
enum LockPhase {
    Idle {
        next_tick: u64,
    },
    Acquiring {
        node: String,
        ticket: u32,
    },
    Queued {
        node: String,
        ticket: u32,
        since: u64,
    },
    Holding {
        node: String,
        ticket: u32,
        hold: usize,
        release_tick: u64,
    },
    Releasing {
        node: String,
        ticket: u32,
        op: usize,
    },
}

impl LockPhase {
    /// The node and acquire ticket this session is using, if any.
    fn using(&self) -> Option<(&str, u32)> {
        match self {
            LockPhase::Idle { .. } => None,
            LockPhase::Acquiring { node, ticket }
            | LockPhase::Queued { node, ticket, .. }
            | LockPhase::Holding { node, ticket, .. }
            | LockPhase::Releasing { node, ticket, .. } => Some((node, *ticket)),
        }
    }
}

enum Session {
    Plain {
        busy: Option<usize>,
        next_tick: u64,
    },
    Lock {
        lock: &'static str,
        phase: LockPhase,
    },
}

/// One session's hold of a lock: from the grant it saw to its release (or its node's end).
#[derive(Debug, Clone)]
struct Hold {
    lock: &'static str,
    session: usize,
    node: String,
    ticket: u32,
    token: u64,
    start: u64,
    end: Option<u64>,
}

struct Workload {
    rng: Rng,
    ops: Vec<Op>,
    pending: BTreeMap<(String, u32), usize>,
    sessions: Vec<Session>,
    holds: Vec<Hold>,
    /// (node, lock) -> tick of the last release there whose outcome is unknown.
    quarantine: BTreeMap<(String, &'static str), u64>,
    janitor: BTreeMap<(String, &'static str), usize>,
    next_value: u64,
    /// Invocation tick of the latest write that succeeded.
    last_ok_write_tick: Option<u64>,
    wind_down: bool,
    /// Where the final reads go.
    final_nodes: Vec<String>,
    anomalies: Vec<String>,
}

impl Workload {
    fn new(seed: u64) -> Workload {
        let mut sessions: Vec<Session> = (0..PLAIN_SESSIONS)
            .map(|_| Session::Plain {
                busy: None,
                next_tick: 0,
            })
            .collect();
        for lock in LOCKS {
            for _ in 0..LOCK_SESSIONS_PER_LOCK {
                sessions.push(Session::Lock {
                    lock,
                    phase: LockPhase::Idle { next_tick: 0 },
                });
            }
        }
        Workload {
            rng: Rng::new(seed, 4),
            ops: Vec::new(),
            pending: BTreeMap::new(),
            sessions,
            holds: Vec::new(),
            quarantine: BTreeMap::new(),
            janitor: BTreeMap::new(),
            next_value: 1,
            last_ok_write_tick: None,
            wind_down: false,
            final_nodes: Vec::new(),
            anomalies: Vec::new(),
        }
    }

    fn invoke(&mut self, sim: &mut Sim, session: usize, node: &str, kind: OpKind) -> usize {
        sim.clock += 1;
        let inv = sim.clock;
        let ticket = sim.submit(node, kind.request()).expect("a live node");
        let idx = self.ops.len();
        self.ops.push(Op {
            session,
            node: node.to_owned(),
            ticket,
            kind,
            inv,
            inv_tick: sim.tick,
            comp: None,
            outcome: Outcome::Pending,
        });
        self.pending.insert((node.to_owned(), ticket), idx);
        idx
    }

    fn observe(&mut self, sim: &mut Sim) {
        for (clock, obs) in std::mem::take(&mut sim.obs) {
            match obs {
                Obs::Done {
                    node,
                    ticket,
                    response,
                } => {
                    let Some(idx) = self.pending.remove(&(node, ticket)) else {
                        continue;
                    };
                    let op = &mut self.ops[idx];
                    op.comp = Some(clock);
                    op.outcome = match response {
                        Message::ErrorResponse { code, .. } => Outcome::Failed(code),
                        m => Outcome::Ok(m),
                    };
                    if op.kind.is_write() && matches!(op.outcome, Outcome::Ok(_)) {
                        let t = op.inv_tick;
                        self.last_ok_write_tick =
                            Some(self.last_ok_write_tick.map_or(t, |b| b.max(t)));
                    }
                    self.on_done(sim, idx, clock);
                }
                Obs::Granted {
                    node,
                    lock,
                    ticket,
                    token,
                } => self.on_granted(sim, &node, &lock, ticket, token, clock),
                Obs::Crashed { node } => self.on_crash(&node, clock),
            }
        }
    }

    fn on_done(&mut self, sim: &Sim, idx: usize, clock: u64) {
        let tick = sim.tick;
        let op = self.ops[idx].clone();
        if !self.response_fits(&op) {
            self.anomalies
                .push(format!("unexpected answer: {}", op.describe(idx)));
        }
        match op.session {
            FINAL | BARRIER => {}
            JANITOR => {
                if let OpKind::JanitorRelease(lock) = op.kind {
                    self.janitor.remove(&(op.node.clone(), lock));
                    if matches!(op.outcome, Outcome::Failed(_)) {
                        self.quarantine.insert((op.node.clone(), lock), tick);
                    }
                }
            }
            s => {
                let next_tick = tick + self.rng.between(0, 3);
                match &mut self.sessions[s] {
                    Session::Plain { busy, next_tick: n } => {
                        if *busy == Some(idx) {
                            *busy = None;
                            *n = next_tick;
                        }
                    }
                    Session::Lock { lock, phase } => {
                        let lock = *lock;
                        let new_phase = match (&*phase, &op.kind, &op.outcome) {
                            (LockPhase::Acquiring { ticket, .. }, OpKind::Acquire(_), outcome)
                                if *ticket == op.ticket =>
                            {
                                match outcome {
                                    Outcome::Ok(Message::LockAcquireResponse {
                                        granted: true,
                                        fencing_token,
                                    }) => {
                                        let token = *fencing_token;
                                        Some(self.start_hold(
                                            s, lock, &op.node, op.ticket, token, clock, tick,
                                        ))
                                    }
                                    Outcome::Ok(Message::LockAcquireResponse {
                                        granted: false,
                                        ..
                                    }) => Some(LockPhase::Queued {
                                        node: op.node.clone(),
                                        ticket: op.ticket,
                                        since: tick,
                                    }),
                                    // Maybe applied later: the janitor releases such a grant.
                                    _ => Some(LockPhase::Idle { next_tick }),
                                }
                            }
                            (LockPhase::Releasing { op: o, .. }, _, outcome) if *o == idx => {
                                match outcome {
                                    Outcome::Ok(Message::LockReleaseResponse {
                                        released: true,
                                    }) => {}
                                    Outcome::Ok(Message::LockReleaseResponse {
                                        released: false,
                                    }) => {
                                        if !sim.removed_at.contains_key(&op.node) {
                                            self.anomalies.push(format!(
                                                "a holder's release was refused (released: false): {}",
                                                op.describe(idx)
                                            ));
                                        }
                                    }
                                    _ => {
                                        self.quarantine.insert((op.node.clone(), lock), tick);
                                    }
                                }
                                Some(LockPhase::Idle { next_tick })
                            }
                            _ => None,
                        };
                        if let Some(p) = new_phase {
                            if let Session::Lock { phase, .. } = &mut self.sessions[s] {
                                *phase = p;
                            }
                        }
                    }
                }
            }
        }
    }

    fn response_fits(&self, op: &Op) -> bool {
        let Outcome::Ok(m) = &op.outcome else {
            return true;
        };
        match op.kind {
            OpKind::Inc(_) => matches!(m, Message::CounterAddAndGetResponse { .. }),
            OpKind::CounterGet(_) => matches!(m, Message::CounterGetResponse { .. }),
            OpKind::Put(..) | OpKind::Barrier(_) => matches!(m, Message::MapPutResponse {}),
            OpKind::Get(_) => match m {
                Message::MapGetResponse { value } => value.as_ref().is_none_or(|v| v.len() == 8),
                _ => false,
            },
            OpKind::Acquire(_) => matches!(m, Message::LockAcquireResponse { .. }),
            OpKind::Release(_) | OpKind::JanitorRelease(_) => {
                matches!(m, Message::LockReleaseResponse { .. })
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start_hold(
        &mut self,
        session: usize,
        lock: &'static str,
        node: &str,
        ticket: u32,
        token: u64,
        clock: u64,
        tick: u64,
    ) -> LockPhase {
        self.holds.push(Hold {
            lock,
            session,
            node: node.to_owned(),
            ticket,
            token,
            start: clock,
            end: None,
        });
        LockPhase::Holding {
            node: node.to_owned(),
            ticket,
            hold: self.holds.len() - 1,
            release_tick: tick + self.rng.between(2, 10),
        }
    }

    fn on_granted(
        &mut self,
        sim: &Sim,
        node: &str,
        lock: &str,
        ticket: u32,
        token: u64,
        clock: u64,
    ) {
        for s in 0..self.sessions.len() {
            let Session::Lock { lock: l, phase } = &self.sessions[s] else {
                continue;
            };
            let waiting = matches!(
                phase,
                LockPhase::Acquiring { .. } | LockPhase::Queued { .. }
            );
            if *l == lock && waiting && phase.using() == Some((node, ticket)) {
                let l = *l;
                let p = self.start_hold(s, l, node, ticket, token, clock, sim.tick);
                if let Session::Lock { phase, .. } = &mut self.sessions[s] {
                    *phase = p;
                }
                return;
            }
        }
        // Nobody waits for it: the janitor will release it.
    }

    fn on_crash(&mut self, node: &str, clock: u64) {
        let lost: Vec<(String, u32)> = self
            .pending
            .keys()
            .filter(|(n, _)| n == node)
            .cloned()
            .collect();
        for key in lost {
            let idx = self.pending.remove(&key).expect("listed");
            self.ops[idx].outcome = Outcome::Lost;
        }
        self.janitor.retain(|(n, _), _| n != node);
        for s in 0..self.sessions.len() {
            match &mut self.sessions[s] {
                Session::Plain { busy, .. } => {
                    if busy.is_some_and(|i| self.ops[i].node == node) {
                        *busy = None;
                    }
                }
                Session::Lock { phase, .. } => {
                    if phase.using().is_some_and(|(n, _)| n == node) {
                        if let LockPhase::Holding { hold, .. } = phase {
                            self.holds[*hold].end = Some(clock);
                        }
                        *phase = LockPhase::Idle { next_tick: 0 };
                    }
                }
            }
        }
    }

    fn in_use(&self, node: &str, lock: &str, except: usize) -> bool {
        self.sessions.iter().enumerate().any(|(i, s)| {
            i != except
                && matches!(s, Session::Lock { lock: l, phase } if *l == lock && phase.using().is_some_and(|(n, _)| n == node))
        })
    }

    fn owned(&self, node: &str, lock: &str, ticket: u32) -> bool {
        self.sessions.iter().any(|s| {
            matches!(s, Session::Lock { lock: l, phase } if *l == lock && phase.using() == Some((node, ticket)))
        })
    }

    fn plain_op(&mut self) -> OpKind {
        let roll = self.rng.below(100);
        let counter = COUNTERS[self.rng.below(COUNTERS.len() as u64) as usize];
        let key = self.rng.below(KEYS as u64) as usize;
        match roll {
            0..=39 => OpKind::Inc(counter),
            40..=54 => OpKind::CounterGet(counter),
            55..=79 => {
                self.next_value += 1;
                OpKind::Put(key, self.next_value)
            }
            _ => OpKind::Get(key),
        }
    }

    /// Starts new operations, moves lock sessions on, and runs the janitor.
    fn issue(&mut self, sim: &mut Sim) {
        let tick = sim.tick;
        if let Some(b) = self.last_ok_write_tick {
            self.quarantine.retain(|_, t| b < *t + QUARANTINE_TICKS);
        }
        let targets = sim.members();
        for s in 0..self.sessions.len() {
            match &self.sessions[s] {
                Session::Plain { busy, next_tick } => {
                    if busy.is_some() || *next_tick > tick || self.wind_down {
                        continue;
                    }
                    let Some(node) = self.rng.pick(&targets).cloned() else {
                        continue;
                    };
                    let kind = self.plain_op();
                    let idx = self.invoke(sim, s, &node, kind);
                    if let Session::Plain { busy, .. } = &mut self.sessions[s] {
                        *busy = Some(idx);
                    }
                }
                Session::Lock { lock, phase } => {
                    let lock = *lock;
                    let next = match phase {
                        LockPhase::Idle { next_tick } if !self.wind_down && *next_tick <= tick => {
                            let candidates: Vec<String> = targets
                                .iter()
                                .filter(|n| {
                                    !self.quarantine.contains_key(&((*n).clone(), lock))
                                        && !self.in_use(n, lock, s)
                                })
                                .cloned()
                                .collect();
                            let Some(node) = self.rng.pick(&candidates).cloned() else {
                                continue;
                            };
                            let idx = self.invoke(sim, s, &node, OpKind::Acquire(lock));
                            let ticket = self.ops[idx].ticket;
                            LockPhase::Acquiring { node, ticket }
                        }
                        LockPhase::Queued { since, .. } if tick > since + LOCK_GIVE_UP_TICKS => {
                            // The wait stays queued; its grant goes to the janitor.
                            LockPhase::Idle { next_tick: tick }
                        }
                        LockPhase::Holding {
                            node,
                            ticket,
                            hold,
                            release_tick,
                        } if *release_tick <= tick || self.wind_down => {
                            let (node, ticket, hold) = (node.clone(), *ticket, *hold);
                            if sim.replica(&node).is_none() {
                                continue;
                            }
                            let idx = self.invoke(sim, s, &node, OpKind::Release(lock));
                            self.holds[hold].end = Some(self.ops[idx].inv);
                            LockPhase::Releasing {
                                node,
                                ticket,
                                op: idx,
                            }
                        }
                        _ => continue,
                    };
                    if let Session::Lock { phase, .. } = &mut self.sessions[s] {
                        *phase = next;
                    }
                }
            }
        }
        self.run_janitor(sim);
        if self.wind_down
            && !self.quarantine.is_empty()
            && !self
                .pending
                .values()
                .any(|i| self.ops[*i].session == BARRIER)
        {
            // Writes lift the quarantine; in the wind-down only barriers write.
            if let Some(node) = self.rng.pick(&sim.healthy()).cloned() {
                self.next_value += 1;
                let v = self.next_value;
                self.invoke(sim, BARRIER, &node, OpKind::Barrier(v));
            }
        }
    }

    /// Releases grants no session waits for (an acquire that failed, or was given up, and was
    /// applied anyway), from the holder's node, one release at a time per (node, lock).
    fn run_janitor(&mut self, sim: &mut Sim) {
        for lock in LOCKS {
            for node in sim.healthy() {
                let key = (node.clone(), lock);
                if self.quarantine.contains_key(&key) || self.janitor.contains_key(&key) {
                    continue;
                }
                let Some(holder) = sim.replica(&node).expect("live").fsm().lock_holder(lock) else {
                    continue;
                };
                if holder.node_id != node || self.owned(&node, lock, holder.request_id) {
                    continue;
                }
                let idx = self.invoke(sim, JANITOR, &node, OpKind::JanitorRelease(lock));
                self.janitor.insert(key, idx);
            }
        }
    }

    /// Nothing outstanding, no session in the middle of a lock, and no lock held.
    fn quiescent(&self, sim: &Sim) -> Result<(), String> {
        if let Some(((node, ticket), idx)) = self
            .pending
            .iter()
            .find(|((n, _), _)| !sim.removed_at.contains_key(n))
        {
            return Err(format!(
                "ticket {ticket} on {node} still pending: {}",
                self.ops[*idx].describe(*idx)
            ));
        }
        for s in &self.sessions {
            if let Session::Lock { phase, .. } = s {
                if !matches!(phase, LockPhase::Idle { .. }) {
                    return Err(format!("a lock session is {phase:?}"));
                }
            }
        }
        if !self.quarantine.is_empty() {
            return Err(format!("quarantined: {:?}", self.quarantine));
        }
        for node in sim.healthy() {
            for lock in LOCKS {
                if let Some(h) = sim.replica(&node).expect("live").fsm().lock_holder(lock) {
                    return Err(format!("{lock} still held by {h:?} (as {node} sees it)"));
                }
            }
        }
        Ok(())
    }

    /// One read on a healthy member, retried on errors; part of the history.
    fn final_read(&mut self, sim: &mut Sim, kind: OpKind) -> Result<(), String> {
        for _ in 0..10 {
            let targets: Vec<String> = sim
                .healthy()
                .into_iter()
                .filter(|n| self.final_nodes.contains(n))
                .collect();
            let Some(node) = self.rng.pick(&targets).cloned() else {
                return Err("no healthy member left to read from".into());
            };
            let idx = self.invoke(sim, FINAL, &node, kind.clone());
            for _ in 0..500 {
                self.observe(sim);
                if self.ops[idx].comp.is_some() {
                    break;
                }
                sim.tick_once();
            }
            if matches!(self.ops[idx].outcome, Outcome::Ok(_)) {
                return Ok(());
            }
        }
        Err(format!("the final {kind:?} never succeeded"))
    }
}

// ---------------------------------------------------------------------------------------------
// Checks

fn excerpt(w: &Workload, filter: impl Fn(&Op) -> bool, around: u64, max: usize) -> String {
    let picked: Vec<usize> = (0..w.ops.len()).filter(|i| filter(&w.ops[*i])).collect();
    let centre = picked
        .iter()
        .position(|i| w.ops[*i].inv >= around)
        .unwrap_or(picked.len());
    let from = centre.saturating_sub(max / 2);
    let to = (from + max).min(picked.len());
    let mut out = String::new();
    if from > 0 {
        let _ = writeln!(out, "      ... {from} earlier");
    }
    for i in &picked[from..to] {
        let _ = writeln!(out, "      {}", w.ops[*i].describe(*i));
    }
    if to < picked.len() {
        let _ = writeln!(out, "      ... {} later", picked.len() - to);
    }
    out
}

fn check_locks(sim: &Sim, w: &Workload, out: &mut Vec<String>) {
    // Clients: holds of one lock never overlap; later holds have larger tokens.
    for lock in LOCKS {
        // A hold ends when its node is declared dead (which releases its locks), even when the
        // node saw the grant only after that: such a hold is empty.
        let mut holds: Vec<(u64, u64, &Hold)> = w
            .holds
            .iter()
            .filter(|h| h.lock == lock)
            .map(|h| {
                let removed = sim.removed_at.get(&h.node).copied().unwrap_or(u64::MAX);
                (h.start, h.end.unwrap_or(u64::MAX).min(removed), h)
            })
            .filter(|(start, end, _)| start < end)
            .collect();
        holds.sort_by_key(|(s, _, _)| *s);
        'pairs: for (i, (a_start, a_end, a)) in holds.iter().enumerate() {
            for (b_start, _, b) in &holds[i + 1..] {
                let _ = a_start;
                if b_start < a_end {
                    out.push(format!(
                        "check 1: two sessions hold {lock} at once: s{} on {} (ticket {}, token {}) from {} to {a_end}, and s{} on {} (ticket {}, token {}) from {b_start}\n{}",
                        a.session, a.node, a.ticket, a.token, a.start, b.session, b.node, b.ticket, b.token,
                        excerpt(w, |o| matches!(o.kind, OpKind::Acquire(l) | OpKind::Release(l) | OpKind::JanitorRelease(l) if l == lock), *b_start, 30)
                    ));
                    break 'pairs;
                }
                if b.token <= a.token {
                    out.push(format!(
                        "check 1: {lock}'s hold by s{} (token {}) follows the hold by s{} (token {}) but its token is not larger",
                        b.session, b.token, a.session, a.token
                    ));
                    break 'pairs;
                }
            }
        }
    }

    // Replicas: a token names the same grant everywhere; a replica that applied the entries
    // around a grant saw it; tokens grow on every replica.
    let mut by_token: BTreeMap<u64, (&str, &SeenGrant)> = BTreeMap::new();
    for (name, node) in &sim.nodes {
        let mut last = 0;
        for g in &node.grants {
            if g.token <= last {
                out.push(format!(
                    "check 1: {name} applied grant token {} after token {last}",
                    g.token
                ));
            }
            last = g.token;
            match by_token.get(&g.token) {
                Some((other, h))
                    if (h.lock.as_str(), h.node_id.as_str(), h.request_id)
                        != (g.lock.as_str(), g.node_id.as_str(), g.request_id) =>
                {
                    out.push(format!(
                        "check 1: token {} is {} to {}/{} on {other} but {} to {}/{} on {name}",
                        g.token, h.lock, h.node_id, h.request_id, g.lock, g.node_id, g.request_id
                    ));
                }
                Some(_) => {}
                None => {
                    by_token.insert(g.token, (name, g));
                }
            }
        }
    }
    for (name, node) in &sim.nodes {
        let seen: HashSet<u64> = node.grants.iter().map(|g| g.token).collect();
        for (token, (other, g)) in &by_token {
            let applied_all = node.last_applied >= g.hi
                && !node.gaps.iter().any(|(lo, hi)| *lo < g.hi && g.lo < *hi);
            if applied_all && !seen.contains(token) {
                out.push(format!(
                    "check 1: {name} applied indexes {}..={} by log but missed grant token {token} ({} to {}/{}) that {other} applied there",
                    g.lo + 1, g.hi, g.lock, g.node_id, g.request_id
                ));
                break;
            }
        }
    }
}

struct CounterOp {
    idx: usize,
    inv: u64,
    comp: u64,
    value: i64,
    inc: bool,
}

fn check_counters(w: &Workload, out: &mut Vec<String>) {
    for counter in COUNTERS {
        let related =
            |o: &Op| matches!(o.kind, OpKind::Inc(c) | OpKind::CounterGet(c) if c == counter);
        let mut inc_invs: Vec<u64> = Vec::new();
        let mut acked: Vec<CounterOp> = Vec::new();
        for (idx, o) in w.ops.iter().enumerate() {
            match (&o.kind, &o.outcome, o.comp) {
                (OpKind::Inc(c), outcome, comp) if *c == counter => {
                    inc_invs.push(o.inv);
                    if let (Outcome::Ok(Message::CounterAddAndGetResponse { value }), Some(comp)) =
                        (outcome, comp)
                    {
                        acked.push(CounterOp {
                            idx,
                            inv: o.inv,
                            comp,
                            value: *value,
                            inc: true,
                        });
                    }
                }
                (
                    OpKind::CounterGet(c),
                    Outcome::Ok(Message::CounterGetResponse { value }),
                    Some(comp),
                ) if *c == counter => {
                    acked.push(CounterOp {
                        idx,
                        inv: o.inv,
                        comp,
                        value: *value,
                        inc: false,
                    });
                }
                _ => {}
            }
        }
        inc_invs.sort_unstable();
        let mut inc_comps: Vec<u64> = acked.iter().filter(|o| o.inc).map(|o| o.comp).collect();
        inc_comps.sort_unstable();
        let acked_incs = inc_comps.len() as i64;

        // Check 2: distinct values; the final read between acknowledged and invoked.
        let mut values: BTreeMap<i64, usize> = BTreeMap::new();
        for o in acked.iter().filter(|o| o.inc) {
            if let Some(prev) = values.insert(o.value, o.idx) {
                out.push(format!(
                    "check 2: two acknowledged increments of {counter} returned {}:\n      {}\n      {}",
                    o.value, w.ops[prev].describe(prev), w.ops[o.idx].describe(o.idx)
                ));
                break;
            }
        }
        match acked.iter().rev().find(|o| !o.inc && w.ops[o.idx].session == FINAL) {
            Some(f) if f.value < acked_incs || f.value > inc_invs.len() as i64 => out.push(format!(
                "check 2: {counter} reads {} at the end, but {acked_incs} increments were acknowledged and {} invoked\n{}",
                f.value, inc_invs.len(), excerpt(w, related, f.inv, 30)
            )),
            Some(_) => {}
            // Reported as a liveness failure.
            None => {}
        }

        // Check 3: each value within what real time allows.
        for o in &acked {
            let invoked_before = inc_invs.partition_point(|t| *t < o.comp) as i64;
            let done_before = inc_comps.partition_point(|t| *t < o.inv) as i64 + i64::from(o.inc);
            if o.value > invoked_before || o.value < done_before {
                out.push(format!(
                    "check 3: {counter}: {} saw {} but {done_before}..={invoked_before} was possible from the increments before it\n{}",
                    w.ops[o.idx].describe(o.idx), o.value, excerpt(w, related, o.inv, 30)
                ));
                break;
            }
        }
        // ... and after every value completed before it was invoked.
        let mut by_comp: Vec<&CounterOp> = acked.iter().collect();
        by_comp.sort_by_key(|o| o.comp);
        let mut by_inv: Vec<&CounterOp> = acked.iter().collect();
        by_inv.sort_by_key(|o| o.inv);
        let (mut p, mut max_seen, mut max_idx) = (0, 0i64, None);
        for o in by_inv {
            while p < by_comp.len() && by_comp[p].comp < o.inv {
                if by_comp[p].value > max_seen {
                    max_seen = by_comp[p].value;
                    max_idx = Some(by_comp[p].idx);
                }
                p += 1;
            }
            let stale = if o.inc {
                o.value <= max_seen
            } else {
                o.value < max_seen
            };
            if stale {
                let before = max_idx.map_or(String::new(), |i| w.ops[i].describe(i));
                out.push(format!(
                    "check 3: {counter} is not linearizable: {}\n      was invoked after {before} completed\n{}",
                    w.ops[o.idx].describe(o.idx), excerpt(w, related, o.inv, 30)
                ));
                break;
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum RegKind {
    Put(u64),
    Get(Option<u64>),
}

#[derive(Debug, Clone, Copy)]
struct RegOp {
    inv: u64,
    /// `u64::MAX` when the put failed or never completed: it may take effect any time after.
    resp: u64,
    kind: RegKind,
}

struct Search<'a> {
    ops: &'a [RegOp],
    memo: HashSet<(Vec<u64>, Option<u64>)>,
    budget: usize,
}

impl Search<'_> {
    fn done(set: &[u64], i: usize) -> bool {
        set[i / 64] & (1 << (i % 64)) != 0
    }

    /// Wing & Gong with Lowe's memo: linearize, one at a time, an operation invoked before every
    /// pending operation's response; `None` when the budget runs out.
    fn dfs(&mut self, done: &mut Vec<u64>, state: Option<u64>, left: usize) -> Option<bool> {
        if left == 0 {
            return Some(true);
        }
        if !self.memo.insert((done.clone(), state)) {
            return Some(false);
        }
        if self.memo.len() > self.budget {
            return None;
        }
        let n = self.ops.len();
        let first = (0..n).find(|i| !Self::done(done, *i)).expect("left > 0");
        let min_resp = (first..n)
            .filter(|i| !Self::done(done, *i))
            .map(|i| self.ops[i].resp)
            .min()
            .expect("left > 0");
        for i in first..n {
            if Self::done(done, i) {
                continue;
            }
            let op = self.ops[i];
            if op.inv > min_resp {
                break;
            }
            let next = match op.kind {
                RegKind::Put(v) => Some(v),
                RegKind::Get(r) if r == state => state,
                RegKind::Get(_) => continue,
            };
            done[i / 64] |= 1 << (i % 64);
            let r = self.dfs(done, next, left - usize::from(op.resp != u64::MAX));
            done[i / 64] &= !(1 << (i % 64));
            match r {
                Some(false) => {}
                other => return other,
            }
        }
        Some(false)
    }
}

/// Whether a register history is linearizable (`None`: gave up).
fn linearizable(ops: &[RegOp]) -> Option<bool> {
    let read: HashSet<u64> = ops
        .iter()
        .filter_map(|o| match o.kind {
            RegKind::Get(v) => v,
            RegKind::Put(_) => None,
        })
        .collect();
    // An unacknowledged put nobody read can always be left out.
    let mut ops: Vec<RegOp> = ops
        .iter()
        .copied()
        .filter(|o| o.resp != u64::MAX || matches!(o.kind, RegKind::Put(v) if read.contains(&v)))
        .collect();
    ops.sort_by_key(|o| o.inv);
    let left = ops.iter().filter(|o| o.resp != u64::MAX).count();
    let mut search = Search {
        ops: &ops,
        memo: HashSet::new(),
        budget: 2_000_000,
    };
    let mut done = vec![0u64; ops.len().div_ceil(64).max(1)];
    search.dfs(&mut done, None, left)
}

fn check_registers(w: &Workload, out: &mut Vec<String>, inconclusive: &mut usize) {
    for key in 0..KEYS {
        let related = |o: &Op| matches!(o.kind, OpKind::Put(k, _) | OpKind::Get(k) if k == key);
        let mut ops = Vec::new();
        for o in w.ops.iter().filter(|o| related(o)) {
            let kind = match (&o.kind, &o.outcome) {
                (OpKind::Put(_, v), _) => RegKind::Put(*v),
                (OpKind::Get(_), Outcome::Ok(Message::MapGetResponse { value })) => {
                    RegKind::Get(value.as_deref().map(decode_value))
                }
                _ => continue,
            };
            let resp = match (&o.outcome, o.comp) {
                (Outcome::Ok(_), Some(c)) => c,
                _ => u64::MAX,
            };
            ops.push(RegOp {
                inv: o.inv,
                resp,
                kind,
            });
        }
        match linearizable(&ops) {
            Some(true) => {}
            None => *inconclusive += 1,
            Some(false) => {
                // The earliest moment by which the history had gone wrong.
                let mut cuts: Vec<u64> = ops
                    .iter()
                    .map(|o| o.resp)
                    .filter(|r| *r != u64::MAX)
                    .collect();
                cuts.sort_unstable();
                let prefix = |t: u64| -> Vec<RegOp> {
                    ops.iter()
                        .filter(|o| o.inv <= t)
                        .map(|o| RegOp {
                            resp: if o.resp <= t { o.resp } else { u64::MAX },
                            ..*o
                        })
                        .filter(|o| o.resp != u64::MAX || matches!(o.kind, RegKind::Put(_)))
                        .collect()
                };
                let at = cuts.partition_point(|t| linearizable(&prefix(*t)) != Some(false));
                let t = cuts.get(at).copied().unwrap_or(u64::MAX);
                out.push(format!(
                    "check 3: map key k{key} is not linearizable; the history goes wrong by clock {t}:\n{}",
                    excerpt(w, related, t, 40)
                ));
            }
        }
    }
}

/// Whoever holds a lock is a member: a departed node's locks were released when it left, and
/// nobody would ever release a lock granted to a node that is no longer a member.
fn check_lock_holders_are_members(sim: &Sim, out: &mut Vec<String>) {
    let Some(leader) = sim.leader() else {
        return;
    };
    let fsm = sim.replica(&leader).expect("live").fsm();
    for lock in LOCKS {
        if let Some(h) = fsm.lock_holder(lock) {
            if !fsm.is_member(&h.node_id) {
                let removed = sim
                    .removed_at
                    .get(&h.node_id)
                    .map_or(String::new(), |c| format!(", removed at clock {c}"));
                out.push(format!(
                    "locks: {lock} is held by {} (request {}, token {}), which is not a member{removed}: nobody will ever release it",
                    h.node_id, h.request_id, h.fencing_token
                ));
            }
        }
    }
}

fn check_final_snapshots(sim: &Sim, out: &mut Vec<String>) {
    let mut first: Option<(String, u64, Vec<u8>)> = None;
    for name in sim.healthy() {
        let (index, bytes) = sim.snapshot_of(&name);
        match &first {
            None => first = Some((name, index, bytes)),
            Some((other, i, b)) if *i == index && *b != bytes => out.push(format!(
                "check 4: {name} and {other} both applied up to {index} but their snapshots differ"
            )),
            Some(_) => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Random runs

#[derive(Default)]
struct Totals {
    runs: u64,
    ops: u64,
    acked: u64,
    failed: u64,
    holds: u64,
    partitions: u64,
    crashes: u64,
    removed: u64,
    snapshots: u64,
    messages: u64,
    inconclusive: usize,
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}"))
    })
}

/// One seeded run; `Err` holds the report of what went wrong.
fn run_seed(seed: u64, run_ticks: u64, verbose: bool, totals: &mut Totals) -> Result<(), String> {
    let mut rng = Rng::new(seed, 1);
    let knobs = Knobs::random(&mut rng, run_ticks);
    let mut sim = Sim::new(seed, knobs.clone());
    sim.verbose = verbose;
    let mut w = Workload::new(seed);
    let mut failures: Vec<String> = Vec::new();
    sim.start();

    let mut chaos = false;
    for _ in 0..knobs.run_ticks {
        sim.advance();
        // Faults start once the cluster has formed: every node in, and all its voters.
        chaos = chaos
            || sim.tick > 300
            || sim.converged().is_ok_and(|l| {
                sim.members().len() == sim.nodes.len()
                    && sim.replica(&l).expect("live").voters().len() == sim.nodes.len().min(3)
            });
        if chaos {
            sim.inject_faults();
        }
        sim.retry_joins();
        w.observe(&mut sim);
        w.issue(&mut sim);
        sim.deliver();
        w.observe(&mut sim);
        if sim.tick.is_multiple_of(SAMPLE_EVERY_TICKS) {
            sim.sample_snapshots();
        }
    }

    // Heal, calm the network, let every session finish, and wait for one settled cluster.
    sim.heal();
    sim.drop_p = 0.0;
    sim.delay_p = 0.0;
    sim.note("heal everything and settle".into());
    w.wind_down = true;
    let mut settled = Err(String::new());
    for _ in 0..SETTLE_LIMIT_TICKS {
        sim.tick_once();
        w.observe(&mut sim);
        w.issue(&mut sim);
        sim.deliver();
        w.observe(&mut sim);
        if sim.tick.is_multiple_of(SAMPLE_EVERY_TICKS) {
            sim.sample_snapshots();
        }
        settled = sim.converged().and_then(|_| w.quiescent(&sim));
        if settled.is_ok() {
            break;
        }
    }
    if let Err(why) = &settled {
        failures.push(format!(
            "liveness: the cluster did not settle within {SETTLE_LIMIT_TICKS} ticks after healing: {why}"
        ));
    } else {
        sim.note("settled".into());
    }
    // The last reads go to healthy members (the leader when the cluster did not settle).
    w.final_nodes = match (&settled, sim.leader()) {
        (Err(_), Some(leader)) => vec![leader],
        _ => sim.healthy(),
    };
    for c in COUNTERS {
        if let Err(e) = w.final_read(&mut sim, OpKind::CounterGet(c)) {
            failures.push(format!("liveness: {e}"));
        }
    }
    for k in 0..KEYS {
        if let Err(e) = w.final_read(&mut sim, OpKind::Get(k)) {
            failures.push(format!("liveness: {e}"));
        }
    }
    sim.tick_n(5);
    sim.sample_snapshots();
    if settled.is_ok() {
        check_final_snapshots(&sim, &mut failures);
    }
    check_lock_holders_are_members(&sim, &mut failures);

    failures.append(&mut sim.failures);
    failures.append(&mut w.anomalies);
    check_locks(&sim, &w, &mut failures);
    check_counters(&w, &mut failures);
    check_registers(&w, &mut failures, &mut totals.inconclusive);

    totals.runs += 1;
    totals.ops += w.ops.len() as u64;
    totals.acked += w
        .ops
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Ok(_)))
        .count() as u64;
    totals.failed += w
        .ops
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Failed(_)))
        .count() as u64;
    totals.holds += w.holds.len() as u64;
    totals.partitions += sim.partitions as u64;
    totals.crashes += sim.crashes as u64;
    totals.removed += sim.removed_at.len() as u64;
    totals.snapshots += sim.nodes.values().map(|n| n.gaps.len() as u64).sum::<u64>();
    totals.messages += sim.delivered;

    if verbose {
        println!("seed {seed}: {knobs:?}");
        for (i, o) in w.ops.iter().enumerate() {
            println!("  {}", o.describe(i));
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    let mut report = format!("seed {seed} failed; knobs {knobs:?}\n");
    for f in failures.iter().take(6) {
        let _ = writeln!(report, "  - {f}");
    }
    if failures.len() > 6 {
        let _ = writeln!(report, "  ... and {} more", failures.len() - 6);
    }
    let _ = writeln!(report, "  faults:");
    for line in sim.journal.iter().rev().take(40).rev() {
        let _ = writeln!(report, "      {line}");
    }
    // Replays are exact only while no election happens, so keep the whole run.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("simulation");
    let path = dir.join(format!("seed-{seed}.txt"));
    let mut full = format!("seed {seed}: {knobs:?}\n\nfailures:\n");
    for f in &failures {
        let _ = writeln!(full, "- {f}");
    }
    let _ = writeln!(full, "\nfaults:");
    for line in &sim.journal {
        let _ = writeln!(full, "  {line}");
    }
    let _ = writeln!(
        full,
        "\noperations ([invoked .. completed] on the logical clock):"
    );
    for (i, o) in w.ops.iter().enumerate() {
        let _ = writeln!(full, "  {}", o.describe(i));
    }
    if std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, full))
        .is_ok()
    {
        let _ = writeln!(report, "  whole run: {}", path.display());
    }
    let _ = writeln!(
        report,
        "  replay: VERTX_CLUSTER_SIM_SEED={seed} cargo test --test simulation -- --nocapture"
    );
    Err(report)
}

/// Runs this shard's seeds (all seeds in `VERTX_CLUSTER_SIM_SEED` replay mode go to shard 0).
fn run_shard(shard: u64, shards: u64) {
    let run_ticks = env_u64("VERTX_CLUSTER_SIM_TICKS").unwrap_or(DEFAULT_RUN_TICKS);
    let (seeds, verbose): (Vec<u64>, bool) = match env_u64("VERTX_CLUSTER_SIM_SEED") {
        Some(seed) if shard == 0 => (vec![seed], true),
        Some(_) => (vec![], false),
        None => {
            let n = env_u64("VERTX_CLUSTER_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS);
            ((0..n).filter(|s| s % shards == shard).collect(), false)
        }
    };
    let started = Instant::now();
    let mut totals = Totals::default();
    let mut reports = Vec::new();
    let mut failed = Vec::new();
    let mut firsts = String::new();
    for seed in &seeds {
        if let Err(report) = run_seed(*seed, run_ticks, verbose, &mut totals) {
            failed.push(*seed);
            let first = report.lines().nth(1).unwrap_or_default();
            let _ = writeln!(firsts, "  seed {seed}:{}", first.trim_start_matches(" "));
            if reports.len() < 3 {
                reports.push(report);
            }
        }
    }
    println!(
        "shard {shard}/{shards}: {} seeds of {run_ticks} ticks in {:.1?}: {} ops ({} answered, {} failed), {} lock holds, {} partitions, {} crashes, {} nodes removed, {} snapshots installed, {} messages, {} register checks inconclusive",
        totals.runs, started.elapsed(), totals.ops, totals.acked, totals.failed, totals.holds,
        totals.partitions, totals.crashes, totals.removed, totals.snapshots, totals.messages, totals.inconclusive
    );
    if !failed.is_empty() {
        panic!(
            "{} of {} seeds failed: {failed:?}\n{firsts}\n{}",
            failed.len(),
            seeds.len(),
            reports.join("\n")
        );
    }
}

#[test]
fn random_faults_keep_locks_counters_and_maps_safe_shard_0() {
    run_shard(0, 2);
}

#[test]
fn random_faults_keep_locks_counters_and_maps_safe_shard_1() {
    run_shard(1, 2);
}

/// The harness itself is deterministic: a seed without faults or elections replays exactly.
#[test]
fn a_calm_seed_replays_the_same_run() {
    let digest = || {
        let mut knobs = Knobs::quiet(4);
        knobs.delay_p = 0.2;
        knobs.max_delay_ticks = 3;
        knobs.reorder = true;
        knobs.request_timeout_ticks = Some(300);
        let mut sim = Sim::new(7, knobs);
        let mut w = Workload::new(7);
        sim.start();
        for _ in 0..300 {
            sim.advance();
            sim.retry_joins();
            w.observe(&mut sim);
            w.issue(&mut sim);
            sim.deliver();
            w.observe(&mut sim);
        }
        let mut h = DefaultHasher::new();
        for (i, o) in w.ops.iter().enumerate() {
            o.describe(i).hash(&mut h);
        }
        for name in sim.live() {
            sim.snapshot_of(&name).hash(&mut h);
        }
        (h.finish(), w.ops.len())
    };
    let first = digest();
    assert!(first.1 > 100, "the run did too little: {} ops", first.1);
    assert_eq!(first, digest());
}

// ---------------------------------------------------------------------------------------------
// Scripted scenarios

fn add(counter: &str) -> Message {
    Message::CounterAddAndGetRequest {
        counter_name: counter.into(),
        delta: 1,
    }
}

fn read(counter: &str) -> Message {
    Message::CounterGetRequest {
        counter_name: counter.into(),
    }
}

fn value(m: &Message) -> i64 {
    match m {
        Message::CounterAddAndGetResponse { value } | Message::CounterGetResponse { value } => {
            *value
        }
        other => panic!("not a counter answer: {other:?}"),
    }
}

fn error_code_of(m: &Message) -> Option<u16> {
    match m {
        Message::ErrorResponse { code, .. } => Some(*code),
        _ => None,
    }
}

#[test]
fn a_partitioned_follower_catches_up_after_the_partition_heals() {
    let mut sim = Sim::cluster(Knobs::quiet(3));
    let leader = sim.leader().expect("a leader");
    let follower = sim.voter_followers(&leader)[0].clone();

    sim.isolate(&follower);
    for i in 1..=20 {
        assert_eq!(value(&sim.call(&leader, add("c"))), i);
    }
    assert!(
        sim.replica(&follower).unwrap().fsm().last_applied()
            < sim.replica(&leader).unwrap().fsm().last_applied()
    );

    sim.heal();
    sim.drop_link(&leader, &follower, 0.3);
    sim.tick_n(100);
    assert_eq!(sim.converged(), Ok(leader.clone()));
    assert_eq!(sim.snapshot_of(&follower), sim.snapshot_of(&leader));
    assert_eq!(value(&sim.call(&follower, read("c"))), 20);
}

#[test]
fn the_minority_side_fails_writes_with_no_quorum_while_the_majority_keeps_writing() {
    let mut sim = Sim::cluster(Knobs::quiet(5));
    let leader = sim.leader().expect("a leader");
    let minority = sim.voter_followers(&leader)[0].clone();
    let majority: Vec<String> = sim.live().into_iter().filter(|n| *n != minority).collect();

    sim.isolate(&minority);
    let cut_off = sim.submit(&minority, add("c")).unwrap();
    let mut expected = 0;
    for node in majority.iter().cycle().take(10) {
        expected += 1;
        assert_eq!(value(&sim.call(node, add("c"))), expected);
    }
    let answer = sim
        .answer(&minority, cut_off, 100)
        .expect("the minority answers");
    assert_eq!(
        error_code_of(&answer),
        Some(error_code::NO_QUORUM),
        "{answer:?}"
    );
    // Once it knows, it refuses at once.
    let refused = sim.submit(&minority, add("c")).unwrap();
    let answer = sim.answer(&minority, refused, 0).expect("refused at once");
    assert_eq!(
        error_code_of(&answer),
        Some(error_code::NO_QUORUM),
        "{answer:?}"
    );

    sim.heal();
    sim.tick_n(50);
    assert!(sim.converged().is_ok(), "{:?}", sim.converged());
    assert_eq!(value(&sim.call(&minority, read("c"))), expected);
    assert_eq!(value(&sim.call(&minority, add("c"))), expected + 1);
}

#[test]
fn a_learner_on_the_minority_side_fails_writes_with_no_quorum() {
    let mut sim = Sim::cluster(Knobs::quiet(5));
    let leader = sim.leader().expect("a leader");
    let voters = sim.replica(&leader).unwrap().voters();
    let learner = sim
        .live()
        .into_iter()
        .find(|n| !voters.contains(&sim.nodes[n].raft_id))
        .expect("a learner");

    sim.isolate(&learner);
    let cut_off = sim.submit(&learner, add("c")).unwrap();
    let answer = sim
        .answer(&learner, cut_off, 100)
        .expect("the minority answers within a second");
    assert_eq!(
        error_code_of(&answer),
        Some(error_code::NO_QUORUM),
        "{answer:?}"
    );
}

#[test]
fn an_isolated_leader_is_replaced_and_writes_resume() {
    let mut sim = Sim::cluster(Knobs::quiet(3));
    let old = sim.leader().expect("a leader");
    assert_eq!(value(&sim.call(&old, add("c"))), 1);

    sim.isolate(&old);
    sim.tick_n(60);
    let new = sim.leader().expect("a new leader");
    assert_ne!(new, old);
    assert!(
        !sim.replica(&old).unwrap().is_leader(),
        "the isolated leader stepped down"
    );
    assert_eq!(value(&sim.call(&new, add("c"))), 2);
    let answer = sim.call(&old, add("c"));
    assert_eq!(
        error_code_of(&answer),
        Some(error_code::NO_QUORUM),
        "{answer:?}"
    );

    sim.heal();
    sim.tick_n(50);
    assert_eq!(sim.converged(), Ok(new.clone()));
    assert_eq!(value(&sim.call(&old, read("c"))), 2);
    assert_eq!(value(&sim.call(&old, add("c"))), 3);
    assert_eq!(sim.snapshot_of(&old), sim.snapshot_of(&new));
}

#[test]
fn a_node_that_missed_many_entries_catches_up_by_snapshot() {
    let mut knobs = Knobs::quiet(3);
    knobs.compact_after_entries = Some(50);
    let mut sim = Sim::cluster(knobs);
    let leader = sim.leader().expect("a leader");
    let lagging = sim.voter_followers(&leader)[0].clone();
    let snapshots_before = sim.nodes[&lagging].gaps.len();

    sim.isolate(&lagging);
    let tickets: Vec<u32> = (0..200)
        .map(|_| sim.submit(&leader, add("c")).unwrap())
        .collect();
    sim.tick_n(20);
    for t in tickets {
        assert!(
            sim.answers.remove(&(leader.clone(), t)).is_some(),
            "write {t} answered"
        );
    }

    sim.heal();
    sim.tick_n(50);
    assert_eq!(sim.converged(), Ok(leader.clone()));
    assert!(
        sim.nodes[&lagging].gaps.len() > snapshots_before,
        "{lagging} caught up without a snapshot"
    );
    assert_eq!(sim.snapshot_of(&lagging), sim.snapshot_of(&leader));
    assert_eq!(value(&sim.call(&lagging, read("c"))), 200);
    assert_eq!(value(&sim.call(&lagging, add("c"))), 201);
}

#[test]
fn a_follower_whose_snapshot_was_lost_still_catches_up() {
    let mut knobs = Knobs::quiet(3);
    knobs.compact_after_entries = Some(50);
    let mut sim = Sim::cluster(knobs);
    let leader = sim.leader().expect("a leader");
    let lagging = sim.voter_followers(&leader)[0].clone();

    sim.isolate(&lagging);
    for i in 1..=100 {
        assert_eq!(value(&sim.call(&leader, add("c"))), i);
    }
    sim.heal();
    // The first snapshot is lost on the way (a reconnect drops it); later ones would arrive.
    sim.drop_snapshots_to.insert(lagging.clone());
    sim.tick_n(20);
    sim.drop_snapshots_to.clear();
    sim.tick_n(300);
    assert_eq!(
        sim.converged(),
        Ok(leader.clone()),
        "{lagging} never caught up"
    );
    assert_eq!(value(&sim.call(&lagging, read("c"))), 100);
}

#[test]
fn a_lost_snapshot_to_a_joining_node_does_not_stall_the_cluster() {
    let mut sim = Sim::new(0, Knobs::quiet(3));
    sim.drop_snapshots_to.insert("n2".into());
    sim.start();
    sim.tick_n(30);
    sim.drop_snapshots_to.clear();
    sim.tick_n(300);
    assert!(sim.converged().is_ok(), "{:?}", sim.converged());
    let ticket = sim.submit("n1", add("c")).unwrap();
    let answer = sim.answer("n1", ticket, 500);
    assert_eq!(answer, Some(Message::CounterAddAndGetResponse { value: 1 }));
}

#[test]
fn a_node_declared_dead_is_never_granted_a_lock() {
    let mut knobs = Knobs::quiet(5);
    knobs.failure_timeout_ms = 1_000;
    let mut sim = Sim::cluster(knobs);
    let leader = sim.leader().expect("a leader");
    let voters = sim.replica(&leader).unwrap().voters();
    let learner = sim
        .live()
        .into_iter()
        .find(|n| !voters.contains(&sim.nodes[n].raft_id))
        .expect("a learner");

    sim.isolate(&learner);
    sim.tick_n(200);
    assert!(
        sim.removed_at.contains_key(&learner),
        "{learner} was declared dead"
    );
    sim.heal();
    let _ = sim.submit(
        &learner,
        Message::LockAcquireRequest {
            lock_name: "l".into(),
        },
    );
    sim.tick_n(50);

    let fsm = sim.replica(&leader).unwrap().fsm();
    if let Some(holder) = fsm.lock_holder("l") {
        assert!(
            fsm.is_member(&holder.node_id),
            "the lock went to {}, which is no longer a member: nobody will release it",
            holder.node_id
        );
    }
}

/// The same checks, on a scripted history: a stale read is caught.
#[test]
fn the_register_checker_rejects_a_stale_read() {
    let op = |inv, resp, kind| RegOp { inv, resp, kind };
    let good = [
        op(1, 2, RegKind::Put(1)),
        op(3, 6, RegKind::Put(2)),
        op(4, 5, RegKind::Get(Some(1))),
        op(7, 8, RegKind::Get(Some(2))),
        op(9, u64::MAX, RegKind::Put(3)),
        op(10, 11, RegKind::Get(Some(3))),
    ];
    assert_eq!(linearizable(&good), Some(true));
    let stale = [
        op(1, 2, RegKind::Put(1)),
        op(3, 4, RegKind::Put(2)),
        op(5, 6, RegKind::Get(Some(1))),
    ];
    assert_eq!(linearizable(&stale), Some(false));
    let lost = [op(1, 2, RegKind::Put(1)), op(3, 4, RegKind::Get(None))];
    assert_eq!(linearizable(&lost), Some(false));
}
