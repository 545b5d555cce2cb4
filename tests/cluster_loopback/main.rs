//! Multi-node clusters over real loopback sockets, several nodes per test process, each test
//! with a cluster name of its own. Failure timeouts are shortened so deaths are detected fast.
//! `membership`: clusters form, members join and leave; `failures`: nodes die, are cut off,
//! panic, and come back.

mod failures;
mod membership;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use vertx_cluster::node::{Node, NodeOptions};
use vertx_cluster::wire::{Message, RegistrationInfo};

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

/// After the holder set up by `holder_with_lock_and_registration` is gone: the waiter was granted
/// the lock, the registration went, and the two nodes of `nodes` list only each other.
fn lock_and_registration_passed_on(waiter: &std::sync::mpsc::Receiver<Message>, nodes: &[Node]) {
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

/// Waits until all of `nodes` (three) list the same 3 members, all of them voters.
fn three_voters(nodes: &[Node]) {
    let refs: Vec<&Node> = nodes.iter().collect();
    eventually("3 members, all voters", || {
        same_members(&refs, 3) && refs.iter().all(|n| n.voters().len() == 3)
    });
}

fn registrations(node: &Node) -> Message {
    node.call(Message::GetRegistrationsRequest {
        address: "svc".into(),
    })
}
