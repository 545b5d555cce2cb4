//! Exactly-once application of replicated requests.
//!
//! A node may propose a request again when the leader it went to lost leadership before the
//! request was known to be committed: the first copy may already be in the log. Each node's
//! requests carry its own increasing request ids, and with each one the lowest id the node still
//! has open (`settled_below`): every id before it is settled for good (applied, or given up and
//! never proposed again). Per node, the state machine remembers that floor and the ids applied
//! above it; a request at or below the floor, or applied already, is skipped. Ids wrap around u32,
//! so they compare in serial-number order (a window of 2^31).
//!
//! A node's session outlives its removal. A copy of one of its requests may still be on its way
//! then: held by a node that relays it (a leader that lost leadership, a process that was paused
//! with the frame in its socket), or proposed again by the node itself before it hears of its
//! removal. Once the node is admitted again under the same node id, its requests are applied
//! again, and a session forgotten at the removal would apply such a late copy a second time. The
//! node's new incarnation starts its ids past the old ones (`raft::replica::rejoin`), so its first
//! request moves the floor past every id of the old one. Sessions of nodes that are not members
//! are kept for the last [`MAX_RETIRED`] removals: a node that comes back after more removals than
//! that is one of more nodes than a cluster holds, all gone.

use std::collections::HashSet;

use super::FastMap;

/// How many sessions of removed nodes are kept (the most recently removed).
pub(crate) const MAX_RETIRED: usize = 1024;

/// `a` comes before `b` in serial-number order.
fn before(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 1 << 31
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Session {
    /// Every id at or before this one is settled.
    pub floor: u32,
    /// Ids applied after the floor.
    pub applied: HashSet<u32>,
    /// The log index of the origin's removal while it is not a member; 0 while it is.
    pub retired_at: u64,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Sessions {
    by_origin: FastMap<String, Session>,
}

impl Sessions {
    /// Records that `origin` applies `request_id` and says whether it is the first time.
    pub fn first_time(&mut self, origin: &str, request_id: u32, settled_below: u32) -> bool {
        let session = match self.by_origin.get_mut(origin) {
            Some(s) => s,
            None => self
                .by_origin
                .entry(origin.to_owned())
                .or_insert_with(|| Session {
                    floor: settled_below.wrapping_sub(1),
                    applied: HashSet::new(),
                    retired_at: 0,
                }),
        };
        let floor = settled_below.wrapping_sub(1);
        if before(session.floor, floor) {
            session.floor = floor;
            session.applied.retain(|id| before(floor, *id));
        }
        if !before(session.floor, request_id) || !session.applied.insert(request_id) {
            return false;
        }
        true
    }

    /// The newest id of `origin` known: its floor, or a later id applied.
    pub fn newest(&self, origin: &str) -> Option<u32> {
        let s = self.by_origin.get(origin)?;
        Some(s.applied.iter().copied().fold(
            s.floor,
            |newest, id| if before(newest, id) { id } else { newest },
        ))
    }

    /// Whether a first copy of request `request_id` of `origin` would still be applied: it is
    /// above the origin's floor (and not applied already).
    pub fn may_still_apply(&self, origin: &str, request_id: u32) -> bool {
        self.by_origin
            .get(origin)
            .is_none_or(|s| before(s.floor, request_id) && !s.applied.contains(&request_id))
    }

    /// Keeps the session of a node removed from the cluster at log index `index`, and forgets
    /// the session removed longest ago when more than [`MAX_RETIRED`] are kept.
    pub fn retire(&mut self, origin: &str, index: u64) {
        let Some(session) = self.by_origin.get_mut(origin) else {
            return;
        };
        session.retired_at = index.max(1);
        let retired = self
            .by_origin
            .values()
            .filter(|s| s.retired_at != 0)
            .count();
        if retired > MAX_RETIRED {
            let oldest = self
                .by_origin
                .iter()
                .filter(|(_, s)| s.retired_at != 0)
                .min_by(|a, b| (a.1.retired_at, a.0).cmp(&(b.1.retired_at, b.0)))
                .map(|(o, _)| o.clone())
                .expect("more than MAX_RETIRED retired sessions");
            self.by_origin.remove(&oldest);
        }
    }

    /// A removed node is a member again: its session is its own again, not one kept for late
    /// copies.
    pub fn readmitted(&mut self, origin: &str) {
        if let Some(session) = self.by_origin.get_mut(origin) {
            session.retired_at = 0;
        }
    }

    /// Every session sorted by origin, applied ids sorted: the snapshot's view.
    pub fn sorted(&self) -> Vec<(&String, u32, Vec<u32>, u64)> {
        let mut out: Vec<_> = self
            .by_origin
            .iter()
            .map(|(o, s)| {
                let mut ids: Vec<u32> = s.applied.iter().copied().collect();
                ids.sort_unstable();
                (o, s.floor, ids, s.retired_at)
            })
            .collect();
        out.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out
    }

    pub fn insert_raw(&mut self, origin: String, floor: u32, applied: Vec<u32>, retired_at: u64) {
        let session = Session {
            floor,
            applied: applied.into_iter().collect(),
            retired_at,
        };
        self.by_origin.insert(origin, session);
    }

    #[cfg(test)]
    pub fn view(&self) -> std::collections::BTreeMap<String, Session> {
        self.by_origin
            .iter()
            .map(|(o, s)| (o.clone(), s.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_applies_once() {
        let mut s = Sessions::default();
        assert!(s.first_time("a", 5, 5));
        assert!(!s.first_time("a", 5, 5), "the same request again");
        assert!(s.first_time("a", 7, 5));
        assert!(
            s.first_time("a", 6, 5),
            "a late but new request still applies"
        );
        assert!(!s.first_time("a", 7, 8), "below the floor");
        assert!(s.first_time("b", 7, 1), "sessions are per origin");
        assert_eq!(s.view()["a"].floor, 7);
        assert!(
            s.view()["a"].applied.is_empty(),
            "ids below the floor are pruned"
        );
    }

    #[test]
    fn a_removed_nodes_session_is_kept_for_the_latest_removals() {
        let mut s = Sessions::default();
        assert!(s.first_time("a", 5, 5));
        s.retire("a", 10);
        assert_eq!(s.view()["a"].retired_at, 10);
        assert!(!s.first_time("a", 5, 5), "a late copy after the removal");
        s.readmitted("a");
        assert_eq!(s.view()["a"].retired_at, 0);
        s.retire("nobody", 11);
        assert!(!s.view().contains_key("nobody"), "no session, nothing kept");

        for i in 0..MAX_RETIRED as u64 {
            let origin = format!("n{i}");
            assert!(s.first_time(&origin, 1, 1));
            s.retire(&origin, 100 + i);
        }
        assert_eq!(s.view().len(), MAX_RETIRED + 1, "all kept, and a's");
        s.retire("a", 5_000);
        assert_eq!(s.view().len(), MAX_RETIRED);
        assert!(
            !s.view().contains_key("n0"),
            "the session removed longest ago goes"
        );
        assert!(s.view().contains_key("n1") && s.view().contains_key("a"));
    }

    #[test]
    fn ids_wrap_around() {
        let mut s = Sessions::default();
        assert!(s.first_time("a", u32::MAX, u32::MAX));
        assert!(s.first_time("a", 0, u32::MAX));
        assert!(s.first_time("a", 1, 0));
        assert!(!s.first_time("a", u32::MAX, 1));
        assert!(!s.first_time("a", 0, 1));
    }
}
