//! The product sheet's configuration: a [`Builder`] whose settings not given in code come from
//! the environment, then the defaults, and that builds an [`App`] or starts a replicated node,
//! converting its [`Config`] into the node's own options (the node knows nothing of `Config`).

use std::time::Duration;

use super::App;
use crate::config::{parse_address, Config};
use crate::error::Result;
use crate::node::NodeOptions;

/// Programmatic configuration: every setting not given here comes from the environment, then
/// the defaults.
#[derive(Debug, Default, Clone)]
#[must_use]
pub struct Builder {
    node_id: Option<u64>,
    address: Option<String>,
    cluster_name: Option<String>,
    seeds: Vec<String>,
    timeout: Option<Duration>,
    ping_interval: Option<Duration>,
    max_frame_size: Option<usize>,
    secret: Option<Vec<u8>>,
    insecure: bool,
}

/// Starts configuring a node.
///
/// The product sheet's advanced configuration:
/// ```
/// use vertx_cluster::{builder, App};
///
/// fn main() {
///     // Build with custom configuration
///     let app = builder()
///         .node_id(1)
///         .address("192.168.1.100:8080")
///         .build();
///
///     // Access internal state
///     let state = app.state();
///     let (legacy, managed, active) = state.get_node_stats();
///
///     println!("Cluster stats: {} legacy, {} managed, {} active",
///              legacy, managed, active);
/// }
/// ```
///
/// And its programmatic configuration from the application's own variables:
/// ```
/// use vertx_cluster::{builder, App};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # std::env::set_var("NODE_ID", "3");
/// let app = builder()
///     .node_id(std::env::var("NODE_ID")?.parse()?)
///     .address(&format!("{}:{}",
///         std::env::var("CLUSTER_HOST").unwrap_or("127.0.0.1".to_string()),
///         std::env::var("CLUSTER_PORT").unwrap_or("8080".to_string())
///     ))
///     .build();
/// # assert_eq!(app.config().node_id, 3);
/// # Ok(())
/// # }
/// ```
pub fn builder() -> Builder {
    Builder::default()
}

impl Builder {
    /// The node's raft id.
    pub fn node_id(mut self, node_id: u64) -> Self {
        self.node_id = Some(node_id);
        self
    }

    /// The `host:port` the node binds to and is reached at.
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }

    /// Silence after which a connection is dropped (overrides `VERTX_CLUSTER_TIMEOUT`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Keepalive interval (overrides `VERTX_CLUSTER_PING_INTERVAL`).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = Some(interval);
        self
    }

    /// Largest frame accepted or sent (default 16 MiB).
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = Some(bytes);
        self
    }

    /// The cluster to join (nodes only cluster with nodes of the same name); for
    /// [`Builder::start_node`].
    pub fn cluster_name(mut self, name: impl Into<String>) -> Self {
        self.cluster_name = Some(name.into());
        self
    }

    /// The cluster secret members authenticate with, at least 16 bytes (overrides
    /// `VERTX_CLUSTER_SECRET`), for [`Builder::start_node`]. Required with seeds unless
    /// [`Builder::insecure`]; nodes found through local discovery share a generated one.
    pub fn secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// Without a secret, run with no authentication: anyone who reaches the port can join.
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Addresses (`host:port`) of some members, for [`Builder::start_node`]. Without seeds,
    /// nodes of the same cluster name on this host find each other on their own.
    pub fn seeds<S: Into<String>>(mut self, seeds: impl IntoIterator<Item = S>) -> Self {
        self.seeds = seeds.into_iter().map(Into::into).collect();
        self
    }

    /// Starts a replicated cluster node with these settings and returns once it is a member.
    /// `address` is where it listens (port 0: any free port); `node_id`, when given, names the
    /// node `node-<id>` (raft ids themselves are assigned when a node joins).
    ///
    /// ```no_run
    /// use vertx_cluster::builder;
    /// use vertx_cluster::wire::Message;
    ///
    /// let node = builder()
    ///     .node_id(1)
    ///     .address("127.0.0.1:7801")
    ///     .cluster_name("orders")
    ///     .secret("the orders cluster's secret, shared by its members")
    ///     .seeds(["127.0.0.1:7801", "127.0.0.1:7802", "127.0.0.1:7803"])
    ///     .start_node()?;
    /// let hits = node.call(Message::CounterAddAndGetRequest { counter_name: "hits".into(), delta: 1 });
    /// # Ok::<(), vertx_cluster::Error>(())
    /// ```
    pub fn start_node(self) -> Result<crate::node::Node> {
        let cluster_name = self
            .cluster_name
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let seeds = self.seeds.clone();
        let node_id = self.node_id;
        let insecure = self.insecure;
        let app = self.try_build()?;
        let config = app.config();
        let mut options = node_options(cluster_name, config);
        if let Some(id) = node_id {
            options.node_id = format!("node-{id}");
        }
        if !seeds.is_empty() {
            options.discovery = crate::node::DiscoveryMode::Seeds(seeds);
        }
        options.insecure = insecure;
        crate::node::Node::start(options)
    }

    /// The node, or the configuration error.
    pub fn try_build(self) -> Result<App> {
        let mut config = Config::from_env()?;
        if let Some(id) = self.node_id {
            config.node_id = id;
        }
        if let Some(address) = self.address {
            let (host, port) = parse_address(&address)?;
            config.host = host;
            config.port = port;
            config.address = Some(address);
        }
        if let Some(t) = self.timeout {
            config.timeout = t;
        }
        if let Some(t) = self.ping_interval {
            config.ping_interval = t;
        }
        if let Some(n) = self.max_frame_size {
            config.max_frame_size = n;
        }
        if let Some(secret) = self.secret {
            config.secret = Some(secret);
        }
        Ok(App::with_config(config))
    }

    /// The node.
    ///
    /// # Panics
    /// When the address or an environment variable is malformed; the message says which.
    pub fn build(self) -> App {
        self.try_build().unwrap_or_else(|e| panic!("{e}"))
    }
}

/// The options of a replicated node of cluster `cluster_name` with the host, port, timeouts,
/// frame limit and secret of `config`.
fn node_options(cluster_name: String, config: &Config) -> NodeOptions {
    let mut options = NodeOptions::new(cluster_name);
    options.host = config.host.clone();
    options.port = config.port;
    options.failure_timeout = config.timeout;
    options.ping_interval = config.ping_interval;
    options.max_frame_size = config.max_frame_size;
    if config.secret.is_some() {
        options.secret = config.secret.clone();
    }
    options
}
