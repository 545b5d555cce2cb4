//! Lock acquisitions nobody waits for: one applied after its request failed, waits given up,
//! and holds whose release failed are cancelled by their node (`replica/orphans.rs`); waits
//! decided in entries skipped by a snapshot are reported (`replica/ready.rs`).

use super::*;

/// Submits `request` on `node` and withholds its forwarded copy until the request has timed out
/// there: its ticket, and the copy (which may still reach the log).
fn time_out_withheld(
    c: &mut Cluster,
    node: &str,
    request: Message,
) -> (u32, Vec<(String, FramedMessage<Message>)>) {
    let r = c.replicas.get_mut(node).unwrap();
    let ticket = r.submit(request, c.now_ms);
    r.drive(c.now_ms);
    let withheld = r.take_outbox();
    assert!(!withheld.is_empty(), "the request is forwarded");
    let timeout = c.replicas[node].cfg.request_timeout_ticks as usize;
    c.tick(timeout + 1);
    let answer = c.done.get(&(node.to_string(), ticket));
    assert!(
        matches!(answer, Some(Message::ErrorResponse { code, .. }) if *code == error_code::TIMEOUT),
        "{answer:?}"
    );
    (ticket, withheld)
}

/// A lock acquisition whose request failed here (it timed out) but whose forwarded copy was
/// applied anyway holds the lock for nobody: the replica cancels it, and the lock is free again.
#[test]
fn an_acquisition_applied_after_its_request_failed_is_cancelled() {
    let mut c = Cluster::formed(&["n2", "n3"]);
    let acquire = Message::LockAcquireRequest {
        lock_name: "l".into(),
    };
    let (ticket, forwarded) = time_out_withheld(&mut c, "n2", acquire);
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

/// A release that failed (here it timed out) frees the lock all the same: its caller (a Vert.x
/// `Lock.release()` returns nothing) cannot release again. A late copy of the failed release
/// does not free the grant the lock went to next on the same node.
#[test]
fn a_failed_release_frees_the_lock_and_its_late_copy_frees_no_later_grant() {
    let mut c = Cluster::formed(&["n2", "n3"]);
    let acquire = || Message::LockAcquireRequest {
        lock_name: "l".into(),
    };
    assert!(matches!(
        c.call("n2", acquire()),
        Message::LockAcquireResponse { granted: true, .. }
    ));
    let release = Message::LockReleaseRequest {
        lock_name: "l".into(),
    };
    let (_, late_copy) = time_out_withheld(&mut c, "n2", release);
    c.tick(3);
    assert_eq!(c.replicas["n1"].fsm().lock_holder("l"), None, "released");

    let again = c.call("n2", acquire());
    let Message::LockAcquireResponse {
        granted: true,
        fencing_token,
    } = again
    else {
        panic!("{again:?}");
    };
    c.queue.extend(late_copy);
    c.settle();
    c.tick(3);
    let holder = c.replicas["n1"].fsm().lock_holder("l").cloned();
    assert_eq!(
        holder.map(|h| (h.node_id, h.fencing_token)),
        Some(("n2".to_string(), fencing_token)),
        "the late copy of the release was skipped"
    );
}

/// A lock wait granted, or expired, in entries a replica skips by installing a snapshot is
/// reported as if the replica had applied them: its caller holds the lock and must hear of it.
#[test]
fn a_lock_wait_granted_or_expired_in_entries_skipped_by_a_snapshot_is_reported() {
    let mut c = Cluster::with(|name| {
        let mut cfg = cfg(name);
        cfg.compact_after_entries = 20;
        cfg
    });
    c.settle();
    c.add("n2");
    c.add("n3");
    c.tick(50);
    let acquire = || Message::LockAcquireRequest {
        lock_name: "l".into(),
    };
    assert!(matches!(
        c.call("n1", acquire()),
        Message::LockAcquireResponse { granted: true, .. }
    ));
    assert!(matches!(
        c.call(
            "n1",
            Message::LockAcquireRequest {
                lock_name: "m".into()
            }
        ),
        Message::LockAcquireResponse { granted: true, .. }
    ));
    let n3 = c.replicas.get_mut("n3").unwrap();
    let queued = n3.submit(acquire(), c.now_ms);
    let timed = n3.submit(
        Message::LockAcquireTimeoutRequest {
            lock_name: "m".into(),
            timeout_ms: 50,
        },
        c.now_ms,
    );
    c.settle();
    assert!(matches!(
        c.done.remove(&("n3".to_string(), queued)),
        Some(Message::LockAcquireResponse { granted: false, .. })
    ));
    assert!(matches!(
        c.done.remove(&("n3".to_string(), timed)),
        Some(Message::LockAcquireTimeoutResponse { granted: false, .. })
    ));
    c.replicas.get_mut("n3").unwrap().take_events();

    c.down.push("n3".into());
    c.tick(10);
    assert!(
        !c.replicas["n1"].fsm().acquisition_pending("m", "n3", timed),
        "the timed wait expired"
    );
    let release = Message::LockReleaseRequest {
        lock_name: "l".into(),
    };
    assert_eq!(
        c.call("n1", release),
        Message::LockReleaseResponse { released: true }
    );
    let granted_at = c.replicas["n1"].fsm().last_applied();
    for _ in 0..60 {
        c.call("n2", add("c"));
    }
    let first_kept = c.replicas["n1"]
        .raw
        .as_ref()
        .unwrap()
        .raft
        .raft_log
        .first_index();
    assert!(
        first_kept > granted_at,
        "the grant's entry was compacted away"
    );
    c.down.clear();
    c.tick(5);

    let events = c.replicas.get_mut("n3").unwrap().take_events();
    let granted: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::LockGranted { .. }))
        .collect();
    assert_eq!(
        granted,
        [&Event::LockGranted {
            lock_name: "l".into(),
            node_id: "n3".into(),
            request_id: queued,
            fencing_token: granted_at,
        }]
    );
    assert!(events.contains(&Event::LockWaitExpired {
        lock_name: "m".into(),
        node_id: "n3".into(),
        request_id: timed,
    }));
    assert!(c.replicas["n3"].fsm().last_applied() > granted_at);
}
