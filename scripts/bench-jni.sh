#!/usr/bin/env bash
# Prints the per-operation cost of the Java/JNI layer (see impl.JniOverheadBench). Pass --quick for
# a short run. Builds the native library with the cargo feature bench-hooks (the benchmark's native
# timing hook, absent from the product's library); the next plain Maven build rebuilds it without.
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -ntp -q -Dstyle.color=never -f java/pom.xml test-compile -Dbop.cargo.features=mimalloc,bench-hooks
exec mvn -B -ntp -q -Dstyle.color=never -f java/pom.xml exec:java -Dbop.skipCargo=true \
  -Dexec.mainClass=io.vertx.spi.cluster.bop.impl.JniOverheadBench -Dexec.classpathScope=test \
  -Dexec.args="$*"
