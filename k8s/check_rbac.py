"""The shape of RBAC objects (Role, ClusterRole, RoleBinding, ClusterRoleBinding), which the offline
schema set does not cover: validate.sh lists them as not schema-checked, and this module checks the
fields an API server would reject or that would silently grant nothing. It is not a schema: it knows
the fields of rbac.authorization.k8s.io/v1 these manifests use, and flags any other."""

RBAC_API = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"
TOP_LEVEL = {
    "Role": {"apiVersion", "kind", "metadata", "rules"},
    "ClusterRole": {"apiVersion", "kind", "metadata", "rules", "aggregationRule"},
    "RoleBinding": {"apiVersion", "kind", "metadata", "subjects", "roleRef"},
    "ClusterRoleBinding": {"apiVersion", "kind", "metadata", "subjects", "roleRef"},
}
RULE_FIELDS = {"apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"}
SUBJECT_FIELDS = {"kind", "name", "namespace", "apiGroup"}
ROLE_REF_FIELDS = {"apiGroup", "kind", "name"}
VERBS = {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*",
         "use", "bind", "escalate", "impersonate", "approve", "sign"}


def _strings(v):
    return isinstance(v, list) and v and all(isinstance(x, str) for x in v)


def check(docs):
    """Returns a list of error messages for the RBAC documents among docs."""
    errors = []
    rbac = [d for d in docs if d.get("kind") in TOP_LEVEL]
    names = {(d["kind"], (d.get("metadata") or {}).get("namespace"), (d.get("metadata") or {}).get("name"))
             for d in docs}
    for d in rbac:
        kind = d["kind"]
        meta = d.get("metadata") or {}
        label = f"{kind}/{meta.get('name')}"
        if d.get("apiVersion") != RBAC_API:
            errors.append(f"{label}: apiVersion {d.get('apiVersion')!r}, expected {RBAC_API}")
        unknown = set(d) - TOP_LEVEL[kind]
        if unknown:
            errors.append(f"{label}: unknown fields {sorted(unknown)}")
        if not meta.get("name"):
            errors.append(f"{label}: metadata.name missing")
        namespaced = kind in ("Role", "RoleBinding")
        if namespaced != bool(meta.get("namespace")):
            errors.append(f"{label}: {'needs' if namespaced else 'must not have'} metadata.namespace")

        if kind in ("Role", "ClusterRole"):
            rules = d.get("rules")
            if not isinstance(rules, list) or not rules:
                errors.append(f"{label}: no rules (grants nothing)")
                continue
            for i, r in enumerate(rules):
                if set(r) - RULE_FIELDS:
                    errors.append(f"{label}: rules[{i}] unknown fields {sorted(set(r) - RULE_FIELDS)}")
                if not _strings(r.get("verbs")) or set(r["verbs"]) - VERBS:
                    errors.append(f"{label}: rules[{i}].verbs missing or unknown: {r.get('verbs')}")
                if "nonResourceURLs" in r:
                    if namespaced:
                        errors.append(f"{label}: rules[{i}] nonResourceURLs only work in a ClusterRole")
                elif not (isinstance(r.get("apiGroups"), list) and _strings(r.get("resources"))):
                    errors.append(f"{label}: rules[{i}] needs apiGroups and resources")
        else:
            ref = d.get("roleRef") or {}
            if set(ref) != ROLE_REF_FIELDS or ref.get("apiGroup") != RBAC_GROUP:
                errors.append(f"{label}: roleRef needs exactly apiGroup {RBAC_GROUP}, kind and name")
            if kind == "ClusterRoleBinding" and ref.get("kind") != "ClusterRole":
                errors.append(f"{label}: a ClusterRoleBinding can only refer to a ClusterRole")
            target_ns = meta.get("namespace") if ref.get("kind") == "Role" else None
            if ref.get("kind") not in ("Role", "ClusterRole") or (ref.get("kind"), target_ns, ref.get("name")) not in names:
                errors.append(f"{label}: roleRef {ref.get('kind')}/{ref.get('name')} is not in the rendered manifests")
            subjects = d.get("subjects")
            if not isinstance(subjects, list) or not subjects:
                errors.append(f"{label}: no subjects (binds nobody)")
                continue
            for i, s in enumerate(subjects):
                if set(s) - SUBJECT_FIELDS or not s.get("name") or s.get("kind") not in ("ServiceAccount", "User", "Group"):
                    errors.append(f"{label}: subjects[{i}] malformed: {s}")
                elif s["kind"] == "ServiceAccount":
                    if not s.get("namespace"):
                        errors.append(f"{label}: subjects[{i}] ServiceAccount without namespace")
                    elif ("ServiceAccount", s["namespace"], s["name"]) not in names:
                        errors.append(f"{label}: subjects[{i}] ServiceAccount {s['namespace']}/{s['name']} "
                                      f"is not in the rendered manifests")
    return errors


def grants(docs, service_account, namespace, api_group, resource, verbs, cluster=False):
    """Whether the ServiceAccount is bound (RoleBinding in its namespace, or ClusterRoleBinding) to a
    role whose rules allow all of verbs on api_group/resource. cluster=True accepts ClusterRoleBindings only."""
    roles = {(d["kind"], (d["metadata"].get("namespace")), d["metadata"]["name"]): d
             for d in docs if d.get("kind") in ("Role", "ClusterRole")}
    for b in docs:
        if b.get("kind") not in (("ClusterRoleBinding",) if cluster else ("RoleBinding", "ClusterRoleBinding")):
            continue
        ns = b["metadata"].get("namespace")
        if b["kind"] == "RoleBinding" and ns != namespace:
            continue
        if not any(s.get("kind") == "ServiceAccount" and s.get("name") == service_account
                   and s.get("namespace") == namespace for s in b.get("subjects") or []):
            continue
        ref = b.get("roleRef") or {}
        role = roles.get((ref.get("kind"), ns if ref.get("kind") == "Role" else None, ref.get("name")))
        for r in (role or {}).get("rules") or []:
            if (api_group in r.get("apiGroups", []) or "*" in r.get("apiGroups", [])) \
                    and (resource in r.get("resources", []) or "*" in r.get("resources", [])) \
                    and (set(verbs) <= set(r.get("verbs", [])) or "*" in r.get("verbs", [])):
                return True
    return False
