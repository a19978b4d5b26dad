#!/usr/bin/env bash
# Issue 17: the plain serving layout (demo-gpt2) and the in-place KV layout (demo-gpt2-in-place-kv),
# same GPT-2-124M-shaped weights, served by ONE server and measured side by side, interleaved:
# closed loop at concurrency 8 with 16- and 960-token prompts (48 new tokens each), and batch 1.
#   bash load-tests/bench-kv-inplace.sh [--rounds 2] [--out load-tests/results/kv-inplace-124m] [--server-opts "-D..."]
# Prints ITL p50 per run, the 960/16 ITL ratio per layout and batch-1 tokens/s; writes each run's
# results.json/summary.md under OUT/<round>/<layout>-<scenario>/ and OUT/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=2
OUT=load-tests/results/kv-inplace-124m
PORT=18093
SERVER_OPTS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
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
echo "bash load-tests/bench-kv-inplace.sh --rounds $ROUNDS --out $OUT --server-opts \"$SERVER_OPTS\"" > "$OUT/command.txt"
ORT_DISABLE_TELEMETRY=1 OPT_OUT_TRACKING=true "$JAVA" --enable-native-access=ALL-UNNAMED -Dai.djl.offline=true \
  -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$PORT" \
  -Dspindle.demo.preset=gpt2-124m -Dspindle.demo.layouts=optimum,in-place-kv \
  -Dspindle.demo.t5-layouts=none -Dspindle.demo.bert-heads=none -Dspindle.engine.max-batch-size=8 $SERVER_OPTS \
  -jar target/quarkus-app/quarkus-run.jar > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 1200); do
  curl -sf "http://127.0.0.1:$PORT/q/health/ready" > /dev/null && break
  kill -0 $SERVER 2>/dev/null || { echo "server exited; see $OUT/server.log" >&2; exit 1; }
  sleep 0.5
done
load() { "$JAVA" -jar load-tests/target/spindle-load.jar --url "http://127.0.0.1:$PORT" --no-progress "$@" > /dev/null; }
# JIT and arenas warm on both models first (unmeasured, not kept).
for m in demo-gpt2 demo-gpt2-in-place-kv; do
  load --model "$m" --concurrency 8 --requests 24 --input-tokens 16 --output-tokens 48 --seed 1000 --out "$OUT/.warmup/$m"
  load --model "$m" --concurrency 8 --requests 8 --input-tokens 960 --output-tokens 8 --seed 1001 --out "$OUT/.warmup/$m-960"
done
rm -rf "$OUT/.warmup"
for r in $(seq 1 "$ROUNDS"); do
  for m in demo-gpt2 demo-gpt2-in-place-kv; do
    load --model "$m" --concurrency 8 --requests 32 --input-tokens 16 --output-tokens 48 --seed "$r" --out "$OUT/r$r/$m-c8-in16"
    load --model "$m" --concurrency 8 --requests 24 --input-tokens 960 --output-tokens 48 --seed "$r" --out "$OUT/r$r/$m-c8-in960"
    load --model "$m" --concurrency 1 --requests 4 --input-tokens 16 --output-tokens 128 --seed "$r" --out "$OUT/r$r/$m-c1-in16"
  done
done
python3 load-tests/kv-inplace-summary.py "$OUT"
