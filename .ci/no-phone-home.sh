#!/usr/bin/env bash
# Starts the packaged server the plainest way (java -jar, telemetry variables unset), serves a
# request, waits past ONNX Runtime's ~10 s telemetry delay, and fails if any connect() went anywhere
# but loopback or a local socket. Needs strace and a built target/quarkus-app.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18080}
TRACE=$(mktemp)
LOG=$(mktemp)
env -u ORT_DISABLE_TELEMETRY -u OPT_OUT_TRACKING -u JAVA_TOOL_OPTIONS \
  strace -f -qq -e trace=connect -e signal=none -o "$TRACE" \
  java -Dquarkus.http.port="$PORT" -jar target/quarkus-app/quarkus-run.jar >"$LOG" 2>&1 &
PID=$!
# Stop the server itself (a TERM to strace would only detach it), then strace exits with it.
cleanup() { pkill -f -- "-Dquarkus.http.port=$PORT -jar" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -f "$TRACE" "$LOG"; }
trap cleanup EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$PORT/q/health/ready" >/dev/null && break
  sleep 0.5
done
curl -sf "http://127.0.0.1:$PORT/v1/completions" -H 'content-type: application/json' \
  -d '{"model":"demo-gpt2","prompt":"Hello","max_tokens":4}' >/dev/null \
  || { echo "no-phone-home: the server did not answer"; cat "$LOG"; exit 1; }
sleep 15
outbound=$(grep -E 'connect\(' "$TRACE" | grep -E 'AF_INET6?' \
  | grep -vE 'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"|inet_pton\(AF_INET6, "::ffff:127\.' || true)
total=$(grep -cE 'connect\(' "$TRACE" || true)
if [ -n "$outbound" ]; then
  echo "no-phone-home: FAILED, outbound connection attempts:"; echo "$outbound"; exit 1
fi
echo "no-phone-home: passed ($total connect() calls traced over ~20 s, none outside loopback/local sockets)"
