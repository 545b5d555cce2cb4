//! What a node reports of itself, and the one value it crosses JNI as (layout in
//! `tests/vectors/README.md`): the monitoring surface of a running node.

use crate::raft::ReplicaStats;
use crate::transport::TransportStats;
use crate::wire::codec::Writer;

/// A snapshot of a node's state as seen by the node itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// The `host:port` the node listens on.
    pub address: String,
    /// True while the node leads the cluster.
    pub leader: bool,
    /// Member ids in join order, as the node has applied them.
    pub members: Vec<String>,
    /// How many voters the raft configuration the node has applied holds.
    pub voters: usize,
    pub transport: TransportStats,
    /// This node's raft id (0 until it has joined).
    pub raft_id: u64,
    /// Raft term, indexes, leader and time without one.
    pub raft: ReplicaStats,
    /// Open connections: accepted from peers, and opened to peers.
    pub inbound_connections: usize,
    pub outbound_connections: usize,
}

impl NodeStatus {
    /// The values after the transport's counters, by name: raft progress and open connections.
    fn gauges(&self) -> [(&'static str, u64); 9] {
        [
            ("raft_id", self.raft_id),
            ("term", self.raft.term),
            ("commit_index", self.raft.commit_index),
            ("applied_index", self.raft.applied_index),
            ("leader_raft_id", self.raft.leader_raft_id),
            ("ms_without_leader", self.raft.ms_without_leader),
            ("log_bytes", self.raft.log_bytes),
            ("inbound_connections", self.inbound_connections as u64),
            ("outbound_connections", self.outbound_connections as u64),
        ]
    }

    /// `address` String, `leader` bool, `members` list of String, `voters` u32, then the
    /// transport's counters and the gauges as a u32 count of (name String, value u64) pairs, so a
    /// reader finds each by name and a newer library can add some.
    pub fn encode(&self) -> Vec<u8> {
        let mut counters = self.transport.counters().to_vec();
        counters.extend(self.gauges());
        let mut out = Vec::with_capacity(64 + 32 * self.members.len() + 40 * counters.len());
        let mut w = Writer::new(&mut out);
        w.put(&self.address);
        w.put(&self.leader);
        w.put(&self.members);
        w.u32(u32::try_from(self.voters).unwrap_or(u32::MAX));
        w.len(counters.len());
        for (name, value) in counters {
            w.bytes(name.as_bytes());
            w.u64(value);
        }
        out
    }
}
