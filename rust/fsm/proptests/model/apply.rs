//! The reference model's writes: [`Model::apply`] predicts the response and events of a command
//! and updates the model; lock grants, queued waits and map entries live here.

use super::*;

impl Model {
    /// Hands a freed lock to the first waiter whose deadline has not passed, or drops it.
    fn grant_next(&mut self, name: &str, index: u64, now: u64, events: &mut Vec<Event>) {
        let lock = self.locks.get_mut(name).expect("a held lock");
        while let Some(w) = lock.queue.pop_front() {
            if w.deadline.is_some_and(|d| d <= now) {
                events.push(Event::LockWaitExpired {
                    lock_name: name.to_owned(),
                    node_id: w.node,
                    request_id: w.request_id,
                });
                continue;
            }
            let token = Self::next_token(&mut self.last_token, index);
            events.push(Event::LockGranted {
                lock_name: name.to_owned(),
                node_id: w.node.clone(),
                request_id: w.request_id,
                fencing_token: token,
            });
            lock.holder = MHolder {
                node: w.node,
                request_id: w.request_id,
                token,
            };
            return;
        }
        self.locks.remove(name);
    }

    fn acquire(&mut self, name: String, c: &Concrete, wait: Option<Option<u64>>) -> (bool, u64) {
        match self.locks.get_mut(&name) {
            None => {
                let token = Self::next_token(&mut self.last_token, c.index);
                let holder = MHolder {
                    node: c.origin.to_owned(),
                    request_id: c.request_id,
                    token,
                };
                self.locks.insert(
                    name,
                    MLock {
                        holder,
                        queue: VecDeque::new(),
                    },
                );
                (true, token)
            }
            Some(lock) => {
                if let Some(deadline) = wait {
                    lock.queue.push_back(MWaiter {
                        node: c.origin.to_owned(),
                        request_id: c.request_id,
                        deadline,
                    });
                }
                (false, 0)
            }
        }
    }

    fn map_mut(&mut self, name: &str) -> &mut BTreeMap<Vec<u8>, MEntry> {
        self.maps.entry(name.to_owned()).or_default()
    }

    /// The expected outcome of applying `c`; updates the model.
    pub(in crate::fsm::proptests) fn apply(&mut self, c: &Concrete) -> Applied {
        use Message::*;
        let now = c.now_ms;
        let deadline = |ttl: u64| Some(now.saturating_add(ttl));
        let mut events = Vec::new();
        if is_read_only(&c.msg) {
            return Applied {
                response: self.query(&c.msg, now),
                events,
            };
        }
        let response =
            match c.msg.clone() {
                JoinRequest { node_id } => {
                    if !self.is_member(&node_id) {
                        events.push(Event::NodeAdded {
                            node_id: node_id.clone(),
                        });
                        self.members.push((node_id, None));
                    }
                    JoinResponse {
                        members: self.member_ids(),
                    }
                }
                LeaveRequest { node_id } => {
                    let before = self.members.len();
                    self.members.retain(|(n, _)| *n != node_id);
                    let was_member = self.members.len() != before;
                    for (address, list) in self.registrations.iter_mut() {
                        let before = list.len();
                        list.retain(|r| r.node_id != node_id);
                        if list.len() != before {
                            events.push(Event::RegistrationsChanged {
                                address: address.clone(),
                                registrations: list.clone(),
                            });
                        }
                    }
                    self.registrations.retain(|_, list| !list.is_empty());
                    let names: Vec<String> = self.locks.keys().cloned().collect();
                    for name in names {
                        let lock = self.locks.get_mut(&name).expect("listed");
                        lock.queue.retain(|w| w.node != node_id);
                        if lock.holder.node == node_id {
                            self.grant_next(&name, c.index, now, &mut events);
                        }
                    }
                    if was_member {
                        events.push(Event::NodeLeft { node_id });
                    }
                    LeaveResponse { was_member }
                }
                SetNodeInfoRequest { node_id, info } => {
                    match self.members.iter_mut().find(|(n, _)| *n == node_id) {
                        Some(m) => {
                            m.1 = Some(info);
                            SetNodeInfoResponse {}
                        }
                        None => Message::error(
                            error_code::NOT_A_MEMBER,
                            format!("Not a member of the cluster: {node_id}"),
                        ),
                    }
                }
                AddRegistrationRequest {
                    address,
                    registration,
                } => {
                    if !self.is_member(&registration.node_id) {
                        Message::error(
                            error_code::NOT_A_MEMBER,
                            format!("Not a member of the cluster: {}", registration.node_id),
                        )
                    } else {
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
                }
                RemoveRegistrationRequest {
                    address,
                    registration,
                } => {
                    let mut removed = false;
                    let mut remaining = Vec::new();
                    if let Some(list) = self.registrations.get_mut(&address) {
                        let before = list.len();
                        list.retain(|r| *r != registration);
                        removed = list.len() != before;
                        remaining = list.clone();
                        if list.is_empty() {
                            self.registrations.remove(&address);
                        }
                    }
                    if removed {
                        events.push(Event::RegistrationsChanged {
                            address,
                            registrations: remaining,
                        });
                    }
                    RemoveRegistrationResponse { removed }
                }
                MapPutRequest {
                    map_name,
                    key,
                    value,
                } => {
                    self.map_mut(&map_name).insert(key, (value, None));
                    MapPutResponse {}
                }
                MapPutTtlRequest {
                    map_name,
                    key,
                    value,
                    ttl_ms,
                } => {
                    self.map_mut(&map_name)
                        .insert(key, (value, deadline(ttl_ms)));
                    MapPutTtlResponse {}
                }
                MapPutIfAbsentRequest {
                    map_name,
                    key,
                    value,
                } => {
                    let previous = self.live(&map_name, &key, now);
                    if previous.is_none() {
                        self.map_mut(&map_name).insert(key, (value, None));
                    }
                    MapPutIfAbsentResponse { previous }
                }
                MapPutIfAbsentTtlRequest {
                    map_name,
                    key,
                    value,
                    ttl_ms,
                } => {
                    let previous = self.live(&map_name, &key, now);
                    if previous.is_none() {
                        self.map_mut(&map_name)
                            .insert(key, (value, deadline(ttl_ms)));
                    }
                    MapPutIfAbsentTtlResponse { previous }
                }
                MapRemoveRequest { map_name, key } => {
                    let previous = self.live(&map_name, &key, now);
                    if let Some(m) = self.maps.get_mut(&map_name) {
                        m.remove(&key);
                    }
                    MapRemoveResponse { previous }
                }
                MapRemoveIfPresentRequest {
                    map_name,
                    key,
                    value,
                } => {
                    let removed = self.live(&map_name, &key, now) == Some(value);
                    if removed {
                        self.map_mut(&map_name).remove(&key);
                    }
                    MapRemoveIfPresentResponse { removed }
                }
                MapReplaceRequest {
                    map_name,
                    key,
                    value,
                } => {
                    let previous = self.live(&map_name, &key, now);
                    if previous.is_some() {
                        self.map_mut(&map_name).insert(key, (value, None));
                    }
                    MapReplaceResponse { previous }
                }
                MapReplaceTtlRequest {
                    map_name,
                    key,
                    value,
                    ttl_ms,
                } => {
                    let previous = self.live(&map_name, &key, now);
                    if previous.is_some() {
                        self.map_mut(&map_name)
                            .insert(key, (value, deadline(ttl_ms)));
                    }
                    MapReplaceTtlResponse { previous }
                }
                MapReplaceIfPresentRequest {
                    map_name,
                    key,
                    old_value,
                    new_value,
                } => {
                    let replaced = self.live(&map_name, &key, now) == Some(old_value);
                    if replaced {
                        self.map_mut(&map_name).insert(key, (new_value, None));
                    }
                    MapReplaceIfPresentResponse { replaced }
                }
                MapReplaceIfPresentTtlRequest {
                    map_name,
                    key,
                    old_value,
                    new_value,
                    ttl_ms,
                } => {
                    let replaced = self.live(&map_name, &key, now) == Some(old_value);
                    if replaced {
                        self.map_mut(&map_name)
                            .insert(key, (new_value, deadline(ttl_ms)));
                    }
                    MapReplaceIfPresentTtlResponse { replaced }
                }
                MapClearRequest { map_name } => {
                    if let Some(m) = self.maps.get_mut(&map_name) {
                        m.clear();
                    }
                    MapClearResponse {}
                }
                ExpireRequest {} => {
                    let mut expired_entries = 0;
                    for m in self.maps.values_mut() {
                        let before = m.len();
                        m.retain(|_, (_, d)| is_live(*d, now));
                        expired_entries += before - m.len();
                    }
                    let mut expired: Vec<(u64, String, String, u32)> = Vec::new();
                    for (name, lock) in self.locks.iter_mut() {
                        lock.queue.retain(|w| match w.deadline {
                            Some(d) if d <= now => {
                                expired.push((d, name.clone(), w.node.clone(), w.request_id));
                                false
                            }
                            _ => true,
                        });
                    }
                    expired.sort();
                    let expired_waits = expired.len() as u64;
                    events.extend(expired.into_iter().map(
                        |(_, lock_name, node_id, request_id)| Event::LockWaitExpired {
                            lock_name,
                            node_id,
                            request_id,
                        },
                    ));
                    ExpireResponse {
                        expired_entries: expired_entries as u64,
                        expired_waits,
                    }
                }
                CounterAddAndGetRequest {
                    counter_name,
                    delta,
                } => {
                    let v = self.counters.entry(counter_name).or_insert(0);
                    *v = v.wrapping_add(delta);
                    CounterAddAndGetResponse { value: *v }
                }
                CounterGetAndAddRequest {
                    counter_name,
                    delta,
                } => {
                    let v = self.counters.entry(counter_name).or_insert(0);
                    let old = *v;
                    *v = old.wrapping_add(delta);
                    CounterGetAndAddResponse { value: old }
                }
                CounterCompareAndSetRequest {
                    counter_name,
                    expected,
                    value,
                } => {
                    let v = self.counters.entry(counter_name).or_insert(0);
                    let swapped = *v == expected;
                    if swapped {
                        *v = value;
                    }
                    CounterCompareAndSetResponse { swapped }
                }
                LockAcquireRequest { lock_name } => {
                    let (granted, fencing_token) = self.acquire(lock_name, c, Some(None));
                    LockAcquireResponse {
                        granted,
                        fencing_token,
                    }
                }
                LockAcquireTimeoutRequest {
                    lock_name,
                    timeout_ms,
                } => {
                    let wait = (timeout_ms > 0).then(|| deadline(timeout_ms));
                    let (granted, fencing_token) = self.acquire(lock_name, c, wait);
                    LockAcquireTimeoutResponse {
                        granted,
                        fencing_token,
                    }
                }
                LockReleaseRequest { lock_name } => {
                    let released = self.holder(&lock_name).is_some_and(|h| h.node == c.origin);
                    if released {
                        self.grant_next(&lock_name, c.index, now, &mut events);
                    }
                    LockReleaseResponse { released }
                }
                LockCancelRequest {
                    lock_name,
                    acquire_request_id,
                } => {
                    // The acquisition's hold, if it was granted: released, the lock handed on.
                    let holds = self
                        .holder(&lock_name)
                        .is_some_and(|h| h.node == c.origin && h.request_id == acquire_request_id);
                    if holds {
                        self.grant_next(&lock_name, c.index, now, &mut events);
                    }
                    let mut cancelled = holds;
                    if let Some(lock) = self.locks.get_mut(&lock_name).filter(|_| !holds) {
                        if let Some(pos) = lock
                            .queue
                            .iter()
                            .position(|w| w.node == c.origin && w.request_id == acquire_request_id)
                        {
                            lock.queue.remove(pos);
                            cancelled = true;
                        }
                    }
                    LockCancelResponse { cancelled }
                }
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
                SetAddRequest { set_name, value } => SetAddResponse {
                    added: self.sets.entry(set_name).or_default().insert(value),
                },
                SetRemoveRequest { set_name, value } => SetRemoveResponse {
                    removed: self
                        .sets
                        .get_mut(&set_name)
                        .is_some_and(|s| s.remove(&value)),
                },
                other => panic!("the strategies do not produce {}", other.name()),
            };
        Applied { response, events }
    }
}
