//! Starting a node: its identity, the address the other members reach it at, the bound
//! transport, discovery's plan, and the loop and callback threads; `start` returns once the node
//! has joined (or failed to).

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Poll, Token, Waker};

use super::callbacks::{run_callbacks, Delivery, Hooks};
use super::polling::node_started;
use super::{JoinState, Loop, Shared};
use crate::error::{Error, Result};
use crate::node::discovery::{Discovery, Own, Plan};
use crate::node::{Node, NodeOptions};
use crate::raft::Replica;
use crate::transport::{Auth, Transport, TransportConfig};

const WAKER: Token = Token(0);
const FIRST_TRANSPORT_TOKEN: usize = 1;
/// How long a seed that should bootstrap first looks for an existing cluster.
const PROBE_WINDOW: Duration = Duration::from_secs(1);

/// A random version-4 UUID: the Vert.x node id of a node started without one.
fn random_node_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The address the other members reach this node at (see [`NodeOptions::public_host`]).
fn advertised_address(
    options: &NodeOptions,
    bound: SocketAddr,
    discovery: &Discovery,
) -> Result<SocketAddr> {
    let port = match options.public_port {
        0 => bound.port(),
        port => port,
    };
    let ip = if !options.public_host.is_empty() {
        (options.public_host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| {
                Error::io(
                    format!("resolving the public host {}", options.public_host),
                    e,
                )
            })?
            .next()
            .ok_or_else(|| Error::InvalidAddress(format!("{}:{port}", options.public_host)))?
            .ip()
    } else if !bound.ip().is_unspecified() {
        bound.ip()
    } else if matches!(discovery, Discovery::Local { .. }) {
        // Every member is on this host: loopback reaches the wildcard listener.
        match bound {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        }
    } else {
        crate::node::interfaces::routable_address(bound.is_ipv6())?
    };
    if ip.is_unspecified() {
        return Err(Error::Invalid(format!(
            "the public host {} is a wildcard address: the other members cannot connect to it",
            options.public_host
        )));
    }
    Ok(SocketAddr::new(ip, port))
}

pub(in crate::node) fn start(options: NodeOptions) -> Result<Node> {
    options.validate()?;
    let discovery = options.discovery();
    let auth = options.authentication(&discovery)?;
    let node_id = if options.node_id.is_empty() {
        random_node_id()
    } else {
        options.node_id.clone()
    };
    let poll = Poll::new().map_err(|e| Error::io("creating the poll", e))?;
    let waker = Arc::new(
        Waker::new(poll.registry(), WAKER).map_err(|e| Error::io("creating the waker", e))?,
    );
    let bind = (options.host.as_str(), options.port)
        .to_socket_addrs()
        .map_err(|e| Error::io(format!("resolving {}", options.host), e))?
        .next()
        .ok_or_else(|| Error::InvalidAddress(format!("{}:{}", options.host, options.port)))?;
    if auth == Auth::Insecure {
        log::warn!(
            "{node_id}: running without a cluster secret (insecure): any process that reaches \
             {bind} can join the cluster, read its state and change it"
        );
    }
    let transport_config = TransportConfig {
        max_frame_size: options.max_frame_size,
        ping_interval: options.ping_interval,
        idle_timeout: options.failure_timeout.max(options.ping_interval * 3),
        ..TransportConfig::new(options.cluster_name.clone(), auth)
    };
    let transport = Transport::bind(
        bind,
        poll.registry(),
        FIRST_TRANSPORT_TOKEN,
        transport_config,
        options.faults.clone(),
    )
    .map_err(|e| Error::io(format!("binding {bind}"), e))?;
    let own = Own {
        bound: transport.local_addr(),
        advertised: advertised_address(&options, transport.local_addr(), &discovery)?,
    };
    let local = own.advertised;
    let address = local.to_string();
    let (plan, registration) = discovery
        .start(own)
        .map_err(|e| Error::io("discovering the cluster", e))?;

    let cfg = options.replica_config(&node_id, &address);
    let tick = options.tick;

    let (commands_tx, commands_rx) = mpsc::channel();
    let (deliveries_tx, deliveries_rx) = mpsc::channel::<Delivery>();
    let (joined_tx, joined_rx) = mpsc::channel();
    let shared = Arc::new(Shared::default());
    let hooks = Hooks {
        on_event: options.on_event.clone(),
        on_idle: options.on_idle.clone(),
        on_stopped: options.on_stopped.clone(),
    };

    let callback_thread = std::thread::Builder::new()
        .name(format!("vertx-cluster-callbacks-{address}"))
        .spawn(move || run_callbacks(deliveries_rx, hooks))
        .map_err(|e| Error::io("starting the callback thread", e))?;

    let now = Instant::now();
    // Counted from here: dropping the loop, on any path, counts it out.
    node_started();
    let mut lp = Loop {
        poll,
        transport,
        replica: Replica::joining(cfg.clone()),
        cfg,
        discovery,
        registration: Some(registration),
        local,
        own,
        commands: commands_rx,
        deliveries: deliveries_tx,
        shared: Arc::clone(&shared),
        callbacks: HashMap::new(),
        lock_waits: HashMap::new(),
        leave: None,
        joined: Some(joined_tx),
        join: JoinState {
            candidates: Vec::new(),
            attempt: 0,
            next_attempt: now,
            bootstrap_at: None,
            deadline: now + options.join_timeout,
        },
        tick,
        next_tick: now + tick,
        addresses: HashMap::new(),
        member_addresses: HashMap::new(),
        departed: Vec::new(),
        published: None,
        faults: options.faults.clone(),
        fault: None,
    };
    match plan {
        Plan::Bootstrap { probe } if probe.is_empty() => lp.bootstrap()?,
        Plan::Bootstrap { probe } => {
            lp.join.candidates = probe;
            lp.join.bootstrap_at = Some(now + PROBE_WINDOW);
        }
        Plan::Join { candidates } => lp.join.candidates = candidates,
    }
    let loop_thread = std::thread::Builder::new()
        .name(format!("vertx-cluster-loop-{address}"))
        .spawn(move || {
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| lp.run())) {
                let why = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("unknown panic");
                lp.fault = Some(format!(
                    "the node's event loop stopped after a panic: {why}"
                ));
            }
            // Dropping the loop answers everyone waiting (see `Drop for Loop`).
            drop(lp);
        })
        .map_err(|e| Error::io("starting the event loop thread", e))?;

    let node = Node {
        shared,
        commands: commands_tx,
        waker,
        threads: Mutex::new(vec![loop_thread, callback_thread]),
        node_id,
        address,
        max_frame_size: options.max_frame_size,
    };
    match joined_rx.recv() {
        Ok(Ok(())) => Ok(node),
        Ok(Err(e)) => {
            node.close();
            Err(e)
        }
        Err(_) => {
            node.close();
            Err(Error::Join("the event loop stopped before joining".into()))
        }
    }
}
