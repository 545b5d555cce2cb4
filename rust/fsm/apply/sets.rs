//! Sets of byte values.

use super::super::{ApplyContext, Event, StateMachine};
use crate::wire::Message;

impl StateMachine {
    /// Applies a set command. `Err` gives back a command of another domain.
    pub(in crate::fsm) fn apply_sets(
        &mut self,
        command: Message,
        _ctx: &ApplyContext<'_>,
        _events: &mut Vec<Event>,
    ) -> Result<Message, Message> {
        use Message::*;
        Ok(match command {
            CreateSetRequest { name } => {
                self.sets.entry(name).or_default();
                CreateSetResponse {}
            }
            SetAddRequest { set_name, value } => SetAddResponse {
                added: self.sets.entry(set_name).or_default().insert(value),
            },
            SetRemoveRequest { set_name, value } => SetRemoveResponse {
                removed: self
                    .sets
                    .get_mut(&set_name)
                    .is_some_and(|s| s.remove(&value)),
            },
            other => return Err(other),
        })
    }
}
