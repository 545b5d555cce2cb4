//! A replicated cluster of 3 nodes in this one process, over loopback TCP: write and read rates
//! with many requests in flight, write latency with one in flight, how long writes stop when the
//! leader dies, how long a dead node stays in the member list (closed, so its port refuses
//! connections, or cut off by the network, so only the failure timeout finds it), and how long a
//! cluster takes to form. Prints figures next to the goals; asserts nothing about them.
//!
//! Run: `cargo bench --bench cluster` (under a minute), or `cargo bench --bench cluster --
//! --quick` for a smoke run of ~15 s with shorter measurements. Every cluster uses local discovery
//! and a cluster name of its own, so runs never see each other's nodes.
//!
//! Requests go through the public API only: `Node::request` with a callback (many in flight) or
//! `Node::call` (one at a time). With many in flight, several submitting threads each keep a
//! window of requests outstanding and send a new one as each answer arrives.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vertx_cluster::node::{DiscoveryMode, Faults, Node, NodeOptions};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/failures.rs"]
mod failures;

#[global_allocator]
static ALLOCATOR: counting_alloc::CountingAlloc = counting_alloc::CountingAlloc;
use vertx_cluster::wire::Message;

const SUBMITTERS: usize = 4;
const WINDOW_PER_SUBMITTER: usize = 64;
/// The write rate is also measured with this many requests per submitter in flight: with more
/// waiting, the loops take bigger batches per turn.
const DEEP_WINDOW_PER_SUBMITTER: usize = 256;
const KEYS: u64 = 65_536;
const COUNTERS: u64 = 16;
const VALUE_BYTES: usize = 64;

const WRITES_GOAL: f64 = 300_000.0;
const P50_GOAL_US: f64 = 60.0;
const P99_GOAL_US: f64 = 150.0;
const KILL_TO_WRITE_GOAL: Duration = Duration::from_millis(1_500);

/// How long each measurement runs.
struct Plan {
    warmup: Duration,
    rate_window: Duration,
    latency_samples: usize,
    kill_rounds: usize,
    removal_rounds: usize,
    formation_rounds: usize,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            warmup: Duration::from_millis(500),
            rate_window: Duration::from_secs(3),
            latency_samples: 20_000,
            kill_rounds: 5,
            removal_rounds: 3,
            formation_rounds: 5,
        }
    }

    fn quick() -> Plan {
        Plan {
            warmup: Duration::from_millis(200),
            rate_window: Duration::from_millis(800),
            latency_samples: 3_000,
            kill_rounds: 2,
            removal_rounds: 1,
            formation_rounds: 2,
        }
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let plan = if quick { Plan::quick() } else { Plan::full() };
    let started = Instant::now();
    print_header(quick);

    let nodes = start_cluster("steady", NodeOptions::new("").failure_timeout, None);
    let (leader, follower) = leader_and_follower(&nodes);
    println!(
        "\n## Steady state: 3 nodes, {SUBMITTERS} submitting threads x {WINDOW_PER_SUBMITTER} \
         requests in flight ({} total) for rates, and x {DEEP_WINDOW_PER_SUBMITTER} ({}) for \
         writes too",
        SUBMITTERS * WINDOW_PER_SUBMITTER,
        SUBMITTERS * DEEP_WINDOW_PER_SUBMITTER
    );

    println!(
        "\nreplicated writes (counter add / map put of {VALUE_BYTES}-byte values, alternating):"
    );
    for window in [WINDOW_PER_SUBMITTER, DEEP_WINDOW_PER_SUBMITTER] {
        for (role, node) in [("leader", leader), ("follower", follower)] {
            let rate = measure_rate(&nodes, node, &plan, window, write_request, is_write_answer);
            println!(
            "  to the {role:<8}  {:>4} in flight  {:>9.0} writes/s{}   ({:.2} frames sent, {:.1} allocations per write)   goal >= {:.0}k/s: {}{}",
            SUBMITTERS * window,
            rate.per_second,
            rate.errors_note(),
            rate.frames_per_request,
            rate.allocations_per_request,
            WRITES_GOAL / 1e3,
            met(rate.per_second >= WRITES_GOAL),
            moved_note(leader)
        );
        }
    }

    println!(
        "\nwrite latency, one request in flight ({} sequential calls):",
        plan.latency_samples
    );
    for (role, node) in [("leader", leader), ("follower", follower)] {
        let l = measure_latency(node, plan.latency_samples);
        println!(
            "  to the {role:<8}  p50 {:>6.1} us  p99 {:>6.1} us  p99.9 {:>7.1} us  max {:>8.1} us   \
             goal p50 <= {P50_GOAL_US:.0} / p99 <= {P99_GOAL_US:.0} us: {}{}",
            l.p50,
            l.p99,
            l.p999,
            l.max,
            met(l.p50 <= P50_GOAL_US && l.p99 <= P99_GOAL_US),
            moved_note(leader)
        );
    }

    println!("\nlinearizable reads (counter get / map get, alternating, ReadIndex batches):");
    for (role, node) in [("follower", follower), ("leader", leader)] {
        let rate = measure_rate(
            &nodes,
            node,
            &plan,
            WINDOW_PER_SUBMITTER,
            read_request,
            is_read_answer,
        );
        println!(
            "  on the {role:<8}  {:>9.0} reads/s{}   ({:.3} frames sent, {:.1} allocations per read){}",
            rate.per_second,
            rate.errors_note(),
            rate.frames_per_request,
            rate.allocations_per_request,
            moved_note(leader)
        );
    }
    drop(nodes);

    failures::report(&plan);

    println!(
        "\nwhole run: {:.1} s; load average {} at the end",
        started.elapsed().as_secs_f64(),
        load_average()
    );
}

fn print_header(quick: bool) {
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let load = load_average();
    println!("# vertx-cluster: 3-node cluster over loopback, one process");
    println!(
        "machine: {cpus} CPUs (nproc), {model}; load average {load} at start; {} run{}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        if quick {
            ", --quick (short measurements)"
        } else {
            ""
        }
    );
    println!("goals: writes >= 300k/s; write latency p50 <= 60 us, p99 <= 150 us; leader kill -> write < 1.5 s");
}

/// A warning when the node measured as the leader lost the leadership (a stall long enough for
/// an election): the leader and follower rows are then mixed up.
fn moved_note(leader: &Node) -> &'static str {
    if leader.is_leader() {
        ""
    } else {
        "   [the leader changed during the measurement]"
    }
}

/// The 1-minute load average: other work on the machine skews every figure here, and this says
/// how much there was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT MET"
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ---- clusters ----

fn unique_cluster_name(tag: &str) -> String {
    static ROUND: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "bench-{tag}-{}-{nanos}-{}",
        std::process::id(),
        ROUND.fetch_add(1, Ordering::Relaxed)
    )
}

fn options(cluster: &str, failure_timeout: Duration) -> NodeOptions {
    let mut o = NodeOptions::new(cluster);
    o.discovery = DiscoveryMode::Local;
    o.failure_timeout = failure_timeout;
    o
}

/// Starts 3 nodes one after the other and waits until they agree on 3 members, 3 voters and a
/// leader that has committed a write.
fn start_cluster(tag: &str, failure_timeout: Duration, faults: Option<&Faults>) -> Vec<Node> {
    let cluster = unique_cluster_name(tag);
    let nodes: Vec<Node> = (0..3)
        .map(|_| {
            let mut o = options(&cluster, failure_timeout);
            o.faults = faults.cloned();
            Node::start(o).expect("a node starts")
        })
        .collect();
    wait_for("3 members and 3 voters everywhere", || {
        nodes
            .iter()
            .all(|n| n.members().len() == 3 && n.voters().len() == 3)
    });
    wait_for("a leader", || nodes.iter().any(Node::is_leader));
    wait_for("a first write", || {
        is_write_answer(&nodes[0].call(write_request(0)))
    });
    nodes
}

fn leader_and_follower(nodes: &[Node]) -> (&Node, &Node) {
    let leader = nodes.iter().position(Node::is_leader).expect("a leader");
    (&nodes[leader], &nodes[(leader + 1) % nodes.len()])
}

/// Polls `check` every 2 ms; panics naming `what` after 30 s.
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

// ---- requests ----

fn key(n: u64) -> Vec<u8> {
    format!("key-{:012}", n % KEYS).into_bytes()
}

fn counter_name(n: u64) -> String {
    format!("counter-{}", n % COUNTERS)
}

/// Counter adds and map puts of 64-byte values, alternating.
fn write_request(n: u64) -> Message {
    if n.is_multiple_of(2) {
        Message::CounterAddAndGetRequest {
            counter_name: counter_name(n / 2),
            delta: 1,
        }
    } else {
        Message::MapPutRequest {
            map_name: "bench".into(),
            key: key(n / 2),
            value: vec![(n & 0xff) as u8; VALUE_BYTES],
        }
    }
}

fn is_write_answer(m: &Message) -> bool {
    matches!(
        m,
        Message::CounterAddAndGetResponse { .. } | Message::MapPutResponse {}
    )
}

/// Counter gets and map gets, alternating.
fn read_request(n: u64) -> Message {
    if n.is_multiple_of(2) {
        Message::CounterGetRequest {
            counter_name: counter_name(n / 2),
        }
    } else {
        Message::MapGetRequest {
            map_name: "bench".into(),
            key: key(n / 2),
        }
    }
}

fn is_read_answer(m: &Message) -> bool {
    matches!(
        m,
        Message::CounterGetResponse { .. } | Message::MapGetResponse { .. }
    )
}

// ---- measurements ----

struct Rate {
    per_second: f64,
    errors: u64,
    first_error: Option<Message>,
    /// Frames the three transports sent per answered request, during the window.
    frames_per_request: f64,
    /// Heap allocations in the whole process (submitters and all 3 nodes) per answer.
    allocations_per_request: f64,
}

impl Rate {
    fn errors_note(&self) -> String {
        match &self.first_error {
            None => String::new(),
            Some(e) => format!("  ({} failed, first: {e:?})", self.errors),
        }
    }
}

fn frames_sent(nodes: &[Node]) -> u64 {
    nodes.iter().map(|n| n.transport_stats().frames_sent).sum()
}

/// Answers per second over `plan.rate_window`, after a warm-up, with
/// `SUBMITTERS * WINDOW_PER_SUBMITTER` requests in flight.
fn measure_rate(
    nodes: &[Node],
    node: &Node,
    plan: &Plan,
    window: usize,
    request: fn(u64) -> Message,
    expected: fn(&Message) -> bool,
) -> Rate {
    let answered = AtomicU64::new(0);
    let errors = AtomicU64::new(0);
    let first_error = std::sync::Mutex::new(None);
    let stop = AtomicBool::new(false);
    let (window_answers, elapsed, frames, allocations) = thread::scope(|scope| {
        for submitter in 0..SUBMITTERS {
            let (answered, errors, first_error, stop) = (&answered, &errors, &first_error, &stop);
            scope.spawn(move || {
                let (tx, rx) = mpsc::channel::<Option<Message>>();
                let mut n = (submitter as u64) << 40;
                let submit = |n: u64| {
                    let tx = tx.clone();
                    node.request(
                        request(n),
                        Box::new(move |answer| {
                            let failure = (!expected(&answer)).then_some(answer);
                            let _ = tx.send(failure);
                        }),
                    )
                    .expect("the node takes requests");
                };
                for _ in 0..window {
                    submit(n);
                    n += 1;
                }
                let mut outstanding = window;
                while outstanding > 0 {
                    let Ok(failure) = rx.recv_timeout(Duration::from_secs(30)) else {
                        panic!("{outstanding} requests unanswered after 30 s");
                    };
                    outstanding -= 1;
                    match failure {
                        None => {
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(e) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            first_error.lock().unwrap().get_or_insert(e);
                        }
                    }
                    if !stop.load(Ordering::Relaxed) {
                        submit(n);
                        n += 1;
                        outstanding += 1;
                    }
                }
            });
        }
        thread::sleep(plan.warmup);
        let (before, t0) = (answered.load(Ordering::Relaxed), Instant::now());
        let frames_before = frames_sent(nodes);
        let allocations_before = counting_alloc::allocations();
        thread::sleep(plan.rate_window);
        let (after, t1) = (answered.load(Ordering::Relaxed), Instant::now());
        let frames = frames_sent(nodes) - frames_before;
        let allocations = counting_alloc::allocations() - allocations_before;
        stop.store(true, Ordering::Relaxed);
        (after - before, t1 - t0, frames, allocations)
    });
    Rate {
        per_second: window_answers as f64 / elapsed.as_secs_f64(),
        errors: errors.load(Ordering::Relaxed),
        first_error: first_error.into_inner().unwrap(),
        frames_per_request: frames as f64 / window_answers.max(1) as f64,
        allocations_per_request: allocations as f64 / window_answers.max(1) as f64,
    }
}

struct Latency {
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

/// Microseconds per `call`, one at a time, after a tenth as many warm-up calls.
fn measure_latency(node: &Node, samples: usize) -> Latency {
    for n in 0..samples as u64 / 10 {
        let answer = node.call(write_request(n));
        assert!(is_write_answer(&answer), "warm-up write failed: {answer:?}");
    }
    let mut micros: Vec<f64> = (0..samples as u64)
        .map(|n| {
            let t = Instant::now();
            let answer = node.call(write_request(n));
            let took = t.elapsed();
            assert!(is_write_answer(&answer), "write failed: {answer:?}");
            took.as_secs_f64() * 1e6
        })
        .collect();
    micros.sort_by(f64::total_cmp);
    let at =
        |q: f64| micros[((q * micros.len() as f64).ceil() as usize).clamp(1, micros.len()) - 1];
    Latency {
        p50: at(0.50),
        p99: at(0.99),
        p999: at(0.999),
        max: at(1.0),
    }
}
