//! Membership and node info: joins (plain and replicated), departures, and a member's node
//! info. A departure takes the member's registrations, locks and lock waits with it.

use super::super::{not_a_member, ApplyContext, Event, Member, StateMachine};
use crate::wire::{Message, RegistrationInfo};

impl StateMachine {
    /// Applies a membership or node-info command. `Err` gives back a command of another domain.
    pub(in crate::fsm) fn apply_members(
        &mut self,
        command: Message,
        ctx: &ApplyContext<'_>,
        events: &mut Vec<Event>,
    ) -> Result<Message, Message> {
        use Message::*;
        Ok(match command {
            JoinRequest { node_id } => {
                if !self.is_member(&node_id) {
                    log::debug!("index {}: node {node_id} joined", ctx.index);
                    events.push(Event::NodeAdded {
                        node_id: node_id.clone(),
                    });
                    self.push_member(Member {
                        node_id,
                        raft_id: 0,
                        address: String::new(),
                        domain: String::new(),
                        info: None,
                    });
                }
                JoinResponse {
                    members: self.members.iter().map(|m| m.node_id.clone()).collect(),
                }
            }
            AddMemberRequest {
                node_id,
                address,
                domain,
            } => {
                if let Some(raft_id) = self.raft_id_of(&node_id) {
                    return Ok(AddMemberResponse { raft_id });
                }
                let raft_id = self.next_raft_id.max(1);
                self.next_raft_id = raft_id + 1;
                log::debug!(
                    "index {}: node {node_id} at {address} joined as raft id {raft_id}",
                    ctx.index
                );
                events.push(Event::NodeAdded {
                    node_id: node_id.clone(),
                });
                self.push_member(Member {
                    node_id,
                    raft_id,
                    address,
                    domain,
                    info: None,
                });
                AddMemberResponse { raft_id }
            }
            LeaveRequest { node_id } => LeaveResponse {
                was_member: self.remove_node(&node_id, ctx, events),
            },
            SetNodeInfoRequest { node_id, info } => {
                match self.members.iter_mut().find(|m| m.node_id == node_id) {
                    Some(m) => {
                        m.info = Some(info);
                        SetNodeInfoResponse {}
                    }
                    None => not_a_member(&node_id),
                }
            }
            other => return Err(other),
        })
    }

    /// Removes a member: its registrations and node info go, its locks are released (the next
    /// waiters granted in order) and its waits dropped. Sync map entries stay: Vert.x HA reads a
    /// dead node's entry to fail its deployments over.
    fn remove_node(
        &mut self,
        node_id: &str,
        ctx: &ApplyContext<'_>,
        events: &mut Vec<Event>,
    ) -> bool {
        let was_member = self.member_index.remove(node_id).is_some();
        if was_member {
            self.members.retain(|m| m.node_id != node_id);
        }
        let mut changed: Vec<(String, Vec<RegistrationInfo>)> = Vec::new();
        self.registrations.retain(|address, list| {
            let before = list.len();
            list.retain(|r| r.node_id != node_id);
            if list.len() != before {
                changed.push((address.clone(), list.clone()));
            }
            !list.is_empty()
        });
        changed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        events.extend(changed.into_iter().map(|(address, registrations)| {
            Event::RegistrationsChanged {
                address,
                registrations,
            }
        }));
        self.locks
            .remove_node(node_id, ctx.index, ctx.now_ms, events);
        // Kept: a late copy of one of its requests must not apply again if it comes back.
        self.sessions.retire(node_id, ctx.index);
        if was_member {
            log::debug!("index {}: node {node_id} left", ctx.index);
            events.push(Event::NodeLeft {
                node_id: node_id.to_owned(),
            });
        }
        was_member
    }
}
