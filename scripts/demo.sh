#!/usr/bin/env bash
# Runs the demo: a three-node clustered Vert.x application on the embedded default (one host, no
# configuration). Builds the native library and the Java modules first. Vert.x 5 by default;
# `--vertx4` runs the same application on Vert.x 4.5 (artifact vertx-bop-cluster-vertx4).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  --vertx4) exec scripts/run-test-main.sh vertx4 io.vertx.spi.cluster.bop.demo.Vertx4Demo ;;
  ""|--vertx5) exec scripts/run-test-main.sh vertx5 io.vertx.spi.cluster.bop.demo.Vertx5Demo ;;
  *) echo "usage: $0 [--vertx5|--vertx4]" >&2; exit 2 ;;
esac
