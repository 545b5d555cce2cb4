//! Check 1: locks. Client holds never overlap and carry growing fencing tokens, every replica
//! applies the same grants, and no lock is left to a node that is not a member.

use std::collections::{BTreeMap, HashSet};

use crate::history::{excerpt, Hold, OpKind};
use crate::workload::Workload;
use crate::world::{SeenGrant, Sim};
use crate::LOCKS;

pub(crate) fn check_locks(sim: &Sim, w: &Workload, out: &mut Vec<String>) {
    // Clients: holds of one lock never overlap; later holds have larger tokens.
    for lock in LOCKS {
        // A hold ends when its node is declared dead (which releases its locks), even when the
        // node saw the grant only after that: such a hold is empty. A node removed and admitted
        // again keeps a session that believes it holds the lock until it goes to release it;
        // holds granted meanwhile must carry larger fencing tokens, so a resource that checks
        // tokens refuses the stale holder.
        // The removal that ended the incarnation the grant belongs to.
        let removed_since = |h: &Hold| {
            sim.removals
                .get(&h.node_id)
                .and_then(|r| r.get(h.incarnation as usize).copied())
                .unwrap_or(u64::MAX)
        };
        let believed: Vec<&Hold> = w.holds.iter().filter(|h| h.lock == lock).collect();
        for a in &believed {
            let cut = removed_since(a);
            let believed_end = a.end.unwrap_or(u64::MAX);
            if cut >= believed_end {
                continue;
            }
            for b in &believed {
                let other = !std::ptr::eq(*a, *b);
                if other && b.start >= cut && b.start < believed_end && b.token <= a.token {
                    out.push(format!(
                        "check 1: s{} on {} believed it held {lock} (token {}) after its node was removed at {cut}, and s{} on {} was granted it at {} with token {}, not larger",
                        a.session, a.node, a.token, b.session, b.node, b.start, b.token
                    ));
                }
            }
        }
        let mut holds: Vec<(u64, u64, &Hold)> = believed
            .into_iter()
            .map(|h| (h.start, h.end.unwrap_or(u64::MAX).min(removed_since(h)), h))
            .filter(|(start, end, _)| start < end)
            .collect();
        holds.sort_by_key(|(s, _, _)| *s);
        'pairs: for (i, (a_start, a_end, a)) in holds.iter().enumerate() {
            for (b_start, _, b) in &holds[i + 1..] {
                let _ = a_start;
                if b_start < a_end {
                    out.push(format!(
                        "check 1: two sessions hold {lock} at once: s{} on {} (ticket {}, token {}) from {} to {a_end}, and s{} on {} (ticket {}, token {}) from {b_start}\n{}",
                        a.session, a.node, a.ticket, a.token, a.start, b.session, b.node, b.ticket, b.token,
                        excerpt(w, |o| matches!(o.kind, OpKind::Acquire(l, _) | OpKind::Release(l) if l == lock), *b_start, 30)
                    ));
                    break 'pairs;
                }
                if b.token <= a.token {
                    out.push(format!(
                        "check 1: {lock}'s hold by s{} (token {}) follows the hold by s{} (token {}) but its token is not larger",
                        b.session, b.token, a.session, a.token
                    ));
                    break 'pairs;
                }
            }
        }
    }

    // Replicas: a token names the same grant everywhere; a replica that applied the entries
    // around a grant saw it; tokens grow on every replica.
    let mut by_token: BTreeMap<u64, (&str, &SeenGrant)> = BTreeMap::new();
    let processes: Vec<(&str, &crate::world::Node)> = sim
        .nodes
        .values()
        .map(|node| (node.node_id.as_str(), node))
        .chain(sim.retired.iter().map(|n| (n.node_id.as_str(), n)))
        .collect();
    for &(name, node) in &processes {
        let mut last = 0;
        for g in &node.grants {
            if g.token <= last {
                out.push(format!(
                    "check 1: {name} applied grant token {} after token {last}",
                    g.token
                ));
            }
            last = g.token;
            match by_token.get(&g.token) {
                Some((other, h))
                    if (h.lock.as_str(), h.node_id.as_str(), h.request_id)
                        != (g.lock.as_str(), g.node_id.as_str(), g.request_id) =>
                {
                    out.push(format!(
                        "check 1: token {} is {} to {}/{} on {other} but {} to {}/{} on {name}",
                        g.token, h.lock, h.node_id, h.request_id, g.lock, g.node_id, g.request_id
                    ));
                }
                Some(_) => {}
                None => {
                    by_token.insert(g.token, (name, g));
                }
            }
        }
    }
    for &(name, node) in &processes {
        let seen: HashSet<u64> = node.grants.iter().map(|g| g.token).collect();
        for (token, (other, g)) in &by_token {
            let applied_all = node.last_applied >= g.hi
                && !node.gaps.iter().any(|(lo, hi)| *lo < g.hi && g.lo < *hi);
            if applied_all && !seen.contains(token) {
                out.push(format!(
                    "check 1: {name} applied indexes {}..={} by log but missed grant token {token} ({} to {}/{}) that {other} applied there",
                    g.lo + 1, g.hi, g.lock, g.node_id, g.request_id
                ));
                break;
            }
        }
    }
}

/// Whoever holds a lock is a member: a departed node's locks were released when it left, and
/// nobody would ever release a lock granted to a node that is no longer a member.
pub(crate) fn check_lock_holders_are_members(sim: &Sim, out: &mut Vec<String>) {
    let Some(leader) = sim.leader() else {
        return;
    };
    let fsm = sim.replica(&leader).expect("live").fsm();
    for lock in LOCKS {
        if let Some(h) = fsm.lock_holder(lock) {
            if !fsm.is_member(&h.node_id) {
                let removed = sim
                    .removed_at
                    .get(&h.node_id)
                    .map_or(String::new(), |c| format!(", removed at clock {c}"));
                out.push(format!(
                    "locks: {lock} is held by {} (request {}, token {}), which is not a member{removed}: nobody will ever release it",
                    h.node_id, h.request_id, h.fencing_token
                ));
            }
        }
    }
}
