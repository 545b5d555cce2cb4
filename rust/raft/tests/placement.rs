//! Where the voters are: spread over failure domains (processes) as members allow.

use super::*;

/// n1 - n3 share a process, n4 and n6 share another, n5 runs alone.
fn in_processes(name: &str) -> ReplicaConfig {
    let mut cfg = cfg(name);
    cfg.domain = match name {
        "n1" | "n2" | "n3" => "host/1",
        "n4" | "n6" => "host/2",
        _ => "host/3",
    }
    .into();
    cfg
}

/// The domains of the voters as the leader n1 has them, sorted.
fn voter_domains(c: &Cluster) -> Vec<String> {
    let leader = &c.replicas["n1"];
    let voters = leader.voters();
    let mut domains: Vec<String> = leader
        .fsm()
        .members()
        .iter()
        .filter(|m| voters.contains(&m.raft_id))
        .map(|m| m.domain.clone())
        .collect();
    domains.sort();
    domains
}

/// n1 - n6 (see [`in_processes`]) joined together and settled.
fn six_started_together() -> Cluster {
    let mut c = Cluster::with(in_processes);
    c.settle();
    for name in ["n2", "n3", "n4", "n5", "n6"] {
        c.add(name);
    }
    c.tick(50);
    c
}

#[test]
fn voters_of_one_process_make_way_for_other_processes_as_they_join() {
    let mut c = Cluster::with(in_processes);
    c.settle();
    c.add("n2");
    c.add("n3");
    c.tick(50);
    assert_eq!(
        voter_domains(&c),
        ["host/1"; 3],
        "one process: its three nodes vote"
    );
    c.add("n4");
    for _ in 0..50 {
        c.tick(1);
        // The vote moves in one joint change: never a fourth voter, even for one commit.
        let incoming = c.replicas["n1"].conf_state().voters;
        assert!(incoming.len() <= 3, "{incoming:?}");
    }
    assert_eq!(voter_domains(&c), ["host/1", "host/1", "host/2"]);
    c.add("n5");
    c.add("n6");
    c.tick(50);
    assert_eq!(voter_domains(&c), ["host/1", "host/2", "host/3"]);
    assert!(
        c.replicas["n1"].is_leader(),
        "the leader stays: it is never demoted"
    );
    // Settled: more ticks change nothing.
    let conf = c.replicas["n1"].conf_state();
    c.tick(50);
    assert_eq!(c.replicas["n1"].conf_state(), conf);
    let r = c.call("n6", add("c"));
    assert_eq!(r, Message::CounterAddAndGetResponse { value: 1 });
}

#[test]
fn members_joining_together_get_voters_in_separate_processes() {
    let c = six_started_together();
    assert_eq!(voter_domains(&c), ["host/1", "host/2", "host/3"]);
}

#[test]
fn the_first_process_can_die_with_its_three_nodes_and_the_others_keep_writing() {
    let mut c = six_started_together();
    // The process that started the cluster, its leader and two more nodes with it, dies.
    c.down.extend(["n1", "n2", "n3"].map(String::from));
    let r = c.call("n5", add("c"));
    assert_eq!(r, Message::CounterAddAndGetResponse { value: 1 });
}

/// Members in three zones, two of them on one host in zone C (`host:port` addresses).
fn in_zones(name: &str) -> ReplicaConfig {
    let mut cfg = cfg(name);
    cfg.voters = 5;
    cfg.domain = match name {
        "n1" | "h2:1" | "h5:1" => "zone-a",
        "h3:1" => "zone-b",
        _ => "zone-c",
    }
    .into();
    cfg
}

#[test]
fn zones_come_before_hosts() {
    let mut c = Cluster::with(in_zones);
    c.settle();
    for name in ["h2:1", "h5:1", "h3:1", "h4:1", "h4:2"] {
        c.add(name);
    }
    c.tick(100);
    let domains = voter_domains(&c);
    assert_eq!(domains.len(), 5);
    // Any one zone may go: none holds three of the five votes.
    for zone in ["zone-a", "zone-b", "zone-c"] {
        let held = domains.iter().filter(|d| *d == zone).count();
        assert!(held <= 2, "{zone} holds {held} votes: {domains:?}");
    }
}
