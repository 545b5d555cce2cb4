//! Async-map storage with per-entry deadlines.
//!
//! An entry may carry an absolute deadline (milliseconds, leader-stamped). Reads at a time at or
//! past the deadline see the entry as absent; the entry itself is removed only by an expire
//! command, so every replica drops it at the same log position. A deadline index ordered by time
//! makes expiry cost proportional to what expires, not to the map's size.

use std::collections::BTreeSet;

use super::FastMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub value: Vec<u8>,
    pub deadline: Option<u64>,
}

impl Entry {
    fn is_live(&self, now_ms: u64) -> bool {
        self.deadline.is_none_or(|d| d > now_ms)
    }
}

#[derive(Debug, Default, Clone)]
pub(crate) struct TtlMap {
    entries: FastMap<Vec<u8>, Entry>,
    deadlines: BTreeSet<(u64, Vec<u8>)>,
}

impl TtlMap {
    /// The live value for `key`.
    pub fn get(&self, key: &[u8], now_ms: u64) -> Option<&Vec<u8>> {
        self.entries
            .get(key)
            .filter(|e| e.is_live(now_ms))
            .map(|e| &e.value)
    }

    /// Stores `value` with `deadline` (None clears any TTL) and returns the previous live value.
    /// The key is copied only when it is new.
    pub fn put(
        &mut self,
        key: &[u8],
        value: Vec<u8>,
        deadline: Option<u64>,
        now_ms: u64,
    ) -> Option<Vec<u8>> {
        match self.entries.get_mut(key) {
            Some(entry) => {
                if entry.deadline != deadline {
                    if let Some(d) = entry.deadline {
                        self.deadlines.remove(&(d, key.to_vec()));
                    }
                    if let Some(d) = deadline {
                        self.deadlines.insert((d, key.to_vec()));
                    }
                }
                let old = std::mem::replace(entry, Entry { value, deadline });
                old.is_live(now_ms).then_some(old.value)
            }
            None => {
                if let Some(d) = deadline {
                    self.deadlines.insert((d, key.to_vec()));
                }
                self.entries.insert(key.to_vec(), Entry { value, deadline });
                None
            }
        }
    }

    /// Inserts unless a live entry exists; returns that entry's value if so.
    pub fn put_if_absent(
        &mut self,
        key: Vec<u8>,
        value: Vec<u8>,
        deadline: Option<u64>,
        now_ms: u64,
    ) -> Option<Vec<u8>> {
        if let Some(existing) = self.get(&key, now_ms) {
            return Some(existing.clone());
        }
        self.put(&key, value, deadline, now_ms);
        None
    }

    /// Removes `key`, returning its value if it was live.
    pub fn remove(&mut self, key: &[u8], now_ms: u64) -> Option<Vec<u8>> {
        let old = self.entries.remove(key)?;
        if let Some(d) = old.deadline {
            self.deadlines.remove(&(d, key.to_vec()));
        }
        old.is_live(now_ms).then_some(old.value)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.deadlines.clear();
    }

    pub fn len(&self, now_ms: u64) -> usize {
        if self.deadlines.is_empty() {
            return self.entries.len();
        }
        self.entries.values().filter(|e| e.is_live(now_ms)).count()
    }

    /// Live entries sorted by key, so every replica lists them in the same order.
    pub fn live_sorted(&self, now_ms: u64) -> Vec<(&Vec<u8>, &Vec<u8>)> {
        let mut out: Vec<_> = self
            .entries
            .iter()
            .filter(|(_, e)| e.is_live(now_ms))
            .map(|(k, e)| (k, &e.value))
            .collect();
        out.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out
    }

    /// Every stored entry (live or not) sorted by key: the snapshot's view.
    pub fn all_sorted(&self) -> Vec<(&Vec<u8>, &Entry)> {
        let mut out: Vec<_> = self.entries.iter().collect();
        out.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out
    }

    /// Restores one entry from a snapshot.
    pub fn insert_raw(&mut self, key: Vec<u8>, entry: Entry) {
        if let Some(d) = entry.deadline {
            self.deadlines.insert((d, key.clone()));
        }
        self.entries.insert(key, entry);
    }

    /// The earliest deadline in the index (possibly of an entry already overwritten).
    pub fn next_deadline(&self) -> Option<u64> {
        self.deadlines.first().map(|(d, _)| *d)
    }

    /// Removes every entry whose deadline is at or before `now_ms`; returns how many went.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let mut expired = 0;
        while let Some((deadline, _)) = self.deadlines.first() {
            if *deadline > now_ms {
                break;
            }
            let (deadline, key) = self.deadlines.pop_first().expect("first exists");
            if self
                .entries
                .get(&key)
                .is_some_and(|e| e.deadline == Some(deadline))
            {
                self.entries.remove(&key);
                expired += 1;
            }
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_entries_read_as_absent_before_they_are_removed() {
        let mut m = TtlMap::default();
        m.put(b"k", b"v".to_vec(), Some(100), 0);
        assert_eq!(m.get(b"k", 99), Some(&b"v".to_vec()));
        assert_eq!(m.get(b"k", 100), None);
        assert_eq!(m.len(100), 0);
        assert_eq!(m.expire(100), 1);
        assert_eq!(m.all_sorted().len(), 0);
    }

    #[test]
    fn plain_put_clears_the_ttl() {
        let mut m = TtlMap::default();
        m.put(b"k", b"1".to_vec(), Some(100), 0);
        m.put(b"k", b"2".to_vec(), None, 10);
        assert_eq!(m.expire(1000), 0);
        assert_eq!(m.get(b"k", 1000), Some(&b"2".to_vec()));
        assert!(m.deadlines.is_empty());
    }

    #[test]
    fn a_new_ttl_replaces_the_old_one() {
        let mut m = TtlMap::default();
        m.put(b"k", b"1".to_vec(), Some(100), 0);
        m.put(b"k", b"2".to_vec(), Some(500), 10);
        assert_eq!(m.expire(200), 0);
        assert_eq!(m.get(b"k", 200), Some(&b"2".to_vec()));
        assert_eq!(m.expire(500), 1);
    }
}
