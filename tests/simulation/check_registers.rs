//! Check 3 on map keys: each key is a register whose history must pass a Wing & Gong / Lowe
//! linearizability search.

use std::collections::HashSet;

use vertx_cluster::wire::Message;

use crate::history::{decode_value, excerpt, Op, OpKind, Outcome};
use crate::workload::Workload;
use crate::KEYS;

#[derive(Debug, Clone, Copy)]
pub(crate) enum RegKind {
    Put(u64),
    Get(Option<u64>),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct RegOp {
    pub(crate) inv: u64,
    /// `u64::MAX` when the put failed or never completed: it may take effect any time after.
    pub(crate) resp: u64,
    pub(crate) kind: RegKind,
}

struct Search<'a> {
    ops: &'a [RegOp],
    memo: HashSet<(Vec<u64>, Option<u64>)>,
    budget: usize,
}

impl Search<'_> {
    fn done(set: &[u64], i: usize) -> bool {
        set[i / 64] & (1 << (i % 64)) != 0
    }

    /// Wing & Gong with Lowe's memo: linearize, one at a time, an operation invoked before every
    /// pending operation's response; `None` when the budget runs out.
    fn dfs(&mut self, done: &mut Vec<u64>, state: Option<u64>, left: usize) -> Option<bool> {
        if left == 0 {
            return Some(true);
        }
        if !self.memo.insert((done.clone(), state)) {
            return Some(false);
        }
        if self.memo.len() > self.budget {
            return None;
        }
        let n = self.ops.len();
        let first = (0..n).find(|i| !Self::done(done, *i)).expect("left > 0");
        let min_resp = (first..n)
            .filter(|i| !Self::done(done, *i))
            .map(|i| self.ops[i].resp)
            .min()
            .expect("left > 0");
        for i in first..n {
            if Self::done(done, i) {
                continue;
            }
            let op = self.ops[i];
            if op.inv > min_resp {
                break;
            }
            let next = match op.kind {
                RegKind::Put(v) => Some(v),
                RegKind::Get(r) if r == state => state,
                RegKind::Get(_) => continue,
            };
            done[i / 64] |= 1 << (i % 64);
            let r = self.dfs(done, next, left - usize::from(op.resp != u64::MAX));
            done[i / 64] &= !(1 << (i % 64));
            match r {
                Some(false) => {}
                other => return other,
            }
        }
        Some(false)
    }
}

/// Whether a register history is linearizable (`None`: gave up).
pub(crate) fn linearizable(ops: &[RegOp]) -> Option<bool> {
    let read: HashSet<u64> = ops
        .iter()
        .filter_map(|o| match o.kind {
            RegKind::Get(v) => v,
            RegKind::Put(_) => None,
        })
        .collect();
    // An unacknowledged put nobody read can always be left out.
    let mut ops: Vec<RegOp> = ops
        .iter()
        .copied()
        .filter(|o| o.resp != u64::MAX || matches!(o.kind, RegKind::Put(v) if read.contains(&v)))
        .collect();
    ops.sort_by_key(|o| o.inv);
    let left = ops.iter().filter(|o| o.resp != u64::MAX).count();
    let mut search = Search {
        ops: &ops,
        memo: HashSet::new(),
        budget: 2_000_000,
    };
    let mut done = vec![0u64; ops.len().div_ceil(64).max(1)];
    search.dfs(&mut done, None, left)
}

pub(crate) fn check_registers(w: &Workload, out: &mut Vec<String>, inconclusive: &mut usize) {
    for key in 0..KEYS {
        let related = |o: &Op| matches!(o.kind, OpKind::Put(k, _) | OpKind::Get(k) if k == key);
        let mut ops = Vec::new();
        for o in w.ops.iter().filter(|o| related(o)) {
            let kind = match (&o.kind, &o.outcome) {
                (OpKind::Put(_, v), _) => RegKind::Put(*v),
                (OpKind::Get(_), Outcome::Ok(Message::MapGetResponse { value })) => {
                    RegKind::Get(value.as_deref().map(decode_value))
                }
                _ => continue,
            };
            let resp = match (&o.outcome, o.comp) {
                (Outcome::Ok(_), Some(c)) => c,
                _ => u64::MAX,
            };
            ops.push(RegOp {
                inv: o.inv,
                resp,
                kind,
            });
        }
        match linearizable(&ops) {
            Some(true) => {}
            None => *inconclusive += 1,
            Some(false) => {
                // The earliest moment by which the history had gone wrong.
                let mut cuts: Vec<u64> = ops
                    .iter()
                    .map(|o| o.resp)
                    .filter(|r| *r != u64::MAX)
                    .collect();
                cuts.sort_unstable();
                let prefix = |t: u64| -> Vec<RegOp> {
                    ops.iter()
                        .filter(|o| o.inv <= t)
                        .map(|o| RegOp {
                            resp: if o.resp <= t { o.resp } else { u64::MAX },
                            ..*o
                        })
                        .filter(|o| o.resp != u64::MAX || matches!(o.kind, RegKind::Put(_)))
                        .collect()
                };
                let at = cuts.partition_point(|t| linearizable(&prefix(*t)) != Some(false));
                let t = cuts.get(at).copied().unwrap_or(u64::MAX);
                out.push(format!(
                    "check 3: map key k{key} is not linearizable; the history goes wrong by clock {t}:\n{}",
                    excerpt(w, related, t, 40)
                ));
            }
        }
    }
}
