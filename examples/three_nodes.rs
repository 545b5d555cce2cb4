//! Three cluster nodes in one process, talking over loopback TCP: a replicated map, a fair lock
//! with fencing tokens, a counter, and a leader that dies while the other two carry on.
//!
//! Run: `cargo run --example three_nodes`. Every step prints what happened; a step that does not
//! behave as described ends the program with an error (non-zero exit).

use std::error::Error;
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vertx_cluster::builder;
use vertx_cluster::node::Node;
use vertx_cluster::wire::Message;

type Outcome<T = ()> = Result<T, Box<dyn Error>>;

/// A member that stays silent this long is declared dead and dropped from the member list.
const FAILURE_TIMEOUT: Duration = Duration::from_secs(1);
/// The secret the three nodes authenticate each other with (seeds need one; a real cluster
/// reads it from its configuration, never from the source).
const SECRET: &str = "three-nodes example secret, not for production";

fn main() -> Outcome {
    let started = Instant::now();
    let cluster = format!(
        "three-nodes-{}-{}",
        std::process::id(),
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis()
    );
    let addresses = free_loopback_addresses(3)?;
    println!("Starting 3 nodes of cluster {cluster:?} at {addresses:?}");

    let nodes = start_nodes(&cluster, &addresses)?;
    wait_for("all three nodes to list 3 members", || {
        nodes.iter().all(|n| n.members().len() == 3)
    })?;
    println!(
        "1. The cluster formed in {:.2} s. Members, in join order: {:?}",
        started.elapsed().as_secs_f64(),
        nodes[0].members()
    );
    let leader = wait_for_leader(&nodes)?;
    println!("   {} is the leader.", name(&nodes[leader]));

    map_put_and_get(&nodes[0], &nodes[1])?;
    lock_handover(&nodes[1], &nodes[2])?;
    counter_from_everyone(&nodes)?;
    leader_dies(nodes)?;

    println!(
        "Done in {:.1} s: every step behaved.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Addresses that were free a moment ago: bound to port 0, then released for the nodes to take.
fn free_loopback_addresses(n: usize) -> Outcome<Vec<String>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()?;
    let addresses = listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(addresses)
}

/// Starts one node per address, all at once: each returns once it is a member, and the node
/// with the smallest seed address is the one that founds the cluster, so they start together.
fn start_nodes(cluster: &str, addresses: &[String]) -> Outcome<Vec<Node>> {
    let starting: Vec<_> = addresses
        .iter()
        .enumerate()
        .map(|(i, address)| {
            let node = builder()
                .node_id(i as u64 + 1)
                .address(address.clone())
                .cluster_name(cluster)
                .secret(SECRET)
                .seeds(addresses.to_vec())
                .timeout(FAILURE_TIMEOUT);
            thread::spawn(move || node.start_node())
        })
        .collect();
    let mut nodes = Vec::new();
    for handle in starting {
        let node = handle
            .join()
            .map_err(|_| "a node's start-up panicked")?
            .map_err(|e| format!("a node did not start: {e}"))?;
        nodes.push(node);
    }
    Ok(nodes)
}

fn name(node: &Node) -> &str {
    node.node_id()
}

fn map_put_and_get(writer: &Node, reader: &Node) -> Outcome {
    let put = writer.call(Message::MapPutRequest {
        map_name: "greetings".into(),
        key: b"hello".to_vec(),
        value: b"world".to_vec(),
    });
    expect(&put, matches!(put, Message::MapPutResponse {}), "map put")?;
    let got = reader.call(Message::MapGetRequest {
        map_name: "greetings".into(),
        key: b"hello".to_vec(),
    });
    let Message::MapGetResponse { value: Some(value) } = &got else {
        return Err(format!("map get on {} answered {got:?}", name(reader)).into());
    };
    if value != b"world" {
        return Err(format!("map get on {} read {value:?}, not \"world\"", name(reader)).into());
    }
    println!(
        "2. {} put greetings[hello] = world; {} reads it back: {}",
        name(writer),
        name(reader),
        String::from_utf8_lossy(value)
    );
    Ok(())
}

fn lock_handover(first: &Node, second: &Node) -> Outcome {
    let lock = || "orders-lock".to_string();
    let acquired = first.call(Message::LockAcquireRequest { lock_name: lock() });
    let Message::LockAcquireResponse {
        granted: true,
        fencing_token: first_token,
    } = acquired
    else {
        return Err(format!("{} did not get the free lock: {acquired:?}", name(first)).into());
    };
    println!(
        "3. {} holds orders-lock (fencing token {first_token}).",
        name(first)
    );

    let (granted_tx, granted_rx) = mpsc::channel();
    second.request(
        Message::LockAcquireRequest { lock_name: lock() },
        Box::new(move |answer| {
            let _ = granted_tx.send(answer);
        }),
    )?;
    match granted_rx.recv_timeout(Duration::from_millis(300)) {
        Err(mpsc::RecvTimeoutError::Timeout) => println!(
            "   {} asks for it too and waits (still waiting after 300 ms).",
            name(second)
        ),
        Ok(answer) => {
            return Err(format!(
                "{} should wait for the held lock, but was answered {answer:?}",
                name(second)
            )
            .into())
        }
        Err(e) => return Err(format!("the waiting acquire was dropped: {e}").into()),
    }

    let releasing = Instant::now();
    let released = first.call(Message::LockReleaseRequest { lock_name: lock() });
    expect(
        &released,
        matches!(released, Message::LockReleaseResponse { released: true }),
        "lock release",
    )?;
    let answer = granted_rx
        .recv_timeout(Duration::from_secs(5))
        .map_err(|_| format!("{} was not granted the released lock", name(second)))?;
    let granted_after = releasing.elapsed();
    let Message::LockAcquireResponse {
        granted: true,
        fencing_token: second_token,
    } = answer
    else {
        return Err(format!("{} was answered {answer:?}", name(second)).into());
    };
    if second_token <= first_token {
        return Err(
            format!("fencing tokens must grow: {second_token} came after {first_token}").into(),
        );
    }
    println!(
        "   {} releases it; {} is granted it {:.1} ms after the release was sent (fencing token \
         {second_token}, larger than {first_token}: a storage service can refuse the old \
         holder's late writes).",
        name(first),
        name(second),
        granted_after.as_secs_f64() * 1e3
    );
    let released = second.call(Message::LockReleaseRequest { lock_name: lock() });
    expect(
        &released,
        matches!(released, Message::LockReleaseResponse { released: true }),
        "second lock release",
    )
}

fn counter_from_everyone(nodes: &[Node]) -> Outcome {
    const PER_NODE: i64 = 100;
    thread::scope(|scope| -> Outcome {
        let adders: Vec<_> = nodes
            .iter()
            .map(|node| {
                scope.spawn(move || -> Result<(), String> {
                    for _ in 0..PER_NODE {
                        let answer = node.call(Message::CounterAddAndGetRequest {
                            counter_name: "visits".into(),
                            delta: 1,
                        });
                        if !matches!(answer, Message::CounterAddAndGetResponse { .. }) {
                            return Err(format!("add on {} answered {answer:?}", name(node)));
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for adder in adders {
            adder.join().map_err(|_| "an adder panicked")??;
        }
        Ok(())
    })?;
    let expected = PER_NODE * nodes.len() as i64;
    let values: Vec<i64> = nodes
        .iter()
        .map(|n| counter_value(n, "visits"))
        .collect::<Outcome<_>>()?;
    if values.iter().any(|v| *v != expected) {
        return Err(format!("the nodes read the counter as {values:?}, not {expected}").into());
    }
    println!(
        "4. All three nodes added 1 to counter visits {PER_NODE} times, at the same time; \
         each node now reads {expected}."
    );
    Ok(())
}

fn counter_value(node: &Node, counter: &str) -> Outcome<i64> {
    match node.call(Message::CounterGetRequest {
        counter_name: counter.into(),
    }) {
        Message::CounterGetResponse { value } => Ok(value),
        other => Err(format!("counter get on {} answered {other:?}", name(node)).into()),
    }
}

fn leader_dies(mut nodes: Vec<Node>) -> Outcome {
    let leader = wait_for_leader(&nodes)?;
    let dead = nodes.remove(leader);
    let dead_id = dead.node_id().to_string();
    println!("5. Killing the leader, {dead_id}, without a goodbye.");
    let killed = Instant::now();
    dead.close();

    let mut value = None;
    wait_for("a survivor to accept a write", || {
        match nodes[0].call(Message::CounterAddAndGetRequest {
            counter_name: "visits".into(),
            delta: 1,
        }) {
            Message::CounterAddAndGetResponse { value: v } => {
                value = Some(v);
                true
            }
            _ => false,
        }
    })?;
    let write_after = killed.elapsed();
    let new_leader = wait_for_leader(&nodes)?;
    println!(
        "   {} was elected leader; {} wrote visits = {} {:.2} s after the kill.",
        name(&nodes[new_leader]),
        name(&nodes[0]),
        value.unwrap_or_default(),
        write_after.as_secs_f64()
    );
    let read = counter_value(&nodes[1], "visits")?;
    if Some(read) != value {
        return Err(format!(
            "{} read visits = {read}, not the {value:?} just written",
            name(&nodes[1])
        )
        .into());
    }
    println!("   {} reads visits = {read}.", name(&nodes[1]));

    wait_for("the dead leader to leave the member list", || {
        nodes
            .iter()
            .all(|n| n.members().len() == 2 && !n.members().contains(&dead_id))
    })?;
    println!(
        "6. {:.2} s after the kill (failure timeout {:.0} s) the survivors declared {dead_id} dead; \
         members now: {:?}",
        killed.elapsed().as_secs_f64(),
        FAILURE_TIMEOUT.as_secs_f64(),
        nodes[0].members()
    );
    Ok(())
}

fn wait_for_leader(nodes: &[Node]) -> Outcome<usize> {
    let mut found = None;
    wait_for("a leader", || {
        found = nodes.iter().position(Node::is_leader);
        found.is_some()
    })?;
    Ok(found.expect("found"))
}

/// Polls `check` until it holds; an error naming `what` after 10 s.
fn wait_for(what: &str, mut check: impl FnMut() -> bool) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        if Instant::now() >= deadline {
            return Err(format!("timed out waiting for {what}").into());
        }
        thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

fn expect(answer: &Message, ok: bool, what: &str) -> Outcome {
    if ok {
        Ok(())
    } else {
        Err(format!("{what} answered {answer:?}").into())
    }
}
