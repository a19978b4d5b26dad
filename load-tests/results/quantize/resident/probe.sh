#!/usr/bin/env bash
# Issue 18: bash probe.sh LABEL -D... : VmRSS of the server 8 s after it is ready (see README.md)
cd "$(dirname "$0")/../../../.."
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
label=$1; shift
ORT_DISABLE_TELEMETRY=1 OPT_OUT_TRACKING=true "$JAVA" --enable-native-access=ALL-UNNAMED -Dai.djl.offline=true \
  -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port=18199 -Dspindle.demo.t5-layouts=none \
  -Dspindle.demo.bert-heads=none -Dspindle.embeddings.bundled-model=false -Dspindle.engine.max-batch-size=32 \
  "$@" -jar target/quarkus-app/quarkus-run.jar > "${LOGDIR:-/tmp}/$label.log" 2>&1 &
S=$!
[ "$label" = base ] && sleep 20
[ "$label" = base ] || for _ in $(seq 1 2400); do curl -sf http://127.0.0.1:18199/q/health/ready >/dev/null && break; kill -0 $S || break; sleep 0.5; done
sleep 8
echo "$label $(awk '/^VmRSS:/{print int($2/1024)}' /proc/$S/status) MiB"
kill $S; wait $S
