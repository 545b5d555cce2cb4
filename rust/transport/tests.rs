//! Transports exchanging frames over 127.0.0.1, all driven from the test thread through one
//! `Poll`, the way a node's event loop drives its own. Every wait is bounded: a test that does not
//! see what it waits for within `PATIENCE` fails instead of hanging. What a hostile peer sends
//! is tested in `tests/hostile.rs`, with the helpers here.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::time::{Duration, Instant};

use mio::{Events, Poll};

use super::secure::{record_len, Initiator, Sealer, HANDSHAKE_RECORD_LIMIT, RECORD_HEADER};
use super::*;
use crate::wire::HEADER_SIZE;

mod hostile;

const SECRET: &str = "a cluster secret for the tests";

const PATIENCE: Duration = Duration::from_secs(10);
/// Nodes' token ranges are this far apart, so `owns` tells them apart on the shared poll.
const TOKENS_PER_NODE: usize = 1_000_000;

struct Net {
    poll: Poll,
    events: Events,
    nodes: Vec<Transport>,
    inboxes: Vec<Vec<Incoming>>,
}

impl Net {
    fn new() -> Net {
        Net {
            poll: Poll::new().expect("poll"),
            events: Events::with_capacity(256),
            nodes: Vec::new(),
            inboxes: Vec::new(),
        }
    }

    fn try_add_at(
        &mut self,
        addr: SocketAddr,
        config: TransportConfig,
        faults: Option<Faults>,
    ) -> io::Result<usize> {
        let first_token = 1 + self.nodes.len() * TOKENS_PER_NODE;
        let node = Transport::bind(addr, self.poll.registry(), first_token, config, faults)?;
        self.nodes.push(node);
        self.inboxes.push(Vec::new());
        Ok(self.nodes.len() - 1)
    }

    fn add(&mut self, config: TransportConfig, faults: Option<Faults>) -> usize {
        self.try_add_at(loopback(0), config, faults).expect("bind")
    }

    fn addr(&self, node: usize) -> SocketAddr {
        self.nodes[node].local_addr()
    }

    fn send(
        &mut self,
        from: usize,
        to: SocketAddr,
        frame: &FramedMessage<Message>,
    ) -> Result<(), SendError> {
        self.nodes[from].send(self.poll.registry(), to, frame)
    }

    /// One event-loop iteration: poll (no longer than `max_wait` or the next deadline),
    /// dispatch events to their owners, run due timers.
    fn turn(&mut self, max_wait: Duration) {
        let now = Instant::now();
        let timeout = self
            .nodes
            .iter()
            .filter_map(Transport::next_deadline)
            .map(|deadline| deadline.saturating_duration_since(now))
            .fold(max_wait, Duration::min);
        if let Err(error) = self.poll.poll(&mut self.events, Some(timeout)) {
            assert_eq!(error.kind(), ErrorKind::Interrupted, "poll failed: {error}");
        }
        let registry = self.poll.registry();
        for event in self.events.iter() {
            for (node, inbox) in self.nodes.iter_mut().zip(&mut self.inboxes) {
                if node.owns(event.token()) {
                    node.handle_event(registry, event, inbox);
                }
            }
        }
        let now = Instant::now();
        for node in &mut self.nodes {
            if node.next_deadline().is_some_and(|deadline| deadline <= now) {
                node.on_timer(registry, now);
            }
        }
    }

    fn pump_until(&mut self, what: &str, mut done: impl FnMut(&Net) -> bool) {
        let give_up = Instant::now() + PATIENCE;
        while !done(self) {
            assert!(Instant::now() < give_up, "timed out waiting for {what}");
            self.turn(Duration::from_millis(10));
        }
    }

    fn pump_for(&mut self, duration: Duration) {
        let until = Instant::now() + duration;
        while Instant::now() < until {
            self.turn(until.saturating_duration_since(Instant::now()));
        }
    }
}

fn with_secret(secret: &str) -> Auth {
    Auth::Secret(ClusterKey::from_secret(secret.as_bytes()).unwrap())
}

/// The settings of a member of the tests' cluster.
fn member() -> TransportConfig {
    TransportConfig::new("tests", with_secret(SECRET))
}

/// A plain socket that completed the handshake as a member would, and the sealer of its
/// session: what a test needs to send records a member could not (altered, replayed).
fn authenticated_socket(net: &mut Net, to: SocketAddr) -> (StdStream, Sealer) {
    let identity = member().identity;
    let (initiator, first) = Initiator::start(&identity).unwrap();
    let mut socket = StdStream::connect(to).unwrap();
    socket.write_all(&first).unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut answer = Vec::new();
    net.pump_until("the handshake answer", |_| {
        let mut chunk = [0u8; 256];
        if let Ok(n) = socket.read(&mut chunk) {
            answer.extend_from_slice(&chunk[..n]);
        }
        matches!(record_len(&answer, HANDSHAKE_RECORD_LIMIT), Ok(Some(_)))
    });
    let len = record_len(&answer, HANDSHAKE_RECORD_LIMIT)
        .unwrap()
        .unwrap();
    let mut confirmation = Vec::new();
    let sealer = initiator
        .finish(&answer[RECORD_HEADER..len], &mut confirmation)
        .unwrap();
    socket.set_nonblocking(false).unwrap();
    socket.write_all(&confirmation).unwrap();
    (socket, sealer)
}

/// Whether the node closed `socket` (reading it gives end of file or a reset).
fn closed_by_peer(socket: &mut StdStream) -> bool {
    socket.set_nonblocking(true).unwrap();
    let mut scratch = [0u8; 4096];
    loop {
        match socket.read(&mut scratch) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(error) if error.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A loopback address where nothing listens (the port was free a moment ago).
fn unused_addr() -> SocketAddr {
    StdListener::bind(loopback(0))
        .unwrap()
        .local_addr()
        .unwrap()
}

fn put(request_id: u32, value_len: usize) -> FramedMessage<Message> {
    FramedMessage::request(
        request_id,
        Message::MapPutRequest {
            map_name: "m".into(),
            key: request_id.to_le_bytes().to_vec(),
            value: vec![request_id as u8; value_len],
        },
    )
}

fn request_ids(inbox: &[Incoming]) -> Vec<u32> {
    inbox
        .iter()
        .map(|incoming| incoming.frame.request_id)
        .collect()
}

#[test]
fn ten_thousand_frames_arrive_in_order() {
    let mut net = Net::new();
    let a = net.add(member(), None);
    let b = net.add(member(), None);
    let to = net.addr(b);
    for id in 0..10_000 {
        net.send(a, to, &put(id, 100)).unwrap();
    }
    net.pump_until("10k frames", |net| net.inboxes[b].len() == 10_000);

    assert_eq!(
        request_ids(&net.inboxes[b]),
        (0..10_000).collect::<Vec<_>>()
    );
    assert_eq!(net.inboxes[b][9_999].frame, put(9_999, 100));
    assert_eq!(net.nodes[a].stats().frames_sent, 10_000);
    assert_eq!(net.nodes[a].stats().connects, 1);
    assert_eq!(net.nodes[b].stats().frames_received, 10_000);
}

#[test]
fn enqueued_frames_wait_for_flush_queued_and_leave_in_one_write() {
    let mut net = Net::new();
    let a = net.add(member(), None);
    let b = net.add(member(), None);
    let c = net.add(member(), None);
    let (to_b, to_c) = (net.addr(b), net.addr(c));
    net.send(a, to_b, &put(0, 10)).unwrap();
    net.send(a, to_c, &put(0, 10)).unwrap();
    net.pump_until("both connected", |net| {
        net.inboxes[b].len() == 1 && net.inboxes[c].len() == 1
    });

    let frame_len = put(1, 10).encode().unwrap().len();
    for id in 1..=50 {
        net.nodes[a].enqueue(to_b, &put(id, 10)).unwrap();
        net.nodes[a].enqueue(to_c, &put(id, 10)).unwrap();
    }
    for to in [to_b, to_c] {
        assert_eq!(
            net.nodes[a].outbound[&to].queue.queued_bytes(),
            50 * frame_len,
            "nothing is written before flush_queued"
        );
    }
    net.nodes[a].flush_queued(net.poll.registry());
    for to in [to_b, to_c] {
        assert_eq!(net.nodes[a].outbound[&to].queue.queued_bytes(), 0);
    }
    net.pump_until("the enqueued frames", |net| {
        net.inboxes[b].len() == 51 && net.inboxes[c].len() == 51
    });

    assert_eq!(request_ids(&net.inboxes[b]), (0..=50).collect::<Vec<_>>());
    assert_eq!(request_ids(&net.inboxes[c]), (0..=50).collect::<Vec<_>>());
    assert_eq!(net.nodes[a].stats().frames_sent, 102);
    assert_eq!(
        net.nodes[a].take_refused(),
        vec![],
        "live listeners refuse nothing"
    );
}

#[test]
fn a_frame_of_the_maximum_size_arrives_and_a_larger_one_is_refused() {
    let max = 4 * 1024 * 1024;
    let config = || TransportConfig {
        max_frame_size: max,
        ..member()
    };
    let mut net = Net::new();
    let a = net.add(config(), None);
    let b = net.add(config(), None);
    let to = net.addr(b);
    let overhead = put(1, 0).encode().unwrap().len();
    let largest = put(1, max - overhead);
    assert_eq!(largest.encode().unwrap().len(), max);

    net.send(a, to, &largest).unwrap();
    let too_large = net.send(a, to, &put(2, max - overhead + 1));
    assert!(matches!(
        too_large,
        Err(SendError::Encode(WireError::FrameTooLarge { .. }))
    ));
    net.send(a, to, &put(3, 10)).unwrap();
    net.pump_until("both frames", |net| net.inboxes[b].len() == 2);

    assert_eq!(net.inboxes[b][0].frame, largest);
    assert_eq!(net.inboxes[b][1].frame, put(3, 10));
    assert_eq!(net.nodes[b].stats().malformed_frames, 0);
}

#[test]
fn queued_frames_reach_a_listener_that_appears_later() {
    let config = || TransportConfig {
        reconnect_min: Duration::from_millis(5),
        reconnect_max: Duration::from_millis(40),
        ..member()
    };
    let mut net = Net::new();
    let a = net.add(config(), None);
    let later = unused_addr();
    for id in 0..5 {
        net.send(a, later, &put(id, 10)).unwrap();
    }
    net.pump_until("three failed connects", |net| {
        net.nodes[a].stats().connect_failures >= 3
    });
    let retry_in = net.nodes[a].next_deadline().expect("a retry is scheduled");
    assert!(retry_in > Instant::now(), "backoff makes the retry wait");
    assert_eq!(net.nodes[a].take_refused(), vec![later], "reported once");
    assert_eq!(net.nodes[a].take_refused(), vec![]);

    let b = net
        .try_add_at(later, config(), None)
        .expect("bind the reserved port");
    net.pump_until("the queued frames", |net| net.inboxes[b].len() == 5);

    assert_eq!(request_ids(&net.inboxes[b]), vec![0, 1, 2, 3, 4]);
    assert_eq!(net.nodes[a].stats().connects, 1);
}

#[test]
fn sends_are_refused_when_the_destination_never_reads() {
    let max_buffered_bytes = 1024 * 1024;
    let mut net = Net::new();
    let a = net.add(
        TransportConfig {
            max_buffered_bytes,
            ..member()
        },
        None,
    );
    // The kernel completes the handshake into the backlog, but nobody ever reads.
    // Nothing is written before the handshake, which a deaf listener never answers: the
    // queue alone must hold the line.
    let deaf = StdListener::bind(loopback(0)).unwrap();
    let to = deaf.local_addr().unwrap();
    net.send(a, to, &put(0, 10)).unwrap();

    let give_up = Instant::now() + PATIENCE;
    let queued = loop {
        assert!(Instant::now() < give_up, "socket buffers never filled");
        match net.send(a, to, &put(1, 64 * 1024)) {
            Ok(()) => net.turn(Duration::ZERO),
            Err(SendError::Backpressure { queued }) => break queued,
            Err(other) => panic!("unexpected {other}"),
        }
    };
    assert!(
        queued > 0 && queued <= max_buffered_bytes,
        "queued {queued}"
    );
    assert!(matches!(
        net.send(a, to, &put(2, 64 * 1024)),
        Err(SendError::Backpressure { .. })
    ));
    assert_eq!(net.nodes[a].stats().refused_backpressure, 2);
    drop(deaf);
}

#[test]
fn blocked_links_drop_frames_and_heal_restores_delivery() {
    let faults = Faults::new();
    let mut net = Net::new();
    let a = net.add(member(), Some(faults.clone()));
    let b = net.add(member(), Some(faults.clone()));
    let (addr_a, addr_b) = (net.addr(a), net.addr(b));

    faults.block(addr_a, addr_b);
    assert_eq!(net.send(a, addr_b, &put(1, 10)), Err(SendError::Blocked));
    assert_eq!(net.send(b, addr_a, &put(2, 10)), Err(SendError::Blocked));
    faults.heal();
    net.send(a, addr_b, &put(3, 10)).unwrap();
    net.send(b, addr_a, &put(4, 10)).unwrap();
    net.pump_until("delivery after heal", |net| {
        !net.inboxes[a].is_empty() && !net.inboxes[b].is_empty()
    });

    // Frames on one connection arrive in order, so a blocked frame would have come first.
    assert_eq!(request_ids(&net.inboxes[b]), vec![3]);
    assert_eq!(request_ids(&net.inboxes[a]), vec![4]);
    assert_eq!(net.nodes[a].stats().frames_sent, 1);
}

#[test]
fn shutdown_frees_the_port_and_senders_reconnect_to_its_successor() {
    let mut net = Net::new();
    let a = net.add(member(), None);
    let b = net.add(member(), None);
    let to = net.addr(b);
    net.send(a, to, &put(1, 10)).unwrap();
    net.pump_until("the first frame", |net| net.inboxes[b].len() == 1);

    net.nodes[b].shutdown(net.poll.registry());
    assert_eq!(
        net.send(b, net.addr(a), &put(2, 10)),
        Err(SendError::Closed)
    );
    let successor = net
        .try_add_at(to, member(), None)
        .expect("the port is free again");

    // Frames written before `a` noticed the close die with the old connection; keep sending
    // until one arrives over a new one.
    let mut id = 10;
    let give_up = Instant::now() + PATIENCE;
    while net.inboxes[successor].is_empty() {
        assert!(Instant::now() < give_up, "no frame reached the successor");
        net.send(a, to, &put(id, 10)).unwrap();
        id += 1;
        net.pump_for(Duration::from_millis(20));
    }
    assert_eq!(net.nodes[a].stats().connects, 2);
}

#[test]
fn keepalives_hold_an_idle_connection_open_and_are_not_delivered() {
    let config = || TransportConfig {
        ping_interval: Duration::from_millis(20),
        idle_timeout: Duration::from_millis(100),
        handshake_timeout: Duration::from_millis(100),
        ..member()
    };
    let mut net = Net::new();
    let a = net.add(config(), None);
    let b = net.add(config(), None);
    let to = net.addr(b);
    net.send(a, to, &put(1, 10)).unwrap();
    net.pump_until("the first frame", |net| net.inboxes[b].len() == 1);

    let mut silent = StdStream::connect(to).unwrap();
    silent.set_nonblocking(true).unwrap();
    net.pump_until("the silent connection to be closed", |_| {
        matches!(silent.read(&mut [0u8; 16]), Ok(0))
    });
    net.pump_for(Duration::from_millis(150));

    assert_eq!(
        net.nodes[b].inbound.len(),
        1,
        "the pinged connection is still open"
    );
    assert_eq!(request_ids(&net.inboxes[b]), vec![1]);
    net.send(a, to, &put(2, 10)).unwrap();
    net.pump_until("a frame over the kept connection", |net| {
        net.inboxes[b].len() == 2
    });
    assert_eq!(net.nodes[a].stats().connects, 1);
}

#[test]
fn forget_drops_queued_frames_and_their_retries() {
    let mut net = Net::new();
    let a = net.add(member(), None);
    let nowhere = unused_addr();
    net.send(a, nowhere, &put(1, 10)).unwrap();
    assert!(net.nodes[a].next_deadline().is_some());
    net.nodes[a].forget(net.poll.registry(), nowhere);
    assert_eq!(net.nodes[a].next_deadline(), None);
}
