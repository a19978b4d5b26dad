#!/usr/bin/env bash
# ONNX Runtime alone on this machine, with Spindle's session options: one MatMul per GPT-2-124M weight
# shape at M rows (GFLOP/s), and the whole GPT-2-124M-shaped demo graph prefilling one prompt bare.
#   bash load-tests/bench-ort-anchor.sh [--threads 0] [--runs 7] [--rows 1,32,128,512] [--prompts 128,512]
exec bash "$(dirname "$0")/lib/run-bench.sh" io.spindle.bench.OrtAnchorBenchmark "$@"
