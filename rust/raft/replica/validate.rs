//! Checks every raft message from a peer before raft-rs steps it.
//!
//! raft-rs trusts its peers: a message whose numbers are out of range for this node's log makes
//! it `panic!` (its `fatal!`) inside the node's event loop. Authentication keeps strangers out,
//! but a member with a bug, or a frame from an older life of a peer, must not stop a node either.
//! Each check below names the raft-rs path it closes (raft-rs 0.7, `raft.rs` / `raft_log.rs`):
//!
//! - local-only types (`MsgHup`, `MsgBeat`, `MsgCheckQuorum`, `MsgUnreachable`,
//!   `MsgSnapStatus`), `MsgPropose` (an empty one is `fatal!` "stepped empty MsgProp"; members
//!   forward writes in their own frame, never as raft proposals) and `MsgTransferLeader` (only a
//!   leader here hands leadership over, so none travels; a follower sent one forwards it, and
//!   raft-rs's `send` is `fatal!` "term should not be set": found by the fuzzer) are refused;
//! - a message must be addressed to this node, from another, non-zero id, with a term, except
//!   a follower's forwarded `MsgReadIndex`, which must have none (the same `fatal!` when it is
//!   forwarded again); every number stays below 2^62, so no `+ 1` inside raft-rs overflows;
//! - a message of an older term is refused by raft-rs before it reads any index, so only terms
//!   and the numbers themselves are checked for it;
//! - `MsgHeartbeat`: `commit` at most this node's last index (`commit_to`: "to_commit .. is out
//!   of range", the repro of the issue that prompted this module);
//! - `MsgAppend`: entries contiguous from `index + 1` with terms that never decrease, from
//!   `log_term` to the message's term (`maybe_append`: "entry .. conflict with committed entry",
//!   `append`: "after .. is out of range", the unstable log's slicing); a `log_term` at least the
//!   term of this node's committed entry when `index` is not below it (the rejection path walks
//!   the log down by term and is `fatal!` "term(..) must be valid" once it leaves the log);
//! - `MsgSnapshot`: a non-empty snapshot (index and term at least 1, term at most the message's)
//!   whose configuration raft-rs can restore (`restore`: "unable to restore config", "invalid
//!   restore") and, unless it is older than the committed index (raft-rs ignores it), whose data
//!   decodes as a state machine (decoded here, once, and installed from this decoding);
//! - `MsgAppendResponse`: `index` at most this node's last index (a leader would record a
//!   follower as holding entries it does not have);
//! - `MsgReadIndex` and `MsgReadIndexResp`: exactly one entry, the read's context (a leader
//!   indexes `entries[0]`), of at most [`MAX_CONTEXT`] bytes;
//! - any message: a `context` of at most [`MAX_CONTEXT`] bytes. Members' contexts are 16 bytes
//!   (a read's: asker and batch; raft-rs's campaign transfer marker); a larger one would be held
//!   with the pending read and sent back with every answer.
//!
//! A refused message is counted, logged and the connection that carried it closed by the node.

use std::collections::HashSet;

use raft::prelude::{ConfChangeSingle, ConfChangeType, ConfState, Message as RaftMsg, MessageType};
use raft::{Changer, ProgressTracker, Raft};

use crate::fsm::StateMachine;
use crate::raft::storage::LogStore;

/// The largest context, of a read or of a message, accepted from a peer.
pub(crate) const MAX_CONTEXT: usize = 64;

/// The largest term or index a peer may name: far beyond any real log, and far enough below
/// `u64::MAX` that raft-rs's arithmetic on it cannot overflow.
pub const MAX_RAFT_NUMBER: u64 = 1 << 62;

/// A raft message refused before raft-rs saw it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Refused {
    /// What kind of check failed, for counting and rate-limited logging.
    pub reason: &'static str,
    pub detail: String,
}

fn refuse(reason: &'static str, detail: String) -> Result<(), Refused> {
    Err(Refused { reason, detail })
}

/// A context of `len` bytes carried by `m` (its `context`, or a read's entry).
fn check_context(m: &RaftMsg, len: usize) -> Result<(), Refused> {
    if len > MAX_CONTEXT {
        let kind = m.get_msg_type();
        refuse(
            "oversized context",
            format!("{kind:?} with a context of {len} bytes"),
        )?;
    }
    Ok(())
}

/// A snapshot that passed the checks, decoded, to install without decoding it again.
pub(crate) struct CheckedSnapshot {
    pub index: u64,
    pub term: u64,
    pub fsm: StateMachine,
}

/// Checks `m` against the state of `raft` just before it is stepped. A snapshot's decoded state
/// machine is returned so that it is installed from this decoding.
pub(crate) fn check(
    raft: &Raft<LogStore>,
    m: &RaftMsg,
) -> Result<Option<CheckedSnapshot>, Refused> {
    check_envelope(raft, m)?;
    check_context(m, m.context.len())?;
    if m.term != 0 && m.term < raft.term {
        // raft-rs answers or drops it on its term alone.
        return Ok(None);
    }
    match m.get_msg_type() {
        MessageType::MsgHeartbeat => check_heartbeat(raft, m)?,
        MessageType::MsgAppend => check_append(raft, m)?,
        MessageType::MsgAppendResponse => check_append_response(raft, m)?,
        MessageType::MsgReadIndex | MessageType::MsgReadIndexResp if m.entries.len() != 1 => {
            refuse(
                "malformed read index",
                format!("{:?} with {} entries", m.get_msg_type(), m.entries.len()),
            )?;
        }
        MessageType::MsgReadIndex | MessageType::MsgReadIndexResp => {
            check_context(m, m.entries[0].data.len())?;
        }
        MessageType::MsgSnapshot => return check_snapshot(raft, m),
        _ => {}
    }
    Ok(None)
}

fn check_envelope(raft: &Raft<LogStore>, m: &RaftMsg) -> Result<(), Refused> {
    let kind = m.get_msg_type();
    match kind {
        MessageType::MsgHup
        | MessageType::MsgBeat
        | MessageType::MsgPropose
        | MessageType::MsgUnreachable
        | MessageType::MsgSnapStatus
        | MessageType::MsgCheckQuorum
        | MessageType::MsgTransferLeader => {
            return refuse("local message type", format!("{kind:?} from a peer"))
        }
        _ => {}
    }
    if m.to != raft.id {
        refuse(
            "wrong recipient",
            format!("{kind:?} for raft id {}, this node is {}", m.to, raft.id),
        )?;
    }
    if m.from == 0 || m.from == raft.id {
        refuse("bad sender", format!("{kind:?} from raft id {}", m.from))?;
    }
    if kind == MessageType::MsgReadIndex {
        if m.term != 0 {
            // A follower that is sent one forwards it to its leader, and raft-rs's `send` is
            // `fatal!` on a forwarded read index with a term.
            refuse("read index with a term", format!("term {}", m.term))?;
        }
    } else if m.term == 0 {
        refuse("no term", format!("{kind:?} without a term"))?;
    }
    let numbers = [
        ("term", m.term),
        ("log_term", m.log_term),
        ("index", m.index),
        ("commit", m.commit),
        ("commit_term", m.commit_term),
        ("reject_hint", m.reject_hint),
        ("request_snapshot", m.request_snapshot),
    ];
    let entries = m
        .entries
        .iter()
        .flat_map(|e| [("entry index", e.index), ("entry term", e.term)]);
    let snapshot = m.snapshot.as_ref().map(|s| s.get_metadata());
    let snapshot = snapshot
        .into_iter()
        .flat_map(|meta| [("snapshot index", meta.index), ("snapshot term", meta.term)]);
    for (name, value) in numbers.into_iter().chain(entries).chain(snapshot) {
        if value >= MAX_RAFT_NUMBER {
            refuse(
                "number out of range",
                format!("{kind:?} with {name} {value}"),
            )?;
        }
    }
    Ok(())
}

fn check_heartbeat(raft: &Raft<LogStore>, m: &RaftMsg) -> Result<(), Refused> {
    let last = raft.raft_log.last_index();
    if m.commit > last {
        refuse(
            "commit beyond the log",
            format!("heartbeat commits {} but the log ends at {last}", m.commit),
        )?;
    }
    Ok(())
}

fn check_append(raft: &Raft<LogStore>, m: &RaftMsg) -> Result<(), Refused> {
    if m.log_term > m.term {
        refuse(
            "entry from a later term",
            format!("append at log term {} in term {}", m.log_term, m.term),
        )?;
    }
    let mut previous_term = m.log_term;
    for (i, e) in m.entries.iter().enumerate() {
        let want = m.index + 1 + i as u64;
        if e.index != want {
            refuse(
                "entries not contiguous",
                format!("entry {i} has index {} where {want} follows", e.index),
            )?;
        }
        if e.term < previous_term || e.term > m.term {
            refuse(
                "entry terms out of order",
                format!(
                    "entry {} of term {} after term {previous_term} in term {}",
                    e.index, e.term, m.term
                ),
            )?;
        }
        previous_term = e.term;
    }
    let log = &raft.raft_log;
    if m.index >= log.committed {
        let committed_term = log.term(log.committed).unwrap_or(0);
        if m.log_term < committed_term {
            refuse(
                "conflicts with committed entries",
                format!(
                    "append after index {} of term {} but entry {} is committed at term \
                     {committed_term}",
                    m.index, m.log_term, log.committed
                ),
            )?;
        }
    }
    Ok(())
}

fn check_append_response(raft: &Raft<LogStore>, m: &RaftMsg) -> Result<(), Refused> {
    let last = raft.raft_log.last_index();
    if m.index > last {
        refuse(
            "index beyond the log",
            format!(
                "append response for index {} but the log ends at {last}",
                m.index
            ),
        )?;
    }
    Ok(())
}

/// The decoded state machine of a snapshot raft-rs may install; `None` for one older than the
/// committed index, which raft-rs ignores (so its data is not decoded for nothing).
fn check_snapshot(raft: &Raft<LogStore>, m: &RaftMsg) -> Result<Option<CheckedSnapshot>, Refused> {
    let Some(snapshot) = m.snapshot.as_ref() else {
        return Err(Refused {
            reason: "malformed snapshot",
            detail: "snapshot message without a snapshot".into(),
        });
    };
    let meta = snapshot.get_metadata();
    if meta.index == 0 || meta.term == 0 || meta.term > m.term {
        return Err(Refused {
            reason: "malformed snapshot",
            detail: format!(
                "snapshot at index {} of term {} sent in term {}",
                meta.index, meta.term, m.term
            ),
        });
    }
    check_conf_state(meta.get_conf_state(), raft.raft_log.last_index())?;
    if meta.index < raft.raft_log.committed {
        return Ok(None);
    }
    let fsm = StateMachine::from_snapshot(snapshot.get_data()).map_err(|e| Refused {
        reason: "malformed snapshot",
        detail: format!("snapshot at index {} does not decode: {e}", meta.index),
    })?;
    Ok(Some(CheckedSnapshot {
        index: meta.index,
        term: meta.term,
        fsm,
    }))
}

/// Whether raft-rs can restore `cs`: the same steps as its `confchange::restore` (not public),
/// on a scratch tracker, and the configuration they build must read back as `cs`.
pub(crate) fn check_conf_state(cs: &ConfState, next_index: u64) -> Result<(), Refused> {
    let bad = |detail: String| Refused {
        reason: "malformed configuration",
        detail,
    };
    let all = cs
        .voters
        .iter()
        .chain(&cs.learners)
        .chain(&cs.voters_outgoing)
        .chain(&cs.learners_next);
    if all.clone().any(|&id| id == 0) {
        return Err(bad(format!("raft id 0 in {cs:?}")));
    }
    for list in [
        &cs.voters,
        &cs.learners,
        &cs.voters_outgoing,
        &cs.learners_next,
    ] {
        if list.iter().collect::<HashSet<_>>().len() != list.len() {
            return Err(bad(format!("a raft id listed twice in {cs:?}")));
        }
    }
    let single = raft_proto::new_conf_change_single;
    let outgoing: Vec<_> = cs
        .voters_outgoing
        .iter()
        .map(|&id| single(id, ConfChangeType::AddNode))
        .collect();
    let incoming: Vec<_> = cs
        .voters_outgoing
        .iter()
        .map(|&id| single(id, ConfChangeType::RemoveNode))
        .chain(
            cs.voters
                .iter()
                .map(|&id| single(id, ConfChangeType::AddNode)),
        )
        .chain(
            cs.learners
                .iter()
                .chain(&cs.learners_next)
                .map(|&id| single(id, ConfChangeType::AddLearnerNode)),
        )
        .collect();
    let mut tracker = ProgressTracker::new(1);
    let step = |tracker: &mut ProgressTracker, joint: Option<&[ConfChangeSingle]>, one| {
        let result = match joint {
            Some(ccs) => Changer::new(tracker).enter_joint(cs.auto_leave, ccs),
            None => Changer::new(tracker).simple(&[one]),
        };
        let (conf, changes) = result.map_err(|e| bad(format!("{cs:?}: {e}")))?;
        tracker.apply_conf(conf, changes, next_index);
        Ok::<_, Refused>(())
    };
    if outgoing.is_empty() {
        for cc in incoming {
            step(&mut tracker, None, cc)?;
        }
    } else {
        for cc in outgoing {
            step(&mut tracker, None, cc)?;
        }
        step(&mut tracker, Some(&incoming), ConfChangeSingle::default())?;
    }
    if !raft_proto::conf_state_eq(&tracker.conf().to_conf_state(), cs) {
        return Err(bad(format!(
            "{cs:?} restores as {:?}",
            tracker.conf().to_conf_state()
        )));
    }
    Ok(())
}
