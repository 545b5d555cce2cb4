//! Exactly-once application of replicated requests.
//!
//! A node may propose a request again when the leader it went to lost leadership before the
//! request was known to be committed: the first copy may already be in the log. Each node's
//! requests carry its own increasing request ids, and with each one the lowest id the node still
//! has open (`settled_below`): every id before it is settled for good (applied, or given up and
//! never proposed again). Per node, the state machine remembers that floor and the ids applied
//! above it; a request at or below the floor, or applied already, is skipped. Ids wrap around u32,
//! so they compare in serial-number order (a window of 2^31).

use std::collections::HashSet;

use super::FastMap;

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

    /// Forgets a node that left the cluster.
    pub fn remove(&mut self, origin: &str) {
        self.by_origin.remove(origin);
    }

    /// Every session sorted by origin, applied ids sorted: the snapshot's view.
    pub fn sorted(&self) -> Vec<(&String, u32, Vec<u32>)> {
        let mut out: Vec<_> = self
            .by_origin
            .iter()
            .map(|(o, s)| {
                let mut ids: Vec<u32> = s.applied.iter().copied().collect();
                ids.sort_unstable();
                (o, s.floor, ids)
            })
            .collect();
        out.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out
    }

    pub fn insert_raw(&mut self, origin: String, floor: u32, applied: Vec<u32>) {
        let session = Session {
            floor,
            applied: applied.into_iter().collect(),
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
    fn ids_wrap_around() {
        let mut s = Sessions::default();
        assert!(s.first_time("a", u32::MAX, u32::MAX));
        assert!(s.first_time("a", 0, u32::MAX));
        assert!(s.first_time("a", 1, 0));
        assert!(!s.first_time("a", u32::MAX, 1));
        assert!(!s.first_time("a", 0, 1));
    }
}
