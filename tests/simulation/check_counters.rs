//! Checks 2 and 3 on counters: final reads between acknowledged and invoked increments,
//! distinct acknowledged values, and values that respect real-time order.

use std::collections::BTreeMap;

use vertx_cluster::wire::Message;

use crate::history::{excerpt, Op, OpKind, Outcome};
use crate::workload::Workload;
use crate::{COUNTERS, FINAL};

struct CounterOp {
    idx: usize,
    inv: u64,
    comp: u64,
    value: i64,
    inc: bool,
}

pub(crate) fn check_counters(w: &Workload, out: &mut Vec<String>) {
    for counter in COUNTERS {
        let related =
            |o: &Op| matches!(o.kind, OpKind::Inc(c) | OpKind::CounterGet(c) if c == counter);
        let mut inc_invs: Vec<u64> = Vec::new();
        let mut acked: Vec<CounterOp> = Vec::new();
        for (idx, o) in w.ops.iter().enumerate() {
            match (&o.kind, &o.outcome, o.comp) {
                (OpKind::Inc(c), outcome, comp) if *c == counter => {
                    inc_invs.push(o.inv);
                    if let (Outcome::Ok(Message::CounterAddAndGetResponse { value }), Some(comp)) =
                        (outcome, comp)
                    {
                        acked.push(CounterOp {
                            idx,
                            inv: o.inv,
                            comp,
                            value: *value,
                            inc: true,
                        });
                    }
                }
                (
                    OpKind::CounterGet(c),
                    Outcome::Ok(Message::CounterGetResponse { value }),
                    Some(comp),
                ) if *c == counter => {
                    acked.push(CounterOp {
                        idx,
                        inv: o.inv,
                        comp,
                        value: *value,
                        inc: false,
                    });
                }
                _ => {}
            }
        }
        inc_invs.sort_unstable();
        let mut inc_comps: Vec<u64> = acked.iter().filter(|o| o.inc).map(|o| o.comp).collect();
        inc_comps.sort_unstable();
        let acked_incs = inc_comps.len() as i64;

        // Check 2: distinct values; the final read between acknowledged and invoked.
        let mut values: BTreeMap<i64, usize> = BTreeMap::new();
        for o in acked.iter().filter(|o| o.inc) {
            if let Some(prev) = values.insert(o.value, o.idx) {
                out.push(format!(
                    "check 2: two acknowledged increments of {counter} returned {}:\n      {}\n      {}",
                    o.value, w.ops[prev].describe(prev), w.ops[o.idx].describe(o.idx)
                ));
                break;
            }
        }
        match acked.iter().rev().find(|o| !o.inc && w.ops[o.idx].session == FINAL) {
            Some(f) if f.value < acked_incs || f.value > inc_invs.len() as i64 => out.push(format!(
                "check 2: {counter} reads {} at the end, but {acked_incs} increments were acknowledged and {} invoked\n{}",
                f.value, inc_invs.len(), excerpt(w, related, f.inv, 30)
            )),
            Some(_) => {}
            // Reported as a liveness failure.
            None => {}
        }

        // Check 3: each value within what real time allows.
        for o in &acked {
            let invoked_before = inc_invs.partition_point(|t| *t < o.comp) as i64;
            let done_before = inc_comps.partition_point(|t| *t < o.inv) as i64 + i64::from(o.inc);
            if o.value > invoked_before || o.value < done_before {
                out.push(format!(
                    "check 3: {counter}: {} saw {} but {done_before}..={invoked_before} was possible from the increments before it\n{}",
                    w.ops[o.idx].describe(o.idx), o.value, excerpt(w, related, o.inv, 30)
                ));
                break;
            }
        }
        // ... and after every value completed before it was invoked.
        let mut by_comp: Vec<&CounterOp> = acked.iter().collect();
        by_comp.sort_by_key(|o| o.comp);
        let mut by_inv: Vec<&CounterOp> = acked.iter().collect();
        by_inv.sort_by_key(|o| o.inv);
        let (mut p, mut max_seen, mut max_idx) = (0, 0i64, None);
        for o in by_inv {
            while p < by_comp.len() && by_comp[p].comp < o.inv {
                if by_comp[p].value > max_seen {
                    max_seen = by_comp[p].value;
                    max_idx = Some(by_comp[p].idx);
                }
                p += 1;
            }
            let stale = if o.inc {
                o.value <= max_seen
            } else {
                o.value < max_seen
            };
            if stale {
                let before = max_idx.map_or(String::new(), |i| w.ops[i].describe(i));
                out.push(format!(
                    "check 3: {counter} is not linearizable: {}\n      was invoked after {before} completed\n{}",
                    w.ops[o.idx].describe(o.idx), excerpt(w, related, o.inv, 30)
                ));
                break;
            }
        }
    }
}
