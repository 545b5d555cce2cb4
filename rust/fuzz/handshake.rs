//! The handshake target: what a node reads from a socket before, and right after, the peer is
//! authenticated (`transport::secure`), on both sides of a connection.
//!
//! Byte 0 of an input is a control byte, the rest the peer's bytes:
//! - bit 0: the node holds a cluster secret (else it runs insecure);
//! - bit 1: the node connected (the rest is the listener's answer, taken by
//!   [`Initiator::finish`]); else it listens (the rest is what a connecting peer sends, cut into
//!   records and stepped through a [`Responder`], as the inbound connection does);
//! - bit 2, listening: a genuine peer's hello and first handshake message come first, so the
//!   rest meets the stage that waits for the confirmation (which no input can forge: the open
//!   channel's records are reached through bit 3);
//! - bit 3, listening: the rest is the plaintext of a genuine peer that completed the
//!   handshake, sealed into records: opened, it must give back the same bytes (an
//!   authenticated peer's records never panic the node either; what they carry is the frame
//!   target's). The session lives on across inputs.

use std::cell::RefCell;

use crate::transport::secure::{
    record_len, Auth, Build, ClusterKey, Identity, Initiator, Opener, Responder, ResponderStep,
    Sealer, HANDSHAKE_RECORD_LIMIT, MAX_RECORD_BODY, RECORD_HEADER,
};

const SECRET: &[u8] = b"a cluster secret for fuzzing";
const CLUSTER: &str = "fuzz";

fn identity(secret: bool) -> Identity {
    Identity {
        cluster_name: CLUSTER.into(),
        auth: if secret {
            Auth::Secret(ClusterKey::from_secret(SECRET).expect("a long enough secret"))
        } else {
            Auth::Insecure
        },
        build: Build::THIS,
    }
}

pub(super) fn run(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let identity = identity(control & 0x01 != 0);
    if control & 0x02 != 0 {
        answer_to_initiator(&identity, rest);
    } else if control & 0x08 != 0 {
        sealed_by_peer(&identity, rest);
    } else if control & 0x04 != 0 {
        let mut stream = OPENINGS.with(|o| o[usize::from(control & 0x01)].clone());
        stream.extend_from_slice(rest);
        listen(&identity, &stream);
    } else {
        listen(&identity, rest);
    }
}

/// A connecting node's first records: a genuine hello and first handshake message.
pub(super) fn opening(secret: bool) -> Vec<u8> {
    Initiator::start(&identity(secret))
        .expect("a handshake starts")
        .1
}

/// What a listening node answers a genuine opening with (its reply records).
pub(super) fn answer(secret: bool) -> Vec<u8> {
    let identity = identity(secret);
    let mut responder = Responder::new();
    let mut stream = &opening(secret)[..];
    while let Ok(Some(len)) = record_len(stream, HANDSHAKE_RECORD_LIMIT) {
        if let Ok(ResponderStep::Reply(reply)) =
            responder.step(&identity, &stream[RECORD_HEADER..len])
        {
            return reply;
        }
        stream = &stream[len..];
    }
    unreachable!("a genuine opening is answered")
}

/// Cuts `stream` into records and takes them as a listening node does: through the handshake,
/// then opened. Stops at the first refusal or rejection, or at an incomplete record.
fn listen(identity: &Identity, mut stream: &[u8]) {
    let mut responder = Responder::new();
    let mut opener: Option<Opener> = None;
    loop {
        let limit = if opener.is_some() {
            RECORD_HEADER + MAX_RECORD_BODY
        } else {
            HANDSHAKE_RECORD_LIMIT
        };
        let len = match record_len(stream, limit) {
            Ok(Some(len)) => len,
            Ok(None) => return,
            Err(refused) => {
                let _ = refused.refusal();
                return;
            }
        };
        let body = &stream[RECORD_HEADER..len];
        match opener.as_mut() {
            None => match responder.step(identity, body) {
                Ok(ResponderStep::Authenticated(o)) => opener = Some(o),
                Ok(ResponderStep::Continue | ResponderStep::Reply(_)) => {}
                Err(refused) => {
                    // The refusal record the node would send back, built from the peer's bytes.
                    let _ = (refused.kind(), refused.refusal());
                    return;
                }
            },
            Some(o) => {
                let mut plain = vec![0u8; Opener::plaintext_len(body.len())];
                if o.open(body, &mut plain).is_err() {
                    return;
                }
            }
        }
        stream = &stream[len..];
    }
}

/// The listener's answer `stream` taken by a node that connected with a genuine opening.
fn answer_to_initiator(identity: &Identity, stream: &[u8]) {
    let (initiator, _) = Initiator::start(identity).expect("a handshake starts");
    if let Ok(Some(len)) = record_len(stream, HANDSHAKE_RECORD_LIMIT) {
        let mut confirmation = Vec::new();
        if let Err(refused) = initiator.finish(&stream[RECORD_HEADER..len], &mut confirmation) {
            let _ = (refused.kind(), format!("{refused}"));
        }
    }
}

thread_local! {
    /// Per mode, a session a genuine peer completed with a listening node, kept across inputs
    /// (a handshake costs key exchanges): taken out for an input and put back once its records
    /// opened, so an input that fails leaves no session behind out of step.
    static SESSIONS: RefCell<[Option<(Sealer, Opener)>; 2]> = const { RefCell::new([None, None]) };
    /// Per mode, a genuine peer's opening (made once: it costs a key pair).
    static OPENINGS: [Vec<u8>; 2] = [opening(false), opening(true)];
}

/// A genuine peer seals `plaintext` into records: the listening node opens every record, and
/// gets `plaintext` back.
fn sealed_by_peer(identity: &Identity, plaintext: &[u8]) {
    let mode = usize::from(matches!(identity.auth, Auth::Secret(_)));
    let (mut sealer, mut opener) = SESSIONS
        .with(|s| s.borrow_mut()[mode].take())
        .unwrap_or_else(|| session(identity));
    let mut sealed = Vec::new();
    sealer.seal(plaintext, &mut sealed).expect("seals");
    let mut opened = Vec::new();
    let mut records = &sealed[..];
    while !records.is_empty() {
        let len = record_len(records, RECORD_HEADER + MAX_RECORD_BODY)
            .expect("a sealed record fits")
            .expect("a sealed record is whole");
        let body = &records[RECORD_HEADER..len];
        let mut plain = vec![0u8; Opener::plaintext_len(body.len())];
        let n = opener
            .open(body, &mut plain)
            .expect("a sealed record opens");
        opened.extend_from_slice(&plain[..n]);
        records = &records[len..];
    }
    assert_eq!(opened, plaintext, "sealed and opened, the bytes changed");
    SESSIONS.with(|s| s.borrow_mut()[mode] = Some((sealer, opener)));
}

/// A handshake between a genuine peer and a listening node, completed: the peer's sealer and
/// the node's opener.
fn session(identity: &Identity) -> (Sealer, Opener) {
    let (initiator, opening) = Initiator::start(identity).expect("a handshake starts");
    let mut responder = Responder::new();
    let mut reply = Vec::new();
    let mut rest = &opening[..];
    while let Ok(Some(len)) = record_len(rest, HANDSHAKE_RECORD_LIMIT) {
        if let Ok(ResponderStep::Reply(r)) = responder.step(identity, &rest[RECORD_HEADER..len]) {
            reply = r;
        }
        rest = &rest[len..];
    }
    let mut confirmation = Vec::new();
    let sealer = initiator
        .finish(&reply[RECORD_HEADER..], &mut confirmation)
        .expect("a genuine answer verifies");
    let Ok(ResponderStep::Authenticated(opener)) =
        responder.step(identity, &confirmation[RECORD_HEADER..])
    else {
        panic!("a genuine confirmation authenticates");
    };
    (sealer, opener)
}
