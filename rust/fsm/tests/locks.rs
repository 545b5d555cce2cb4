//! Scenario tests of locks: FIFO grants with increasing fencing tokens, no reentrancy, release
//! on leave, wait timeouts, expired and cancelled waits.

use super::*;

#[test]
fn lock_is_granted_in_fifo_order_with_increasing_fencing_tokens() {
    let mut log = Log::new();
    log.join(&["a", "b", "c"]);
    let first = log.apply_as(
        "a",
        LockAcquireRequest {
            lock_name: "l".into(),
        },
    );
    let LockAcquireResponse {
        granted: true,
        fencing_token: t1,
    } = first.response
    else {
        panic!("{first:?}")
    };
    assert_eq!(t1, log.index, "the token is the granting command's index");
    assert_eq!(
        log.apply_as(
            "b",
            LockAcquireRequest {
                lock_name: "l".into()
            }
        )
        .response,
        LockAcquireResponse {
            granted: false,
            fencing_token: 0
        }
    );
    let c_req = log.index as u32 + 1;
    log.apply_as(
        "c",
        LockAcquireRequest {
            lock_name: "l".into(),
        },
    );
    let b_req = c_req - 1;

    let released = log.apply_as(
        "a",
        LockReleaseRequest {
            lock_name: "l".into(),
        },
    );
    assert_eq!(released.response, LockReleaseResponse { released: true });
    let t2 = log.index;
    assert_eq!(
        released.events,
        vec![Event::LockGranted {
            lock_name: "l".into(),
            node_id: "b".into(),
            request_id: b_req,
            fencing_token: t2
        }]
    );
    assert!(t2 > t1);
    assert_eq!(
        log.apply_as(
            "a",
            LockReleaseRequest {
                lock_name: "l".into()
            }
        )
        .response,
        LockReleaseResponse { released: false },
        "only the holder releases"
    );
    let next = log.apply_as(
        "b",
        LockReleaseRequest {
            lock_name: "l".into(),
        },
    );
    assert!(
        matches!(&next.events[..], [Event::LockGranted { node_id, request_id, .. }] if node_id == "c" && *request_id == c_req)
    );
}

#[test]
fn lock_is_not_reentrant() {
    let mut log = Log::new();
    log.join(&["a"]);
    log.apply_as(
        "a",
        LockAcquireRequest {
            lock_name: "l".into(),
        },
    );
    let again = log.apply_as(
        "a",
        LockAcquireRequest {
            lock_name: "l".into(),
        },
    );
    assert_eq!(
        again.response,
        LockAcquireResponse {
            granted: false,
            fencing_token: 0
        }
    );
    let released = log.apply_as(
        "a",
        LockReleaseRequest {
            lock_name: "l".into(),
        },
    );
    assert!(matches!(&released.events[..], [Event::LockGranted { node_id, .. }] if node_id == "a"));
}

#[test]
fn lock_is_released_when_holder_leaves_and_its_waits_are_dropped() {
    let mut log = Log::new();
    log.join(&["a", "b", "c"]);
    log.apply_as(
        "a",
        LockAcquireRequest {
            lock_name: "l1".into(),
        },
    );
    log.apply_as(
        "a",
        LockAcquireRequest {
            lock_name: "l2".into(),
        },
    );
    log.apply_as(
        "b",
        LockAcquireRequest {
            lock_name: "l1".into(),
        },
    );
    log.apply_as(
        "c",
        LockAcquireRequest {
            lock_name: "l3".into(),
        },
    );
    log.apply_as(
        "a",
        LockAcquireRequest {
            lock_name: "l3".into(),
        },
    );
    log.apply_as(
        "c",
        LockAcquireRequest {
            lock_name: "l3".into(),
        },
    );

    let left = log.apply_as(
        "b",
        LeaveRequest {
            node_id: "a".into(),
        },
    );
    assert!(left.events.contains(&Event::NodeLeft {
        node_id: "a".into()
    }));
    assert_eq!(
        log.sm.lock_holder("l1").map(|h| h.node_id.as_str()),
        Some("b")
    );
    assert_eq!(log.sm.lock_holder("l2"), None);
    // a's wait on l3 is gone: when c releases, c's own second acquire is next.
    let released = log.apply_as(
        "c",
        LockReleaseRequest {
            lock_name: "l3".into(),
        },
    );
    assert!(matches!(&released.events[..], [Event::LockGranted { node_id, .. }] if node_id == "c"));
}

#[test]
fn lock_wait_with_timeout_expires_and_zero_timeout_fails_at_once() {
    let mut log = Log::new();
    log.join(&["a", "b"]);
    log.apply_as(
        "a",
        LockAcquireRequest {
            lock_name: "l".into(),
        },
    );
    let refused = log.apply_as(
        "b",
        LockAcquireTimeoutRequest {
            lock_name: "l".into(),
            timeout_ms: 0,
        },
    );
    assert_eq!(
        refused.response,
        LockAcquireTimeoutResponse {
            granted: false,
            fencing_token: 0
        }
    );
    log.apply_as(
        "b",
        LockAcquireTimeoutRequest {
            lock_name: "l".into(),
            timeout_ms: 100,
        },
    );
    let waiter = log.index as u32;

    log.now_ms += 99;
    assert!(
        log.apply_as("a", ExpireRequest {}).events.is_empty(),
        "not yet"
    );
    log.now_ms += 1;
    let expired = log.apply_as("a", ExpireRequest {});
    assert_eq!(
        expired.response,
        ExpireResponse {
            expired_entries: 0,
            expired_waits: 1
        }
    );
    assert_eq!(
        expired.events,
        vec![Event::LockWaitExpired {
            lock_name: "l".into(),
            node_id: "b".into(),
            request_id: waiter
        }]
    );
}

#[test]
fn a_waiter_past_its_deadline_is_skipped_when_the_lock_frees() {
    let mut log = Log::new();
    log.join(&["a", "b", "c"]);
    log.apply_as(
        "a",
        LockAcquireRequest {
            lock_name: "l".into(),
        },
    );
    log.apply_as(
        "b",
        LockAcquireTimeoutRequest {
            lock_name: "l".into(),
            timeout_ms: 10,
        },
    );
    log.apply_as(
        "c",
        LockAcquireRequest {
            lock_name: "l".into(),
        },
    );
    log.now_ms += 50;
    let released = log.apply_as(
        "a",
        LockReleaseRequest {
            lock_name: "l".into(),
        },
    );
    assert!(
        matches!(&released.events[..], [Event::LockWaitExpired { node_id: b, .. }, Event::LockGranted { node_id: c, .. }] if b == "b" && c == "c")
    );
}

#[test]
fn a_cancelled_wait_is_never_granted() {
    let mut log = Log::new();
    log.join(&["a", "b"]);
    log.apply_as(
        "a",
        LockAcquireRequest {
            lock_name: "l".into(),
        },
    );
    log.apply_as(
        "b",
        LockAcquireTimeoutRequest {
            lock_name: "l".into(),
            timeout_ms: 5_000,
        },
    );
    let waiter = log.index as u32;
    assert_eq!(
        log.apply_as(
            "a",
            LockCancelRequest {
                lock_name: "l".into(),
                acquire_request_id: waiter
            }
        )
        .response,
        LockCancelResponse { cancelled: false },
        "only the waiter's node cancels"
    );
    assert_eq!(
        log.apply_as(
            "b",
            LockCancelRequest {
                lock_name: "l".into(),
                acquire_request_id: waiter
            }
        )
        .response,
        LockCancelResponse { cancelled: true }
    );
    let released = log.apply_as(
        "a",
        LockReleaseRequest {
            lock_name: "l".into(),
        },
    );
    assert!(released.events.is_empty());
    assert_eq!(log.sm.lock_holder("l"), None);
}

/// A cancel withdraws one acquisition: its hold too, once granted, handing the lock on; never a
/// later grant of the same lock to the same node.
#[test]
fn a_cancel_releases_the_hold_of_that_acquisition_only() {
    let mut log = Log::new();
    log.join(&["a", "b"]);
    let acquire = || LockAcquireRequest {
        lock_name: "l".into(),
    };
    let cancel = |acquire_request_id| LockCancelRequest {
        lock_name: "l".into(),
        acquire_request_id,
    };
    log.apply_as("a", acquire());
    let first = log.index as u32;
    log.apply_as("b", acquire());
    let cancelled = log.apply_as("a", cancel(first));
    assert_eq!(cancelled.response, LockCancelResponse { cancelled: true });
    assert!(
        matches!(&cancelled.events[..], [Event::LockGranted { node_id, .. }] if node_id == "b"),
        "{:?}",
        cancelled.events
    );
    log.apply_as(
        "b",
        LockReleaseRequest {
            lock_name: "l".into(),
        },
    );
    log.apply_as("a", acquire());
    let second = log.index as u32;
    assert_eq!(
        log.apply_as("a", cancel(first)).response,
        LockCancelResponse { cancelled: false },
        "a late copy of the cancel leaves the later grant alone"
    );
    assert_eq!(log.sm.lock_holder("l").map(|h| h.request_id), Some(second));
}
