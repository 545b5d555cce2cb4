//! Opaque handles for native nodes. Java holds a number, never a pointer: a handle that was
//! never issued or was closed is refused with an error instead of touching freed memory.
//! Numbers are never reused, so a stale handle cannot reach a newer node.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::errors::JniError;
use super::listener::Listener;
use crate::node::Node;

/// A node and the Java listener its answers go to.
pub(crate) struct Entry {
    pub node: Node,
    pub listener: Arc<Listener>,
}

type Table = Mutex<HashMap<i64, Arc<Entry>>>;

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

static NEXT: AtomicI64 = AtomicI64::new(1);

pub(crate) fn insert(node: Node, listener: Arc<Listener>) -> i64 {
    let handle = NEXT.fetch_add(1, Ordering::Relaxed);
    lock().insert(handle, Arc::new(Entry { node, listener }));
    handle
}

pub(crate) fn get(handle: i64) -> Result<Arc<Entry>, JniError> {
    lock()
        .get(&handle)
        .cloned()
        .ok_or_else(|| JniError::Closed(format!("node handle {handle} is closed or unknown")))
}

pub(crate) fn remove(handle: i64) -> Result<Arc<Entry>, JniError> {
    lock()
        .remove(&handle)
        .ok_or_else(|| JniError::Closed(format!("node handle {handle} is closed or unknown")))
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<i64, Arc<Entry>>> {
    table().lock().unwrap_or_else(|e| e.into_inner())
}
