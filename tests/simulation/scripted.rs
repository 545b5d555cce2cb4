//! Helpers for the scripted scenarios: a formed cluster, blocking calls on a node, and counter
//! requests and answers.

use vertx_cluster::wire::Message;

use crate::faults::Knobs;
use crate::world::Sim;

impl Sim {
    /// A cluster of `knobs.nodes` nodes, formed and settled.
    pub(crate) fn cluster(knobs: Knobs) -> Sim {
        let mut sim = Sim::new(0, knobs);
        sim.start();
        let voters = sim.nodes.len().min(3);
        for _ in 0..1000 {
            sim.tick_once();
            let settled = sim.converged().is_ok_and(|l| {
                sim.replica(&l).expect("live").voters().len() == voters
                    && sim.members().len() == sim.nodes.len()
            });
            if settled {
                sim.tick_n(5);
                return sim;
            }
        }
        panic!("the cluster never formed: {:?}", sim.converged());
    }

    pub(crate) fn answer(&mut self, node: &str, ticket: u32, max_ticks: u64) -> Option<Message> {
        for _ in 0..=max_ticks {
            if let Some(m) = self.answers.remove(&(node.to_owned(), ticket)) {
                return Some(m);
            }
            self.tick_once();
        }
        None
    }

    pub(crate) fn call(&mut self, node: &str, request: Message) -> Message {
        let ticket = self.submit(node, request).expect("live node");
        self.answer(node, ticket, 2000)
            .unwrap_or_else(|| panic!("no answer on {node}"))
    }

    pub(crate) fn snapshot_of(&self, node: &str) -> (u64, Vec<u8>) {
        let fsm = self.replica(node).expect("live").fsm();
        (fsm.last_applied(), fsm.create_snapshot())
    }

    pub(crate) fn voter_followers(&self, leader: &str) -> Vec<String> {
        let voters = self.replica(leader).expect("live").voters();
        self.live()
            .into_iter()
            .filter(|n| n != leader && voters.contains(&self.nodes[n].raft_id))
            .collect()
    }

    /// A live member that is not among the voters `leader` knows.
    pub(crate) fn a_learner(&self, leader: &str) -> String {
        let voters = self.replica(leader).expect("live").voters();
        self.live()
            .into_iter()
            .find(|n| !voters.contains(&self.nodes[n].raft_id))
            .expect("a learner")
    }
}

/// `answer` refuses a write for want of a quorum.
pub(crate) fn assert_no_quorum(answer: &Message) {
    assert_eq!(
        error_code_of(answer),
        Some(vertx_cluster::wire::error_code::NO_QUORUM),
        "{answer:?}"
    );
}

pub(crate) fn add(counter: &str) -> Message {
    Message::CounterAddAndGetRequest {
        counter_name: counter.into(),
        delta: 1,
    }
}

pub(crate) fn read(counter: &str) -> Message {
    Message::CounterGetRequest {
        counter_name: counter.into(),
    }
}

pub(crate) fn value(m: &Message) -> i64 {
    match m {
        Message::CounterAddAndGetResponse { value } | Message::CounterGetResponse { value } => {
            *value
        }
        other => panic!("not a counter answer: {other:?}"),
    }
}

fn error_code_of(m: &Message) -> Option<u16> {
    match m {
        Message::ErrorResponse { code, .. } => Some(*code),
        _ => None,
    }
}
