#!/usr/bin/env bash
# Issue 17: one unattended GPU check (target: under 8 minutes on a fresh GPU machine).
#
#   bash load-tests/gpu-check.sh [--port 18095] [--out target/gpu-check] [--bindings java-api,ffm]
#                                [--preset gpt2-124m] [--kv-dtype auto] [--offline] [--cpu-dry-run]
#
# Builds the server with -Pgpu (onnxruntime_gpu 1.29.0 from Maven Central, or ~/.m2 with --offline), then
# for each value of spindle.runtime.io-binding starts it on the CUDA provider with the GPT-2-124M-shaped
# demo in the in-place KV layout (demo-gpt2-in-place-kv) and prints, per binding:
#   provider used (/v1/models execution_provider and kv_cache.location; a CUDA fallback and ONNX Runtime's
#   "nodes not assigned to the preferred execution providers" warning are called out), batch-1 tokens/s,
#   32-stream aggregate tokens/s, TTFT of a 960-token prompt, and the bytes a decode step moves between
#   host and device. java-api: OrtSession.run with pinned host buffers, the KV cache in host memory (the
#   runner counts what it hands ONNX Runtime, all of which a CUDA session copies each call); ffm: IoBinding
#   through the C API (runtime.onnx.capi), the KV cache in CUDA memory (the layer's own counters). Both
#   figures are the runner's log line when it goes idle after the batch-1 run, whose last step is a
#   one-row decode step.
#
# --cpu-dry-run runs all of it on a machine without a GPU: the same -Pgpu build and packaged server, the
# CUDA library search reported but not required, the server on the CPU provider (the ffm binding's
# "device" is then a second CPU memory info: the device code path, with host memory), the same loads
# and the same parsing. It proves the script, not the GPU.
#
# How the CUDA libraries are found: onnxruntime_gpu 1.29's CUDA provider (libonnxruntime_providers_cuda.so,
# extracted by the jar) is linked against CUDA 12 (libcudart.so.12, libcublas.so.12, libcublasLt.so.12,
# libcufft.so.11, libcurand.so.10) and cuDNN 9 (libcudnn.so.9), resolved by the dynamic loader. This
# script looks for each in LD_LIBRARY_PATH, the ldconfig cache, /usr/local/cuda*/lib64,
# /usr/lib/x86_64-linux-gnu and pip's nvidia-* wheels (site-packages/nvidia/*/lib), prepends the
# directories it found to LD_LIBRARY_PATH for the server, and stops before building when one is missing.
# Where one is missing at run time anyway, Spindle falls back to CPU with a WARN line and ONNX Runtime
# logs which library failed; this script reports that as "CUDA FELL BACK TO CPU".
#
# ONNX Runtime's CUDA GroupQueryAttention has float16/bfloat16 kernels only: spindle.models.kv-dtype=auto
# (the default, --kv-dtype) writes the demo's in-place graph with a float16 cache and attention on CUDA, so
# that attention stays on the GPU; with --kv-dtype float32 the attention nodes are expected on the CPU
# provider (the warning above), with copies around them. The provider line says which cache type served.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=18095
OUT=target/gpu-check
BINDINGS=java-api,ffm
PRESET=gpt2-124m
KV_DTYPE=auto
DRY=0
MVN_OFFLINE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --bindings) BINDINGS="$2"; shift 2 ;;
    --preset) PRESET="$2"; shift 2 ;;
    --kv-dtype) KV_DTYPE="$2"; shift 2 ;;
    --offline) MVN_OFFLINE="-o"; shift ;;
    --cpu-dry-run) DRY=1; shift ;;
    *) echo "unknown option $1" >&2; exit 64 ;;
  esac
done
START=$(date +%s)
fail() { echo "gpu-check: $*" >&2; exit 1; }
elapsed() { echo "[$(( $(date +%s) - START )) s] $*"; }

# 1. A GPU and the libraries, before anything slow (reported only, in a dry run).
if [ "$DRY" = 1 ]; then
  echo "gpu-check: CPU DRY RUN: no GPU used; the server runs on the CPU provider; figures are not GPU figures"
else
  command -v nvidia-smi > /dev/null || fail "no nvidia-smi: no NVIDIA driver on this machine (--cpu-dry-run runs the rest)"
  nvidia-smi -L 2>/dev/null | grep -q '^GPU ' || fail "nvidia-smi lists no GPU"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu: /'
fi
CANDIDATES=$(echo "${LD_LIBRARY_PATH:-}" | tr ':' '\n'; ls -d /usr/local/cuda*/lib64 /usr/lib/x86_64-linux-gnu 2>/dev/null || true;
  python3 -c 'import glob,site; [print(d) for p in site.getsitepackages() for d in glob.glob(p + "/nvidia/*/lib")]' 2>/dev/null || true)
FOUND_DIRS=""
MISSING=""
for lib in libcudart.so.12 libcublas.so.12 libcublasLt.so.12 libcufft.so.11 libcurand.so.10 libcudnn.so.9; do
  dir=""
  for d in $CANDIDATES; do
    [ -n "$d" ] && [ -e "$d/$lib" ] && { dir="$d"; break; }
  done
  if [ -z "$dir" ]; then
    path=$(ldconfig -p 2>/dev/null | awk -v l="$lib" '$1 == l { print $NF; exit }')
    [ -n "$path" ] && dir=$(dirname "$path")
  fi
  if [ -z "$dir" ]; then
    MISSING="$MISSING $lib"
    echo "lib: $lib NOT FOUND"
    continue
  fi
  echo "lib: $lib in $dir"
  case ":$FOUND_DIRS:" in *":$dir:"*) ;; *) FOUND_DIRS="$FOUND_DIRS:$dir" ;; esac
done
if [ -n "$MISSING" ] && [ "$DRY" = 0 ]; then
  fail "missing:$MISSING (CUDA 12 and cuDNN 9 runtime libraries are needed: apt cuda-libraries-12-x + libcudnn9-cuda-12, or pip nvidia-cuda-runtime-cu12 nvidia-cublas-cu12 nvidia-cufft-cu12 nvidia-curand-cu12 nvidia-cudnn-cu12)"
fi
[ -n "$FOUND_DIRS" ] && export LD_LIBRARY_PATH="${FOUND_DIRS#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# 2. Build (-Pgpu swaps in onnxruntime_gpu) and the load tool.
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
"$JAVA" -version 2>&1 | grep -qE 'version "2[5-9]' || fail "a Java 25 is needed (set JAVA_HOME)"
elapsed "building -Pgpu"
./mvnw -B -q $MVN_OFFLINE -Pgpu package -DskipTests || fail "the -Pgpu build failed (is onnxruntime_gpu 1.29.0 reachable, or in ~/.m2 with --offline?)"
ls target/quarkus-app/lib/main/com.microsoft.onnxruntime.onnxruntime_gpu-*.jar > /dev/null 2>&1 \
  || fail "the packaged server does not carry onnxruntime_gpu"
[ -f load-tests/target/spindle-load.jar ] || ./mvnw -B -q $MVN_OFFLINE -f load-tests/pom.xml package -DskipTests
mkdir -p "$OUT"
if [ "$DRY" = 1 ]; then PROVIDER_OPT=cpu; else PROVIDER_OPT=cuda; fi

load() { timeout 300 "$JAVA" -jar load-tests/target/spindle-load.jar --url "http://127.0.0.1:$PORT" --no-progress \
  --model demo-gpt2-in-place-kv "$@" > /dev/null; }
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); c=d['levels'][0]['client']; print(eval(sys.argv[2]))" "$1" "$2"; }
# The runner's idle line (last one in the log), as "N bytes (host to device A, device to host B[, device to device C])".
step_bytes() {
  local line
  line=$(grep -E 'io binding \(ffm|official API \(java-api\)' "$1" | tail -1 || true)
  [ -n "$line" ] || { echo "no counter line in $1"; return; }
  python3 - "$line" <<'PY'
import re, sys
l = sys.argv[1]
m = re.search(r'last step moved (\d+) bytes \(host to device (\d+), device to host (\d+), device to device (\d+)\)', l)
if m:
    print(f"{m[1]} bytes (host to device {m[2]}, device to host {m[3]}, device to device {m[4]}); KV cache in "
          + re.search(r'KV cache in ([^)]*\])', l)[1])
else:
    m = re.search(r'handed ONNX Runtime (\d+) bytes of host buffers \(in (\d+), out (\d+)\)', l)
    print(f"{m[1]} bytes (host to device {m[2]}, device to host {m[3]}); KV cache in host memory" if m else l)
PY
}

SUMMARY=""
for B in ${BINDINGS//,/ }; do
  LOG="$OUT/server-$B.log"
  elapsed "starting the server: io-binding=$B, provider $PROVIDER_OPT, preset $PRESET"
  ORT_DISABLE_TELEMETRY=1 OPT_OUT_TRACKING=true "$JAVA" --enable-native-access=ALL-UNNAMED -Dai.djl.offline=true \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$PORT" \
    -Dspindle.runtime.execution-provider=$PROVIDER_OPT -Dspindle.runtime.io-binding="$B" \
    -Dspindle.demo.preset="$PRESET" -Dspindle.demo.layouts=in-place-kv -Dspindle.models.kv-dtype="$KV_DTYPE" \
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
  PROVIDER=$(curl -sf "http://127.0.0.1:$PORT/v1/models" | python3 -c '
import json, sys
m = [m["spindle"] for m in json.load(sys.stdin)["data"] if m["id"] == "demo-gpt2-in-place-kv"]
if not m:
    print("demo-gpt2-in-place-kv NOT SERVED")
else:
    kv = m[0].get("kv_cache") or {}
    print(m[0]["execution_provider"] + ", " + str(kv.get("dtype")) + " KV cache in " + str(kv.get("location"))
          + " memory, budget " + str(kv.get("budget_bytes")) + " bytes")')
  grep -q "CUDA execution provider requested.*unavailable" "$LOG" && PROVIDER="$PROVIDER (CUDA FELL BACK TO CPU: see $LOG)"
  grep -q "Some nodes were not assigned to the preferred execution providers" "$LOG" \
    && PROVIDER="$PROVIDER; ONNX Runtime placed some nodes on the CPU provider (see $LOG)"
  elapsed "io-binding=$B: $PROVIDER; loads"
  load --concurrency 4 --requests 8 --input-tokens 16 --output-tokens 32 --seed 900 --out "$OUT/$B-warmup"
  load --concurrency 1 --requests 4 --input-tokens 16 --output-tokens 128 --seed 1 --out "$OUT/$B-c1"
  sleep 1
  BYTES=$(step_bytes "$LOG")
  load --concurrency 32 --requests 64 --input-tokens 16 --output-tokens 64 --seed 2 --out "$OUT/$B-c32"
  load --concurrency 1 --requests 3 --input-tokens 960 --output-tokens 1 --seed 3 --out "$OUT/$B-ttft960"
  REPORT="== io-binding=$B
provider used:                $PROVIDER
batch-1 tokens/s:             $(field "$OUT/$B-c1/results.json" 'round(c["outputTokensPerSecond"], 1)')
32-stream aggregate tokens/s: $(field "$OUT/$B-c32/results.json" 'round(c["outputTokensPerSecond"], 1)')
TTFT, 960-token prompt, ms:   $(field "$OUT/$B-ttft960/results.json" 'round(c["ttft"]["p50"], 1)') (p50 of 3)
failed requests:              $(field "$OUT/$B-c32/results.json" 'c["failed"]') of 64 at 32 streams
bytes per decode step:        $BYTES"
  echo "$REPORT"
  SUMMARY="$SUMMARY$REPORT
"
  kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true
  trap - EXIT
done
echo "$SUMMARY" > "$OUT/summary.txt"
[ "$DRY" = 1 ] && echo "(CPU dry run: not GPU figures)" | tee -a "$OUT/summary.txt"
elapsed "gpu-check done; logs and results under $OUT (summary.txt)"
