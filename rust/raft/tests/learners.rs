//! Learners: what an idle one may skip, and when the leader tells them of writes and grants.

use super::*;

/// A cluster of five (three voters), its leader and one of its learners.
fn five_with_a_learner() -> (Cluster, String, String) {
    let c = Cluster::formed(&["n2", "n3", "n4", "n5"]);
    let voters = c.replicas["n1"].voters();
    assert_eq!(voters.len(), 3);
    let name = |pick: &dyn Fn(&Replica) -> bool| {
        c.replicas
            .iter()
            .find(|(_, r)| pick(r))
            .map(|(n, _)| n.clone())
            .unwrap()
    };
    let leader = name(&|r| r.is_leader());
    let learner = name(&|r| !voters.contains(&r.raft_id()));
    (c, leader, learner)
}

/// Only a learner with nothing of its own in flight, and a leader it hears from, may let its
/// ticks wait (the node loop then counts them at the next frame): never a voter, not a learner
/// while its write or read is unanswered, again once answered, and not once its leader is gone.
#[test]
fn only_a_learner_with_nothing_in_flight_and_a_leader_lets_its_ticks_wait() {
    let (mut c, _, learner) = five_with_a_learner();
    c.tick(4);
    assert!(c.replicas[&learner].is_idle_learner());
    for (name, r) in &c.replicas {
        if r.is_voter() {
            assert!(!r.is_idle_learner(), "{name} votes");
        }
    }

    let now = c.now_ms;
    let requests = [
        add("idle"),
        Message::CounterGetRequest {
            counter_name: "idle".into(),
        },
    ];
    for request in requests {
        let r = c.replicas.get_mut(&learner).unwrap();
        let ticket = r.submit(request, now);
        assert!(!r.is_idle_learner(), "ticket {ticket} is unanswered");
        c.settle();
        assert!(c.done.contains_key(&(learner.clone(), ticket)));
        assert!(c.replicas[&learner].is_idle_learner());
    }

    // Every voter gone: once the learner counts its leader out of touch, it ticks on time.
    c.down = c
        .replicas
        .iter()
        .filter(|(_, r)| r.is_voter())
        .map(|(n, _)| n.clone())
        .collect();
    let election_ticks = cfg("x").election_ticks;
    c.tick(2 * election_ticks + 2);
    assert!(!c.replicas[&learner].is_idle_learner());
}

#[test]
fn learners_hear_of_others_writes_at_the_next_tick_merged_and_of_their_own_at_once() {
    let (mut c, leader, learner) = five_with_a_learner();
    let id = c.replicas[&learner].raft_id();
    let applied = |c: &Cluster, n: &str| c.replicas[n].fsm().last_applied();
    let before = applied(&c, &learner);
    for _ in 0..3 {
        assert!(
            c.call_untimed(&leader, add("c")).is_some(),
            "{leader} answered"
        );
    }
    assert_eq!(applied(&c, &learner), before, "held until the tick");
    assert_eq!(
        c.replicas[&leader].held_for(id),
        3,
        "merged into one append"
    );
    c.tick(1);
    assert_eq!(applied(&c, &learner), applied(&c, &leader));
    assert_eq!(c.replicas[&leader].held_for(id), 0);

    // The learner's own write is answered without a tick, and so is its read of the leader's
    // writes held for it.
    assert_eq!(
        c.call_untimed(&learner, add("d")),
        Some(Message::CounterAddAndGetResponse { value: 1 })
    );
    c.call_untimed(&leader, add("c"));
    assert_eq!(c.replicas[&leader].held_for(id), 1);
    let read = Message::CounterGetRequest {
        counter_name: "c".into(),
    };
    assert_eq!(
        c.call_untimed(&learner, read),
        Some(Message::CounterGetResponse { value: 4 })
    );

    // A registration on the event bus, which every member routes by from its own state, reaches
    // the learner at once, with what was held for it.
    c.call_untimed(&leader, add("c"));
    let _ = c.replicas.get_mut(&learner).unwrap().take_events();
    let registration = Message::AddRegistrationRequest {
        address: "a".into(),
        registration: RegistrationInfo {
            node_id: leader.clone(),
            seq: 1,
            local_only: false,
        },
    };
    c.call_untimed(&leader, registration);
    assert_eq!(applied(&c, &learner), applied(&c, &leader));
    let events = c.replicas.get_mut(&learner).unwrap().take_events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::RegistrationsChanged { address, .. } if address == "a")),
        "{events:?}"
    );
}

#[test]
fn a_lock_released_to_a_waiting_learner_is_granted_without_waiting_for_a_tick() {
    let (mut c, leader, learner) = five_with_a_learner();
    let acquire = Message::LockAcquireRequest {
        lock_name: "l".into(),
    };
    let r = c.call(&leader, acquire.clone());
    assert!(
        matches!(r, Message::LockAcquireResponse { granted: true, .. }),
        "{r:?}"
    );
    let r = c.call(&learner, acquire);
    assert!(
        matches!(r, Message::LockAcquireResponse { granted: false, .. }),
        "{r:?}"
    );
    c.tick(1);
    let _ = c.replicas.get_mut(&learner).unwrap().take_events();
    // A write the learner does not wait for is held for it, then the release.
    c.call_untimed(&leader, add("c"));
    let release = Message::LockReleaseRequest {
        lock_name: "l".into(),
    };
    assert_eq!(
        c.call_untimed(&leader, release),
        Some(Message::LockReleaseResponse { released: true })
    );
    let events = c.replicas.get_mut(&learner).unwrap().take_events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::LockGranted { node_id, .. } if *node_id == learner)),
        "{events:?}"
    );
}

/// An idle cluster heartbeats its voters at raft's interval and its learners at a quarter of the
/// ticks at most: an idle learner's loop wakes for those heartbeats alone.
#[test]
fn an_idle_learner_gets_a_heartbeat_every_fourth_tick_and_a_voter_every_other() {
    let (mut c, leader, learner) = five_with_a_learner();
    let voter = c.replicas[&leader]
        .voters()
        .into_iter()
        .find(|id| *id != c.replicas[&leader].raft_id())
        .unwrap();
    let learner_id = c.replicas[&learner].raft_id();
    c.tick(4);
    c.record = true;
    c.tick(40);
    let heartbeats_to = |to: u64| {
        c.delivered
            .iter()
            .filter(|(from, m)| {
                *from == leader && m.get_msg_type() == MessageType::MsgHeartbeat && m.to == to
            })
            .count()
    };
    assert_eq!(heartbeats_to(voter), 20, "a voter: one every other tick");
    assert_eq!(
        heartbeats_to(learner_id),
        10,
        "a learner: one every fourth tick"
    );
    assert!(c.replicas[&learner].is_idle_learner());
}

/// A node admitted and cut off before any of the cluster's state reached it knows no member to
/// ask to let it in again: it says so, and the layer above asks those it joined through.
#[test]
fn a_node_cut_off_right_after_its_admission_asks_to_be_contacted() {
    let mut c = Cluster::formed(&["n2", "n3"]);
    let mut n4 = Replica::joining(cfg("n4"));
    c.queue.push_back(("n1".to_string(), n4.join_request()));
    // Only the join's answer reaches n4: no log, no snapshot.
    let mut admitted = false;
    for _ in 0..50 {
        while let Some((to, frame)) = c.queue.pop_front() {
            if to == "n4" {
                if matches!(frame.payload, Message::ClusterJoinResponse { .. }) {
                    n4.receive(frame, c.now_ms).unwrap();
                    admitted = true;
                }
            } else if let Some(r) = c.replicas.get_mut(&to) {
                r.receive(frame, c.now_ms).unwrap();
            }
        }
        for r in c.replicas.values_mut() {
            r.drive(c.now_ms);
            c.queue.extend(r.take_outbox());
        }
    }
    assert!(admitted, "n1 answered the join");
    assert_eq!(n4.phase(), Phase::Member);
    assert!(!n4.needs_join_contact(), "not adrift yet");
    let mut now = c.now_ms;
    for _ in 0..=n4.cfg.no_quorum_after_ticks {
        now += 10;
        n4.tick(now);
        n4.drive(now);
    }
    assert!(n4.needs_join_contact());
    // A member that has the cluster's state knows whom to ask.
    assert!(!c.replicas["n2"].needs_join_contact());
}
