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
//!   channel's records are bit 3's);
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
    reply(&identity(secret), &mut Responder::new(), &opening(secret))
}

/// Steps `responder` through the records of a genuine `opening`: its reply records.
fn reply(identity: &Identity, responder: &mut Responder, mut opening: &[u8]) -> Vec<u8> {
    while let Ok(Some(len)) = record_len(opening, HANDSHAKE_RECORD_LIMIT) {
        if let Ok(ResponderStep::Reply(reply)) =
            responder.step(identity, &opening[RECORD_HEADER..len])
        {
            return reply;
        }
        opening = &opening[len..];
    }
    unreachable!("a genuine opening is answered")
}

/// Cuts `stream` into records and steps them through the handshake as a listening node does,
/// until a refusal or an incomplete record. (No input can forge the confirmation: the open
/// channel's records are the sealed path's.)
fn listen(identity: &Identity, mut stream: &[u8]) {
    let mut responder = Responder::new();
    loop {
        let len = match record_len(stream, HANDSHAKE_RECORD_LIMIT) {
            Ok(Some(len)) => len,
            Ok(None) => return,
            Err(refused) => {
                let _ = refused.refusal();
                return;
            }
        };
        match responder.step(identity, &stream[RECORD_HEADER..len]) {
            Ok(ResponderStep::Continue | ResponderStep::Reply(_)) => {}
            Ok(ResponderStep::Authenticated(_)) => {
                panic!("a confirmation no genuine peer sealed authenticated")
            }
            Err(refused) => {
                // The refusal record the node would send back, built from the peer's bytes.
                let _ = (refused.kind(), refused.refusal());
                return;
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
    let reply = reply(identity, &mut responder, &opening);
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
