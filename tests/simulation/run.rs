//! One seeded random run: drive the cluster under faults with the workload, heal and settle,
//! run every check, and write the failure report (and the whole run) when a check fails.

use std::fmt::Write as _;

use crate::check_counters::check_counters;
use crate::check_locks::{check_lock_holders_are_members, check_locks};
use crate::check_registers::check_registers;
use crate::check_snapshots::check_final_snapshots;
use crate::check_ttl::{check_ttl, check_ttl_expired};
use crate::faults::Knobs;
use crate::history::{OpKind, Outcome};
use crate::rng::Rng;
use crate::workload::Workload;
use crate::world::Sim;
use crate::{COUNTERS, KEYS, SAMPLE_EVERY_TICKS, SETTLE_LIMIT_TICKS, TICK_MS, TTLS_MS};

#[derive(Default)]
pub(crate) struct Totals {
    pub(crate) runs: u64,
    pub(crate) ops: u64,
    pub(crate) acked: u64,
    pub(crate) failed: u64,
    pub(crate) holds: u64,
    pub(crate) expired: u64,
    pub(crate) partitions: u64,
    pub(crate) crashes: u64,
    pub(crate) removed: u64,
    pub(crate) rejoined: u64,
    pub(crate) pauses: u64,
    pub(crate) restarts: u64,
    pub(crate) clock_jumps: u64,
    pub(crate) duplicated: u64,
    pub(crate) snapshots: u64,
    pub(crate) messages: u64,
    pub(crate) inconclusive: usize,
}

/// One seeded run; `Err` holds the report of what went wrong.
pub(crate) fn run_seed(
    seed: u64,
    run_ticks: u64,
    nodes: Option<usize>,
    verbose: bool,
    totals: &mut Totals,
) -> Result<(), String> {
    let mut rng = Rng::new(seed, 1);
    let knobs = Knobs::random(&mut rng, run_ticks, nodes);
    let mut sim = Sim::new(seed, knobs.clone());
    sim.verbose = verbose;
    let mut w = Workload::new(seed);
    let mut failures: Vec<String> = Vec::new();
    sim.start();

    let mut chaos = false;
    for _ in 0..knobs.run_ticks {
        sim.advance();
        // Faults start once the cluster has formed: every node in, and all its voters.
        chaos = chaos
            || sim.tick > 300
            || sim.converged().is_ok_and(|l| {
                sim.members().len() == sim.nodes.len()
                    && sim.replica(&l).expect("live").voters().len() == sim.nodes.len().min(3)
            });
        if chaos {
            sim.inject_faults();
        }
        sim.retry_joins();
        w.observe(&mut sim);
        w.issue(&mut sim);
        sim.deliver();
        w.observe(&mut sim);
        if sim.tick.is_multiple_of(SAMPLE_EVERY_TICKS) {
            sim.sample_snapshots();
        }
    }

    // Heal, calm the network, let every session finish, and wait for one settled cluster.
    sim.heal();
    sim.paused_until.clear();
    sim.drop_p = 0.0;
    sim.delay_p = 0.0;
    sim.dup_p = 0.0;
    sim.note("heal everything and settle".into());
    w.wind_down = true;
    let mut settled = Err(String::new());
    for _ in 0..SETTLE_LIMIT_TICKS {
        sim.tick_once();
        w.observe(&mut sim);
        w.issue(&mut sim);
        sim.deliver();
        w.observe(&mut sim);
        if sim.tick.is_multiple_of(SAMPLE_EVERY_TICKS) {
            sim.sample_snapshots();
        }
        settled = sim.converged().and_then(|_| w.quiescent(&sim));
        if settled.is_ok() {
            break;
        }
    }
    if let Err(why) = &settled {
        failures.push(format!(
            "liveness: the cluster did not settle within {SETTLE_LIMIT_TICKS} ticks after healing: {why}"
        ));
    } else {
        sim.note("settled".into());
    }
    // The last reads go to healthy members (the leader when the cluster did not settle).
    w.final_nodes = match (&settled, sim.leader()) {
        (Err(_), Some(leader)) => vec![leader],
        _ => sim.healthy(),
    };
    for c in COUNTERS {
        if let Err(e) = w.final_read(&mut sim, OpKind::CounterGet(c)) {
            failures.push(format!("liveness: {e}"));
        }
    }
    for k in 0..KEYS {
        if let Err(e) = w.final_read(&mut sim, OpKind::Get(k)) {
            failures.push(format!("liveness: {e}"));
        }
    }
    sim.tick_n(5);
    sim.sample_snapshots();
    if settled.is_ok() {
        check_final_snapshots(&sim, &mut failures);
    }
    check_lock_holders_are_members(&sim, &mut failures);
    if settled.is_ok() {
        // Long enough for every TTL to run out and the leader to expire the entries.
        sim.tick_n(TTLS_MS[TTLS_MS.len() - 1] / TICK_MS + 50);
        check_ttl_expired(&sim, &w, &mut failures);
    }

    failures.append(&mut sim.failures);
    failures.append(&mut w.anomalies);
    check_locks(&sim, &w, &mut failures);
    check_counters(&w, &mut failures);
    check_registers(&w, &mut failures, &mut totals.inconclusive);
    check_ttl(&w, &mut failures);

    totals.runs += 1;
    totals.ops += w.ops.len() as u64;
    totals.acked += w
        .ops
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Ok(_)))
        .count() as u64;
    totals.failed += w
        .ops
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Failed(_)))
        .count() as u64;
    totals.holds += w.holds.len() as u64;
    totals.expired += w.expired;
    totals.partitions += sim.partitions as u64;
    totals.crashes += sim.crashes as u64;
    totals.removed += sim.removals.values().map(|r| r.len() as u64).sum::<u64>();
    totals.rejoined += sim.rejoins;
    totals.pauses += sim.pauses as u64;
    totals.restarts += sim.restarts as u64;
    totals.clock_jumps += sim.clock_jumps as u64;
    totals.duplicated += sim.duplicated;
    totals.snapshots += sim.nodes.values().map(|n| n.gaps.len() as u64).sum::<u64>();
    totals.messages += sim.delivered;

    if verbose {
        println!("seed {seed}: {knobs:?}");
        for (i, o) in w.ops.iter().enumerate() {
            println!("  {}", o.describe(i));
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    let mut report = format!("seed {seed} failed; knobs {knobs:?}\n");
    for f in failures.iter().take(6) {
        let _ = writeln!(report, "  - {f}");
    }
    if failures.len() > 6 {
        let _ = writeln!(report, "  ... and {} more", failures.len() - 6);
    }
    let _ = writeln!(report, "  faults:");
    for line in sim.journal.iter().rev().take(40).rev() {
        let _ = writeln!(report, "      {line}");
    }
    // Replays are exact only while no election happens, so keep the whole run.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("simulation");
    let path = dir.join(format!("seed-{seed}.txt"));
    let mut full = format!("seed {seed}: {knobs:?}\n\nfailures:\n");
    for f in &failures {
        let _ = writeln!(full, "- {f}");
    }
    let _ = writeln!(full, "\nfaults:");
    for line in &sim.journal {
        let _ = writeln!(full, "  {line}");
    }
    let _ = writeln!(
        full,
        "\noperations ([invoked .. completed] on the logical clock):"
    );
    for (i, o) in w.ops.iter().enumerate() {
        let _ = writeln!(full, "  {}", o.describe(i));
    }
    if std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, full))
        .is_ok()
    {
        let _ = writeln!(report, "  whole run: {}", path.display());
    }
    let _ = writeln!(
        report,
        "  replay: VERTX_CLUSTER_SIM_SEED={seed} cargo test --test simulation -- --nocapture"
    );
    Err(report)
}
