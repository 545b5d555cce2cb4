//! vertx-cluster: the replicated state and wire protocol behind `BopClusterManager`, a Vert.x 5
//! cluster manager with a Rust core.
//!
//! Modules, bottom up (no module reaches upward):
//! - [`wire`]: frames (16-byte header with CRC32) and the [`wire::Message`] enum; pure.
//! - [`fsm`]: the deterministic state machine (members, registrations, maps with TTL, sets,
//!   counters, FIFO locks with fencing tokens, sync maps), its snapshots, and the role of every
//!   request kind ([`fsm::role`]); pure.
//! - `transport` (crate-private): mio TCP between nodes, authenticated and encrypted (Noise).
//! - [`raft`]: one node's replica, I/O free: raft-rs, proposals, reads, membership, cluster time,
//!   rejoining after eviction.
//! - [`node`]: a running node: the event loop over the transport and the replica, discovery, the
//!   callback thread.
//! - `jni` (crate-private): the six natives behind the Java `BopClusterManager`.
//! - [`App`] (module `app`): the product sheet's API: one node's state answering protocol frames,
//!   and its [`builder()`], which reads [`config`] (settings from code, then `VERTX_CLUSTER_*`
//!   environment variables, then defaults) and converts it into a replicated node's options.
//!   Nothing below it knows it.
//! - `fuzz` (feature `fuzzing` only): the fuzz targets over the decoders and the replica's
//!   receive path, for `tests/fuzz.rs` and the libFuzzer targets in `fuzz/`.
//!
//! ```
//! use vertx_cluster::{builder, wire::{FramedMessage, Message}};
//!
//! let app = builder().node_id(1).address("127.0.0.1:8080").build();
//! let join = FramedMessage::request(1, Message::JoinRequest { node_id: "node1".into() });
//! let response = app.process_message(join, Some(7), Some(1));
//! assert_eq!(response.payload, Message::JoinResponse { members: vec!["node1".into()] });
//! assert_eq!(app.state().get_node_stats(), (0, 1, 1));
//! ```

mod app;
pub mod config;
mod error;
pub mod fsm;
#[cfg(feature = "fuzzing")]
pub mod fuzz;
mod jni;
pub mod node;
pub mod raft;
pub(crate) mod transport;
pub mod wire;

pub use app::{builder, App, Builder, ClusterState};
pub use config::Config;
pub use error::{Error, Result};

/// With the `mimalloc` feature (the JNI library is built with it), the library allocates through
/// mimalloc: a replicated write allocates a dozen times across three replicas, and glibc's malloc
/// took about a fifth of the CPU under load.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A one-line identification of this build: crate version and protocol version.
pub fn greeting() -> String {
    format!(
        "vertx-cluster {} (wire protocol v{})",
        env!("CARGO_PKG_VERSION"),
        wire::PROTOCOL_VERSION
    )
}
