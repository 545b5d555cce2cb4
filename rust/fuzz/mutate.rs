//! The seeded mutation engine of the stable fuzzer (`tests/fuzz.rs`): byte-level mutations as
//! libFuzzer's, plus, for raft messages, mutations of their fields to the numbers that matter
//! (0, 1, around this cluster's indexes and terms, powers of two, the ends of u64), which byte
//! flips of protobuf varints reach only by luck.

use protobuf::{Message as _, ProtobufEnum as _};
use raft::prelude::{Entry, Message as RaftMsg, MessageType};

/// splitmix64: small, fast, and the same stream for the same seed everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Numbers that sit on the edges of checks.
fn interesting(rng: &mut Rng) -> u64 {
    const FIXED: [u64; 14] = [
        0,
        1,
        2,
        3,
        7,
        16,
        17,
        100,
        1000,
        1 << 31,
        1 << 40,
        (1 << 62) - 1,
        1 << 62,
        u64::MAX,
    ];
    match rng.below(3) {
        0 => FIXED[rng.below(FIXED.len())],
        // Near the small indexes and terms of the fuzzed cluster.
        1 => rng.below(200) as u64,
        _ => 1u64 << rng.below(64),
    }
}

/// One to four byte-level mutations of `data`, drawing on `other` for splices.
pub fn mutate_bytes(data: &mut Vec<u8>, other: &[u8], rng: &mut Rng) {
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(10) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = [0, 1, 0x7f, 0x80, 0xff][rng.below(5)];
            }
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                data.splice(i..i, bytes);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = (1 + rng.below(16)).min(len - i);
                data.drain(i..i + n);
            }
            4 if len > 0 => data.truncate(rng.below(len)),
            5 if len >= 8 => {
                let i = rng.below(len - 7);
                let width = [1, 2, 4, 8][rng.below(4)];
                let value = interesting(rng).to_le_bytes();
                data[i..i + width].copy_from_slice(&value[..width]);
            }
            6 if len > 0 => {
                // A varint of an interesting number, where protobuf keeps its numbers.
                let i = rng.below(len);
                let mut v = interesting(rng);
                let mut bytes = Vec::new();
                loop {
                    let b = (v & 0x7f) as u8;
                    v >>= 7;
                    if v == 0 {
                        bytes.push(b);
                        break;
                    }
                    bytes.push(b | 0x80);
                }
                let end = (i + 1 + rng.below(3)).min(len);
                data.splice(i..end, bytes);
            }
            7 if !other.is_empty() => {
                let from = rng.below(other.len());
                let n = (1 + rng.below(64)).min(other.len() - from);
                let at = rng.below(len + 1);
                data.splice(at..at, other[from..from + n].iter().copied());
            }
            8 if len > 1 => {
                let i = rng.below(len);
                let n = (1 + rng.below(32)).min(len - i);
                let chunk = data[i..i + n].to_vec();
                let at = rng.below(len);
                data.splice(at..at, chunk);
            }
            _ => {
                if len > 1 {
                    let (a, b) = (rng.below(len), rng.below(len));
                    data.swap(a, b);
                }
            }
        }
    }
    data.truncate(1 << 20);
}

/// Changes one to three fields of the raft message encoded in `data`; leaves `data` to the byte
/// mutations if it does not decode.
pub fn mutate_raft(data: &mut Vec<u8>, rng: &mut Rng) -> bool {
    let Ok(mut m) = RaftMsg::parse_from_bytes(data) else {
        return false;
    };
    for _ in 0..1 + rng.below(3) {
        match rng.below(14) {
            0 => m.term = interesting(rng),
            1 => m.log_term = interesting(rng),
            2 => m.index = interesting(rng),
            3 => m.commit = interesting(rng),
            4 => m.commit_term = interesting(rng),
            5 => m.reject_hint = interesting(rng),
            6 => m.request_snapshot = interesting(rng),
            7 => m.reject = !m.reject,
            8 => m.from = rng.below(5) as u64,
            9 => m.to = rng.below(5) as u64,
            10 => {
                if let Some(kind) = MessageType::from_i32(rng.below(20) as i32) {
                    m.set_msg_type(kind);
                }
            }
            11 => {
                let mut entries: Vec<Entry> = m.take_entries().into();
                match rng.below(4) {
                    0 => entries.clear(),
                    1 if !entries.is_empty() => {
                        let i = rng.below(entries.len());
                        entries[i].index = interesting(rng);
                    }
                    2 if !entries.is_empty() => {
                        let i = rng.below(entries.len());
                        entries[i].term = interesting(rng);
                    }
                    _ => {
                        let e = Entry {
                            index: m.index + 1 + entries.len() as u64,
                            term: m.term,
                            ..Default::default()
                        };
                        entries.push(e);
                    }
                }
                m.set_entries(entries.into());
            }
            12 => {
                let meta = m.mut_snapshot().mut_metadata();
                match rng.below(4) {
                    0 => meta.index = interesting(rng),
                    1 => meta.term = interesting(rng),
                    2 => meta.mut_conf_state().voters.push(rng.below(5) as u64),
                    _ => meta.mut_conf_state().learners.push(rng.below(5) as u64),
                }
            }
            _ => {
                let data = m.mut_snapshot().mut_data();
                if !data.is_empty() {
                    let mut bytes = data.to_vec();
                    mutate_bytes(&mut bytes, &[], rng);
                    *data = bytes.into();
                }
            }
        }
    }
    match m.write_to_bytes() {
        Ok(bytes) => {
            *data = bytes;
            true
        }
        Err(_) => false,
    }
}
