//! The simulated cluster: nodes holding `Replica`s, the virtual clock, and the queries on who
//! is live, a member, healthy, leader or converged; `world/network.rs` carries their frames.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use vertx_cluster::fsm::Event;
use vertx_cluster::raft::{Completion, Phase, Replica, ReplicaConfig};
use vertx_cluster::wire::Message;

use crate::faults::Knobs;
use crate::rng::Rng;
use crate::{JOIN_RETRY_TICKS, TICK_MS};

mod network;

/// How many distinct election timeouts the nodes are given (ticks 10 to 19): beyond this many
/// nodes some share one, see [`Sim::misses_tick`].
const ELECTION_TIMEOUTS: usize = 10;

/// A `LockGranted` event as one replica applied it, with the range of state-machine indexes
/// applied by the step that produced it.
#[derive(Debug, Clone)]
pub(crate) struct SeenGrant {
    pub(crate) token: u64,
    pub(crate) lock: String,
    pub(crate) node_id: String,
    pub(crate) request_id: u32,
    pub(crate) lo: u64,
    pub(crate) hi: u64,
}

pub(crate) struct Node {
    /// The Vert.x node id of the process at this address: the address itself, then
    /// `<address>.<n>` after its n-th restart (a restarted process is a new node).
    pub(crate) node_id: String,
    /// `None` once crashed.
    pub(crate) replica: Option<Replica>,
    pub(crate) crashed: bool,
    pub(crate) raft_id: u64,
    next_join_tick: u64,
    pub(crate) last_applied: u64,
    pub(crate) grants: Vec<SeenGrant>,
    /// Index ranges (lo, hi] this replica skipped by installing a snapshot.
    pub(crate) gaps: Vec<(u64, u64)>,
    /// The raft id of each member (by a hash of its node id) in this replica's state machine at
    /// the applied index given: computed again only once the replica has applied more.
    member_ids: (u64, HashMap<u64, u64>),
}

/// Who produced an observation: the node id of the process at the address and how many times it
/// had rejoined (`Replica::incarnation`), as of the step that produced it.
#[derive(Debug, Clone)]
pub(crate) struct Process {
    pub(crate) incarnation: u32,
    pub(crate) node_id: String,
}

/// What the clients observe, in order, stamped with the logical clock.
#[derive(Debug)]
pub(crate) enum Obs {
    Done {
        node: String,
        ticket: u32,
        response: Message,
        process: Process,
    },
    Granted {
        node: String,
        lock: String,
        ticket: u32,
        token: u64,
        process: Process,
    },
    /// A queued acquisition of the node's process ended without a grant: its timeout ran out,
    /// or the node's removal dropped it (reported when the node is let in again).
    Expired {
        node: String,
        lock: String,
        ticket: u32,
    },
    Crashed {
        node: String,
    },
}

pub(crate) struct Sim {
    pub(crate) knobs: Knobs,
    net_rng: Rng,
    pub(crate) fault_rng: Rng,
    pub(crate) tick: u64,
    now_ms: u64,
    /// Logical time of invocations and observations.
    pub(crate) clock: u64,
    pub(crate) nodes: BTreeMap<String, Node>,
    in_flight: Vec<network::Envelope>,
    /// Directed links that drop everything.
    pub(crate) blocked: BTreeSet<(String, String)>,
    /// Per directed link drop probability, overriding `drop_p`.
    pub(crate) link_drop: BTreeMap<(String, String), f64>,
    /// Nodes that every raft snapshot sent to is lost on the way.
    pub(crate) drop_snapshots_to: BTreeSet<String>,
    pub(crate) drop_p: f64,
    pub(crate) delay_p: f64,
    max_delay: u64,
    reorder: bool,
    pub(crate) partition_until: Option<u64>,
    pub(crate) last_heal_tick: u64,
    pub(crate) crashes: usize,
    pub(crate) partitions: usize,
    pub(crate) obs: Vec<(u64, Obs)>,
    pub(crate) answers: BTreeMap<(String, u32), Message>,
    /// Clock of the first `NodeLeft` any replica applied for a node's current incarnation, while
    /// the node has not rejoined.
    pub(crate) removed_at: BTreeMap<String, u64>,
    /// Every removal of each node, by clock (a node may be removed, rejoin and be removed again).
    pub(crate) removals: BTreeMap<String, Vec<u64>>,
    /// How many times a removed node was admitted again.
    pub(crate) rejoins: u64,
    /// Processes that crashed and were replaced by a restart at their address, as they were.
    pub(crate) retired: Vec<Node>,
    pub(crate) restarts: usize,
    pub(crate) journal: Vec<String>,
    pub(crate) samples: BTreeMap<u64, (String, u64)>,
    pub(crate) failures: Vec<String>,
    pub(crate) delivered: u64,
    pub(crate) verbose: bool,
    /// Added to each node's fixed election timeout (distinct per node up to 10 nodes), from
    /// the seed.
    election_base: usize,
    /// Beyond 10 nodes, which leaderless member misses a tick (see [`Sim::misses_tick`]).
    tick_jitter: Option<Rng>,
    /// Each node's monotonic clock reads the simulation's time plus this (skew between
    /// processes; jumps move it).
    pub(crate) clock_offset: BTreeMap<String, u64>,
    /// Paused nodes (a stopped process): no ticks, nothing delivered, until the tick given.
    pub(crate) paused_until: BTreeMap<String, u64>,
    /// Chance that a message is delivered twice.
    pub(crate) dup_p: f64,
    pub(crate) pauses: usize,
    pub(crate) clock_jumps: usize,
    pub(crate) duplicated: u64,
}

impl Node {
    pub(crate) fn new(node_id: String) -> Node {
        Node {
            node_id,
            replica: None,
            crashed: false,
            raft_id: 0,
            next_join_tick: 0,
            last_applied: 0,
            grants: Vec::new(),
            gaps: Vec::new(),
            member_ids: (u64::MAX, HashMap::new()),
        }
    }
}

fn id_hash(node_id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    node_id.hash(&mut h);
    h.finish()
}

/// The address (simulation name) of the process with this node id.
pub(crate) fn name_of(node_id: &str) -> &str {
    node_id.split('.').next().unwrap_or(node_id)
}

impl Sim {
    pub(crate) fn new(seed: u64, knobs: Knobs) -> Sim {
        let nodes = (1..=knobs.nodes)
            .map(|i| (format!("n{i}"), Node::new(format!("n{i}"))))
            .collect();
        let dup_p = knobs.dup_p;
        let tick_jitter = (knobs.nodes > ELECTION_TIMEOUTS).then(|| Rng::new(seed, 6));
        let clock_offset = if knobs.clock_skew {
            let mut rng = Rng::new(seed, 5);
            (1..=knobs.nodes)
                .map(|i| (format!("n{i}"), rng.between(1_000_000, 1_000_000_000)))
                .collect()
        } else {
            BTreeMap::new()
        };
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
            removals: BTreeMap::new(),
            rejoins: 0,
            retired: Vec::new(),
            restarts: 0,
            journal: Vec::new(),
            samples: BTreeMap::new(),
            failures: Vec::new(),
            delivered: 0,
            verbose: false,
            election_base: (seed % ELECTION_TIMEOUTS as u64) as usize,
            tick_jitter,
            clock_offset,
            paused_until: BTreeMap::new(),
            dup_p,
            pauses: 0,
            clock_jumps: 0,
            duplicated: 0,
        }
    }

    pub(crate) fn config(&self, name: &str) -> ReplicaConfig {
        let node_id = self.nodes[name].node_id.clone();
        let mut cfg = ReplicaConfig::new(node_id, name, TICK_MS, self.knobs.failure_timeout_ms);
        // A fixed election timeout per node, distinct between nodes up to 10 (so two
        // candidates never tie forever; beyond that see `misses_tick`) and drawn from the seed:
        // raft-rs's own draw is not seeded.
        let index: usize = name.trim_start_matches('n').parse().unwrap_or(1);
        let extra = (self.election_base + (index - 1) * 3) % ELECTION_TIMEOUTS;
        cfg.election_range = Some((10 + extra, 11 + extra));
        if let Some(t) = self.knobs.request_timeout_ticks {
            cfg.request_timeout_ticks = t;
        }
        if let Some(n) = self.knobs.compact_after_entries {
            cfg.compact_after_entries = n;
        }
        cfg
    }

    pub(crate) fn note(&mut self, line: String) {
        if self.verbose {
            println!("tick {:>5}: {line}", self.tick);
        }
        self.journal.push(format!("tick {}: {line}", self.tick));
    }

    /// Node 1 bootstraps the cluster; every other node starts joining.
    pub(crate) fn start(&mut self) {
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

    pub(crate) fn replica(&self, name: &str) -> Option<&Replica> {
        self.nodes.get(name).and_then(|n| n.replica.as_ref())
    }

    pub(crate) fn live(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.replica.is_some())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// This node's monotonic clock.
    pub(crate) fn local_ms(&self, name: &str) -> u64 {
        self.now_ms + self.clock_offset.get(name).copied().unwrap_or(0)
    }

    pub(crate) fn is_paused(&self, name: &str) -> bool {
        self.paused_until.contains_key(name)
    }

    /// Live, running nodes whose phase is `Member` (including ones the others declared dead).
    pub(crate) fn members(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(k, n)| {
                !self.paused_until.contains_key(*k)
                    && n.replica
                        .as_ref()
                        .is_some_and(|r| r.phase() == Phase::Member)
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Live members that no replica has seen removed.
    pub(crate) fn healthy(&self) -> Vec<String> {
        self.members()
            .into_iter()
            .filter(|n| !self.removed_at.contains_key(n))
            .collect()
    }

    pub(crate) fn leader(&self) -> Option<String> {
        self.healthy()
            .into_iter()
            .filter(|n| self.replica(n).is_some_and(Replica::is_leader))
            .max_by_key(|n| self.nodes[n].last_applied)
    }

    /// Runs `f` on a live replica, drives it, and routes what comes out. False if crashed.
    fn step(&mut self, name: &str, snapshot: bool, f: impl FnOnce(&mut Replica, u64)) -> bool {
        let now = self.local_ms(name);
        let Some(node) = self.nodes.get_mut(name) else {
            return false;
        };
        let Some(r) = node.replica.as_mut() else {
            return false;
        };
        let before = r.fsm().last_applied();
        // Which incarnation (raft id) of each member a `NodeLeft` applied in this step removes.
        // (The same applied index holds the same members: the log is the same.)
        if node.member_ids.0 != before {
            let ids = r.fsm().members().iter();
            node.member_ids = (
                before,
                ids.map(|m| (id_hash(&m.node_id), m.raft_id)).collect(),
            );
        }
        let ids_before = std::mem::take(&mut node.member_ids.1);
        f(r, now);
        r.drive(now);
        let after = r.fsm().last_applied();
        let outbox = r.take_outbox();
        let completions: Vec<Completion> = r.take_completions();
        let events = r.take_events();
        let incarnation = r.incarnation();
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
        node.member_ids.1 = ids_before;
        for (to, frame) in outbox {
            self.send(name, to, frame);
        }
        // A node's removal releases its locks in the same command that grants them to the next
        // waiter: stamp it first. A removal counts once, for the node's current incarnation (a
        // replica catching up applies old removals of a node that has rejoined since).
        for e in &events {
            match e {
                Event::NodeLeft { node_id } => {
                    let at = name_of(node_id).to_owned();
                    let current = self
                        .nodes
                        .get(&at)
                        .filter(|n| n.node_id == *node_id)
                        .map(|n| n.raft_id);
                    if current.is_some()
                        && self.nodes[name]
                            .member_ids
                            .1
                            .get(&id_hash(node_id))
                            .copied()
                            == current
                        && !self.removed_at.contains_key(&at)
                    {
                        self.clock += 1;
                        self.removed_at.insert(at, self.clock);
                        let removals = self.removals.entry(node_id.clone()).or_default();
                        removals.push(self.clock);
                        self.note(format!("{node_id} removed (applied first by {name})"));
                    }
                }
                Event::Rejoined { node_id } => {
                    self.clock += 1;
                    self.removed_at.remove(name_of(node_id));
                    self.rejoins += 1;
                    let id = self.nodes[name_of(node_id)].raft_id;
                    self.note(format!("{node_id} rejoined as raft id {id}"));
                }
                _ => {}
            }
        }
        let process = Process {
            incarnation,
            node_id: self.nodes[name].node_id.clone(),
        };
        for c in completions {
            self.clock += 1;
            self.answers
                .insert((name.to_owned(), c.ticket), c.response.clone());
            let obs = Obs::Done {
                node: name.to_owned(),
                ticket: c.ticket,
                response: c.response,
                process: process.clone(),
            };
            self.obs.push((self.clock, obs));
        }
        let own_id = process.node_id.clone();
        for e in events {
            match e {
                Event::LockGranted {
                    lock_name,
                    node_id,
                    request_id,
                    fencing_token,
                } if node_id == own_id => {
                    self.clock += 1;
                    let obs = Obs::Granted {
                        node: name.to_owned(),
                        lock: lock_name,
                        ticket: request_id,
                        token: fencing_token,
                        process: process.clone(),
                    };
                    self.obs.push((self.clock, obs));
                }
                Event::LockWaitExpired {
                    lock_name,
                    node_id,
                    request_id,
                } if node_id == own_id => {
                    self.clock += 1;
                    let obs = Obs::Expired {
                        node: name.to_owned(),
                        lock: lock_name,
                        ticket: request_id,
                    };
                    self.obs.push((self.clock, obs));
                }
                _ => {}
            }
        }
        true
    }

    /// The clock moves one tick on every live replica.
    pub(crate) fn advance(&mut self) {
        self.tick += 1;
        self.now_ms += TICK_MS;
        let tick = self.tick;
        let resumed: Vec<String> = self
            .paused_until
            .iter()
            .filter(|(_, until)| **until <= tick)
            .map(|(n, _)| n.clone())
            .collect();
        for name in resumed {
            self.paused_until.remove(&name);
            self.last_heal_tick = tick;
            self.note(format!("{name} resumes"));
        }
        for name in self.live() {
            if !self.is_paused(&name) && !self.misses_tick(&name) {
                self.step(&name, false, |r, now| r.tick(now));
            }
        }
    }

    /// Beyond 10 nodes some share an election timeout, and two voters with the same one that
    /// campaign in the same tick would split the vote in every term after (raft-rs draws a new
    /// timeout each term, which the pinned range takes away). So a member that knows no
    /// leader misses a tick now and then, as a real node's timer drifts: drawn from a stream of
    /// its own, which leaves the runs of up to 10 nodes as they were.
    fn misses_tick(&mut self, name: &str) -> bool {
        let leaderless = self.nodes[name]
            .replica
            .as_ref()
            .is_some_and(|r| r.phase() == Phase::Member && r.leader_id() == 0);
        leaderless && self.tick_jitter.as_mut().is_some_and(|rng| rng.chance(0.2))
    }

    /// One whole tick: the clock, joins, and every message due.
    pub(crate) fn tick_once(&mut self) {
        self.advance();
        self.retry_joins();
        self.deliver();
    }

    pub(crate) fn tick_n(&mut self, n: u64) {
        for _ in 0..n {
            self.tick_once();
        }
    }

    pub(crate) fn retry_joins(&mut self) {
        let members = self.members();
        for name in self.live() {
            if self.is_paused(&name) {
                continue;
            }
            let node = &self.nodes[&name];
            let r = node.replica.as_ref().expect("live");
            let joining = r.phase() == Phase::Joining || r.needs_join_contact();
            if !joining || self.tick < node.next_join_tick {
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

    pub(crate) fn submit(&mut self, node: &str, request: Message) -> Option<u32> {
        let mut ticket = None;
        self.step(node, false, |r, now| ticket = Some(r.submit(request, now)));
        ticket
    }

    /// The caller of acquisition `ticket` on `node` stops waiting, as a node's loop does when a
    /// wait outlives its timeout: the replica withdraws the wait, or releases a grant it got.
    pub(crate) fn abandon_lock_wait(&mut self, node: &str, lock: &str, ticket: u32) {
        self.step(node, false, |r, _| {
            r.abandon_lock_wait(lock.to_owned(), ticket)
        });
    }

    /// One leader that every live, not removed node follows, all at the same applied index, and
    /// every member of the leader's list alive.
    pub(crate) fn converged(&self) -> Result<String, String> {
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
                return Err(format!("{name} was removed and has not rejoined"));
            }
            let r = self.replica(&name).expect("live");
            if !members.contains(&self.nodes[&name].node_id.as_str()) {
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
            let process = self.nodes.get(name_of(m));
            if process.is_none_or(|n| n.crashed || n.node_id != *m) {
                return Err(format!("crashed {m} is still a member"));
            }
        }
        Ok((*leader).clone())
    }
}
