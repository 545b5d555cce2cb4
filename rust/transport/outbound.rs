//! One destination's outbound side: the queue of encoded frames and the one connection that
//! carries them, with connect, the initiator's handshake (`secure.rs`), reconnect backoff and
//! keepalive.
//!
//! Invariants: frames leave in the order they were queued, over at most one connection at a time,
//! and only once the handshake has authenticated the destination. Queued frames are sealed into
//! records a batch at a time (`wire`); the batch counts as sent only once the socket took all of
//! it. The queue remembers where the first not-yet-fully-sent frame starts; when a connection dies
//! mid-batch the next connection (a new session, with new keys) resumes at that frame's first
//! byte, because the receiver drops a partial frame with the connection that carried it. Bytes
//! the kernel accepted before a connection died may still be lost: the transport is
//! at-most-once, as raft expects.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::event::Event;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::secure::{
    record_len, HandshakeError, Initiator, Sealer, HANDSHAKE_RECORD_LIMIT, RECORD_HEADER,
};
use super::send_queue::SendQueue;
use super::TransportConfig;
use crate::wire::{FramedMessage, Message, MessageFlags};

/// The most queued plaintext sealed at once: large enough that a burst leaves in few writes,
/// small enough that a broken connection wastes little sealing.
const SEAL_BATCH: usize = 256 * 1024;

enum Link {
    /// No socket; a connect may start once `retry_at` has passed.
    Down { retry_at: Instant },
    Connecting {
        stream: TcpStream,
        token: Token,
        since: Instant,
    },
    /// TCP is up; the hello and the first handshake message went (or are going) out, the
    /// answer is awaited in `answer`.
    Handshaking {
        stream: TcpStream,
        token: Token,
        since: Instant,
        initiator: Option<Box<Initiator>>,
        answer: Vec<u8>,
    },
    Connected {
        stream: TcpStream,
        token: Token,
        sealer: Sealer,
    },
}

/// What a readiness event did to the link.
pub(super) enum LinkChange {
    Unchanged,
    /// The handshake completed: frames flow.
    Connected,
    ConnectFailed(io::Error),
    HandshakeFailed(HandshakeError),
    Broken(io::Error),
}

/// The outbound side of one destination.
pub(super) struct OutboundPeer {
    pub(super) to: SocketAddr,
    pub(super) queue: SendQueue,
    link: Link,
    /// The delay before the next connect attempt after a failure: doubles up to the cap, and
    /// returns to the minimum once a connect succeeds.
    backoff: Duration,
    /// When bytes last went out (or the connection came up): the keepalive clock.
    last_write: Instant,
    /// Bytes for the socket: handshake records, or sealed records of queued frames.
    wire: Vec<u8>,
    /// How much of `wire` the socket has taken.
    wire_written: usize,
    /// Plaintext bytes of the queue that `wire` carries: sent once all of `wire` is written.
    wire_plaintext: usize,
}

impl OutboundPeer {
    pub(super) fn new(to: SocketAddr, config: &TransportConfig, now: Instant) -> Self {
        OutboundPeer {
            to,
            queue: SendQueue::new(),
            link: Link::Down { retry_at: now },
            backoff: config.reconnect_min,
            last_write: now,
            wire: Vec::new(),
            wire_written: 0,
            wire_plaintext: 0,
        }
    }

    pub(super) fn is_connected(&self) -> bool {
        matches!(self.link, Link::Connected { .. })
    }

    /// Whether a connect should start now: frames wait, no socket exists, the backoff has passed.
    pub(super) fn wants_connect(&self, now: Instant) -> bool {
        matches!(self.link, Link::Down { retry_at } if now >= retry_at) && !self.queue.is_empty()
    }

    /// Starts a non-blocking connect registered under `token`. On error the link stays down and
    /// the caller backs off with [`Self::drop_link`].
    pub(super) fn connect(
        &mut self,
        registry: &Registry,
        token: Token,
        now: Instant,
    ) -> io::Result<()> {
        let mut stream = TcpStream::connect(self.to)?;
        // Readable too, although nothing should arrive: it is how a peer's close is noticed
        // while there is nothing to write.
        registry.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
        self.link = Link::Connecting {
            stream,
            token,
            since: now,
        };
        Ok(())
    }

    /// Reacts to readiness of this peer's socket.
    pub(super) fn on_ready(
        &mut self,
        event: &Event,
        config: &TransportConfig,
        now: Instant,
    ) -> LinkChange {
        match &mut self.link {
            Link::Down { .. } => LinkChange::Unchanged,
            Link::Connecting { stream, .. } => match connect_outcome(stream, event) {
                Ok(false) => LinkChange::Unchanged,
                Err(error) => LinkChange::ConnectFailed(error),
                Ok(true) => match self.start_handshake(config, now) {
                    Ok(()) => self.on_ready(event, config, now),
                    Err(error) => LinkChange::HandshakeFailed(error),
                },
            },
            Link::Handshaking { .. } => match self.read_answer() {
                Ok(false) => match self.flush(now) {
                    Ok(()) => LinkChange::Unchanged,
                    Err(error) => LinkChange::Broken(error),
                },
                Ok(true) => {
                    self.backoff = config.reconnect_min;
                    self.last_write = now;
                    LinkChange::Connected
                }
                Err(error) => LinkChange::HandshakeFailed(error),
            },
            Link::Connected { stream, .. } => match discard_incoming(stream) {
                Err(error) => LinkChange::Broken(error),
                Ok(()) => match self.flush(now) {
                    Ok(()) => LinkChange::Unchanged,
                    Err(error) => LinkChange::Broken(error),
                },
            },
        }
    }

    /// TCP is up: sends the hello and the first handshake message.
    fn start_handshake(
        &mut self,
        config: &TransportConfig,
        now: Instant,
    ) -> Result<(), HandshakeError> {
        let placeholder = Link::Down { retry_at: now };
        let Link::Connecting { stream, token, .. } = std::mem::replace(&mut self.link, placeholder)
        else {
            return Ok(());
        };
        if let Err(error) = stream.set_nodelay(true) {
            log::warn!("cannot set TCP_NODELAY towards {}: {error}", self.to);
        }
        let (initiator, first) = Initiator::start(&config.identity)
            .map_err(|e| HandshakeError::Protocol(format!("cannot start the handshake: {e}")))?;
        self.wire = first;
        self.wire_written = 0;
        self.wire_plaintext = 0;
        self.link = Link::Handshaking {
            stream,
            token,
            since: now,
            initiator: Some(Box::new(initiator)),
            answer: Vec::new(),
        };
        Ok(())
    }

    /// Reads the responder's answer; `Ok(true)` once the handshake completed.
    fn read_answer(&mut self) -> Result<bool, HandshakeError> {
        let Link::Handshaking {
            stream,
            initiator,
            answer,
            ..
        } = &mut self.link
        else {
            return Ok(false);
        };
        let mut chunk = [0u8; HANDSHAKE_RECORD_LIMIT];
        loop {
            let room = HANDSHAKE_RECORD_LIMIT - answer.len();
            match stream.read(&mut chunk[..room.max(1)]) {
                Ok(0) => {
                    return Err(HandshakeError::Protocol(
                        "the peer closed the connection during the handshake".into(),
                    ))
                }
                Ok(count) => answer.extend_from_slice(&chunk[..count]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    return Err(HandshakeError::Protocol(format!(
                        "the connection failed during the handshake: {error}"
                    )))
                }
            }
            let Some(len) = record_len(answer, HANDSHAKE_RECORD_LIMIT)? else {
                continue;
            };
            let Some(started) = initiator.take() else {
                return Ok(false);
            };
            let mut confirmation = Vec::new();
            let sealer = started.finish(&answer[RECORD_HEADER..len], &mut confirmation)?;
            // The responder answers only after the whole first message arrived, so nothing of
            // the hello is still unwritten; the confirmation leads the first sealed batch.
            self.wire.drain(..self.wire_written);
            self.wire_written = 0;
            self.wire.extend_from_slice(&confirmation);
            let placeholder = Link::Down {
                retry_at: Instant::now(),
            };
            if let Link::Handshaking { stream, token, .. } =
                std::mem::replace(&mut self.link, placeholder)
            {
                self.link = Link::Connected {
                    stream,
                    token,
                    sealer,
                };
            }
            return Ok(true);
        }
    }

    /// Writes pending bytes until everything queued is written or the socket would block
    /// (edge-triggered: the next writable event comes only after a write met `WouldBlock`).
    /// Before the handshake completed only handshake records go out; after it, queued frames
    /// are sealed a batch at a time. An error means the connection is broken.
    pub(super) fn flush(&mut self, now: Instant) -> io::Result<()> {
        loop {
            if self.wire_written == self.wire.len() {
                self.sent_wire();
            }
            if self.wire_plaintext == 0 {
                self.seal_next_batch()?;
            }
            if self.wire_written == self.wire.len() {
                return Ok(());
            }
            let (Link::Handshaking { stream, .. } | Link::Connected { stream, .. }) =
                &mut self.link
            else {
                return Ok(());
            };
            match stream.write(&self.wire[self.wire_written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(count) => {
                    self.wire_written += count;
                    self.last_write = now;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Once connected, seals the next batch of queued frames onto `wire`.
    fn seal_next_batch(&mut self) -> io::Result<()> {
        let Link::Connected { sealer, .. } = &mut self.link else {
            return Ok(());
        };
        let batch_len = self.queue.queued_bytes().min(SEAL_BATCH);
        if batch_len == 0 {
            return Ok(());
        }
        let batch = &self.queue.unwritten()[..batch_len];
        self.wire.reserve(Sealer::sealed_len(batch_len));
        sealer
            .seal(batch, &mut self.wire)
            .map_err(|e| io::Error::other(format!("cannot seal frames: {e}")))?;
        self.wire_plaintext = batch_len;
        Ok(())
    }

    /// All of `wire` went out: the frames it carried are sent.
    fn sent_wire(&mut self) {
        self.queue.advance(self.wire_plaintext);
        self.wire.clear();
        self.wire_written = 0;
        self.wire_plaintext = 0;
    }

    /// Closes the socket after a failure and schedules the next attempt after the backoff, which
    /// then doubles. Returns the token that is now free.
    pub(super) fn drop_link(
        &mut self,
        registry: &Registry,
        config: &TransportConfig,
        now: Instant,
    ) -> Option<Token> {
        let token = self.close(registry, now);
        self.link = Link::Down {
            retry_at: now + self.backoff,
        };
        self.backoff = (self.backoff * 2).min(config.reconnect_max);
        // Sealed bytes belong to the dead session: the next one seals its frames anew.
        self.wire.clear();
        self.wire_written = 0;
        self.wire_plaintext = 0;
        self.queue.rewind_to_frame_start();
        token
    }

    /// Deregisters and closes the socket, if any. Returns its token.
    pub(super) fn close(&mut self, registry: &Registry, now: Instant) -> Option<Token> {
        match std::mem::replace(&mut self.link, Link::Down { retry_at: now }) {
            Link::Down { .. } => None,
            Link::Connecting {
                mut stream, token, ..
            }
            | Link::Handshaking {
                mut stream, token, ..
            }
            | Link::Connected {
                mut stream, token, ..
            } => {
                if let Err(error) = registry.deregister(&mut stream) {
                    log::debug!("deregistering the connection to {}: {error}", self.to);
                }
                Some(token)
            }
        }
    }

    /// Whether a connect or a handshake in progress has taken longer than allowed.
    pub(super) fn connect_timed_out(&self, config: &TransportConfig, now: Instant) -> bool {
        match self.link {
            Link::Connecting { since, .. } => now >= since + config.connect_timeout,
            Link::Handshaking { since, .. } => now >= since + config.handshake_timeout,
            _ => false,
        }
    }

    /// Whether the connection has been quiet long enough to need a keepalive ping. A connection
    /// with bytes still queued is waiting on the peer, not idle.
    pub(super) fn keepalive_due(&self, config: &TransportConfig, now: Instant) -> bool {
        self.is_connected()
            && self.queue.is_empty()
            && now >= self.last_write + config.ping_interval
    }

    /// Queues a keepalive ping. The queue is empty when one is due, so it always fits.
    pub(super) fn queue_keepalive(&mut self, config: &TransportConfig) {
        let sent_at_micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_micros() as u64);
        let ping = FramedMessage::new(MessageFlags::PING, 0, Message::Ping { sent_at_micros });
        if let Err(error) = self
            .queue
            .push(&ping, config.max_frame_size, config.max_buffered_bytes)
        {
            log::warn!("cannot queue a keepalive ping to {}: {error}", self.to);
        }
    }

    /// When `on_timer` next has work for this peer. Never an instant at which it would find
    /// nothing to do, or the event loop would spin.
    pub(super) fn next_deadline(&self, config: &TransportConfig) -> Option<Instant> {
        match &self.link {
            Link::Down { retry_at } => (!self.queue.is_empty()).then_some(*retry_at),
            Link::Connecting { since, .. } => Some(*since + config.connect_timeout),
            Link::Handshaking { since, .. } => Some(*since + config.handshake_timeout),
            Link::Connected { .. } => self
                .queue
                .is_empty()
                .then_some(self.last_write + config.ping_interval),
        }
    }
}

/// Whether a non-blocking connect has completed (`Ok(true)`), is still under way (`Ok(false)`),
/// or failed.
fn connect_outcome(stream: &TcpStream, event: &Event) -> io::Result<bool> {
    if let Some(error) = stream.take_error()? {
        return Err(error);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotConnected => {
            if event.is_error() || event.is_write_closed() {
                Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the connection closed while connecting",
                ))
            } else {
                Ok(false)
            }
        }
        Err(error) => Err(error),
    }
}

/// Reads and drops whatever the peer sent: after the handshake connections are one-directional,
/// so bytes here are unexpected, but the read is how a closed or reset connection shows itself.
fn discard_incoming(stream: &mut TcpStream) -> io::Result<()> {
    let mut scratch = [0u8; 512];
    loop {
        match stream.read(&mut scratch) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the connection",
                ))
            }
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// A transport keepalive (PING flag, `Ping` payload), as opposed to a node-level ping sent as a
/// request, which is delivered like any other frame.
pub(super) fn is_keepalive(frame: &FramedMessage<Message>) -> bool {
    frame.flags.contains(MessageFlags::PING) && matches!(frame.payload, Message::Ping { .. })
}
