//! Raft log storage: raft-rs's in-memory log and hard state, plus the latest state-machine
//! snapshot, which is what a lagging or new follower is sent.
//!
//! raft-rs's `MemStorage` answers `snapshot()` with metadata only; ours answers with the bytes of
//! the state machine at the snapshot's index. When the stored snapshot is too old for the
//! request or for the log (compaction dropped entries after it), or does not yet list the
//! follower in its configuration (raft-rs refuses such a snapshot), the answer is "temporarily
//! unavailable" and the store notes the follower, so that the replica takes a fresh snapshot and
//! has raft send it at once (raft-rs would otherwise ask again only on the follower's next
//! response, a heartbeat later). Snapshots are only built on such a request: compaction just drops
//! old entries.

use std::cell::Cell;

use raft::prelude::{ConfState, Entry, HardState, Snapshot};
use raft::storage::{MemStorage, RaftState, Storage};
use raft::{GetEntriesContext, StorageError};

#[derive(Default)]
pub(crate) struct LogStore {
    mem: MemStorage,
    snapshot: Snapshot,
    /// The follower a snapshot was last asked for and could not be given.
    snapshot_wanted: Cell<Option<u64>>,
}

impl LogStore {
    /// Storage for the node that starts a new cluster: it alone is a voter. The configuration
    /// lives in a snapshot at index 1 (holding the empty state machine), not in the log, so a
    /// node that joins later learns it from that snapshot before any entry.
    pub fn bootstrap(raft_id: u64, empty_state: Vec<u8>) -> LogStore {
        let mut snapshot = Snapshot::default();
        snapshot.set_data(empty_state.into());
        let meta = snapshot.mut_metadata();
        meta.index = 1;
        meta.term = 1;
        meta.set_conf_state(ConfState::from((vec![raft_id], vec![])));
        let mut store = LogStore::default();
        store
            .apply_snapshot(snapshot)
            .expect("an empty log accepts any snapshot");
        store
    }

    pub fn append(&mut self, entries: &[Entry]) -> raft::Result<()> {
        self.mem.wl().append(entries)
    }

    pub fn set_hard_state(&mut self, hs: HardState) {
        self.mem.wl().set_hardstate(hs);
    }

    pub fn set_commit(&mut self, commit: u64) {
        self.mem.wl().mut_hard_state().commit = commit;
    }

    pub fn set_conf_state(&mut self, cs: ConfState) {
        self.mem.wl().set_conf_state(cs);
    }

    /// Installs a snapshot received from the leader.
    pub fn apply_snapshot(&mut self, snapshot: Snapshot) -> raft::Result<()> {
        self.mem.wl().apply_snapshot(snapshot.clone())?;
        self.snapshot = snapshot;
        Ok(())
    }

    /// Drops the log entries before `index`. No snapshot is built for it: a follower that
    /// needs an entry that is gone gets a snapshot built when raft asks for one. At least one
    /// entry must stay (`MemStorage` derives its first and last index from its entries and
    /// falls back to its own, older, snapshot metadata when none are left).
    pub fn compact(&mut self, index: u64) -> raft::Result<()> {
        self.mem.wl().compact(index)
    }

    /// The follower raft last asked a snapshot for that this store could not give (once).
    pub fn take_snapshot_wanted(&self) -> Option<u64> {
        self.snapshot_wanted.take()
    }

    /// Records a fresh snapshot to send, keeping the log.
    pub fn set_snapshot(&mut self, snapshot: Snapshot) {
        self.snapshot = snapshot;
    }

    pub fn first_log_index(&self) -> u64 {
        Storage::first_index(&self.mem).unwrap_or(1)
    }
}

impl Storage for LogStore {
    fn initial_state(&self) -> raft::Result<RaftState> {
        self.mem.initial_state()
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        self.mem.entries(low, high, max_size, context)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.mem.term(idx)
    }

    fn first_index(&self) -> raft::Result<u64> {
        self.mem.first_index()
    }

    fn last_index(&self) -> raft::Result<u64> {
        self.mem.last_index()
    }

    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        let meta = self.snapshot.get_metadata();
        let conf = meta.get_conf_state();
        let lists_to = conf.voters.contains(&to) || conf.learners.contains(&to);
        // A snapshot older than the log's start would leave a gap between it and the log.
        let behind_log = meta.index + 1 < self.first_log_index();
        if meta.index < request_index
            || behind_log
            || !lists_to
            || self.snapshot.get_data().is_empty()
        {
            self.snapshot_wanted.set(Some(to));
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        Ok(self.snapshot.clone())
    }
}
