//! libFuzzer target: `vertx_cluster::fuzz::Target::Handshake`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vertx_cluster::fuzz::Target;

fuzz_target!(|data: &[u8]| Target::Handshake.run(data));
