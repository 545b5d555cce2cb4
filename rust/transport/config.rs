//! The transport's identity, limits and timers, with defaults sized for a cluster on one LAN:
//! frames up to the wire format's 16 MiB, keepalive well inside the idle timeout so a healthy but
//! quiet link is never closed, reconnects fast enough for a restarted node to be reached within a
//! second, and what a peer that has not authenticated may cost: a few seconds, a kilobyte, one of
//! a few dozen places.

use std::time::Duration;

use super::secure::{Auth, Build, Identity};
use crate::wire::DEFAULT_MAX_FRAME_SIZE;

/// Limits and timers of the transport.
#[derive(Debug, Clone)]
pub(crate) struct TransportConfig {
    /// The cluster name and how connections authenticate.
    pub identity: Identity,
    /// Frames above this are refused on send and close the connection on receive.
    pub max_frame_size: usize,
    /// An outbound connection with nothing written for this long sends a keepalive ping.
    pub ping_interval: Duration,
    /// An inbound connection that received nothing for this long is closed.
    pub idle_timeout: Duration,
    /// The first reconnect delay after a failed or broken connection.
    pub reconnect_min: Duration,
    /// The cap of the reconnect delay, which doubles from `reconnect_min` on each failure.
    pub reconnect_max: Duration,
    /// Per destination: bytes queued and not yet written beyond which sends are refused.
    pub max_buffered_bytes: usize,
    /// A connect still in progress after this long counts as failed (a host that drops SYNs
    /// would otherwise hold the queue for the kernel's minutes-long connect timeout).
    pub connect_timeout: Duration,
    /// A connection whose handshake has not completed after this long is closed, on either
    /// side: a slow or silent stranger holds a place only this long.
    pub handshake_timeout: Duration,
    /// Accepted connections still in their handshake beyond which new ones are closed at once.
    pub max_pending_handshakes: usize,
    /// Accepted connections beyond which new ones are closed at once.
    pub max_inbound_connections: usize,
}

impl TransportConfig {
    /// The defaults for a node of `cluster_name` that authenticates with `auth`.
    pub fn new(cluster_name: impl Into<String>, auth: Auth) -> Self {
        TransportConfig {
            identity: Identity {
                cluster_name: cluster_name.into(),
                auth,
                build: Build::THIS,
            },
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            reconnect_min: Duration::from_millis(20),
            reconnect_max: Duration::from_secs(1),
            max_buffered_bytes: 64 * 1024 * 1024,
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            // Above the members that connect to one node at once when a cluster of a hundred
            // starts together (at 64, about 30 of them were closed and retried); each place
            // costs about a kilobyte.
            max_pending_handshakes: 256,
            max_inbound_connections: 1024,
        }
    }
}
