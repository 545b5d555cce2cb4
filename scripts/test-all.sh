#!/usr/bin/env bash
# Runs every check and test of the project: Rust formatting, lints and the whole cargo test suite
# (unit, property, simulation, golden-vector, loopback-cluster and doc tests), a short pass of the
# seeded fuzzer (`scripts/fuzz.sh` runs long ones), then the Java modules
# (`mvn verify`: it builds the native library, packs it into the core jar, and runs our JUnit tests,
# the Vert.x 5.0.7 cluster TCK against the Vert.x 5 BopClusterManager and the Vert.x 4.5 cluster TCK
# against the Vert.x 4 one), then the Vert.x 5.1 cluster TCK against the Vert.x 5 module's classes
# (profile vertx-5.1). Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

need_component() {
  if ! cargo "$1" --version >/dev/null 2>&1; then
    echo "cargo $1 is missing; installing the rustup component $2" >&2
    rustup component add "$2"
  fi
}
need_component fmt rustfmt
need_component clippy clippy
for tool in java mvn; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool is missing; installing JDK 17 and Maven from Debian's packages" >&2
    apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless maven
    break
  fi
done

echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy --all-targets --features fuzzing -- -D warnings"
cargo clippy --all-targets --features fuzzing -- -D warnings
echo "== cargo test"
cargo test
echo "== cargo test --features fuzzing --test fuzz (a short fuzzing pass)"
cargo test --features fuzzing --test fuzz -- --nocapture
echo "== mvn -f java/pom.xml verify"
mvn -B -ntp -Dstyle.color=never -f java/pom.xml verify
echo "== the Vert.x cluster TCK against Vert.x 5.1 (the same jar classes, built against 5.0.7)"
mvn -B -ntp -Dstyle.color=never -f java/pom.xml -pl vertx5 -am -Pvertx-5.1 test -Dmaven.main.skip=true -Dbop.skipCargo=true \
  -Dtest='io.vertx.spi.cluster.bop.tests.**.*Test'
