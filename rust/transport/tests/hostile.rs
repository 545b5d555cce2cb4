//! What a hostile peer can send a transport: malformed frames and oversized claims from a
//! member, plain frames without the handshake, handshakes without the secret, of another cluster
//! or of another build, altered and replayed records, and silent connections holding handshake
//! places. Each is refused, counted, and costs only its own connection.

use super::*;

/// Opens an authenticated socket to `to` and writes `frame` on it as one sealed record; returns
/// the socket and the record (to send again).
fn send_sealed(net: &mut Net, to: SocketAddr, frame: &[u8]) -> (StdStream, Vec<u8>) {
    let (mut raw, mut sealer) = authenticated_socket(net, to);
    let mut sealed = Vec::new();
    sealer.seal(frame, &mut sealed).unwrap();
    raw.write_all(&sealed).unwrap();
    (raw, sealed)
}

#[test]
fn a_malformed_frame_from_a_member_closes_only_its_connection() {
    let mut net = Net::new();
    let a = net.add(member(), None);
    let b = net.add(member(), None);
    let to = net.addr(b);
    net.send(a, to, &put(1, 10)).unwrap();
    net.pump_until("the first frame", |net| net.inboxes[b].len() == 1);

    let mut bad_checksum = put(2, 10).encode().unwrap();
    bad_checksum[HEADER_SIZE] ^= 0xff;
    let (mut raw, _) = send_sealed(&mut net, to, &bad_checksum);
    net.pump_until("the malformed frame", |net| {
        net.nodes[b].stats().malformed_frames == 1
    });
    net.pump_until("the bad connection to close", |_| closed_by_peer(&mut raw));

    // A header claiming more than the maximum is refused before anything is allocated for it.
    let mut huge_claim = put(3, 10).encode().unwrap();
    huge_claim[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let _raw = send_sealed(&mut net, to, &huge_claim);
    net.pump_until("the oversized claim", |net| {
        net.nodes[b].stats().malformed_frames == 2
    });

    net.send(a, to, &put(4, 10)).unwrap();
    net.pump_until("a frame on the good connection", |net| {
        net.inboxes[b].len() == 2
    });
    assert_eq!(request_ids(&net.inboxes[b]), vec![1, 4]);
    assert_eq!(net.nodes[a].stats().connects, 1);
    assert_eq!(net.nodes[b].stats().frames_received, 2);
    assert_eq!(net.nodes[b].stats().handshakes_accepted, 3);
}

#[test]
fn a_plain_frame_without_the_handshake_is_never_parsed() {
    let mut net = Net::new();
    let b = net.add(member(), None);
    let to = net.addr(b);
    // What an attacker's plain socket sends: a well-formed frame, no handshake.
    let forged = FramedMessage::new(
        crate::wire::MessageFlags::NONE,
        0,
        Message::ForwardProposals { proposals: vec![] },
    )
    .encode()
    .unwrap();
    let mut raw = StdStream::connect(to).unwrap();
    raw.write_all(&forged).unwrap();
    net.pump_until("the refusal", |net| {
        net.nodes[b].stats().handshakes_refused == 1
    });
    net.pump_until("the connection to close", |_| closed_by_peer(&mut raw));
    assert!(net.inboxes[b].is_empty(), "no frame was delivered");
    let stats = net.nodes[b].stats();
    assert_eq!((stats.frames_received, stats.malformed_frames), (0, 0));

    // Garbage far beyond a handshake record is refused once the first kilobyte is in.
    let mut raw = StdStream::connect(to).unwrap();
    let _ = raw.write_all(&vec![0xffu8; 1 << 20]);
    net.pump_until("the second refusal", |net| {
        net.nodes[b].stats().handshakes_refused == 2
    });
    assert!(net.inboxes[b].is_empty());
}

#[test]
fn strangers_and_other_builds_are_refused_on_both_sides_and_told_why() {
    let mut net = Net::new();
    let b = net.add(member(), None);
    let to = net.addr(b);
    let mut other_build = member();
    other_build.identity.build.rules += 1;
    let strangers = [
        (
            TransportConfig::new("tests", with_secret("not the secret of this cluster")),
            "does not hold this cluster's secret",
        ),
        (
            TransportConfig::new("another cluster", with_secret(SECRET)),
            "the peer is a node of cluster \"another cluster\"",
        ),
        (
            TransportConfig::new("tests", Auth::Insecure),
            "this node requires the secret",
        ),
        (other_build, "the peer runs a build of protocol version"),
    ];
    for (config, why) in strangers {
        let refused_before = net.nodes[b].stats().handshakes_refused;
        let stranger = net.add(config, None);
        net.send(stranger, to, &put(1, 10)).unwrap();
        // The stranger retries with backoff, and is refused each time.
        net.pump_until("the stranger's refusal", |net| {
            net.nodes[b].stats().handshakes_refused > refused_before
                && net.nodes[stranger].stats().handshakes_failed >= 1
        });
        assert_eq!(net.nodes[stranger].stats().connects, 0);
        let failure = net.nodes[stranger].last_handshake_failure().unwrap();
        assert!(
            failure.starts_with(&format!("{to}: refused by the peer: ")) && failure.contains(why),
            "{failure}"
        );
    }
    assert!(
        net.inboxes[b].is_empty(),
        "no stranger's frame was delivered"
    );

    // The cluster's own members still connect.
    let a = net.add(member(), None);
    net.send(a, to, &put(2, 10)).unwrap();
    net.pump_until("the member's frame", |net| net.inboxes[b].len() == 1);
}

#[test]
fn an_altered_or_replayed_record_closes_the_connection() {
    let mut net = Net::new();
    let b = net.add(member(), None);
    let to = net.addr(b);
    let frame = put(1, 10).encode().unwrap();

    let (mut raw, sealed) = send_sealed(&mut net, to, &frame);
    net.pump_until("the frame", |net| net.inboxes[b].len() == 1);
    raw.write_all(&sealed).unwrap();
    net.pump_until("the replay to be rejected", |net| {
        net.nodes[b].stats().records_rejected == 1
    });
    net.pump_until("the replaying connection to close", |_| {
        closed_by_peer(&mut raw)
    });

    let (mut raw, mut sealer) = authenticated_socket(&mut net, to);
    let mut sealed = Vec::new();
    sealer.seal(&frame, &mut sealed).unwrap();
    sealed[RECORD_HEADER + 3] ^= 0x01;
    raw.write_all(&sealed).unwrap();
    net.pump_until("the altered record to be rejected", |net| {
        net.nodes[b].stats().records_rejected == 2
    });
    assert_eq!(net.inboxes[b].len(), 1, "neither record was delivered");
}

#[test]
fn strangers_hold_a_handshake_place_only_briefly_and_only_a_few_of_them() {
    let config = || TransportConfig {
        handshake_timeout: Duration::from_millis(200),
        max_pending_handshakes: 2,
        ..member()
    };
    let mut net = Net::new();
    let b = net.add(config(), None);
    let to = net.addr(b);
    let mut silent: Vec<StdStream> = (0..3).map(|_| StdStream::connect(to).unwrap()).collect();
    net.pump_until("the third to be closed at once", |net| {
        net.nodes[b].stats().connections_over_limit == 1
    });
    assert_eq!(net.nodes[b].inbound.len(), 2);
    // It is told why, in a refusal record, before the close.
    let third = &mut silent[2];
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut told = Vec::new();
    let _ = third.read_to_end(&mut told);
    let reason = String::from_utf8_lossy(&told[RECORD_HEADER + 1..]);
    assert!(
        reason.contains("busy") && reason.contains("handshakes"),
        "{reason:?}"
    );
    net.pump_until("the silent ones to time out", |net| {
        net.nodes[b].stats().handshakes_timed_out == 2
    });
    assert!(net.nodes[b].inbound.is_empty());

    let a = net.add(config(), None);
    net.send(a, to, &put(1, 10)).unwrap();
    net.pump_until("a member's frame once the places are free", |net| {
        net.inboxes[b].len() == 1
    });
    drop(silent);
}
