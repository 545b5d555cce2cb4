//! Clusters form, nodes join at once or right after a member leaves, and a graceful leave
//! releases what the member held.

use std::sync::{Arc, Mutex};

use vertx_cluster::fsm::Event;

use super::*;

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
    lock_and_registration_passed_on(&waiter, &nodes);
    eventually("the departure reported", || {
        events.lock().unwrap().contains(&Event::NodeLeft {
            node_id: leaver_id.clone(),
        })
    });
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
