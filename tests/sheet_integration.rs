//! The product sheet's integration-test scenario: two nodes created with raft ids and
//! addresses, each serving the protocol, each with its own independent state.

use vertx_cluster::wire::{FramedMessage, Message};
use vertx_cluster::App;

#[test]
fn test_cluster_coordination() {
    let node1 = App::new_with_raft_node(1, "127.0.0.1:8001".to_string());
    let node2 = App::new_with_raft_node(2, "127.0.0.1:8002".to_string());
    assert_eq!(node1.config().node_id, 1);
    assert_eq!(node2.config().advertised_address(), "127.0.0.1:8002");

    let put = Message::MapPutRequest {
        map_name: "m".into(),
        key: b"k".to_vec(),
        value: b"v".to_vec(),
    };
    let answer = node1.process_message(FramedMessage::request(1, put), Some(1), Some(2));
    assert_eq!(answer.payload, Message::MapPutResponse {});

    let get = Message::MapGetRequest {
        map_name: "m".into(),
        key: b"k".to_vec(),
    };
    assert_eq!(
        node1.state().query(&get),
        Message::MapGetResponse {
            value: Some(b"v".to_vec())
        }
    );
    // Without the replicated runtime the two nodes share nothing.
    assert_eq!(
        node2.state().query(&get),
        Message::MapGetResponse { value: None }
    );

    // A snapshot carries node1's state to node2.
    node2
        .state()
        .restore_from_snapshot(node1.state().create_snapshot())
        .unwrap();
    assert_eq!(
        node2.state().query(&get),
        Message::MapGetResponse {
            value: Some(b"v".to_vec())
        }
    );
}
