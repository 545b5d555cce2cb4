//! Frame encode plus decode (CRC32 computed and verified) for a 64-byte payload: a
//! `MapPutRequest` with a 1-byte map name, 16-byte key and 35-byte value. The encode buffer is
//! reused, as a connection's write buffer is; decoding builds the owned message.
//!
//! Run: `cargo bench --bench frame_codec`. Prints the median of 5 rounds.

use std::hint::black_box;
use std::time::Instant;

use vertx_cluster::wire::{FramedMessage, Message, DEFAULT_MAX_FRAME_SIZE, HEADER_SIZE};

const FRAMES_PER_ROUND: usize = 5_000_000;
const ROUNDS: usize = 5;

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

    let mut rates = Vec::new();
    let mut encode_rates = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..FRAMES_PER_ROUND {
            buf.clear();
            black_box(&frame)
                .encode_into(&mut buf, DEFAULT_MAX_FRAME_SIZE)
                .unwrap();
            black_box(&buf);
        }
        encode_rates.push(FRAMES_PER_ROUND as f64 / start.elapsed().as_secs_f64());

        let start = Instant::now();
        for _ in 0..FRAMES_PER_ROUND {
            buf.clear();
            let f = black_box(&frame);
            f.encode_into(&mut buf, DEFAULT_MAX_FRAME_SIZE).unwrap();
            let decoded = FramedMessage::decode(black_box(&buf), DEFAULT_MAX_FRAME_SIZE).unwrap();
            black_box(decoded);
        }
        rates.push(FRAMES_PER_ROUND as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
    encode_rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("frame codec, 64-byte payload, CRC32 on encode and verified on decode");
    println!(
        "  encode + decode: {:>6.2} M frames/s (median of {ROUNDS} rounds of {FRAMES_PER_ROUND})",
        rates[ROUNDS / 2] / 1e6
    );
    println!(
        "  encode only:     {:>6.2} M frames/s",
        encode_rates[ROUNDS / 2] / 1e6
    );
}
