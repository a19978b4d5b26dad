#!/usr/bin/env bash
# Decode throughput at batch 1: a bare ONNX Runtime loop vs. the running server over SSE, on the
# GPT-2-124M-shaped demo graph. Prints tokens/s per run, medians and the server/bare ratio.
#   bash load-tests/bench-decode.sh [--tokens 128] [--runs 5] [--preset gpt2-124m] [--port 18090]
#        [--warmup 3] [--jit-warmup-tokens 16000] [--stream false] [--server-opts "-Dkey=value ..."] [--jar path/to/quarkus-run.jar]
exec bash "$(dirname "$0")/lib/run-bench.sh" io.spindle.bench.DecodeBenchmark "$@"
