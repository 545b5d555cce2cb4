//! Sync maps: the map Vert.x HA keeps `__vertx.haInfo` in. Entries outlive their writer.

use super::super::{ApplyContext, Event, StateMachine};
use crate::wire::Message;

impl StateMachine {
    /// Applies a sync-map write. `Err` gives back a command of another domain.
    pub(in crate::fsm) fn apply_sync_maps(
        &mut self,
        command: Message,
        _ctx: &ApplyContext<'_>,
        _events: &mut Vec<Event>,
    ) -> Result<Message, Message> {
        use Message::*;
        Ok(match command {
            SyncMapPutRequest {
                map_name,
                key,
                value,
            } => SyncMapPutResponse {
                previous: self
                    .sync_maps
                    .entry(map_name)
                    .or_default()
                    .insert(key, value),
            },
            SyncMapRemoveRequest { map_name, key } => SyncMapRemoveResponse {
                previous: self
                    .sync_maps
                    .get_mut(&map_name)
                    .and_then(|m| m.remove(&key)),
            },
            other => return Err(other),
        })
    }
}
