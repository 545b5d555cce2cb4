//! A node's settings: how it finds its cluster, authenticates, times its work and limits its
//! frames, and the callbacks it reports through. [`NodeOptions::encode_settings`] is the one value
//! the settings cross JNI as.

use std::sync::Arc;
use std::time::Duration;

use super::discovery::{local_secret, Discovery};
use crate::error::{Error, Result};
use crate::fsm::Event;
use crate::raft::{ReplicaConfig, REPLICATION_HEADROOM};
use crate::transport::secure::MAX_CLUSTER_NAME_BYTES;
use crate::transport::{Auth, ClusterKey, Faults};
use crate::wire::codec::{Reader, Writer};
use crate::wire::{WireError, DEFAULT_MAX_FRAME_SIZE};

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
    /// Address to bind. The other members reach this node at [`Self::public_host`], which is this
    /// address unless it is a wildcard (`0.0.0.0`, `::`).
    pub host: String,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// The host the other members reach this node at (behind NAT, or when binding a wildcard);
    /// empty: the bind host, or for a wildcard bind host the address of this host's one routable
    /// interface (127.0.0.1 with local discovery), an error when it has none or several.
    pub public_host: String,
    /// The port the other members reach this node at; 0: the bound port.
    pub public_port: u16,
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
    /// The cluster secret members authenticate with (at least 16 bytes). Without one, nodes
    /// found through local discovery share a secret generated in the discovery directory, and a
    /// node that finds its cluster through seeds or DNS refuses to start unless `insecure`.
    pub secret: Option<Vec<u8>>,
    /// Without a secret, run with no authentication at all: anyone who reaches the port can
    /// join. Logged as a warning at start.
    pub insecure: bool,
    /// What fails together with this node, for the leader's placement of the voters (a rack, a
    /// zone: members naming the same domain are kept apart as one process would be); empty:
    /// this process (`raft::process_domain`).
    pub failure_domain: String,
    /// Once the log holds this many applied entries, its older half is dropped.
    pub compact_after_entries: u64,
    /// Once the log holds this many bytes of entries, it is compacted to half of them.
    pub compact_after_bytes: u64,
    /// Fault injection for tests: frames between blocked address pairs are dropped.
    pub faults: Option<Faults>,
    /// Called on the callback thread for every event, in apply order.
    pub on_event: Option<Arc<dyn Fn(Event) + Send + Sync>>,
    /// Called on the callback thread whenever it has run every callback queued so far: a
    /// consumer that buffers answers flushes them here, one batch per burst.
    pub on_idle: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Called on the callback thread, last, when the node's event loop stopped by itself (a
    /// panic, a failed poll) rather than by `close` or `leave`, with the reason. Every request
    /// waiting was answered with that reason just before, and every later one fails with it.
    pub on_stopped: Option<Arc<dyn Fn(String) + Send + Sync>>,
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
            public_host: String::new(),
            public_port: 0,
            discovery: DiscoveryMode::Local,
            failure_timeout: Duration::from_millis(20_000),
            ping_interval: Duration::from_millis(20_000),
            tick: Duration::from_millis(25),
            voters: 3,
            request_timeout: Duration::from_secs(10),
            join_timeout: Duration::from_secs(30),
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            secret: None,
            insecure: false,
            failure_domain: String::new(),
            compact_after_entries: 50_000,
            compact_after_bytes: 64 * 1024 * 1024,
            faults: None,
            on_event: None,
            on_idle: None,
            on_stopped: None,
        }
    }

    /// How this node's connections authenticate: with the configured secret; else, for local
    /// discovery, with the secret of the discovery directory; else not at all if the user opted
    /// out; else not: a node reachable from other hosts must not run open by accident.
    pub(crate) fn authentication(&self, discovery: &Discovery) -> Result<Auth> {
        if let Some(secret) = &self.secret {
            return ClusterKey::from_secret(secret)
                .map(Auth::Secret)
                .map_err(Error::Invalid);
        }
        if self.insecure {
            return Ok(Auth::Insecure);
        }
        match discovery {
            Discovery::Local { dir } => {
                let secret = local_secret(dir)
                    .map_err(|e| Error::io("reading the local cluster secret", e))?;
                ClusterKey::from_secret(&secret)
                    .map(Auth::Secret)
                    .map_err(|e| Error::Invalid(format!("{}: {e}", dir.display())))
            }
            Discovery::Seeds(_) | Discovery::Dns { .. } => Err(Error::Invalid(
                "a node that finds its cluster through seeds or a DNS name needs the cluster \
                 secret: set vertx.bop.secret, VERTX_CLUSTER_SECRET or vertx.bop.secretFile \
                 (NodeOptions::secret in Rust), or run without authentication with \
                 vertx.bop.insecure=true (NodeOptions::insecure)"
                    .into(),
            )),
        }
    }

    /// Checks what no later step would: names the handshake and every command can carry, a
    /// frame limit that leaves room for a command.
    pub(crate) fn validate(&self) -> Result<()> {
        for (what, name) in [
            ("cluster name", &self.cluster_name),
            ("node id", &self.node_id),
        ] {
            if name.len() > MAX_CLUSTER_NAME_BYTES {
                return Err(Error::Invalid(format!(
                    "the {what} has {} bytes; at most {MAX_CLUSTER_NAME_BYTES} are allowed",
                    name.len()
                )));
            }
        }
        if self.max_frame_size < MIN_MAX_FRAME_SIZE {
            return Err(Error::Invalid(format!(
                "the max frame size must be at least {MIN_MAX_FRAME_SIZE} bytes, not {}",
                self.max_frame_size
            )));
        }
        Ok(())
    }

    /// Where the node looks for the others.
    pub(crate) fn discovery(&self) -> Discovery {
        match &self.discovery {
            DiscoveryMode::Local => Discovery::local(&self.cluster_name),
            DiscoveryMode::Seeds(seeds) => Discovery::Seeds(seeds.clone()),
            DiscoveryMode::Dns { name, port } => Discovery::Dns {
                name: name.clone(),
                port: *port,
            },
        }
    }
}

/// The smallest frame limit: room for replication's fields and a small command.
pub const MIN_MAX_FRAME_SIZE: usize = 4096;

/// The layout version of [`NodeOptions::encode_settings`].
const SETTINGS_VERSION: u8 = 3;
const DISCOVERY_LOCAL: u8 = 0;
const DISCOVERY_SEEDS: u8 = 1;
const DISCOVERY_DNS: u8 = 2;

impl NodeOptions {
    /// The settings a host application gives (everything but the callbacks, the fault
    /// injection and the compaction threshold) as one value in the wire codec's field encoding:
    /// how the options cross JNI. The layout is in `tests/vectors/README.md`, pinned by golden
    /// vectors that the Java encoder must match.
    pub fn encode_settings(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        let mut w = Writer::new(&mut out);
        w.u8(SETTINGS_VERSION);
        w.put(&self.cluster_name);
        w.put(&self.node_id);
        w.put(&self.host);
        w.u16(self.port);
        w.put(&self.public_host);
        w.u16(self.public_port);
        match &self.discovery {
            DiscoveryMode::Local => w.u8(DISCOVERY_LOCAL),
            DiscoveryMode::Seeds(seeds) => {
                w.u8(DISCOVERY_SEEDS);
                w.put(seeds);
            }
            DiscoveryMode::Dns { name, port } => {
                w.u8(DISCOVERY_DNS);
                w.put(name);
                w.u16(*port);
            }
        }
        for duration in [self.failure_timeout, self.ping_interval, self.tick] {
            w.u64(duration.as_millis() as u64);
        }
        w.u32(u32::try_from(self.voters).unwrap_or(u32::MAX));
        for duration in [self.request_timeout, self.join_timeout] {
            w.u64(duration.as_millis() as u64);
        }
        w.u64(self.max_frame_size as u64);
        w.put(&self.secret);
        w.put(&self.insecure);
        w.put(&self.failure_domain);
        out
    }

    /// The replica's settings for this node, `node_id` listening at `address`.
    pub(crate) fn replica_config(&self, node_id: &str, address: &str) -> ReplicaConfig {
        let tick = self.tick;
        let ticks = |d: Duration| (d.as_nanos().div_ceil(tick.as_nanos().max(1)) as u64).max(1);
        let mut cfg = ReplicaConfig::new(
            node_id,
            address,
            tick.as_millis().max(1) as u64,
            self.failure_timeout.as_millis() as u64,
        );
        cfg.voters = self.voters;
        if !self.failure_domain.is_empty() {
            cfg.domain = self.failure_domain.clone();
        }
        cfg.compact_after_entries = self.compact_after_entries;
        cfg.compact_after_bytes = self.compact_after_bytes;
        cfg.max_command_bytes = self.max_frame_size - REPLICATION_HEADROOM;
        cfg.dead_after_ticks = ticks(self.failure_timeout);
        cfg.request_timeout_ticks = ticks(self.request_timeout);
        cfg.no_quorum_after_ticks = ticks(Duration::from_secs(2).max(tick * 40));
        cfg
    }

    /// Options from [`Self::encode_settings`]'s bytes, the rest at their defaults. Every value is
    /// checked: a malformed or out-of-range one is an [`Error::Invalid`] naming the setting.
    pub fn decode_settings(bytes: &[u8]) -> Result<NodeOptions> {
        let bad = |e: WireError| Error::Invalid(format!("malformed node settings: {e}"));
        let mut r = Reader::new(bytes);
        let version = r.u8("version").map_err(bad)?;
        if version != SETTINGS_VERSION {
            return Err(Error::Invalid(format!(
                "node settings of layout {version}; this library reads layout \
                 {SETTINGS_VERSION} (the jar and the native library are of different builds)"
            )));
        }
        let mut options = NodeOptions::new(r.get::<String>("cluster_name").map_err(bad)?);
        options.node_id = r.get("node_id").map_err(bad)?;
        options.host = r.get("host").map_err(bad)?;
        options.port = r.u16("port").map_err(bad)?;
        options.public_host = r.get("public_host").map_err(bad)?;
        options.public_port = r.u16("public_port").map_err(bad)?;
        options.discovery = match r.u8("discovery").map_err(bad)? {
            DISCOVERY_LOCAL => DiscoveryMode::Local,
            DISCOVERY_SEEDS => DiscoveryMode::Seeds(r.get("seeds").map_err(bad)?),
            DISCOVERY_DNS => DiscoveryMode::Dns {
                name: r.get("dns_name").map_err(bad)?,
                port: r.u16("dns_port").map_err(bad)?,
            },
            tag => {
                return Err(bad(WireError::BadTag {
                    field: "discovery",
                    tag,
                }))
            }
        };
        let millis = |r: &mut Reader<'_>, field: &'static str, name: &str| -> Result<Duration> {
            match r.u64(field).map_err(bad)? {
                0 => Err(Error::Invalid(format!(
                    "{name} must be a positive number of milliseconds, not 0"
                ))),
                ms => Ok(Duration::from_millis(ms)),
            }
        };
        options.failure_timeout = millis(&mut r, "failure_timeout_ms", "the failure timeout")?;
        options.ping_interval = millis(&mut r, "ping_interval_ms", "the ping interval")?;
        options.tick = millis(&mut r, "tick_ms", "the tick")?;
        let voters = r.u32("voters").map_err(bad)?;
        options.request_timeout = millis(&mut r, "request_timeout_ms", "the request timeout")?;
        options.join_timeout = millis(&mut r, "join_timeout_ms", "the join timeout")?;
        options.voters = match voters {
            0 => return Err(Error::Invalid("voters must be at least 1, not 0".into())),
            n => n as usize,
        };
        let max_frame_size = r.u64("max_frame_size").map_err(bad)?;
        options.max_frame_size = usize::try_from(max_frame_size)
            .ok()
            .filter(|n| (MIN_MAX_FRAME_SIZE..=u32::MAX as usize).contains(n))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "the max frame size must be {MIN_MAX_FRAME_SIZE} to {} bytes, not \
                     {max_frame_size}",
                    u32::MAX
                ))
            })?;
        options.secret = r.get("secret").map_err(bad)?;
        options.insecure = r.get("insecure").map_err(bad)?;
        options.failure_domain = r.get("failure_domain").map_err(bad)?;
        r.finish().map_err(bad)?;
        Ok(options)
    }
}
