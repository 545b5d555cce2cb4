//! The replicated state machine: `apply(command, context) -> response`.
//!
//! Deterministic and pure: no clock, thread or I/O. Everything time-dependent reads the
//! leader-stamped time in [`ApplyContext`], and everything that identifies a caller reads the
//! context's origin node and request id, so replicas that apply the same commands in the same
//! order hold the same state and produce identical snapshot bytes.
//!
//! Maps, sets, counters and locks spring into existence on first write; the `Create*` commands
//! only make that explicit. Reads (`is_read_only`) never change state and may be served from a
//! replica once it is known to be current. Effects beyond the caller's own answer (a node joined
//! or left, an address's registrations changed, a queued lock was granted or a wait expired) are
//! returned as [`Event`]s in apply order for the layer above to deliver.
//!
//! Reads are answered in `query.rs`, writes applied by domain in `apply/`; maps with TTL, locks,
//! exactly-once sessions and snapshots have a file each.

mod apply;
mod locks;
mod maps;
mod query;
mod roles;
mod sessions;
mod snapshot;
mod views;

use std::collections::{BTreeMap, BTreeSet};

use crate::wire::{error_code, Message, MessageRef, RegistrationInfo};
use locks::LockTable;
pub use locks::{Holder, LockState, Waiter};
use maps::TtlMap;
pub use roles::{is_local_read, is_read_only, may_come_from_outside, role, Role};
use sessions::Sessions;
pub use snapshot::SnapshotError;

/// The version of this state machine's rules: the snapshot layout and what each command does to
/// the state. Raised with every change of either, since replicas that applied one command
/// differently would hold different states without noticing. Members of one cluster must agree
/// on it, so nodes tell it to each other before anything else (the transport's hello) and refuse
/// a peer whose build has another.
pub const RULES_VERSION: u16 = snapshot::FORMAT_VERSION;

/// Hash maps with a fixed-seed fast hash: quick on short byte keys, and the same iteration order
/// on every replica (listings are sorted anyway; nothing depends on it).
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// What a command is applied under: its log position, the leader's time when it was proposed,
/// and who proposed it.
#[derive(Debug, Clone, Copy)]
pub struct ApplyContext<'a> {
    /// The log index of the command; also the fencing token of a lock it grants.
    pub index: u64,
    /// The cluster's time in milliseconds, stamped by the leader that proposed the command (see
    /// `raft::replica::clock`). The state machine never goes back in time: it applies each
    /// command at the latest time stamped so far ([`StateMachine::time_ms`]).
    pub now_ms: u64,
    /// The Vert.x node id of the proposing node.
    pub origin: &'a str,
    /// The proposer's request id; identifies a lock waiter together with `origin`.
    pub request_id: u32,
}

/// An effect of a command beyond the answer to its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    NodeAdded {
        node_id: String,
    },
    NodeLeft {
        node_id: String,
    },
    /// The registrations of `address` changed; `registrations` is the full new list.
    RegistrationsChanged {
        address: String,
        registrations: Vec<RegistrationInfo>,
    },
    /// A queued acquire was granted.
    LockGranted {
        lock_name: String,
        node_id: String,
        request_id: u32,
        fencing_token: u64,
    },
    /// A queued acquire timed out without being granted.
    LockWaitExpired {
        lock_name: String,
        node_id: String,
        request_id: u32,
    },
    /// Not from the state machine but from the replica: this node was removed from the cluster
    /// (declared dead while unreachable) and has been admitted again under a new raft id. The
    /// membership and registration events that bring a listener up to date came just before.
    /// Locks it held were released when it was removed, and requests it had in flight failed.
    Rejoined {
        node_id: String,
    },
}

/// The outcome of applying one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub response: Message,
    pub events: Vec<Event>,
}

/// A cluster member, in join order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub node_id: String,
    /// The member's raft id; 0 for a member that joined with a plain `JoinRequest` and takes no
    /// part in replication.
    pub raft_id: u64,
    /// Where the member's node listens; empty when `raft_id` is 0.
    pub address: String,
    /// What fails together with the member (its process, by default; see
    /// `raft::process_domain`); empty when unknown (`raft_id` 0, or a snapshot of format 1 or 2).
    pub domain: String,
    pub info: Option<Vec<u8>>,
}

/// The whole replicated state.
#[derive(Debug, Default, Clone)]
pub struct StateMachine {
    last_applied: u64,
    /// The raft id the next `AddMemberRequest` assigns; ids are never reused.
    next_raft_id: u64,
    members: Vec<Member>,
    /// Node id -> raft id of every member: `members` by node id, kept with it.
    member_index: FastMap<String, u64>,
    registrations: FastMap<String, Vec<RegistrationInfo>>,
    maps: FastMap<String, TtlMap>,
    sets: FastMap<String, BTreeSet<Vec<u8>>>,
    counters: FastMap<String, i64>,
    locks: LockTable,
    sync_maps: FastMap<String, BTreeMap<Vec<u8>, Vec<u8>>>,
    /// Which replicated requests of each node were applied, so a re-proposal applies once.
    sessions: Sessions,
    /// The latest time stamped into an applied command: the state's own clock, by which TTLs
    /// and lock-wait deadlines are judged, the same at the same log position on every replica.
    time_ms: u64,
}

fn not_a_member(node_id: &str) -> Message {
    Message::error(
        error_code::NOT_A_MEMBER,
        format!("Not a member of the cluster: {node_id}"),
    )
}

impl StateMachine {
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of the last command applied (0 before any).
    pub fn last_applied(&self) -> u64 {
        self.last_applied
    }

    /// The latest leader-stamped time applied (0 before any command).
    pub fn time_ms(&self) -> u64 {
        self.time_ms
    }

    /// `ctx` at the state's own time: the command's stamp, or a later one applied before it (a
    /// new leader's clock may start a little behind its predecessor's last stamp).
    fn at_state_time<'a>(&mut self, ctx: &ApplyContext<'a>) -> ApplyContext<'a> {
        self.time_ms = self.time_ms.max(ctx.now_ms);
        ApplyContext {
            now_ms: self.time_ms,
            ..*ctx
        }
    }

    /// Members in join order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn is_member(&self, node_id: &str) -> bool {
        self.member_index.contains_key(node_id)
    }

    /// The raft id of the member with this node id (0 for one that takes no part in
    /// replication).
    pub fn raft_id_of(&self, node_id: &str) -> Option<u64> {
        self.member_index.get(node_id).copied()
    }

    /// Adds a member at the end of the join order.
    fn push_member(&mut self, member: Member) {
        self.sessions.readmitted(&member.node_id);
        self.member_index
            .insert(member.node_id.clone(), member.raft_id);
        self.members.push(member);
    }

    /// The member with this raft id.
    pub fn member_by_raft_id(&self, raft_id: u64) -> Option<&Member> {
        self.members.iter().find(|m| m.raft_id == raft_id)
    }

    /// The earliest deadline of a map entry or lock wait still stored, if any: when an expire
    /// command would have something to remove.
    pub fn next_deadline(&self) -> Option<u64> {
        let maps = self.maps.values().filter_map(TtlMap::next_deadline).min();
        let waits = self.locks.next_deadline();
        match (maps, waits) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The current holder of a lock.
    pub fn lock_holder(&self, name: &str) -> Option<&Holder> {
        self.locks.holder(name)
    }

    /// The acquisitions of `node_id` waiting for a lock: (lock, acquire request id).
    pub fn lock_waits_of(&self, node_id: &str) -> Vec<(String, u32)> {
        self.locks.waits_of(node_id)
    }

    /// Whether acquisition `request_id` of `node_id` holds or waits for lock `name`.
    pub fn acquisition_pending(&self, name: &str, node_id: &str, request_id: u32) -> bool {
        self.locks.holds_or_waits(name, node_id, request_id)
    }

    /// The newest request id of `origin` this state knows of (its exactly-once floor, or a later
    /// id applied), if it holds a session of `origin`.
    pub fn newest_request_of(&self, origin: &str) -> Option<u32> {
        self.sessions.newest(origin)
    }

    /// Whether request `request_id` of `origin` can still be applied: it is not below the
    /// lowest request id `origin` said was open, as of the last request of it applied.
    pub fn may_still_apply(&self, origin: &str, request_id: u32) -> bool {
        self.sessions.may_still_apply(origin, request_id)
    }

    /// Applies one committed command. Read-only commands are answered too, without a change.
    pub fn apply(&mut self, command: Message, ctx: &ApplyContext<'_>) -> Applied {
        let ctx = &self.at_state_time(ctx);
        self.last_applied = self.last_applied.max(ctx.index);
        let mut events = Vec::new();
        let response = if is_read_only(&command) {
            self.query(&command, ctx.now_ms)
        } else {
            self.update(command, ctx, &mut events)
        };
        Applied { response, events }
    }

    /// Applies a command proposed through replication, unless the same request of the same node
    /// (`ctx.origin`, `ctx.request_id`) was applied already; `settled_below` is the proposer's
    /// lowest open request id (see the `sessions` module). `None` for a repeat.
    pub fn apply_once(
        &mut self,
        command: Message,
        ctx: &ApplyContext<'_>,
        settled_below: u32,
    ) -> Option<Applied> {
        if !self.first_time(ctx, settled_below) {
            return None;
        }
        Some(self.apply(command, ctx))
    }

    /// [`Self::apply_once`] for a command read in place from a log entry. Map puts and counter
    /// additions are applied from the borrowed fields, copying only what the state keeps (the
    /// value, and a key or name the first time it is seen); any other command is copied and
    /// applied as an owned one.
    pub fn apply_once_ref(
        &mut self,
        command: MessageRef<'_>,
        ctx: &ApplyContext<'_>,
        settled_below: u32,
    ) -> Option<Applied> {
        if !self.first_time(ctx, settled_below) {
            return None;
        }
        let ctx = &self.at_state_time(ctx);
        let response = match command {
            MessageRef::MapPutRequest {
                map_name,
                key,
                value,
            } => {
                self.map_mut(map_name)
                    .put(key, value.to_vec(), None, ctx.now_ms);
                Message::MapPutResponse {}
            }
            MessageRef::CounterAddAndGetRequest {
                counter_name,
                delta,
            } => Message::CounterAddAndGetResponse {
                value: self.counter_add_and_get(counter_name, delta),
            },
            other => return Some(self.apply(other.into_owned(), ctx)),
        };
        self.last_applied = self.last_applied.max(ctx.index);
        Some(Applied {
            response,
            events: Vec::new(),
        })
    }

    /// Records the request in its origin's session; false (and a log line) for a repeat.
    fn first_time(&mut self, ctx: &ApplyContext<'_>, settled_below: u32) -> bool {
        if self
            .sessions
            .first_time(ctx.origin, ctx.request_id, settled_below)
        {
            return true;
        }
        self.last_applied = self.last_applied.max(ctx.index);
        log::debug!(
            "index {}: request {} of {} applied already; skipped",
            ctx.index,
            ctx.request_id,
            ctx.origin
        );
        false
    }

    fn member(&self, node_id: &str) -> Option<&Member> {
        if !self.is_member(node_id) {
            return None;
        }
        self.members.iter().find(|m| m.node_id == node_id)
    }

    fn map(&self, name: &str) -> Option<&TtlMap> {
        self.maps.get(name)
    }

    fn live_entries<T>(
        &self,
        map_name: &str,
        now_ms: u64,
        f: impl Fn(&Vec<u8>, &Vec<u8>) -> T,
    ) -> Vec<T> {
        self.map(map_name)
            .map(|m| {
                m.live_sorted(now_ms)
                    .into_iter()
                    .map(|(k, v)| f(k, v))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Checks the state's invariants; for tests.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for m in &self.members {
            if !seen.insert(&m.node_id) {
                return Err(format!("member {} listed twice", m.node_id));
            }
        }
        for (address, list) in &self.registrations {
            if list.is_empty() {
                return Err(format!("empty registration list kept for {address}"));
            }
        }
        self.locks.check_invariants()
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
