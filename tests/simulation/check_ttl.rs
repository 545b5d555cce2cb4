//! Check 5: TTLs. Entries expire by the cluster's time (leader stamps counted on with each
//! replica's monotonic clock, never a wall clock), so no read finds an entry expired before its TTL
//! could have run out since its put was invoked, whatever the nodes' clocks read or how they jump:
//! a replica's count leads real time by at most one tick (`raft::replica::clock`). And once
//! the cluster has settled, every entry whose TTL has run out is gone on every member.

use vertx_cluster::wire::Message;

use crate::history::{Op, OpKind, Outcome};
use crate::workload::Workload;
use crate::world::Sim;
use crate::{TICK_MS, TTL_MAP};

pub(crate) fn check_ttl(w: &Workload, out: &mut Vec<String>) {
    let puts: std::collections::BTreeMap<u64, (&Op, u64)> = w
        .ops
        .iter()
        .filter_map(|o| match o.kind {
            OpKind::PutTtl(id, ttl) => Some((id, (o, ttl))),
            _ => None,
        })
        .collect();
    for (i, read) in w.ops.iter().enumerate() {
        let (OpKind::GetTtl(id), Outcome::Ok(Message::MapGetResponse { value: None })) =
            (&read.kind, &read.outcome)
        else {
            continue;
        };
        let Some((put, ttl)) = puts.get(id) else {
            continue;
        };
        // Only a put known to be applied before the read began must be seen.
        let acked_before =
            matches!(put.outcome, Outcome::Ok(_)) && put.comp.is_some_and(|c| c < read.inv);
        let Some(comp_tick) = read.comp_tick else {
            continue;
        };
        let elapsed_ms = (comp_tick.saturating_sub(put.inv_tick) + 1) * TICK_MS;
        if acked_before && elapsed_ms < *ttl {
            out.push(format!(
                "check 5: t{id} (TTL {ttl} ms, put #{}) read as expired at most {elapsed_ms} ms after its put was invoked: {}",
                w.ops.iter().position(|o| std::ptr::eq(o, *put)).unwrap_or(0),
                read.describe(i)
            ));
        }
    }
}

/// After settling: every TTL entry whose TTL ran out is gone from every healthy member's state.
pub(crate) fn check_ttl_expired(sim: &Sim, w: &Workload, out: &mut Vec<String>) {
    for node in sim.healthy() {
        let fsm = sim.replica(&node).expect("live").fsm();
        for op in &w.ops {
            let OpKind::PutTtl(id, ttl) = op.kind else {
                continue;
            };
            if (sim.tick - op.inv_tick) * TICK_MS <= ttl + 1000 {
                continue;
            }
            let get = Message::MapGetRequest {
                map_name: TTL_MAP.into(),
                key: format!("t{id}").into_bytes(),
            };
            if fsm.query(&get, fsm.time_ms()) != (Message::MapGetResponse { value: None }) {
                out.push(format!(
                    "check 5: t{id} (TTL {ttl} ms) is still stored on {node} {} ms after its put",
                    (sim.tick - op.inv_tick) * TICK_MS
                ));
                return;
            }
        }
    }
}
