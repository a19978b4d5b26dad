#!/usr/bin/env bash
# Decode throughput at batch 1: a bare ONNX Runtime loop vs. the running server over SSE, on the
# GPT-2-124M-shaped demo graph. Prints tokens/s per run, medians and the server/bare ratio.
#   bash load-tests/bench-decode.sh [--tokens 128] [--runs 5] [--preset gpt2-124m] [--port 18090]
set -euo pipefail
cd "$(dirname "$0")/.."
export ORT_DISABLE_TELEMETRY=1 OPT_OUT_TRACKING=true
./mvnw -q -B package -DskipTests
CP=$(./mvnw -q -B dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=/dev/stdout)
exec java --enable-native-access=ALL-UNNAMED -Dai.djl.offline=true \
  -cp "target/test-classes:target/classes:$CP" io.spindle.bench.DecodeBenchmark "$@"
