#!/usr/bin/env bash
# Runs the seeded cluster simulation (tests/simulation) over many seeds in release mode and
# prints its summary: seeds, operations, lock holds, and the faults it drove (partitions, majority
# losses, pauses past the failure timeout, clock jumps, crashes, duplicated and reordered
# messages, nodes removed and rejoined). Any failing seed is printed with its report, its whole
# run is kept under target/tmp/simulation/, and the script exits non-zero.
#
#   scripts/simulate.sh [SEEDS] [TICKS]   SEEDS seeds (default 5000) of TICKS ticks (default 700)
#   VERTX_CLUSTER_SIM_NODES=1000 scripts/simulate.sh 1 300   one run of 1000 members (3 to 5 by
#     default) through the same faults and checks: about a minute and 3 GB (400 members: 10 s,
#     0.5 GB), see BENCHMARKS.md, "Scale"
#   VERTX_CLUSTER_SIM_FIRST_SEED=<n> scripts/simulate.sh 400   seeds n to n+399 instead of 0 to 399
#   VERTX_CLUSTER_SIM_SEED=<n> cargo test --test simulation -- --nocapture   replays one seed
#     (with the same VERTX_CLUSTER_SIM_NODES and VERTX_CLUSTER_SIM_TICKS as the run that failed)
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-5000}"
ticks="${2:-700}"
started=$(date +%s)
status=0
mkdir -p target  # a fresh clone has none before its first build
VERTX_CLUSTER_SIM_SEEDS="$seeds" VERTX_CLUSTER_SIM_TICKS="$ticks" \
  cargo test -q --release --test simulation random_faults_keep -- --nocapture --test-threads 2 \
  >target/simulate.log 2>&1 || status=$?
sed 's/^\.*//' target/simulate.log | grep -v '^$\|^running\|^test result\|^test random' || true
echo "simulate: $seeds seeds of $ticks ticks in $(( $(date +%s) - started )) s, exit status $status"
exit "$status"
