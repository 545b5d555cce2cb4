//! Lock properties: lock-only runs that often land exactly on a wait's deadline, compared with
//! the reference model like `agreement::agrees_with_the_reference_model`, and the uniqueness of
//! fencing tokens when one leave frees several locks.

use super::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The same comparison over lock-only runs (joins, leaves, acquires with and without
    /// timeouts, releases, cancels, expires) in which commands often land exactly on a wait's
    /// deadline: a waiter whose deadline is at or before the command's time is expired, never
    /// granted, whether the lock frees up by a release, a leave or an expire.
    #[test]
    fn lock_runs_agree_with_the_reference_model(steps in lock_steps(1..80)) {
        check_against_model(&steps)?;
    }
}

/// Known deviation from the lock table's documented guarantee ("tokens grow strictly with every
/// grant of the cluster"): when a node holding two locks leaves, both locks are handed to their
/// next waiters by the same command, so both grants carry the same fencing token (its index).
#[test]
fn fencing_tokens_are_unique_across_locks_freed_by_one_leave() {
    let mut sm = StateMachine::new();
    let commands = [
        (
            "node-a",
            Message::LockAcquireRequest {
                lock_name: "lock-1".into(),
            },
        ),
        (
            "node-b",
            Message::LockAcquireRequest {
                lock_name: "lock-1".into(),
            },
        ),
        (
            "node-a",
            Message::LockAcquireRequest {
                lock_name: "lock-2".into(),
            },
        ),
        (
            "node-b",
            Message::LockAcquireRequest {
                lock_name: "lock-2".into(),
            },
        ),
        (
            "node-a",
            Message::LeaveRequest {
                node_id: "node-a".into(),
            },
        ),
    ];
    let mut tokens = Vec::new();
    for (i, (origin, msg)) in commands.into_iter().enumerate() {
        let index = i as u64 + 1;
        let ctx = ApplyContext {
            index,
            now_ms: START_MS,
            origin,
            request_id: index as u32,
        };
        for e in sm.apply(msg, &ctx).events {
            if let Event::LockGranted { fencing_token, .. } = e {
                tokens.push(fencing_token);
            }
        }
    }
    assert_eq!(tokens.len(), 2, "both locks go to node-b");
    assert!(tokens[0] < tokens[1], "fencing tokens {tokens:?} repeat");
}
