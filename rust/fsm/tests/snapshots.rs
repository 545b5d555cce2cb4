//! Scenario test of snapshots: a restore reproduces the state, corrupt bytes are refused.

use super::*;

#[test]
fn snapshot_restores_the_same_state_and_rejects_corrupt_bytes() {
    let mut log = Log::new();
    log.join(&["a", "b"]);
    log.apply(MapPutTtlRequest {
        map_name: "m".into(),
        key: b("k"),
        value: b("v"),
        ttl_ms: 50,
    });
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
            timeout_ms: 20,
        },
    );
    log.apply(CounterAddAndGetRequest {
        counter_name: "c".into(),
        delta: 3,
    });
    let snapshot = log.sm.create_snapshot();

    let mut copy = StateMachine::new();
    copy.restore_from_snapshot(&snapshot).unwrap();
    assert_eq!(copy.create_snapshot(), snapshot);
    assert_eq!(copy.last_applied(), log.sm.last_applied());

    let mut corrupt = snapshot.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    assert_eq!(
        copy.restore_from_snapshot(&corrupt),
        Err(SnapshotError::BadChecksum)
    );
    assert_eq!(
        copy.restore_from_snapshot(b"PK\x03\x04 not ours"),
        Err(SnapshotError::NotASnapshot)
    );
    assert_eq!(
        copy.create_snapshot(),
        snapshot,
        "a refused snapshot leaves the state untouched"
    );
}

#[test]
fn members_keep_their_failure_domains_through_a_snapshot() {
    let mut log = Log::new();
    log.apply(AddMemberRequest {
        node_id: "a".into(),
        address: "10.0.0.1:5701".into(),
        domain: "zone-b".into(),
    });
    let snapshot = log.sm.create_snapshot();
    let mut copy = StateMachine::new();
    copy.restore_from_snapshot(&snapshot).unwrap();
    let members = copy.members();
    assert_eq!(members.len(), 1);
    assert_eq!(
        (&*members[0].address, &*members[0].domain),
        ("10.0.0.1:5701", "zone-b")
    );
    assert_eq!(copy.create_snapshot(), snapshot);
}
