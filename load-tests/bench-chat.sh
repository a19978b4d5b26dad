#!/usr/bin/env bash
# The chat scenario (8 conversations × 6 turns, a shared system prompt, the whole history re-sent each
# turn) twice on the GPT-2-124M-shaped demo: the server as configured (prefix cache on), then the same
# server with the prefix cache off; prints TTFT p50 per turn side by side and the ratio, with turns
# 2..T pooled against --target (issue 15: ≤ 0.15).
#   bash load-tests/bench-chat.sh [--preset gpt2-124m] [--max-batch-size 16] [--port 18097]
#        [--server-opts "-D..."] [--off-opts "-Dspindle.engine.prefix-cache.enabled=false"]
#        [--transport openai,ws] [--target 0.15] [--out DIR] [-- MORE-LOAD-TOOL-ARGS...]
# e.g. bash load-tests/bench-chat.sh -- --conversations 8 --turns 6 --system-tokens 128 --user-tokens 64 --output-tokens 64
# Default sizes (the load tool's): turn k's prompt = (128 + 7) + k·(64 + 7) + (k − 1)·(64 + 8) + 7
# = 70 + 143k tokens with the demo's chat template (7 tokens of markup per system or user message,
# 8 per assistant message, 7 for the generation prompt): 213 at turn 1, 928 at turn 6, + 64 output
# tokens = 992 ≤ 1,024 (GPT-2's context). Each run writes chat.json/chat.md under OUT/cache-on and
# OUT/cache-off (with the server's log); the comparison goes to OUT/chat-compare.md and .json.
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=gpt2-124m
BATCH=16
PORT=18097
SERVER_OPTS=""
OFF_OPTS="-Dspindle.engine.prefix-cache.enabled=false"
TRANSPORT=openai,ws
TARGET=0.15
OUT="load-tests/results/tmp/chat-$(date +%Y%m%d-%H%M%S)"
while [ $# -gt 0 ]; do
  case "$1" in
    --preset) PRESET="$2"; shift 2 ;;
    --max-batch-size) BATCH="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --server-opts) SERVER_OPTS="$2"; shift 2 ;;
    --off-opts) OFF_OPTS="$2"; shift 2 ;;
    --transport) TRANSPORT="$2"; shift 2 ;;
    --target) TARGET="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown option $1 (put the load tool's options after --)" >&2; exit 64 ;;
  esac
done
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
[ -f load-tests/target/spindle-load.jar ] || ./mvnw -B -q -f load-tests/pom.xml package -DskipTests
BASE="-Dspindle.demo.preset=$PRESET -Dspindle.engine.max-batch-size=$BATCH $SERVER_OPTS"

run() { # label, folder, server options, load-tool options...
  local label="$1" dir="$2" opts="$3"
  shift 3
  echo "== $label: $opts" >&2
  if ! bash load-tests/with-server.sh --port "$PORT" --server-opts "$opts" -- --scenario chat \
      --transport "$TRANSPORT" --label "$label" --no-progress --out "$dir" "$@"; then
    cp target/load-server.log "$dir.server.log" 2>/dev/null || true
    echo "the $label run failed; server log: $dir.server.log (a server that does not know a -D key" \
         "under spindle.* refuses to start: SRCFG00050)" >&2
    exit 1
  fi
  cp target/load-server.log "$dir/server.log"
}

mkdir -p "$OUT"
run "cache on" "$OUT/cache-on" "$BASE" "$@"
run "cache off" "$OUT/cache-off" "$BASE $OFF_OPTS" "$@"
echo
"$JAVA" -jar load-tests/target/spindle-load.jar --compare "$OUT/cache-on/chat.json" "$OUT/cache-off/chat.json" \
  --target "$TARGET" --out "$OUT"
