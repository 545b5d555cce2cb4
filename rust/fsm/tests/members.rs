//! Scenario tests of membership: join order, node info, registrations and what a leave drops.

use super::*;

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

/// A node declared dead and admitted again keeps its exactly-once session: a late copy of a
/// request its earlier incarnation had applied (relayed by a node that held it, or proposed again
/// by the node before it heard of its removal) is not applied a second time.
#[test]
fn a_late_copy_of_a_removed_nodes_request_is_not_applied_again_after_it_is_readmitted() {
    let mut log = Log::new();
    log.join(&["a", "b"]);
    let put = |value: &str| MapPutRequest {
        map_name: "m".into(),
        key: b("k"),
        value: b(value),
    };
    assert!(log.apply_once_as("b", 7, 7, put("first")).is_some());
    log.apply(put("second"));
    log.apply(LeaveRequest {
        node_id: "b".into(),
    });
    log.join(&["b"]);
    assert!(
        log.apply_once_as("b", 7, 7, put("first")).is_none(),
        "the late copy is skipped"
    );
    assert_eq!(log.get("k"), Some(b("second")));
    // The new incarnation's ids start past the old ones: its first request moves the floor.
    let next = 7 + (1 << 20);
    assert!(log.apply_once_as("b", next, next, put("third")).is_some());
    assert!(log.apply_once_as("b", 7, 7, put("first")).is_none());
    assert_eq!(log.get("k"), Some(b("third")));
}
