//! The manifest of the golden vectors (`tests/vectors/manifest.json`): each vector's name, header
//! and fields, written by a minimal JSON writer so the Java codec can check what it decodes.

use std::fmt::Write as _;

use vertx_cluster::wire::{
    MapEntry, Message, Proposal, RegistrationInfo, HEADER_SIZE, PROTOCOL_VERSION,
};

use super::{file_name, Vector, REGENERATE};

enum Json {
    Null,
    Bool(bool),
    /// Integers that fit a JavaScript number exactly (u32 and below).
    Num(u64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(&'static str, Json)>),
}

pub(super) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        write!(out, "{byte:02x}").expect("writing to a String");
    }
    out
}

fn write_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Other control characters (C0, DEL, C1) are escaped to stay visible.
            c if c.is_control() => {
                write!(out, "\\u{:04x}", u32::from(c)).expect("writing to a String")
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_json(out: &mut String, value: &Json, depth: usize) {
    fn pad(out: &mut String, depth: usize) {
        for _ in 0..depth {
            out.push_str("  ");
        }
    }
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Json::Num(n) => write!(out, "{n}").expect("writing to a String"),
        Json::Str(text) => write_json_string(out, text),
        Json::Arr(items) if items.is_empty() => out.push_str("[]"),
        Json::Arr(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                pad(out, depth + 1);
                write_json(out, item, depth + 1);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            pad(out, depth);
            out.push(']');
        }
        Json::Obj(members) if members.is_empty() => out.push_str("{}"),
        Json::Obj(members) => {
            out.push_str("{\n");
            for (i, (key, item)) in members.iter().enumerate() {
                pad(out, depth + 1);
                write_json_string(out, key);
                out.push_str(": ");
                write_json(out, item, depth + 1);
                out.push_str(if i + 1 < members.len() { ",\n" } else { "\n" });
            }
            pad(out, depth);
            out.push('}');
        }
    }
}

/// `fields!(a, b)` builds `[("a", a.to_json()), ("b", b.to_json())]` from bindings named like
/// the message's fields, so the manifest's names cannot drift from the Rust field names.
macro_rules! fields {
    ($($field:ident),* $(,)?) => {
        vec![$((stringify!($field), $field.to_json())),*]
    };
}

/// How a field value appears in the manifest.
trait ToJson {
    fn to_json(&self) -> Json;
}

impl ToJson for bool {
    fn to_json(&self) -> Json {
        Json::Bool(*self)
    }
}

impl ToJson for u16 {
    fn to_json(&self) -> Json {
        Json::Num(u64::from(*self))
    }
}

impl ToJson for u32 {
    fn to_json(&self) -> Json {
        Json::Num(u64::from(*self))
    }
}

/// 64-bit integers are decimal strings: a JavaScript number loses precision above 2^53.
impl ToJson for u64 {
    fn to_json(&self) -> Json {
        Json::Str(self.to_string())
    }
}

impl ToJson for i64 {
    fn to_json(&self) -> Json {
        Json::Str(self.to_string())
    }
}

impl ToJson for String {
    fn to_json(&self) -> Json {
        Json::Str(self.clone())
    }
}

/// Byte strings are lowercase hex.
impl ToJson for Vec<u8> {
    fn to_json(&self) -> Json {
        Json::Str(hex(self))
    }
}

impl ToJson for Option<Vec<u8>> {
    fn to_json(&self) -> Json {
        self.as_ref().map_or(Json::Null, ToJson::to_json)
    }
}

impl ToJson for RegistrationInfo {
    fn to_json(&self) -> Json {
        let RegistrationInfo {
            node_id,
            seq,
            local_only,
        } = self;
        Json::Obj(fields!(node_id, seq, local_only))
    }
}

impl ToJson for Proposal {
    fn to_json(&self) -> Json {
        let Proposal {
            origin,
            request_id,
            settled_below,
            kind,
            payload,
        } = self;
        Json::Obj(fields!(origin, request_id, settled_below, kind, payload))
    }
}

impl ToJson for MapEntry {
    fn to_json(&self) -> Json {
        let MapEntry { key, value } = self;
        Json::Obj(fields!(key, value))
    }
}

/// Item types of counted lists (kept apart from `Vec<u8>`, which is a byte string).
trait ListItem: ToJson {}
impl ListItem for String {}
impl ListItem for Vec<u8> {}
impl ListItem for RegistrationInfo {}
impl ListItem for MapEntry {}
impl ListItem for Proposal {}

impl<T: ListItem> ToJson for Vec<T> {
    fn to_json(&self) -> Json {
        Json::Arr(self.iter().map(ToJson::to_json).collect())
    }
}

/// The payload's fields, in declaration (= encoding) order. Matches every variant, so a new
/// message kind fails to compile here until it is described.
fn describe(message: &Message) -> Vec<(&'static str, Json)> {
    use Message as M;
    match message {
        M::NodeListRequest {}
        | M::SetNodeInfoResponse {}
        | M::AddRegistrationResponse {}
        | M::CreateMapResponse {}
        | M::MapPutResponse {}
        | M::MapPutTtlResponse {}
        | M::MapClearResponse {}
        | M::ExpireRequest {}
        | M::CreateSetResponse {}
        | M::CreateLockResponse {} => fields!(),
        M::Ping { sent_at_micros } | M::Pong { sent_at_micros } => fields!(sent_at_micros),
        M::ErrorResponse { code, message } => fields!(code, message),
        M::JoinRequest { node_id }
        | M::LeaveRequest { node_id }
        | M::GetNodeInfoRequest { node_id } => {
            fields!(node_id)
        }
        M::JoinResponse { members } => fields!(members),
        M::LeaveResponse { was_member } => fields!(was_member),
        M::NodeListResponse { nodes } => fields!(nodes),
        M::SetNodeInfoRequest { node_id, info } => fields!(node_id, info),
        M::GetNodeInfoResponse { info } => fields!(info),
        M::AddRegistrationRequest {
            address,
            registration,
        }
        | M::RemoveRegistrationRequest {
            address,
            registration,
        } => fields!(address, registration),
        M::GetRegistrationsRequest { address } => fields!(address),
        M::GetRegistrationsResponse { registrations } => fields!(registrations),
        M::CreateMapRequest { name }
        | M::CreateSetRequest { name }
        | M::CreateCounterRequest { name }
        | M::CreateLockRequest { name } => fields!(name),
        M::MapClearRequest { map_name }
        | M::MapSizeRequest { map_name }
        | M::MapKeysRequest { map_name }
        | M::MapValuesRequest { map_name }
        | M::MapEntriesRequest { map_name }
        | M::SyncMapEntriesRequest { map_name } => fields!(map_name),
        M::MapGetRequest { map_name, key }
        | M::MapRemoveRequest { map_name, key }
        | M::SyncMapGetRequest { map_name, key }
        | M::SyncMapRemoveRequest { map_name, key }
        | M::SyncMapContainsRequest { map_name, key } => fields!(map_name, key),
        M::MapPutRequest {
            map_name,
            key,
            value,
        }
        | M::MapPutIfAbsentRequest {
            map_name,
            key,
            value,
        }
        | M::MapRemoveIfPresentRequest {
            map_name,
            key,
            value,
        }
        | M::MapReplaceRequest {
            map_name,
            key,
            value,
        }
        | M::SyncMapPutRequest {
            map_name,
            key,
            value,
        } => fields!(map_name, key, value),
        M::MapPutTtlRequest {
            map_name,
            key,
            value,
            ttl_ms,
        }
        | M::MapPutIfAbsentTtlRequest {
            map_name,
            key,
            value,
            ttl_ms,
        }
        | M::MapReplaceTtlRequest {
            map_name,
            key,
            value,
            ttl_ms,
        } => {
            fields!(map_name, key, value, ttl_ms)
        }
        M::MapReplaceIfPresentRequest {
            map_name,
            key,
            old_value,
            new_value,
        } => {
            fields!(map_name, key, old_value, new_value)
        }
        M::MapReplaceIfPresentTtlRequest {
            map_name,
            key,
            old_value,
            new_value,
            ttl_ms,
        } => {
            fields!(map_name, key, old_value, new_value, ttl_ms)
        }
        M::MapGetResponse { value } | M::SyncMapGetResponse { value } => fields!(value),
        M::MapPutIfAbsentResponse { previous }
        | M::MapPutIfAbsentTtlResponse { previous }
        | M::MapRemoveResponse { previous }
        | M::MapReplaceResponse { previous }
        | M::MapReplaceTtlResponse { previous }
        | M::SyncMapPutResponse { previous }
        | M::SyncMapRemoveResponse { previous } => fields!(previous),
        M::RemoveRegistrationResponse { removed }
        | M::MapRemoveIfPresentResponse { removed }
        | M::SetRemoveResponse { removed } => fields!(removed),
        M::MapReplaceIfPresentResponse { replaced }
        | M::MapReplaceIfPresentTtlResponse { replaced } => {
            fields!(replaced)
        }
        M::MapSizeResponse { size } | M::SetSizeResponse { size } => fields!(size),
        M::MapKeysResponse { keys } => fields!(keys),
        M::MapValuesResponse { values } => fields!(values),
        M::MapEntriesResponse { entries } | M::SyncMapEntriesResponse { entries } => {
            fields!(entries)
        }
        M::RaftMessage { from_address, data } => fields!(from_address, data),
        M::AddMemberRequest {
            node_id,
            address,
            domain,
        }
        | M::ClusterJoinRequest {
            node_id,
            address,
            domain,
        } => {
            fields!(node_id, address, domain)
        }
        M::AddMemberResponse { raft_id } | M::ClusterJoinResponse { raft_id } => fields!(raft_id),
        M::ForwardProposals { proposals } => fields!(proposals),
        M::ExpireResponse {
            expired_entries,
            expired_waits,
        } => fields!(expired_entries, expired_waits),
        M::SetAddRequest { set_name, value }
        | M::SetRemoveRequest { set_name, value }
        | M::SetContainsRequest { set_name, value } => fields!(set_name, value),
        M::SetSizeRequest { set_name } | M::SetMembersRequest { set_name } => fields!(set_name),
        M::SetAddResponse { added } => fields!(added),
        M::SetContainsResponse { contains } | M::SyncMapContainsResponse { contains } => {
            fields!(contains)
        }
        M::SetMembersResponse { members } => fields!(members),
        M::CreateCounterResponse { value }
        | M::CounterGetResponse { value }
        | M::CounterAddAndGetResponse { value }
        | M::CounterGetAndAddResponse { value } => fields!(value),
        M::CounterGetRequest { counter_name } => fields!(counter_name),
        M::CounterAddAndGetRequest {
            counter_name,
            delta,
        }
        | M::CounterGetAndAddRequest {
            counter_name,
            delta,
        } => fields!(counter_name, delta),
        M::CounterCompareAndSetRequest {
            counter_name,
            expected,
            value,
        } => {
            fields!(counter_name, expected, value)
        }
        M::CounterCompareAndSetResponse { swapped } => fields!(swapped),
        M::LockAcquireRequest { lock_name } | M::LockReleaseRequest { lock_name } => {
            fields!(lock_name)
        }
        M::LockAcquireResponse {
            granted,
            fencing_token,
        }
        | M::LockAcquireTimeoutResponse {
            granted,
            fencing_token,
        } => fields!(granted, fencing_token),
        M::LockAcquireTimeoutRequest {
            lock_name,
            timeout_ms,
        } => fields!(lock_name, timeout_ms),
        M::LockReleaseResponse { released } => fields!(released),
        M::LockCancelRequest {
            lock_name,
            acquire_request_id,
        } => fields!(lock_name, acquire_request_id),
        M::LockCancelResponse { cancelled } => fields!(cancelled),
    }
}

/// The manifest for the whole list, byte for byte as checked in (trailing newline included).
pub(super) fn manifest(encoded: &[(&Vector, Vec<u8>)]) -> String {
    let entries = encoded
        .iter()
        .map(|(vector, bytes)| {
            let frame = &vector.frame;
            let checksum = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes"));
            Json::Obj(vec![
                ("name", Json::Str(vector.name.to_owned())),
                ("file", Json::Str(file_name(vector))),
                ("size", Json::Num(bytes.len() as u64)),
                ("checksum", Json::Str(format!("{checksum:08x}"))),
                (
                    "protocol_version",
                    Json::Num(u64::from(frame.protocol_version)),
                ),
                ("flags", Json::Num(u64::from(frame.flags.bits()))),
                ("message_kind", Json::Num(u64::from(frame.message_kind))),
                ("request_id", Json::Num(u64::from(frame.request_id))),
                ("message", Json::Str(frame.payload.name().to_owned())),
                ("fields", Json::Obj(describe(&frame.payload))),
            ])
        })
        .collect();
    let root = Json::Obj(vec![
        ("protocol_version", Json::Num(u64::from(PROTOCOL_VERSION))),
        ("header_size", Json::Num(HEADER_SIZE as u64)),
        ("regenerate", Json::Str(REGENERATE.to_owned())),
        ("vectors", Json::Arr(entries)),
    ]);
    let mut out = String::new();
    write_json(&mut out, &root, 0);
    out.push('\n');
    out
}
