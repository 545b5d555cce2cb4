//! Lock acquisitions nobody waits for: one applied after its request failed, and waits given
//! up, are cancelled by their node (`replica/orphans.rs`).

use super::*;

/// A lock acquisition whose request failed here (it timed out) but whose forwarded copy was
/// applied anyway holds the lock for nobody: the replica cancels it, and the lock is free again.
#[test]
fn an_acquisition_applied_after_its_request_failed_is_cancelled() {
    let mut c = Cluster::formed(&["n2", "n3"]);
    let acquire = Message::LockAcquireRequest {
        lock_name: "l".into(),
    };
    let n2 = c.replicas.get_mut("n2").unwrap();
    let ticket = n2.submit(acquire, c.now_ms);
    n2.drive(c.now_ms);
    let forwarded = n2.take_outbox();
    assert!(!forwarded.is_empty(), "the acquisition is forwarded");
    let timeout = c.replicas["n2"].cfg.request_timeout_ticks as usize;
    c.tick(timeout + 1);
    assert!(
        matches!(c.done.get(&("n2".to_string(), ticket)), Some(Message::ErrorResponse { code, .. }) if *code == error_code::TIMEOUT),
        "{:?}",
        c.done.get(&("n2".to_string(), ticket))
    );
    c.queue.extend(forwarded);
    c.settle();
    assert!(
        !c.replicas["n1"].fsm().may_still_apply("n2", ticket),
        "the acquisition was applied"
    );
    c.tick(3);
    assert_eq!(c.replicas["n1"].fsm().lock_holder("l"), None, "cancelled");
    assert_eq!(
        c.call(
            "n3",
            Message::LockAcquireRequest {
                lock_name: "l".into()
            }
        ),
        Message::LockAcquireResponse {
            granted: true,
            fencing_token: c.replicas["n1"].fsm().last_applied()
        }
    );
}

/// A wait its caller gave up is withdrawn, and a grant that came meanwhile is released.
#[test]
fn an_abandoned_lock_wait_is_withdrawn_or_its_grant_released() {
    let mut c = Cluster::formed(&["n2", "n3"]);
    let acquire = || Message::LockAcquireRequest {
        lock_name: "l".into(),
    };
    assert!(matches!(
        c.call("n1", acquire()),
        Message::LockAcquireResponse { granted: true, .. }
    ));
    let n2 = c.replicas.get_mut("n2").unwrap();
    let queued = n2.submit(acquire(), c.now_ms);
    c.settle();
    assert!(matches!(
        c.done.remove(&("n2".to_string(), queued)),
        Some(Message::LockAcquireResponse { granted: false, .. })
    ));
    // Given up while still queued: the wait goes, and the release hands the lock to nobody.
    c.replicas
        .get_mut("n2")
        .unwrap()
        .abandon_lock_wait("l".into(), queued);
    c.tick(3);
    let release = || Message::LockReleaseRequest {
        lock_name: "l".into(),
    };
    assert_eq!(
        c.call("n1", release()),
        Message::LockReleaseResponse { released: true }
    );
    assert_eq!(c.replicas["n1"].fsm().lock_holder("l"), None);

    // Given up after the grant came (the caller had stopped listening): the grant is released.
    let n2 = c.replicas.get_mut("n2").unwrap();
    let granted = n2.submit(acquire(), c.now_ms);
    c.settle();
    assert!(matches!(
        c.done.remove(&("n2".to_string(), granted)),
        Some(Message::LockAcquireResponse { granted: true, .. })
    ));
    c.replicas
        .get_mut("n2")
        .unwrap()
        .abandon_lock_wait("l".into(), granted);
    c.tick(3);
    assert_eq!(c.replicas["n1"].fsm().lock_holder("l"), None);
}
