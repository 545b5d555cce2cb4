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
//!
//! The store also keeps the size of every entry it holds (16 bytes of bookkeeping per entry), so
//! the log is bounded in bytes as well as in entries: a log of large values is compacted long
//! before it holds its entry count of them.

use std::cell::Cell;
use std::collections::VecDeque;

use raft::prelude::{ConfState, Entry, HardState, Snapshot};
use raft::storage::{MemStorage, RaftState, Storage};
use raft::{GetEntriesContext, StorageError};

#[derive(Default)]
pub(crate) struct LogStore {
    mem: MemStorage,
    snapshot: Snapshot,
    /// The follower a snapshot was last asked for and could not be given.
    snapshot_wanted: Cell<Option<u64>>,
    /// (index, data bytes) of every entry held, in index order.
    sizes: VecDeque<(u64, u64)>,
    /// The sum of `sizes`.
    bytes: u64,
    /// Index and term of the last entry compaction dropped. raft-rs's `MemStorage` forgets that
    /// term (it keeps only its snapshot's), but a leader needs it to append to a follower that
    /// has exactly the entries before the log's first: without it raft sends that follower a
    /// snapshot at the index it already has, which it ignores, and again after each heartbeat.
    compacted: Option<(u64, u64)>,
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
        self.mem.wl().append(entries)?;
        if let Some(first) = entries.first() {
            // Entries from `first.index` on replace what the log held there.
            while self.sizes.back().is_some_and(|&(i, _)| i >= first.index) {
                let (_, size) = self.sizes.pop_back().expect("checked");
                self.bytes -= size;
            }
        }
        for entry in entries {
            let size = entry.data.len() as u64;
            self.sizes.push_back((entry.index, size));
            self.bytes += size;
        }
        Ok(())
    }

    /// Bytes of entry data the log holds.
    pub fn log_bytes(&self) -> u64 {
        self.bytes
    }

    /// The first index to keep when the log, up to `applied`, should shrink to at most
    /// `keep_entries` entries and `keep_bytes` bytes (at least the applied entry itself stays).
    pub fn compaction_point(&self, applied: u64, keep_entries: u64, keep_bytes: u64) -> u64 {
        let mut kept_bytes = 0;
        let mut from = applied;
        for &(index, size) in self.sizes.iter().rev() {
            if index > applied {
                continue;
            }
            if applied - index >= keep_entries || kept_bytes + size > keep_bytes {
                break;
            }
            kept_bytes += size;
            from = index;
        }
        from.min(applied)
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
        // The snapshot's own index and term now answer for what came before the log.
        self.compacted = None;
        self.sizes.clear();
        self.bytes = 0;
        Ok(())
    }

    /// Drops the log entries before `index`. No snapshot is built for it: a follower that
    /// needs an entry that is gone gets a snapshot built when raft asks for one. At least one
    /// entry must stay (`MemStorage` derives its first and last index from its entries and
    /// falls back to its own, older, snapshot metadata when none are left).
    pub fn compact(&mut self, index: u64) -> raft::Result<()> {
        let last_dropped = index
            .checked_sub(1)
            .filter(|&i| i >= self.first_log_index())
            .and_then(|i| self.mem.term(i).ok().map(|term| (i, term)));
        self.mem.wl().compact(index)?;
        if last_dropped.is_some() {
            self.compacted = last_dropped;
        }
        while self.sizes.front().is_some_and(|&(i, _)| i < index) {
            let (_, size) = self.sizes.pop_front().expect("checked");
            self.bytes -= size;
        }
        Ok(())
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
        match self.compacted {
            Some((index, term)) if index == idx => Ok(term),
            _ => self.mem.term(idx),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            data: vec![0; 8].into(),
            ..Default::default()
        }
    }

    /// After compaction the store still answers the term of the last entry it dropped, which a
    /// leader needs to append to a follower holding exactly the entries before the log's first.
    #[test]
    fn the_term_of_the_last_compacted_entry_is_still_known() {
        let mut store = LogStore::default();
        let entries: Vec<Entry> = (1..=10).map(|i| entry(i, 1 + i / 4)).collect();
        store.append(&entries).unwrap();
        store.compact(6).unwrap();
        assert_eq!(store.first_log_index(), 6);
        assert_eq!(store.term(5).unwrap(), 2, "the last entry dropped");
        assert_eq!(store.term(6).unwrap(), 2);
        assert!(store.term(4).is_err(), "older entries are gone");
        store.compact(9).unwrap();
        assert_eq!(store.term(8).unwrap(), 3);
        assert!(store.term(5).is_err());
        // A compaction that drops nothing keeps what it knew.
        store.compact(9).unwrap();
        assert_eq!(store.term(8).unwrap(), 3);
    }
}
