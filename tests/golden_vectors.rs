//! Golden vectors: a fixed list of named frames whose encoded bytes are checked in under
//! `tests/vectors/`, so the byte layout cannot drift silently and a second codec (the Java one)
//! can be held to exactly the same bytes.
//!
//! Normal mode compares: every vector must encode to the bytes of `tests/vectors/<name>.bin`,
//! every file must decode back to its vector, and `tests/vectors/manifest.json` must equal the
//! manifest built from the list. With `VERTX_CLUSTER_UPDATE_VECTORS=1` the test rewrites the
//! files and the manifest instead (and removes `.bin` files no vector names).
//!
//! To add a vector, add one line to [`vectors`] and regenerate. The manifest's field map comes
//! from `describe` (in `golden_vectors/manifest.rs`), which matches every variant, so any message
//! can be used.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use vertx_cluster::wire::{
    error_code, FramedMessage, MapEntry, Message, MessageFlags, Proposal, RegistrationInfo,
    DEFAULT_MAX_FRAME_SIZE,
};

#[path = "golden_vectors/manifest.rs"]
mod manifest;

use manifest::{hex, manifest};

const UPDATE_ENV: &str = "VERTX_CLUSTER_UPDATE_VECTORS";
const REGENERATE: &str = "VERTX_CLUSTER_UPDATE_VECTORS=1 cargo test --test golden_vectors";

// ---------------------------------------------------------------------------------------------
// The vectors
// ---------------------------------------------------------------------------------------------

struct Vector {
    name: &'static str,
    frame: FramedMessage<Message>,
}

fn v(name: &'static str, flags: MessageFlags, request_id: u32, payload: Message) -> Vector {
    Vector {
        name,
        frame: FramedMessage::new(flags, request_id, payload),
    }
}

const NONE: MessageFlags = MessageFlags::NONE;
const REQ: MessageFlags = MessageFlags::REQUEST;
const RESP: MessageFlags = MessageFlags::RESPONSE;
const PING: MessageFlags = MessageFlags::PING;
const PONG: MessageFlags = MessageFlags::PONG;
/// A flag bit this build does not define; it must be carried through untouched.
const UNKNOWN_HIGH: MessageFlags = MessageFlags(0x80);
const ALL_BITS: MessageFlags = MessageFlags(0xff);

/// Two-, three- and four-byte UTF-8 sequences (the last is a surrogate pair in UTF-16).
const UNICODE: &str = "Zürich-ノード-🦀";
/// Every JSON escape the manifest needs, a NUL and non-ASCII text.
const ESCAPES: &str = "quote \" backslash \\ newline \n tab \t nul \u{0} del \u{7f} ü ノード 🦀";

fn s(text: &str) -> String {
    text.to_owned()
}

fn b(bytes: &[u8]) -> Vec<u8> {
    bytes.to_vec()
}

/// Every byte value, 0x00 to 0xff in order.
fn all_bytes() -> Vec<u8> {
    (0..=255u8).collect()
}

fn reg(node_id: &str, seq: u64, local_only: bool) -> RegistrationInfo {
    RegistrationInfo {
        node_id: s(node_id),
        seq,
        local_only,
    }
}

fn entry(key: &[u8], value: &[u8]) -> MapEntry {
    MapEntry {
        key: b(key),
        value: b(value),
    }
}

/// The list. One vector per line on purpose: it reads as a table, so rustfmt leaves it alone.
#[rustfmt::skip]
fn vectors() -> Vec<Vector> {
    use Message as M;
    vec![
        // ---- transport and errors ----
        v("ping_zero", PING, 0, M::Ping { sent_at_micros: 0 }),
        v("ping_max", REQ | PING, u32::MAX, M::Ping { sent_at_micros: u64::MAX }),
        v("pong", RESP | PONG, 1, M::Pong { sent_at_micros: 1_732_000_000_123_456 }),
        v("error_response_empty_message", RESP, 7, M::ErrorResponse { code: error_code::MALFORMED, message: s("") }),
        v("error_response_escapes", RESP | UNKNOWN_HIGH, u32::MAX, M::ErrorResponse { code: u16::MAX, message: s(ESCAPES) }),
        v("error_response_no_quorum", RESP, 1, M::ErrorResponse { code: error_code::NO_QUORUM, message: s("no quorum") }),
        // ---- membership and node info ----
        v("join_request", REQ, 1, M::JoinRequest { node_id: s("node-1") }),
        v("join_request_unicode", REQ, 2, M::JoinRequest { node_id: s(UNICODE) }),
        v("join_response", RESP, 2, M::JoinResponse { members: vec![s("node-1"), s(""), s(UNICODE)] }),
        v("leave_request_empty_node_id", REQ, 0, M::LeaveRequest { node_id: s("") }),
        v("leave_response", RESP, 3, M::LeaveResponse { was_member: true }),
        v("node_list_request_no_flags", NONE, 4, M::NodeListRequest {}),
        v("node_list_response_empty", RESP, 4, M::NodeListResponse { nodes: vec![] }),
        v("set_node_info_request_all_bytes", REQ, 5, M::SetNodeInfoRequest { node_id: s("node-1"), info: all_bytes() }),
        v("set_node_info_response", RESP, 5, M::SetNodeInfoResponse {}),
        v("get_node_info_request", REQ, 6, M::GetNodeInfoRequest { node_id: s("node-2") }),
        v("get_node_info_response_none", RESP, 6, M::GetNodeInfoResponse { info: None }),
        v("get_node_info_response_some_empty", RESP, 6, M::GetNodeInfoResponse { info: Some(vec![]) }),
        // ---- event-bus registrations ----
        v("add_registration_request", REQ, 10, M::AddRegistrationRequest { address: s("__vertx.reply.1"), registration: reg("node-1", u64::MAX, true) }),
        v("remove_registration_request", REQ, 11, M::RemoveRegistrationRequest { address: s(""), registration: reg(UNICODE, 0, false) }),
        v("remove_registration_response", RESP, 11, M::RemoveRegistrationResponse { removed: false }),
        v("get_registrations_request", REQ, 12, M::GetRegistrationsRequest { address: s("news.feed") }),
        v("get_registrations_response", RESP, 12, M::GetRegistrationsResponse { registrations: vec![reg("node-1", 0, false), reg("node-1", 1, true), reg("", u64::MAX, false)] }),
        v("get_registrations_response_empty", RESP, 12, M::GetRegistrationsResponse { registrations: vec![] }),
        // ---- async maps ----
        v("create_map_request", REQ, 20, M::CreateMapRequest { name: s("__vertx.subs") }),
        v("map_get_request_empty_key", REQ, 21, M::MapGetRequest { map_name: s("m"), key: vec![] }),
        v("map_get_response_some", RESP, 21, M::MapGetResponse { value: Some(b(&[0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff])) }),
        v("map_put_request_all_bytes", REQ, 22, M::MapPutRequest { map_name: s("m"), key: b(b"key"), value: all_bytes() }),
        v("map_put_response_all_flag_bits", ALL_BITS, 22, M::MapPutResponse {}),
        v("map_put_ttl_request", REQ, 23, M::MapPutTtlRequest { map_name: s("m"), key: b(b"k"), value: b(b"v"), ttl_ms: 30_000 }),
        v("map_put_if_absent_request", REQ, 24, M::MapPutIfAbsentRequest { map_name: s(UNICODE), key: b("ключ".as_bytes()), value: vec![] }),
        v("map_put_if_absent_response_none", RESP, 24, M::MapPutIfAbsentResponse { previous: None }),
        v("map_put_if_absent_ttl_request", REQ, 25, M::MapPutIfAbsentTtlRequest { map_name: s("m"), key: b(&[0]), value: b(&[0xff]), ttl_ms: u64::MAX }),
        v("map_remove_request", REQ, 26, M::MapRemoveRequest { map_name: s("m"), key: b(b"k") }),
        v("map_remove_response_some_empty", RESP, 26, M::MapRemoveResponse { previous: Some(vec![]) }),
        v("map_remove_if_present_request", REQ, 27, M::MapRemoveIfPresentRequest { map_name: s("m"), key: b(b"k"), value: b(b"v") }),
        v("map_replace_request", REQ, 28, M::MapReplaceRequest { map_name: s("m"), key: b(b"k"), value: b(b"new") }),
        v("map_replace_ttl_request_zero_ttl", REQ, 29, M::MapReplaceTtlRequest { map_name: s("m"), key: b(b"k"), value: b(b"v"), ttl_ms: 0 }),
        v("map_replace_if_present_request", REQ, 30, M::MapReplaceIfPresentRequest { map_name: s("m"), key: b(b"k"), old_value: vec![], new_value: b(&[1, 2, 3]) }),
        v("map_replace_if_present_ttl_request", REQ, 31, M::MapReplaceIfPresentTtlRequest { map_name: s("m"), key: b(b"k"), old_value: b(b"old"), new_value: b(b"new"), ttl_ms: 1 }),
        v("map_replace_if_present_response", RESP, 31, M::MapReplaceIfPresentResponse { replaced: true }),
        v("map_clear_request_empty_name", REQ, 32, M::MapClearRequest { map_name: s("") }),
        v("map_size_request", REQ, 33, M::MapSizeRequest { map_name: s("m") }),
        v("map_size_response", RESP, 33, M::MapSizeResponse { size: 3 }),
        v("map_keys_request", REQ, 34, M::MapKeysRequest { map_name: s("m") }),
        v("map_keys_response", RESP, 34, M::MapKeysResponse { keys: vec![vec![], b(&[0x00]), b(&[0xff, 0xfe])] }),
        v("map_values_request", REQ, 35, M::MapValuesRequest { map_name: s("m") }),
        v("map_values_response_empty", RESP, 35, M::MapValuesResponse { values: vec![] }),
        v("map_entries_request", REQ, 36, M::MapEntriesRequest { map_name: s("m") }),
        v("map_entries_response", RESP, 36, M::MapEntriesResponse { entries: vec![entry(b"", b""), entry(b"k", &all_bytes())] }),
        v("expire_request", REQ, 0, M::ExpireRequest {}),
        v("expire_response", RESP, 0, M::ExpireResponse { expired_entries: 3, expired_waits: u64::MAX }),
        // ---- sets ----
        v("create_set_request", REQ, 40, M::CreateSetRequest { name: s("s") }),
        v("set_add_request_empty_value", REQ, 41, M::SetAddRequest { set_name: s("s"), value: vec![] }),
        v("set_contains_response", RESP, 42, M::SetContainsResponse { contains: false }),
        v("set_members_response", RESP, 43, M::SetMembersResponse { members: vec![b(&[0x00]), b(&[0xff]), b(b"member")] }),
        // ---- counters ----
        v("create_counter_response_zero", RESP, 50, M::CreateCounterResponse { value: 0 }),
        v("counter_get_response_min", RESP, 51, M::CounterGetResponse { value: i64::MIN }),
        v("counter_add_and_get_request_minus_one", REQ, 52, M::CounterAddAndGetRequest { counter_name: s("c"), delta: -1 }),
        v("counter_add_and_get_response_max", RESP, 52, M::CounterAddAndGetResponse { value: i64::MAX }),
        v("counter_get_and_add_request_min", REQ, 53, M::CounterGetAndAddRequest { counter_name: s(UNICODE), delta: i64::MIN }),
        v("counter_get_and_add_response_negative", RESP, 53, M::CounterGetAndAddResponse { value: -42 }),
        v("counter_compare_and_set_request", REQ, 54, M::CounterCompareAndSetRequest { counter_name: s("c"), expected: i64::MIN, value: i64::MAX }),
        v("counter_compare_and_set_response", RESP, 54, M::CounterCompareAndSetResponse { swapped: true }),
        // ---- locks ----
        v("lock_acquire_request", REQ, 60, M::LockAcquireRequest { lock_name: s("lock") }),
        v("lock_acquire_response_granted", RESP, 60, M::LockAcquireResponse { granted: true, fencing_token: 1 }),
        v("lock_acquire_timeout_request_zero", REQ, 61, M::LockAcquireTimeoutRequest { lock_name: s("lock"), timeout_ms: 0 }),
        v("lock_acquire_timeout_response_queued", RESP, 61, M::LockAcquireTimeoutResponse { granted: false, fencing_token: u64::MAX }),
        v("lock_release_request_unknown_flag", REQ | UNKNOWN_HIGH, 62, M::LockReleaseRequest { lock_name: s("lock") }),
        v("lock_cancel_request", REQ, 63, M::LockCancelRequest { lock_name: s("lock"), acquire_request_id: u32::MAX }),
        v("lock_cancel_response_both_flags", REQ | RESP, 63, M::LockCancelResponse { cancelled: true }),
        // ---- sync maps ----
        v("sync_map_put_request", REQ, 70, M::SyncMapPutRequest { map_name: s("__vertx.haInfo"), key: b(UNICODE.as_bytes()), value: all_bytes() }),
        v("sync_map_get_response_none", RESP, 71, M::SyncMapGetResponse { value: None }),
        v("sync_map_contains_response", RESP, 72, M::SyncMapContainsResponse { contains: true }),
        v("sync_map_entries_response", RESP, 73, M::SyncMapEntriesResponse { entries: vec![entry(b"node-1", b"{\"verticles\":[]}"), entry(&[0xff], &[])] }),
        // ---- between nodes ----
        v("raft_message", NONE, 0, M::RaftMessage { from_address: s("127.0.0.1:5701"), data: all_bytes() }),
        v("add_member_request", REQ, 80, M::AddMemberRequest { node_id: s("node-2"), address: s("127.0.0.2:5702"), domain: s("host-b/4242") }),
        v("add_member_response", RESP, 80, M::AddMemberResponse { raft_id: 2 }),
        v("cluster_join_request", REQ, 81, M::ClusterJoinRequest { node_id: s(UNICODE), address: s("[::1]:5703"), domain: s("") }),
        v("cluster_join_response", RESP, 81, M::ClusterJoinResponse { raft_id: u64::MAX }),
        v("forward_proposals", NONE, 0, M::ForwardProposals { proposals: vec![
            Proposal { origin: s("node-1"), request_id: 7, settled_below: 5, kind: 0x0303, payload: b(&[1, 0, 0, 0, b'm']) },
            Proposal { origin: s(""), request_id: u32::MAX, settled_below: 0, kind: 0x0102, payload: vec![] },
        ] }),
    ]
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("vectors")
}

fn file_name(vector: &Vector) -> String {
    format!("{}.bin", vector.name)
}

fn update_mode() -> bool {
    std::env::var(UPDATE_ENV).is_ok_and(|value| value == "1")
}

fn encode_all(list: &[Vector]) -> Vec<(&Vector, Vec<u8>)> {
    list.iter()
        .map(|vector| {
            let bytes = vector
                .frame
                .encode()
                .unwrap_or_else(|e| panic!("vector `{}` does not encode: {e}", vector.name));
            (vector, bytes)
        })
        .collect()
}

fn check_list(list: &[Vector]) {
    let mut names = BTreeSet::new();
    let mut families = BTreeSet::new();
    for vector in list {
        assert!(
            !vector.name.is_empty()
                && vector
                    .name
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'),
            "vector name `{}` must be non-empty snake_case",
            vector.name
        );
        assert!(
            names.insert(vector.name),
            "vector name `{}` is used twice",
            vector.name
        );
        families.insert((vector.frame.message_kind & 0x7fff) >> 8);
    }
    let expected: BTreeSet<u16> = Message::KINDS
        .iter()
        .map(|kind| (kind & 0x7fff) >> 8)
        .collect();
    assert_eq!(
        families, expected,
        "every message family needs at least one vector"
    );
}

/// Where two byte strings first differ, for a readable failure.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let window = |bytes: &[u8]| hex(&bytes[at.min(bytes.len())..(at + 16).min(bytes.len())]);
    format!(
        "first difference at byte {at} (expected {} bytes, file has {}): expected {}.., file {}..",
        a.len(),
        b.len(),
        window(a),
        window(b)
    )
}

/// A path relative to the crate root, for messages.
fn shown(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn read_failure(path: &Path, error: &std::io::Error) -> String {
    if error.kind() == std::io::ErrorKind::NotFound {
        format!("{}: missing; generate it with `{REGENERATE}`", shown(path))
    } else {
        format!("{}: cannot read ({error})", shown(path))
    }
}

fn write_if_changed(path: &Path, contents: &[u8]) {
    if fs::read(path).ok().as_deref() != Some(contents) {
        fs::write(path, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

#[test]
fn golden_vectors_match_the_checked_in_files() {
    let list = vectors();
    check_list(&list);
    let encoded = encode_all(&list);
    let dir = vectors_dir();
    let manifest_path = dir.join("manifest.json");
    let expected_manifest = manifest(&encoded);
    let known: BTreeSet<String> = list.iter().map(file_name).collect();
    let mut stale: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "bin"))
                .filter(|path| {
                    let name = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or_default();
                    !known.contains(name)
                })
                .collect()
        })
        .unwrap_or_default();

    if update_mode() {
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        for (vector, bytes) in &encoded {
            write_if_changed(&dir.join(file_name(vector)), bytes);
        }
        write_if_changed(&manifest_path, expected_manifest.as_bytes());
        for path in stale.drain(..) {
            fs::remove_file(&path)
                .unwrap_or_else(|e| panic!("cannot remove {}: {e}", path.display()));
        }
    }

    let mut failures = Vec::new();
    for (vector, bytes) in &encoded {
        let path = dir.join(file_name(vector));
        let on_disk = match fs::read(&path) {
            Ok(on_disk) => on_disk,
            Err(e) => {
                failures.push(read_failure(&path, &e));
                continue;
            }
        };
        if &on_disk != bytes {
            failures.push(format!(
                "{}: encoding changed, {}",
                shown(&path),
                first_difference(bytes, &on_disk)
            ));
        }
        match FramedMessage::decode(&on_disk, DEFAULT_MAX_FRAME_SIZE) {
            Ok(decoded) if decoded == vector.frame => {}
            Ok(decoded) => failures.push(format!(
                "{}: decodes to {decoded:?}, expected {:?}",
                shown(&path),
                vector.frame
            )),
            Err(e) => failures.push(format!("{}: does not decode: {e}", shown(&path))),
        }
    }
    match fs::read_to_string(&manifest_path) {
        Ok(on_disk) if on_disk == expected_manifest => {}
        Ok(_) => failures.push(format!(
            "{}: differs from the vector list",
            shown(&manifest_path)
        )),
        Err(e) => failures.push(read_failure(&manifest_path, &e)),
    }
    for path in &stale {
        failures.push(format!("{}: no vector of that name", shown(path)));
    }
    assert!(
        failures.is_empty(),
        "{} golden vector problem(s):\n  {}\nIf the change is intended, regenerate with `{REGENERATE}` \
         and review the diff; a changed encoding breaks the Java codec and mixed-version clusters.",
        failures.len(),
        failures.join("\n  ")
    );
}

#[test]
fn every_single_byte_corruption_of_a_vector_is_rejected() {
    let list = vectors();
    let encoded = encode_all(&list);
    let mut checked = 0usize;
    for (vector, bytes) in &encoded {
        for position in 0..bytes.len() {
            // Every bit pattern of one byte: the full inversion and each single bit.
            for mask in [0xffu8, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80] {
                let mut corrupted = bytes.clone();
                corrupted[position] ^= mask;
                let outcome = std::panic::catch_unwind(|| {
                    FramedMessage::decode(&corrupted, DEFAULT_MAX_FRAME_SIZE)
                });
                match outcome {
                    Ok(Err(_)) => checked += 1,
                    Ok(Ok(decoded)) => panic!(
                        "vector `{}` with byte {position} ^ {mask:#04x} decoded as {decoded:?}",
                        vector.name
                    ),
                    Err(_) => panic!(
                        "vector `{}` with byte {position} ^ {mask:#04x} made the decoder panic",
                        vector.name
                    ),
                }
            }
        }
    }
    assert!(checked > 0);
}
