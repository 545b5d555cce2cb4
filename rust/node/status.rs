//! What a node reports of itself, and the one value it crosses JNI as (layout in
//! `tests/vectors/README.md`): the monitoring surface of a running node.

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
}

impl NodeStatus {
    /// `address` String, `leader` bool, `members` list of String, `voters` u32, then the
    /// transport's counters as a u32 count of (name String, value u64) pairs, so a reader finds
    /// each counter by name and a newer library can add counters.
    pub fn encode(&self) -> Vec<u8> {
        let counters = self.transport.counters();
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
