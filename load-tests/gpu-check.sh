#!/usr/bin/env bash
# Issue 17: one unattended GPU check (target: under 8 minutes on a fresh GPU machine).
#
#   bash load-tests/gpu-check.sh [--port 18095] [--out target/gpu-check] [--bindings java-api,ffm]
#
# NOT RUN YET: written on a machine without a GPU; nothing below has been seen to work on CUDA.
#
# What it does: builds the server with -Pgpu (onnxruntime_gpu; needs network or the artifact already
# in ~/.m2), then for each value of spindle.runtime.io-binding (java-api: OrtSession.run with pinned
# outputs; ffm: IoBinding through the C API, runtime.onnx.capi) starts the server on the CUDA provider
# with the GPT-2-124M-shaped demo in the in-place KV layout (demo-gpt2-in-place-kv) and prints:
#   provider used (from /v1/models and the log), batch-1 tokens/s, 32-stream aggregate tokens/s,
#   TTFT of a 960-token prompt, and bytes moved between host and device per decode step (the FFM
#   layer's own counters, logged by the runner when it goes idle; the java-api path counts nothing:
#   it hands ONNX Runtime the same host buffers, so it moves what ffm's line says).
#
# How the CUDA libraries are found: onnxruntime_gpu 1.29's CUDA provider (libonnxruntime_providers_cuda.so,
# extracted by the jar) is linked against CUDA 12 (libcudart.so.12, libcublas.so.12, libcublasLt.so.12,
# libcufft.so.11, libcurand.so.10) and cuDNN 9 (libcudnn.so.9), resolved by the dynamic loader. This
# script looks for each in LD_LIBRARY_PATH, the ldconfig cache, /usr/local/cuda*/lib64,
# /usr/lib/x86_64-linux-gnu and pip's nvidia-* wheels (site-packages/nvidia/*/lib), prepends the
# directories it found to LD_LIBRARY_PATH for the server, and stops before building when one is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=18095
OUT=target/gpu-check
BINDINGS=java-api,ffm
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --bindings) BINDINGS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 64 ;;
  esac
done
START=$(date +%s)
fail() { echo "gpu-check: $*" >&2; exit 1; }

# 1. A GPU and the libraries, before anything slow.
command -v nvidia-smi > /dev/null || fail "no nvidia-smi: no NVIDIA driver on this machine"
nvidia-smi -L 2>/dev/null | grep -q '^GPU ' || fail "nvidia-smi lists no GPU"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu: /'
CANDIDATES=$(echo "${LD_LIBRARY_PATH:-}" | tr ':' '\n'; ls -d /usr/local/cuda*/lib64 /usr/lib/x86_64-linux-gnu 2>/dev/null || true;
  python3 -c 'import glob,site; [print(d) for p in site.getsitepackages() for d in glob.glob(p + "/nvidia/*/lib")]' 2>/dev/null || true)
FOUND_DIRS=""
for lib in libcudart.so.12 libcublas.so.12 libcublasLt.so.12 libcufft.so.11 libcurand.so.10 libcudnn.so.9; do
  dir=""
  for d in $CANDIDATES; do
    [ -n "$d" ] && [ -e "$d/$lib" ] && { dir="$d"; break; }
  done
  if [ -z "$dir" ]; then
    path=$(ldconfig -p 2>/dev/null | awk -v l="$lib" '$1 == l { print $NF; exit }')
    [ -n "$path" ] && dir=$(dirname "$path")
  fi
  [ -n "$dir" ] || fail "$lib not found (CUDA 12 and cuDNN 9 runtime libraries are needed: apt cuda-libraries-12-x + libcudnn9-cuda-12, or pip nvidia-cuda-runtime-cu12 nvidia-cublas-cu12 nvidia-cufft-cu12 nvidia-curand-cu12 nvidia-cudnn-cu12)"
  echo "lib: $lib in $dir"
  case ":$FOUND_DIRS:" in *":$dir:"*) ;; *) FOUND_DIRS="$FOUND_DIRS:$dir" ;; esac
done
export LD_LIBRARY_PATH="${FOUND_DIRS#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# 2. Build (-Pgpu swaps in onnxruntime_gpu) and the load tool.
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
"$JAVA" -version 2>&1 | grep -qE 'version "2[5-9]' || fail "a Java 25 is needed (set JAVA_HOME)"
./mvnw -B -q -Pgpu package -DskipTests || fail "the -Pgpu build failed (is onnxruntime_gpu 1.29.0 reachable or in ~/.m2?)"
unzip -l target/quarkus-app/lib/main/com.microsoft.onnxruntime.onnxruntime_gpu-*.jar 2>/dev/null | grep -q providers_cuda \
  || fail "the packaged server does not carry onnxruntime_gpu"
[ -f load-tests/target/spindle-load.jar ] || ./mvnw -B -q -f load-tests/pom.xml package -DskipTests
mkdir -p "$OUT"

load() { timeout 180 "$JAVA" -jar load-tests/target/spindle-load.jar --url "http://127.0.0.1:$PORT" --no-progress \
  --model demo-gpt2-in-place-kv "$@" > /dev/null; }
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); c=d['levels'][0]['client']; print(eval(sys.argv[2]))" "$1" "$2"; }

for B in ${BINDINGS//,/ }; do
  LOG="$OUT/server-$B.log"
  ORT_DISABLE_TELEMETRY=1 OPT_OUT_TRACKING=true "$JAVA" --enable-native-access=ALL-UNNAMED -Dai.djl.offline=true \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$PORT" \
    -Dspindle.runtime.execution-provider=cuda -Dspindle.runtime.io-binding="$B" \
    -Dspindle.demo.preset=gpt2-124m -Dspindle.demo.layouts=in-place-kv \
    -Dspindle.demo.t5-layouts=none -Dspindle.demo.bert-heads=none -Dspindle.engine.max-batch-size=32 \
    -jar target/quarkus-app/quarkus-run.jar > "$LOG" 2>&1 &
  SERVER=$!
  trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
  for _ in $(seq 1 480); do
    curl -sf "http://127.0.0.1:$PORT/q/health/ready" > /dev/null && break
    kill -0 $SERVER 2>/dev/null || fail "server ($B) exited; see $LOG"
    sleep 0.5
  done
  curl -sf "http://127.0.0.1:$PORT/q/health/ready" > /dev/null || fail "server ($B) not ready after 240 s; see $LOG"
  PROVIDER=$(curl -sf "http://127.0.0.1:$PORT/v1/models" | python3 -c \
    'import json,sys; print(",".join(sorted({m["spindle"]["execution_provider"] for m in json.load(sys.stdin)["data"] if m["id"]=="demo-gpt2-in-place-kv"})))')
  grep -q "CUDA execution provider requested but unavailable" "$LOG" && PROVIDER="$PROVIDER (CUDA FELL BACK TO CPU: see $LOG)"
  load --concurrency 4 --requests 8 --input-tokens 16 --output-tokens 32 --seed 900 --out "$OUT/$B-warmup"
  load --concurrency 1 --requests 4 --input-tokens 16 --output-tokens 128 --seed 1 --out "$OUT/$B-c1"
  BYTES=$(grep -o 'io binding (ffm) idle after .*' "$LOG" | tail -1 || true)
  load --concurrency 32 --requests 64 --input-tokens 16 --output-tokens 64 --seed 2 --out "$OUT/$B-c32"
  load --concurrency 1 --requests 3 --input-tokens 960 --output-tokens 1 --seed 3 --out "$OUT/$B-ttft960"
  echo "== io-binding=$B"
  echo "provider used:                $PROVIDER"
  echo "batch-1 tokens/s:             $(field "$OUT/$B-c1/results.json" 'round(c["outputTokensPerSecond"], 1)')"
  echo "32-stream aggregate tokens/s: $(field "$OUT/$B-c32/results.json" 'round(c["outputTokensPerSecond"], 1)')"
  echo "TTFT, 960-token prompt, ms:   $(field "$OUT/$B-ttft960/results.json" 'round(c["ttft"]["p50"], 1)') (p50 of 3)"
  echo "failed requests:              $(field "$OUT/$B-c32/results.json" 'c["failed"]') of 64 at 32 streams"
  if [ "$B" = ffm ]; then
    echo "bytes moved per decode step:  ${BYTES:-no counter line in $LOG}"
  else
    echo "bytes moved per decode step:  not counted on the official API (same host buffers as ffm)"
  fi
  kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true
  trap - EXIT
done
echo "gpu-check took $(( $(date +%s) - START )) s; logs and results under $OUT"
