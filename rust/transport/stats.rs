//! The transport's counters.

/// Counters since the transport was bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportStats {
    pub frames_sent: u64,
    pub frames_received: u64,
    pub malformed_frames: u64,
    pub refused_backpressure: u64,
    /// Outbound connections that completed their handshake.
    pub connects: u64,
    pub connect_failures: u64,
    /// Accepted connections whose peer authenticated.
    pub handshakes_accepted: u64,
    /// Accepted connections refused during the handshake: not this product, another cluster,
    /// another mode, not holding the secret, an oversized record.
    pub handshakes_refused: u64,
    /// Accepted connections closed because their handshake took longer than allowed.
    pub handshakes_timed_out: u64,
    /// Outbound connections whose handshake failed (the peer refused, or its answer did not
    /// verify).
    pub handshakes_failed: u64,
    /// Connections closed on accept because the limits were reached.
    pub connections_over_limit: u64,
    /// Records that failed authentication after the handshake (altered, replayed, reordered).
    pub records_rejected: u64,
    /// Frames from authenticated peers that the node refused (a raft message out of range for
    /// its log, for one); each closed the connection that carried it.
    pub messages_refused: u64,
}

impl TransportStats {
    /// Every counter with its name, for reports.
    pub fn counters(&self) -> [(&'static str, u64); 13] {
        [
            ("frames_sent", self.frames_sent),
            ("frames_received", self.frames_received),
            ("malformed_frames", self.malformed_frames),
            ("refused_backpressure", self.refused_backpressure),
            ("connects", self.connects),
            ("connect_failures", self.connect_failures),
            ("handshakes_accepted", self.handshakes_accepted),
            ("handshakes_refused", self.handshakes_refused),
            ("handshakes_timed_out", self.handshakes_timed_out),
            ("handshakes_failed", self.handshakes_failed),
            ("connections_over_limit", self.connections_over_limit),
            ("records_rejected", self.records_rejected),
            ("messages_refused", self.messages_refused),
        ]
    }
}
