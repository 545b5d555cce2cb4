//! Replication: raft-rs drives the state machine so that every node applies the same commands
//! in the same order. [`Replica`] is I/O-free (time and messages go in, messages, completions and
//! events come out); the node runtime gives it sockets and a clock, and the simulation tests give
//! it a seeded in-memory network.

mod command;
mod membership;
mod reads;
mod replica;
mod storage;

pub use membership::process_domain;
pub use replica::{Completion, Phase, Replica, ReplicaConfig, ReplicaStats, REPLICATION_HEADROOM};

#[cfg(test)]
mod tests;
