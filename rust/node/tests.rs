//! Raft messages a member could send but never should, over real loopback sockets: a socket that
//! completed the handshake with the cluster secret (what a member with a bug, or a stale peer,
//! holds) sends each one to the leader of a three-node cluster. Every one would make raft-rs
//! panic in the leader's loop, or corrupt its state, without the checks of
//! `raft/replica/validate.rs`: each is refused and counted, its connection closed, and the
//! cluster keeps serving. A valid message over the same kind of socket is not refused, so the
//! test sees the difference.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use protobuf::Message as _;
use raft::prelude::{ConfState, Entry, Message as RaftMsg, MessageType, Snapshot};

use super::{Node, NodeOptions};
use crate::transport::secure::{record_len, Initiator, Sealer, RECORD_HEADER};
use crate::transport::{Auth, ClusterKey, TransportConfig};
use crate::wire::{FramedMessage, Message, MessageFlags};

const SECRET: &[u8] = b"the secret of the hostile-input tests";

fn options(cluster: &str) -> NodeOptions {
    let mut o = NodeOptions::new(cluster);
    o.secret = Some(SECRET.to_vec());
    o.failure_timeout = Duration::from_millis(3_000);
    // A short log, so that the leader's first entries are compacted away.
    o.compact_after_entries = 16;
    o
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn put(node: &Node, key: &str) {
    let answer = node.call(Message::MapPutRequest {
        map_name: "m".into(),
        key: key.as_bytes().to_vec(),
        value: b"v".to_vec(),
    });
    assert_eq!(answer, Message::MapPutResponse {}, "put {key}");
}

/// A plain socket that completed the handshake as a member does.
fn member_socket(cluster: &str, to: &str) -> (TcpStream, Sealer) {
    let key = ClusterKey::from_secret(SECRET).unwrap();
    let identity = TransportConfig::new(cluster, Auth::Secret(key)).identity;
    let (initiator, first) = Initiator::start(&identity).unwrap();
    let mut socket = TcpStream::connect(to).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    socket.write_all(&first).unwrap();
    let mut answer = Vec::new();
    let len = loop {
        if let Some(len) = record_len(&answer, 1024).unwrap() {
            if answer.len() >= len {
                break len;
            }
        }
        let mut chunk = [0u8; 256];
        let n = socket.read(&mut chunk).unwrap();
        assert!(n > 0, "the node closed the handshake");
        answer.extend_from_slice(&chunk[..n]);
    };
    let mut confirmation = Vec::new();
    let sealer = initiator
        .finish(&answer[RECORD_HEADER..len], &mut confirmation)
        .unwrap();
    socket.write_all(&confirmation).unwrap();
    (socket, sealer)
}

fn send(socket: &mut TcpStream, sealer: &mut Sealer, msg: &RaftMsg) {
    let frame = FramedMessage::new(
        MessageFlags::NONE,
        0,
        Message::RaftMessage {
            from_address: "127.0.0.1:9".into(),
            data: msg.write_to_bytes().unwrap(),
        },
    );
    let mut sealed = Vec::new();
    sealer.seal(&frame.encode().unwrap(), &mut sealed).unwrap();
    socket.write_all(&sealed).unwrap();
}

/// Whether the node closed `socket` within `within`.
fn closed_within(socket: &mut TcpStream, within: Duration) -> bool {
    socket.set_read_timeout(Some(within)).unwrap();
    let mut scratch = [0u8; 1024];
    loop {
        match socket.read(&mut scratch) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

fn message(kind: MessageType, from: u64, to: u64, term: u64) -> RaftMsg {
    let mut m = RaftMsg::default();
    m.set_msg_type(kind);
    m.from = from;
    m.to = to;
    m.term = term;
    m
}

fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        ..Default::default()
    }
}

fn snapshot(voters: Vec<u64>, learners: Vec<u64>, data: &[u8]) -> Snapshot {
    let mut s = Snapshot::default();
    s.set_data(data.to_vec().into());
    let meta = s.mut_metadata();
    meta.index = 1 << 30;
    meta.term = 900;
    meta.set_conf_state(ConfState::from((voters, learners)));
    s
}

/// The messages the leader (raft id `leader`) must refuse, with what each is. `peer` is a voter.
fn hostile(leader: u64, peer: u64) -> Vec<(&'static str, RaftMsg)> {
    // A term above the cluster's: raft would step down and act on the rest of the message.
    let term = 1000;
    let mut cases = Vec::new();

    let mut m = message(MessageType::MsgHeartbeat, peer, leader, term);
    m.commit = 1 << 40;
    cases.push(("a heartbeat committing past the log", m));

    let mut m = message(MessageType::MsgAppend, peer, leader, term);
    m.index = 1 << 30;
    m.log_term = 1;
    cases.push(("an append below the committed entry's term", m));

    let mut m = message(MessageType::MsgAppend, peer, leader, term);
    m.index = 1 << 30;
    m.log_term = term;
    m.set_entries(vec![entry(1 << 30, term), entry(7, term)].into());
    cases.push(("an append with entries out of place", m));

    let mut m = message(MessageType::MsgAppend, peer, leader, term);
    m.log_term = term;
    m.index = 1 << 30;
    m.set_entries(vec![entry((1 << 30) + 1, term + 1)].into());
    cases.push(("an append with an entry from a later term", m));

    let m = message(MessageType::MsgReadIndex, peer, leader, 0);
    cases.push(("a read index without its context", m));

    let mut m = message(MessageType::MsgReadIndex, peer, leader, term);
    m.set_entries(vec![entry(0, 0)].into());
    cases.push((
        "a read index with a term (a follower would forward it and panic)",
        m,
    ));

    let mut m = message(MessageType::MsgReadIndex, peer, leader, 0);
    let mut context = entry(0, 0);
    context.data = vec![7; 4096].into();
    m.set_entries(vec![context].into());
    cases.push(("a read index with a context of 4 KiB", m));

    let mut m = message(MessageType::MsgHeartbeat, peer, leader, term);
    m.context = vec![7; 4096].into();
    cases.push(("a heartbeat with a context of 4 KiB", m));

    let m = message(MessageType::MsgTransferLeader, peer, leader, term);
    cases.push((
        "a leadership transfer (a follower would forward it and panic)",
        m,
    ));

    let m = message(MessageType::MsgPropose, peer, leader, term);
    cases.push(("an empty proposal", m));

    let m = message(MessageType::MsgHup, peer, leader, term);
    cases.push(("a local message type", m));

    let mut m = message(MessageType::MsgSnapshot, peer, leader, term);
    m.set_snapshot(snapshot(vec![leader], vec![leader], b""));
    cases.push(("a snapshot whose voter is also a learner", m));

    let mut m = message(MessageType::MsgSnapshot, peer, leader, term);
    m.set_snapshot(snapshot(vec![leader, peer], vec![], b"not a state machine"));
    cases.push(("a snapshot whose data does not decode", m));

    let m = message(MessageType::MsgAppendResponse, peer, leader, 0);
    cases.push(("a response without a term", m));

    let mut m = message(MessageType::MsgHeartbeat, peer, leader, u64::MAX);
    m.commit = 1;
    cases.push(("a term near the end of u64", m));

    let m = message(MessageType::MsgHeartbeat, peer, leader + 1000, term);
    cases.push(("a message for another node", m));

    let m = message(MessageType::MsgHeartbeat, leader, leader, term);
    cases.push(("a message in the recipient's own name", m));
    cases
}

#[test]
fn raft_messages_out_of_range_are_refused_and_the_leader_keeps_serving() {
    let _ = env_logger::builder().is_test(true).try_init();
    let cluster = format!("hostile-raft-{}", std::process::id());
    let nodes: Vec<Node> = (0..3)
        .map(|_| Node::start(options(&cluster)).expect("node starts"))
        .collect();
    eventually("three voters", || {
        nodes
            .iter()
            .all(|n| n.members().len() == 3 && n.voters().len() == 3)
    });
    // Enough writes that the leader's log is compacted past its first entries.
    for i in 0..64 {
        put(&nodes[i % 3], &format!("k{i}"));
    }
    let leader = nodes.iter().position(|n| n.is_leader()).expect("a leader");
    let voters = nodes[leader].voters();
    let leader_id = nodes[leader].raft_id();
    let peer = *voters.iter().find(|&&v| v != leader_id).unwrap();
    let address = nodes[leader].address().to_owned();

    // A valid message over a member's socket: an old-term heartbeat, answered and kept.
    let (mut socket, mut sealer) = member_socket(&cluster, &address);
    let mut m = message(MessageType::MsgHeartbeat, peer, leader_id, 1);
    m.commit = 0;
    send(&mut socket, &mut sealer, &m);
    assert!(
        !closed_within(&mut socket, Duration::from_millis(500)),
        "a valid message closed the connection"
    );
    assert_eq!(nodes[leader].status().transport.messages_refused, 0);

    let cases = hostile(leader_id, peer);
    for (n, (what, msg)) in cases.iter().enumerate() {
        let (mut socket, mut sealer) = member_socket(&cluster, &address);
        send(&mut socket, &mut sealer, msg);
        assert!(
            closed_within(&mut socket, Duration::from_secs(10)),
            "{what}: the connection stayed open"
        );
        eventually(what, || {
            nodes[leader].status().transport.messages_refused == n as u64 + 1
        });
        assert!(nodes[leader].is_leader(), "{what}: the leader stepped down");
    }
    for (i, node) in nodes.iter().enumerate() {
        put(node, &format!("after-{i}"));
        assert_eq!(node.status().transport.malformed_frames, 0);
    }
    assert_eq!(
        nodes[leader].status().transport.messages_refused,
        cases.len() as u64
    );
}

#[test]
fn the_failure_domain_is_this_process_unless_the_options_name_one() {
    let mut options = NodeOptions::new("domains");
    let own = options.replica_config("n", "127.0.0.1:1").domain;
    assert_eq!(own, crate::raft::process_domain());
    assert!(own.ends_with(&format!("/{}", std::process::id())), "{own}");
    options.failure_domain = "zone-eu-1b".into();
    assert_eq!(
        options.replica_config("n", "127.0.0.1:1").domain,
        "zone-eu-1b"
    );
}
