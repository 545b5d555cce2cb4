//! Counters: 64-bit, wrapping, created at 0 on first use.

use super::super::{ApplyContext, Event, StateMachine};
use crate::wire::Message;

impl StateMachine {
    /// Applies a counter command. `Err` gives back a command of another domain.
    pub(in crate::fsm) fn apply_counters(
        &mut self,
        command: Message,
        _ctx: &ApplyContext<'_>,
        _events: &mut Vec<Event>,
    ) -> Result<Message, Message> {
        use Message::*;
        Ok(match command {
            CreateCounterRequest { name } => CreateCounterResponse {
                value: *self.counters.entry(name).or_insert(0),
            },
            CounterAddAndGetRequest {
                counter_name,
                delta,
            } => CounterAddAndGetResponse {
                value: self.counter_add_and_get(&counter_name, delta),
            },
            CounterGetAndAddRequest {
                counter_name,
                delta,
            } => {
                let c = self.counters.entry(counter_name).or_insert(0);
                let old = *c;
                *c = old.wrapping_add(delta);
                CounterGetAndAddResponse { value: old }
            }
            CounterCompareAndSetRequest {
                counter_name,
                expected,
                value,
            } => {
                let c = self.counters.entry(counter_name).or_insert(0);
                let swapped = *c == expected;
                if swapped {
                    *c = value;
                }
                CounterCompareAndSetResponse { swapped }
            }
            other => return Err(other),
        })
    }

    /// Adds `delta` to the counter called `name` (created at 0) and returns its new value; the
    /// name is copied only for a new counter.
    pub(in crate::fsm) fn counter_add_and_get(&mut self, name: &str, delta: i64) -> i64 {
        let counter = match self.counters.get_mut(name) {
            Some(c) => c,
            None => self.counters.entry(name.to_owned()).or_insert(0),
        };
        *counter = counter.wrapping_add(delta);
        *counter
    }
}
