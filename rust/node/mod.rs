//! A cluster node: one replica of the replicated state, its TCP transport, discovery, and the
//! event-loop thread that drives them.
//!
//! Threads: one event-loop thread per node (mio poll over the sockets and a waker, raft ticks,
//! Ready handling, apply) and one callback thread that runs completions and events in the order
//! the loop produced them. Calls from other threads never block on the network: they queue a
//! command and wake the loop. A request's callback runs once, with the state machine's answer or
//! an `ErrorResponse` saying what went wrong (no quorum, a timeout, the node closed).
//!
//! ```no_run
//! use vertx_cluster::node::{Node, NodeOptions};
//! use vertx_cluster::wire::Message;
//!
//! let node = Node::start(NodeOptions::new("my-cluster")).unwrap();
//! let answer = node.call(Message::CounterAddAndGetRequest { counter_name: "hits".into(), delta: 1 });
//! println!("{answer:?}, members: {:?}", node.members());
//! node.leave().unwrap();
//! ```

pub(crate) mod discovery;
mod interfaces;
mod options;
mod runtime;
mod status;
#[cfg(test)]
mod tests;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::error::{Error, Result};
pub use crate::transport::{Faults, TransportStats};
use crate::wire::Message;
pub use options::{DiscoveryMode, NodeOptions};
use runtime::{Caller, Command, Shared};
pub use status::NodeStatus;

/// A running cluster node. Dropping it closes it without leaving (like a crash, for the others).
pub struct Node {
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
    waker: Arc<mio::Waker>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    node_id: String,
    address: String,
    max_frame_size: usize,
}

/// A request's answer, delivered once on the callback thread.
pub type Callback = Box<dyn FnOnce(Message) + Send + 'static>;

impl Node {
    /// Starts a node and returns once it is a member of the cluster (it bootstrapped one or
    /// joined one), or fails after `join_timeout`.
    pub fn start(options: NodeOptions) -> Result<Node> {
        runtime::start(options)
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The largest frame the node accepts or sends.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// The `host:port` the node listens on.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Sends a request; `callback` gets the answer on the callback thread, exactly once. Fails
    /// at once, without calling `callback`, when the node's loop has stopped (closed, or after a
    /// fault): the error says why.
    pub fn request(&self, request: Message, callback: Callback) -> Result<()> {
        if let Some(why) = self.shared.stopped() {
            return Err(Error::Stopped(why));
        }
        self.send(Command::Request(request, Caller::new(callback)))
    }

    /// Sends a request and waits for its answer.
    pub fn call(&self, request: Message) -> Message {
        let (tx, rx) = mpsc::channel();
        let sent = self.request(
            request,
            Box::new(move |m| {
                let _ = tx.send(m);
            }),
        );
        let closed = |e: Error| Message::error(crate::wire::error_code::CLOSED, e.to_string());
        if let Err(e) = sent {
            return closed(e);
        }
        runtime::spin_recv(&rx)
            .or_else(|| rx.recv().ok())
            .unwrap_or_else(|| closed(self.stopped_error()))
    }

    /// Member ids in join order, as this node's replica has applied them.
    pub fn members(&self) -> Vec<String> {
        self.shared.view().members
    }

    /// True while this node leads the cluster.
    pub fn is_leader(&self) -> bool {
        self.shared.view().leader
    }

    /// Counters of the node's transport, among them the malformed frames it refused.
    pub fn transport_stats(&self) -> TransportStats {
        self.shared.view().transport
    }

    /// Address, leadership, members, voters and transport counters in one look.
    pub fn status(&self) -> NodeStatus {
        let view = self.shared.view();
        NodeStatus {
            address: self.address.clone(),
            leader: view.leader,
            members: view.members,
            voters: view.voters.len(),
            transport: view.transport,
            raft_id: view.raft_id,
            raft: view.raft,
            inbound_connections: view.connections.0,
            outbound_connections: view.connections.1,
        }
    }

    /// This node's raft id: its place in the raft configuration (0 until it has joined). Not
    /// the node id, which is the Vert.x UUID.
    pub fn raft_id(&self) -> u64 {
        self.shared.view().raft_id
    }

    /// The raft ids of the voters in the configuration this node has applied.
    pub fn voters(&self) -> Vec<u64> {
        self.shared.view().voters
    }

    /// Leaves the cluster gracefully: the node's removal (and the removal of its registrations
    /// and locks) is committed before this returns, and it hands its vote on. Then closes.
    pub fn leave(&self) -> Result<()> {
        let (tx, rx) = mpsc::channel();
        self.send(Command::Leave(tx))?;
        let outcome = rx.recv().unwrap_or_else(|_| Err(self.stopped_error()));
        self.close();
        outcome
    }

    /// Stops the node without leaving; the others will declare it dead after their timeout.
    pub fn close(&self) {
        let _ = self.send(Command::Shutdown);
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }

    /// Why the loop is gone: its recorded reason, or closed.
    fn stopped_error(&self) -> Error {
        self.shared.stopped().map_or(Error::Closed, Error::Stopped)
    }

    fn send(&self, command: Command) -> Result<()> {
        self.commands
            .send(command)
            .map_err(|_| self.stopped_error())?;
        self.shared
            .wake_if_sleeping(&self.waker)
            .map_err(|_| self.stopped_error())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.close();
    }
}
