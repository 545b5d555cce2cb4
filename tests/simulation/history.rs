//! The recorded history: each client operation with its invocation, completion and outcome on
//! the logical clock, the lock holds sessions saw, and history excerpts for failure reports.

use std::fmt::Write as _;

use vertx_cluster::wire::Message;

use crate::workload::Workload;
use crate::{FINAL, MAP, TTL_MAP};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OpKind {
    Inc(&'static str),
    CounterGet(&'static str),
    Put(usize, u64),
    Get(usize),
    /// A lock acquisition, with a timeout in ms (`getLockWithTimeout`) or without.
    Acquire(&'static str, Option<u64>),
    Release(&'static str),
    /// A put of key `t<id>` (written once) in the TTL map, with a TTL in ms.
    PutTtl(u64, u64),
    /// A read of key `t<id>` in the TTL map.
    GetTtl(u64),
}

impl OpKind {
    pub(crate) fn request(&self) -> Message {
        let key = |k: &usize| format!("k{k}").into_bytes();
        match self {
            OpKind::Inc(c) => Message::CounterAddAndGetRequest {
                counter_name: (*c).into(),
                delta: 1,
            },
            OpKind::CounterGet(c) => Message::CounterGetRequest {
                counter_name: (*c).into(),
            },
            OpKind::Put(k, v) => Message::MapPutRequest {
                map_name: MAP.into(),
                key: key(k),
                value: v.to_le_bytes().to_vec(),
            },
            OpKind::Get(k) => Message::MapGetRequest {
                map_name: MAP.into(),
                key: key(k),
            },
            OpKind::Acquire(l, None) => Message::LockAcquireRequest {
                lock_name: (*l).into(),
            },
            OpKind::Acquire(l, Some(timeout_ms)) => Message::LockAcquireTimeoutRequest {
                lock_name: (*l).into(),
                timeout_ms: *timeout_ms,
            },
            OpKind::Release(l) => Message::LockReleaseRequest {
                lock_name: (*l).into(),
            },
            OpKind::PutTtl(id, ttl_ms) => Message::MapPutTtlRequest {
                map_name: TTL_MAP.into(),
                key: format!("t{id}").into_bytes(),
                value: id.to_le_bytes().to_vec(),
                ttl_ms: *ttl_ms,
            },
            OpKind::GetTtl(id) => Message::MapGetRequest {
                map_name: TTL_MAP.into(),
                key: format!("t{id}").into_bytes(),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Pending,
    Ok(Message),
    Failed(u16),
    /// Its node crashed first.
    Lost,
}

#[derive(Debug, Clone)]
pub(crate) struct Op {
    pub(crate) session: usize,
    pub(crate) node: String,
    pub(crate) ticket: u32,
    pub(crate) kind: OpKind,
    pub(crate) inv: u64,
    pub(crate) inv_tick: u64,
    /// The tick its completion was observed.
    pub(crate) comp_tick: Option<u64>,
    pub(crate) comp: Option<u64>,
    pub(crate) outcome: Outcome,
}

impl Op {
    pub(crate) fn describe(&self, idx: usize) -> String {
        let who = match self.session {
            FINAL => "final".to_owned(),
            s => format!("s{s}"),
        };
        let outcome = match &self.outcome {
            Outcome::Pending => "pending".to_owned(),
            Outcome::Lost => "never completed (node crashed)".to_owned(),
            Outcome::Failed(code) => format!("ErrorResponse code {code}"),
            Outcome::Ok(m) => short(m),
        };
        let comp = self.comp.map_or("-".to_owned(), |c| c.to_string());
        format!(
            "#{idx} {who} on {} (ticket {}, tick {}): {:?} [{} .. {comp}] -> {outcome}",
            self.node, self.ticket, self.inv_tick, self.kind, self.inv
        )
    }
}

fn short(m: &Message) -> String {
    match m {
        Message::MapGetResponse { value } => {
            format!("MapGetResponse {:?}", value.as_deref().map(decode_value))
        }
        other => format!("{other:?}"),
    }
}

pub(crate) fn decode_value(bytes: &[u8]) -> u64 {
    <[u8; 8]>::try_from(bytes).map_or(u64::MAX, u64::from_le_bytes)
}

/// One session's hold of a lock: from the grant it saw to its release (or its node's end).
#[derive(Debug, Clone)]
pub(crate) struct Hold {
    pub(crate) lock: &'static str,
    pub(crate) session: usize,
    pub(crate) node: String,
    pub(crate) ticket: u32,
    pub(crate) token: u64,
    pub(crate) start: u64,
    pub(crate) end: Option<u64>,
    /// The node's incarnation when its session saw the grant (see `Replica::incarnation`).
    pub(crate) incarnation: u32,
    /// The node id of the process at `node` then.
    pub(crate) node_id: String,
}

pub(crate) fn excerpt(
    w: &Workload,
    filter: impl Fn(&Op) -> bool,
    around: u64,
    max: usize,
) -> String {
    let picked: Vec<usize> = (0..w.ops.len()).filter(|i| filter(&w.ops[*i])).collect();
    let centre = picked
        .iter()
        .position(|i| w.ops[*i].inv >= around)
        .unwrap_or(picked.len());
    let from = centre.saturating_sub(max / 2);
    let to = (from + max).min(picked.len());
    let mut out = String::new();
    if from > 0 {
        let _ = writeln!(out, "      ... {from} earlier");
    }
    for i in &picked[from..to] {
        let _ = writeln!(out, "      {}", w.ops[*i].describe(*i));
    }
    if to < picked.len() {
        let _ = writeln!(out, "      ... {} later", picked.len() - to);
    }
    out
}
