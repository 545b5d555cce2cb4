//! One destination's outbound side: the queue of encoded frames and the one connection that
//! carries them, with connect, reconnect backoff and keepalive.
//!
//! Invariants: frames leave in the order they were queued, over at most one connection at a time.
//! The queue remembers where the first not-yet-fully-written frame starts; when a connection dies
//! mid-frame the next connection resumes at that frame's first byte, because the receiver drops a
//! partial frame with the connection that carried it. Bytes the kernel accepted before a
//! connection died may still be lost: the transport is at-most-once, as raft expects.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::event::Event;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::send_queue::SendQueue;
use super::TransportConfig;
use crate::wire::{FramedMessage, Message, MessageFlags};

enum Link {
    /// No socket; a connect may start once `retry_at` has passed.
    Down {
        retry_at: Instant,
    },
    Connecting {
        stream: TcpStream,
        token: Token,
        since: Instant,
    },
    Connected {
        stream: TcpStream,
        token: Token,
    },
}

/// What a readiness event did to the link.
pub(super) enum LinkChange {
    Unchanged,
    Connected,
    ConnectFailed(io::Error),
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
}

impl OutboundPeer {
    pub(super) fn new(to: SocketAddr, config: &TransportConfig, now: Instant) -> Self {
        OutboundPeer {
            to,
            queue: SendQueue::new(),
            link: Link::Down { retry_at: now },
            backoff: config.reconnect_min,
            last_write: now,
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
                Ok(true) => {
                    self.promote_to_connected(config, now);
                    LinkChange::Connected
                }
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

    fn promote_to_connected(&mut self, config: &TransportConfig, now: Instant) {
        let placeholder = Link::Down { retry_at: now };
        if let Link::Connecting { stream, token, .. } =
            std::mem::replace(&mut self.link, placeholder)
        {
            if let Err(error) = stream.set_nodelay(true) {
                log::warn!("cannot set TCP_NODELAY towards {}: {error}", self.to);
            }
            self.link = Link::Connected { stream, token };
        }
        self.backoff = config.reconnect_min;
        self.last_write = now;
    }

    /// Writes queued bytes until the queue is empty or the socket would block (edge-triggered:
    /// the next writable event comes only after a write met `WouldBlock`). Does nothing unless
    /// connected. An error means the connection is broken.
    pub(super) fn flush(&mut self, now: Instant) -> io::Result<()> {
        let Link::Connected { stream, .. } = &mut self.link else {
            return Ok(());
        };
        while !self.queue.is_empty() {
            match stream.write(self.queue.unwritten()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(count) => {
                    self.queue.advance(count);
                    self.last_write = now;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
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
            | Link::Connected { mut stream, token } => {
                if let Err(error) = registry.deregister(&mut stream) {
                    log::debug!("deregistering the connection to {}: {error}", self.to);
                }
                Some(token)
            }
        }
    }

    /// Whether a connect in progress has taken longer than allowed.
    pub(super) fn connect_timed_out(&self, config: &TransportConfig, now: Instant) -> bool {
        matches!(self.link, Link::Connecting { since, .. } if now >= since + config.connect_timeout)
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

/// Reads and drops whatever the peer sent: connections are one-directional, so bytes here are
/// unexpected, but the read is how a closed or reset connection shows itself.
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
