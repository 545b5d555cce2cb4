//! Tests of the sheet's API: requests over connections, stats, timeouts and snapshots.

use std::time::Duration;

use super::*;
use crate::wire::{FramedMessage, Message, MessageFlags, RegistrationInfo};

fn request(id: u32, m: Message) -> FramedMessage<Message> {
    FramedMessage::request(id, m)
}

fn join(app: &App, connection: u64, node: &str) {
    let r = app.process_message(
        request(
            1,
            Message::JoinRequest {
                node_id: node.into(),
            },
        ),
        Some(connection),
        None,
    );
    assert!(matches!(r.payload, Message::JoinResponse { .. }), "{r:?}");
}

#[test]
fn responses_echo_the_request_id_and_carry_the_response_flag() {
    let app = App::with_config(Config::default());
    let r = app.process_message(
        request(
            77,
            Message::CounterAddAndGetRequest {
                counter_name: "c".into(),
                delta: 2,
            },
        ),
        None,
        None,
    );
    assert_eq!(r.request_id, 77);
    assert!(r.flags.contains(MessageFlags::RESPONSE));
    assert_eq!(r.message_kind, r.payload.get_message_kind());
    assert_eq!(r.payload, Message::CounterAddAndGetResponse { value: 2 });
    let pong = app.process_message(
        FramedMessage::new(MessageFlags::PING, 3, Message::Ping { sent_at_micros: 9 }),
        None,
        None,
    );
    assert_eq!(pong.payload, Message::Pong { sent_at_micros: 9 });
    assert!(pong.flags.contains(MessageFlags::PONG));
}

#[test]
fn node_stats_count_anonymous_connections_members_and_connected_members() {
    let app = App::with_config(Config::default());
    assert_eq!(app.state().get_node_stats(), (0, 0, 0));
    app.process_message(request(1, Message::NodeListRequest {}), Some(1), None);
    join(&app, 2, "a");
    join(&app, 3, "b");
    app.process_message(
        request(
            2,
            Message::LeaveRequest {
                node_id: "b".into(),
            },
        ),
        Some(3),
        None,
    );
    join(&app, 4, "c");
    app.process_message(
        request(
            2,
            Message::LeaveRequest {
                node_id: "c".into(),
            },
        ),
        Some(1),
        None,
    );
    // connection 1 and 3 are anonymous now; "a" is the only connected member.
    assert_eq!(app.state().get_node_stats(), (3, 1, 1));
    assert_eq!(app.state().members(), vec!["a".to_string()]);
}

#[test]
fn locks_belong_to_the_member_a_connection_joined_as() {
    let app = App::with_config(Config::default());
    join(&app, 1, "a");
    join(&app, 2, "b");
    let acquire = |conn| {
        app.process_message(
            request(
                5,
                Message::LockAcquireRequest {
                    lock_name: "l".into(),
                },
            ),
            Some(conn),
            None,
        )
        .payload
    };
    assert!(matches!(
        acquire(1),
        Message::LockAcquireResponse { granted: true, .. }
    ));
    assert!(matches!(
        acquire(2),
        Message::LockAcquireResponse { granted: false, .. }
    ));
    let release = |conn| {
        app.process_message(
            request(
                6,
                Message::LockReleaseRequest {
                    lock_name: "l".into(),
                },
            ),
            Some(conn),
            None,
        )
        .payload
    };
    assert_eq!(release(2), Message::LockReleaseResponse { released: false });
    assert_eq!(release(1), Message::LockReleaseResponse { released: true });
    assert!(app
        .state()
        .drain_events()
        .iter()
        .any(|e| matches!(e, Event::LockGranted { node_id, request_id: 5, .. } if node_id == "b")));
}

#[test]
fn timeout_processor_drops_idle_connections_and_removes_their_members() {
    let app = builder().timeout(Duration::from_millis(30)).build();
    join(&app, 1, "a");
    join(&app, 2, "b");
    app.process_message(
        request(
            3,
            Message::LockAcquireRequest {
                lock_name: "l".into(),
            },
        ),
        Some(1),
        None,
    );
    app.process_message(
        request(
            4,
            Message::LockAcquireRequest {
                lock_name: "l".into(),
            },
        ),
        Some(2),
        None,
    );
    let registration = RegistrationInfo {
        node_id: "a".into(),
        seq: 1,
        local_only: false,
    };
    app.process_message(
        request(
            5,
            Message::AddRegistrationRequest {
                address: "x".into(),
                registration,
            },
        ),
        Some(1),
        None,
    );
    app.state().drain_events();

    let process = app.create_timeout_processor();
    assert_eq!(process(), 0, "nothing is idle yet");
    std::thread::sleep(Duration::from_millis(60));
    app.process_message(
        request(6, Message::Ping { sent_at_micros: 0 }),
        Some(2),
        None,
    );
    assert_eq!(process(), 1, "only connection 1 was silent");
    assert_eq!(app.state().members(), vec!["b".to_string()]);
    let events = app.state().drain_events();
    assert!(
        events.contains(&Event::NodeLeft {
            node_id: "a".into()
        }),
        "{events:?}"
    );
    assert!(
        events.contains(&Event::RegistrationsChanged {
            address: "x".into(),
            registrations: vec![]
        }),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::LockGranted { node_id, .. } if node_id == "b")),
        "{events:?}"
    );
    assert_eq!(app.state().connection_count(), 1);
}

#[test]
fn malformed_frames_are_answered_with_an_error_and_counted() {
    let app = App::with_config(Config::default());
    let mut bytes = request(41, Message::NodeListRequest {}).encode().unwrap();
    bytes[3] ^= 0x10;
    let answer =
        FramedMessage::decode(&app.process_frame(&bytes, Some(1), None), usize::MAX).unwrap();
    assert_eq!(answer.request_id, 41);
    match answer.payload {
        Message::ErrorResponse { code, message } => {
            assert_eq!(code, error_code::MALFORMED);
            assert!(message.contains("checksum"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    let answer =
        FramedMessage::decode(&app.process_frame(b"tiny", None, None), usize::MAX).unwrap();
    assert!(matches!(
        answer.payload,
        Message::ErrorResponse {
            code: error_code::MALFORMED,
            ..
        }
    ));
    assert_eq!(app.state().malformed_frames(), 2);

    let mut wrong_kind = request(1, Message::NodeListRequest {});
    wrong_kind.message_kind = 0x0101;
    let r = app.process_message(wrong_kind, None, None);
    assert!(matches!(
        r.payload,
        Message::ErrorResponse {
            code: error_code::MALFORMED,
            ..
        }
    ));
    let r = app.process_message(request(1, Message::MapPutResponse {}), None, None);
    assert!(matches!(
        r.payload,
        Message::ErrorResponse {
            code: error_code::UNSUPPORTED,
            ..
        }
    ));
    assert_eq!(app.state().malformed_frames(), 4);
}

#[test]
fn frames_above_the_configured_maximum_are_refused() {
    let app = builder().max_frame_size(64).build();
    let big = request(
        2,
        Message::MapPutRequest {
            map_name: "m".into(),
            key: vec![1],
            value: vec![0; 100],
        },
    );
    let answer = app.process_frame(&big.encode().unwrap(), None, None);
    let answer = FramedMessage::decode(&answer, 1024).unwrap();
    assert!(matches!(
        answer.payload,
        Message::ErrorResponse {
            code: error_code::TOO_LARGE,
            ..
        }
    ));
    let r = app.state().query(&Message::MapSizeRequest {
        map_name: "m".into(),
    });
    assert_eq!(
        r,
        Message::MapSizeResponse { size: 0 },
        "nothing was applied"
    );
}

#[test]
fn snapshot_moves_the_state_to_a_new_app() {
    let app = App::with_config(Config::default());
    join(&app, 1, "a");
    app.process_message(
        request(
            2,
            Message::MapPutRequest {
                map_name: "m".into(),
                key: b"k".to_vec(),
                value: b"v".to_vec(),
            },
        ),
        Some(1),
        None,
    );
    let snapshot = app.state().create_snapshot();
    let other = App::with_config(Config::default());
    other.state().restore_from_snapshot(snapshot).unwrap();
    assert_eq!(other.state().members(), vec!["a".to_string()]);
    let get = Message::MapGetRequest {
        map_name: "m".into(),
        key: b"k".to_vec(),
    };
    assert_eq!(
        other.state().query(&get),
        Message::MapGetResponse {
            value: Some(b"v".to_vec())
        }
    );
    let err = other.state().restore_from_snapshot(b"garbage").unwrap_err();
    assert!(err.to_string().contains("snapshot"), "{err}");
}

#[test]
fn builder_rejects_an_address_that_is_not_host_and_port() {
    let err = builder()
        .address("no-port")
        .try_build()
        .err()
        .expect("refused");
    assert_eq!(err, crate::Error::InvalidAddress("no-port".into()));
    let app = App::new_with_raft_node(2, "127.0.0.1:8002".to_string());
    assert_eq!(app.config().node_id, 2);
    assert_eq!(app.config().advertised_address(), "127.0.0.1:8002");
    assert_eq!(app.config().port, 8002);
}
