#!/usr/bin/env bash
# Issue 18: float32 vs int8 vs int4 weights through the server, side by side in one run.
#   bash load-tests/bench-quantize.sh [--rounds 2] [--formats none,int8,int4] [--out load-tests/results/quantize/server] [--server-opts "-D..."]
# A format may name the demo layout it is served in after an @: none@in-place-kv, int4@in-place-kv (the in-place
# KV form, issue 17; id demo-gpt2-in-place-kv); without one it is the optimum layout (id demo-gpt2).
# Each round starts one server per format (spindle.models.quantize=<format>, the GPT-2-124M-shaped demo,
# nothing else loaded), in turn, and measures: resident memory once ready (VmRSS, and again after the
# load), batch-1 tokens/s (1 stream, 16-token prompt, 128 new tokens), 32-stream aggregate output tokens/s
# (16-token prompts, 64 new tokens), TTFT of a 960-token prompt (1 stream). Quantized graphs are made on the
# first start of a format and cached (spindle.demo.cache-dir's rewritten/); a warm-up start makes them first.
# The model's own share is RSS minus that of a server started with no model (same JVM and options).
# Writes OUT/<round>/<format>-<scenario>/ and OUT/summary.md (medians over rounds, ratios to float32).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=2
FORMATS=none,int8,int4
OUT=load-tests/results/quantize/server
PORT=18096
SERVER_OPTS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --formats) FORMATS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --server-opts) SERVER_OPTS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 64 ;;
  esac
done
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
[ -f target/quarkus-app/quarkus-run.jar ] || ./mvnw -B -q package -DskipTests
[ -f load-tests/target/spindle-load.jar ] || ./mvnw -B -q -f load-tests/pom.xml package -DskipTests
mkdir -p "$OUT"
echo "bash load-tests/bench-quantize.sh --rounds $ROUNDS --formats $FORMATS --out $OUT --server-opts \"$SERVER_OPTS\"" > "$OUT/command.txt"
SERVER=""
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; wait 2>/dev/null || true' EXIT
rss() { awk '/^VmRSS:/ { printf "%.0f\n", $2 * 1024 }' "/proc/$SERVER/status"; }
layout() { case "$1" in *@*) echo "${1#*@}" ;; *) echo optimum ;; esac; }
model() { [ "$(layout "$1")" = optimum ] && echo demo-gpt2 || echo "demo-gpt2-$(layout "$1")"; }
start() { # $1 format[@layout], $2 log
  ORT_DISABLE_TELEMETRY=1 OPT_OUT_TRACKING=true "$JAVA" --enable-native-access=ALL-UNNAMED -Dai.djl.offline=true \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$PORT" \
    -Dspindle.demo.preset=gpt2-124m -Dspindle.demo.layouts="$(layout "$1")" -Dspindle.demo.t5-layouts=none \
    -Dspindle.demo.bert-heads=none -Dspindle.embeddings.bundled-model=false -Dspindle.engine.max-batch-size=32 \
    -Dspindle.models.quantize="${1%@*}" $SERVER_OPTS -jar target/quarkus-app/quarkus-run.jar > "$2" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 2400); do
    curl -sf "http://127.0.0.1:$PORT/q/health/ready" > /dev/null && return 0
    kill -0 $SERVER 2>/dev/null || { echo "server exited; see $2" >&2; exit 1; }
    sleep 0.5
  done
  echo "server not ready; see $2" >&2; exit 1
}
baseline() { # a server with no model: the JVM, Quarkus and ONNX Runtime's environment, to subtract
  ORT_DISABLE_TELEMETRY=1 OPT_OUT_TRACKING=true "$JAVA" --enable-native-access=ALL-UNNAMED -Dai.djl.offline=true \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$PORT" -Dspindle.demo.enabled=false \
    -Dspindle.embeddings.bundled-model=false $SERVER_OPTS -jar target/quarkus-app/quarkus-run.jar > "$1" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 600); do
    # a server with no model is never live (no engine), but it answers once up
    curl -s -o /dev/null "http://127.0.0.1:$PORT/q/health/live" && break
    sleep 0.5
  done
  sleep 5
}
# The engine's step histograms around the 32-stream run (the difference is that run's steps).
metrics() { curl -sf "http://127.0.0.1:$PORT/q/metrics" | grep -E '^spindle_(decode|prefill)_step_duration_seconds_(sum|count)|^spindle_batch_size_(sum|count)' > "$1" || true; }
stop() { kill $SERVER; wait $SERVER 2>/dev/null || true; SERVER=""; }
load() { # $1 format[@layout], then the load tool's options
  local m; m=$(model "$1"); shift
  "$JAVA" -jar load-tests/target/spindle-load.jar --url "http://127.0.0.1:$PORT" --no-progress --model "$m" "$@" > /dev/null
}
# Warm-up start per format: writes the demo and the quantized graphs, so that no measured start pays for them.
for f in ${FORMATS//,/ }; do
  start "$f" "$OUT/server-$f-warmup.log"; stop
done
for r in $(seq 1 "$ROUNDS"); do
  d="$OUT/r$r"; mkdir -p "$d"
  baseline "$d/server-baseline.log"; echo "$(rss)" > "$d/baseline-rss.txt"; stop
  for f in ${FORMATS//,/ }; do
    start "$f" "$d/server-$f.log"
    sleep 2
    echo "$(rss)" > "$d/$f-rss-ready.txt"
    load "$f" --concurrency 4 --requests 8 --input-tokens 16 --output-tokens 16 --seed 1000 --out "$d/.warmup-$f"
    rm -rf "$d/.warmup-$f"
    load "$f" --concurrency 1 --requests 4 --input-tokens 16 --output-tokens 128 --seed "$r" --out "$d/$f-c1"
    metrics "$d/$f-metrics-before-c32.txt"
    load "$f" --concurrency 32 --requests 64 --input-tokens 16 --output-tokens 64 --seed "$r" --out "$d/$f-c32"
    metrics "$d/$f-metrics-after-c32.txt"
    load "$f" --concurrency 1 --requests 3 --input-tokens 960 --output-tokens 4 --seed "$r" --out "$d/$f-ttft960"
    echo "$(rss)" > "$d/$f-rss-after.txt"
    stop
  done
done
python3 load-tests/quantize-summary.py "$OUT" "$FORMATS"
