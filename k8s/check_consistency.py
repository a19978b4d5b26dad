#!/usr/bin/env python3
"""Checks what a schema cannot: that the rendered manifests of one overlay agree with each other and
with Spindle's configuration.  Usage: check_consistency.py RENDERED.yaml OVERLAY_DIR"""
import re
import sys

import yaml

sys.dont_write_bytecode = True  # no __pycache__ beside the manifests for the modules below
import check_inference_gateway  # noqa: E402
import check_rbac  # noqa: E402

# The label base/kustomization.yaml puts on every object of the server itself; other objects of an
# overlay (the inference gateway's endpoint picker) carry their own name.
SPINDLE_NAME = "spindle"
DRAIN_EXIT_MARGIN_S = 10
# Memory formula (docs/architecture.md, "How much memory a configuration needs"):
#   limit >= 2 x kv-cache-memory (two alternating cache buffer sets) + heap (-Xmx) + 1 GiB
#   (weights of GPT-2 small ~0.5 GiB, JVM and libraries ~0.35 GiB, activations ~0.15 GiB).
MIN_MEMORY_BEYOND_KV_AND_HEAP = 1 << 30
UNITS = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}


def quantity(q):
    m = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(q))
    return float(m.group(1)) * UNITS[m.group(2)]


def spindle_size(v):
    """Quarkus MemorySize: a number with an optional K, M, G or T suffix (powers of 1024)."""
    m = re.fullmatch(r"([0-9]+)([KMGTkmgt]?)", v.strip())
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]


def seconds(v):
    m = re.fullmatch(r"([0-9]+)(ms|s|m|h)?", v.strip())
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def main(path, overlay):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    by_kind = {}
    for d in docs:
        if (d.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/name") == SPINDLE_NAME:
            by_kind.setdefault(d["kind"], []).append(d)
    errors = []

    def check(cond, msg):
        if not cond:
            errors.append(msg)

    for kind in ("Deployment", "Service", "ConfigMap", "PersistentVolumeClaim", "HorizontalPodAutoscaler",
                 "PodDisruptionBudget", "ServiceMonitor", "ServiceAccount"):
        check(len(by_kind.get(kind, [])) == 1,
              f"expected one Spindle {kind} (label app.kubernetes.io/name={SPINDLE_NAME}), "
              f"found {len(by_kind.get(kind, []))}")
    if errors:
        return report(overlay, errors)

    dep = by_kind["Deployment"][0]
    pod = dep["spec"]["template"]
    spec = pod["spec"]
    app = next(c for c in spec["containers"] if c["name"] == "spindle")
    labels = pod["metadata"]["labels"]
    props = {}
    cm = by_kind["ConfigMap"][0]
    for line in cm["data"]["application.properties"].splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            props[k.strip()] = v.strip()

    # Configuration reaches the container.
    check(any(v.get("configMap", {}).get("name") == cm["metadata"]["name"] for v in spec["volumes"]),
          "the config map is not mounted")
    check(any(m["mountPath"] == "/deployments/config" for m in app["volumeMounts"]),
          "application.properties is not mounted at /deployments/config")

    # Drain: grace period covers preStop + drain timeout + exit.
    drain = seconds(props.get("spindle.shutdown.drain-timeout", "30s"))
    pre_stop = app.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    grace = spec.get("terminationGracePeriodSeconds", 30)
    check(grace >= pre_stop + drain + DRAIN_EXIT_MARGIN_S,
          f"terminationGracePeriodSeconds {grace} < preStop {pre_stop} + drain {drain} + {DRAIN_EXIT_MARGIN_S}")

    env = {e["name"]: e.get("value") for e in app.get("env", [])}
    # Memory sized from the KV budget; requests == limits for memory (no overcommit of native memory).
    kv = spindle_size(props.get("spindle.engine.kv-cache-memory", "1G"))
    limit = quantity(app["resources"]["limits"]["memory"])
    xmx = re.search(r"-Xmx([0-9]+[kKmMgG]?)", env.get("JAVA_TOOL_OPTIONS") or "")
    check(xmx is not None, "JAVA_TOOL_OPTIONS sets no -Xmx, so the heap cannot be counted in the memory limit")
    heap = spindle_size(xmx.group(1)) if xmx else 0
    need = 2 * kv + heap + MIN_MEMORY_BEYOND_KV_AND_HEAP
    check(limit >= need, f"memory limit {limit / 2**30:.2f} GiB < 2 x KV budget {kv / 2**30:.2f} GiB + heap "
          f"{heap / 2**30:.2f} GiB + 1 GiB for weights, JVM and activations = {need / 2**30:.2f} GiB")
    check(app["resources"]["requests"]["memory"] == app["resources"]["limits"]["memory"],
          "memory request and limit differ")

    # Probes on the Quarkus health endpoints.
    for probe, path_ in (("startupProbe", "/q/health/started"), ("readinessProbe", "/q/health/ready"),
                         ("livenessProbe", "/q/health/live")):
        check(app.get(probe, {}).get("httpGet", {}).get("path") == path_, f"{probe} is not on {path_}")

    # No telemetry, in the pod spec as well as in the server.
    check(env.get("ORT_DISABLE_TELEMETRY") == "1", "ORT_DISABLE_TELEMETRY=1 missing")
    check(env.get("OPT_OUT_TRACKING") == "true", "OPT_OUT_TRACKING=true missing")
    check("-Dai.djl.offline=true" in (env.get("JAVA_TOOL_OPTIONS") or ""), "-Dai.djl.offline=true missing")

    # Non-root, read-only root file system, and something writable for what must be written.
    check(spec["securityContext"].get("runAsNonRoot") is True, "pod may run as root")
    sc = app["securityContext"]
    check(sc.get("readOnlyRootFilesystem") is True, "root file system is writable")
    check(sc.get("allowPrivilegeEscalation") is False, "privilege escalation allowed")
    mounts = {m["mountPath"] for m in app["volumeMounts"]}
    check("/tmp" in mounts, "no writable /tmp")
    cache = props.get("spindle.demo.cache-dir", "")
    check(any(cache.startswith(m + "/") for m in mounts), f"demo cache dir {cache} is on no mounted volume")
    models = props.get("spindle.models.dir", "")
    check(models in mounts, f"models dir {models} is not a mount")
    check(any(v.get("persistentVolumeClaim", {}).get("claimName") == by_kind["PersistentVolumeClaim"][0]
              ["metadata"]["name"] for v in spec["volumes"]), "the models PVC is not mounted")

    # Selectors select the pods.
    def selects(selector):
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

    check(selects(dep["spec"]["selector"]["matchLabels"]), "Deployment selector misses its pods")
    svc = by_kind["Service"][0]
    check(selects(svc["spec"]["selector"]), "Service selector misses the pods")
    check(selects(by_kind["PodDisruptionBudget"][0]["spec"]["selector"]["matchLabels"]), "PDB misses the pods")
    sm = by_kind["ServiceMonitor"][0]
    check(all(svc["metadata"]["labels"].get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items()),
          "ServiceMonitor misses the Service")
    port_names = {p["name"] for p in svc["spec"]["ports"]}
    check(all(e["port"] in port_names and e["path"] == "/q/metrics" for e in sm["spec"]["endpoints"]),
          "ServiceMonitor does not scrape /q/metrics on a Service port")
    hpa = by_kind["HorizontalPodAutoscaler"][0]
    check(hpa["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"], "HPA targets another Deployment")
    metric_names = [m.get("pods", {}).get("metric", {}).get("name") for m in hpa["spec"]["metrics"]]
    check("spindle_requests_waiting" in metric_names, "HPA does not scale on spindle_requests_waiting")
    check(any(m["type"] == "Resource" for m in hpa["spec"]["metrics"]), "HPA has no CPU fallback")

    keys_file = env.get("SPINDLE_API_KEYS_FILE")
    if keys_file:
        secret_mounts = {m["mountPath"] for m in app["volumeMounts"]
                         if any(v["name"] == m["name"] and "secret" in v for v in spec["volumes"])}
        check(any(keys_file.startswith(mp + "/") for mp in secret_mounts),
              f"SPINDLE_API_KEYS_FILE {keys_file} is not in a mounted Secret")

    # Objects no schema in the offline set covers (RBAC), and the inference gateway's pieces.
    errors.extend(check_rbac.check(docs))
    if any(d["kind"] == "InferencePool" for d in docs) or "inference-gateway" in overlay:
        errors.extend(check_inference_gateway.check(docs, dep, props))

    if "gpu" in overlay:
        check(app["resources"]["limits"].get("nvidia.com/gpu") == "1", "GPU overlay requests no GPU")
        check(":" not in dep["spec"]["template"]["spec"]["containers"][0]["image"].split("/")[-1]
              or "gpu" in app["image"], "GPU overlay does not use the GPU image")
    return report(overlay, errors)


def report(overlay, errors):
    for e in errors:
        print(f"{overlay}: INCONSISTENT: {e}")
    if not errors:
        print(f"{overlay}: consistent")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
