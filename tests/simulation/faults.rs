//! Faults: the knobs of what a run does to the cluster, and how the simulation partitions,
//! heals and crashes nodes.

use crate::rng::Rng;
use vertx_cluster::raft::Replica;

use crate::world::{name_of, Node, Obs, Sim};
use crate::TICK_MS;

/// What a run does to the cluster.
#[derive(Debug, Clone)]
pub(crate) struct Knobs {
    pub(crate) nodes: usize,
    pub(crate) failure_timeout_ms: u64,
    pub(crate) request_timeout_ticks: Option<u64>,
    pub(crate) compact_after_entries: Option<u64>,
    pub(crate) drop_p: f64,
    pub(crate) delay_p: f64,
    pub(crate) max_delay_ticks: u64,
    pub(crate) reorder: bool,
    /// Chance per tick that a partition starts (when none is active).
    partition_p: f64,
    partition_ticks: (u64, u64),
    one_way_p: f64,
    /// Chance per tick that a node crashes.
    crash_p: f64,
    max_crashes: usize,
    /// Chance that a partition cuts every node off from every other (the majority is lost).
    majority_loss_p: f64,
    /// Chance per tick that a node's process pauses (when none is paused): half the pauses
    /// outlast the failure timeout.
    pause_p: f64,
    /// Chance that a message is delivered twice.
    pub(crate) dup_p: f64,
    /// Whether nodes' monotonic clocks start far apart.
    pub(crate) clock_skew: bool,
    /// Chance per tick that a node's monotonic clock jumps (forward or back, up to 3 s).
    jump_p: f64,
    /// Chance per tick that a crashed node's address gets a new process (a new node id) that
    /// joins the cluster.
    restart_p: f64,
    pub(crate) run_ticks: u64,
}

impl Knobs {
    /// A reliable network and nothing declared dead: for scripted scenarios.
    pub(crate) fn quiet(nodes: usize) -> Knobs {
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
            majority_loss_p: 0.0,
            pause_p: 0.0,
            dup_p: 0.0,
            clock_skew: false,
            jump_p: 0.0,
            restart_p: 0.0,
            run_ticks: 0,
        }
    }

    /// One in ten runs is calm (no partitions, no crashes), three in ten favour crashes (which
    /// wait for calm weather), the rest favour partitions.
    /// `nodes` overrides the drawn cluster size (3 to 5) without changing the rest of the draw.
    pub(crate) fn random(rng: &mut Rng, run_ticks: u64, nodes: Option<usize>) -> Knobs {
        let drawn = rng.between(3, 5) as usize;
        let nodes = nodes.unwrap_or(drawn);
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
            majority_loss_p: if calm { 0.0 } else { 0.15 },
            pause_p: if calm || rng.chance(0.4) {
                0.0
            } else {
                1.0 / rng.between(150, 500) as f64
            },
            dup_p: if rng.chance(0.5) {
                0.0
            } else {
                rng.between(1, 5) as f64 / 100.0
            },
            clock_skew: rng.chance(0.8),
            jump_p: if calm || rng.chance(0.5) {
                0.0
            } else {
                1.0 / rng.between(50, 300) as f64
            },
            restart_p: if rng.chance(0.3) {
                0.0
            } else {
                1.0 / rng.between(20, 100) as f64
            },
            run_ticks,
        }
    }
}

impl Sim {
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

    /// A new process at a crashed node's address, with a new node id, joining the cluster.
    pub(crate) fn restart(&mut self, name: &str) {
        let generation = self
            .retired
            .iter()
            .filter(|n| name_of(&n.node_id) == name)
            .count()
            + 1;
        let fresh = Node::new(format!("{name}.{generation}"));
        let old = std::mem::replace(self.nodes.get_mut(name).expect("known node"), fresh);
        self.retired.push(old);
        self.removed_at.remove(name);
        let replica = Replica::joining(self.config(name));
        self.nodes.get_mut(name).expect("known node").replica = Some(replica);
        self.restarts += 1;
        let id = self.nodes[name].node_id.clone();
        self.note(format!("{name} restarts as node {id}"));
    }

    /// Crashed nodes whose old process is gone from every voter list: a new process may start
    /// at their address without two dead voters at once.
    fn restartable(&self) -> Vec<String> {
        let views: Vec<Vec<u64>> = self
            .healthy()
            .iter()
            .map(|n| self.replica(n).expect("live").voters())
            .collect();
        self.nodes
            .iter()
            .filter(|(name, n)| {
                n.crashed
                    && self.removed_at.contains_key(*name)
                    && views.iter().all(|v| !v.contains(&n.raft_id))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    pub(crate) fn isolate(&mut self, name: &str) {
        self.partition(&[name.to_owned()], false);
    }

    /// Makes the link from `from` to `to` lose each message with probability `p`.
    pub(crate) fn drop_link(&mut self, from: &str, to: &str, p: f64) {
        self.link_drop.insert((from.to_owned(), to.to_owned()), p);
    }

    pub(crate) fn heal(&mut self) {
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
            && self.paused_until.is_empty()
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

    pub(crate) fn inject_faults(&mut self) {
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
                if self.fault_rng.chance(self.knobs.majority_loss_p) {
                    // Every node alone: no side has a majority, then the majority returns.
                    for node in &live {
                        self.partition(std::slice::from_ref(node), false);
                    }
                    self.partition_until = Some(self.tick + len);
                    self.partitions += 1;
                    self.note(format!("partition: every node cut off for {len} ticks"));
                    return;
                }
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
        if self.paused_until.is_empty() && self.fault_rng.chance(self.knobs.pause_p) {
            let running: Vec<String> = self.live();
            if let Some(node) = self.fault_rng.pick(&running).cloned() {
                let failure_ticks = self.knobs.failure_timeout_ms / TICK_MS;
                let len = if self.fault_rng.chance(0.5) {
                    failure_ticks + self.fault_rng.between(10, 150)
                } else {
                    self.fault_rng.between(5, failure_ticks / 2)
                };
                self.paused_until.insert(node.clone(), self.tick + len);
                self.pauses += 1;
                self.note(format!("{node} pauses for {len} ticks"));
            }
        }
        if self.fault_rng.chance(self.knobs.jump_p) {
            let running: Vec<String> = self.live();
            if let Some(node) = self.fault_rng.pick(&running).cloned() {
                let by = self.fault_rng.between(1, 3000);
                let forward = self.fault_rng.chance(0.5);
                let offset = self.clock_offset.entry(node.clone()).or_insert(0);
                *offset = if forward {
                    *offset + by
                } else {
                    offset.saturating_sub(by)
                };
                self.clock_jumps += 1;
                let way = if forward { "forward" } else { "back" };
                self.note(format!("{node}'s clock jumps {way} by {by} ms"));
            }
        }
        if self.fault_rng.chance(self.knobs.restart_p) {
            let candidates = self.restartable();
            if let Some(name) = self.fault_rng.pick(&candidates).cloned() {
                self.restart(&name);
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
}
