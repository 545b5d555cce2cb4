//! Multi-node clusters over real loopback sockets, several nodes per test process, each test
//! with a cluster name of its own. Failure timeouts are shortened so deaths are detected fast.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vertx_cluster::fsm::Event;
use vertx_cluster::node::{Faults, Node, NodeOptions};
use vertx_cluster::wire::{error_code, Message, RegistrationInfo};

static CLUSTERS: AtomicUsize = AtomicUsize::new(0);

fn cluster_name(test: &str) -> String {
    format!(
        "{test}-{}-{}",
        std::process::id(),
        CLUSTERS.fetch_add(1, Ordering::SeqCst)
    )
}

fn options(cluster: &str) -> NodeOptions {
    let _ = env_logger::builder().is_test(true).try_init();
    let mut o = NodeOptions::new(cluster);
    o.failure_timeout = Duration::from_millis(1_000);
    o
}

fn start(cluster: &str) -> Node {
    Node::start(options(cluster)).expect("node starts")
}

fn start_many(cluster: &str, n: usize) -> Vec<Node> {
    (0..n).map(|_| start(cluster)).collect()
}

/// Waits until `check` holds, failing the test with `what` after 15 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn add(node: &Node, counter: &str) -> Message {
    node.call(Message::CounterAddAndGetRequest {
        counter_name: counter.into(),
        delta: 1,
    })
}

fn counter(node: &Node, counter: &str) -> i64 {
    match node.call(Message::CounterGetRequest {
        counter_name: counter.into(),
    }) {
        Message::CounterGetResponse { value } => value,
        other => panic!("unexpected {other:?}"),
    }
}

/// The counter's value, or None while the node cannot serve linearizable reads.
fn try_counter(node: &Node, counter: &str) -> Option<i64> {
    match node.call(Message::CounterGetRequest {
        counter_name: counter.into(),
    }) {
        Message::CounterGetResponse { value } => Some(value),
        _ => None,
    }
}

fn same_members(nodes: &[&Node], n: usize) -> bool {
    let first = nodes[0].members();
    first.len() == n && nodes.iter().all(|node| node.members() == first)
}

#[test]
fn clusters_of_one_two_three_and_five_nodes_form() {
    for n in [1, 2, 3, 5] {
        let cluster = cluster_name("sizes");
        let nodes = start_many(&cluster, n);
        let refs: Vec<&Node> = nodes.iter().collect();
        eventually(&format!("{n} members everywhere"), || {
            same_members(&refs, n)
        });
        let expected: Vec<String> = nodes.iter().map(|n| n.node_id().to_string()).collect();
        assert_eq!(
            nodes[0].members(),
            expected,
            "members are listed in join order"
        );
        let voters = if n <= 2 { 1 } else { 3 };
        eventually("voters settle", || nodes[0].voters().len() == voters);
        for (i, node) in nodes.iter().enumerate() {
            assert_eq!(
                add(node, "c"),
                Message::CounterAddAndGetResponse {
                    value: i as i64 + 1
                }
            );
        }
        for node in &nodes {
            assert_eq!(
                counter(node, "c"),
                n as i64,
                "a read on any node sees every write"
            );
        }
    }
}

fn leader_index(nodes: &[Node]) -> usize {
    let mut found = None;
    eventually("a leader", || {
        found = nodes.iter().position(|n| n.is_leader());
        found.is_some()
    });
    found.unwrap()
}

/// Increments until a write succeeds (the cluster may be electing), failing after 15 s.
fn add_eventually(node: &Node, name: &str) -> i64 {
    let mut value = 0;
    eventually("a write to succeed", || match add(node, name) {
        Message::CounterAddAndGetResponse { value: v } => {
            value = v;
            true
        }
        _ => false,
    });
    value
}

#[test]
fn five_nodes_started_at_once_form_one_cluster() {
    for _ in 0..3 {
        let cluster = cluster_name("at-once");
        let barrier = Arc::new(std::sync::Barrier::new(5));
        let handles: Vec<_> = (0..5)
            .map(|_| {
                let (cluster, barrier) = (cluster.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    start(&cluster)
                })
            })
            .collect();
        let nodes: Vec<Node> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let refs: Vec<&Node> = nodes.iter().collect();
        eventually("one cluster of 5", || same_members(&refs, 5));
    }
}

#[test]
fn writes_resume_after_the_leader_is_killed() {
    let cluster = cluster_name("leader-kill");
    let mut nodes = start_many(&cluster, 3);
    // The leader may die only once all three are voters: with two voters, the survivor alone
    // is no majority (README, "Guarantees, in plain words").
    let refs: Vec<&Node> = nodes.iter().collect();
    eventually("3 members, all voters", || {
        same_members(&refs, 3) && refs.iter().all(|n| n.voters().len() == 3)
    });
    add_eventually(&nodes[0], "c");
    let leader = leader_index(&nodes);
    let dead = nodes.remove(leader);
    let dead_id = dead.node_id().to_string();
    dead.close();
    let killed = Instant::now();
    assert_eq!(add_eventually(&nodes[0], "c"), 2);
    assert!(
        killed.elapsed() < Duration::from_secs(5),
        "writes resumed after {:?}",
        killed.elapsed()
    );
    let refs: Vec<&Node> = nodes.iter().collect();
    eventually("the dead leader removed", || same_members(&refs, 2));
    assert!(!nodes[0].members().contains(&dead_id));
    assert_eq!(counter(&nodes[1], "c"), 2);
}

#[test]
fn a_minority_refuses_writes_and_catches_up_after_healing() {
    let cluster = cluster_name("partition");
    let faults = Faults::new();
    let nodes: Vec<Node> = (0..3)
        .map(|_| {
            let mut o = options(&cluster);
            o.failure_timeout = Duration::from_secs(30);
            o.faults = Some(faults.clone());
            o.compact_after_entries = 50;
            Node::start(o).unwrap()
        })
        .collect();
    let refs: Vec<&Node> = nodes.iter().collect();
    eventually("3 members, all voters", || {
        same_members(&refs, 3) && refs.iter().all(|n| n.voters().len() == 3)
    });
    let leader = leader_index(&nodes);
    let follower = (leader + 1) % 3;
    let addr = |i: usize| nodes[i].address().parse().unwrap();
    let others: Vec<_> = (0..3).filter(|i| *i != follower).map(addr).collect();
    faults.isolate(addr(follower), &others);

    match add(&nodes[follower], "c") {
        Message::ErrorResponse { code, message } => {
            assert_eq!(code, error_code::NO_QUORUM, "{message}");
            assert!(message.contains("no quorum"), "{message}");
        }
        other => panic!("a minority accepted a write: {other:?}"),
    }
    // The majority goes on, far enough that its log is compacted past the follower.
    for i in 1..=200 {
        assert_eq!(
            add(&nodes[leader], "c"),
            Message::CounterAddAndGetResponse { value: i }
        );
    }
    faults.heal();
    eventually("the follower catches up", || {
        try_counter(&nodes[follower], "c") == Some(200)
    });
    assert_eq!(add_eventually(&nodes[follower], "c"), 201);
}

/// Node `holder` holds a lock and a registration; node 0 waits for the lock.
fn holder_with_lock_and_registration(
    nodes: &[Node],
    holder: usize,
) -> std::sync::mpsc::Receiver<Message> {
    let registration = RegistrationInfo {
        node_id: nodes[holder].node_id().into(),
        seq: 1,
        local_only: false,
    };
    let added = nodes[holder].call(Message::AddRegistrationRequest {
        address: "svc".into(),
        registration,
    });
    assert_eq!(added, Message::AddRegistrationResponse {});
    let acquired = nodes[holder].call(Message::LockAcquireRequest {
        lock_name: "l".into(),
    });
    assert!(
        matches!(acquired, Message::LockAcquireResponse { granted: true, .. }),
        "{acquired:?}"
    );
    let (tx, rx) = std::sync::mpsc::channel();
    nodes[0]
        .request(
            Message::LockAcquireTimeoutRequest {
                lock_name: "l".into(),
                timeout_ms: 20_000,
            },
            Box::new(move |m| {
                let _ = tx.send(m);
            }),
        )
        .expect("the node takes requests");
    rx
}

fn registrations(node: &Node) -> Message {
    node.call(Message::GetRegistrationsRequest {
        address: "svc".into(),
    })
}

#[test]
fn graceful_leave_releases_locks_and_registrations() {
    let cluster = cluster_name("leave");
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    let mut o = options(&cluster);
    o.on_event = Some(Arc::new(move |e| seen.lock().unwrap().push(e)));
    let mut nodes = vec![Node::start(o).unwrap()];
    nodes.extend(start_many(&cluster, 2));
    let waiter = holder_with_lock_and_registration(&nodes, 2);
    let leaver = nodes.pop().unwrap();
    let leaver_id = leaver.node_id().to_string();
    let started = Instant::now();
    leaver.leave().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "leave took {:?}",
        started.elapsed()
    );
    let granted = waiter
        .recv_timeout(Duration::from_secs(10))
        .expect("the waiter is granted");
    assert!(
        matches!(
            granted,
            Message::LockAcquireTimeoutResponse { granted: true, .. }
        ),
        "{granted:?}"
    );
    assert_eq!(
        registrations(&nodes[1]),
        Message::GetRegistrationsResponse {
            registrations: vec![]
        }
    );
    let refs: Vec<&Node> = nodes.iter().collect();
    eventually("2 members", || same_members(&refs, 2));
    eventually("the departure reported", || {
        events.lock().unwrap().contains(&Event::NodeLeft {
            node_id: leaver_id.clone(),
        })
    });
}

#[test]
fn a_node_declared_dead_loses_its_locks_and_registrations() {
    let cluster = cluster_name("dead");
    let mut nodes = start_many(&cluster, 3);
    let waiter = holder_with_lock_and_registration(&nodes, 2);
    nodes.pop().unwrap().close();
    let granted = waiter
        .recv_timeout(Duration::from_secs(10))
        .expect("the waiter is granted");
    assert!(
        matches!(
            granted,
            Message::LockAcquireTimeoutResponse { granted: true, .. }
        ),
        "{granted:?}"
    );
    assert_eq!(
        registrations(&nodes[1]),
        Message::GetRegistrationsResponse {
            registrations: vec![]
        }
    );
    let refs: Vec<&Node> = nodes.iter().collect();
    eventually("2 members", || same_members(&refs, 2));
}

#[test]
fn four_nodes_survive_two_deaths_one_after_the_other() {
    let cluster = cluster_name("two-deaths");
    let mut nodes = start_many(&cluster, 4);
    let refs: Vec<&Node> = nodes.iter().collect();
    eventually("4 members, 3 voters", || {
        same_members(&refs, 4) && nodes[0].voters().len() == 3
    });
    add_eventually(&nodes[0], "c");
    for expected in [3, 2] {
        // Kill a voter each time (the leader first), so each death costs a vote. Each death is
        // healed before the next: the dead voter is out of the configuration and a learner has
        // taken its place (two voters dying before that is two failures at once).
        let victim = leader_index(&nodes);
        nodes.remove(victim).close();
        let refs: Vec<&Node> = nodes.iter().collect();
        eventually(&format!("{expected} members"), || {
            same_members(&refs, expected)
        });
        let live: Vec<u64> = nodes.iter().map(|n| n.raft_id()).collect();
        let target = if expected == 3 { 3 } else { 1 };
        eventually(&format!("{target} live voters"), || {
            let voters = nodes[0].voters();
            voters.len() == target && voters.iter().all(|v| live.contains(v))
        });
        add_eventually(&nodes[0], "c");
    }
    assert_eq!(counter(&nodes[1], "c"), 3);
}

/// Vert.x's HA quorum test: a member leaves gracefully and another node joins at once. Every
/// round has the leader leave in one case and a follower in the other.
#[test]
fn a_node_joins_right_after_a_member_leaves() {
    for (round, leader_leaves) in [(0, true), (1, false), (2, true), (3, false)] {
        let cluster = cluster_name(&format!("rejoin{round}"));
        let mut nodes = start_many(&cluster, 3);
        let refs: Vec<&Node> = nodes.iter().collect();
        eventually("3 members", || same_members(&refs, 3));
        let leader = leader_index(&nodes);
        let leaving = if leader_leaves {
            leader
        } else {
            (leader + 1) % 3
        };
        nodes.remove(leaving).leave().expect("the leave commits");
        let joiner = Node::start(options(&cluster)).expect("a node joins after the leave");
        nodes.push(joiner);
        let refs: Vec<&Node> = nodes.iter().collect();
        eventually("3 members after the join", || same_members(&refs, 3));
        assert_eq!(add_eventually(&nodes[2], "c"), 1, "round {round}");
    }
}

/// A closed node's port refuses connections: the survivors remove it long before the failure
/// timeout, and the cluster goes on.
#[test]
fn a_closed_node_is_removed_long_before_the_failure_timeout() {
    let cluster = cluster_name("refused");
    let nodes: Vec<Node> = (0..3)
        .map(|_| {
            let mut o = options(&cluster);
            o.failure_timeout = Duration::from_secs(30);
            Node::start(o).unwrap()
        })
        .collect();
    let refs: Vec<&Node> = nodes.iter().collect();
    eventually("3 members, all voters", || {
        same_members(&refs, 3) && refs.iter().all(|n| n.voters().len() == 3)
    });
    let mut nodes = nodes;
    // The leader, so that the survivors must also elect a new one first.
    let dead = nodes.remove(leader_index(&nodes));
    dead.close();
    let closed = Instant::now();
    let refs: Vec<&Node> = nodes.iter().collect();
    eventually("the closed node removed", || same_members(&refs, 2));
    assert!(
        closed.elapsed() < Duration::from_secs(10),
        "removed after {:?}, the failure timeout is 30 s",
        closed.elapsed()
    );
    assert_eq!(add_eventually(&nodes[1], "c"), 1);
}

/// A node cut off by the network (frames dropped, no connection refused) is declared dead at the
/// failure timeout, not sooner.
#[test]
fn an_isolated_node_is_declared_dead_at_the_failure_timeout() {
    let cluster = cluster_name("isolated");
    let faults = Faults::new();
    let timeout = Duration::from_secs(2);
    let nodes: Vec<Node> = (0..3)
        .map(|_| {
            let mut o = options(&cluster);
            o.failure_timeout = timeout;
            o.faults = Some(faults.clone());
            Node::start(o).unwrap()
        })
        .collect();
    let refs: Vec<&Node> = nodes.iter().collect();
    eventually("3 members, all voters", || {
        same_members(&refs, 3) && refs.iter().all(|n| n.voters().len() == 3)
    });
    let leader = leader_index(&nodes);
    let follower = (leader + 1) % 3;
    let addr = |i: usize| nodes[i].address().parse().unwrap();
    let others: Vec<_> = (0..3).filter(|i| *i != follower).map(addr).collect();
    faults.isolate(addr(follower), &others);
    let cut = Instant::now();
    let survivors: Vec<&Node> = (0..3)
        .filter(|i| *i != follower)
        .map(|i| &nodes[i])
        .collect();
    eventually("the isolated node removed", || same_members(&survivors, 2));
    // The timeout runs from the node's last message, which may precede the cut by up to one
    // heartbeat (2 ticks of 25 ms).
    let last_heard_at_most_before_cut = Duration::from_millis(50);
    assert!(
        cut.elapsed() + last_heard_at_most_before_cut >= timeout,
        "declared dead {:?} after the cut, before the failure timeout",
        cut.elapsed()
    );
}

#[test]
fn a_node_whose_loop_panics_fails_every_request_at_once_and_is_declared_dead() {
    let cluster = cluster_name("panic");
    let faults = Faults::new();
    let stopped = Arc::new(Mutex::new(None::<String>));
    let nodes: Vec<Node> = (0..3)
        .map(|i| {
            let mut o = options(&cluster);
            o.faults = Some(faults.clone());
            if i == 2 {
                let stopped = Arc::clone(&stopped);
                o.on_stopped = Some(Arc::new(move |why| *stopped.lock().unwrap() = Some(why)));
            }
            Node::start(o).expect("node starts")
        })
        .collect();
    eventually("three members", || {
        same_members(&[&nodes[0], &nodes[1], &nodes[2]], 3)
    });
    let victim = &nodes[2];
    // A request that waits: a lock another node holds.
    let held = nodes[0].call(Message::LockAcquireRequest {
        lock_name: "held".into(),
    });
    assert!(matches!(
        held,
        Message::LockAcquireResponse { granted: true, .. }
    ));
    let (tx, waiting) = std::sync::mpsc::channel();
    victim
        .request(
            Message::LockAcquireRequest {
                lock_name: "held".into(),
            },
            Box::new(move |m| {
                let _ = tx.send(m);
            }),
        )
        .unwrap();

    faults.panic_loop(victim.address().parse().unwrap());
    // Any work wakes the loop into its next turn.
    let _ = victim.request(Message::NodeListRequest {}, Box::new(|_| {}));
    let answer = waiting
        .recv_timeout(Duration::from_secs(5))
        .expect("the waiting request is answered");
    match answer {
        Message::ErrorResponse { code, message } => {
            assert_eq!(code, error_code::CLOSED);
            assert!(message.contains("injected fault"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let later = victim
        .request(Message::NodeListRequest {}, Box::new(|_| {}))
        .expect_err("a stopped node refuses at once");
    assert!(later.to_string().contains("panic"), "{later}");
    assert!(matches!(
        victim.call(Message::NodeListRequest {}),
        Message::ErrorResponse { .. }
    ));
    eventually("the stop to be reported", || {
        stopped.lock().unwrap().is_some()
    });
    assert!(victim.leave().is_err(), "a stopped node cannot leave");

    eventually("the others to declare it dead", || {
        nodes[0].members().len() == 2 && nodes[1].members().len() == 2
    });
    assert!(matches!(
        nodes[1].call(Message::CounterAddAndGetRequest {
            counter_name: "c".into(),
            delta: 1
        }),
        Message::CounterAddAndGetResponse { value: 1 }
    ));
}

/// A node cut off past the failure timeout is declared dead: its lock goes to the waiter and its
/// registration goes. When the network heals it rejoins by itself under a new raft id, tells its
/// listener so, writes its registration back, and takes writes again; the others saw it leave
/// and come back.
#[test]
fn a_node_removed_while_cut_off_rejoins_once_the_network_heals() {
    let cluster = cluster_name("rejoin");
    let faults = Faults::new();
    let events = Arc::new(Mutex::new(Vec::new()));
    let nodes: Vec<Node> = (0..3)
        .map(|i| {
            let mut o = options(&cluster);
            o.faults = Some(faults.clone());
            if i == 0 {
                let seen = Arc::clone(&events);
                o.on_event = Some(Arc::new(move |e| seen.lock().unwrap().push(e)));
            }
            Node::start(o).expect("node starts")
        })
        .collect();
    let refs: Vec<&Node> = nodes.iter().collect();
    eventually("3 members, all voters", || {
        same_members(&refs, 3) && refs.iter().all(|n| n.voters().len() == 3)
    });
    let victim = (leader_index(&nodes) + 1) % 3;
    let victim_id = nodes[victim].node_id().to_string();
    let waiter = holder_with_lock_and_registration(&nodes, victim);
    let raft_id = nodes[victim].raft_id();
    let addr = |i: usize| nodes[i].address().parse().unwrap();
    let others: Vec<_> = (0..3).filter(|i| *i != victim).map(addr).collect();
    faults.isolate(addr(victim), &others);
    let survivors: Vec<&Node> = (0..3).filter(|i| *i != victim).map(|i| &nodes[i]).collect();
    eventually("the cut-off node removed", || same_members(&survivors, 2));
    let waited = waiter.recv_timeout(Duration::from_secs(10));
    assert!(
        matches!(
            waited,
            Ok(Message::LockAcquireTimeoutResponse { granted: true, .. })
        ),
        "the removed node's lock went to the waiter: {waited:?}"
    );
    let reader = survivors[0];
    assert_eq!(
        registrations(reader),
        Message::GetRegistrationsResponse {
            registrations: vec![]
        }
    );

    faults.heal();
    let refs: Vec<&Node> = nodes.iter().collect();
    eventually("the node back among the members", || same_members(&refs, 3));
    assert!(nodes[victim].raft_id() > raft_id, "a new raft id");
    eventually(
        "its registration written back",
        || matches!(registrations(reader), Message::GetRegistrationsResponse { registrations } if registrations.len() == 1),
    );
    assert_eq!(add_eventually(&nodes[victim], "c"), 1);
    let seen = events.lock().unwrap().clone();
    let left = seen
        .iter()
        .position(|e| matches!(e, Event::NodeLeft { node_id } if *node_id == victim_id));
    let back = seen
        .iter()
        .rposition(|e| matches!(e, Event::NodeAdded { node_id } if *node_id == victim_id));
    assert!(
        matches!((left, back), (Some(l), Some(b)) if l < b),
        "the others saw it leave, then come back: {seen:?}"
    );
    assert_eq!(
        nodes[victim].call(Message::LockReleaseRequest {
            lock_name: "l".into()
        }),
        Message::LockReleaseResponse { released: false },
        "the lock it held before is not its own any more"
    );
}
