//! The borrowed frame decode (`FrameRef::decode_ref`) against the owned one on real frames:
//! every golden vector in `tests/vectors/` decodes the same both ways, and the request kinds the
//! state machine applies decode borrowed without a single allocation (counted by a global
//! allocator that tallies the current thread's allocations).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs;
use std::path::Path;

use vertx_cluster::wire::{
    FrameRef, FramedMessage, Message, MessageRef, DEFAULT_MAX_FRAME_SIZE, HEADER_SIZE,
};

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to the system allocator unchanged; the counter is a
// thread-local `Cell` with a const initialiser and no destructor, so it never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocations made on this thread while `f` runs.
fn allocations<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (ALLOCATIONS.with(Cell::get) - before, out)
}

/// Kinds with a list field: their borrowed view holds the list owned.
const KINDS_WITH_LISTS: &[u16] = &[
    0x8101, 0x8103, 0x8203, 0x830f, 0x8310, 0x8311, 0x8406, 0x8705, 0x0904,
];

fn golden_frames() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut frames: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .expect("tests/vectors exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&p).expect("a readable vector"))
        })
        .collect();
    frames.sort();
    assert!(
        frames.len() > 50,
        "only {} golden vectors found",
        frames.len()
    );
    frames
}

#[test]
fn golden_vectors_decode_the_same_borrowed_and_owned() {
    for (name, bytes) in golden_frames() {
        let owned = FramedMessage::decode(&bytes, DEFAULT_MAX_FRAME_SIZE)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (allocated, borrowed) =
            allocations(|| FrameRef::decode_ref(&bytes, DEFAULT_MAX_FRAME_SIZE));
        let borrowed = borrowed.unwrap_or_else(|e| panic!("{name}: borrowed decode: {e}"));
        assert_eq!(borrowed.to_owned(), owned, "{name}");
        assert_eq!(
            borrowed.payload.get_message_kind(),
            owned.message_kind,
            "{name}"
        );
        if !KINDS_WITH_LISTS.contains(&owned.message_kind) {
            assert_eq!(allocated, 0, "{name}: the borrowed decode allocated");
        }
        // Cut short, or with a byte flipped: both refuse it with the same error.
        for bad in [&bytes[..bytes.len() - 1], &bytes[..HEADER_SIZE - 1]] {
            assert_eq!(
                FrameRef::decode_ref(bad, DEFAULT_MAX_FRAME_SIZE).map(FrameRef::into_owned),
                FramedMessage::decode(bad, DEFAULT_MAX_FRAME_SIZE),
                "{name}"
            );
        }
        let mut flipped = bytes.clone();
        flipped[HEADER_SIZE - 1] ^= 0x10;
        let error = FramedMessage::decode(&flipped, DEFAULT_MAX_FRAME_SIZE).unwrap_err();
        assert_eq!(
            FrameRef::decode_ref(&flipped, DEFAULT_MAX_FRAME_SIZE).unwrap_err(),
            error,
            "{name}"
        );
    }
}

#[test]
fn hot_requests_decode_borrowed_without_allocating() {
    let name = || "map".to_owned();
    let bytes = |n: usize| vec![7u8; n];
    let requests = [
        Message::MapGetRequest {
            map_name: name(),
            key: bytes(16),
        },
        Message::MapPutRequest {
            map_name: name(),
            key: bytes(16),
            value: bytes(35),
        },
        Message::MapPutTtlRequest {
            map_name: name(),
            key: bytes(16),
            value: bytes(35),
            ttl_ms: 1000,
        },
        Message::MapPutIfAbsentRequest {
            map_name: name(),
            key: bytes(16),
            value: bytes(35),
        },
        Message::MapRemoveRequest {
            map_name: name(),
            key: bytes(16),
        },
        Message::MapReplaceRequest {
            map_name: name(),
            key: bytes(16),
            value: bytes(35),
        },
        Message::MapReplaceIfPresentRequest {
            map_name: name(),
            key: bytes(16),
            old_value: bytes(3),
            new_value: bytes(4),
        },
        Message::CounterGetRequest {
            counter_name: name(),
        },
        Message::CounterAddAndGetRequest {
            counter_name: name(),
            delta: -1,
        },
        Message::CounterCompareAndSetRequest {
            counter_name: name(),
            expected: 1,
            value: 2,
        },
        Message::LockAcquireRequest { lock_name: name() },
        Message::LockReleaseRequest { lock_name: name() },
        Message::SyncMapGetRequest {
            map_name: name(),
            key: bytes(8),
        },
        Message::SyncMapPutRequest {
            map_name: name(),
            key: bytes(8),
            value: bytes(64),
        },
        Message::SyncMapRemoveRequest {
            map_name: name(),
            key: bytes(8),
        },
    ];
    for request in requests {
        let frame = FramedMessage::request(5, request.clone()).encode().unwrap();
        let (allocated, view) =
            allocations(|| FrameRef::decode_ref(&frame, DEFAULT_MAX_FRAME_SIZE).unwrap());
        assert_eq!(allocated, 0, "{} allocated", request.name());
        assert_eq!(view.request_id, 5);
        assert_eq!(view.payload.to_owned(), request);
        let (owned_allocations, _) =
            allocations(|| FramedMessage::decode(&frame, DEFAULT_MAX_FRAME_SIZE).unwrap());
        assert!(owned_allocations > 0, "{}", request.name());
    }

    let frame = FramedMessage::request(
        1,
        Message::MapPutRequest {
            map_name: "m".into(),
            key: bytes(16),
            value: bytes(35),
        },
    )
    .encode()
    .unwrap();
    let (_, owned) = allocations(|| FramedMessage::decode(&frame, DEFAULT_MAX_FRAME_SIZE).unwrap());
    let (allocated, borrowed) =
        allocations(|| FrameRef::decode_ref(&frame, DEFAULT_MAX_FRAME_SIZE).unwrap());
    assert_eq!(allocated, 0);
    match borrowed.payload {
        MessageRef::MapPutRequest {
            map_name,
            key,
            value,
        } => {
            assert_eq!((map_name, key.len(), value.len()), ("m", 16, 35));
            assert!(frame.as_ptr_range().contains(&key.as_ptr()));
        }
        other => panic!("decoded as {}", other.name()),
    }
    assert_eq!(borrowed.into_owned(), owned);
}
