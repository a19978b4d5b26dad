#!/usr/bin/env bash
# Starts the packaged server on loopback, runs the load tool against it, stops the server.
#   bash load-tests/with-server.sh [--server-opts "-Dkey=value ..."] [--port 18092] -- LOAD-TOOL-ARGS...
# e.g. the committed baseline:
#   bash load-tests/with-server.sh --server-opts "-Dspindle.demo.preset=gpt2-124m -Dspindle.engine.max-batch-size=32" \
#     -- --concurrency 1,4,16,32 --requests 64 --output-tokens 64 --out load-tests/results/gpt2-124m-sweep
# Builds the server and the tool first when their jars are missing. Server log: target/load-server.log.
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER_OPTS=""
PORT=18092
while [ $# -gt 0 ]; do
  case "$1" in
    --server-opts) SERVER_OPTS="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown option $1 (put the load tool's options after --)" >&2; exit 64 ;;
  esac
done
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
"$JAVA" -version 2>&1 | grep -qE 'version "2[5-9]' || { echo "a Java 25 is needed (set JAVA_HOME)" >&2; exit 1; }
[ -f target/quarkus-app/quarkus-run.jar ] || ./mvnw -B -q package -DskipTests
[ -f load-tests/target/spindle-load.jar ] || ./mvnw -B -q -f load-tests/pom.xml package -DskipTests

# shellcheck disable=SC2086
ORT_DISABLE_TELEMETRY=1 OPT_OUT_TRACKING=true "$JAVA" --enable-native-access=ALL-UNNAMED -Dai.djl.offline=true \
  -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$PORT" $SERVER_OPTS \
  -jar target/quarkus-app/quarkus-run.jar > target/load-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$PORT/q/health/ready" > /dev/null && break
  kill -0 $SERVER 2>/dev/null || { echo "server exited; see target/load-server.log" >&2; exit 1; }
  sleep 0.5
done
# The server's pid lets the chaos scenario ask for a full GC before its memory readings.
"$JAVA" -jar load-tests/target/spindle-load.jar --url "http://127.0.0.1:$PORT" --server-pid "$SERVER" "$@"
