//! Who may talk to a cluster, over real loopback sockets: a stranger's plain frames change
//! nothing and its connection is closed; nodes without the secret, or of another cluster, are
//! refused; seeds without a secret refuse to start unless the user opts out; local discovery
//! keeps its generated secret private.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use vertx_cluster::node::{DiscoveryMode, Node, NodeOptions};
use vertx_cluster::wire::{FramedMessage, Message, MessageFlags, Proposal};

static CLUSTERS: AtomicUsize = AtomicUsize::new(0);

/// The largest record, header included, that a node reads from a peer before it is authenticated
/// ("about a kilobyte", README's trust model): the node's own constant is private to its transport.
const HANDSHAKE_RECORD_LIMIT: usize = 1024;

fn cluster_name(test: &str) -> String {
    format!(
        "trust-{test}-{}-{}",
        std::process::id(),
        CLUSTERS.fetch_add(1, Ordering::SeqCst)
    )
}

fn options(cluster: &str) -> NodeOptions {
    let _ = env_logger::builder().is_test(true).try_init();
    let mut o = NodeOptions::new(cluster);
    o.failure_timeout = Duration::from_millis(2_000);
    o
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn get(node: &Node, key: &[u8]) -> Option<Vec<u8>> {
    match node.call(Message::MapGetRequest {
        map_name: "m".into(),
        key: key.to_vec(),
    }) {
        Message::MapGetResponse { value } => value,
        other => panic!("unexpected {other:?}"),
    }
}

/// Whether the node closed the socket within a few seconds.
fn closed_by_node(socket: &mut TcpStream) -> bool {
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut scratch = [0u8; 1024];
    loop {
        match socket.read(&mut scratch) {
            Ok(0) => return true,
            // A refusal record may come first.
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// The frame of the attack that once worked: a follower's forwarded write, sent from a plain
/// socket in the name of a member.
fn forged_put(origin: &str, request_id: u32) -> Vec<u8> {
    let put = Message::MapPutRequest {
        map_name: "m".into(),
        key: b"z".to_vec(),
        value: b"pwned".to_vec(),
    };
    let mut payload = Vec::new();
    put.encode_payload(&mut payload);
    let forward = Message::ForwardProposals {
        proposals: vec![Proposal {
            origin: origin.into(),
            request_id,
            settled_below: 0,
            kind: put.get_message_kind(),
            payload,
        }],
    };
    FramedMessage::new(MessageFlags::NONE, 0, forward)
        .encode()
        .unwrap()
}

/// How a node takes a forged frame before any handshake. The frame's first two bytes, the low
/// half of its CRC, read as a handshake record's length: mostly over the record limit, refused
/// at once; for about one frame in 64 a length past the frame's end, which the node waits for
/// until the handshake deadline.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Forgery {
    RefusedAtOnce,
    HeldToTheDeadline,
}

/// A forged put of the given kind: the request id is the one field varied to reach it.
fn forged_put_of(origin: &str, kind: Forgery) -> Vec<u8> {
    (0..1_000_000u32)
        .map(|request_id| forged_put(origin, request_id))
        .find(|frame| {
            let record = 2 + u16::from_le_bytes([frame[0], frame[1]]) as usize;
            let held = record > frame.len() && record <= HANDSHAKE_RECORD_LIMIT;
            held == (kind == Forgery::HeldToTheDeadline)
        })
        .expect("some request id gives each kind")
}

#[test]
fn a_forged_write_from_a_plain_socket_changes_nothing_and_is_cut_off() {
    let cluster = cluster_name("forged");
    let nodes: Vec<Node> = (0..3)
        .map(|_| Node::start(options(&cluster)).expect("node starts"))
        .collect();
    eventually("three members", || {
        nodes.iter().all(|n| n.members().len() == 3)
    });
    let leader = nodes
        .iter()
        .find(|n| n.is_leader())
        .expect("a leader is known");
    for kind in [Forgery::RefusedAtOnce, Forgery::HeldToTheDeadline] {
        let frame = forged_put_of(leader.node_id(), kind);
        let counted = |node: &Node| {
            let transport = node.status().transport;
            match kind {
                Forgery::RefusedAtOnce => transport.handshakes_refused,
                Forgery::HeldToTheDeadline => transport.handshakes_timed_out,
            }
        };
        // All nodes at once: the held ones wait out their deadlines together.
        let attacks: Vec<(u64, TcpStream)> = nodes
            .iter()
            .map(|node| {
                let before = counted(node);
                let mut socket = TcpStream::connect(node.address()).unwrap();
                socket.write_all(&frame).unwrap();
                (before, socket)
            })
            .collect();
        for (node, (before, mut socket)) in nodes.iter().zip(attacks) {
            assert!(
                closed_by_node(&mut socket),
                "the node kept the stranger ({kind:?})"
            );
            eventually("the stranger to be counted", || counted(node) > before);
        }
    }
    for node in &nodes {
        assert_eq!(get(node, b"z"), None, "the forged write was applied");
        assert_eq!(node.status().transport.malformed_frames, 0);
    }
    // The members still serve writes.
    let answer = nodes[1].call(Message::MapPutRequest {
        map_name: "m".into(),
        key: b"k".to_vec(),
        value: b"v".to_vec(),
    });
    assert_eq!(answer, Message::MapPutResponse {});
    assert_eq!(get(&nodes[2], b"k"), Some(b"v".to_vec()));
}

#[test]
fn seeds_without_a_secret_refuse_to_start_unless_the_user_opts_out() {
    let cluster = cluster_name("seeds");
    let mut o = options(&cluster);
    o.discovery = DiscoveryMode::Seeds(vec!["127.0.0.1:1".into()]);
    let error = Node::start(o.clone()).err().expect("refused");
    let text = error.to_string();
    for setting in [
        "vertx.bop.secret",
        "VERTX_CLUSTER_SECRET",
        "vertx.bop.insecure",
    ] {
        assert!(text.contains(setting), "{text:?} should name {setting}");
    }

    o.secret = Some(b"short".to_vec());
    let error = Node::start(o).err().expect("a short secret is refused");
    assert!(error.to_string().contains("at least 16"), "{error}");
}

/// Binds and frees ports for a seed list, smallest first: the first node started holds the
/// smallest seed address, the one that bootstraps.
fn free_addresses(n: usize) -> Vec<String> {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut addresses: Vec<_> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    addresses.sort();
    addresses.iter().map(ToString::to_string).collect()
}

fn seeded(cluster: &str, seeds: &[String], own: &str, secret: Option<&str>) -> NodeOptions {
    let mut o = options(cluster);
    let (host, port) = own.rsplit_once(':').unwrap();
    o.host = host.into();
    o.port = port.parse().unwrap();
    o.discovery = DiscoveryMode::Seeds(seeds.to_vec());
    o.secret = secret.map(|s| s.as_bytes().to_vec());
    o.insecure = secret.is_none();
    o.join_timeout = Duration::from_secs(3);
    o
}

#[test]
fn only_nodes_holding_the_secret_join_a_seeded_cluster() {
    let secret = "the secret of this seeded cluster";
    let cluster = cluster_name("seeded");
    let addresses = free_addresses(3);
    let first = Node::start(seeded(&cluster, &addresses, &addresses[0], Some(secret)))
        .expect("the first seed bootstraps");
    let second = Node::start(seeded(&cluster, &addresses, &addresses[1], Some(secret)))
        .expect("a node with the secret joins");
    eventually("two members", || first.members().len() == 2);

    let stranger = Node::start(seeded(
        &cluster,
        &addresses,
        &addresses[2],
        Some("a different secret, same length"),
    ));
    let error = stranger.err().expect("a node without the secret joined");
    // Its start fails saying why the members would not let it in.
    assert!(
        error
            .to_string()
            .contains("refused by the peer: the handshake does not verify"),
        "{error}"
    );
    assert!(first.status().transport.handshakes_refused > 0);
    assert_eq!(first.members().len(), 2);

    let other_cluster = Node::start(seeded(
        &cluster_name("other"),
        &addresses,
        &addresses[2],
        Some(secret),
    ));
    let error = other_cluster
        .err()
        .expect("a node of another cluster joined this one");
    assert!(
        error
            .to_string()
            .contains(&format!("this node belongs to cluster {cluster:?}")),
        "{error}"
    );
    assert_eq!(second.members().len(), 2);
}

#[test]
fn insecure_nodes_cluster_with_each_other_but_not_with_secure_ones() {
    let cluster = cluster_name("insecure");
    let addresses = free_addresses(3);
    let first = Node::start(seeded(&cluster, &addresses, &addresses[0], None))
        .expect("an insecure seed starts");
    let _second = Node::start(seeded(&cluster, &addresses, &addresses[1], None))
        .expect("an insecure node joins an insecure cluster");
    eventually("two members", || first.members().len() == 2);
    let secure = Node::start(seeded(
        &cluster,
        &addresses,
        &addresses[2],
        Some("a secret the insecure nodes lack"),
    ));
    assert!(secure.is_err(), "a secure node joined an insecure cluster");
}

#[cfg(unix)]
#[test]
fn the_local_secret_is_generated_once_and_private_to_its_user() {
    use std::os::unix::fs::PermissionsExt;
    let cluster = cluster_name("local");
    let first = Node::start(options(&cluster)).expect("node starts");
    let dir = std::env::temp_dir().join("vertx-cluster").join(&cluster);
    let secret_file = dir.join("cluster.secret");
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode(&dir) & 0o777, 0o700, "the directory is private");
    assert_eq!(mode(&secret_file) & 0o777, 0o600, "the secret is private");
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    assert_eq!(secret.trim().len(), 64, "32 random bytes in hex");

    let second = Node::start(options(&cluster)).expect("a second node joins");
    eventually("two members", || first.members().len() == 2);
    assert_eq!(std::fs::read_to_string(&secret_file).unwrap(), secret);
    assert!(second.status().transport.connects > 0);
}
