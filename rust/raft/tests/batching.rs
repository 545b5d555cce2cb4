//! The leader's write batches: writes that arrive while its last batch is being committed wait,
//! and go out together once it is (group commit).

use super::*;

#[test]
fn writes_arriving_while_a_batch_is_committed_are_proposed_together_after_it() {
    let mut c = Cluster::formed(&["n2", "n3"]);
    assert!(c.replicas["n1"].is_leader());
    c.record = true;
    let now = c.now_ms;
    let n1 = c.replicas.get_mut("n1").unwrap();
    let first = n1.submit(add("a"), now);
    n1.drive(now);
    // The first batch's appends, on their way to the followers.
    let first_appends = n1.take_outbox();
    assert!(!first_appends.is_empty());
    // Three writes arrive one at a time before that batch is committed: nothing goes out.
    let mut later = Vec::new();
    for _ in 0..3 {
        later.push(n1.submit(add("b"), now));
        n1.drive(now);
        assert!(
            n1.take_outbox().is_empty(),
            "a write went out while the batch before it was not committed"
        );
    }
    // The followers' answers commit the first batch; the three go out as one.
    c.queue.extend(first_appends);
    c.settle();
    for ticket in std::iter::once(first).chain(later) {
        assert!(
            matches!(
                c.done.get(&("n1".to_string(), ticket)),
                Some(Message::CounterAddAndGetResponse { .. })
            ),
            "write {ticket} answered"
        );
    }
    for follower in [2, 3] {
        let batches: Vec<usize> = c
            .delivered
            .iter()
            .filter(|(from, m)| {
                from == "n1"
                    && m.to == follower
                    && m.get_msg_type() == MessageType::MsgAppend
                    && !m.entries.is_empty()
            })
            .map(|(_, m)| m.entries.len())
            .collect();
        assert_eq!(batches, vec![3], "appends to {follower}");
    }
}
