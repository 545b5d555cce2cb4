use super::*;

fn identity(cluster: &str, secret: Option<&str>) -> Identity {
    Identity {
        cluster_name: cluster.into(),
        auth: match secret {
            Some(s) => Auth::Secret(ClusterKey::from_secret(s.as_bytes()).unwrap()),
            None => Auth::Insecure,
        },
        build: Build::THIS,
    }
}

const SECRET: &str = "correct horse battery staple";

/// Splits a byte stream into record bodies.
fn records(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(len) = record_len(bytes, usize::MAX).unwrap() {
        out.push(bytes[RECORD_HEADER..len].to_vec());
        bytes = &bytes[len..];
    }
    assert!(bytes.is_empty(), "a partial record is left");
    out
}

/// Runs the responder over every record of `stream`, returning the first error, or the opener
/// once authenticated together with the bytes it replied.
fn respond(
    identity: &Identity,
    stream: &[u8],
) -> (Result<Option<Opener>, HandshakeError>, Vec<u8>) {
    let mut responder = Responder::new();
    let mut replies = Vec::new();
    for body in records(stream) {
        match responder.step(identity, &body) {
            Ok(ResponderStep::Continue) => {}
            Ok(ResponderStep::Reply(bytes)) => replies.extend(bytes),
            Ok(ResponderStep::Authenticated(opener)) => return (Ok(Some(opener)), replies),
            Err(e) => return (Err(e), replies),
        }
    }
    (Ok(None), replies)
}

/// A whole handshake: the initiator's sealer, the responder's opener.
fn connect(a: &Identity, b: &Identity) -> Result<(Sealer, Opener), HandshakeError> {
    let (initiator, hello) = Initiator::start(a).unwrap();
    let mut responder = Responder::new();
    let mut reply = Vec::new();
    for body in records(&hello) {
        if let ResponderStep::Reply(bytes) = responder.step(b, &body)? {
            reply = bytes;
        }
    }
    let mut confirmation = Vec::new();
    let sealer = initiator.finish(&records(&reply)[0], &mut confirmation)?;
    match responder.step(b, &records(&confirmation)[0])? {
        ResponderStep::Authenticated(opener) => Ok((sealer, opener)),
        _ => panic!("the confirmation did not authenticate"),
    }
}

fn open_all(opener: &mut Opener, stream: &[u8]) -> Result<Vec<u8>, RecordRejected> {
    let mut plain = Vec::new();
    for body in records(stream) {
        let mut out = vec![0; Opener::plaintext_len(body.len())];
        let n = opener.open(&body, &mut out)?;
        plain.extend_from_slice(&out[..n]);
    }
    Ok(plain)
}

#[test]
fn members_with_the_same_secret_connect_and_their_records_open_in_order() {
    let a = identity("orders", Some(SECRET));
    let (mut sealer, mut opener) = connect(&a, &a.clone()).unwrap();
    let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    let mut stream = Vec::new();
    sealer.seal(b"first", &mut stream).unwrap();
    sealer.seal(&big, &mut stream).unwrap();
    assert_eq!(
        stream.len(),
        Sealer::sealed_len(5) + Sealer::sealed_len(big.len())
    );
    let mut expected = b"first".to_vec();
    expected.extend(&big);
    assert_eq!(open_all(&mut opener, &stream).unwrap(), expected);
}

#[test]
fn a_replayed_handshake_does_not_authenticate() {
    let a = identity("orders", Some(SECRET));
    let (initiator, mut stream) = Initiator::start(&a).unwrap();
    let (outcome, reply) = respond(&a, &stream);
    assert!(outcome.unwrap().is_none());
    let mut confirmation = Vec::new();
    initiator
        .finish(&records(&reply)[0], &mut confirmation)
        .unwrap();
    stream.extend(&confirmation);
    // A fresh responder answers the same hello with new ephemeral keys, so the confirmation
    // sealed for the first one cannot open.
    let (outcome, _) = respond(&a, &stream);
    assert!(matches!(outcome, Err(HandshakeError::Unauthenticated(_))));
}

#[test]
fn a_node_without_the_secret_is_refused_and_told_why() {
    let ours = identity("orders", Some(SECRET));
    let theirs = identity("orders", Some("another secret of enough bytes"));
    let (initiator, hello) = Initiator::start(&theirs).unwrap();
    let (outcome, _) = respond(&ours, &hello);
    let error = outcome.err().expect("refused");
    assert!(
        matches!(error, HandshakeError::Unauthenticated(_)),
        "{error}"
    );
    let refusal = error.refusal().unwrap();
    let told = initiator
        .finish(&records(&refusal)[0], &mut Vec::new())
        .err()
        .unwrap();
    assert!(
        told.to_string()
            .contains("does not hold this cluster's secret"),
        "{told}"
    );
}

#[test]
fn a_node_of_another_cluster_is_refused_by_name() {
    let error = connect(
        &identity("payments", Some(SECRET)),
        &identity("orders", Some(SECRET)),
    )
    .err()
    .unwrap();
    assert!(matches!(error, HandshakeError::OtherCluster(_)));
    let text = error.to_string();
    assert!(
        text.contains("\"payments\"") && text.contains("\"orders\""),
        "{text}"
    );
}

#[test]
fn secure_and_insecure_nodes_refuse_each_other() {
    for (a, b) in [
        (identity("c", None), identity("c", Some(SECRET))),
        (identity("c", Some(SECRET)), identity("c", None)),
    ] {
        let error = connect(&a, &b).err().unwrap();
        assert!(matches!(error, HandshakeError::ModeMismatch(_)), "{error}");
    }
    assert!(connect(&identity("c", None), &identity("c", None)).is_ok());
}

/// A hello in the layout of channel version 1, which the builds before the hello carried the
/// build sent: magic, version, mode, the cluster name.
fn hello_of_channel_1(cluster: &str) -> Vec<u8> {
    let mut body = vec![RECORD_HELLO];
    body.extend_from_slice(MAGIC);
    body.extend_from_slice(&[1, MODE_SECRET, cluster.len() as u8]);
    body.extend_from_slice(cluster.as_bytes());
    body
}

#[test]
fn a_node_of_another_build_is_refused_and_both_sides_are_told_which() {
    let ours = identity("orders", Some(SECRET));
    let mut other_rules = ours.clone();
    other_rules.build.rules += 1;
    let mut other_frames = ours.clone();
    other_frames.build.protocol += 1;
    for theirs in [other_rules, other_frames] {
        let (initiator, hello) = Initiator::start(&theirs).unwrap();
        let (outcome, _) = respond(&ours, &hello);
        let error = outcome.err().expect("refused");
        assert!(matches!(error, HandshakeError::OtherBuild(_)), "{error}");
        let text = error.to_string();
        assert!(
            text.contains(&format!("the peer runs a build of {}", theirs.build))
                && text.contains(&format!("this node {}", ours.build))
                && text.contains("stop every node of the other build"),
            "{text}"
        );
        let refusal = error.refusal().unwrap();
        let told = initiator
            .finish(&records(&refusal)[0], &mut Vec::new())
            .err()
            .unwrap();
        assert!(told.to_string().contains(&text), "{told}");
        // Its own build is accepted.
        assert!(connect(&theirs, &theirs).is_ok());
    }
    // The builds before the hello carried the build are refused by their channel version.
    let error = Responder::new()
        .step(&ours, &hello_of_channel_1("orders"))
        .err()
        .unwrap();
    assert!(matches!(error, HandshakeError::OtherBuild(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains(&format!("channel version 1, this node {CHANNEL_VERSION}")),
        "{error}"
    );
}

#[test]
fn a_plain_frame_is_not_a_hello() {
    let ours = identity("orders", Some(SECRET));
    let frame = crate::wire::FramedMessage::request(1, crate::wire::Message::NodeListRequest {})
        .encode()
        .unwrap();
    let mut responder = Responder::new();
    // The frame's first two bytes read as a record length far beyond the limit.
    assert!(matches!(
        record_len(&frame, HANDSHAKE_RECORD_LIMIT),
        Err(HandshakeError::TooLarge(_))
    ));
    let error = responder.step(&ours, &frame).err().unwrap();
    assert!(matches!(error, HandshakeError::Protocol(_)));
}

#[test]
fn an_altered_replayed_or_reordered_record_does_not_open() {
    let a = identity("orders", Some(SECRET));
    let mut first = Vec::new();
    let mut second = Vec::new();
    {
        let (mut sealer, mut opener) = connect(&a, &a).unwrap();
        sealer.seal(b"one", &mut first).unwrap();
        sealer.seal(b"two", &mut second).unwrap();
        let mut altered = first.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(open_all(&mut opener, &altered), Err(RecordRejected));
    }
    let (mut sealer, mut opener) = connect(&a, &a).unwrap();
    let mut stream = Vec::new();
    sealer.seal(b"one", &mut stream).unwrap();
    assert_eq!(open_all(&mut opener, &stream).unwrap(), b"one");
    assert_eq!(
        open_all(&mut opener, &stream),
        Err(RecordRejected),
        "replayed"
    );

    let (mut sealer, mut opener) = connect(&a, &a).unwrap();
    let mut one = Vec::new();
    let mut two = Vec::new();
    sealer.seal(b"one", &mut one).unwrap();
    sealer.seal(b"two", &mut two).unwrap();
    assert_eq!(
        open_all(&mut opener, &two),
        Err(RecordRejected),
        "reordered"
    );
    // Records of another session do not open either.
    let (_, mut other) = connect(&a, &a).unwrap();
    assert_eq!(open_all(&mut other, &second), Err(RecordRejected));
}

#[test]
fn short_secrets_are_refused() {
    let error = ClusterKey::from_secret(b"short").unwrap_err();
    assert!(error.contains("at least 16"), "{error}");
    assert_eq!(
        format!("{:?}", ClusterKey::from_secret(SECRET.as_bytes()).unwrap()),
        "ClusterKey(..)"
    );
}

#[test]
fn refusal_reasons_are_bounded() {
    let long = HandshakeError::OtherCluster("x".repeat(10_000));
    let refusal = long.refusal().unwrap();
    assert!(refusal.len() <= HANDSHAKE_RECORD_LIMIT);
}
