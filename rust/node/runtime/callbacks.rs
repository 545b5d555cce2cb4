//! The callback thread: runs answers and events in the order the loop hands them over.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use super::polling::{spin_recv, Caller};
use crate::fsm::Event;
use crate::wire::Message;

pub(super) enum Delivery {
    Answer(Caller, Message),
    Event(Event),
    /// The loop stopped by itself, for this reason: the last delivery.
    Stopped(String),
}

/// What the callback thread calls besides the callers' callbacks.
pub(super) struct Hooks {
    pub on_event: Option<Arc<dyn Fn(Event) + Send + Sync>>,
    pub on_idle: Option<Arc<dyn Fn() + Send + Sync>>,
    pub on_stopped: Option<Arc<dyn Fn(String) + Send + Sync>>,
}

pub(super) fn run_callbacks(deliveries: Receiver<Delivery>, hooks: Hooks) {
    let Hooks {
        on_event,
        on_idle,
        on_stopped,
    } = hooks;
    loop {
        let first = match spin_recv(&deliveries) {
            Some(d) => d,
            None => match deliveries.recv() {
                Ok(d) => d,
                Err(_) => return,
            },
        };
        // Everything already queued runs before the idle hook, so a consumer can batch.
        let mut next = Some(first);
        while let Some(delivery) = next {
            let outcome = catch_unwind(AssertUnwindSafe(|| match delivery {
                Delivery::Answer(caller, message) => caller.answer(message),
                Delivery::Event(event) => {
                    if let Some(f) = &on_event {
                        f(event);
                    }
                }
                Delivery::Stopped(why) => {
                    // Answers queued before go out first.
                    if let Some(idle) = &on_idle {
                        idle();
                    }
                    if let Some(f) = &on_stopped {
                        f(why);
                    }
                }
            }));
            if outcome.is_err() {
                log::error!("a cluster callback panicked; the callback thread carries on");
            }
            next = deliveries.try_recv().ok();
        }
        if let Some(idle) = &on_idle {
            if catch_unwind(AssertUnwindSafe(|| idle())).is_err() {
                log::error!("the idle callback panicked; the callback thread carries on");
            }
        }
    }
}
