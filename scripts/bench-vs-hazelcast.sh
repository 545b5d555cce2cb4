#!/usr/bin/env bash
# Side-by-side benchmark of BopClusterManager against vertx-hazelcast 5.0.7 (issue 5).
#   scripts/bench-vs-hazelcast.sh [--quick]
# Installs the product jar (cargo + maven), builds bench/ (its own Maven project, so the product jar
# never depends on Hazelcast), then runs io.vertx.bop.bench.Compare, which starts 3 node JVMs per
# product and prints one table (Markdown) on stdout. Progress goes to stderr; node logs to
# bench/target/bench-logs/. Full run: about 5 minutes on 2 cores; --quick: under 2.
set -euo pipefail
. "$(dirname "$0")/bench-build.sh"
exec java -cp "$BENCH_CP" -Dbench.logDir="$ROOT/bench/target/bench-logs" io.vertx.bop.bench.Compare "$@"
