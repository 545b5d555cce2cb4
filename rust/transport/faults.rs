//! Fault injection for tests and drills: a shared set of blocked (from, to) pairs of listen
//! addresses, and nodes whose event loop is to panic. The transport consults it on every send and drops frames on a blocked pair, so a
//! test can cut links, isolate a node and heal the network without touching sockets.
//!
//! Invariant: the set is symmetric for pairs added by [`Faults::block`] and [`Faults::isolate`];
//! every clone shares one set, so a test holds one handle and every node sees its changes at once.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Blocked links between listen addresses. Cheap to clone: clones share the same set.
#[derive(Clone, Default, Debug)]
pub struct Faults {
    blocked: Arc<Mutex<HashSet<(SocketAddr, SocketAddr)>>>,
    /// Listen addresses of nodes whose event loop is to panic at its next turn.
    loop_panics: Arc<Mutex<HashSet<SocketAddr>>>,
}

impl Faults {
    /// A network with nothing blocked.
    pub fn new() -> Self {
        Self::default()
    }

    /// Blocks the link between `a` and `b` in both directions.
    pub fn block(&self, a: SocketAddr, b: SocketAddr) {
        let mut blocked = self.blocked_pairs();
        blocked.insert((a, b));
        blocked.insert((b, a));
    }

    /// Blocks every link between `a` and each of `others`, both directions.
    pub fn isolate(&self, a: SocketAddr, others: &[SocketAddr]) {
        let mut blocked = self.blocked_pairs();
        for &other in others {
            blocked.insert((a, other));
            blocked.insert((other, a));
        }
    }

    /// Unblocks every link.
    pub fn heal(&self) {
        self.blocked_pairs().clear();
    }

    /// Whether frames from the node listening at `from` to the node listening at `to` are dropped.
    pub fn is_blocked(&self, from: SocketAddr, to: SocketAddr) -> bool {
        self.blocked_pairs().contains(&(from, to))
    }

    /// Makes the event loop of the node listening at `node` panic at its next turn: the drill
    /// for a bug in the loop, whose node must then fail every request at once and go.
    pub fn panic_loop(&self, node: SocketAddr) {
        lock(&self.loop_panics).insert(node);
    }

    /// Whether the loop of the node at `node` must panic now (asked once per turn).
    pub fn take_loop_panic(&self, node: SocketAddr) -> bool {
        let mut panics = lock(&self.loop_panics);
        !panics.is_empty() && panics.remove(&node)
    }

    fn blocked_pairs(&self) -> MutexGuard<'_, HashSet<(SocketAddr, SocketAddr)>> {
        lock(&self.blocked)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a set of addresses half-updated in a way that
    // matters here, and a test thread that panicked must not take the others down.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn block_is_symmetric_and_shared_by_clones() {
        let faults = Faults::new();
        let clone = faults.clone();
        faults.block(addr(1), addr(2));
        assert!(clone.is_blocked(addr(1), addr(2)));
        assert!(clone.is_blocked(addr(2), addr(1)));
        assert!(!clone.is_blocked(addr(1), addr(3)));
    }

    #[test]
    fn isolate_cuts_every_listed_link_and_heal_restores_all() {
        let faults = Faults::new();
        faults.isolate(addr(1), &[addr(2), addr(3)]);
        assert!(faults.is_blocked(addr(3), addr(1)));
        assert!(faults.is_blocked(addr(1), addr(2)));
        assert!(!faults.is_blocked(addr(2), addr(3)));
        faults.heal();
        assert!(!faults.is_blocked(addr(1), addr(2)));
    }
}
