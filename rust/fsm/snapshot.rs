//! Snapshot bytes of the whole state: versioned, checksummed and deterministic.
//!
//! Layout: magic `VXCS`, format version u16, CRC32 of the body u32, then the body in the wire
//! codec's field encoding. Version 2 adds the state's clock (`time_ms`) after `next_raft_id`;
//! version 1 snapshots (without it) are still read, at time 0. Version 3 adds each member's
//! failure domain after its node info; older snapshots are read with the domains unknown.
//! Version 4 adds, after each exactly-once session, the log index of its node's removal (0 for a
//! member): sessions outlive their node's removal since then, so older snapshots hold members'
//! sessions only. Every collection is written in sorted order (lock queues and
//! registration lists in their own order, which is part of the state), so two replicas with the
//! same state produce the same bytes. Restoring decodes into a fresh state and swaps it in only
//! when everything decoded, so a corrupt or foreign snapshot leaves the current state untouched.

use std::collections::VecDeque;

use super::locks::{Holder, LockState, Waiter};
use super::maps::Entry;
use super::{Member, StateMachine};
use crate::wire::codec::{Reader, Writer};
use crate::wire::{RegistrationInfo, WireError};

const MAGIC: &[u8; 4] = b"VXCS";
/// Also the state machine's [`super::RULES_VERSION`]: raised when a command's effect changes,
/// even if the layout does not.
pub(crate) const FORMAT_VERSION: u16 = 4;
const PREAMBLE: usize = 10;

/// Why snapshot bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("not a vertx-cluster snapshot (bad magic)")]
    NotASnapshot,
    #[error("unsupported snapshot format version {0} (this build reads {FORMAT_VERSION})")]
    UnsupportedVersion(u16),
    #[error("snapshot checksum mismatch: the bytes are corrupt")]
    BadChecksum,
    #[error("malformed snapshot body: {0}")]
    Malformed(#[from] WireError),
}

fn sorted<'a, K: Ord + 'a, V: 'a>(it: impl Iterator<Item = (&'a K, &'a V)>) -> Vec<(&'a K, &'a V)> {
    let mut v: Vec<_> = it.collect();
    v.sort_unstable_by(|a, b| a.0.cmp(b.0));
    v
}

impl StateMachine {
    /// The whole state as snapshot bytes.
    pub fn create_snapshot(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(256);
        let mut w = Writer::new(&mut body);
        w.u64(self.last_applied);
        w.u64(self.next_raft_id);
        w.u64(self.time_ms);

        w.len(self.members.len());
        for m in &self.members {
            w.put(&m.node_id);
            w.put(&m.raft_id);
            w.put(&m.address);
            w.put(&m.info);
            w.put(&m.domain);
        }

        let regs = sorted(self.registrations.iter());
        w.len(regs.len());
        for (address, list) in regs {
            w.put(address);
            w.put(list);
        }

        let maps = sorted(self.maps.iter());
        w.len(maps.len());
        for (name, map) in maps {
            w.put(name);
            let entries = map.all_sorted();
            w.len(entries.len());
            for (key, entry) in entries {
                w.put(key);
                w.put(&entry.value);
                w.put(&entry.deadline);
            }
        }

        let sets = sorted(self.sets.iter());
        w.len(sets.len());
        for (name, set) in sets {
            w.put(name);
            w.len(set.len());
            for v in set {
                w.put(v);
            }
        }

        let counters = sorted(self.counters.iter());
        w.len(counters.len());
        for (name, value) in counters {
            w.put(name);
            w.put(value);
        }

        w.u64(self.locks.last_token());
        let locks = self.locks.sorted();
        w.len(locks.len());
        for (name, lock) in locks {
            w.put(name);
            match &lock.holder {
                None => w.u8(0),
                Some(h) => {
                    w.u8(1);
                    w.put(&h.node_id);
                    w.put(&h.request_id);
                    w.put(&h.fencing_token);
                }
            }
            w.len(lock.waiters.len());
            for waiter in &lock.waiters {
                w.put(&waiter.node_id);
                w.put(&waiter.request_id);
                w.put(&waiter.deadline);
            }
        }

        let sync_maps = sorted(self.sync_maps.iter());
        w.len(sync_maps.len());
        for (name, map) in sync_maps {
            w.put(name);
            w.len(map.len());
            for (k, v) in map {
                w.put(k);
                w.put(v);
            }
        }

        let sessions = self.sessions.sorted();
        w.len(sessions.len());
        for (origin, floor, applied, retired_at) in sessions {
            w.put(origin);
            w.put(&floor);
            w.len(applied.len());
            for id in applied {
                w.put(&id);
            }
            w.put(&retired_at);
        }

        let mut out = Vec::with_capacity(PREAMBLE + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Replaces the state with the snapshot's, or leaves it untouched and says why not.
    pub fn restore_from_snapshot(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        *self = Self::from_snapshot(bytes)?;
        Ok(())
    }

    /// A state machine holding the snapshot's state.
    pub fn from_snapshot(bytes: &[u8]) -> Result<StateMachine, SnapshotError> {
        if bytes.len() < PREAMBLE || &bytes[0..4] != MAGIC {
            return Err(SnapshotError::NotASnapshot);
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if !(1..=FORMAT_VERSION).contains(&version) {
            return Err(SnapshotError::UnsupportedVersion(version));
        }
        let checksum = u32::from_le_bytes(bytes[6..10].try_into().expect("4 bytes"));
        let body = &bytes[PREAMBLE..];
        if crc32fast::hash(body) != checksum {
            return Err(SnapshotError::BadChecksum);
        }
        let mut r = Reader::new(body);
        let mut sm = StateMachine {
            last_applied: r.u64("last_applied")?,
            next_raft_id: r.u64("next_raft_id")?,
            ..StateMachine::default()
        };
        if version >= 2 {
            sm.time_ms = r.u64("time_ms")?;
        }

        for _ in 0..r.len("members", 17)? {
            let node_id = r.get("node_id")?;
            let raft_id = r.get("raft_id")?;
            let address = r.get("address")?;
            let info = r.get("info")?;
            let domain = if version >= 3 {
                r.get("domain")?
            } else {
                String::new()
            };
            sm.push_member(Member {
                node_id,
                raft_id,
                address,
                domain,
                info,
            });
        }
        for _ in 0..r.len("registrations", 8)? {
            let address: String = r.get("address")?;
            let list: Vec<RegistrationInfo> = r.get("registration")?;
            sm.registrations.insert(address, list);
        }
        for _ in 0..r.len("maps", 8)? {
            let name: String = r.get("map_name")?;
            let map = sm.maps.entry(name).or_default();
            for _ in 0..r.len("map_entries", 9)? {
                let key: Vec<u8> = r.get("key")?;
                let entry = Entry {
                    value: r.get("value")?,
                    deadline: r.get("deadline")?,
                };
                map.insert_raw(key, entry);
            }
        }
        for _ in 0..r.len("sets", 8)? {
            let name: String = r.get("set_name")?;
            let set = sm.sets.entry(name).or_default();
            for _ in 0..r.len("set_members", 4)? {
                set.insert(r.get("member")?);
            }
        }
        for _ in 0..r.len("counters", 12)? {
            let name: String = r.get("counter_name")?;
            sm.counters.insert(name, r.get("counter_value")?);
        }
        sm.locks.set_last_token(r.u64("last_token")?);
        for _ in 0..r.len("locks", 9)? {
            let name: String = r.get("lock_name")?;
            let holder = match r.u8("holder")? {
                1 => Some(Holder {
                    node_id: r.get("holder_node")?,
                    request_id: r.get("holder_request")?,
                    fencing_token: r.get("fencing_token")?,
                }),
                tag => {
                    return Err(WireError::BadTag {
                        field: "holder",
                        tag,
                    }
                    .into())
                }
            };
            let mut waiters = VecDeque::new();
            for _ in 0..r.len("waiters", 9)? {
                waiters.push_back(Waiter {
                    node_id: r.get("waiter_node")?,
                    request_id: r.get("waiter_request")?,
                    deadline: r.get("waiter_deadline")?,
                });
            }
            sm.locks.insert_raw(name, LockState { holder, waiters });
        }
        for _ in 0..r.len("sync_maps", 8)? {
            let name: String = r.get("sync_map_name")?;
            let map = sm.sync_maps.entry(name).or_default();
            for _ in 0..r.len("sync_map_entries", 8)? {
                let key: Vec<u8> = r.get("key")?;
                map.insert(key, r.get("value")?);
            }
        }
        for _ in 0..r.len("sessions", 12)? {
            let origin: String = r.get("session_origin")?;
            let floor: u32 = r.get("session_floor")?;
            let mut applied = Vec::new();
            for _ in 0..r.len("session_applied", 4)? {
                applied.push(r.get("session_request")?);
            }
            let retired_at = if version >= 4 {
                r.get("session_retired_at")?
            } else {
                0
            };
            sm.sessions.insert_raw(origin, floor, applied, retired_at);
        }
        r.finish()?;
        Ok(sm)
    }
}
