//! Property tests of the state machine over random command sequences drawn from a small universe
//! of nodes, locks, maps, keys, counters, sets and addresses, so that commands collide often.
//!
//! A [`Model`] built from plain std collections is the reference: it predicts every response and
//! every event, and answers the same read-only queries. Sequences are "concretized" through the
//! model first (a cancel picks a request that is actually queued, a compare-and-set may expect
//! the current value), so every state machine in a test applies the very same messages. Command
//! `i` is applied at index `i`, with request id `i`, from a random node of the universe, at a
//! leader time that advances by 0..50 ms per command.
//!
//! This file holds the universe; the rest is split by concern. Shared by every property:
//! `commands.rs` (the commands, their strategies and the planning through the model),
//! `model.rs` with `model/apply.rs` (the reference model) and `harness.rs` (the queries over the
//! universe, observing a state machine, comparing it with the model step by step). The
//! properties: agreement with the model and between apply paths (`agreement.rs`), lock runs and
//! fencing tokens (`locks.rs`), snapshots (`snapshots.rs`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;
use proptest::strategy::Union;

use super::{is_read_only, Applied, ApplyContext, Event, SnapshotError, StateMachine};
use crate::wire::{error_code, MapEntry, Message, MessageRef, RegistrationInfo};

mod agreement;
mod commands;
mod harness;
mod locks;
mod model;
mod snapshots;

use commands::{lock_steps, plan, s, steps, Clock, Cmd, Concrete, Planned, Step};
use harness::{check_against_model, observe, run};
use model::Model;

const NODES: [&str; 4] = ["node-a", "node-b", "node-c", "node-d"];
const LOCKS: [&str; 3] = ["lock-1", "lock-2", "lock-3"];
const MAPS: [&str; 2] = ["map-1", "map-2"];
const KEYS: [&[u8]; 4] = [b"k0", b"k1", b"k2", b"k3"];
const VALUES: [&[u8]; 3] = [b"v0", b"v1", b"v2"];
const COUNTERS: [&str; 2] = ["counter-1", "counter-2"];
const ADDRESSES: [&str; 2] = ["addr-1", "addr-2"];
const SETS: [&str; 2] = ["set-1", "set-2"];
const SYNC_MAPS: [&str; 2] = ["sync-1", "sync-2"];

/// Time of the first command; each step advances it by 0..50 ms (sometimes exactly onto a
/// pending deadline, see [`Step::to_deadline`]).
const START_MS: u64 = 1_700_000_000_000;
/// Longer than any TTL or lock timeout the strategies produce.
const BEYOND_ALL_TTLS_MS: u64 = 5_000;
