//! Two comparisons of states, for a node that was away: what the cluster holds for one node (so
//! it can be written again after the node was removed and readmitted), and the events that take
//! a listener from one state to another (so a node that missed part of the log, by catching up
//! with a snapshot or by rejoining, tells its listener the same story the log told the others).

use std::collections::BTreeSet;

use super::{Event, StateMachine};
use crate::wire::Message;

impl StateMachine {
    /// The writes that give `node_id` back what a removal takes from it: its event-bus
    /// registrations (in address order) and its node info. Locks are not among them: a removed
    /// node's locks went to others, and a lock it believed it held is lost for good.
    pub fn owned_by(&self, node_id: &str) -> Vec<Message> {
        let mut addresses: Vec<&String> = self.registrations.keys().collect();
        addresses.sort_unstable();
        let mut writes = Vec::new();
        for address in addresses {
            for registration in &self.registrations[address] {
                if registration.node_id == node_id {
                    writes.push(Message::AddRegistrationRequest {
                        address: address.clone(),
                        registration: registration.clone(),
                    });
                }
            }
        }
        if let Some(info) = self.member(node_id).and_then(|m| m.info.clone()) {
            writes.push(Message::SetNodeInfoRequest {
                node_id: node_id.to_owned(),
                info,
            });
        }
        writes
    }

    /// The events that take a listener that last heard of `before` to this state: departures
    /// first, then arrivals in join order, then every address whose registrations differ (in
    /// address order, with the full new list). A listener that keeps the member list by
    /// removing departures and appending arrivals ends with this state's list, in this order.
    /// `readmitted` names a node that was removed and joined again in between (its place in the
    /// join order moved to the end): it is reported as departed and arrived again.
    pub fn changes_since(&self, before: &StateMachine, readmitted: Option<&str>) -> Vec<Event> {
        let mut events = Vec::new();
        let now: BTreeSet<&str> = self.members.iter().map(|m| m.node_id.as_str()).collect();
        let then: BTreeSet<&str> = before.members.iter().map(|m| m.node_id.as_str()).collect();
        for m in &before.members {
            if !now.contains(m.node_id.as_str()) || readmitted == Some(m.node_id.as_str()) {
                events.push(Event::NodeLeft {
                    node_id: m.node_id.clone(),
                });
            }
        }
        for m in &self.members {
            if !then.contains(m.node_id.as_str()) || readmitted == Some(m.node_id.as_str()) {
                events.push(Event::NodeAdded {
                    node_id: m.node_id.clone(),
                });
            }
        }
        let addresses: BTreeSet<&String> = self
            .registrations
            .keys()
            .chain(before.registrations.keys())
            .collect();
        for address in addresses {
            let now = self.registrations.get(address);
            if now != before.registrations.get(address) {
                events.push(Event::RegistrationsChanged {
                    address: address.clone(),
                    registrations: now.cloned().unwrap_or_default(),
                });
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsm::ApplyContext;
    use crate::wire::RegistrationInfo;

    fn apply(fsm: &mut StateMachine, index: u64, command: Message) {
        let ctx = ApplyContext {
            index,
            now_ms: 0,
            origin: "leader",
            request_id: index as u32,
        };
        fsm.apply(command, &ctx);
    }

    fn join(fsm: &mut StateMachine, index: u64, node: &str) {
        let add = Message::AddMemberRequest {
            node_id: node.into(),
            address: format!("{node}:1"),
            domain: String::new(),
        };
        apply(fsm, index, add);
    }

    fn register(fsm: &mut StateMachine, index: u64, address: &str, node: &str) {
        let registration = RegistrationInfo {
            node_id: node.into(),
            seq: index,
            local_only: false,
        };
        let add = Message::AddRegistrationRequest {
            address: address.into(),
            registration,
        };
        apply(fsm, index, add);
    }

    #[test]
    fn a_removed_node_gets_its_registrations_and_info_back_but_not_its_locks() {
        let mut fsm = StateMachine::new();
        join(&mut fsm, 1, "a");
        join(&mut fsm, 2, "b");
        register(&mut fsm, 3, "x", "b");
        register(&mut fsm, 4, "x", "a");
        register(&mut fsm, 5, "w", "b");
        let info = Message::SetNodeInfoRequest {
            node_id: "b".into(),
            info: vec![1, 2],
        };
        apply(&mut fsm, 6, info.clone());
        let owned = fsm.owned_by("b");
        assert_eq!(owned.len(), 3, "{owned:?}");
        assert!(
            matches!(&owned[0], Message::AddRegistrationRequest { address, .. } if address == "w")
        );
        assert!(
            matches!(&owned[1], Message::AddRegistrationRequest { address, .. } if address == "x")
        );
        assert_eq!(owned[2], info);
        assert!(fsm.owned_by("nobody").is_empty());
    }

    #[test]
    fn the_changes_since_an_old_view_rebuild_the_member_list_in_join_order() {
        let mut before = StateMachine::new();
        join(&mut before, 1, "a");
        join(&mut before, 2, "b");
        join(&mut before, 3, "c");
        register(&mut before, 4, "x", "b");
        register(&mut before, 5, "y", "a");
        let mut now = before.clone();
        apply(
            &mut now,
            6,
            Message::LeaveRequest {
                node_id: "b".into(),
            },
        );
        apply(
            &mut now,
            7,
            Message::LeaveRequest {
                node_id: "c".into(),
            },
        );
        join(&mut now, 8, "d");
        join(&mut now, 9, "b");

        let events = now.changes_since(&before, Some("b"));
        let mut list: Vec<String> = before.members.iter().map(|m| m.node_id.clone()).collect();
        for e in &events {
            match e {
                Event::NodeLeft { node_id } => list.retain(|n| n != node_id),
                Event::NodeAdded { node_id } => list.push(node_id.clone()),
                _ => {}
            }
        }
        let expected: Vec<String> = now.members.iter().map(|m| m.node_id.clone()).collect();
        assert_eq!(list, expected);
        assert_eq!(expected, ["a", "d", "b"]);
        assert!(events.contains(&Event::RegistrationsChanged {
            address: "x".into(),
            registrations: vec![],
        }));
        assert!(
            !events.iter().any(
                |e| matches!(e, Event::RegistrationsChanged { address, .. } if address == "y")
            ),
            "an unchanged address is not reported: {events:?}"
        );
        assert!(now.changes_since(&now, None).is_empty());
    }
}
