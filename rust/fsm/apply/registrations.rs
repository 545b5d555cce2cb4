//! Event-bus registrations: the full list of each address, in the order added; a change pushes
//! the address's new list as an event.

use super::super::{not_a_member, ApplyContext, Event, StateMachine};
use crate::wire::Message;

impl StateMachine {
    /// Applies a registration command. `Err` gives back a command of another domain.
    pub(in crate::fsm) fn apply_registrations(
        &mut self,
        command: Message,
        _ctx: &ApplyContext<'_>,
        events: &mut Vec<Event>,
    ) -> Result<Message, Message> {
        use Message::*;
        Ok(match command {
            AddRegistrationRequest {
                address,
                registration,
            } => {
                if !self.is_member(&registration.node_id) {
                    return Ok(not_a_member(&registration.node_id));
                }
                let list = self.registrations.entry(address.clone()).or_default();
                if !list.contains(&registration) {
                    list.push(registration);
                    let registrations = list.clone();
                    events.push(Event::RegistrationsChanged {
                        address,
                        registrations,
                    });
                }
                AddRegistrationResponse {}
            }
            RemoveRegistrationRequest {
                address,
                registration,
            } => {
                let (removed, remaining) = match self.registrations.get_mut(&address) {
                    Some(list) => {
                        let before = list.len();
                        list.retain(|r| r != &registration);
                        let removed = list.len() != before;
                        let remaining = list.clone();
                        if list.is_empty() {
                            self.registrations.remove(&address);
                        }
                        (removed, remaining)
                    }
                    None => (false, Vec::new()),
                };
                if removed {
                    events.push(Event::RegistrationsChanged {
                        address,
                        registrations: remaining,
                    });
                }
                RemoveRegistrationResponse { removed }
            }
            other => return Err(other),
        })
    }
}
