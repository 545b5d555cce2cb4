//! State-machine apply rate on one thread: a mix of map puts and gets, counter adds, and lock
//! acquire/release pairs over 64k keys (16-byte keys, 64-byte values). Commands are built before
//! the clock starts; the figure is the state machine alone. A second row adds frame decoding
//! (CRC check and payload parse) in front of each apply: the path a request takes in a node.
//!
//! Run: `cargo bench --bench fsm_apply`. Prints the median of 5 rounds.

use std::hint::black_box;
use std::time::Instant;

use vertx_cluster::fsm::{ApplyContext, StateMachine};
use vertx_cluster::wire::{FramedMessage, Message, DEFAULT_MAX_FRAME_SIZE};

const KEYS: u64 = 65_536;
const OPS_PER_ROUND: usize = 2_000_000;
const ROUNDS: usize = 5;

/// A deterministic xorshift generator: the same commands every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn key(i: u64) -> Vec<u8> {
    let mut k = b"key-000000000000".to_vec();
    k[4..].copy_from_slice(format!("{i:012}").as_bytes());
    k
}

/// The command mix: 40% map put, 40% map get, 10% counter add, 10% lock acquire+release.
fn commands(rng: &mut Rng, n: usize) -> Vec<Message> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let r = rng.next();
        let k = r % KEYS;
        match (r >> 32) % 10 {
            0..=3 => out.push(Message::MapPutRequest {
                map_name: "bench".into(),
                key: key(k),
                value: vec![(r & 0xff) as u8; 64],
            }),
            4..=7 => out.push(Message::MapGetRequest {
                map_name: "bench".into(),
                key: key(k),
            }),
            8 => out.push(Message::CounterAddAndGetRequest {
                counter_name: format!("counter-{}", k % 64),
                delta: 1,
            }),
            _ => {
                let lock_name = format!("lock-{}", k % 1024);
                out.push(Message::LockAcquireRequest {
                    lock_name: lock_name.clone(),
                });
                out.push(Message::LockReleaseRequest { lock_name });
            }
        }
    }
    out.truncate(n);
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut sm = StateMachine::new();
    let mut index = 0u64;
    // Fill the map first so puts overwrite and gets hit, as in a warm cluster.
    for k in 0..KEYS {
        index += 1;
        let ctx = ApplyContext {
            index,
            now_ms: 1,
            origin: "node-a",
            request_id: 0,
        };
        sm.apply(
            Message::MapPutRequest {
                map_name: "bench".into(),
                key: key(k),
                value: vec![0; 64],
            },
            &ctx,
        );
    }

    let mut apply_rates = Vec::new();
    let mut frame_rates = Vec::new();
    for _ in 0..ROUNDS {
        let batch = commands(&mut rng, OPS_PER_ROUND);
        let start = Instant::now();
        for cmd in batch {
            index += 1;
            let ctx = ApplyContext {
                index,
                now_ms: 1,
                origin: "node-a",
                request_id: index as u32,
            };
            black_box(sm.apply(cmd, &ctx));
        }
        apply_rates.push(OPS_PER_ROUND as f64 / start.elapsed().as_secs_f64());

        let frames: Vec<Vec<u8>> = commands(&mut rng, OPS_PER_ROUND)
            .into_iter()
            .enumerate()
            .map(|(i, m)| FramedMessage::request(i as u32, m).encode().unwrap())
            .collect();
        let start = Instant::now();
        for bytes in &frames {
            let frame = FramedMessage::decode(bytes, DEFAULT_MAX_FRAME_SIZE).unwrap();
            index += 1;
            let ctx = ApplyContext {
                index,
                now_ms: 1,
                origin: "node-a",
                request_id: frame.request_id,
            };
            black_box(sm.apply(frame.payload, &ctx));
        }
        frame_rates.push(OPS_PER_ROUND as f64 / start.elapsed().as_secs_f64());
    }
    println!("fsm apply, 1 thread, 64k keys, mix 40% put / 40% get / 10% counter / 10% lock");
    println!(
        "  apply only:            {:>6.2} M ops/s (median of {ROUNDS} rounds of {OPS_PER_ROUND})",
        median(apply_rates) / 1e6
    );
    println!(
        "  frame decode + apply:  {:>6.2} M ops/s",
        median(frame_rates) / 1e6
    );
}
