//! A small in-memory cluster of replicas: scripted scenarios, no sockets, no sleeps.

use std::collections::{BTreeMap, VecDeque};

use protobuf::Message as _;
use raft::prelude::{Message as RaftMsg, MessageType};

use super::*;
use crate::fsm::Event;
use crate::wire::{error_code, FramedMessage, Message, MessageFlags, RegistrationInfo};

mod learners;
mod locks;
mod placement;
mod reads;

struct Cluster {
    /// Every replica's settings.
    cfg: fn(&str) -> ReplicaConfig,
    replicas: BTreeMap<String, Replica>,
    queue: VecDeque<(String, FramedMessage<Message>)>,
    done: BTreeMap<(String, u32), Message>,
    now_ms: u64,
    down: Vec<String>,
    /// Every raft message delivered, with its sender's name, while `record` is set.
    record: bool,
    delivered: Vec<(String, RaftMsg)>,
}

/// Adds one to `counter`.
fn add(counter: &str) -> Message {
    Message::CounterAddAndGetRequest {
        counter_name: counter.into(),
        delta: 1,
    }
}

fn cfg(name: &str) -> ReplicaConfig {
    ReplicaConfig::new(name, name, 10, 2_000)
}

impl Cluster {
    fn new() -> Self {
        Self::with(cfg)
    }

    fn with(cfg: fn(&str) -> ReplicaConfig) -> Self {
        let _ = env_logger::builder().is_test(true).try_init();
        let mut replicas = BTreeMap::new();
        replicas.insert("n1".to_string(), Replica::bootstrap(cfg("n1"), 0).unwrap());
        Cluster {
            cfg,
            replicas,
            queue: VecDeque::new(),
            done: BTreeMap::new(),
            now_ms: 0,
            down: vec![],
            record: false,
            delivered: vec![],
        }
    }

    /// n1 and the nodes `others`, joined and settled into their configuration.
    fn formed(others: &[&str]) -> Self {
        let mut c = Self::new();
        c.settle();
        for name in others {
            c.add(name);
        }
        c.tick(50);
        c
    }

    fn add(&mut self, name: &str) {
        let r = Replica::joining((self.cfg)(name));
        let join = r.join_request();
        self.replicas.insert(name.to_string(), r);
        self.queue.push_back(("n1".to_string(), join));
    }

    /// Delivers messages and drives replicas until the network is quiet.
    fn settle(&mut self) {
        for _ in 0..1000 {
            for (name, r) in self.replicas.iter_mut() {
                if self.down.contains(name) {
                    continue;
                }
                r.drive(self.now_ms);
                for (to, frame) in r.take_outbox() {
                    if let (true, Message::RaftMessage { data, .. }) = (self.record, &frame.payload)
                    {
                        let msg = RaftMsg::parse_from_bytes(data).unwrap();
                        self.delivered.push((name.clone(), msg));
                    }
                    self.queue.push_back((to, frame));
                }
                for c in r.take_completions() {
                    self.done.insert((name.clone(), c.ticket), c.response);
                }
            }
            if self.queue.is_empty() {
                return;
            }
            while let Some((to, frame)) = self.queue.pop_front() {
                if self.down.contains(&to) {
                    continue;
                }
                if let Some(r) = self.replicas.get_mut(&to) {
                    if let Err(refused) = r.receive(frame, self.now_ms) {
                        panic!("{to} refused a frame of its cluster: {refused}");
                    }
                }
            }
        }
        panic!("the network never went quiet");
    }

    fn tick(&mut self, n: usize) {
        for _ in 0..n {
            self.now_ms += 10;
            for (name, r) in self.replicas.iter_mut() {
                if !self.down.contains(name) {
                    r.tick(self.now_ms);
                }
            }
            self.settle();
        }
    }

    /// Submits `request` on `node` and delivers until the network is quiet, without a tick: the
    /// answer, if it came by then.
    fn call_untimed(&mut self, node: &str, request: Message) -> Option<Message> {
        let ticket = self
            .replicas
            .get_mut(node)
            .unwrap()
            .submit(request, self.now_ms);
        self.settle();
        self.done.remove(&(node.to_string(), ticket))
    }

    fn call(&mut self, node: &str, request: Message) -> Message {
        let ticket = self
            .replicas
            .get_mut(node)
            .unwrap()
            .submit(request, self.now_ms);
        for _ in 0..2000 {
            self.settle();
            if let Some(m) = self.done.remove(&(node.to_string(), ticket)) {
                return m;
            }
            self.tick(1);
        }
        panic!("no answer on {node}");
    }
}

#[test]
fn three_replicas_replicate_writes_and_serve_linearizable_reads() {
    let mut c = Cluster::formed(&["n2", "n3"]);
    let nodes = c.call("n3", Message::NodeListRequest {});
    assert_eq!(
        nodes,
        Message::NodeListResponse {
            nodes: vec!["n1".into(), "n2".into(), "n3".into()]
        }
    );
    assert_eq!(c.replicas["n1"].voters(), vec![1, 2, 3]);

    let r = c.call(
        "n2",
        Message::CounterAddAndGetRequest {
            counter_name: "c".into(),
            delta: 5,
        },
    );
    assert_eq!(r, Message::CounterAddAndGetResponse { value: 5 });
    let r = c.call(
        "n3",
        Message::CounterGetRequest {
            counter_name: "c".into(),
        },
    );
    assert_eq!(r, Message::CounterGetResponse { value: 5 });
}

#[test]
fn a_dead_leader_is_replaced_and_declared_dead() {
    let mut c = Cluster::formed(&["n2", "n3", "n4"]);
    assert_eq!(c.replicas["n1"].voters().len(), 3);
    c.down.push("n1".into());
    c.tick(400);
    let r = c.call("n2", Message::NodeListRequest {});
    assert_eq!(
        r,
        Message::NodeListResponse {
            nodes: vec!["n2".into(), "n3".into(), "n4".into()]
        }
    );
    assert_eq!(c.replicas["n2"].voters(), vec![2, 3, 4]);
    let r = c.call("n4", add("c"));
    assert_eq!(r, Message::CounterAddAndGetResponse { value: 1 });
}

#[test]
fn sync_map_reads_are_answered_locally_and_other_reads_wait_for_a_round() {
    let mut c = Cluster::formed(&["n2", "n3"]);
    let put = c.call(
        "n2",
        Message::SyncMapPutRequest {
            map_name: "__vertx.haInfo".into(),
            key: b"n2".to_vec(),
            value: b"{}".to_vec(),
        },
    );
    assert_eq!(put, Message::SyncMapPutResponse { previous: None });
    // n3 has applied the put once the cluster is quiet.
    c.settle();
    let n3 = c.replicas.get_mut("n3").unwrap();
    let local = n3.submit(
        Message::SyncMapGetRequest {
            map_name: "__vertx.haInfo".into(),
            key: b"n2".to_vec(),
        },
        0,
    );
    let linearizable = n3.submit(
        Message::CounterGetRequest {
            counter_name: "c".into(),
        },
        0,
    );
    let answered: Vec<(u32, Message)> = n3
        .take_completions()
        .into_iter()
        .map(|c| (c.ticket, c.response))
        .collect();
    assert_eq!(
        answered,
        vec![(
            local,
            Message::SyncMapGetResponse {
                value: Some(b"{}".to_vec())
            }
        )]
    );
    c.settle();
    assert_eq!(
        c.done.remove(&("n3".to_string(), linearizable)),
        Some(Message::CounterGetResponse { value: 0 })
    );
}

/// Members that join together enter raft's configuration as learners in joint changes, each left
/// at once; voters are then promoted from them one by one.
#[test]
fn members_joining_together_all_become_learners_then_voters() {
    let mut c = Cluster::new();
    c.settle();
    for i in 2..=7 {
        c.add(&format!("n{i}"));
    }
    c.settle();
    let cs = c.replicas["n1"].conf_state();
    let mut all: Vec<u64> = cs.voters.iter().chain(&cs.learners).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (1..=7).collect::<Vec<u64>>(), "{cs:?}");
    assert!(
        cs.voters_outgoing.is_empty() && !cs.auto_leave,
        "still joint: {cs:?}"
    );
    c.tick(50);
    assert_eq!(c.replicas["n1"].voters().len(), 3);
    for name in ["n1", "n7"] {
        assert_eq!(
            c.replicas[name].conf_state(),
            c.replicas["n1"].conf_state(),
            "{name}"
        );
    }
    let r = c.call("n7", add("c"));
    assert_eq!(r, Message::CounterAddAndGetResponse { value: 1 });
}

#[test]
fn a_join_asked_of_every_member_at_once_is_proposed_once() {
    let mut c = Cluster::formed(&["n2", "n3"]);
    let joiner = Replica::joining(cfg("n4"));
    let join = joiner.join_request();
    c.replicas.insert("n4".into(), joiner);
    // A node that asks to be let in asks every member it knows; they forward to the leader.
    for to in ["n1", "n2", "n3", "n1"] {
        c.queue.push_back((to.to_string(), join.clone()));
    }
    let commit = |c: &Cluster| c.replicas["n1"].stats().commit_index;
    let before = commit(&c);
    c.settle();
    assert!(c.replicas["n1"].fsm().is_member("n4"));
    assert!(c.replicas["n1"].joins.is_empty());
    // The admission, and the configuration change that makes n4 a learner.
    assert_eq!(commit(&c) - before, 2);
}

/// A leader that has led for longer than the failure timeout admits a node and must give it the
/// whole timeout to speak, not declare it dead at once because it was never heard from.
#[test]
fn a_node_that_just_joined_is_not_declared_dead_before_its_timeout() {
    let mut c = Cluster::new();
    c.settle();
    // 10 ms ticks, 2 s failure timeout: lead for 3 s alone first.
    c.tick(300);
    c.add("n2");
    // n2 asked to join and then went silent: the join is applied on n1, n2 hears nothing.
    c.down.push("n2".into());
    c.tick(20);
    let joined = |c: &Cluster| c.replicas["n1"].fsm().is_member("n2");
    assert!(
        joined(&c),
        "n2 was declared dead before its failure timeout"
    );
    c.tick(250);
    assert!(
        !joined(&c),
        "n2, silent for longer than the timeout, is declared dead"
    );
}

/// A member whose port refuses connections is declared dead once it stays unheard for
/// `refused_dead_after_ticks`, long before the failure timeout; a refusal from a member that
/// still speaks (a stale report) is forgotten when it is heard.
#[test]
fn a_member_whose_port_refuses_connections_is_declared_dead_before_the_timeout() {
    let mut c = Cluster::formed(&["n2", "n3"]);
    let is_member = |c: &Cluster, n: &str| c.replicas["n1"].fsm().is_member(n);
    assert!(is_member(&c, "n2") && is_member(&c, "n3"));
    // 10 ms ticks: the failure timeout is 2 s, the refusal grace 250 ms.
    assert_eq!(c.replicas["n1"].cfg.refused_dead_after_ticks, 25);

    // n2 still speaks: its refusal is void once the leader hears from it.
    c.down.push("n3".into());
    for r in c.replicas.values_mut() {
        r.connection_refused("n2");
        r.connection_refused("n3");
    }
    c.tick(20);
    assert!(
        is_member(&c, "n3"),
        "declared dead before the refusal grace"
    );
    c.tick(10);
    assert!(
        !is_member(&c, "n3"),
        "a refusing, silent member is declared dead"
    );
    c.tick(100);
    assert!(
        is_member(&c, "n2"),
        "a member that speaks is never declared dead"
    );
    let r = c.call("n2", add("c"));
    assert_eq!(r, Message::CounterAddAndGetResponse { value: 1 });
}

/// A joining node gets the cluster's state as soon as it is admitted: the snapshot raft asks for
/// is taken and sent within the same drive, without waiting for a tick or a heartbeat.
#[test]
fn a_joining_node_gets_its_snapshot_without_waiting_for_a_tick() {
    let mut c = Cluster::new();
    c.settle();
    c.add("n2");
    c.settle();
    let n2 = &c.replicas["n2"];
    assert_eq!(n2.phase(), Phase::Member);
    assert!(n2.fsm().is_member("n1") && n2.fsm().is_member("n2"));
}

/// raft may ask for a snapshot for a peer that a conf change applied in the same drive then
/// removes; taking and sending that snapshot must not reach raft-rs's `send_append` for a peer it
/// no longer tracks (which panics).
#[test]
fn a_snapshot_wanted_for_a_peer_raft_no_longer_tracks_is_not_sent() {
    use raft::Storage;
    let mut c = Cluster::new();
    c.settle();
    c.add("n2");
    c.tick(20);
    let now = c.now_ms;
    let leader = c.replicas.get_mut("n1").unwrap();
    assert!(leader.is_leader());
    let store = leader.raw.as_ref().unwrap().store();
    // Raft id 99 is in no configuration: the store refuses and notes it as wanted.
    assert!(store.snapshot(0, 99).is_err());
    leader.drive(now);
    c.settle();
    let r = c.call("n2", add("c"));
    assert_eq!(r, Message::CounterAddAndGetResponse { value: 1 });
}

#[test]
fn a_log_of_large_values_is_compacted_by_bytes_and_a_late_joiner_still_catches_up() {
    let mut c = Cluster::with(|name| {
        let mut cfg = cfg(name);
        cfg.compact_after_bytes = 1024 * 1024;
        cfg
    });
    c.settle();
    c.add("n2");
    c.add("n3");
    c.tick(50);
    let value = vec![7u8; 64 * 1024];
    for i in 0..100u32 {
        let put = Message::MapPutRequest {
            map_name: "m".into(),
            key: i.to_le_bytes().to_vec(),
            value: value.clone(),
        };
        assert_eq!(c.call("n2", put), Message::MapPutResponse {});
    }
    for (name, r) in &c.replicas {
        // 6.4 MB written; the log keeps at most about the limit (and one more value).
        assert!(
            r.log_bytes() <= 1024 * 1024 + 70 * 1024,
            "{name} holds {} bytes of log",
            r.log_bytes()
        );
    }
    c.add("n4");
    c.tick(50);
    let read = c.call(
        "n4",
        Message::MapGetRequest {
            map_name: "m".into(),
            key: 99u32.to_le_bytes().to_vec(),
        },
    );
    assert_eq!(read, Message::MapGetResponse { value: Some(value) });
}

#[test]
fn a_write_too_large_to_replicate_fails_at_once_and_the_cluster_carries_on() {
    let mut c = Cluster::with(|name| {
        let mut cfg = cfg(name);
        cfg.max_command_bytes = 8 * 1024;
        cfg
    });
    c.settle();
    c.add("n2");
    c.tick(50);
    let put = |len: usize| Message::MapPutRequest {
        map_name: "m".into(),
        key: b"k".to_vec(),
        value: vec![1; len],
    };
    match c.call("n2", put(8 * 1024)) {
        Message::ErrorResponse { code, message } => {
            assert_eq!(code, error_code::TOO_LARGE);
            assert!(message.contains("too large to replicate"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // Many writes just under the limit forwarded at once leave in several frames.
    let tickets: Vec<u32> = (0..20)
        .map(|_| {
            c.replicas
                .get_mut("n2")
                .unwrap()
                .submit(put(7 * 1024), c.now_ms)
        })
        .collect();
    let outbox: Vec<_> = c.replicas.get_mut("n2").unwrap().take_outbox();
    assert!(outbox.is_empty(), "nothing leaves before the drive");
    c.replicas.get_mut("n2").unwrap().drive(c.now_ms);
    let frames: Vec<usize> = c
        .replicas
        .get_mut("n2")
        .unwrap()
        .take_outbox()
        .into_iter()
        .filter(|(_, f)| matches!(f.payload, Message::ForwardProposals { .. }))
        .map(|(_, f)| f.encode().unwrap().len())
        .collect();
    assert!(frames.len() >= 10, "{} forward frames", frames.len());
    assert!(frames
        .iter()
        .all(|&len| len <= 8 * 1024 + REPLICATION_HEADROOM));
    let _ = tickets;
    assert_eq!(c.call("n2", put(10)), Message::MapPutResponse {});
}

/// A message for a higher raft id than a member's own is refused (and its connection closed),
/// unless the member has asked to be let in again and not heard the answer (it may be for the id
/// it is being admitted under), or the leader it follows sent it (the cluster admitted it again
/// under that id unheard): then it is dropped unread, and in the second case the member asks the
/// leader for its id, once per probe interval, unless it is leaving.
#[test]
fn a_message_for_a_higher_raft_id_is_dropped_only_while_a_readmission_is_asked_or_from_the_leader()
{
    let mut c = Cluster::formed(&["n2", "n3"]);
    let leader = c.replicas["n1"].raft_id();
    let other = c.replicas["n3"].raft_id();
    let term = c.replicas["n1"].stats().term;
    let follower = c.replicas.get_mut("n2").unwrap();
    let frame = |from: u64, to: u64| {
        let mut m = RaftMsg::default();
        m.set_msg_type(MessageType::MsgHeartbeat);
        m.from = from;
        m.to = to;
        m.term = term;
        FramedMessage::new(
            MessageFlags::NONE,
            0,
            Message::RaftMessage {
                from_address: "n1".into(),
                data: m.write_to_bytes().unwrap(),
            },
        )
    };
    let higher = follower.raft_id() + 5;
    let refused = follower.receive(frame(other, higher), 0);
    assert!(refused.is_err(), "{refused:?}");
    assert!(follower.take_outbox().is_empty());

    assert_eq!(follower.receive(frame(leader, higher), 0), Ok(()));
    let asked: Vec<String> = follower
        .take_outbox()
        .into_iter()
        .filter(|(_, f)| matches!(f.payload, Message::ClusterJoinRequest { .. }))
        .map(|(to, _)| to)
        .collect();
    assert_eq!(asked, ["n1"], "the member asks the leader for its id");
    assert!(follower.asked_readmission);
    assert_eq!(follower.receive(frame(other, higher), 0), Ok(()));
    assert_eq!(follower.receive(frame(leader, higher), 0), Ok(()));
    assert!(
        follower.take_outbox().is_empty(),
        "asked once per probe interval"
    );
    follower.ticks += follower.cfg.rejoin_probe_ticks;
    assert_eq!(follower.receive(frame(leader, higher), 0), Ok(()));
    let asked_again = follower
        .take_outbox()
        .iter()
        .filter(|(_, f)| matches!(f.payload, Message::ClusterJoinRequest { .. }))
        .count();
    assert_eq!(asked_again, 1, "asked again once the probe interval passed");

    // A node that is leaving asks for nothing: its leave removes it.
    follower.asked_readmission = false;
    follower.leaving = Some(1);
    let refused = follower.receive(frame(leader, higher), 0);
    assert!(refused.is_err(), "{refused:?}");
    assert!(follower.take_outbox().is_empty());
    follower.leaving = None;

    let lower = follower.raft_id() - 1;
    assert_eq!(
        follower.receive(frame(other, lower), 0),
        Ok(()),
        "an earlier incarnation's"
    );
}

/// A new process that joins under the node id of one the cluster removed numbers its requests
/// past the earlier process's: the cluster kept that process's exactly-once session, and would
/// otherwise skip the new requests as repeats.
#[test]
fn a_new_process_under_a_removed_nodes_id_gets_its_writes_applied() {
    let mut c = Cluster::formed(&["n2", "n3"]);
    for i in 1..=40 {
        assert_eq!(
            c.call("n3", add("c")),
            Message::CounterAddAndGetResponse { value: i }
        );
    }
    c.down.push("n3".into());
    let dead_after = c.replicas["n1"].cfg.dead_after_ticks as usize;
    c.tick(dead_after + 20);
    assert!(!c.replicas["n1"].fsm().is_member("n3"), "n3 was removed");
    c.down.clear();
    c.replicas.remove("n3");
    c.add("n3");
    c.tick(50);
    assert!(c.replicas["n1"].fsm().is_member("n3"), "a new n3 joined");
    assert_eq!(
        c.call("n3", add("c")),
        Message::CounterAddAndGetResponse { value: 41 }
    );
}
