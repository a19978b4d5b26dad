#!/usr/bin/env bash
# Concurrent SSE streams against the server on the GPT-2-124M-shaped demo graph: aggregate tokens/s,
# TTFT and ITL percentiles at several concurrencies, the same with batching disabled, and decode ITL
# while a long prompt is prefilled.
#   bash load-tests/bench-concurrency.sh [--streams 1,4,16,32] [--tokens 64] [--baseline-streams 16]
#        [--max-tokens-per-step 512] [--prefill-while-decoding 16] [--prefill-tokens 512] [--interference-runs 1] [--interference-tokens 128] [--jit-warmup-tokens 16000] [--server-opts "-Dkey=value ..."] [--preset gpt2-124m] [--port 18091]
exec bash "$(dirname "$0")/lib/run-bench.sh" io.spindle.bench.ConcurrencyBenchmark "$@"
