use super::*;
use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh directory per test, removed when the test ends, even by a panic.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(test: &str) -> ScratchDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "vertx-cluster-discovery-test-{}-{}-{test}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
        ));
        ScratchDir(path)
    }

    fn discovery(&self) -> Discovery {
        Discovery::Local {
            dir: self.0.clone(),
        }
    }

    fn node_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(&self.0)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| {
                path.extension()
                    .is_some_and(|extension| extension == "node")
            })
            .collect();
        files.sort();
        files
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn bound_listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    (listener, address)
}

/// An address that refuses connections: a port that was just bound and released.
fn dead_address() -> SocketAddr {
    bound_listener().1
}

fn address(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn seeds(list: &[&str]) -> Discovery {
    Discovery::Seeds(list.iter().map(ToString::to_string).collect())
}

#[test]
fn first_node_bootstraps_and_second_joins_it() {
    let scratch = ScratchDir::new("first-second");
    let discovery = scratch.discovery();
    let (_first_listener, first) = bound_listener();
    let (_second_listener, second) = bound_listener();

    let (first_plan, _first_registration) = discovery.start(first).unwrap();
    assert_eq!(first_plan, Plan::Bootstrap { probe: vec![] });
    let (second_plan, _second_registration) = discovery.start(second).unwrap();
    assert_eq!(
        second_plan,
        Plan::Join {
            candidates: vec![first]
        }
    );

    assert_eq!(discovery.candidates(second).unwrap(), vec![first]);
    assert_eq!(discovery.candidates(first).unwrap(), vec![second]);
    assert_eq!(scratch.node_files().len(), 2);
}

#[test]
fn nodes_started_at_the_same_moment_form_one_cluster() {
    const NODES: usize = 8;
    let scratch = ScratchDir::new("simultaneous");
    let barrier = Arc::new(Barrier::new(NODES));
    let (results, received) = mpsc::channel();
    for _ in 0..NODES {
        let discovery = scratch.discovery();
        let barrier = Arc::clone(&barrier);
        let results = results.clone();
        std::thread::spawn(move || {
            let (listener, own) = bound_listener();
            barrier.wait();
            let started = discovery.start(own);
            // The listener and registration travel with the result, so every node stays
            // live until the test has checked all of them.
            let _ = results.send((own, started, listener));
        });
    }
    let mut nodes = Vec::new();
    for _ in 0..NODES {
        let (own, started, listener) = received.recv_timeout(Duration::from_secs(20)).unwrap();
        let (plan, registration) = started.unwrap();
        nodes.push((own, plan, registration, listener));
    }

    let addresses: HashSet<SocketAddr> = nodes.iter().map(|node| node.0).collect();
    let bootstrappers: Vec<SocketAddr> = nodes
        .iter()
        .filter(|node| matches!(node.1, Plan::Bootstrap { .. }))
        .map(|node| node.0)
        .collect();
    assert_eq!(
        bootstrappers.len(),
        1,
        "exactly one node bootstraps: {nodes:?}"
    );
    let bootstrapper = bootstrappers[0];
    for (own, plan, _, _) in &nodes {
        match plan {
            Plan::Bootstrap { probe } => assert!(probe.is_empty()),
            Plan::Join { candidates } => {
                assert_eq!(candidates[0], bootstrapper, "the oldest entry comes first");
                assert!(!candidates.contains(own));
                assert!(candidates
                    .iter()
                    .all(|candidate| addresses.contains(candidate)));
            }
        }
    }
    assert_eq!(scratch.node_files().len(), NODES);
    drop(nodes);
    assert!(
        scratch.node_files().is_empty(),
        "every registration removed its entry"
    );
}

#[test]
fn stale_and_unusable_entries_are_ignored_and_deleted() {
    let scratch = ScratchDir::new("stale");
    let discovery = scratch.discovery();
    fs::create_dir_all(&scratch.0).unwrap();
    let (_listener, own) = bound_listener();
    let stale = scratch.0.join("00000000000000000001-1-1.node");
    fs::write(&stale, format!("{}\n", dead_address())).unwrap();
    let garbage = scratch.0.join("garbage.node");
    fs::write(&garbage, "not an address\n").unwrap();
    let previous_holder_of_own = scratch.0.join("00000000000000000002-2-2.node");
    fs::write(&previous_holder_of_own, format!("{own}\n")).unwrap();
    let half_written = scratch.0.join(".00000000000000000003-3-3.tmp");
    fs::write(&half_written, "127.0.0.1:").unwrap();

    let (plan, registration) = discovery.start(own).unwrap();

    assert_eq!(plan, Plan::Bootstrap { probe: vec![] });
    for path in [&stale, &garbage, &previous_holder_of_own, &half_written] {
        assert!(!path.exists(), "{} is deleted", path.display());
    }
    assert_eq!(
        scratch.node_files(),
        vec![registration.entry_path().unwrap().to_path_buf()]
    );
    assert!(registration.entry_path().unwrap().ends_with(format!(
        "00000000000000000003-{}-{}.node",
        std::process::id(),
        own.port()
    )));
}

#[test]
fn candidates_lists_only_live_nodes_other_than_itself() {
    let scratch = ScratchDir::new("candidates");
    let discovery = scratch.discovery();
    let (_first_listener, first) = bound_listener();
    let (second_listener, second) = bound_listener();
    let (_third_listener, third) = bound_listener();
    let _first_registration = discovery.start(first).unwrap().1;
    let _second_registration = discovery.start(second).unwrap().1;
    let _third_registration = discovery.start(third).unwrap().1;

    assert_eq!(discovery.candidates(third).unwrap(), vec![first, second]);
    drop(second_listener);
    assert_eq!(discovery.candidates(third).unwrap(), vec![first]);
}

#[test]
fn dropping_registration_removes_the_entry() {
    let scratch = ScratchDir::new("drop");
    let (_listener, own) = bound_listener();
    let (_, registration) = scratch.discovery().start(own).unwrap();
    let entry = registration.entry_path().unwrap().to_path_buf();
    assert_eq!(fs::read_to_string(&entry).unwrap(), format!("{own}\n"));

    drop(registration);

    assert!(!entry.exists());
    assert!(scratch.node_files().is_empty());
}

#[test]
fn unspecified_own_ip_registers_a_loopback_address() {
    let scratch = ScratchDir::new("unspecified-local");
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let own = listener.local_addr().unwrap();
    let (_, registration) = scratch.discovery().start(own).unwrap();
    let registered = fs::read_to_string(registration.entry_path().unwrap()).unwrap();
    assert_eq!(registered, format!("127.0.0.1:{}\n", own.port()));

    let (_other_listener, other) = bound_listener();
    let (plan, _other_registration) = scratch.discovery().start(other).unwrap();
    assert_eq!(
        plan,
        Plan::Join {
            candidates: vec![address(registered.trim())]
        }
    );
}

#[test]
fn start_up_lock_excludes_other_handles_in_the_same_process() {
    let scratch = ScratchDir::new("lock");
    fs::create_dir_all(&scratch.0).unwrap();
    let held = DirectoryLock::acquire(&scratch.0).unwrap();
    let other_handle = File::options()
        .read(true)
        .write(true)
        .open(scratch.0.join(LOCK_FILE_NAME))
        .unwrap();
    assert!(
        matches!(other_handle.try_lock(), Err(fs::TryLockError::WouldBlock)),
        "a second handle in the same process must not get the lock while it is held"
    );
    drop(held);
    other_handle.try_lock().unwrap();
}

#[test]
fn cluster_name_is_sanitised_into_one_directory_level() {
    let base = std::env::temp_dir().join("vertx-cluster");
    let dir_of = |name: &str| match Discovery::local(name) {
        Discovery::Local { dir } => dir,
        other => panic!("not local: {other:?}"),
    };
    assert_eq!(dir_of(""), base.join("default"));
    assert_eq!(dir_of("orders-v2.prod_eu"), base.join("orders-v2.prod_eu"));
    assert_eq!(dir_of("a/b c:é"), base.join("a_b_c__"));
    assert_eq!(dir_of(".."), base.join("__"));
}

#[test]
fn smallest_seed_bootstraps_with_the_others_as_probe() {
    let discovery = seeds(&[
        "127.0.0.1:7003",
        "127.0.0.1:7001",
        "127.0.0.1:7002",
        "127.0.0.1:7001",
    ]);
    let (plan, registration) = discovery.start(address("127.0.0.1:7001")).unwrap();
    assert_eq!(
        plan,
        Plan::Bootstrap {
            probe: vec![address("127.0.0.1:7002"), address("127.0.0.1:7003")]
        }
    );
    assert!(registration.entry_path().is_none());
}

#[test]
fn other_seeds_and_non_seeds_join_the_rest() {
    let discovery = seeds(&["127.0.0.1:7003", "127.0.0.1:7001", "127.0.0.1:7002"]);
    let (plan, _) = discovery.start(address("127.0.0.1:7002")).unwrap();
    assert_eq!(
        plan,
        Plan::Join {
            candidates: vec![address("127.0.0.1:7001"), address("127.0.0.1:7003")]
        }
    );
    let (plan, _) = discovery.start(address("127.0.0.1:7009")).unwrap();
    assert_eq!(
        plan,
        Plan::Join {
            candidates: vec![
                address("127.0.0.1:7001"),
                address("127.0.0.1:7002"),
                address("127.0.0.1:7003")
            ]
        }
    );
    assert_eq!(
        discovery.candidates(address("127.0.0.1:7003")).unwrap(),
        vec![address("127.0.0.1:7001"), address("127.0.0.1:7002")]
    );
}

#[test]
fn unspecified_own_ip_matches_this_hosts_addresses_with_the_same_port() {
    let discovery = seeds(&["127.0.0.1:7001", "127.0.0.1:7002"]);
    let (plan, _) = discovery.start(address("0.0.0.0:7001")).unwrap();
    assert_eq!(
        plan,
        Plan::Bootstrap {
            probe: vec![address("127.0.0.1:7002")]
        }
    );
    let (plan, _) = discovery.start(address("0.0.0.0:7002")).unwrap();
    assert_eq!(
        plan,
        Plan::Join {
            candidates: vec![address("127.0.0.1:7001")]
        }
    );
    assert_eq!(
        discovery.candidates(address("[::]:7002")).unwrap(),
        vec![address("127.0.0.1:7001")]
    );

    // The host's own non-loopback address, if it has a route out (no packet is sent).
    let probe = UdpSocket::bind("0.0.0.0:0").unwrap();
    if probe.connect("198.51.100.1:9").is_ok() {
        let host_ip = probe.local_addr().unwrap().ip();
        assert!(is_own_address(
            SocketAddr::new(host_ip, 7001),
            address("0.0.0.0:7001").into()
        ));
        assert!(!is_own_address(
            SocketAddr::new(host_ip, 7002),
            address("0.0.0.0:7001").into()
        ));
    }
}

#[test]
fn unspecified_own_ip_never_matches_another_hosts_address() {
    // Every pod of a headless service listens on 0.0.0.0 with the same port: matching the
    // port alone would make each of them bootstrap its own cluster.
    let discovery = seeds(&["198.51.100.7:7001", "203.0.113.9:7001"]);
    let (plan, _) = discovery.start(address("0.0.0.0:7001")).unwrap();
    assert_eq!(
        plan,
        Plan::Join {
            candidates: vec![address("198.51.100.7:7001"), address("203.0.113.9:7001")]
        }
    );
}

#[test]
fn the_advertised_address_is_own_where_it_differs_from_the_bound_one() {
    // Behind NAT or port forwarding the seeds list the addresses the others reach, not the
    // address the listener is bound at.
    let discovery = seeds(&["198.51.100.7:7001", "203.0.113.9:7001"]);
    let behind_nat = Own {
        bound: address("127.0.0.1:5701"),
        advertised: address("198.51.100.7:7001"),
    };
    let (plan, _) = discovery.start(behind_nat).unwrap();
    assert_eq!(
        plan,
        Plan::Bootstrap {
            probe: vec![address("203.0.113.9:7001")]
        }
    );
    assert_eq!(
        discovery.candidates(behind_nat).unwrap(),
        vec![address("203.0.113.9:7001")]
    );
    assert_eq!(
        behind_nat.to_string(),
        "198.51.100.7:7001 (bound at 127.0.0.1:5701)"
    );
}

#[test]
fn unresolvable_seeds_are_skipped_and_none_resolving_is_an_error() {
    let discovery = seeds(&["missing-port", "127.0.0.1:notaport", "127.0.0.1:7002"]);
    let (plan, _) = discovery.start(address("127.0.0.1:7002")).unwrap();
    assert_eq!(plan, Plan::Bootstrap { probe: vec![] });

    let discovery = seeds(&["missing-port", "127.0.0.1:notaport"]);
    let error = discovery.start(address("127.0.0.1:7002")).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
    assert!(error.to_string().contains("missing-port"), "{error}");
    assert!(discovery.candidates(address("127.0.0.1:7002")).is_err());
    assert!(seeds(&[]).start(address("127.0.0.1:7002")).is_err());
}

#[test]
fn dns_name_addresses_all_use_the_given_port() {
    let discovery = Discovery::Dns {
        name: "localhost".to_owned(),
        port: 7001,
    };
    let (plan, _) = discovery.start(address("127.0.0.1:7001")).unwrap();
    match plan {
        Plan::Bootstrap { probe } => {
            assert!(probe
                .iter()
                .all(|a| a.port() == 7001 && a.ip().is_loopback()))
        }
        other => panic!("127.0.0.1 is the smallest address of localhost: {other:?}"),
    }
    let (plan, _) = discovery.start(address("127.0.0.1:7002")).unwrap();
    match plan {
        Plan::Join { candidates } => assert!(candidates.contains(&address("127.0.0.1:7001"))),
        other => panic!("a non-member joins: {other:?}"),
    }
}
