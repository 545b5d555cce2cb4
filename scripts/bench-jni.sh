#!/usr/bin/env bash
# Prints the per-operation cost of the Java/JNI layer (see impl.JniOverheadBench). Pass --quick for
# a short run. Builds the native library with the cargo feature bench-hooks (the benchmark's native
# timing hook, absent from the product's library); the next plain Maven build rebuilds it without.
set -euo pipefail
cd "$(dirname "$0")/.."
BOP_MVN_ARGS="-Dbop.cargo.features=mimalloc,bench-hooks" \
  exec scripts/run-test-main.sh vertx5 io.vertx.spi.cluster.bop.impl.JniOverheadBench "$@"
