//! Scenario tests of the state machine, one behaviour each.
//!
//! This file holds the [`Log`] harness and the one test that is about commands in general; the
//! rest is split by concern: members, node info and registrations (`members.rs`), locks
//! (`locks.rs`), async maps with TTL (`maps.rs`), counters and sets (`counters_and_sets.rs`),
//! snapshots (`snapshots.rs`).

use super::*;
use crate::wire::error_code;
use Message::*;

mod counters_and_sets;
mod locks;
mod maps;
mod members;
mod snapshots;

/// Applies commands with increasing indexes at a controllable time.
struct Log {
    sm: StateMachine,
    index: u64,
    now_ms: u64,
}

impl Log {
    fn new() -> Self {
        let _ = env_logger::builder().is_test(true).try_init();
        Log {
            sm: StateMachine::new(),
            index: 0,
            now_ms: 1_000,
        }
    }

    fn apply_as(&mut self, origin: &str, command: Message) -> Applied {
        self.index += 1;
        let ctx = ApplyContext {
            index: self.index,
            now_ms: self.now_ms,
            origin,
            request_id: self.index as u32,
        };
        let applied = self.sm.apply(command, &ctx);
        self.sm.check_invariants().expect("invariants hold");
        applied
    }

    /// Applies a command as a replicated request of `origin`, once (see `apply_once`).
    fn apply_once_as(
        &mut self,
        origin: &str,
        request_id: u32,
        settled_below: u32,
        command: Message,
    ) -> Option<Applied> {
        self.index += 1;
        let ctx = ApplyContext {
            index: self.index,
            now_ms: self.now_ms,
            origin,
            request_id,
        };
        let applied = self.sm.apply_once(command, &ctx, settled_below);
        self.sm.check_invariants().expect("invariants hold");
        applied
    }

    fn apply(&mut self, command: Message) -> Message {
        self.apply_as("a", command).response
    }

    fn join(&mut self, nodes: &[&str]) {
        for n in nodes {
            self.apply_as(
                n,
                JoinRequest {
                    node_id: n.to_string(),
                },
            );
        }
    }

    fn get(&mut self, key: &str) -> Option<Vec<u8>> {
        match self.apply(MapGetRequest {
            map_name: "m".into(),
            key: key.into(),
        }) {
            MapGetResponse { value } => value,
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn reg(node: &str, seq: u64) -> RegistrationInfo {
    RegistrationInfo {
        node_id: node.into(),
        seq,
        local_only: false,
    }
}
#[test]
fn responses_are_refused_as_commands() {
    let mut log = Log::new();
    assert!(matches!(
        log.apply(MapPutResponse {}),
        ErrorResponse {
            code: error_code::UNSUPPORTED,
            ..
        }
    ));
}
