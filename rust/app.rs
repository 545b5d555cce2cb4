//! The product sheet's Rust API: an [`App`] that owns one node's state and answers protocol
//! frames, its [`ClusterState`], the [`builder()`], and the connection timeout processor.
//!
//! An `App` applies each request to its own state machine directly, in arrival order, stamping
//! the local clock and the next log index; it is the single-node form of the node, the one that
//! the replicated runtime drives through consensus instead. Connections are identified by the
//! caller's `connection_id`: a connection that sent `JoinRequest` speaks for that member, and
//! when the timeout processor drops it for silence, the member is removed as if it had left
//! (its registrations go, its locks pass to the next waiter).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::error::Result;
use crate::fsm::{ApplyContext, Event, StateMachine};
use crate::wire::{error_code, FramedMessage, Message, WireError, PROTOCOL_VERSION};

/// One cluster node's state and protocol endpoint. Cheap to clone: clones share the state.
///
/// The product sheet's basic usage:
/// ```
/// use vertx_cluster::App;
///
/// fn main() {
///     // Create a cluster node
///     let app = App::new();
///
///     // Start processing (in a real app, this would be in an event loop)
///     let timeout_processor = app.create_timeout_processor();
///     # assert_eq!(timeout_processor(), 0);
///
///     println!("Cluster node started: {}", vertx_cluster::greeting());
/// }
/// ```
#[derive(Clone)]
pub struct App {
    config: Arc<Config>,
    state: Arc<ClusterState>,
}

/// What a connection has told this node about itself.
#[derive(Debug)]
struct Connection {
    /// The member this connection joined as.
    member: Option<String>,
    /// The raft id the caller gave for the connection's peer.
    raft_node: Option<u64>,
    last_seen: Instant,
}

#[derive(Default)]
struct Inner {
    fsm: StateMachine,
    connections: HashMap<u64, Connection>,
    events: Vec<Event>,
    malformed_frames: u64,
}

/// The node's state: the state machine, the connection table and the event queue.
#[derive(Default)]
pub struct ClusterState {
    inner: Mutex<Inner>,
}

fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl ClusterState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the state half-applied (apply does not
        // panic on any input), so a poisoned lock is still safe to use.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `(legacy, managed, active)`:
    /// - `legacy`: open connections that never joined as a member (clients that speak the
    ///   protocol without being part of the cluster),
    /// - `managed`: members in the replicated member list,
    /// - `active`: members with at least one open connection to this node.
    pub fn get_node_stats(&self) -> (usize, usize, usize) {
        let inner = self.lock();
        let legacy = inner
            .connections
            .values()
            .filter(|c| c.member.is_none())
            .count();
        let managed = inner.fsm.members().len();
        let active = inner
            .fsm
            .members()
            .iter()
            .filter(|m| {
                inner
                    .connections
                    .values()
                    .any(|c| c.member.as_deref() == Some(m.node_id.as_str()))
            })
            .count();
        (legacy, managed, active)
    }

    /// The whole replicated state as versioned, checksummed bytes.
    ///
    /// The product sheet's state synchronization:
    /// ```
    /// use vertx_cluster::App;
    ///
    /// fn main() -> Result<(), vertx_cluster::Error> {
    ///     let app = App::new();
    ///     # app.process_message(vertx_cluster::wire::FramedMessage::request(1,
    ///     #     vertx_cluster::wire::Message::JoinRequest { node_id: "n1".into() }), None, None);
    ///     // Create state snapshot for backup/recovery
    ///     let snapshot = app.state().create_snapshot();
    ///
    ///     // Restore from snapshot
    ///     let new_app = App::new();
    ///     new_app.state().restore_from_snapshot(snapshot)?;
    ///     # assert_eq!(new_app.state().members(), vec!["n1".to_string()]);
    ///     Ok(())
    /// }
    /// ```
    pub fn create_snapshot(&self) -> Vec<u8> {
        self.lock().fsm.create_snapshot()
    }

    /// Replaces the replicated state with a snapshot's. Corrupt or foreign bytes are refused
    /// and leave the state untouched.
    pub fn restore_from_snapshot(&self, snapshot: impl AsRef<[u8]>) -> Result<()> {
        let restored = StateMachine::from_snapshot(snapshot.as_ref())?;
        self.lock().fsm = restored;
        Ok(())
    }

    /// Answers a read-only request from the current state.
    pub fn query(&self, request: &Message) -> Message {
        self.lock().fsm.query(request, wall_clock_ms())
    }

    /// Member ids in join order.
    pub fn members(&self) -> Vec<String> {
        self.lock()
            .fsm
            .members()
            .iter()
            .map(|m| m.node_id.clone())
            .collect()
    }

    /// Open connections.
    pub fn connection_count(&self) -> usize {
        self.lock().connections.len()
    }

    /// Frames refused as malformed since the node started.
    pub fn malformed_frames(&self) -> u64 {
        self.lock().malformed_frames
    }

    /// Takes the events (joins, departures, registration changes, lock grants and expired waits)
    /// produced since the last call, in apply order.
    pub fn drain_events(&self) -> Vec<Event> {
        std::mem::take(&mut self.lock().events)
    }

    fn apply(inner: &mut Inner, command: Message, origin: &str, request_id: u32) -> Message {
        let ctx = ApplyContext {
            index: inner.fsm.last_applied() + 1,
            now_ms: wall_clock_ms(),
            origin,
            request_id,
        };
        let applied = inner.fsm.apply(command, &ctx);
        inner.events.extend(applied.events);
        applied.response
    }
}

impl Default for App {
    fn default() -> Self {
        App::new()
    }
}

impl App {
    /// A node configured from the environment (see [`crate::config`]).
    ///
    /// # Panics
    /// When an environment variable is malformed; the message names it. Use [`App::from_env`]
    /// to get the error instead.
    pub fn new() -> App {
        App::from_env().unwrap_or_else(|e| panic!("{e}"))
    }

    /// A node configured from the environment, or the configuration error.
    pub fn from_env() -> Result<App> {
        Ok(App::with_config(Config::from_env()?))
    }

    /// A node with exactly this configuration.
    pub fn with_config(config: Config) -> App {
        log::info!(
            "vertx-cluster node {} at {} (timeout {:?}, ping interval {:?})",
            config.node_id,
            config.advertised_address(),
            config.timeout,
            config.ping_interval
        );
        App {
            config: Arc::new(config),
            state: Arc::new(ClusterState::default()),
        }
    }

    /// A node with the given raft id and advertised address, the rest from the environment.
    ///
    /// # Panics
    /// When the address is not `host:port` or an environment variable is malformed.
    pub fn new_with_raft_node(node_id: u64, address: String) -> App {
        builder().node_id(node_id).address(address).build()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn state(&self) -> &ClusterState {
        &self.state
    }

    /// Answers one request frame and returns the response frame (same request id, RESPONSE
    /// flag). `connection_id` names the connection it arrived on, `node_id` the raft id of the
    /// peer behind it, when known. Failures are answered with an `ErrorResponse`, never a panic.
    ///
    /// The product sheet's node management:
    /// ```
    /// use vertx_cluster::wire::{Message, FramedMessage, MessageFlags, PROTOCOL_VERSION};
    /// # let app = vertx_cluster::App::new();
    /// # let (connection_id, node_id) = (1u64, 1u64);
    ///
    /// // Join cluster
    /// let join_msg = FramedMessage {
    ///     protocol_version: PROTOCOL_VERSION,
    ///     flags: MessageFlags::REQUEST,
    ///     message_kind: Message::JoinRequest {
    ///         node_id: "node1".to_string()
    ///     }.get_message_kind(),
    ///     request_id: 1,
    ///     payload: Message::JoinRequest {
    ///         node_id: "node1".to_string()
    ///     },
    /// };
    ///
    /// let response = app.process_message(join_msg, Some(connection_id), Some(node_id));
    /// # assert_eq!(response.request_id, 1);
    /// # assert_eq!(response.payload, Message::JoinResponse { members: vec!["node1".into()] });
    /// ```
    ///
    /// The sheet's distributed maps and locks, each message answered by the node:
    /// ```
    /// use vertx_cluster::wire::{FramedMessage, Message};
    /// # let app = vertx_cluster::App::new();
    /// # let send = |id: u32, m: Message| app.process_message(FramedMessage::request(id, m), Some(1), None).payload;
    /// # send(1, Message::JoinRequest { node_id: "node1".into() });
    ///
    /// // Create a distributed map
    /// let create_msg = Message::CreateMapRequest {
    ///     name: "user_sessions".to_string(),
    /// };
    ///
    /// // Put a value
    /// let put_msg = Message::MapPutRequest {
    ///     map_name: "user_sessions".to_string(),
    ///     key: b"user123".to_vec(),
    ///     value: b"session_data_here".to_vec(),
    /// };
    ///
    /// // Get a value
    /// let get_msg = Message::MapGetRequest {
    ///     map_name: "user_sessions".to_string(),
    ///     key: b"user123".to_vec(),
    /// };
    /// # assert_eq!(send(2, create_msg), Message::CreateMapResponse {});
    /// # assert_eq!(send(3, put_msg), Message::MapPutResponse {});
    /// # assert_eq!(send(4, get_msg), Message::MapGetResponse { value: Some(b"session_data_here".to_vec()) });
    ///
    /// // Create a distributed lock
    /// let lock_msg = Message::CreateLockRequest {
    ///     name: "critical_section".to_string(),
    /// };
    ///
    /// // Acquire lock (queued until available)
    /// let acquire_msg = Message::LockAcquireRequest {
    ///     lock_name: "critical_section".to_string(),
    /// };
    ///
    /// // Release lock
    /// let release_msg = Message::LockReleaseRequest {
    ///     lock_name: "critical_section".to_string(),
    /// };
    /// # assert_eq!(send(5, lock_msg), Message::CreateLockResponse {});
    /// # assert_eq!(send(6, acquire_msg), Message::LockAcquireResponse { granted: true, fencing_token: 6 });
    /// # assert_eq!(send(7, release_msg), Message::LockReleaseResponse { released: true });
    /// ```
    pub fn process_message(
        &self,
        framed: FramedMessage<Message>,
        connection_id: Option<u64>,
        node_id: Option<u64>,
    ) -> FramedMessage<Message> {
        let mut inner = self.state.lock();
        if let Some(id) = connection_id {
            let conn = inner.connections.entry(id).or_insert_with(|| Connection {
                member: None,
                raft_node: None,
                last_seen: Instant::now(),
            });
            conn.last_seen = Instant::now();
            if node_id.is_some() {
                conn.raft_node = node_id;
            }
        }
        if let Some(refusal) = Self::refuse(&framed) {
            inner.malformed_frames += 1;
            return framed.reply(refusal);
        }
        let origin = Self::origin(&inner, connection_id, node_id);
        let request_id = framed.request_id;
        let joined = match &framed.payload {
            Message::JoinRequest { node_id } => Some(node_id.clone()),
            _ => None,
        };
        let left = match &framed.payload {
            Message::LeaveRequest { node_id } => Some(node_id.clone()),
            _ => None,
        };
        let response = ClusterState::apply(&mut inner, framed.payload, &origin, request_id);
        if let (Some(id), Some(member)) = (connection_id, joined) {
            if let Some(conn) = inner.connections.get_mut(&id) {
                conn.member = Some(member);
            }
        }
        if let Some(member) = left {
            for conn in inner.connections.values_mut() {
                if conn.member.as_deref() == Some(member.as_str()) {
                    conn.member = None;
                }
            }
        }
        FramedMessage::response(request_id, response)
    }

    /// Decodes and answers one encoded frame, returning the encoded response. Malformed bytes
    /// are counted and answered with an `ErrorResponse` saying what was wrong.
    pub fn process_frame(
        &self,
        bytes: &[u8],
        connection_id: Option<u64>,
        node_id: Option<u64>,
    ) -> Vec<u8> {
        let response = match FramedMessage::decode(bytes, self.config.max_frame_size) {
            Ok(framed) => self.process_message(framed, connection_id, node_id),
            Err(e) => {
                self.state.lock().malformed_frames += 1;
                log::debug!("refused a malformed frame: {e}");
                let request_id = bytes
                    .get(12..16)
                    .map_or(0, |b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
                let code = match e {
                    WireError::FrameTooLarge { .. } => error_code::TOO_LARGE,
                    _ => error_code::MALFORMED,
                };
                FramedMessage::response(request_id, Message::error(code, e.to_string()))
            }
        };
        let mut out = Vec::new();
        if let Err(e) = response.encode_into(&mut out, self.config.max_frame_size) {
            let refusal = Message::error(error_code::TOO_LARGE, format!("response refused: {e}"));
            FramedMessage::response(response.request_id, refusal)
                // Our own short error frame is sent even when the limit is set absurdly low.
                .encode_into(&mut out, usize::MAX)
                .expect("an error frame encodes");
        }
        out
    }

    /// Why a frame cannot be served, if it cannot.
    fn refuse(framed: &FramedMessage<Message>) -> Option<Message> {
        if framed.protocol_version != PROTOCOL_VERSION {
            return Some(Message::error(
                error_code::MALFORMED,
                WireError::UnsupportedVersion(framed.protocol_version).to_string(),
            ));
        }
        let kind = framed.payload.get_message_kind();
        if framed.message_kind != kind {
            return Some(Message::error(
                error_code::MALFORMED,
                WireError::KindMismatch {
                    header: framed.message_kind,
                    payload: kind,
                }
                .to_string(),
            ));
        }
        if framed.payload.is_response() {
            return Some(Message::error(
                error_code::UNSUPPORTED,
                format!("{} is a response, not a request", framed.payload.name()),
            ));
        }
        None
    }

    /// Who a request speaks for: the member its connection joined as, else the raft node, else
    /// the connection itself, else this process.
    fn origin(inner: &Inner, connection_id: Option<u64>, node_id: Option<u64>) -> String {
        let conn = connection_id.and_then(|id| inner.connections.get(&id));
        if let Some(member) = conn.and_then(|c| c.member.clone()) {
            return member;
        }
        match (node_id.or(conn.and_then(|c| c.raft_node)), connection_id) {
            (Some(n), _) => format!("raft-{n}"),
            (None, Some(c)) => format!("connection-{c}"),
            (None, None) => "local".to_owned(),
        }
    }

    /// A closure that drops every connection silent for longer than the configured timeout and
    /// returns how many it dropped. A dropped connection's member, unless another open
    /// connection still speaks for it, is removed from the cluster as if it had left. Each call
    /// also applies an expire command, so TTL entries and lock waits that are due are removed.
    ///
    /// The product sheet's custom application, with its background timeout processing:
    /// ```
    /// use vertx_cluster::{App, wire::*};
    /// use std::thread;
    /// use std::time::Duration;
    ///
    /// # fn run_application_event_loop(app: App) {
    /// #     let r = app.process_message(FramedMessage::request(1, Message::NodeListRequest {}), Some(1), None);
    /// #     assert_eq!(r.payload, Message::NodeListResponse { nodes: vec![] });
    /// # }
    /// fn main() {
    ///     let app = App::new();
    ///
    ///     // Background timeout processing
    ///     let timeout_processor = app.create_timeout_processor();
    ///     thread::spawn(move || {
    ///         loop {
    ///             let cleaned = timeout_processor();
    ///             if cleaned > 0 {
    ///                 println!("Cleaned {} timed out connections", cleaned);
    ///             }
    ///             thread::sleep(Duration::from_secs(30));
    ///         }
    ///     });
    ///
    ///     // Your application logic here
    ///     run_application_event_loop(app);
    /// }
    /// ```
    pub fn create_timeout_processor(&self) -> impl Fn() -> usize + Send + Sync + 'static {
        let state = Arc::clone(&self.state);
        let timeout = self.config.timeout;
        move || Self::drop_idle(&state, timeout)
    }

    fn drop_idle(state: &ClusterState, timeout: Duration) -> usize {
        let mut inner = state.lock();
        let now = Instant::now();
        let idle: Vec<u64> = inner
            .connections
            .iter()
            .filter(|(_, c)| now.duration_since(c.last_seen) > timeout)
            .map(|(id, _)| *id)
            .collect();
        let mut departed = Vec::new();
        for id in &idle {
            if let Some(member) = inner.connections.remove(id).and_then(|c| c.member) {
                departed.push(member);
            }
        }
        departed.sort();
        departed.dedup();
        for member in departed {
            let still_connected = inner
                .connections
                .values()
                .any(|c| c.member.as_deref() == Some(member.as_str()));
            if !still_connected {
                log::info!("member {member} timed out after {timeout:?}: removing it");
                let leave = Message::LeaveRequest { node_id: member };
                ClusterState::apply(&mut inner, leave, "local", 0);
            }
        }
        ClusterState::apply(&mut inner, Message::ExpireRequest {}, "local", 0);
        idle.len()
    }
}

mod builder;
pub use builder::{builder, Builder};

#[cfg(test)]
mod tests;
