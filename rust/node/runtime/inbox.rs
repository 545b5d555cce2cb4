//! Frames received, handed to the replica. One the replica refuses (a raft message out of range
//! for this node's log, say) closes the connection it came over, and the frames read from that
//! connection after it in the same turn are dropped too: a peer that sent one bad frame is not
//! trusted with the rest of its batch. It reconnects, and its next frames are checked afresh.

use std::collections::HashSet;

use super::Loop;
use crate::transport::Incoming;

impl Loop {
    pub(super) fn receive_all(&mut self, inbox: &mut Vec<Incoming>, now_ms: u64) {
        let mut refused = HashSet::new();
        for incoming in inbox.drain(..) {
            if refused.contains(&incoming.token) {
                continue;
            }
            if let Err(e) = self.replica.receive(incoming.frame, now_ms) {
                refused.insert(incoming.token);
                let why = format!("a frame ({e})");
                self.transport
                    .refuse(self.poll.registry(), incoming.token, e.reason, &why);
            }
        }
    }
}
