#!/usr/bin/env bash
# What logprobs (0 and 20) cost per token, and n = 4 samples in one request vs 4 requests, through the
# server, side by side in one run (GPT-2-124M's shape by default; built at first run, random weights).
#   bash load-tests/bench-sampling.sh [--preset gpt2-124m|tiny] [--tokens 64] [--prompt-words 200] [--rounds 5] [--port 18093]
exec bash "$(dirname "$0")/lib/run-bench.sh" io.spindle.bench.SamplingCostBenchmark "$@"
