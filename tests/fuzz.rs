//! The seeded mutation fuzzer over the targets of `vertx_cluster::fuzz`: frame decoding, the
//! replica's receive path, snapshot decoding, the JNI settings and the secure channel's
//! handshake. One test per target; each
//! starts from the golden vectors in `tests/vectors` and a real cluster's traffic, mutates
//! (bytes, and raft messages field by field), runs every input under `catch_unwind` and counts
//! failures (a panic or a broken round trip). Failing inputs are saved under
//! `target/fuzz-failures/` and printed in hex; the test fails if there is any.
//!
//! `cargo test --features fuzzing --test fuzz` runs a short pass (what CI runs);
//! `scripts/fuzz.sh [inputs per target]` a long one in release. Settings:
//! `VERTX_CLUSTER_FUZZ_INPUTS` (per target), `VERTX_CLUSTER_FUZZ_SEED` (the first seed, 1 by
//! default: a run is reproducible), `VERTX_CLUSTER_FUZZ_REPLAY=<file>` runs one saved input (its
//! name starts with its target's), `VERTX_CLUSTER_FUZZ_WRITE_SEEDS=<dir>` only writes each
//! target's seeds to `<dir>/<target>/` (the libFuzzer corpus).

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Instant;

use vertx_cluster::fuzz::mutate::{mutate_bytes, mutate_raft, Rng};
use vertx_cluster::fuzz::{replica_outcomes, reset_replica_cluster, Target};

/// Inputs per target of a plain `cargo test` (debug build): a few seconds each.
const DEFAULT_INPUTS: u64 = 3_000;
/// The same for the handshake target, whose inputs cost milliseconds each in a debug build
/// (key exchanges).
const DEFAULT_HANDSHAKE_INPUTS: u64 = 1_000;
/// Mutated inputs kept to mutate further (one in `KEEP_ONE_IN`), at most this many.
const MAX_CORPUS: usize = 4_096;
const KEEP_ONE_IN: usize = 64;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
    })
}

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Panics inside targets are recorded for the report instead of printed one by one.
fn quiet_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let fuzzing = LAST_PANIC.with(|p| {
                let mut p = p.borrow_mut();
                if p.is_some() {
                    *p = Some(format!("{info}"));
                    true
                } else {
                    false
                }
            });
            if !fuzzing {
                default(info);
            }
        }));
    });
}

/// Runs one input; the panic's message if it panicked.
fn run_one(target: Target, input: &[u8]) -> Option<String> {
    LAST_PANIC.with(|p| *p.borrow_mut() = Some(String::new()));
    let outcome = catch_unwind(AssertUnwindSafe(|| target.run(input)));
    let message = LAST_PANIC.with(|p| p.borrow_mut().take());
    outcome.err().map(|_| message.unwrap_or_default())
}

fn mutate(target: Target, seed: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut input = seed.to_vec();
    if target == Target::Replica && !input.is_empty() {
        if rng.chance(8) {
            input[0] ^= 1 << rng.below(4);
        }
        // A raft message (control bit 3 clear) is mutated field by field three times in four:
        // byte mutations mostly break its protobuf.
        if input[0] & 0x08 == 0 && !rng.chance(4) {
            let mut raft = input[1..].to_vec();
            if mutate_raft(&mut raft, rng) {
                input.truncate(1);
                input.extend(raft);
                return input;
            }
        }
    }
    mutate_bytes(&mut input, other, rng);
    input
}

fn fuzz(target: Target) {
    quiet_panics();
    if let Ok(file) = std::env::var("VERTX_CLUSTER_FUZZ_REPLAY") {
        let name = Path::new(&file).file_name().unwrap().to_string_lossy();
        if name.starts_with(target.name()) {
            let input = std::fs::read(&file).unwrap();
            let failure = run_one(target, &input);
            assert!(failure.is_none(), "{file}: {}", failure.unwrap_or_default());
        }
        return;
    }
    if let Ok(dir) = std::env::var("VERTX_CLUSTER_FUZZ_WRITE_SEEDS") {
        // The starting corpus of the libFuzzer target of the same name.
        let dir = Path::new(&dir).join(target.name());
        std::fs::create_dir_all(&dir).unwrap();
        for (n, seed) in target.seeds(&vectors()).iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{n:04}")), seed).unwrap();
        }
        return;
    }
    let inputs = env_u64("VERTX_CLUSTER_FUZZ_INPUTS").unwrap_or(if target == Target::Handshake {
        DEFAULT_HANDSHAKE_INPUTS
    } else {
        DEFAULT_INPUTS
    });
    let first_seed = env_u64("VERTX_CLUSTER_FUZZ_SEED").unwrap_or(1);
    let mut rng = Rng::new(first_seed.wrapping_mul(0x1000_0001) ^ target as u64);
    let seeds = target.seeds(&vectors());
    assert!(!seeds.is_empty(), "{}: no seeds", target.name());
    let mut corpus = seeds.clone();
    let started = Instant::now();
    let mut failures: Vec<(Vec<u8>, String)> = Vec::new();
    for seed in &seeds {
        if let Some(why) = run_one(target, seed) {
            failures.push((seed.clone(), why));
        }
    }
    for _ in 0..inputs {
        let seed = &corpus[rng.below(corpus.len())];
        let other = &corpus[rng.below(corpus.len())];
        let input = mutate(target, seed, other, &mut rng);
        if let Some(why) = run_one(target, &input) {
            reset_replica_cluster();
            failures.push((input, why));
            continue;
        }
        if corpus.len() < MAX_CORPUS && rng.chance(KEEP_ONE_IN) {
            corpus.push(input);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fuzz {}: {} inputs ({} seeds + {inputs} mutated, first seed {first_seed}), {} failures, \
         {secs:.1} s, {:.0} inputs/s",
        target.name(),
        seeds.len() as u64 + inputs,
        seeds.len(),
        failures.len(),
        (seeds.len() as u64 + inputs) as f64 / secs
    );
    if target == Target::Replica {
        for (outcome, count) in replica_outcomes() {
            println!("  {outcome}: {count}");
        }
    }
    if failures.is_empty() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
    std::fs::create_dir_all(&dir).unwrap();
    for (n, (input, why)) in failures.iter().enumerate().take(20) {
        let file = dir.join(format!("{}-{first_seed}-{n}.bin", target.name()));
        std::fs::write(&file, input).unwrap();
        let hex: String = input.iter().take(256).map(|b| format!("{b:02x}")).collect();
        println!("  {}: {why}\n    {hex}", file.display());
    }
    panic!(
        "{}: {} failing inputs (saved in {})",
        target.name(),
        failures.len(),
        dir.display()
    );
}

/// Every input a fuzz run ever failed on, kept in `tests/fuzz-regressions` (named after its
/// target and what it found), each on a fresh replica cluster.
#[test]
fn inputs_that_once_failed_pass() {
    quiet_panics();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let target = Target::ALL
            .into_iter()
            .find(|t| name.starts_with(t.name()))
            .unwrap_or_else(|| panic!("{name}: no target of that name"));
        reset_replica_cluster();
        let input = std::fs::read(&file).unwrap();
        if let Some(why) = run_one(target, &input) {
            panic!("{name}: {why}");
        }
    }
}

#[test]
fn fuzz_frame_decoding() {
    fuzz(Target::Frame);
}

#[test]
fn fuzz_the_replica_receive_path() {
    fuzz(Target::Replica);
}

#[test]
fn fuzz_snapshot_decoding() {
    fuzz(Target::Snapshot);
}

#[test]
fn fuzz_the_jni_settings() {
    fuzz(Target::Settings);
}

#[test]
fn fuzz_the_handshake() {
    fuzz(Target::Handshake);
}
