//! Members die, are cut off or panic: the cluster goes on without them, and a member removed
//! while cut off comes back by itself.

use std::sync::{Arc, Mutex};

use vertx_cluster::fsm::Event;
use vertx_cluster::node::Faults;
use vertx_cluster::wire::error_code;

use super::*;

#[test]
fn writes_resume_after_the_leader_is_killed() {
    let cluster = cluster_name("leader-kill");
    let mut nodes = start_many(&cluster, 3);
    // The leader may die only once all three are voters: with two voters, the survivor alone
    // is no majority (README, "Guarantees, in plain words").
    three_voters(&nodes);
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
    let CutOff {
        nodes,
        faults,
        leader,
        follower,
    } = a_follower_cut_off(&cluster, |o| {
        o.failure_timeout = Duration::from_secs(30);
        o.compact_after_entries = 50;
    });

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

/// A holder cut off from the others releases its lock: the release fails (timed out), and its
/// caller cannot release again (`Lock.release()` returns nothing). Once the network heals, the
/// node frees the lock itself, and a waiter gets it; nobody was declared dead.
#[test]
fn a_release_that_failed_in_a_partition_frees_the_lock_after_healing() {
    let cluster = cluster_name("failed-release");
    let CutOff {
        nodes,
        faults,
        leader,
        follower,
    } = a_follower_cut_off(&cluster, |o| {
        o.failure_timeout = Duration::from_secs(60);
        o.request_timeout = Duration::from_secs(2);
    });
    faults.heal();
    let acquire = || Message::LockAcquireRequest {
        lock_name: "l".into(),
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match nodes[follower].call(acquire()) {
            Message::LockAcquireResponse { granted: true, .. } => break,
            other => assert!(Instant::now() < deadline, "not granted: {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cut_off(&nodes, &faults, follower);
    let release = nodes[follower].call(Message::LockReleaseRequest {
        lock_name: "l".into(),
    });
    assert!(
        matches!(release, Message::ErrorResponse { .. }),
        "the release failed: {release:?}"
    );
    let waiter = nodes[leader].call(Message::LockAcquireTimeoutRequest {
        lock_name: "l".into(),
        timeout_ms: 0,
    });
    assert!(
        matches!(
            waiter,
            Message::LockAcquireTimeoutResponse { granted: false, .. }
        ),
        "still held across the partition: {waiter:?}"
    );

    let (tx, rx) = std::sync::mpsc::channel();
    nodes[leader]
        .request(
            Message::LockAcquireTimeoutRequest {
                lock_name: "l".into(),
                timeout_ms: 30_000,
            },
            Box::new(move |m| {
                let _ = tx.send(m);
            }),
        )
        .expect("the node takes requests");
    faults.heal();
    let granted = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("the waiter is answered");
    assert!(
        matches!(
            granted,
            Message::LockAcquireTimeoutResponse { granted: true, .. }
        ),
        "{granted:?}"
    );
    let refs: Vec<&Node> = nodes.iter().collect();
    assert!(same_members(&refs, 3), "nobody was declared dead");
}

#[test]
fn a_node_declared_dead_loses_its_locks_and_registrations() {
    let cluster = cluster_name("dead");
    let mut nodes = start_many(&cluster, 3);
    let waiter = holder_with_lock_and_registration(&nodes, 2);
    nodes.pop().unwrap().close();
    lock_and_registration_passed_on(&waiter, &nodes);
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
    three_voters(&nodes);
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
    let timeout = Duration::from_secs(2);
    let CutOff {
        nodes, follower, ..
    } = a_follower_cut_off(&cluster, |o| o.failure_timeout = timeout);
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
    three_voters(&nodes);
    let victim = (leader_index(&nodes) + 1) % 3;
    let victim_id = nodes[victim].node_id().to_string();
    let waiter = holder_with_lock_and_registration(&nodes, victim);
    let raft_id = nodes[victim].raft_id();
    cut_off(&nodes, &faults, victim);
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

/// Three voters, one of the followers cut off from the others.
struct CutOff {
    nodes: Vec<Node>,
    faults: Faults,
    leader: usize,
    follower: usize,
}

/// Three voters started with `configure` applied to their options, and one of the followers cut
/// off from the others.
fn a_follower_cut_off(cluster: &str, configure: impl Fn(&mut NodeOptions)) -> CutOff {
    let faults = Faults::new();
    let nodes: Vec<Node> = (0..3)
        .map(|_| {
            let mut o = options(cluster);
            o.faults = Some(faults.clone());
            configure(&mut o);
            Node::start(o).unwrap()
        })
        .collect();
    three_voters(&nodes);
    let leader = leader_index(&nodes);
    let follower = (leader + 1) % 3;
    cut_off(&nodes, &faults, follower);
    CutOff {
        nodes,
        faults,
        leader,
        follower,
    }
}

/// Cuts node `i` off from the other two: frames between them are dropped, nothing is refused.
fn cut_off(nodes: &[Node], faults: &Faults, i: usize) {
    let addr = |i: usize| nodes[i].address().parse().unwrap();
    let others: Vec<_> = (0..3).filter(|other| *other != i).map(addr).collect();
    faults.isolate(addr(i), &others);
}
