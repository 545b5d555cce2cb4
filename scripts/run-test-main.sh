#!/usr/bin/env bash
# Runs a main class of a Java module's test code (the demos, the JNI benchmark) on that module's
# test class path: run-test-main.sh <module: vertx5|vertx4> <main class> [args...]. Builds the
# native library and the module (and the core it depends on) first; extra Maven arguments (for
# example cargo features) come from BOP_MVN_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
module="$1"
main="$2"
shift 2
# test-compile and the class path in one Maven session: the core module's classes resolve to its
# target directories only within the session that compiled them.
# shellcheck disable=SC2086
mvn -B -ntp -q -Dstyle.color=never -f java/pom.xml -pl "$module" -am ${BOP_MVN_ARGS:-} \
  test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/test-classpath.txt
classes="java/$module/target/test-classes:java/$module/target/classes"
exec java -Djava.net.preferIPv4Stack=true -cp "$classes:$(cat "java/$module/target/test-classpath.txt")" "$main" "$@"
