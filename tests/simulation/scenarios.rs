//! Scripted scenarios on the simulated cluster: partitions, a lost majority, snapshots that are
//! lost or needed, and nodes declared dead, each driven step by step and checked at its end.

use vertx_cluster::wire::{Message, RegistrationInfo};

use crate::faults::Knobs;
use crate::scripted::{add, assert_no_quorum, read, value};
use crate::world::Sim;

#[test]
fn a_partitioned_follower_catches_up_after_the_partition_heals() {
    let mut sim = Sim::cluster(Knobs::quiet(3));
    let leader = sim.leader().expect("a leader");
    let follower = sim.voter_followers(&leader)[0].clone();

    sim.isolate(&follower);
    for i in 1..=20 {
        assert_eq!(value(&sim.call(&leader, add("c"))), i);
    }
    assert!(
        sim.replica(&follower).unwrap().fsm().last_applied()
            < sim.replica(&leader).unwrap().fsm().last_applied()
    );

    sim.heal();
    sim.drop_link(&leader, &follower, 0.3);
    sim.tick_n(100);
    assert_eq!(sim.converged(), Ok(leader.clone()));
    assert_eq!(sim.snapshot_of(&follower), sim.snapshot_of(&leader));
    assert_eq!(value(&sim.call(&follower, read("c"))), 20);
}

#[test]
fn the_minority_side_fails_writes_with_no_quorum_while_the_majority_keeps_writing() {
    let mut sim = Sim::cluster(Knobs::quiet(5));
    let leader = sim.leader().expect("a leader");
    let minority = sim.voter_followers(&leader)[0].clone();
    let majority: Vec<String> = sim.live().into_iter().filter(|n| *n != minority).collect();

    sim.isolate(&minority);
    let cut_off = sim.submit(&minority, add("c")).unwrap();
    let mut expected = 0;
    for node in majority.iter().cycle().take(10) {
        expected += 1;
        assert_eq!(value(&sim.call(node, add("c"))), expected);
    }
    let answer = sim
        .answer(&minority, cut_off, 100)
        .expect("the minority answers");
    assert_no_quorum(&answer);
    // Once it knows, it refuses at once.
    let refused = sim.submit(&minority, add("c")).unwrap();
    let answer = sim.answer(&minority, refused, 0).expect("refused at once");
    assert_no_quorum(&answer);

    sim.heal();
    sim.tick_n(50);
    assert!(sim.converged().is_ok(), "{:?}", sim.converged());
    assert_eq!(value(&sim.call(&minority, read("c"))), expected);
    assert_eq!(value(&sim.call(&minority, add("c"))), expected + 1);
}

#[test]
fn a_learner_on_the_minority_side_fails_writes_with_no_quorum() {
    let mut sim = Sim::cluster(Knobs::quiet(5));
    let leader = sim.leader().expect("a leader");
    let learner = sim.a_learner(&leader);

    sim.isolate(&learner);
    let cut_off = sim.submit(&learner, add("c")).unwrap();
    let answer = sim
        .answer(&learner, cut_off, 100)
        .expect("the minority answers within a second");
    assert_no_quorum(&answer);
}

#[test]
fn an_isolated_leader_is_replaced_and_writes_resume() {
    let mut sim = Sim::cluster(Knobs::quiet(3));
    let old = sim.leader().expect("a leader");
    assert_eq!(value(&sim.call(&old, add("c"))), 1);

    sim.isolate(&old);
    sim.tick_n(60);
    let new = sim.leader().expect("a new leader");
    assert_ne!(new, old);
    assert!(
        !sim.replica(&old).unwrap().is_leader(),
        "the isolated leader stepped down"
    );
    assert_eq!(value(&sim.call(&new, add("c"))), 2);
    let answer = sim.call(&old, add("c"));
    assert_no_quorum(&answer);

    sim.heal();
    sim.tick_n(50);
    assert_eq!(sim.converged(), Ok(new.clone()));
    assert_eq!(value(&sim.call(&old, read("c"))), 2);
    assert_eq!(value(&sim.call(&old, add("c"))), 3);
    assert_eq!(sim.snapshot_of(&old), sim.snapshot_of(&new));
}

#[test]
fn a_node_that_missed_many_entries_catches_up_by_snapshot() {
    let mut knobs = Knobs::quiet(3);
    knobs.compact_after_entries = Some(50);
    let mut sim = Sim::cluster(knobs);
    let leader = sim.leader().expect("a leader");
    let lagging = sim.voter_followers(&leader)[0].clone();
    let snapshots_before = sim.nodes[&lagging].gaps.len();

    sim.isolate(&lagging);
    let tickets: Vec<u32> = (0..200)
        .map(|_| sim.submit(&leader, add("c")).unwrap())
        .collect();
    sim.tick_n(20);
    for t in tickets {
        assert!(
            sim.answers.remove(&(leader.clone(), t)).is_some(),
            "write {t} answered"
        );
    }

    sim.heal();
    sim.tick_n(50);
    assert_eq!(sim.converged(), Ok(leader.clone()));
    assert!(
        sim.nodes[&lagging].gaps.len() > snapshots_before,
        "{lagging} caught up without a snapshot"
    );
    assert_eq!(sim.snapshot_of(&lagging), sim.snapshot_of(&leader));
    assert_eq!(value(&sim.call(&lagging, read("c"))), 200);
    assert_eq!(value(&sim.call(&lagging, add("c"))), 201);
}

#[test]
fn a_follower_whose_snapshot_was_lost_still_catches_up() {
    let mut knobs = Knobs::quiet(3);
    knobs.compact_after_entries = Some(50);
    let mut sim = Sim::cluster(knobs);
    let leader = sim.leader().expect("a leader");
    let lagging = sim.voter_followers(&leader)[0].clone();

    sim.isolate(&lagging);
    for i in 1..=100 {
        assert_eq!(value(&sim.call(&leader, add("c"))), i);
    }
    sim.heal();
    // The first snapshot is lost on the way (a reconnect drops it); later ones would arrive.
    sim.drop_snapshots_to.insert(lagging.clone());
    sim.tick_n(20);
    sim.drop_snapshots_to.clear();
    sim.tick_n(300);
    assert_eq!(
        sim.converged(),
        Ok(leader.clone()),
        "{lagging} never caught up"
    );
    assert_eq!(value(&sim.call(&lagging, read("c"))), 100);
}

#[test]
fn a_lost_snapshot_to_a_joining_node_does_not_stall_the_cluster() {
    let mut sim = Sim::new(0, Knobs::quiet(3));
    sim.drop_snapshots_to.insert("n2".into());
    sim.start();
    sim.tick_n(30);
    sim.drop_snapshots_to.clear();
    sim.tick_n(300);
    assert!(sim.converged().is_ok(), "{:?}", sim.converged());
    let ticket = sim.submit("n1", add("c")).unwrap();
    let answer = sim.answer("n1", ticket, 500);
    assert_eq!(answer, Some(Message::CounterAddAndGetResponse { value: 1 }));
}

#[test]
fn a_node_declared_dead_is_never_granted_a_lock() {
    let mut knobs = Knobs::quiet(5);
    knobs.failure_timeout_ms = 1_000;
    let mut sim = Sim::cluster(knobs);
    let leader = sim.leader().expect("a leader");
    let learner = sim.a_learner(&leader);

    sim.isolate(&learner);
    sim.tick_n(200);
    assert!(
        sim.removed_at.contains_key(&learner),
        "{learner} was declared dead"
    );
    sim.heal();
    let _ = sim.submit(
        &learner,
        Message::LockAcquireRequest {
            lock_name: "l".into(),
        },
    );
    sim.tick_n(50);

    let fsm = sim.replica(&leader).unwrap().fsm();
    if let Some(holder) = fsm.lock_holder("l") {
        assert!(
            fsm.is_member(&holder.node_id),
            "the lock went to {}, which is no longer a member: nobody will release it",
            holder.node_id
        );
    }
}

/// The heal of issue "faults heal": a voter cut off past the failure timeout is declared dead
/// (its registration and lock go), another node takes the lock, and once the partition heals the
/// node is admitted again under a new raft id with its registration and node info written back,
/// without the lock, and its writes work again.
#[test]
fn a_node_removed_while_cut_off_rejoins_with_its_registrations_but_not_its_lock() {
    let mut knobs = Knobs::quiet(3);
    knobs.failure_timeout_ms = 1_000;
    let mut sim = Sim::cluster(knobs);
    let leader = sim.leader().expect("a leader");
    let node = sim.voter_followers(&leader)[0].clone();
    let registration = RegistrationInfo {
        node_id: node.clone(),
        seq: 1,
        local_only: false,
    };
    let registrations = |sim: &mut Sim, on: &str| match sim.call(
        on,
        Message::GetRegistrationsRequest {
            address: "a".into(),
        },
    ) {
        Message::GetRegistrationsResponse { registrations } => registrations,
        other => panic!("{other:?}"),
    };
    let add_registration = Message::AddRegistrationRequest {
        address: "a".into(),
        registration: registration.clone(),
    };
    assert_eq!(
        sim.call(&node, add_registration),
        Message::AddRegistrationResponse {}
    );
    let info = Message::SetNodeInfoRequest {
        node_id: node.clone(),
        info: vec![7],
    };
    assert_eq!(sim.call(&node, info), Message::SetNodeInfoResponse {});
    let acquire = || Message::LockAcquireRequest {
        lock_name: "l".into(),
    };
    let Message::LockAcquireResponse {
        granted: true,
        fencing_token: first,
    } = sim.call(&node, acquire())
    else {
        panic!("the lock is free");
    };
    let raft_id = sim.nodes[&node].raft_id;

    sim.isolate(&node);
    sim.tick_n(200);
    assert!(sim.removed_at.contains_key(&node), "{node} declared dead");
    assert!(registrations(&mut sim, &leader).is_empty());
    let Message::LockAcquireResponse {
        granted: true,
        fencing_token: second,
    } = sim.call(&leader, acquire())
    else {
        panic!("the removed node's lock was released");
    };
    assert!(second > first);

    sim.heal();
    sim.tick_n(300);
    assert_eq!(sim.converged().map(|_| ()), Ok(()));
    assert!(!sim.removed_at.contains_key(&node), "{node} rejoined");
    assert_eq!(sim.rejoins, 1);
    let replica = sim.replica(&node).unwrap();
    assert_eq!(replica.incarnation(), 1);
    assert!(sim.nodes[&node].raft_id > raft_id, "a new raft id");
    assert_eq!(registrations(&mut sim, &leader), vec![registration]);
    let fsm = sim.replica(&leader).unwrap().fsm();
    let member = fsm.members().iter().find(|m| m.node_id == node).unwrap();
    assert_eq!(member.info, Some(vec![7]));
    assert_eq!(
        fsm.lock_holder("l").map(|h| h.node_id.clone()),
        Some(leader.clone()),
        "the lock stays with the node granted it meanwhile"
    );
    assert_eq!(value(&sim.call(&node, add("c"))), 1);
    assert_eq!(
        sim.snapshot_of(&node),
        sim.snapshot_of(&leader),
        "the rejoined replica holds the cluster's state"
    );
}
