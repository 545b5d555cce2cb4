//! The failure and formation rounds of the cluster benchmark: how long writes stop when the
//! leader dies, how long a dead follower stays listed, and how long 3 nodes take to form. Each
//! round starts a fresh cluster.

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use vertx_cluster::node::{Faults, Node, NodeOptions};

use super::{
    is_write_answer, met, ms, options, start_cluster, unique_cluster_name, wait_for, write_request,
    Plan, KILL_TO_WRITE_GOAL,
};

/// Prints the rounds' figures: leader kills at two failure timeouts, follower deaths (closed or
/// cut off), and formation (nodes started together or one by one).
pub fn report(plan: &Plan) {
    println!(
        "\n## Failures and formation (each round a fresh cluster; tick {} ms)",
        NodeOptions::new("").tick.as_millis()
    );
    println!(
        "\nleader killed (close()) -> first write accepted by a survivor, {} rounds:",
        plan.kill_rounds
    );
    let default_timeout = NodeOptions::new("").failure_timeout;
    for timeout in [default_timeout, Duration::from_secs(1)] {
        let times: Vec<Duration> = (0..plan.kill_rounds)
            .map(|_| leader_kill_to_write(timeout))
            .collect();
        let s = Summary::of(&times);
        println!(
            "  failure timeout {:>4.0} s   median {:>6.0} ms  max {:>6.0} ms   goal < {:.1} s \
                 (every round): {}",
            timeout.as_secs_f64(),
            ms(s.median),
            ms(s.max),
            KILL_TO_WRITE_GOAL.as_secs_f64(),
            met(s.max < KILL_TO_WRITE_GOAL)
        );
    }

    println!(
        "\nfollower dies -> gone from both survivors' member lists, {} rounds:",
        plan.removal_rounds
    );
    let deaths = [
        (
            "closed, its port refuses",
            Death::Closed,
            Duration::from_secs(20),
        ),
        (
            "cut off by the network",
            Death::Isolated,
            Duration::from_secs(1),
        ),
        (
            "cut off by the network",
            Death::Isolated,
            Duration::from_secs(2),
        ),
    ];
    for (how, death, timeout) in deaths {
        let times: Vec<Duration> = (0..plan.removal_rounds)
            .map(|_| death_to_removal(timeout, death))
            .collect();
        let s = Summary::of(&times);
        let note = match death {
            Death::Closed => "(declared dead 0.25 s after the first refused connect)".to_owned(),
            Death::Isolated => format!(
                "(median {:+.0} ms past the timeout)",
                ms(s.median) - ms(timeout)
            ),
        };
        println!(
                "  {how:<25} failure timeout {:>4.0} s   median {:>6.0} ms  min {:>6.0} ms  max {:>6.0} ms   {note}",
                timeout.as_secs_f64(),
                ms(s.median),
                ms(s.min),
                ms(s.max),
            );
    }

    println!(
        "\ncluster formation, start -> all 3 nodes list 3 members, {} rounds:",
        plan.formation_rounds
    );
    for (how, together) in [("started together", true), ("started one by one", false)] {
        let times: Vec<Duration> = (0..plan.formation_rounds)
            .map(|_| formation(together))
            .collect();
        let s = Summary::of(&times);
        println!(
            "  {how:<18}  median {:>6.0} ms  min {:>6.0} ms  max {:>6.0} ms   \
                 (design: a few hundred ms at most)",
            ms(s.median),
            ms(s.min),
            ms(s.max)
        );
    }
}

struct Summary {
    median: Duration,
    min: Duration,
    max: Duration,
}

impl Summary {
    fn of(times: &[Duration]) -> Summary {
        let mut sorted = times.to_vec();
        sorted.sort();
        Summary {
            median: sorted[sorted.len() / 2],
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        }
    }
}

/// Kills the leader of a fresh cluster and times the first write a survivor accepts after it.
fn leader_kill_to_write(failure_timeout: Duration) -> Duration {
    let mut nodes = start_cluster("leader-kill", failure_timeout, None);
    let leader = nodes.iter().position(Node::is_leader).expect("a leader");
    let dead = nodes.remove(leader);
    let killed = Instant::now();
    dead.close();
    loop {
        if is_write_answer(&nodes[0].call(write_request(0))) {
            return killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "no write accepted 30 s after the leader died"
        );
        // Errors (leader changed, no leader yet) come back at once; do not spin on them.
        thread::sleep(Duration::from_millis(1));
    }
}

/// How a follower dies in [`death_to_removal`].
#[derive(Clone, Copy)]
enum Death {
    /// `close()`: its port refuses connections from then on.
    Closed,
    /// Cut off by the network: frames to and from it are dropped, nothing is refused.
    Isolated,
}

/// A follower of a fresh cluster dies; times its removal from the survivors' member lists.
fn death_to_removal(failure_timeout: Duration, death: Death) -> Duration {
    let faults = Faults::new();
    let mut nodes = start_cluster("removal", failure_timeout, Some(&faults));
    let follower = nodes
        .iter()
        .position(|n| !n.is_leader())
        .expect("a follower");
    let dead = nodes.remove(follower);
    let dead_id = dead.node_id().to_owned();
    let killed = Instant::now();
    match death {
        Death::Closed => dead.close(),
        Death::Isolated => {
            let others: Vec<SocketAddr> =
                nodes.iter().map(|n| n.address().parse().unwrap()).collect();
            faults.isolate(dead.address().parse().unwrap(), &others);
        }
    }
    wait_for("the dead node's removal", || {
        nodes.iter().all(|n| {
            let members = n.members();
            members.len() == 2 && !members.contains(&dead_id)
        })
    });
    let took = killed.elapsed();
    dead.close();
    took
}

/// Starts 3 nodes, together (each on its own thread) or one after the other, and times until
/// all of them list 3 members.
fn formation(together: bool) -> Duration {
    let cluster = unique_cluster_name("formation");
    let timeout = NodeOptions::new("").failure_timeout;
    let started = Instant::now();
    let nodes: Vec<Node> = if together {
        let starting: Vec<_> = (0..3)
            .map(|_| {
                let o = options(&cluster, timeout);
                thread::spawn(move || Node::start(o).expect("a node starts"))
            })
            .collect();
        starting.into_iter().map(|h| h.join().unwrap()).collect()
    } else {
        (0..3)
            .map(|_| Node::start(options(&cluster, timeout)).expect("a node starts"))
            .collect()
    };
    wait_for("3 members everywhere", || {
        nodes.iter().all(|n| n.members().len() == 3)
    });
    started.elapsed()
}
