//! What a replica reports for monitoring: its raft term and indexes, the leader it follows and
//! how long it has been without one.

use super::Replica;

/// A replica's raft progress, for metrics and health checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaStats {
    /// The raft term.
    pub term: u64,
    /// The highest log index known committed.
    pub commit_index: u64,
    /// The highest log index applied to the state machine.
    pub applied_index: u64,
    /// The raft id of the leader it follows (its own when it leads), 0 when none.
    pub leader_raft_id: u64,
    /// How long it has reached no leader, in ms (0 while it has one).
    pub ms_without_leader: u64,
    /// Bytes of entry data its log holds.
    pub log_bytes: u64,
}

impl Replica {
    pub fn stats(&self) -> ReplicaStats {
        let Some(raw) = self.raw.as_ref() else {
            return ReplicaStats::default();
        };
        let ms_without_leader = self.no_leader_since_tick.map_or(0, |since| {
            self.ticks
                .saturating_sub(since)
                .saturating_mul(self.cfg.tick_ms)
        });
        ReplicaStats {
            term: raw.raft.term,
            commit_index: raw.raft.raft_log.committed,
            applied_index: raw.raft.raft_log.applied,
            leader_raft_id: raw.raft.leader_id,
            ms_without_leader,
            log_bytes: self.log_bytes(),
        }
    }
}
