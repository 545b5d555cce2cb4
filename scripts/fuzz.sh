#!/usr/bin/env bash
# Fuzzes what takes bytes from outside: frame decoding, the replica's receive path (raft messages
# and frames delivered into a real three-replica cluster), snapshot decoding, the JNI settings,
# the secure channel's handshake (Rust, rust/fuzz) and the Java value codec (BopValueCodecFuzzTest). Prints, per target, the
# inputs tried and the failures; exits non-zero if any input failed (saved under
# target/fuzz-failures/ for the Rust targets, printed in hex for both).
#
#   scripts/fuzz.sh [INPUTS]           seeded mutation fuzzer on the stable toolchain, INPUTS
#                                      mutated inputs per target (default 10000000); same seed,
#                                      same run (VERTX_CLUSTER_FUZZ_SEED, 1 by default)
#   scripts/fuzz.sh --coverage [RUNS]  coverage-guided: libFuzzer through cargo-fuzz on the nightly
#                                      toolchain (installs cargo-fuzz if missing), RUNS per Rust
#                                      target (default 1000000), from the same seeds
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--coverage" ]]; then
  runs="${2:-1000000}"
  if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "the nightly toolchain is missing: rustup toolchain install nightly" >&2
    exit 1
  fi
  command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
  corpus="$PWD/fuzz/corpus"
  VERTX_CLUSTER_FUZZ_WRITE_SEEDS="$corpus" cargo test -q --release --features fuzzing --test fuzz >/dev/null
  cd fuzz
  # No sanitizer: the code under test is safe Rust (`unsafe` lives only in rust/jni), and ASan
  # would cost most of the speed.
  cargo +nightly fuzz build -O -s none
  for target in frame replica snapshot settings handshake; do
    echo "== libFuzzer: $target, $runs runs"
    cargo +nightly fuzz run -O -s none "$target" "corpus/$target" -- \
      -runs="$runs" -max_len=65536 -print_final_stats=1 2>&1 \
      | grep -E "^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)|DONE.*cov:|panicked|SUMMARY|Failing input"
  done
  exit 0
fi

inputs="${1:-10000000}"
echo "== Rust targets: $inputs mutated inputs each"
VERTX_CLUSTER_FUZZ_INPUTS="$inputs" cargo test --release --features fuzzing --test fuzz -- --nocapture \
  2>&1 | grep -vE "^\s+(Compiling|Finished|Running)"
echo "== Java value codec: $inputs mutated inputs"
status=0
mvn -B -q -ntp -Dstyle.color=never -f java/pom.xml -pl core test -Dtest=BopValueCodecFuzzTest \
  -Dbop.fuzz.inputs="$inputs" -Dsurefire.failIfNoSpecifiedTests=false || status=$?
cat java/core/target/surefire-reports/io.vertx.spi.cluster.bop.impl.BopValueCodecFuzzTest-output.txt
exit "$status"
