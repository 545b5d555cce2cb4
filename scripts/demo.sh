#!/usr/bin/env bash
# Runs the demo: a three-node clustered Vert.x application on the embedded default (one host, no
# configuration). Builds the native library and the Java module first.
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -ntp -q -Dstyle.color=never -f java/pom.xml test-compile
exec mvn -B -ntp -q -Dstyle.color=never -f java/pom.xml exec:java -Dbop.skipCargo=true \
  -Dexec.mainClass=io.vertx.spi.cluster.bop.demo.ClusterDemo -Dexec.classpathScope=test
