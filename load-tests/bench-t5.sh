#!/usr/bin/env bash
# T5 throughput through the server: one stream alone vs 8 streams together, on the demo T5
# (t5-small's shape by default; built at first run, random weights).
#   bash load-tests/bench-t5.sh [--preset t5-small|tiny] [--tokens 64] [--streams 8] [--rounds 5] [--port 18092]
exec bash "$(dirname "$0")/lib/run-bench.sh" io.spindle.bench.T5Benchmark "$@"
