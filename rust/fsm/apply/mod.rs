//! Writes: applying one command to the state, with the caller's answer and the events it causes.
//! Each domain owns its commands in a file of its own (members, registrations, maps with the
//! expiry, sets, counters, locks, sync maps); a command goes to the domain that takes it.

mod counters;
mod locks;
mod maps;
mod members;
mod registrations;
mod sets;
mod sync_maps;

use super::{ApplyContext, Event, StateMachine};
use crate::wire::{error_code, Message};

impl StateMachine {
    pub(super) fn update(
        &mut self,
        command: Message,
        ctx: &ApplyContext<'_>,
        events: &mut Vec<Event>,
    ) -> Message {
        let applied = self
            .apply_members(command, ctx, events)
            .or_else(|c| self.apply_registrations(c, ctx, events))
            .or_else(|c| self.apply_maps(c, ctx, events))
            .or_else(|c| self.apply_sets(c, ctx, events))
            .or_else(|c| self.apply_counters(c, ctx, events))
            .or_else(|c| self.apply_locks(c, ctx, events))
            .or_else(|c| self.apply_sync_maps(c, ctx, events));
        applied.unwrap_or_else(|other| {
            Message::error(
                error_code::UNSUPPORTED,
                format!(
                    "{} is not a request the state machine applies",
                    other.name()
                ),
            )
        })
    }
}
