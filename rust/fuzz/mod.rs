//! Fuzz targets (built with the `fuzzing` feature only): the decoders that take bytes from
//! outside, and the replica's receive path. Each target takes any bytes and returns normally
//! for every input; a panic, or a broken round trip (asserted), is a failure. Two drivers run
//! them: `tests/fuzz.rs`, a seeded mutation fuzzer on the stable toolchain (what CI runs, and
//! `scripts/fuzz.sh` with a count), and the coverage-guided libFuzzer targets in `fuzz/`
//! (`scripts/fuzz.sh --coverage`, nightly toolchain and cargo-fuzz).
//!
//! - [`Target::Frame`]: a frame as the transport decodes it, owned and borrowed; then the same
//!   bytes with the size and checksum fields made right, so that the payload decoders see
//!   mutated payloads instead of checksum failures. What decodes must encode to bytes that
//!   decode to the same frame.
//! - [`Target::Replica`]: a frame delivered into a three-replica cluster (`cluster.rs`): byte 0
//!   picks the recipient (a raft message goes to the replica it names), whether the clock ticks
//!   after, and whether the rest is a raft message's protobuf or a whole frame. The cluster
//!   lives on across inputs, rebuilt every [`REPLICA_INPUTS_PER_CLUSTER`].
//! - [`Target::Snapshot`]: state-machine snapshot bytes, as is and with the checksum made
//!   right; a snapshot that decodes re-encodes to bytes that decode and re-encode the same.
//! - [`Target::Settings`]: the node settings Java passes to `start`.
//! - [`Target::Handshake`]: the secure channel's records before and right after the peer is
//!   authenticated, on the listening and on the connecting side (`handshake.rs`).

mod cluster;
mod handshake;
pub mod mutate;

use std::cell::RefCell;
use std::path::Path;

use protobuf::Message as _;

use crate::fsm::StateMachine;
use crate::node::NodeOptions;
use crate::wire::{FramedMessage, Message, MessageFlags, DEFAULT_MAX_FRAME_SIZE, HEADER_SIZE};
use cluster::Cluster;

/// Inputs one replica-target cluster takes before a fresh one replaces it.
pub const REPLICA_INPUTS_PER_CLUSTER: u64 = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Frame,
    Replica,
    Snapshot,
    Settings,
    Handshake,
}

impl Target {
    pub const ALL: [Target; 5] = [
        Target::Frame,
        Target::Replica,
        Target::Snapshot,
        Target::Settings,
        Target::Handshake,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::Frame => "frame",
            Target::Replica => "replica",
            Target::Snapshot => "snapshot",
            Target::Settings => "settings",
            Target::Handshake => "handshake",
        }
    }

    /// Runs one input.
    pub fn run(self, data: &[u8]) {
        match self {
            Target::Frame => frame(data),
            Target::Replica => replica(data),
            Target::Snapshot => snapshot(data),
            Target::Settings => settings(data),
            Target::Handshake => handshake::run(data),
        }
    }

    /// The inputs mutation starts from: the golden vectors under `vectors` (the repository's
    /// `tests/vectors`) and the traffic and snapshots of a real cluster.
    pub fn seeds(self, vectors: &Path) -> Vec<Vec<u8>> {
        let files = |dir: &Path, prefix: &str| -> Vec<Vec<u8>> {
            let mut paths: Vec<_> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.extension().is_some_and(|e| e == "bin")
                        && p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
                })
                .collect();
            paths.sort();
            paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
        };
        match self {
            Target::Frame => {
                let mut seeds = files(vectors, "");
                seeds.extend(Cluster::traffic().iter().filter_map(|f| f.encode().ok()));
                seeds
            }
            Target::Replica => Cluster::traffic()
                .into_iter()
                .flat_map(|f| {
                    let mut as_frame = vec![0x08];
                    as_frame.extend(f.encode().unwrap_or_default());
                    let mut as_raft = vec![0x00];
                    if let Message::RaftMessage { data, .. } = &f.payload {
                        as_raft.extend_from_slice(data);
                    }
                    [as_frame, as_raft]
                })
                .collect(),
            Target::Snapshot => {
                let mut seeds = vec![StateMachine::new().create_snapshot()];
                seeds.extend(Cluster::traffic().iter().filter_map(|f| {
                    let Message::RaftMessage { data, .. } = &f.payload else {
                        return None;
                    };
                    let m = raft::prelude::Message::parse_from_bytes(data).ok()?;
                    let bytes = m.get_snapshot().get_data();
                    (!bytes.is_empty()).then(|| bytes.to_vec())
                }));
                seeds
            }
            Target::Settings => files(&vectors.join("jni"), "settings"),
            Target::Handshake => {
                let mut seeds = Vec::new();
                for secret in [false, true] {
                    let mode = u8::from(secret);
                    let with = |control: u8, rest: &[u8]| [&[mode | control][..], rest].concat();
                    // A peer's opening; a confirmation that does not verify after a genuine
                    // one; the listener's genuine answer, and a refusal; sealed frames.
                    seeds.push(with(0x00, &handshake::opening(secret)));
                    seeds.push(with(
                        0x04,
                        &[16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                    ));
                    seeds.push(with(0x02, &handshake::answer(secret)));
                    seeds.push(with(0x02, b"\x0a\x00\x03refused!!"));
                    let frames = files(vectors, "");
                    for frame in frames.iter().take(4) {
                        seeds.push(with(0x08, frame));
                    }
                    // Many frames in a row, and more than one record holds.
                    seeds.push(with(0x08, &frames.concat()));
                    let long: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
                    seeds.push(with(0x08, &long));
                }
                seeds
            }
        }
    }
}

/// The header of `bytes` with its size and checksum made to fit them.
fn with_true_header(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() < HEADER_SIZE {
        return None;
    }
    let mut fixed = bytes.to_vec();
    let size = u32::try_from(fixed.len()).ok()?;
    fixed[4..8].copy_from_slice(&size.to_le_bytes());
    let checksum = crc32fast::hash(&fixed[4..]);
    fixed[0..4].copy_from_slice(&checksum.to_le_bytes());
    Some(fixed)
}

fn frame(data: &[u8]) {
    decode_frame(data);
    if let Some(fixed) = with_true_header(data) {
        decode_frame(&fixed);
    }
}

fn decode_frame(bytes: &[u8]) {
    let owned = FramedMessage::decode(bytes, DEFAULT_MAX_FRAME_SIZE);
    let borrowed = FramedMessage::decode_ref(bytes, DEFAULT_MAX_FRAME_SIZE);
    assert_eq!(
        owned.as_ref().err(),
        borrowed.as_ref().err(),
        "owned and borrowed decoding disagree"
    );
    if let (Ok(owned), Ok(borrowed)) = (owned, borrowed) {
        assert_eq!(owned.payload, borrowed.payload.to_owned());
        let again = owned.encode().expect("a decoded frame encodes");
        let decoded = FramedMessage::decode(&again, DEFAULT_MAX_FRAME_SIZE)
            .expect("an encoded frame decodes");
        assert_eq!(decoded, owned, "the round trip changed the frame");
    }
}

thread_local! {
    static CLUSTER: RefCell<Option<(Cluster, u64)>> = const { RefCell::new(None) };
    static OUTCOMES: RefCell<std::collections::BTreeMap<String, u64>> =
        const { RefCell::new(std::collections::BTreeMap::new()) };
}

/// What the replica target's recipients did with the inputs so far on this thread: how many
/// were stepped into raft or otherwise taken, and how many refused, by reason.
pub fn replica_outcomes() -> Vec<(String, u64)> {
    OUTCOMES.with(|o| o.borrow().iter().map(|(k, v)| (k.clone(), *v)).collect())
}

/// Drops the replica target's cluster, so the next input starts on a fresh one (after a
/// failure, whose cluster may be half-way through a change).
pub fn reset_replica_cluster() {
    CLUSTER.with(|c| c.borrow_mut().take());
}

fn replica(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let frame = if control & 0x08 != 0 {
        let Some(fixed) = with_true_header(rest) else {
            return;
        };
        match FramedMessage::decode(&fixed, DEFAULT_MAX_FRAME_SIZE) {
            Ok(frame) => frame,
            Err(_) => return,
        }
    } else {
        FramedMessage::new(
            MessageFlags::NONE,
            0,
            Message::RaftMessage {
                from_address: "n2".into(),
                data: rest.to_vec(),
            },
        )
    };
    CLUSTER.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell
            .as_ref()
            .is_none_or(|(_, used)| *used >= REPLICA_INPUTS_PER_CLUSTER)
        {
            *cell = Some((Cluster::new(), 0));
        }
        let (cluster, used) = cell.as_mut().expect("just made");
        *used += 1;
        let outcome = cluster.deliver(control & 0x03, frame, control & 0x04 != 0);
        let key = match outcome {
            Ok(()) => "taken".to_owned(),
            Err(reason) => format!("refused: {reason}"),
        };
        OUTCOMES.with(|o| *o.borrow_mut().entry(key).or_default() += 1);
    });
}

fn snapshot(data: &[u8]) {
    restore(data);
    // The checksum covers what follows the 10-byte preamble (magic, version, checksum).
    if data.len() >= 10 {
        let mut fixed = data.to_vec();
        let checksum = crc32fast::hash(&fixed[10..]);
        fixed[6..10].copy_from_slice(&checksum.to_le_bytes());
        restore(&fixed);
    }
}

fn restore(bytes: &[u8]) {
    if let Ok(fsm) = StateMachine::from_snapshot(bytes) {
        let first = fsm.create_snapshot();
        let again = StateMachine::from_snapshot(&first).expect("a snapshot taken restores");
        assert_eq!(
            again.create_snapshot(),
            first,
            "restoring changed the state"
        );
    }
}

fn settings(data: &[u8]) {
    if let Ok(options) = NodeOptions::decode_settings(data) {
        let first = options.encode_settings();
        let again = NodeOptions::decode_settings(&first).expect("encoded settings decode");
        assert_eq!(
            again.encode_settings(),
            first,
            "the settings changed in a round trip"
        );
    }
}
