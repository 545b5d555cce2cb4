//! Golden vectors of the two values that cross JNI besides frames: a node's settings
//! (`NodeOptions::encode_settings`, what Java's `BopNodeSettings` must write byte for byte) and its
//! status (`NodeStatus::encode`, what Java's `BopNodeStatus` reads). Files live in
//! `tests/vectors/jni/`; `VERTX_CLUSTER_UPDATE_VECTORS=1` rewrites them after an intended change.
//! The Java test builds the same values and compares.

use std::path::PathBuf;
use std::time::Duration;

use vertx_cluster::node::{DiscoveryMode, NodeOptions, NodeStatus, TransportStats};
use vertx_cluster::raft::ReplicaStats;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/jni")
}

/// Every setting at a value of its own, so a field written out of order shows.
fn seeds_with_secret() -> NodeOptions {
    let mut o = NodeOptions::new("orders-Zürich");
    o.node_id = "0b7e5b8e-1f0a-4c3b-9d2e-6a5f4e3d2c1b".into();
    o.host = "10.0.0.7".into();
    o.port = 5701;
    o.public_host = "203.0.113.7".into();
    o.public_port = 15701;
    o.discovery = DiscoveryMode::Seeds(vec!["10.0.0.7:5701".into(), "10.0.0.8:5701".into()]);
    o.failure_timeout = Duration::from_millis(15_000);
    o.ping_interval = Duration::from_millis(5_000);
    o.tick = Duration::from_millis(30);
    o.voters = 5;
    o.request_timeout = Duration::from_millis(12_000);
    o.join_timeout = Duration::from_millis(45_000);
    o.max_frame_size = 8 * 1024 * 1024;
    o.secret = Some(b"0123456789abcdef-secret".to_vec());
    o.insecure = false;
    o.failure_domain = "zone-eu-1b".into();
    o
}

fn dns_insecure() -> NodeOptions {
    let mut o = NodeOptions::new("k8s");
    o.node_id = "n".into();
    o.host = "0.0.0.0".into();
    o.port = 7000;
    o.discovery = DiscoveryMode::Dns {
        name: "members.default.svc.cluster.local".into(),
        port: 7000,
    };
    o.insecure = true;
    o
}

fn local_defaults() -> NodeOptions {
    let mut o = NodeOptions::new("vertx-bop");
    o.node_id = "local".into();
    o
}

fn status() -> NodeStatus {
    NodeStatus {
        address: "127.0.0.1:41234".into(),
        leader: true,
        members: vec!["a".into(), "b".into(), "c".into()],
        voters: 3,
        transport: TransportStats {
            frames_sent: 1,
            frames_received: 2,
            malformed_frames: 3,
            refused_backpressure: 4,
            connects: 5,
            connect_failures: 6,
            handshakes_accepted: 7,
            handshakes_refused: 8,
            handshakes_timed_out: 9,
            handshakes_failed: 10,
            connections_over_limit: 11,
            records_rejected: u64::MAX,
            messages_refused: 12,
        },
        raft_id: 2,
        raft: ReplicaStats {
            term: 7,
            commit_index: 1200,
            applied_index: 1199,
            leader_raft_id: 2,
            ms_without_leader: 0,
            log_bytes: 65536,
        },
        inbound_connections: 2,
        outbound_connections: 2,
    }
}

fn vectors() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "settings_seeds_secret.bin",
            seeds_with_secret().encode_settings(),
        ),
        (
            "settings_dns_insecure.bin",
            dns_insecure().encode_settings(),
        ),
        (
            "settings_local_defaults.bin",
            local_defaults().encode_settings(),
        ),
        ("status.bin", status().encode()),
    ]
}

#[test]
fn jni_values_match_the_checked_in_files() {
    let update = std::env::var_os("VERTX_CLUSTER_UPDATE_VECTORS").is_some();
    std::fs::create_dir_all(dir()).unwrap();
    for (file, bytes) in vectors() {
        let path = dir().join(file);
        if update {
            std::fs::write(&path, &bytes).unwrap();
            continue;
        }
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; regenerate with VERTX_CLUSTER_UPDATE_VECTORS=1 cargo test --test golden_jni",
                path.display()
            )
        });
        assert_eq!(
            on_disk, bytes,
            "{file} differs from what the encoder writes"
        );
    }
}

#[test]
fn settings_decode_to_what_was_encoded() {
    for options in [seeds_with_secret(), dns_insecure(), local_defaults()] {
        let decoded = NodeOptions::decode_settings(&options.encode_settings()).unwrap();
        assert_eq!(decoded.encode_settings(), options.encode_settings());
        assert_eq!(decoded.discovery, options.discovery);
        assert_eq!(decoded.secret, options.secret);
    }
}

#[test]
fn malformed_or_out_of_range_settings_name_the_problem() {
    let good = seeds_with_secret().encode_settings();
    let mut wrong_version = good.clone();
    wrong_version[0] = 9;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (wrong_version, "layout 9"),
        (good[..good.len() - 1].to_vec(), "failure_domain"),
        ([good.clone(), vec![0]].concat(), "unexpected bytes"),
        (
            {
                let mut o = seeds_with_secret();
                o.tick = Duration::ZERO;
                o.encode_settings()
            },
            "tick",
        ),
        (
            {
                let mut o = seeds_with_secret();
                o.voters = 0;
                o.encode_settings()
            },
            "voters",
        ),
        (
            {
                let mut o = seeds_with_secret();
                o.max_frame_size = 100;
                o.encode_settings()
            },
            "max frame size",
        ),
    ];
    for (bytes, named) in cases {
        let error = NodeOptions::decode_settings(&bytes).err().expect("refused");
        assert!(
            error.to_string().contains(named),
            "{error} should name {named}"
        );
    }
}
