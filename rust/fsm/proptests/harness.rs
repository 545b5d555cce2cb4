//! What the properties share beyond the model: every read-only query over the universe, the
//! times at which time-dependent ones are asked, observing a state machine from outside,
//! running a plan, and [`check_against_model`], the step-by-step comparison with the model.

use super::*;

/// Every read-only query over the universe whose answer depends on the time (async maps).
fn timed_queries() -> Vec<Message> {
    let mut out = Vec::new();
    for map in MAPS {
        for key in KEYS {
            out.push(Message::MapGetRequest {
                map_name: map.to_owned(),
                key: s(key),
            });
        }
        out.push(Message::MapSizeRequest {
            map_name: map.to_owned(),
        });
        out.push(Message::MapKeysRequest {
            map_name: map.to_owned(),
        });
        out.push(Message::MapValuesRequest {
            map_name: map.to_owned(),
        });
        out.push(Message::MapEntriesRequest {
            map_name: map.to_owned(),
        });
    }
    out
}

/// Every other read-only query over the universe.
fn untimed_queries() -> Vec<Message> {
    let mut out = vec![Message::NodeListRequest {}];
    for node in NODES {
        out.push(Message::GetNodeInfoRequest {
            node_id: node.to_owned(),
        });
    }
    for address in ADDRESSES {
        out.push(Message::GetRegistrationsRequest {
            address: address.to_owned(),
        });
    }
    for counter in COUNTERS {
        out.push(Message::CounterGetRequest {
            counter_name: counter.to_owned(),
        });
    }
    for set in SETS {
        for value in VALUES {
            out.push(Message::SetContainsRequest {
                set_name: set.to_owned(),
                value: s(value),
            });
        }
        out.push(Message::SetSizeRequest {
            set_name: set.to_owned(),
        });
        out.push(Message::SetMembersRequest {
            set_name: set.to_owned(),
        });
    }
    for map in SYNC_MAPS {
        for key in KEYS {
            out.push(Message::SyncMapGetRequest {
                map_name: map.to_owned(),
                key: s(key),
            });
            out.push(Message::SyncMapContainsRequest {
                map_name: map.to_owned(),
                key: s(key),
            });
        }
        out.push(Message::SyncMapEntriesRequest {
            map_name: map.to_owned(),
        });
    }
    out
}

/// The times at which time-dependent queries are asked after a command applied at `now`,
/// including the deadlines' boundaries one TTL step ahead and a time past every TTL.
fn query_times(now: u64) -> [u64; 4] {
    [now, now + 1, now + 37, now + BEYOND_ALL_TTLS_MS]
}

/// Lock holders as (node, request id, fencing token), one per lock of the universe.
fn holders(sm: &StateMachine) -> Vec<Option<(String, u32, u64)>> {
    LOCKS
        .iter()
        .map(|l| {
            sm.lock_holder(l)
                .map(|h| (h.node_id.clone(), h.request_id, h.fencing_token))
        })
        .collect()
}

/// Everything observable from outside: answers to every query at several times, lock holders,
/// the member list and the last applied index.
pub(super) fn observe(sm: &StateMachine, now: u64) -> Vec<String> {
    let mut out = vec![
        format!("last_applied {}", sm.last_applied()),
        format!("{:?}", sm.members()),
    ];
    out.extend(holders(sm).iter().map(|h| format!("{h:?}")));
    out.extend(
        untimed_queries()
            .iter()
            .map(|q| format!("{:?}", sm.query(q, now))),
    );
    for t in query_times(now) {
        out.extend(
            timed_queries()
                .iter()
                .map(|q| format!("{t}: {:?}", sm.query(q, t))),
        );
    }
    out
}

fn apply_all(sm: &mut StateMachine, plan: &[Planned]) {
    for p in plan {
        sm.apply(p.cmd.msg.clone(), &p.cmd.ctx());
    }
}

/// A state machine after a random run, and its time at the end.
pub(super) fn run(steps: &[Step]) -> (StateMachine, u64) {
    let mut clock = Clock::default();
    let planned = plan(steps, &mut Model::default(), &mut clock);
    let mut sm = StateMachine::new();
    apply_all(&mut sm, &planned);
    (sm, clock.now_ms)
}

/// Applies `steps` to a state machine and to the reference model, comparing after each step
/// (see `agrees_with_the_reference_model`).
pub(super) fn check_against_model(steps: &[Step]) -> Result<(), TestCaseError> {
    let planned = plan(steps, &mut Model::default(), &mut Clock::default());
    // Replay the model alongside, to compare its state after each step.
    let mut model = Model::default();
    let mut sm = StateMachine::new();
    let timed = timed_queries();
    let untimed = untimed_queries();
    let mut last_token_of: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_token = 0u64;
    for (i, p) in planned.iter().enumerate() {
        let c = &p.cmd;
        let expected = model.apply(c);
        prop_assert_eq!(&expected, &p.expected);
        let got = sm.apply(c.msg.clone(), &c.ctx());
        prop_assert_eq!(&got, &expected, "step {}: {:?}", i, c);

        // Fencing tokens of this command's grants, in grant order.
        let mut grants: Vec<(String, u64)> = Vec::new();
        match &got.response {
            Message::LockAcquireResponse {
                granted: true,
                fencing_token,
            }
            | Message::LockAcquireTimeoutResponse {
                granted: true,
                fencing_token,
            } => {
                let (Message::LockAcquireRequest { lock_name }
                | Message::LockAcquireTimeoutRequest { lock_name, .. }) = &c.msg
                else {
                    unreachable!()
                };
                grants.push((lock_name.clone(), *fencing_token));
            }
            _ => {}
        }
        for e in &got.events {
            if let Event::LockGranted {
                lock_name,
                fencing_token,
                ..
            } = e
            {
                grants.push((lock_name.clone(), *fencing_token));
            }
        }
        // Tokens strictly increase across all grants, also between grants made by one command
        // (see `fencing_tokens_are_unique_across_locks_freed_by_one_leave`), and are at least
        // the granting command's index.
        for (lock, token) in &grants {
            prop_assert!(
                *token >= c.index,
                "step {}: token {} below its command's index {}",
                i,
                token,
                c.index
            );
            prop_assert!(
                *token > last_token,
                "step {}: token {} after {}",
                i,
                token,
                last_token
            );
            if let Some(prev) = last_token_of.insert(lock.clone(), *token) {
                prop_assert!(
                    *token > prev,
                    "step {}: {} token {} after {}",
                    i,
                    lock,
                    token,
                    prev
                );
            }
        }
        for (_, token) in &grants {
            prop_assert!(
                *token > last_token,
                "step {}: token {} after {}",
                i,
                token,
                last_token
            );
            last_token = *token;
        }

        for (l, h) in LOCKS.iter().zip(holders(&sm)) {
            let m = model
                .holder(l)
                .map(|h| (h.node.clone(), h.request_id, h.token));
            prop_assert_eq!(h, m, "step {}: holder of {}", i, l);
        }
        for q in &untimed {
            prop_assert_eq!(
                sm.query(q, c.now_ms),
                model.query(q, c.now_ms),
                "step {}",
                i
            );
        }
        for t in query_times(c.now_ms) {
            for q in &timed {
                prop_assert_eq!(sm.query(q, t), model.query(q, t), "step {} at {}", i, t);
            }
        }
    }
    Ok(())
}
