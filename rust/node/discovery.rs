//! Start-up discovery: decides whether a starting node bootstraps a new cluster or joins an
//! existing one, so that N nodes started at the same moment form exactly one cluster.
//!
//! Three sources, one rule each:
//! - [`Discovery::Local`] (zero-config on one host): every node keeps an entry file
//!   `<sequence>-<pid>-<port>.node` holding its listen address in a directory shared by the
//!   cluster name. Start-ups are serialised by an exclusive advisory lock on `<dir>/.lock`
//!   (`flock` on Unix, which excludes other open handles of the same process too, so nodes
//!   inside one JVM are serialised like separate processes). Under the lock a node reads the
//!   entries and writes its own after them; once the lock is released it keeps the entries whose
//!   address accepts a TCP connection, deletes the rest, and bootstraps only if it found no live
//!   entry. Every starter sees the entries of all starters before it (its own listener is bound
//!   before its entry is written, so an entry of a running node is live), so exactly one of N
//!   simultaneous starters finds no live entry. Entries are written under a temporary name and
//!   renamed, so a reader never sees a half-written file.
//! - [`Discovery::Seeds`] and [`Discovery::Dns`]: a rule every node evaluates the same way, like
//!   etcd's initial cluster: the node whose own address is the smallest resolved address
//!   bootstraps (after briefly probing the others, in case a cluster already exists), every other
//!   node joins. Nodes that resolve the list differently (a seed failing to resolve on one node
//!   only) can break the rule; the probe is what catches that.
//!
//! A node listening on an unspecified IP (`0.0.0.0:port`) owns every address of this host with
//! that port, but never an address of another host: otherwise every pod of a headless service
//! listening on `0.0.0.0:7000` would believe it owns the smallest address and bootstrap.
//!
//! Local discovery also keeps the cluster's secret (`secret.rs`): the directory is private to its
//! user, and the first node generates a secret there that the others read.
//!
//! A liveness probe is a plain TCP connect that is closed at once: the transport's listener
//! sees a connection that ends without a frame, and must tolerate it. The kernel completes the
//! handshake from the listen backlog, so a node whose event loop is not accepting yet still
//! counts as live.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a live node may take to accept a probe connection. Entries are on the same host,
/// where a live listener completes the handshake from the kernel's backlog in microseconds.
const LIVENESS_TIMEOUT: Duration = Duration::from_millis(200);
const LOCK_FILE_NAME: &str = ".lock";
const ENTRY_EXTENSION: &str = "node";
const TEMPORARY_EXTENSION: &str = "tmp";

/// Where a starting node looks for the rest of its cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Discovery {
    /// Zero-config on one host: nodes of the same cluster name find each other through entry files in `dir`.
    Local { dir: PathBuf },
    /// Explicit seed addresses "host:port" (names resolved with `ToSocketAddrs`).
    Seeds(Vec<String>),
    /// A DNS name resolving to several addresses (a Kubernetes headless service); every address uses `port`.
    Dns { name: String, port: u16 },
}

/// What a starting node should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Start a new cluster. `probe` lists other seed addresses the node should first try to join
    /// briefly (an existing cluster may already be there, e.g. when this seed restarts); empty for Local.
    Bootstrap { probe: Vec<SocketAddr> },
    /// Join through any of these addresses (try them in order, retrying).
    Join { candidates: Vec<SocketAddr> },
}

/// Keeps the node's entry registered; removes it when dropped (Local), no-op otherwise.
#[derive(Debug)]
pub(crate) struct Registration {
    /// The node's own entry file; `None` for sources that keep no entry.
    entry: Option<PathBuf>,
}

impl Registration {
    fn without_entry() -> Registration {
        Registration { entry: None }
    }

    /// The entry file announcing this node, if the discovery source keeps one.
    #[cfg(test)]
    pub(crate) fn entry_path(&self) -> Option<&Path> {
        self.entry.as_deref()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            // A node that cannot delete its entry leaves a stale one behind; the next starter
            // finds its address dead and deletes it, so there is nothing better to do here.
            remove_quietly(&entry);
        }
    }
}

impl Discovery {
    /// `Local` under `std::env::temp_dir()/vertx-cluster/<cluster name, sanitised to
    /// [A-Za-z0-9._-], others replaced by '_', empty -> "default">`.
    pub(crate) fn local(cluster_name: &str) -> Discovery {
        Discovery::Local {
            dir: std::env::temp_dir()
                .join("vertx-cluster")
                .join(sanitise_cluster_name(cluster_name)),
        }
    }

    /// Decides bootstrap-or-join for a node whose listener is already bound at `own` (so others
    /// can connect to it), and registers it.
    pub(crate) fn start(&self, own: impl Into<Own>) -> io::Result<(Plan, Registration)> {
        let own = own.into();
        let addresses = match self {
            Discovery::Local { dir } => return start_local(dir, own),
            Discovery::Seeds(seeds) => resolve_seeds(seeds)?,
            Discovery::Dns { name, port } => resolve_dns(name, *port)?,
        };
        let plan = plan_from_seed_list(&addresses, own);
        match &plan {
            Plan::Bootstrap { probe } => log::info!(
                "discovery: {own} holds the smallest seed address: bootstrapping after probing {probe:?}"
            ),
            Plan::Join { candidates } => {
                log::info!("discovery: {own} joins through {candidates:?}");
            }
        }
        Ok((plan, Registration::without_entry()))
    }

    /// Addresses to try for joining right now (re-read/re-resolved on each call; excludes `own`), for retries.
    pub(crate) fn candidates(&self, own: impl Into<Own>) -> io::Result<Vec<SocketAddr>> {
        let own = own.into();
        let addresses = match self {
            Discovery::Local { dir } => return live_local_nodes(dir, own),
            Discovery::Seeds(seeds) => resolve_seeds(seeds)?,
            Discovery::Dns { name, port } => resolve_dns(name, *port)?,
        };
        Ok(addresses
            .into_iter()
            .filter(|&address| !is_own_address(address, own))
            .collect())
    }
}

/// Every character outside `[A-Za-z0-9._-]` becomes `_`, so a cluster name can never leave the
/// discovery directory; a name of dots only would still climb (`..`), so its dots become `_` too.
fn sanitise_cluster_name(cluster_name: &str) -> String {
    if cluster_name.is_empty() {
        return "default".to_owned();
    }
    if cluster_name.chars().all(|c| c == '.') {
        return "_".repeat(cluster_name.chars().count());
    }
    cluster_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Resolves each "host:port" seed, sorted and deduplicated; one that does not resolve is
/// skipped with a warning, so a seed host that is down does not stop the others from forming the
/// cluster.
fn resolve_seeds(seeds: &[String]) -> io::Result<Vec<SocketAddr>> {
    let mut addresses = Vec::new();
    for seed in seeds {
        match seed.to_socket_addrs() {
            Ok(resolved) => addresses.extend(resolved),
            Err(error) => log::warn!("discovery: skipping seed {seed:?}: {error}"),
        }
    }
    if addresses.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("discovery: none of the seeds {seeds:?} resolves to an address"),
        ));
    }
    addresses.sort_unstable();
    addresses.dedup();
    log::debug!("discovery: seeds {seeds:?} resolved to {addresses:?}");
    Ok(addresses)
}

/// Resolves the DNS name to every address it has, each with `port`, sorted and deduplicated.
fn resolve_dns(name: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let mut addresses: Vec<SocketAddr> = (name, port)
        .to_socket_addrs()
        .map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("discovery: cannot resolve {name:?}: {error}"),
            )
        })?
        .collect();
    if addresses.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("discovery: {name:?} resolves to no address"),
        ));
    }
    addresses.sort_unstable();
    addresses.dedup();
    log::debug!("discovery: {name:?} resolved to {addresses:?}");
    Ok(addresses)
}

/// The seed rule, evaluated identically on every node: the owner of the smallest address
/// bootstraps, every other node joins. `addresses` is sorted and non-empty.
fn plan_from_seed_list(addresses: &[SocketAddr], own: Own) -> Plan {
    let others: Vec<SocketAddr> = addresses
        .iter()
        .copied()
        .filter(|&address| !is_own_address(address, own))
        .collect();
    match addresses.first() {
        Some(&smallest) if is_own_address(smallest, own) => Plan::Bootstrap { probe: others },
        _ => Plan::Join { candidates: others },
    }
}

/// Where a node is: the address its listener is bound at, and the one the others reach it at
/// (they differ behind NAT or port forwarding, or when the listener is on a wildcard IP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Own {
    pub(crate) bound: SocketAddr,
    pub(crate) advertised: SocketAddr,
}

impl From<SocketAddr> for Own {
    fn from(address: SocketAddr) -> Own {
        Own {
            bound: address,
            advertised: address,
        }
    }
}

impl std::fmt::Display for Own {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.bound == self.advertised {
            write!(f, "{}", self.advertised)
        } else {
            write!(f, "{} (bound at {})", self.advertised, self.bound)
        }
    }
}

/// Whether `address` reaches this node: its advertised or bound address, or, for a listener on
/// an unspecified IP, any address of this host with the bound port.
fn is_own_address(address: SocketAddr, own: Own) -> bool {
    address == own.advertised
        || address == own.bound
        || (own.bound.ip().is_unspecified()
            && address.port() == own.bound.port()
            && is_local_ip(address))
}

/// Whether the IP of `address` belongs to this host. Routing a UDP socket to an address sends
/// nothing, and the kernel picks the destination itself as the source only when this host owns
/// it. Unlike binding to the address, this is not fooled by `ip_nonlocal_bind`, and when in doubt
/// it answers "not local", which makes a node join rather than bootstrap a second cluster.
fn is_local_ip(address: SocketAddr) -> bool {
    let ip = address.ip();
    if ip.is_loopback() || ip.is_unspecified() {
        return true;
    }
    let wildcard = match ip {
        IpAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        IpAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
    };
    // Port 0 cannot be connected to, and the port plays no part in choosing the source.
    let routed = SocketAddr::new(ip, address.port().max(1));
    UdpSocket::bind(wildcard)
        .and_then(|socket| {
            socket.connect(routed)?;
            socket.local_addr()
        })
        .is_ok_and(|source| source.ip() == ip)
}

/// The address other local nodes can connect to: a listener on an unspecified IP is reached
/// through loopback.
fn connectable_address(own: SocketAddr) -> SocketAddr {
    match own.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv4Addr::LOCALHOST, own.port()))
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv6Addr::LOCALHOST, own.port()))
        }
        _ => own,
    }
}

/// A live node accepts a TCP connection; a refused or timed-out connect means its entry is stale.
fn accepts_connections(address: SocketAddr) -> bool {
    TcpStream::connect_timeout(&address, LIVENESS_TIMEOUT).is_ok()
}

fn remove_quietly(path: &Path) {
    if let Err(error) = fs::remove_file(path) {
        if error.kind() != io::ErrorKind::NotFound {
            log::debug!("discovery: cannot remove {}: {error}", path.display());
        }
    }
}

fn start_local(dir: &Path, own: Own) -> io::Result<(Plan, Registration)> {
    secret::prepare_directory(dir)?;
    // Under the lock: the scan, and this node's entry after every entry scanned. Probing the
    // entries (a connect each) happens after the lock is released: with a hundred nodes starting
    // at once on a loaded host, probes under the lock serialised every start-up behind every
    // earlier starter's probes.
    let (scan, entry) = {
        let _lock = DirectoryLock::acquire(dir)?;
        let scan = scan_entries(dir)?;
        // Under the lock no other node is writing, so any temporary file is a crashed writer's.
        for path in scan.unusable.iter().chain(&scan.leftover_temporaries) {
            log::debug!("discovery: deleting unusable entry {}", path.display());
            remove_quietly(path);
        }
        let entry = write_entry(
            dir,
            scan.highest_sequence + 1,
            connectable_address(own.advertised),
        )?;
        (scan, entry)
    };

    let mut live = Vec::new();
    for entry in scan.entries {
        if is_own_address(entry.address, own) {
            // Our listener holds this address now, so the entry is a dead predecessor's; probing
            // it would only reach ourselves.
            log::debug!(
                "discovery: deleting {} left by a previous holder of {own}",
                entry.path.display()
            );
            remove_quietly(&entry.path);
        } else if live.contains(&entry.address) {
            // A duplicate address: the older entry already speaks for that listener.
        } else if accepts_connections(entry.address) {
            live.push(entry.address);
        } else {
            log::info!(
                "discovery: deleting stale entry of {} ({})",
                entry.address,
                entry.path.display()
            );
            remove_quietly(&entry.path);
        }
    }

    let plan = if live.is_empty() {
        log::info!(
            "discovery: no live node in {}: {own} bootstraps a new cluster",
            dir.display()
        );
        Plan::Bootstrap { probe: Vec::new() }
    } else {
        log::info!(
            "discovery: {own} joins through the live nodes {live:?} of {}",
            dir.display()
        );
        Plan::Join { candidates: live }
    };
    Ok((plan, Registration { entry: Some(entry) }))
}

/// The live nodes of `dir` other than `own`, oldest first. Reads without the lock: entries
/// appear by rename, so each one read is whole. Dead entries are skipped but not deleted here:
/// deleting is left to starting nodes.
fn live_local_nodes(dir: &Path, own: Own) -> io::Result<Vec<SocketAddr>> {
    let mut live = Vec::new();
    for entry in scan_entries(dir)?.entries {
        if !is_own_address(entry.address, own)
            && !live.contains(&entry.address)
            && accepts_connections(entry.address)
        {
            live.push(entry.address);
        }
    }
    Ok(live)
}

/// The exclusive start-up lock on `<dir>/.lock`, released on drop. `File::lock` is `flock` on
/// Unix and `LockFileEx` on Windows: both exclude every other open handle of the file, including
/// handles of the same process, so no in-process mutex is needed (a test pins this down).
struct DirectoryLock {
    file: File,
}

impl DirectoryLock {
    fn acquire(dir: &Path) -> io::Result<DirectoryLock> {
        let path = dir.join(LOCK_FILE_NAME);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        file.lock().map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot lock {}: {error}", path.display()),
            )
        })?;
        Ok(DirectoryLock { file })
    }
}

impl Drop for DirectoryLock {
    fn drop(&mut self) {
        // Closing the file releases the lock anyway; unlocking first just says so explicitly.
        let _ = self.file.unlock();
    }
}

/// One readable entry file.
#[derive(Debug)]
struct Entry {
    path: PathBuf,
    address: SocketAddr,
}

/// What a directory holds, entries oldest first.
#[derive(Debug, Default)]
struct EntryScan {
    entries: Vec<Entry>,
    /// `*.node` files that cannot be read or do not hold an address.
    unusable: Vec<PathBuf>,
    leftover_temporaries: Vec<PathBuf>,
    /// The largest sequence number in any entry file name; 0 if none.
    highest_sequence: u64,
}

/// Reads every entry file of `dir`. Entries come oldest first (by the sequence number in their
/// names, which each starter takes under the lock), so a joiner tries the node most likely to be
/// a member already, the bootstrapper, first.
fn scan_entries(dir: &Path) -> io::Result<EntryScan> {
    let mut scan = EntryScan::default();
    let mut sequenced = Vec::new();
    for dir_entry in fs::read_dir(dir)? {
        let path = dir_entry?.path();
        let extension = path.extension().and_then(|extension| extension.to_str());
        if extension == Some(TEMPORARY_EXTENSION) {
            scan.leftover_temporaries.push(path);
            continue;
        }
        if extension != Some(ENTRY_EXTENSION) {
            continue;
        }
        let sequence = entry_sequence(&path);
        scan.highest_sequence = scan.highest_sequence.max(sequence.unwrap_or(0));
        let address = fs::read_to_string(&path)
            .ok()
            .and_then(|text| text.trim().parse::<SocketAddr>().ok());
        match address {
            Some(address) => {
                sequenced.push((sequence.unwrap_or(u64::MAX), Entry { path, address }));
            }
            None => scan.unusable.push(path),
        }
    }
    sequenced.sort_by(|(a_sequence, a), (b_sequence, b)| {
        a_sequence.cmp(b_sequence).then_with(|| a.path.cmp(&b.path))
    });
    scan.entries = sequenced.into_iter().map(|(_, entry)| entry).collect();
    Ok(scan)
}

/// The sequence number leading an entry file name `<sequence>-<pid>-<port>.node`, if any.
fn entry_sequence(path: &Path) -> Option<u64> {
    let stem = path.file_stem()?.to_str()?;
    stem.split('-').next()?.parse().ok()
}

/// Writes this node's entry under a temporary name, then renames it into place, so a reader
/// sees either no entry or the whole address.
fn write_entry(dir: &Path, sequence: u64, address: SocketAddr) -> io::Result<PathBuf> {
    let stem = format!("{sequence:020}-{}-{}", std::process::id(), address.port());
    let temporary = dir.join(format!(".{stem}.{TEMPORARY_EXTENSION}"));
    let entry = dir.join(format!("{stem}.{ENTRY_EXTENSION}"));
    let written = File::create(&temporary)
        .and_then(|mut file| file.write_all(format!("{address}\n").as_bytes()))
        .and_then(|()| fs::rename(&temporary, &entry));
    if let Err(error) = written {
        remove_quietly(&temporary);
        return Err(io::Error::new(
            error.kind(),
            format!("cannot write discovery entry {}: {error}", entry.display()),
        ));
    }
    log::debug!("discovery: registered {address} as {}", entry.display());
    Ok(entry)
}

mod secret;
#[cfg(test)]
mod tests;

pub(crate) use secret::local_secret;
