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

#[test]
fn a_format_2_snapshot_is_read_with_the_members_domains_unknown() {
    let mut log = Log::new();
    log.apply(AddMemberRequest {
        node_id: "a".into(),
        address: "10.0.0.1:5701".into(),
        domain: String::new(),
    });
    let current = log.sm.create_snapshot();
    // Format 2 is this one without the domain after each member's node info (and, for a state
    // without exactly-once sessions, nothing else).
    let m = &log.sm.members()[0];
    let mut prefix = Vec::new();
    let mut w = crate::wire::codec::Writer::new(&mut prefix);
    w.u64(log.sm.last_applied);
    w.u64(log.sm.next_raft_id);
    w.u64(log.sm.time_ms);
    w.len(1);
    w.put(&m.node_id);
    w.put(&m.raft_id);
    w.put(&m.address);
    w.put(&m.info);
    let mut domain = Vec::new();
    crate::wire::codec::Writer::new(&mut domain).put(&m.domain);
    let body = &current[10..];
    assert_eq!(
        &body[prefix.len()..prefix.len() + domain.len()],
        &domain[..]
    );
    let v2_body = [&body[..prefix.len()], &body[prefix.len() + domain.len()..]].concat();
    let mut v2 = b"VXCS".to_vec();
    v2.extend_from_slice(&2u16.to_le_bytes());
    v2.extend_from_slice(&crc32fast::hash(&v2_body).to_le_bytes());
    v2.extend_from_slice(&v2_body);

    let mut copy = StateMachine::new();
    copy.restore_from_snapshot(&v2).unwrap();
    assert_eq!(copy.members()[0].address, "10.0.0.1:5701");
    assert_eq!(copy.members()[0].domain, "");
    // Read as format 3, the same bytes lack a field.
    let mut as_v3 = v2.clone();
    as_v3[4..6].copy_from_slice(&3u16.to_le_bytes());
    assert!(copy.restore_from_snapshot(&as_v3).is_err());
    // Written again, it is the current snapshot of the same state.
    assert_eq!(copy.create_snapshot(), current);
}

/// The session of a removed node (format 4) goes through a snapshot with its removal's index;
/// a format 3 snapshot (members' sessions only, without that index) is still read.
#[test]
fn a_removed_nodes_session_survives_a_snapshot_and_format_3_is_still_read() {
    let mut log = Log::new();
    log.join(&["a", "b"]);
    let put = MapPutRequest {
        map_name: "m".into(),
        key: b("k"),
        value: b("v"),
    };
    assert!(log.apply_once_as("b", 3, 3, put.clone()).is_some());
    log.apply(LeaveRequest {
        node_id: "b".into(),
    });
    let snapshot = log.sm.create_snapshot();
    let mut copy = StateMachine::new();
    copy.restore_from_snapshot(&snapshot).unwrap();
    assert_eq!(copy.sessions.view(), log.sm.sessions.view());
    assert_ne!(copy.sessions.view()["b"].retired_at, 0);
    assert_eq!(copy.create_snapshot(), snapshot);

    // Format 3: the same body without the removal index after the one session (the last field).
    log.join(&["b"]);
    let member = log.sm.create_snapshot();
    let body = &member[10..member.len() - 8];
    let mut v3 = b"VXCS".to_vec();
    v3.extend_from_slice(&3u16.to_le_bytes());
    v3.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    v3.extend_from_slice(body);
    let mut old = StateMachine::new();
    old.restore_from_snapshot(&v3).unwrap();
    assert_eq!(old.sessions.view(), log.sm.sessions.view());
    assert_eq!(old.create_snapshot(), member);
}
