#!/usr/bin/env bash
# The scale benchmark: clusters of 10, 30 and 100 members in one JVM, and 100 members
# spread over 20 child JVMs (this one drives them), at the manager's defaults on one host.
#   scripts/bench-scale.sh [--sizes 10,30,100] [--jvms 20] [--spread 100] [--ops 2000]
# Installs the product jar (cargo + maven), builds bench/, then runs io.vertx.bop.bench.Scale,
# which prints one Markdown table on stdout. Progress goes to stderr; child logs to
# bench/target/bench-logs/. About 3 minutes on 2 cores.
set -euo pipefail
. "$(dirname "$0")/bench-build.sh"
# BENCH_JAVA_OPTS: JVM options for this JVM and every child JVM (the defaults are a new user's:
# none), e.g. BENCH_JAVA_OPTS=-Dio.netty.jfr.enabled=false (see BENCHMARKS.md, "Scale").
# shellcheck disable=SC2086
exec java -Xmx4g ${BENCH_JAVA_OPTS:-} -Dbench.childOpts="${BENCH_JAVA_OPTS:-}" -cp "$BENCH_CP" -Dbench.logDir="$ROOT/bench/target/bench-logs" io.vertx.bop.bench.Scale "$@"
