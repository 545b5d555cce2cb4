# Sourced by the Java benchmark scripts (bench-vs-hazelcast.sh, bench-scale.sh): moves to the
# repository root, installs the product jar (cargo + maven), builds bench/ (its own Maven project,
# so the product jar never depends on Hazelcast), and sets ROOT and BENCH_CP, the class path to
# run io.vertx.bop.bench classes with.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

echo "[bench] installing the product jar (java/)" >&2
mvn -B -ntp -q -f java/pom.xml -DskipTests install >&2
echo "[bench] building bench/" >&2
mvn -B -ntp -q -f bench/pom.xml -DskipTests package >&2

BENCH_CP="$ROOT/bench/target/classes:$(cat "$ROOT/bench/target/classpath.txt")"
