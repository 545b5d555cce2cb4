//! The secure channel under every connection: who may talk to a node, and how their bytes are
//! protected. Pure: byte buffers in and out, no sockets, no clock.
//!
//! Why Noise (the `snow` crate) and not TLS (`rustls`): members share one cluster secret, not
//! certificates, and Noise's pre-shared-key handshakes are made for exactly that (WireGuard's
//! design). rustls offers no external pre-shared keys, so TLS would make every user run a PKI,
//! even on one host. snow is a small, well-reviewed implementation of the Noise specification;
//! its primitives come from `ring` (ChaCha20-Poly1305, the assembly BoringSSL uses: a small record
//! costs 0.4 µs to seal and open here, against 3.4 µs with the pure-Rust crate) and RustCrypto
//! (X25519, BLAKE2s). Nothing here invents cryptography.
//!
//! A connection, from the connecting node (initiator) to the listening one (responder):
//! 1. The initiator sends a `Hello` record in clear: magic, channel version, whether it
//!    authenticates with a secret, its build (the frames' protocol version and the state
//!    machine's rules version) and its cluster name. The responder refuses a hello of another
//!    cluster, another channel version, another build or another mode with a `Refusal` record
//!    naming the difference, so both sides can log why, and closes. A cluster runs one build:
//!    a replica that applied a command by other rules would diverge without noticing.
//! 2. Noise `NNpsk0` (`NN` when both sides opted out of authentication): the initiator's first
//!    message, pipelined after the hello, is keyed by the pre-shared key; the responder answers
//!    with its own. The hello's bytes are the Noise prologue, so a hello altered on the way makes
//!    the handshake fail. A responder that cannot read the first message (another secret) sends
//!    a `Refusal` too.
//! 3. The initiator's first encrypted record is an empty confirmation. Only when it opens does
//!    the responder count the peer as authenticated: a replayed first message proves nothing,
//!    since the replayer cannot derive the session keys.
//!
//! After that, connections carry records of at most 65535 bytes (`u16` length, then a Noise
//! transport message): ChaCha20-Poly1305 with an implicit counter nonce, so a record that was
//! altered, replayed, dropped or reordered fails to open, and the connection is closed. Frames
//! are cut into records regardless of frame boundaries. Until the confirmation opens, a record
//! may not exceed [`HANDSHAKE_RECORD_LIMIT`], so an unauthenticated peer costs about a kilobyte.

use std::fmt;

use blake2::{Blake2s256, Digest};
use snow::{HandshakeState, TransportState};

/// The shortest cluster secret accepted, in bytes.
pub const SECRET_MIN_BYTES: usize = 16;
/// The largest record body: the Noise protocol's message limit.
pub(crate) const MAX_RECORD_BODY: usize = 65535;
/// Bytes a record header takes (its body's length).
pub(crate) const RECORD_HEADER: usize = 2;
/// The largest record a peer may send before it is authenticated, header included.
pub(crate) const HANDSHAKE_RECORD_LIMIT: usize = 1024;
/// The most plaintext one transport record carries.
const MAX_RECORD_PLAINTEXT: usize = MAX_RECORD_BODY - TAG_LEN;
const TAG_LEN: usize = 16;

const MAGIC: &[u8; 4] = b"VXBC";
/// The channel's own version. Version 2 added the build to the hello.
const CHANNEL_VERSION: u8 = 2;
const RECORD_HELLO: u8 = 1;
const RECORD_NOISE: u8 = 2;
const RECORD_REFUSAL: u8 = 3;
const MODE_INSECURE: u8 = 0;
const MODE_SECRET: u8 = 1;
/// The longest cluster name a hello carries.
pub const MAX_CLUSTER_NAME_BYTES: usize = 255;
/// The longest refusal reason sent.
const MAX_REASON_BYTES: usize = 512;

const PATTERN_SECRET: &str = "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2s";
const PATTERN_INSECURE: &str = "Noise_NN_25519_ChaChaPoly_BLAKE2s";
/// Domain separation for the key derived from the user's secret.
const KEY_CONTEXT: &[u8] = b"vertx-bop cluster key v1\0";

/// The 32-byte key every member derives from the cluster secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterKey([u8; 32]);

impl ClusterKey {
    /// Derives the key from a secret of at least [`SECRET_MIN_BYTES`] bytes.
    pub fn from_secret(secret: &[u8]) -> Result<ClusterKey, String> {
        if secret.len() < SECRET_MIN_BYTES {
            return Err(format!(
                "the cluster secret has {} bytes; it needs at least {SECRET_MIN_BYTES} (for example \
                 the output of `openssl rand -base64 32`)",
                secret.len()
            ));
        }
        let digest = Blake2s256::new()
            .chain_update(KEY_CONTEXT)
            .chain_update(secret)
            .finalize();
        Ok(ClusterKey(digest.into()))
    }
}

impl fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterKey(..)")
    }
}

/// How connections authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Both ends prove they hold the cluster secret; traffic is encrypted and authenticated.
    Secret(ClusterKey),
    /// No authentication (the user opted out): traffic is encrypted against eavesdroppers, but
    /// anyone who reaches the port can join.
    Insecure,
}

/// What a node says about itself before the handshake, and checks of its peers.
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    pub cluster_name: String,
    pub auth: Auth,
    pub build: Build,
}

/// What a node's build must agree on with its peers': the frames it speaks and the rules by
/// which its state machine applies commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Build {
    pub protocol: u8,
    pub rules: u16,
}

impl Build {
    /// This build.
    pub(crate) const THIS: Build = Build {
        protocol: crate::wire::PROTOCOL_VERSION,
        rules: crate::fsm::RULES_VERSION,
    };
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "protocol version {}, rules version {}",
            self.protocol, self.rules
        )
    }
}

impl Identity {
    fn mode(&self) -> u8 {
        match self.auth {
            Auth::Secret(_) => MODE_SECRET,
            Auth::Insecure => MODE_INSECURE,
        }
    }

    fn hello(&self) -> Vec<u8> {
        let name = truncated(&self.cluster_name, MAX_CLUSTER_NAME_BYTES);
        let mut body = Vec::with_capacity(11 + name.len());
        body.push(RECORD_HELLO);
        body.extend_from_slice(MAGIC);
        body.push(CHANNEL_VERSION);
        body.push(self.mode());
        body.push(self.build.protocol);
        body.extend_from_slice(&self.build.rules.to_le_bytes());
        body.push(name.len() as u8);
        body.extend_from_slice(name.as_bytes());
        body
    }

    fn noise(&self, prologue: &[u8], initiator: bool) -> Result<HandshakeState, snow::Error> {
        let pattern = match self.auth {
            Auth::Secret(_) => PATTERN_SECRET,
            Auth::Insecure => PATTERN_INSECURE,
        };
        let mut builder = snow::Builder::new(pattern.parse()?).prologue(prologue)?;
        if let Auth::Secret(key) = &self.auth {
            builder = builder.psk(0, &key.0)?;
        }
        if initiator {
            builder.build_initiator()
        } else {
            builder.build_responder()
        }
    }
}

/// Why a handshake did not complete, in words for the log of the side that noticed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HandshakeError {
    /// The peer is not a node of this product (or speaks another channel version).
    #[error("not a cluster handshake: {0}")]
    Protocol(String),
    /// A node of another cluster.
    #[error("{0}")]
    OtherCluster(String),
    /// A node of another build: other frames, or other rules for the state machine.
    #[error("{0}")]
    OtherBuild(String),
    /// One side authenticates with a secret and the other opted out.
    #[error("{0}")]
    ModeMismatch(String),
    /// The peer does not hold this cluster's secret (or the handshake was tampered with).
    #[error("{0}")]
    Unauthenticated(String),
    /// The peer refused us and said why.
    #[error("refused by the peer: {0}")]
    RefusedByPeer(String),
    /// A record above the limit before authentication.
    #[error("a handshake record of {0} bytes exceeds the limit of {HANDSHAKE_RECORD_LIMIT}")]
    TooLarge(usize),
    /// The listener holds as many connections as it takes: sent to the one over the limit.
    #[error("the node is busy: {0}; try again later")]
    Busy(&'static str),
}

impl HandshakeError {
    /// A short name of the kind, for counters and log rate limits.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            HandshakeError::Protocol(_) => "protocol",
            HandshakeError::OtherCluster(_) => "other cluster",
            HandshakeError::OtherBuild(_) => "other build",
            HandshakeError::ModeMismatch(_) => "mode",
            HandshakeError::Unauthenticated(_) => "secret",
            HandshakeError::RefusedByPeer(_) => "refused",
            HandshakeError::TooLarge(_) => "too large",
            HandshakeError::Busy(_) => "busy",
        }
    }

    /// The refusal record a responder sends for this error, when it sends one.
    pub(crate) fn refusal(&self) -> Option<Vec<u8>> {
        if matches!(self, HandshakeError::RefusedByPeer(_)) {
            return None;
        }
        let reason = self.to_string();
        let reason = truncated(&reason, MAX_REASON_BYTES);
        let mut out = Vec::with_capacity(RECORD_HEADER + 1 + reason.len());
        put_record(&mut out, &[&[RECORD_REFUSAL], reason.as_bytes()]);
        Some(out)
    }
}

/// A record body that failed to open after the handshake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a record failed authentication (altered, replayed or out of order)")]
pub(crate) struct RecordRejected;

/// Appends one record: the bodies' total length as `u16` LE, then the bodies.
fn put_record(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    debug_assert!(len <= MAX_RECORD_BODY);
    out.extend_from_slice(&(len as u16).to_le_bytes());
    for part in parts {
        out.extend_from_slice(part);
    }
}

/// The length of the first record in `buf` (header included) once it is complete, checked
/// against `limit` as soon as its header is there.
pub(crate) fn record_len(buf: &[u8], limit: usize) -> Result<Option<usize>, HandshakeError> {
    if buf.len() < RECORD_HEADER {
        return Ok(None);
    }
    let len = RECORD_HEADER + u16::from_le_bytes([buf[0], buf[1]]) as usize;
    if len > limit {
        return Err(HandshakeError::TooLarge(len));
    }
    Ok((buf.len() >= len).then_some(len))
}

fn truncated(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The initiator's side of a handshake in progress.
pub(crate) struct Initiator {
    noise: HandshakeState,
}

impl Initiator {
    /// Starts a handshake: returns the state and the bytes to send first (the hello and the
    /// first Noise message, as two records).
    pub(crate) fn start(identity: &Identity) -> Result<(Initiator, Vec<u8>), snow::Error> {
        let hello = identity.hello();
        let mut noise = identity.noise(&hello, true)?;
        let mut message = [0u8; 128];
        let n = noise.write_message(&[], &mut message)?;
        let mut out = Vec::with_capacity(2 * RECORD_HEADER + hello.len() + 1 + n);
        put_record(&mut out, &[&hello]);
        put_record(&mut out, &[&[RECORD_NOISE], &message[..n]]);
        Ok((Initiator { noise }, out))
    }

    /// Takes the responder's answer (one record body). On success returns the sealer for this
    /// connection, which has already sealed the confirmation record into `out`.
    pub(crate) fn finish(
        mut self,
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Sealer, HandshakeError> {
        match body.split_first() {
            Some((&RECORD_NOISE, message)) => {
                let mut payload = [0u8; 128];
                self.noise
                    .read_message(message, &mut payload)
                    .map_err(|_| {
                        HandshakeError::Unauthenticated(
                            "the peer's handshake answer does not verify: it does not hold this \
                         cluster's secret"
                                .into(),
                        )
                    })?;
                let transport = self.noise.into_transport_mode().map_err(|e| {
                    HandshakeError::Protocol(format!("the handshake did not finish: {e}"))
                })?;
                let mut sealer = Sealer { transport };
                sealer.seal(&[], out).map_err(|e| {
                    HandshakeError::Protocol(format!("cannot seal the confirmation: {e}"))
                })?;
                Ok(sealer)
            }
            Some((&RECORD_REFUSAL, reason)) => Err(HandshakeError::RefusedByPeer(
                String::from_utf8_lossy(reason).into_owned(),
            )),
            _ => Err(HandshakeError::Protocol(
                "the peer answered the hello with something else".into(),
            )),
        }
    }
}

/// The responder's side of a handshake in progress, by what it waits for.
pub(crate) enum Responder {
    Hello,
    FirstMessage(Box<HandshakeState>),
    /// The answer went out; the first record must be the initiator's confirmation.
    Confirmation(Opener),
}

/// What a responder does after a record.
pub(crate) enum ResponderStep {
    /// Wait for the next record.
    Continue,
    /// Send these bytes (the handshake answer), then wait for the confirmation.
    Reply(Vec<u8>),
    /// The peer is authenticated: frames follow.
    Authenticated(Opener),
}

impl Responder {
    pub(crate) fn new() -> Responder {
        Responder::Hello
    }

    /// Takes one record body.
    pub(crate) fn step(
        &mut self,
        identity: &Identity,
        body: &[u8],
    ) -> Result<ResponderStep, HandshakeError> {
        match std::mem::replace(self, Responder::Hello) {
            Responder::Hello => {
                check_hello(identity, body)?;
                let noise = identity.noise(body, false).map_err(|e| {
                    HandshakeError::Protocol(format!("cannot start the handshake: {e}"))
                })?;
                *self = Responder::FirstMessage(Box::new(noise));
                Ok(ResponderStep::Continue)
            }
            Responder::FirstMessage(mut noise) => {
                let Some((&RECORD_NOISE, message)) = body.split_first() else {
                    return Err(HandshakeError::Protocol(
                        "expected the first handshake message after the hello".into(),
                    ));
                };
                let mut payload = [0u8; 128];
                noise.read_message(message, &mut payload).map_err(|_| {
                    HandshakeError::Unauthenticated(
                        "the handshake does not verify: the peer does not hold this cluster's \
                         secret"
                            .into(),
                    )
                })?;
                let mut answer = [0u8; 128];
                let n = noise.write_message(&[], &mut answer).map_err(|e| {
                    HandshakeError::Protocol(format!("cannot answer the handshake: {e}"))
                })?;
                let transport = noise.into_transport_mode().map_err(|e| {
                    HandshakeError::Protocol(format!("the handshake did not finish: {e}"))
                })?;
                let mut out = Vec::with_capacity(RECORD_HEADER + 1 + n);
                put_record(&mut out, &[&[RECORD_NOISE], &answer[..n]]);
                *self = Responder::Confirmation(Opener { transport });
                Ok(ResponderStep::Reply(out))
            }
            Responder::Confirmation(mut opener) => {
                let mut plain = [0u8; HANDSHAKE_RECORD_LIMIT];
                let n = opener.open(body, &mut plain).map_err(|_| {
                    HandshakeError::Unauthenticated(
                        "the peer's confirmation does not verify: it does not hold this \
                         cluster's secret"
                            .into(),
                    )
                })?;
                if n != 0 {
                    return Err(HandshakeError::Protocol(
                        "the first record after the handshake is not a confirmation".into(),
                    ));
                }
                Ok(ResponderStep::Authenticated(opener))
            }
        }
    }
}

/// What a refusal for another build advises.
const ONE_BUILD: &str = "the members of a cluster run one build (stop every node of the other \
                         build before starting nodes of this one)";

fn check_hello(identity: &Identity, body: &[u8]) -> Result<(), HandshakeError> {
    let not_ours = || {
        HandshakeError::Protocol(
            "the peer did not open with this cluster's hello (a plain client, another product, \
             or a node running without the transport handshake)"
                .into(),
        )
    };
    let [RECORD_HELLO, m0, m1, m2, m3, version, rest @ ..] = body else {
        return Err(not_ours());
    };
    if [*m0, *m1, *m2, *m3] != *MAGIC {
        return Err(not_ours());
    }
    if *version != CHANNEL_VERSION {
        return Err(HandshakeError::OtherBuild(format!(
            "the peer runs a build of channel version {version}, this node {CHANNEL_VERSION}: \
             {ONE_BUILD}"
        )));
    }
    let [mode, protocol, r0, r1, name_len, name @ ..] = rest else {
        return Err(not_ours());
    };
    let peer = Build {
        protocol: *protocol,
        rules: u16::from_le_bytes([*r0, *r1]),
    };
    if peer != identity.build {
        return Err(HandshakeError::OtherBuild(format!(
            "the peer runs a build of {peer}, this node {}: {ONE_BUILD}",
            identity.build
        )));
    }
    if name.len() != *name_len as usize {
        return Err(not_ours());
    }
    let own = truncated(&identity.cluster_name, MAX_CLUSTER_NAME_BYTES);
    if name != own.as_bytes() {
        return Err(HandshakeError::OtherCluster(format!(
            "the peer is a node of cluster {:?}, this node belongs to cluster {own:?}",
            String::from_utf8_lossy(name)
        )));
    }
    match (*mode, identity.mode()) {
        (a, b) if a == b => Ok(()),
        (MODE_INSECURE, _) => Err(HandshakeError::ModeMismatch(
            "the peer runs without a cluster secret (insecure), this node requires the secret"
                .into(),
        )),
        (MODE_SECRET, _) => Err(HandshakeError::ModeMismatch(
            "the peer authenticates with a cluster secret, this node runs insecure without one"
                .into(),
        )),
        (other, _) => Err(HandshakeError::Protocol(format!(
            "unknown authentication mode {other}"
        ))),
    }
}

/// Encrypts an initiator's outgoing bytes into records.
pub(crate) struct Sealer {
    transport: TransportState,
}

impl Sealer {
    /// Appends `plaintext` to `out` as records (one per [`MAX_RECORD_PLAINTEXT`] bytes; an
    /// empty plaintext makes one empty record).
    pub(crate) fn seal(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), snow::Error> {
        let mut chunks = plaintext.chunks(MAX_RECORD_PLAINTEXT);
        let mut next = Some(chunks.next().unwrap_or(&[]));
        while let Some(chunk) = next {
            let start = out.len();
            let body_len = chunk.len() + TAG_LEN;
            out.extend_from_slice(&(body_len as u16).to_le_bytes());
            out.resize(start + RECORD_HEADER + body_len, 0);
            let written = self
                .transport
                .write_message(chunk, &mut out[start + RECORD_HEADER..]);
            match written {
                Ok(n) => debug_assert_eq!(n, body_len),
                Err(e) => {
                    out.truncate(start);
                    return Err(e);
                }
            }
            next = chunks.next();
        }
        Ok(())
    }

    /// Bytes of ciphertext `plaintext_len` bytes of plaintext become.
    pub(crate) fn sealed_len(plaintext_len: usize) -> usize {
        let records = plaintext_len.div_ceil(MAX_RECORD_PLAINTEXT).max(1);
        plaintext_len + records * (RECORD_HEADER + TAG_LEN)
    }
}

/// Decrypts a responder's incoming records.
pub(crate) struct Opener {
    transport: TransportState,
}

impl Opener {
    /// Opens one record body into `out` (which must hold its plaintext: the body's length less
    /// 16), returning the plaintext's length.
    pub(crate) fn open(&mut self, body: &[u8], out: &mut [u8]) -> Result<usize, RecordRejected> {
        self.transport
            .read_message(body, out)
            .map_err(|_| RecordRejected)
    }

    /// The most plaintext a record body of `len` bytes holds.
    pub(crate) fn plaintext_len(body_len: usize) -> usize {
        body_len.saturating_sub(TAG_LEN)
    }
}

#[cfg(test)]
mod tests;
