//! Scenario tests of the state machine, one behaviour each.

use super::*;
use crate::wire::error_code;
use Message::*;

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
fn members_are_listed_in_join_order_and_joining_twice_changes_nothing() {
    let mut log = Log::new();
    log.join(&["c", "a", "b"]);
    let again = log.apply_as(
        "a",
        JoinRequest {
            node_id: "a".into(),
        },
    );
    assert!(again.events.is_empty());
    assert_eq!(
        log.apply(NodeListRequest {}),
        NodeListResponse {
            nodes: vec!["c".into(), "a".into(), "b".into()]
        }
    );
}

#[test]
fn node_info_of_an_unknown_node_is_an_error() {
    let mut log = Log::new();
    log.join(&["a"]);
    log.apply(SetNodeInfoRequest {
        node_id: "a".into(),
        info: b("host:1"),
    });
    assert_eq!(
        log.apply(GetNodeInfoRequest {
            node_id: "a".into()
        }),
        GetNodeInfoResponse {
            info: Some(b("host:1"))
        }
    );
    match log.apply(GetNodeInfoRequest {
        node_id: "zz".into(),
    }) {
        ErrorResponse { code, message } => {
            assert_eq!(code, error_code::NOT_A_MEMBER);
            assert!(message.contains("Not a member of the cluster"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn registrations_are_kept_per_registration_and_removed_exactly() {
    let mut log = Log::new();
    log.join(&["a", "b"]);
    let add = |node: &str, seq| AddRegistrationRequest {
        address: "addr".into(),
        registration: reg(node, seq),
    };
    let changed = log.apply_as("a", add("a", 1));
    assert_eq!(
        changed.events,
        vec![Event::RegistrationsChanged {
            address: "addr".into(),
            registrations: vec![reg("a", 1)]
        }]
    );
    log.apply(add("a", 2));
    log.apply(add("b", 1));
    assert!(
        log.apply_as("a", add("a", 1)).events.is_empty(),
        "an equal registration is not added twice"
    );
    let removed = log.apply(RemoveRegistrationRequest {
        address: "addr".into(),
        registration: reg("a", 2),
    });
    assert_eq!(removed, RemoveRegistrationResponse { removed: true });
    assert_eq!(
        log.apply(GetRegistrationsRequest {
            address: "addr".into()
        }),
        GetRegistrationsResponse {
            registrations: vec![reg("a", 1), reg("b", 1)]
        }
    );
    let stranger = log.apply(add("zz", 1));
    assert!(matches!(
        stranger,
        ErrorResponse {
            code: error_code::NOT_A_MEMBER,
            ..
        }
    ));
}

#[test]
fn leaving_drops_registrations_and_node_info_but_keeps_sync_map_entries() {
    let mut log = Log::new();
    log.join(&["a", "b"]);
    log.apply(SetNodeInfoRequest {
        node_id: "b".into(),
        info: b("b-info"),
    });
    for address in ["x", "y"] {
        log.apply(AddRegistrationRequest {
            address: address.into(),
            registration: reg("b", 1),
        });
    }
    log.apply(AddRegistrationRequest {
        address: "y".into(),
        registration: reg("a", 1),
    });
    log.apply(SyncMapPutRequest {
        map_name: "__vertx.haInfo".into(),
        key: b("b"),
        value: b("{}"),
    });

    let left = log.apply_as(
        "a",
        LeaveRequest {
            node_id: "b".into(),
        },
    );
    assert_eq!(left.response, LeaveResponse { was_member: true });
    assert_eq!(
        left.events,
        vec![
            Event::RegistrationsChanged {
                address: "x".into(),
                registrations: vec![]
            },
            Event::RegistrationsChanged {
                address: "y".into(),
                registrations: vec![reg("a", 1)]
            },
            Event::NodeLeft {
                node_id: "b".into()
            },
        ]
    );
    assert_eq!(
        log.apply(GetRegistrationsRequest {
            address: "x".into()
        }),
        GetRegistrationsResponse {
            registrations: vec![]
        }
    );
    assert_eq!(
        log.apply(GetRegistrationsRequest {
            address: "y".into()
        }),
        GetRegistrationsResponse {
            registrations: vec![reg("a", 1)]
        }
    );
    assert!(matches!(
        log.apply(GetNodeInfoRequest {
            node_id: "b".into()
        }),
        ErrorResponse { .. }
    ));
    assert_eq!(
        log.apply(SyncMapGetRequest {
            map_name: "__vertx.haInfo".into(),
            key: b("b")
        }),
        SyncMapGetResponse {
            value: Some(b("{}"))
        }
    );
}

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

#[test]
fn ttl_entries_read_as_absent_once_due_and_expire_removes_them() {
    let mut log = Log::new();
    log.apply(MapPutTtlRequest {
        map_name: "m".into(),
        key: b("k"),
        value: b("v"),
        ttl_ms: 10,
    });
    assert_eq!(log.get("k"), Some(b("v")));
    log.now_ms += 10;
    assert_eq!(log.get("k"), None);
    assert_eq!(
        log.apply(MapSizeRequest {
            map_name: "m".into()
        }),
        MapSizeResponse { size: 0 }
    );
    assert_eq!(
        log.apply(ExpireRequest {}),
        ExpireResponse {
            expired_entries: 1,
            expired_waits: 0
        }
    );
}

#[test]
fn a_plain_put_after_a_ttl_put_keeps_the_entry() {
    let mut log = Log::new();
    log.apply(MapPutTtlRequest {
        map_name: "m".into(),
        key: b("k"),
        value: b("v"),
        ttl_ms: 10,
    });
    log.apply(MapPutRequest {
        map_name: "m".into(),
        key: b("k"),
        value: b("w"),
    });
    log.now_ms += 1_000;
    log.apply(ExpireRequest {});
    assert_eq!(log.get("k"), Some(b("w")));
}

#[test]
fn put_if_absent_with_ttl_leaves_an_existing_entry_untouched() {
    let mut log = Log::new();
    log.apply(MapPutRequest {
        map_name: "m".into(),
        key: b("k"),
        value: b("v"),
    });
    let r = log.apply(MapPutIfAbsentTtlRequest {
        map_name: "m".into(),
        key: b("k"),
        value: b("w"),
        ttl_ms: 10,
    });
    assert_eq!(
        r,
        MapPutIfAbsentTtlResponse {
            previous: Some(b("v"))
        }
    );
    log.now_ms += 1_000;
    log.apply(ExpireRequest {});
    assert_eq!(log.get("k"), Some(b("v")));
    let created = log.apply(MapPutIfAbsentTtlRequest {
        map_name: "m".into(),
        key: b("n"),
        value: b("w"),
        ttl_ms: 10,
    });
    assert_eq!(created, MapPutIfAbsentTtlResponse { previous: None });
    log.now_ms += 10;
    assert_eq!(log.get("n"), None);
}

#[test]
fn replace_variants_touch_only_live_entries() {
    let mut log = Log::new();
    let m = || "m".to_string();
    assert_eq!(
        log.apply(MapReplaceTtlRequest {
            map_name: m(),
            key: b("k"),
            value: b("v"),
            ttl_ms: 10
        }),
        MapReplaceTtlResponse { previous: None }
    );
    assert_eq!(log.get("k"), None, "replace creates nothing");
    log.apply(MapPutRequest {
        map_name: m(),
        key: b("k"),
        value: b("1"),
    });
    assert_eq!(
        log.apply(MapReplaceTtlRequest {
            map_name: m(),
            key: b("k"),
            value: b("2"),
            ttl_ms: 10
        }),
        MapReplaceTtlResponse {
            previous: Some(b("1"))
        }
    );
    log.now_ms += 10;
    assert_eq!(log.get("k"), None, "the replacement's TTL applies");
    assert_eq!(
        log.apply(MapReplaceIfPresentRequest {
            map_name: m(),
            key: b("k"),
            old_value: b("2"),
            new_value: b("3")
        }),
        MapReplaceIfPresentResponse { replaced: false },
        "an expired entry is not present"
    );
    log.apply(MapPutRequest {
        map_name: m(),
        key: b("k"),
        value: b("1"),
    });
    assert_eq!(
        log.apply(MapReplaceIfPresentTtlRequest {
            map_name: m(),
            key: b("k"),
            old_value: b("x"),
            new_value: b("3"),
            ttl_ms: 5
        }),
        MapReplaceIfPresentTtlResponse { replaced: false }
    );
    assert_eq!(
        log.apply(MapReplaceIfPresentTtlRequest {
            map_name: m(),
            key: b("k"),
            old_value: b("1"),
            new_value: b("3"),
            ttl_ms: 5
        }),
        MapReplaceIfPresentTtlResponse { replaced: true }
    );
    assert_eq!(log.get("k"), Some(b("3")));
    log.now_ms += 5;
    assert_eq!(log.get("k"), None);
}

#[test]
fn map_listings_are_sorted_and_skip_expired_entries() {
    let mut log = Log::new();
    for k in ["b", "c", "a"] {
        log.apply(MapPutRequest {
            map_name: "m".into(),
            key: b(k),
            value: b(&k.to_uppercase()),
        });
    }
    log.apply(MapPutTtlRequest {
        map_name: "m".into(),
        key: b("d"),
        value: b("D"),
        ttl_ms: 1,
    });
    log.now_ms += 1;
    assert_eq!(
        log.apply(MapKeysRequest {
            map_name: "m".into()
        }),
        MapKeysResponse {
            keys: vec![b("a"), b("b"), b("c")]
        }
    );
    assert_eq!(
        log.apply(MapValuesRequest {
            map_name: "m".into()
        }),
        MapValuesResponse {
            values: vec![b("A"), b("B"), b("C")]
        }
    );
    assert_eq!(
        log.apply(MapRemoveIfPresentRequest {
            map_name: "m".into(),
            key: b("a"),
            value: b("x")
        }),
        MapRemoveIfPresentResponse { removed: false }
    );
    assert_eq!(
        log.apply(MapRemoveIfPresentRequest {
            map_name: "m".into(),
            key: b("a"),
            value: b("A")
        }),
        MapRemoveIfPresentResponse { removed: true }
    );
    log.apply(MapClearRequest {
        map_name: "m".into(),
    });
    assert_eq!(
        log.apply(MapEntriesRequest {
            map_name: "m".into()
        }),
        MapEntriesResponse { entries: vec![] }
    );
}

#[test]
fn counters_start_at_zero_and_wrap_like_java_longs() {
    let mut log = Log::new();
    assert_eq!(
        log.apply(CounterGetRequest {
            counter_name: "c".into()
        }),
        CounterGetResponse { value: 0 }
    );
    assert_eq!(
        log.apply(CounterAddAndGetRequest {
            counter_name: "c".into(),
            delta: i64::MAX
        }),
        CounterAddAndGetResponse { value: i64::MAX }
    );
    assert_eq!(
        log.apply(CounterGetAndAddRequest {
            counter_name: "c".into(),
            delta: 1
        }),
        CounterGetAndAddResponse { value: i64::MAX }
    );
    assert_eq!(
        log.apply(CounterGetRequest {
            counter_name: "c".into()
        }),
        CounterGetResponse { value: i64::MIN }
    );
    assert_eq!(
        log.apply(CounterCompareAndSetRequest {
            counter_name: "c".into(),
            expected: 0,
            value: 5
        }),
        CounterCompareAndSetResponse { swapped: false }
    );
    assert_eq!(
        log.apply(CounterCompareAndSetRequest {
            counter_name: "c".into(),
            expected: i64::MIN,
            value: 5
        }),
        CounterCompareAndSetResponse { swapped: true }
    );
    assert_eq!(
        log.apply(CreateCounterRequest { name: "c".into() }),
        CreateCounterResponse { value: 5 }
    );
}

#[test]
fn sets_hold_each_value_once() {
    let mut log = Log::new();
    let add = |v: &str| SetAddRequest {
        set_name: "s".into(),
        value: b(v),
    };
    assert_eq!(log.apply(add("x")), SetAddResponse { added: true });
    assert_eq!(log.apply(add("x")), SetAddResponse { added: false });
    log.apply(add("a"));
    assert_eq!(
        log.apply(SetMembersRequest {
            set_name: "s".into()
        }),
        SetMembersResponse {
            members: vec![b("a"), b("x")]
        }
    );
    assert_eq!(
        log.apply(SetRemoveRequest {
            set_name: "s".into(),
            value: b("x")
        }),
        SetRemoveResponse { removed: true }
    );
    assert_eq!(
        log.apply(SetContainsRequest {
            set_name: "s".into(),
            value: b("x")
        }),
        SetContainsResponse { contains: false }
    );
    assert_eq!(
        log.apply(SetSizeRequest {
            set_name: "s".into()
        }),
        SetSizeResponse { size: 1 }
    );
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
