//! Async maps with TTLs, and the expiry command that removes what ran out (map entries and lock
//! waits alike) at its position in the log.

use super::super::maps::TtlMap;
use super::super::{ApplyContext, Event, StateMachine};
use crate::wire::Message;

impl StateMachine {
    /// Applies a map command or an expiry. `Err` gives back a command of another domain.
    pub(in crate::fsm) fn apply_maps(
        &mut self,
        command: Message,
        ctx: &ApplyContext<'_>,
        events: &mut Vec<Event>,
    ) -> Result<Message, Message> {
        use Message::*;
        let now = ctx.now_ms;
        let deadline = |ttl_ms: u64| Some(now.saturating_add(ttl_ms));
        Ok(match command {
            CreateMapRequest { name } => {
                self.maps.entry(name).or_default();
                CreateMapResponse {}
            }
            MapPutRequest {
                map_name,
                key,
                value,
            } => {
                self.map_mut(&map_name).put(&key, value, None, now);
                MapPutResponse {}
            }
            MapPutTtlRequest {
                map_name,
                key,
                value,
                ttl_ms,
            } => {
                self.map_mut(&map_name)
                    .put(&key, value, deadline(ttl_ms), now);
                MapPutTtlResponse {}
            }
            MapPutIfAbsentRequest {
                map_name,
                key,
                value,
            } => MapPutIfAbsentResponse {
                previous: self.map_mut(&map_name).put_if_absent(key, value, None, now),
            },
            MapPutIfAbsentTtlRequest {
                map_name,
                key,
                value,
                ttl_ms,
            } => MapPutIfAbsentTtlResponse {
                previous: self
                    .map_mut(&map_name)
                    .put_if_absent(key, value, deadline(ttl_ms), now),
            },
            MapRemoveRequest { map_name, key } => MapRemoveResponse {
                previous: self
                    .maps
                    .get_mut(&map_name)
                    .and_then(|m| m.remove(&key, now)),
            },
            MapRemoveIfPresentRequest {
                map_name,
                key,
                value,
            } => {
                let map = self.maps.get_mut(&map_name);
                let removed = map.is_some_and(|m| {
                    m.get(&key, now) == Some(&value) && m.remove(&key, now).is_some()
                });
                MapRemoveIfPresentResponse { removed }
            }
            MapReplaceRequest {
                map_name,
                key,
                value,
            } => MapReplaceResponse {
                previous: self.replace(map_name, key, value, None, now),
            },
            MapReplaceTtlRequest {
                map_name,
                key,
                value,
                ttl_ms,
            } => MapReplaceTtlResponse {
                previous: self.replace(map_name, key, value, deadline(ttl_ms), now),
            },
            MapReplaceIfPresentRequest {
                map_name,
                key,
                old_value,
                new_value,
            } => MapReplaceIfPresentResponse {
                replaced: self.replace_if(map_name, key, &old_value, new_value, None, now),
            },
            MapReplaceIfPresentTtlRequest {
                map_name,
                key,
                old_value,
                new_value,
                ttl_ms,
            } => MapReplaceIfPresentTtlResponse {
                replaced: self.replace_if(
                    map_name,
                    key,
                    &old_value,
                    new_value,
                    deadline(ttl_ms),
                    now,
                ),
            },
            MapClearRequest { map_name } => {
                if let Some(m) = self.maps.get_mut(&map_name) {
                    m.clear();
                }
                MapClearResponse {}
            }
            ExpireRequest {} => {
                let expired_entries = self.maps.values_mut().map(|m| m.expire(now)).sum::<usize>();
                let expired_waits = self.locks.expire(now, events);
                if expired_entries + expired_waits > 0 {
                    log::debug!(
                        "index {}: expired {expired_entries} entries and {expired_waits} lock waits at {now}",
                        ctx.index
                    );
                }
                ExpireResponse {
                    expired_entries: expired_entries as u64,
                    expired_waits: expired_waits as u64,
                }
            }
            other => return Err(other),
        })
    }

    /// The map called `name`, created empty if there is none; the name is copied only then.
    pub(in crate::fsm) fn map_mut(&mut self, name: &str) -> &mut TtlMap {
        if !self.maps.contains_key(name) {
            self.maps.insert(name.to_owned(), TtlMap::default());
        }
        self.maps.get_mut(name).expect("inserted above")
    }

    fn replace(
        &mut self,
        map_name: String,
        key: Vec<u8>,
        value: Vec<u8>,
        deadline: Option<u64>,
        now: u64,
    ) -> Option<Vec<u8>> {
        let map = self.maps.get_mut(&map_name)?;
        map.get(&key, now)?;
        map.put(&key, value, deadline, now)
    }

    fn replace_if(
        &mut self,
        map_name: String,
        key: Vec<u8>,
        expected: &[u8],
        value: Vec<u8>,
        deadline: Option<u64>,
        now: u64,
    ) -> bool {
        let Some(map) = self.maps.get_mut(&map_name) else {
            return false;
        };
        if map.get(&key, now).map(Vec::as_slice) != Some(expected) {
            return false;
        }
        map.put(&key, value, deadline, now);
        true
    }
}
