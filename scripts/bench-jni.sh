#!/usr/bin/env bash
# Prints the per-operation cost of the Java/JNI layer (see JniOverheadBench). Pass --quick for a
# short run.
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -ntp -q -Dstyle.color=never -f java/pom.xml test-compile
exec mvn -B -ntp -q -Dstyle.color=never -f java/pom.xml exec:java -Dbop.skipCargo=true \
  -Dexec.mainClass=io.vertx.spi.cluster.bop.bench.JniOverheadBench -Dexec.classpathScope=test \
  -Dexec.args="$*"
