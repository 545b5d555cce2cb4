//! Linearizable reads: ReadIndex rounds shared by every member that reads at once, and what is
//! answered locally.

use super::*;

/// Two followers' first read batches, asked at the same moment, are both answered in the same
/// round trip: the leader serves one pending read per context, so contexts must not collide.
#[test]
fn reads_from_two_followers_at_once_are_both_answered_without_a_retry() {
    let mut c = Cluster::formed(&["n2", "n3"]);
    let mut tickets = Vec::new();
    for node in ["n2", "n3"] {
        let ticket = c.replicas.get_mut(node).unwrap().submit(
            Message::CounterGetRequest {
                counter_name: "c".into(),
            },
            c.now_ms,
        );
        tickets.push((node.to_string(), ticket));
    }
    // No tick: an unanswered batch would only be asked again on a later tick.
    c.settle();
    for key in tickets {
        assert_eq!(
            c.done.remove(&key),
            Some(Message::CounterGetResponse { value: 0 }),
            "{key:?} unanswered"
        );
    }
}

/// Every other member reading at the same moment costs the leader one heartbeat round, not one
/// per member: it asks raft once for all the requests that reached it, and answers each itself.
#[test]
fn reads_from_every_member_at_once_take_one_heartbeat_round() {
    let mut c = Cluster::formed(&["n2", "n3", "n4", "n5", "n6", "n7"]);
    let leader = c
        .replicas
        .iter()
        .find(|(_, r)| r.is_leader())
        .unwrap()
        .0
        .clone();
    let voters = c.replicas[&leader].voters();
    c.call(&leader, add("c"));
    c.record = true;
    let mut tickets = Vec::new();
    for (name, r) in c.replicas.iter_mut().filter(|(n, _)| **n != leader) {
        let read = Message::CounterGetRequest {
            counter_name: "c".into(),
        };
        tickets.push((name.clone(), r.submit(read, c.now_ms)));
    }
    c.settle();
    for key in tickets {
        assert_eq!(
            c.done.remove(&key),
            Some(Message::CounterGetResponse { value: 1 }),
            "{key:?} unanswered"
        );
    }
    let round_heartbeats: Vec<u64> = c
        .delivered
        .iter()
        .filter(|(from, m)| {
            *from == leader
                && m.get_msg_type() == MessageType::MsgHeartbeat
                && !m.context.is_empty()
                && voters.contains(&m.to)
        })
        .map(|(_, m)| m.to)
        .collect();
    assert_eq!(
        round_heartbeats.len(),
        voters.len() - 1,
        "{round_heartbeats:?}"
    );
    let answers = c
        .delivered
        .iter()
        .filter(|(_, m)| m.get_msg_type() == MessageType::MsgReadIndexResp)
        .count();
    assert_eq!(answers, c.replicas.len() - 1, "one answer per asker");
}

/// A member's node info, once applied here, is answered without a round with the leader (a
/// node opening its first connection to a member asks for it); a member whose info this node
/// does not hold yet is asked of the leader.
#[test]
fn node_info_held_here_is_answered_at_once_and_other_node_info_waits_for_a_round() {
    let mut c = Cluster::formed(&["n2", "n3"]);
    let set = Message::SetNodeInfoRequest {
        node_id: "n2".into(),
        info: vec![7],
    };
    c.call("n2", set);
    c.tick(1);
    let ask = |c: &mut Cluster, node_id: &str| {
        let r = c.replicas.get_mut("n3").unwrap();
        let ticket = r.submit(
            Message::GetNodeInfoRequest {
                node_id: node_id.into(),
            },
            0,
        );
        let done = r.take_completions();
        (ticket, done)
    };
    let (_, done) = ask(&mut c, "n2");
    assert_eq!(done.len(), 1);
    assert_eq!(
        done[0].response,
        Message::GetNodeInfoResponse {
            info: Some(vec![7])
        }
    );
    // n1 has no info set, and n9 is no member: both wait for a round.
    for node_id in ["n1", "n9"] {
        let (ticket, done) = ask(&mut c, node_id);
        assert!(done.is_empty(), "{node_id} answered without a round");
        c.settle();
        let answer = c.done.remove(&("n3".to_string(), ticket)).unwrap();
        let expected = match node_id {
            "n1" => matches!(answer, Message::GetNodeInfoResponse { info: None }),
            _ => {
                matches!(answer, Message::ErrorResponse { code, .. } if code == error_code::NOT_A_MEMBER)
            }
        };
        assert!(expected, "{node_id}: {answer:?}");
    }
}
