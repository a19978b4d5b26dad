"""Consistency of the Gateway API Inference Extension pieces (overlays/inference-gateway) with each
other and with Spindle: the InferencePool selects the Spindle pods and only them on their container
port, the endpoint picker (EPP) is reachable where the pool says, reads metrics Spindle exports under
the path Spindle serves them on, may read what it must, and hashes prompts in blocks of Spindle's
prefix-cache block size.

What the EPP accepts is pinned to the release the overlay runs (registry.k8s.io/
gateway-api-inference-extension/epp:v1.4.0). The facts below were read in kubernetes-sigs/
gateway-api-inference-extension through a search index that stores file versions by commit; none of
those commits is known to be the v1.4.0 tag itself, so they are v1.3/v1.4-era code, not the tag:
  pkg/epp/server/options.go @0e82c62154c6      flag names and defaults (ports 9002/9003/9090,
                                               /metrics, the five metric flags, --tracing)
  pkg/epp/datalayer/metrics/extractor.go @0992c12ce15b   cache info: labels block_size and
                                               num_gpu_blocks, parsed as integers
  pkg/epp/datalayer/metrics/spec.go @09f46113c1ee        selector syntax; "" turns a series off;
  pkg/epp/backend/metrics/metrics.go @66e0376cb304       one series per flag (newest timestamp)
  pkg/epp/scheduling/framework/plugins/multi/prefix/plugin.go (commit not exposed by the index)
                                               blockSizeTokens, autoTune, 4 characters per token
  cmd/epp/runner/runner.go (pflag era; commit not exposed)   in-tree plugin types
  site-src/guides/epp-configuration/config-text.md @076fbf8f637c   EndpointPickerConfig format
  config/charts/inferencepool/templates/{epp-deployment,rbac,epp-config}.yaml
    @9d1514a3607e, @503b050aacce, @139eec852f4a           Deployment shape, RBAC, default weights"""
import os
import re

import yaml

import check_rbac

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
METRIC_NAMES_JAVA = os.path.join(ROOT, "src/main/java/io/spindle/metrics/MetricNames.java")
METRICS_DOC = os.path.join(ROOT, "docs/metrics.md")

POOL_GROUP = "inference.networking.k8s.io"
EPP_CONFIG_API = "inference.networking.x-k8s.io/v1alpha1"
# Defaults of the v1.4 EPP's flags (pkg/epp/server/options.go upstream).
EPP_DEFAULTS = {"grpc-port": "9002", "grpc-health-port": "9003", "metrics-port": "9090",
                "model-server-metrics-path": "/metrics", "metrics-endpoint-auth": "true"}
# Which Spindle series feeds which model-server-protocol input. Unset flags fall back to vllm:*
# names, which Spindle does not export, so every one must be set.
EPP_METRIC_FLAGS = {
    "total-queued-requests-metric": "spindle_requests_waiting",
    "total-running-requests-metric": "spindle_requests_running",
    "kv-cache-usage-percentage-metric": "spindle_kv_cache_usage_ratio",
    "cache-info-metric": "spindle_cache_config_info",
}
# Series the overlay names that this tree does not export yet (issue 15 adds them). Reported on
# every run, not passed silently; remove a name once MetricNames and docs/metrics.md have it.
PENDING_METRICS = set()
# Labels a metric spec may select on: Spindle's gauges carry only "model" (docs/metrics.md).
SELECTABLE_LABELS = {"model"}
# In-tree plugin types of the v1.4 EPP that this check knows (cmd/epp/runner/runner.go
# registerInTreePlugins, site-src/guides/epp-configuration/config-text.md upstream).
KNOWN_PLUGINS = {"queue-scorer", "kv-cache-utilization-scorer", "prefix-cache-scorer", "lora-affinity-scorer",
                 "max-score-picker", "random-picker", "single-profile-handler"}
PICKERS = {"max-score-picker", "random-picker"}
REQUIRED_SCORERS = ("prefix-cache-scorer", "queue-scorer", "kv-cache-utilization-scorer")
# prefix-cache-scorer parameters of v1.3+; "blockSize" (characters) is deprecated there and fails
# plugin creation unless blockSizeTokens is also set.
PREFIX_PARAMS = {"autoTune", "blockSizeTokens", "maxPrefixBlocksToMatch", "lruCapacityPerServer"}
# spindle.engine.prefix-cache.block-size when application.properties leaves it out.
SPINDLE_PREFIX_BLOCK_DEFAULT = 16


def parse_args(args):
    """EPP arguments as {flag: value}; accepts --flag=value, --flag value and bare boolean --flag."""
    flags, i = {}, 0
    while i < len(args):
        a = str(args[i])
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            if not eq:
                if i + 1 < len(args) and not str(args[i + 1]).startswith("-"):
                    value = str(args[i + 1])
                    i += 1
                else:
                    value = "true"
            flags[name] = value
        i += 1
    return flags


def metric_spec(spec):
    """'name{l1=v1,l2="v2"}' -> (name, {l1: v1, ...}), the syntax the EPP's metric flags take."""
    m = re.fullmatch(r"\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{(.*)\})?\s*", spec)
    if not m:
        return None, None
    labels = {}
    for pair in filter(None, (p.strip() for p in (m.group(2) or "").split(","))):
        k, _, v = pair.partition("=")
        labels[k.strip()] = v.strip().strip('"')
    return m.group(1), labels


def exported_metrics():
    """(names in MetricNames' comments, {name: type} of the docs/metrics.md catalogue)."""
    code = set(re.findall(r"/\*\*\s*([a-z_]+):", open(METRIC_NAMES_JAVA).read()))
    doc, in_catalogue = {}, False
    for line in open(METRICS_DOC):
        if line.startswith("## "):
            in_catalogue = line.strip() == "## Catalogue"
        m = re.match(r"\|\s*`([a-z_]+)`\s*\|\s*(\w+)\s*\|", line)
        if in_catalogue and m:
            doc.setdefault(m.group(1), m.group(2))
    return code, doc


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check(docs, spindle_dep, props):
    """Returns error messages; prints notes for what is pending rather than wrong."""
    errors = []

    def check_(cond, msg):
        if not cond:
            errors.append(msg)

    def of(kind):
        return [d for d in docs if d.get("kind") == kind]

    pools = of("InferencePool")
    check_(len(pools) == 1, f"expected one InferencePool, found {len(pools)}")
    if len(pools) != 1:
        return errors
    pool = pools[0]
    pool_name, pool_ns = pool["metadata"]["name"], pool["metadata"].get("namespace")
    spec = pool["spec"]
    spindle_pod = spindle_dep["spec"]["template"]
    spindle_app = next(c for c in spindle_pod["spec"]["containers"] if c["name"] == "spindle")
    spindle_ports = {p["containerPort"] for p in spindle_app.get("ports", [])}

    # The pool is the Spindle pods, on their serving port, and nothing else.
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    check_(selects(selector, spindle_pod["metadata"]["labels"]), "InferencePool selector misses the Spindle pods")
    for d in of("Deployment") + of("StatefulSet"):
        if d is not spindle_dep and selects(selector, d["spec"]["template"]["metadata"].get("labels", {})):
            check_(False, f"InferencePool selector also selects the pods of {d['kind']}/{d['metadata']['name']}")
    target_ports = [p.get("number") for p in spec.get("targetPorts") or []]
    check_(bool(target_ports), "InferencePool has no targetPorts")
    if not target_ports:
        return errors
    for n in target_ports:
        check_(n in spindle_ports, f"InferencePool targetPort {n} is not a Spindle container port {sorted(spindle_ports)}")

    # The endpoint picker: the Service the pool names, and the Deployment behind it.
    ref = spec.get("endpointPickerRef") or {}
    check_(ref.get("kind", "Service") == "Service" and not ref.get("group"),
           "endpointPickerRef must name a core Service (the only kind this overlay deploys)")
    check_("port" in ref, "endpointPickerRef.port is required for a Service (a CEL rule the schema check skips)")
    svcs = [s for s in of("Service") if s["metadata"]["name"] == ref.get("name")
            and s["metadata"].get("namespace") == pool_ns]
    check_(len(svcs) == 1, f"endpointPickerRef Service {ref.get('name')} is not in the rendered manifests")
    if len(svcs) != 1:
        return errors
    epp_svc = svcs[0]
    epp_deps = [d for d in of("Deployment")
                if selects(epp_svc["spec"].get("selector"), d["spec"]["template"]["metadata"].get("labels", {}))]
    check_(len(epp_deps) == 1, f"Service {ref.get('name')} selects {len(epp_deps)} Deployments' pods, expected the EPP's")
    check_(not selects(epp_svc["spec"].get("selector"), spindle_pod["metadata"]["labels"]),
           f"Service {ref.get('name')} also selects the Spindle pods")
    if len(epp_deps) != 1:
        return errors
    epp_dep = epp_deps[0]
    epp_pod = epp_dep["spec"]["template"]["spec"]
    epp = next((c for c in epp_pod["containers"] if c["name"] == "epp"), epp_pod["containers"][0])
    flags = {**EPP_DEFAULTS, **parse_args(epp.get("args", []))}
    epp_ports = {p.get("name"): p["containerPort"] for p in epp.get("ports", [])}

    svc_port = next((p for p in epp_svc["spec"]["ports"] if p["port"] == (ref.get("port") or {}).get("number")), None)
    check_(svc_port is not None, f"endpointPickerRef port {(ref.get('port') or {}).get('number')} is not a port of "
           f"Service {epp_svc['metadata']['name']}")
    if svc_port is not None:
        target = svc_port.get("targetPort", svc_port["port"])
        target = epp_ports.get(target) if isinstance(target, str) else target
        check_(str(target) == flags["grpc-port"],
               f"endpointPickerRef reaches container port {target}, the EPP serves ext_proc on --grpc-port {flags['grpc-port']}")
    for probe in ("livenessProbe", "readinessProbe"):
        check_(str((epp.get(probe) or {}).get("grpc", {}).get("port")) == flags["grpc-health-port"],
               f"EPP {probe} is not the gRPC health check on --grpc-health-port {flags['grpc-health-port']}")

    # The EPP watches this pool.
    check_(flags.get("pool-name") == pool_name, f"EPP --pool-name {flags.get('pool-name')!r} != InferencePool {pool_name!r}")
    check_(flags.get("pool-group", POOL_GROUP) == POOL_GROUP, f"EPP --pool-group must be {POOL_GROUP}")
    epp_env = {e["name"]: e for e in epp.get("env", [])}
    pool_ns_flag = flags.get("pool-namespace")
    if pool_ns_flag == "$(NAMESPACE)":
        check_(epp_env.get("NAMESPACE", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.namespace"
               and epp_dep["metadata"].get("namespace") == pool_ns,
               "EPP --pool-namespace=$(NAMESPACE) needs NAMESPACE from metadata.namespace and the pool's namespace")
    else:
        check_(pool_ns_flag == pool_ns, f"EPP --pool-namespace {pool_ns_flag!r} != the InferencePool's {pool_ns!r}")

    # It scrapes what Spindle serves, where Spindle serves it: the first target port and /q/metrics.
    annotations = spindle_pod["metadata"].get("annotations", {})
    check_(flags["model-server-metrics-path"] == annotations.get("prometheus.io/path"),
           f"EPP --model-server-metrics-path {flags['model-server-metrics-path']} != Spindle's metrics path "
           f"{annotations.get('prometheus.io/path')}")
    scrape_port = int(flags.get("model-server-metrics-port") or target_ports[0])
    check_(str(scrape_port) == annotations.get("prometheus.io/port"),
           f"the EPP scrapes port {scrape_port}, Spindle serves metrics on {annotations.get('prometheus.io/port')}")
    check_(flags.get("model-server-metrics-scheme", "http") == "http", "Spindle serves metrics over plain http")

    # ...under Spindle's names, with the model-server protocol's meaning.
    code, doc = exported_metrics()
    for flag, expected in EPP_METRIC_FLAGS.items():
        value = flags.get(flag)
        if value is None:
            check_(False, f"EPP --{flag} unset: it would scrape the vLLM default name, which Spindle does not export")
            continue
        name, labels = metric_spec(value)
        check_(name == expected, f"EPP --{flag}={value!r}: expected {expected}")
        check_(name is not None and set(labels) <= SELECTABLE_LABELS,
               f"EPP --{flag}={value!r}: Spindle's gauges carry only the labels {sorted(SELECTABLE_LABELS)}")
        if name in code and name in doc:
            check_(doc[name] == "gauge", f"EPP --{flag}: {name} is a {doc[name]} in docs/metrics.md, expected a gauge")
        elif name in PENDING_METRICS and name not in code and name not in doc:
            print(f"k8s: PENDING: EPP --{flag} names {name}, which this tree does not export yet "
                  f"(issue 15); until it does the EPP logs a missing family and autoTune uses epp-config.yaml's values")
        else:
            check_(name in code, f"EPP --{flag}: {name} is not in MetricNames.java (not exported)")
            check_(name in doc, f"EPP --{flag}: {name} is not in the docs/metrics.md catalogue")
    check_(flags.get("lora-info-metric") == "",
           "EPP --lora-info-metric must be empty: Spindle serves no LoRA adapters and exports no LoRA series")

    # The plugin configuration: mounted, parseable, with the scorers the cache-aware routing needs.
    cfg = load_epp_config(docs, epp_dep, epp, flags.get("config-file"), check_)
    if cfg is not None:
        check_epp_config(cfg, props, check_)

    # Gateway and route: /v1 goes to this pool.
    gateways = {g["metadata"]["name"] for g in of("Gateway") if g["metadata"].get("namespace") == pool_ns}
    routed = False
    for r in of("HTTPRoute"):
        parents = [p.get("name") for p in r["spec"].get("parentRefs", [])]
        check_(all(p in gateways for p in parents), f"HTTPRoute/{r['metadata']['name']} parents {parents} "
               f"are not Gateways in the rendered manifests {sorted(gateways)}")
        for rule in r["spec"].get("rules", []):
            to_pool = any(b.get("group") == POOL_GROUP and b.get("kind") == "InferencePool"
                          and b.get("name") == pool_name for b in rule.get("backendRefs", []))
            paths = [(m.get("path") or {}).get("value", "/") for m in rule.get("matches") or [{}]]
            routed |= to_pool and any(p in ("/", "/v1", "/v1/") for p in paths)
    check_(routed, f"no HTTPRoute rule sends /v1 (Spindle's OpenAI API) to InferencePool {pool_name}")

    # Lifecycle and access.
    check_(epp_pod.get("terminationGracePeriodSeconds", 30) >= spindle_pod["spec"].get("terminationGracePeriodSeconds", 30),
           "the EPP's grace period is shorter than the Spindle pods' (the gateway consults it for whole streams)")
    sa = epp_pod.get("serviceAccountName", "default")
    ns = epp_dep["metadata"].get("namespace")
    check_(epp_pod.get("automountServiceAccountToken", True) is not False,
           "the EPP needs its service-account token (it watches pods and the pool)")
    for group, resource in (("", "pods"), (POOL_GROUP, "inferencepools")):
        check_(check_rbac.grants(docs, sa, ns, group, resource, ("get", "list", "watch")),
               f"ServiceAccount {sa} may not get/list/watch {resource or group}")
    if flags["metrics-endpoint-auth"] != "false":
        for group, resource in (("authentication.k8s.io", "tokenreviews"), ("authorization.k8s.io", "subjectaccessreviews")):
            check_(check_rbac.grants(docs, sa, ns, group, resource, ("create",), cluster=True),
                   f"--metrics-endpoint-auth needs a ClusterRole letting {sa} create {resource}")
    return errors


def load_epp_config(docs, epp_dep, epp, path, check_):
    if not path:
        check_(False, "EPP has no --config-file (the default profile has no prefix-cache scorer)")
        return None
    mount = next((m for m in epp.get("volumeMounts", []) if path.startswith(m["mountPath"].rstrip("/") + "/")), None)
    volume = next((v for v in epp_dep["spec"]["template"]["spec"].get("volumes", [])
                   if mount and v["name"] == mount["name"]), None)
    cm_name = ((volume or {}).get("configMap") or {}).get("name")
    cms = [c for c in docs if c.get("kind") == "ConfigMap" and c["metadata"]["name"] == cm_name]
    key = os.path.basename(path)
    if not cms or key not in (cms[0].get("data") or {}):
        check_(False, f"EPP --config-file {path} is not a key of a ConfigMap mounted in the EPP pod")
        return None
    try:
        return yaml.safe_load(cms[0]["data"][key])
    except yaml.YAMLError as e:
        check_(False, f"EPP config {key} is not YAML: {e}")
        return None


def check_epp_config(cfg, props, check_):
    check_(cfg.get("apiVersion") == EPP_CONFIG_API and cfg.get("kind") == "EndpointPickerConfig",
           f"EPP config must start apiVersion {EPP_CONFIG_API}, kind EndpointPickerConfig")
    plugins = {}
    for p in cfg.get("plugins") or []:
        check_(p.get("type") in KNOWN_PLUGINS, f"EPP config: unknown plugin type {p.get('type')!r}")
        plugins[p.get("name", p.get("type"))] = p
    profiles = cfg.get("schedulingProfiles") or []
    check_(len(profiles) == 1, "EPP config: one scheduling profile expected (single-profile-handler)")
    for prof in profiles:
        refs = {r.get("pluginRef"): r.get("weight", 1) for r in prof.get("plugins", [])}
        for ref in refs:
            check_(ref in plugins, f"EPP config: profile {prof.get('name')} refers to undefined plugin {ref!r}")
        types = {plugins[r]["type"]: w for r, w in refs.items() if r in plugins}
        for scorer in REQUIRED_SCORERS:
            check_(types.get(scorer, 0) > 0, f"EPP config: profile {prof.get('name')} has no {scorer} with a positive weight")
        check_(any(t in PICKERS for t in types), f"EPP config: profile {prof.get('name')} has no picker")
    block = int(props.get("spindle.engine.prefix-cache.block-size", SPINDLE_PREFIX_BLOCK_DEFAULT))
    for p in plugins.values():
        if p.get("type") != "prefix-cache-scorer":
            continue
        params = p.get("parameters") or {}
        check_(not set(params) - PREFIX_PARAMS, f"EPP config: prefix-cache-scorer parameters "
               f"{sorted(set(params) - PREFIX_PARAMS)} unknown to v1.4 (blockSize in characters is deprecated)")
        check_(params.get("blockSizeTokens") == block,
               f"EPP config: prefix-cache-scorer blockSizeTokens {params.get('blockSizeTokens')} != Spindle's "
               f"spindle.engine.prefix-cache.block-size {block}")
        cap = params.get("lruCapacityPerServer")
        check_(cap is None or (isinstance(cap, int) and cap > 0), "EPP config: lruCapacityPerServer must be a positive integer")
