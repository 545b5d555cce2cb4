//! Faults: the knobs of what a run does to the cluster, and how the simulation partitions,
//! heals and crashes nodes.

use crate::rng::Rng;
use crate::world::{Obs, Sim};
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
            run_ticks: 0,
        }
    }

    /// One in ten runs is calm (no partitions, no crashes), three in ten favour crashes (which
    /// wait for calm weather), the rest favour partitions.
    pub(crate) fn random(rng: &mut Rng, run_ticks: u64) -> Knobs {
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
}
