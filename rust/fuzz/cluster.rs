//! Three replicas over an in-memory network, for the replica target: a real cluster (bootstrap,
//! two joins, a workload of maps, counters, locks, registrations and sync maps, compacted logs)
//! that fuzzed frames are delivered into, and whose own traffic seeds the fuzzer.

use std::collections::{BTreeMap, VecDeque};

use protobuf::Message as _;
use raft::prelude::Message as RaftMsg;

use crate::raft::{Replica, ReplicaConfig};
use crate::wire::{FramedMessage, Message, RegistrationInfo};

const NAMES: [&str; 3] = ["n1", "n2", "n3"];
const TICK_MS: u64 = 10;

fn config(i: usize) -> ReplicaConfig {
    let mut c = ReplicaConfig::new(NAMES[i], NAMES[i], TICK_MS, 2_000);
    // Short logs, so that compaction and snapshots happen within the warm-up.
    c.compact_after_entries = 16;
    // Fixed election timeouts (raft-rs would draw them from an unseeded generator), so that a
    // crashing input replays the same way.
    c.election_range = Some((12 + 2 * i, 13 + 2 * i));
    c
}

/// Frames seen, by (message kind, raft message type or -1).
type Recorded = BTreeMap<(u16, i32), Vec<FramedMessage<Message>>>;

pub(super) struct Cluster {
    replicas: Vec<Replica>,
    queue: VecDeque<(String, FramedMessage<Message>)>,
    now_ms: u64,
    /// A replica whose frames, in and out, are lost.
    cut_off: Option<usize>,
    /// While warming up: the frames the replicas sent each other, a few of each raft type.
    recorded: Option<Recorded>,
}

impl Cluster {
    /// A formed, warmed-up cluster. Deterministic: the same calls give the same cluster.
    pub(super) fn new() -> Cluster {
        Cluster::build(false)
    }

    /// The frames a warm-up exchanges, a few of each kind: the replica target's seeds.
    pub(super) fn traffic() -> Vec<FramedMessage<Message>> {
        let mut c = Cluster::build(true);
        let recorded = c.recorded.take().unwrap_or_default();
        recorded.into_values().flatten().collect()
    }

    fn build(record: bool) -> Cluster {
        let first = Replica::bootstrap(config(0), 0).expect("a new cluster bootstraps");
        let mut c = Cluster {
            replicas: vec![first],
            queue: VecDeque::new(),
            now_ms: 0,
            cut_off: None,
            recorded: record.then(BTreeMap::new),
        };
        c.settle(1000);
        for i in 1..NAMES.len() {
            let joining = Replica::joining(config(i));
            c.queue.push_back((NAMES[0].into(), joining.join_request()));
            c.replicas.push(joining);
            for _ in 0..40 {
                c.tick();
            }
        }
        for i in 0..48u32 {
            let node = i as usize % NAMES.len();
            let key = format!("k{}", i % 7).into_bytes();
            let request = match i % 6 {
                0 => Message::MapPutRequest {
                    map_name: "m".into(),
                    key,
                    value: vec![i as u8; 1 + i as usize],
                },
                1 => Message::CounterAddAndGetRequest {
                    counter_name: "c".into(),
                    delta: i64::from(i),
                },
                2 => Message::LockAcquireTimeoutRequest {
                    lock_name: format!("l{}", i % 3),
                    timeout_ms: 50,
                },
                3 => Message::LockReleaseRequest {
                    lock_name: format!("l{}", i % 3),
                },
                4 => Message::AddRegistrationRequest {
                    address: format!("a{}", i % 4),
                    registration: RegistrationInfo {
                        node_id: NAMES[node].into(),
                        seq: u64::from(i),
                        local_only: false,
                    },
                },
                _ => Message::SyncMapPutRequest {
                    map_name: "s".into(),
                    key,
                    value: b"v".to_vec(),
                },
            };
            c.replicas[node].submit(request, c.now_ms);
            if i % 4 == 0 {
                // A linearizable read: read-index traffic.
                let read = Message::MapGetRequest {
                    map_name: "m".into(),
                    key: b"k1".to_vec(),
                };
                c.replicas[(node + 1) % NAMES.len()].submit(read, c.now_ms);
            }
            for _ in 0..3 {
                c.tick();
            }
        }
        // The leader is cut off until the others elect one of them (votes, a new term), then
        // comes back as a follower and is caught up.
        c.cut_off = Some(0);
        for _ in 0..60 {
            c.tick();
        }
        c.cut_off = None;
        for i in 0..8u32 {
            let put = Message::MapPutRequest {
                map_name: "m".into(),
                key: vec![i as u8],
                value: vec![i as u8],
            };
            c.replicas[i as usize % NAMES.len()].submit(put, c.now_ms);
            for _ in 0..5 {
                c.tick();
            }
        }
        debug_assert!(
            c.replicas.iter().all(|r| r.voters().len() == NAMES.len()),
            "the fuzzed cluster did not form: voters {:?}",
            c.replicas.iter().map(Replica::voters).collect::<Vec<_>>()
        );
        c
    }

    /// The replicas' raft ids, in their order.
    fn raft_ids(&self) -> Vec<u64> {
        self.replicas.iter().map(Replica::raft_id).collect()
    }

    /// Delivers `frame` to the replica its raft message is addressed to, or else to the one
    /// `choice` picks, then lets the cluster react for a few rounds (and ticks if `tick`). The
    /// reason of a refusal, if the recipient refused it.
    pub(super) fn deliver(
        &mut self,
        choice: u8,
        frame: FramedMessage<Message>,
        tick: bool,
    ) -> Result<(), &'static str> {
        let mut to = usize::from(choice) % self.replicas.len();
        if let Message::RaftMessage { data, .. } = &frame.payload {
            if let Ok(m) = RaftMsg::parse_from_bytes(data) {
                if let Some(i) = self.raft_ids().iter().position(|&id| id == m.to) {
                    to = i;
                }
            }
        }
        // Refusals are what most fuzzed frames should get; only a panic is a failure.
        let outcome = self.replicas[to].receive(frame, self.now_ms);
        self.settle(4);
        if tick {
            self.tick();
        }
        outcome.map_err(|refused| refused.reason)
    }

    fn tick(&mut self) {
        self.now_ms += TICK_MS;
        let now = self.now_ms;
        for r in &mut self.replicas {
            r.tick(now);
        }
        self.settle(50);
    }

    /// Drives the replicas and delivers what they send, for at most `rounds` rounds.
    fn settle(&mut self, rounds: usize) {
        for _ in 0..rounds {
            for r in &mut self.replicas {
                r.drive(self.now_ms);
                self.queue.extend(r.take_outbox());
                r.take_completions();
                r.take_events();
            }
            if self.queue.is_empty() {
                return;
            }
            while let Some((to, frame)) = self.queue.pop_front() {
                self.record(&frame);
                let from_cut = self.cut_off.is_some_and(|i| self.sent_by(i, &frame));
                if from_cut {
                    continue;
                }
                if let Some(i) = NAMES.iter().position(|n| *n == to) {
                    if self.cut_off == Some(i) {
                        continue;
                    }
                    if let Some(r) = self.replicas.get_mut(i) {
                        let _ = r.receive(frame, self.now_ms);
                    }
                }
            }
        }
    }

    /// Whether replica `i` sent `frame` (raft messages name their sender).
    fn sent_by(&self, i: usize, frame: &FramedMessage<Message>) -> bool {
        matches!(&frame.payload, Message::RaftMessage { from_address, .. } if from_address == NAMES[i])
    }

    fn record(&mut self, frame: &FramedMessage<Message>) {
        let Some(recorded) = self.recorded.as_mut() else {
            return;
        };
        let raft_type = match &frame.payload {
            Message::RaftMessage { data, .. } => RaftMsg::parse_from_bytes(data)
                .map(|m| m.get_msg_type() as i32)
                .unwrap_or(-1),
            _ => -1,
        };
        let kind = frame.payload.get_message_kind();
        // The first two of each kind and the latest two.
        let seen = recorded.entry((kind, raft_type)).or_default();
        if seen.len() < 4 {
            seen.push(frame.clone());
        } else {
            seen[2] = seen[3].clone();
            seen[3] = frame.clone();
        }
    }
}
