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
mod runtime;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::fsm::Event;
pub use crate::transport::{Faults, TransportStats};
use crate::wire::{Message, DEFAULT_MAX_FRAME_SIZE};
use runtime::{Caller, Command, Shared};

/// How a node finds the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryMode {
    /// Zero configuration on one host: nodes with the same cluster name find each other through
    /// files in a directory under the system temp dir.
    Local,
    /// Explicit addresses (`host:port`) of some members; the smallest seed address bootstraps.
    Seeds(Vec<String>),
    /// A DNS name resolving to the members' addresses (e.g. a Kubernetes headless service).
    Dns { name: String, port: u16 },
}

/// A node's settings.
#[derive(Clone)]
pub struct NodeOptions {
    /// Nodes only cluster with nodes of the same name.
    pub cluster_name: String,
    /// The node's id (Vert.x's node id); a random UUID when empty.
    pub node_id: String,
    /// Address to bind and advertise.
    pub host: String,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    pub discovery: DiscoveryMode,
    /// A member unheard for this long is declared dead.
    pub failure_timeout: Duration,
    /// Keepalive interval on idle connections.
    pub ping_interval: Duration,
    /// The raft tick. Elections happen after 10 to 20 ticks without a leader.
    pub tick: Duration,
    /// The most voters (odd); other members are learners.
    pub voters: usize,
    /// A request not answered within this time fails.
    pub request_timeout: Duration,
    /// How long `start` waits to get into the cluster.
    pub join_timeout: Duration,
    pub max_frame_size: usize,
    /// Once the log holds this many applied entries, its older half is dropped.
    pub compact_after_entries: u64,
    /// Fault injection for tests: frames between blocked address pairs are dropped.
    pub faults: Option<Faults>,
    /// Called on the callback thread for every event, in apply order.
    pub on_event: Option<Arc<dyn Fn(Event) + Send + Sync>>,
    /// Called on the callback thread whenever it has run every callback queued so far: a
    /// consumer that buffers answers flushes them here, one batch per burst.
    pub on_idle: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl NodeOptions {
    /// Defaults: local discovery, 127.0.0.1, any port, a 20 s failure timeout, 25 ms ticks, 3
    /// voters, 10 s request timeout.
    pub fn new(cluster_name: impl Into<String>) -> Self {
        NodeOptions {
            cluster_name: cluster_name.into(),
            node_id: String::new(),
            host: "127.0.0.1".into(),
            port: 0,
            discovery: DiscoveryMode::Local,
            failure_timeout: Duration::from_millis(20_000),
            ping_interval: Duration::from_millis(20_000),
            tick: Duration::from_millis(25),
            voters: 3,
            request_timeout: Duration::from_secs(10),
            join_timeout: Duration::from_secs(30),
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            compact_after_entries: 50_000,
            faults: None,
            on_event: None,
            on_idle: None,
        }
    }

    /// Takes host, port, timeout and ping interval from a [`crate::Config`] (the environment).
    pub fn with_config(mut self, config: &crate::Config) -> Self {
        self.host = config.host.clone();
        self.port = config.port;
        self.failure_timeout = config.timeout;
        self.ping_interval = config.ping_interval;
        self.max_frame_size = config.max_frame_size;
        self
    }
}

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

    /// Sends a request; `callback` gets the answer on the callback thread.
    pub fn request(&self, request: Message, callback: Callback) {
        if self
            .send(Command::Request(request, Caller::new(callback)))
            .is_err()
        {
            // The loop is gone; the callback was dropped with the command.
        }
    }

    /// Sends a request and waits for its answer.
    pub fn call(&self, request: Message) -> Message {
        let (tx, rx) = mpsc::channel();
        self.request(
            request,
            Box::new(move |m| {
                let _ = tx.send(m);
            }),
        );
        runtime::spin_recv(&rx)
            .or_else(|| rx.recv().ok())
            .unwrap_or_else(|| {
                Message::error(crate::wire::error_code::CLOSED, "the node is closed")
            })
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

    /// The raft ids of the voters in the configuration this node has applied.
    pub fn voters(&self) -> Vec<u64> {
        self.shared.view().voters
    }

    /// Leaves the cluster gracefully: the node's removal (and the removal of its registrations
    /// and locks) is committed before this returns, and it hands its vote on. Then closes.
    pub fn leave(&self) -> Result<()> {
        let (tx, rx) = mpsc::channel();
        self.send(Command::Leave(tx))?;
        let outcome = rx.recv().unwrap_or(Err(Error::Closed));
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

    fn send(&self, command: Command) -> Result<()> {
        self.commands.send(command).map_err(|_| Error::Closed)?;
        self.shared
            .wake_if_sleeping(&self.waker)
            .map_err(|_| Error::Closed)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.close();
    }
}
