//! Frame encode plus decode (CRC32 computed and verified) for a 64-byte payload: a
//! `MapPutRequest` with a 1-byte map name, 16-byte key and 35-byte value. The encode buffer is
//! reused, as a connection's write buffer is. Three loops, each timed on its own:
//!
//! - encode + borrowed decode (`FrameRef::decode_ref`: the message borrows the frame's bytes, no
//!   allocation); the goal line;
//! - encode + owned decode (`FramedMessage::decode`: the borrowed decode, then the map name, key
//!   and value copied out, three allocations);
//! - encode only.
//!
//! Run: `cargo bench --bench frame_codec`. Prints the median of 5 rounds of each.

use std::hint::black_box;
use std::time::Instant;

use vertx_cluster::wire::{
    FrameRef, FramedMessage, Message, MessageRef, DEFAULT_MAX_FRAME_SIZE, HEADER_SIZE,
};

const FRAMES_PER_ROUND: usize = 5_000_000;
const ROUNDS: usize = 5;

/// Frames per second of `FRAMES_PER_ROUND` calls of `f`.
fn rate(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..FRAMES_PER_ROUND {
        f();
    }
    FRAMES_PER_ROUND as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let frame = FramedMessage::request(
        1,
        Message::MapPutRequest {
            map_name: "m".into(),
            key: vec![7; 16],
            value: vec![9; 35],
        },
    );
    let mut buf = Vec::with_capacity(256);
    frame.encode_into(&mut buf, DEFAULT_MAX_FRAME_SIZE).unwrap();
    assert_eq!(buf.len() - HEADER_SIZE, 64, "the payload is 64 bytes");
    let view = FrameRef::decode_ref(&buf, DEFAULT_MAX_FRAME_SIZE).unwrap();
    assert!(matches!(view.payload, MessageRef::MapPutRequest { .. }));
    assert_eq!(view.to_owned(), frame);

    let mut borrowed_rates = Vec::new();
    let mut owned_rates = Vec::new();
    let mut encode_rates = Vec::new();
    for _ in 0..ROUNDS {
        borrowed_rates.push(rate(|| {
            buf.clear();
            black_box(&frame)
                .encode_into(&mut buf, DEFAULT_MAX_FRAME_SIZE)
                .unwrap();
            let decoded = FrameRef::decode_ref(black_box(&buf), DEFAULT_MAX_FRAME_SIZE).unwrap();
            black_box(decoded);
        }));
        owned_rates.push(rate(|| {
            buf.clear();
            black_box(&frame)
                .encode_into(&mut buf, DEFAULT_MAX_FRAME_SIZE)
                .unwrap();
            let decoded = FramedMessage::decode(black_box(&buf), DEFAULT_MAX_FRAME_SIZE).unwrap();
            black_box(decoded);
        }));
        encode_rates.push(rate(|| {
            buf.clear();
            black_box(&frame)
                .encode_into(&mut buf, DEFAULT_MAX_FRAME_SIZE)
                .unwrap();
            black_box(&buf);
        }));
    }
    println!("frame codec, 64-byte payload, CRC32 on encode and verified on decode");
    println!(
        "  encode + borrowed decode: {:>6.2} M frames/s (median of {ROUNDS} rounds of {FRAMES_PER_ROUND})",
        median(borrowed_rates) / 1e6
    );
    println!(
        "  encode + owned decode:    {:>6.2} M frames/s",
        median(owned_rates) / 1e6
    );
    println!(
        "  encode only:              {:>6.2} M frames/s",
        median(encode_rates) / 1e6
    );
}
