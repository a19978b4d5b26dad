#!/usr/bin/env bash
# Builds the server and runs one benchmark class from the test sources: run-bench.sh CLASS [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/../.."
export ORT_DISABLE_TELEMETRY=1 OPT_OUT_TRACKING=true
main=$1
shift
./mvnw -q -B package -DskipTests
CP=$(./mvnw -q -B dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=/dev/stdout)
exec java --enable-native-access=ALL-UNNAMED -Dai.djl.offline=true \
  -cp "target/test-classes:target/classes:$CP" "$main" "$@"
