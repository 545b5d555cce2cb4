//! Node-to-node TCP transport, driven by a node's single event-loop thread over one `mio::Poll`.
//!
//! Every connection opens with the handshake of `secure.rs`: the connecting node proves it holds
//! the cluster secret (and learns that the listener does) before a single byte it sends is parsed
//! as a frame, and every frame after travels encrypted and authenticated. What a peer may cost
//! before it has authenticated is bounded: at most `max_pending_handshakes` such connections (and
//! `max_inbound_connections` in all; more are closed on accept), `handshake_timeout` to finish,
//! and a kilobyte of buffer. Refused, timed-out and over-limit connections are counted in
//! [`TransportStats`]; refusals are logged on both sides, at most once per kind every
//! [`REFUSAL_LOG_INTERVAL`] at warning level.
//!
//! After the handshake, connections are one-directional: a node writes only over its own
//! outbound connection to a destination's listen address and reads only from connections it
//! accepted, and [`Incoming::remote`] is the sender's ephemeral address (the node layer names
//! senders inside its messages). Per destination, frames are encoded into one queue and
//! written in order over at most one connection; a failed or broken connection is retried with
//! exponential backoff from `reconnect_min` to `reconnect_max` while frames wait, and a queue
//! beyond `max_buffered_bytes` refuses further frames (back-pressure) instead of growing.
//!
//! Keepalive: an outbound connection with nothing written for `ping_interval` sends a frame with
//! the PING flag and a `Message::Ping` payload; such frames refresh the inbound side's liveness
//! and are never delivered. An inbound connection silent for `idle_timeout` is closed. A
//! malformed frame, or a record that fails authentication, closes the connection that carried it:
//! a byte stream cannot be resynchronised.
//!
//! Tokens: the listener uses `first_token`, connections take fresh numbers above it and never
//! reuse one, so a late event for a closed connection cannot reach a newer one. `frames_sent` and
//! `frames_received` count frames accepted by [`Transport::enqueue`] and delivered to the inbox;
//! keepalive pings count in neither.

mod config;
mod faults;
mod inbound;
mod outbound;
pub(crate) mod secure;
mod send_queue;
mod stats;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::net::TcpListener;
use mio::{Interest, Registry, Token};

use crate::wire::{FramedMessage, Message, WireError};
pub(crate) use config::TransportConfig;
pub use faults::Faults;
use inbound::{InboundConnection, ReadOutcome};
use outbound::{is_keepalive, LinkChange, OutboundPeer};
use secure::HandshakeError;
pub use secure::{Auth, ClusterKey};
pub use stats::TransportStats;

/// Refusals of one kind are logged as warnings at most this often; the rest at debug level.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// A frame received from another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Incoming {
    /// The connection it came over, for [`Transport::refuse`].
    pub token: Token,
    /// The sending socket's address (ephemeral port), not the sender's listen address.
    pub remote: SocketAddr,
    pub frame: FramedMessage<Message>,
}

/// Why a frame was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SendError {
    #[error("send queue full: {queued} bytes wait for the destination")]
    Backpressure { queued: usize },
    #[error("frame cannot be encoded: {0}")]
    Encode(WireError),
    #[error("the link to the destination is blocked by fault injection")]
    Blocked,
    #[error("the transport is shut down")]
    Closed,
}

/// The TCP side of one node: its listener, the connections it accepted, and one outbound queue
/// and connection per destination. Owned and driven by the node's event-loop thread.
pub(crate) struct Transport {
    config: TransportConfig,
    faults: Option<Faults>,
    local_addr: SocketAddr,
    /// `None` once shut down.
    listener: Option<TcpListener>,
    first_token: usize,
    next_token: usize,
    inbound: HashMap<Token, InboundConnection>,
    outbound: HashMap<SocketAddr, OutboundPeer>,
    outbound_by_token: HashMap<Token, SocketAddr>,
    /// Destinations with frames queued since the last [`Transport::flush_queued`].
    to_flush: Vec<SocketAddr>,
    /// Destinations whose host refused a connection since the last [`Transport::take_refused`]:
    /// nothing listens on that port any more.
    refused: Vec<SocketAddr>,
    stats: TransportStats,
    /// When a refusal of each kind was last logged as a warning.
    refusals_logged: HashMap<&'static str, Instant>,
    /// Why the last outbound handshake failed, with its destination, until a connection to
    /// that destination authenticates.
    last_handshake_failure: Option<(SocketAddr, String)>,
}

impl Transport {
    /// Binds the listener on `addr` (port 0 = any) and registers it; token numbers it uses are
    /// all >= `first_token` (the loop keeps smaller ones for itself, e.g. its Waker).
    pub fn bind(
        addr: SocketAddr,
        registry: &Registry,
        first_token: usize,
        config: TransportConfig,
        faults: Option<Faults>,
    ) -> io::Result<Transport> {
        let mut listener = TcpListener::bind(addr)?;
        let local_addr = listener.local_addr()?;
        registry.register(&mut listener, Token(first_token), Interest::READABLE)?;
        Ok(Transport {
            config,
            faults,
            local_addr,
            listener: Some(listener),
            first_token,
            next_token: first_token + 1,
            inbound: HashMap::new(),
            outbound: HashMap::new(),
            outbound_by_token: HashMap::new(),
            to_flush: Vec::new(),
            refused: Vec::new(),
            stats: TransportStats::default(),
            refusals_logged: HashMap::new(),
            last_handshake_failure: None,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether `token` is one the transport issued (possibly for a connection since closed,
    /// whose late events [`Self::handle_event`] ignores).
    pub fn owns(&self, token: Token) -> bool {
        (self.first_token..self.next_token).contains(&token.0)
    }

    /// Queues a frame for the node listening at `to` and writes it at once (see
    /// [`Self::enqueue`]).
    pub fn send(
        &mut self,
        registry: &Registry,
        to: SocketAddr,
        frame: &FramedMessage<Message>,
    ) -> Result<(), SendError> {
        self.enqueue(to, frame)?;
        self.flush_queued(registry);
        Ok(())
    }

    /// Queues a frame for the node listening at `to`, to be written by the next
    /// [`Self::flush_queued`]: a loop turn's frames to one destination then leave in one write.
    /// The first frame to a destination (and the first after a failure, once its backoff is
    /// over) starts a non-blocking connect. Frames to one destination are written in order over
    /// one outbound connection. When `faults` says (local_addr, to) is blocked, the frame is
    /// silently dropped and `Err(Blocked)` returned.
    pub fn enqueue(
        &mut self,
        to: SocketAddr,
        frame: &FramedMessage<Message>,
    ) -> Result<(), SendError> {
        if self.listener.is_none() {
            return Err(SendError::Closed);
        }
        if let Some(faults) = &self.faults {
            if faults.is_blocked(self.local_addr, to) {
                return Err(SendError::Blocked);
            }
        }
        let now = Instant::now();
        let config = &self.config;
        let peer = self
            .outbound
            .entry(to)
            .or_insert_with(|| OutboundPeer::new(to, config, now));
        let queued = peer
            .queue
            .push(frame, config.max_frame_size, config.max_buffered_bytes);
        if let Err(error) = queued {
            if matches!(error, SendError::Backpressure { .. }) {
                self.stats.refused_backpressure += 1;
            }
            return Err(error);
        }
        self.stats.frames_sent += 1;
        if !self.to_flush.contains(&to) {
            self.to_flush.push(to);
        }
        Ok(())
    }

    /// Writes what [`Self::enqueue`] queued since the last call, one write per destination (or
    /// starts the connect a destination needs first).
    pub fn flush_queued(&mut self, registry: &Registry) {
        if self.to_flush.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut destinations = std::mem::take(&mut self.to_flush);
        for &to in &destinations {
            self.drive(registry, to, now);
        }
        // Keeps the allocation for the next turn.
        destinations.clear();
        self.to_flush = destinations;
    }

    /// Handles a readiness event for one of the transport's tokens: accepts, reads, writes
    /// queued bytes, notices connect success or failure. Decoded frames go to `inbox`, except
    /// keepalive pings, which only refresh liveness.
    pub fn handle_event(&mut self, registry: &Registry, event: &Event, inbox: &mut Vec<Incoming>) {
        let now = Instant::now();
        let token = event.token();
        if token == Token(self.first_token) {
            self.accept_all(registry, now);
        } else if self.inbound.contains_key(&token) {
            self.read_inbound(registry, token, now, inbox);
        } else if let Some(&to) = self.outbound_by_token.get(&token) {
            let Some(peer) = self.outbound.get_mut(&to) else {
                return;
            };
            match peer.on_ready(event, &self.config, now) {
                LinkChange::Unchanged => {}
                LinkChange::Connected => {
                    self.stats.connects += 1;
                    if self
                        .last_handshake_failure
                        .as_ref()
                        .is_some_and(|(at, _)| *at == to)
                    {
                        self.last_handshake_failure = None;
                    }
                    log::debug!("{} connected to {to}", self.local_addr);
                    self.drive(registry, to, now);
                }
                LinkChange::ConnectFailed(error) => self.connect_failed(registry, to, error, now),
                LinkChange::HandshakeFailed(error) => {
                    self.stats.handshakes_failed += 1;
                    let local = self.local_addr;
                    self.last_handshake_failure = Some((to, format!("{to}: {error}")));
                    self.log_refusal(&error, now, |error| {
                        format!("{local} cannot connect to {to}: {error}")
                    });
                    self.drop_link(registry, to, now);
                }
                LinkChange::Broken(error) => self.link_broken(registry, to, error, now),
            }
        }
    }

    /// Timers: reconnect attempts whose backoff expired, connects and handshakes that took too
    /// long, keepalive pings, closing idle inbound connections.
    pub fn on_timer(&mut self, registry: &Registry, now: Instant) {
        let expired: Vec<(Token, bool)> = self
            .inbound
            .iter()
            .filter_map(|(&token, connection)| {
                let deadline = self.inbound_deadline(connection);
                (now >= deadline).then_some((token, connection.is_authenticated()))
            })
            .collect();
        for (token, authenticated) in expired {
            if authenticated {
                log::info!(
                    "closing inbound connection idle for {:?}",
                    self.config.idle_timeout
                );
            } else {
                self.stats.handshakes_timed_out += 1;
                log::debug!(
                    "closing an inbound connection whose handshake took over {:?}",
                    self.config.handshake_timeout
                );
            }
            self.close_inbound(registry, token);
        }

        let destinations: Vec<SocketAddr> = self.outbound.keys().copied().collect();
        for to in destinations {
            let Some(peer) = self.outbound.get_mut(&to) else {
                continue;
            };
            if peer.connect_timed_out(&self.config, now) {
                let error = io::Error::new(io::ErrorKind::TimedOut, "connect timed out");
                self.connect_failed(registry, to, error, now);
            } else {
                if peer.keepalive_due(&self.config, now) {
                    peer.queue_keepalive(&self.config);
                }
                self.drive(registry, to, now);
            }
        }
    }

    /// The earliest instant [`Self::on_timer`] has work to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let outbound = self
            .outbound
            .values()
            .filter_map(|peer| peer.next_deadline(&self.config));
        let inbound = self
            .inbound
            .values()
            .map(|connection| self.inbound_deadline(connection));
        outbound.chain(inbound).min()
    }

    /// When an accepted connection is closed: at the handshake deadline until it authenticated,
    /// then when it has been idle too long.
    fn inbound_deadline(&self, connection: &InboundConnection) -> Instant {
        if connection.is_authenticated() {
            connection.last_received + self.config.idle_timeout
        } else {
            connection.accepted_at + self.config.handshake_timeout
        }
    }

    /// Logs a refusal: as a warning unless one of its kind was logged lately.
    fn log_refusal(
        &mut self,
        error: &HandshakeError,
        now: Instant,
        message: impl FnOnce(&HandshakeError) -> String,
    ) {
        self.log_rate_limited(error.kind(), now, message(error));
    }

    fn log_rate_limited(&mut self, kind: &'static str, now: Instant, message: String) {
        let last = self.refusals_logged.get(kind);
        if last.is_none_or(|&at| now >= at + REFUSAL_LOG_INTERVAL) {
            self.refusals_logged.insert(kind, now);
            log::warn!("{message}");
        } else {
            log::debug!("{message}");
        }
    }

    /// The destinations that refused a connection since the last call. A refusal is an answer
    /// from the destination's host: no process listens on that port (unlike a partition, where
    /// connects time out).
    pub fn take_refused(&mut self) -> Vec<SocketAddr> {
        std::mem::take(&mut self.refused)
    }

    /// Why the last handshake this node started failed, and with whom, unless a connection to
    /// that peer has authenticated since: what a node that no member answered says about it.
    pub fn last_handshake_failure(&self) -> Option<&str> {
        self.last_handshake_failure
            .as_ref()
            .map(|(_, why)| why.as_str())
    }

    pub fn stats(&self) -> TransportStats {
        self.stats
    }

    /// Open connections: accepted (authenticated or not yet), and outbound ones connected.
    pub fn connection_counts(&self) -> (usize, usize) {
        (self.inbound.len(), self.outbound_by_token.len())
    }

    /// Drops all queued frames and the connection to `to` (used when a peer left the cluster).
    pub fn forget(&mut self, registry: &Registry, to: SocketAddr) {
        if let Some(mut peer) = self.outbound.remove(&to) {
            if let Some(token) = peer.close(registry, Instant::now()) {
                self.outbound_by_token.remove(&token);
            }
        }
    }

    /// Deregisters and closes every socket. Later sends fail with [`SendError::Closed`].
    pub fn shutdown(&mut self, registry: &Registry) {
        if let Some(mut listener) = self.listener.take() {
            if let Err(error) = registry.deregister(&mut listener) {
                log::debug!("deregistering the listener on {}: {error}", self.local_addr);
            }
        }
        let now = Instant::now();
        for (_, mut peer) in self.outbound.drain() {
            peer.close(registry, now);
        }
        self.outbound_by_token.clear();
        let tokens: Vec<Token> = self.inbound.keys().copied().collect();
        for token in tokens {
            self.close_inbound(registry, token);
        }
    }

    /// Moves one destination forward: starts a connect when one is due, writes when connected.
    fn drive(&mut self, registry: &Registry, to: SocketAddr, now: Instant) {
        let Some(peer) = self.outbound.get_mut(&to) else {
            return;
        };
        if peer.wants_connect(now) {
            let token = Token(self.next_token);
            self.next_token += 1;
            match peer.connect(registry, token, now) {
                Ok(()) => {
                    self.outbound_by_token.insert(token, to);
                }
                Err(error) => self.connect_failed(registry, to, error, now),
            }
        } else if let Err(error) = peer.flush(now) {
            self.link_broken(registry, to, error, now);
        }
    }

    fn connect_failed(
        &mut self,
        registry: &Registry,
        to: SocketAddr,
        error: io::Error,
        now: Instant,
    ) {
        self.stats.connect_failures += 1;
        log::debug!("{} cannot connect to {to}: {error}", self.local_addr);
        if error.kind() == io::ErrorKind::ConnectionRefused && !self.refused.contains(&to) {
            self.refused.push(to);
        }
        self.drop_link(registry, to, now);
    }

    fn link_broken(&mut self, registry: &Registry, to: SocketAddr, error: io::Error, now: Instant) {
        log::info!("{} lost its connection to {to}: {error}", self.local_addr);
        self.drop_link(registry, to, now);
    }

    fn drop_link(&mut self, registry: &Registry, to: SocketAddr, now: Instant) {
        if let Some(peer) = self.outbound.get_mut(&to) {
            if let Some(token) = peer.drop_link(registry, &self.config, now) {
                self.outbound_by_token.remove(&token);
            }
        }
    }

    fn accept_all(&mut self, registry: &Registry, now: Instant) {
        loop {
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok((mut stream, remote)) => {
                    if let Some(limit) = self.over_limits() {
                        self.stats.connections_over_limit += 1;
                        log::debug!("closing the connection from {remote} at once: {limit}");
                        // One write, best effort: the connecting node then says why it
                        // retries, instead of a handshake cut short.
                        if let Some(refusal) = HandshakeError::Busy(limit).refusal() {
                            let _ = stream.write(&refusal);
                        }
                        continue;
                    }
                    if let Err(error) = stream.set_nodelay(true) {
                        log::debug!(
                            "cannot set TCP_NODELAY on the connection from {remote}: {error}"
                        );
                    }
                    let token = Token(self.next_token);
                    self.next_token += 1;
                    // Writable too: the handshake answers.
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    match registry.register(&mut stream, token, interest) {
                        Ok(()) => {
                            let connection = InboundConnection::new(stream, remote, now);
                            self.inbound.insert(token, connection);
                        }
                        Err(error) => {
                            log::warn!("cannot register the connection from {remote}: {error}")
                        }
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    ) => {}
                Err(error) => {
                    // Typically out of file descriptors: retrying at once would spin.
                    log::warn!("accept on {} failed: {error}", self.local_addr);
                    return;
                }
            }
        }
    }

    /// The limit that accepting one more connection would exceed, if any.
    fn over_limits(&self) -> Option<&'static str> {
        if self.inbound.len() >= self.config.max_inbound_connections {
            return Some("as many connections as it accepts are open");
        }
        let pending = self
            .inbound
            .values()
            .filter(|connection| !connection.is_authenticated())
            .count();
        (pending >= self.config.max_pending_handshakes)
            .then_some("as many handshakes as it takes at once are in progress")
    }

    fn read_inbound(
        &mut self,
        registry: &Registry,
        token: Token,
        now: Instant,
        inbox: &mut Vec<Incoming>,
    ) {
        let Some(connection) = self.inbound.get_mut(&token) else {
            return;
        };
        let remote = connection.remote;
        let was_authenticated = connection.is_authenticated();
        let stats = &mut self.stats;
        let outcome = connection.on_ready(
            &self.config.identity,
            self.config.max_frame_size,
            now,
            |frame| {
                if is_keepalive(&frame) {
                    return;
                }
                stats.frames_received += 1;
                inbox.push(Incoming {
                    token,
                    remote,
                    frame,
                });
            },
        );
        if !was_authenticated && connection.is_authenticated() {
            self.stats.handshakes_accepted += 1;
            log::debug!("{remote} authenticated");
        }
        match outcome {
            ReadOutcome::Open => return,
            ReadOutcome::Closed => log::debug!("{remote} closed its connection"),
            ReadOutcome::Refused(error) => {
                self.stats.handshakes_refused += 1;
                self.log_refusal(&error, now, |error| {
                    format!("refused a connection from {remote}: {error}")
                });
            }
            ReadOutcome::Rejected(error) => {
                self.stats.records_rejected += 1;
                log::warn!("closing the connection from {remote}: {error}");
            }
            ReadOutcome::Malformed(error) => {
                self.stats.malformed_frames += 1;
                log::warn!("closing the connection from {remote}: malformed frame: {error}");
            }
            ReadOutcome::Failed(error) => log::info!("connection from {remote} failed: {error}"),
        }
        self.close_inbound(registry, token);
    }

    /// Closes the connection a refused frame came over and counts the refusal; `reason`
    /// names its kind, for logging at most one warning per kind every
    /// [`REFUSAL_LOG_INTERVAL`]. Frames already read from it are the caller's to drop.
    pub fn refuse(&mut self, registry: &Registry, token: Token, reason: &'static str, why: &str) {
        self.stats.messages_refused += 1;
        let now = Instant::now();
        let remote = self.inbound.get(&token).map(|c| c.remote);
        let message = match remote {
            Some(remote) => format!("closing the connection from {remote}: refused {why}"),
            None => format!("refused {why}"),
        };
        self.log_rate_limited(reason, now, message);
        self.close_inbound(registry, token);
    }

    fn close_inbound(&mut self, registry: &Registry, token: Token) {
        if let Some(mut connection) = self.inbound.remove(&token) {
            if let Err(error) = registry.deregister(&mut connection.stream) {
                log::debug!(
                    "deregistering the connection from {}: {error}",
                    connection.remote
                );
            }
        }
    }
}
