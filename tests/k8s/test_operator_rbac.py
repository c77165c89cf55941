"""The operator Role (ecommerce-operator) grants exactly what the operations scripts' kubectl calls need.

Every kubectl call in scripts/*.sh and scripts/lib/*.sh is found by a scan of the sources (calls through the
`kube`, `kube::change` and `kube::apply_stdin` wrappers of scripts/lib/kube.sh, or "${KUBECTL}" directly) and
must be listed in CALLS below with the API rights it needs; the Role must grant the union of those rights and
nothing else. A new kubectl call in a script fails the first test until it is listed here, and a right the
Role gains or loses without a script needing it fails the second.

What kubectl asks the API server for, per command (kubectl 1.29 and later):
- get NAME: get; get without a name (or with -l): list.
- apply -f (client side): get the live object, then create or patch it.
- patch, annotate, set image, rollout restart: get, patch.   scale: get the Deployment, patch deployments/scale.
- rollout status: get, list, watch the Deployment.   rollout undo: get, patch it, list its ReplicaSets.
- delete NAME (waits for the deletion by default): delete, get, list, watch; with --wait=false: delete only.
- wait --for=delete -l: get, list, watch.
- exec / logs / port-forward on a workload or Service: get it, list (watch while none is ready) its pods, get
  the pod, then pods/exec, pods/log or pods/portforward. exec and port-forward are a POST (create) or, from
  kubectl 1.31 on, a WebSocket upgrade (an HTTP GET, authorized as get before Kubernetes 1.35): both verbs.
- create job --from=cronjob/X: get the CronJob, create the Job (--dry-run=client: the get only).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .conftest import ROOT, Doc, by_kind

SCRIPTS = ROOT / "scripts"

# Scripts the operator Role is not for. They run with the cluster administrator's credentials: deploy-all.sh
# creates the namespaces, the StorageClass, the monitoring objects in namespace monitoring and this very Role
# (and --helm installs the release, whose Helm storage is every release Secret); install-monitoring.sh installs
# cluster-wide charts and CRDs; e2e-kind.sh creates its own cluster; render-k8s.sh never calls kubectl.
# Likewise `rollback.sh --helm` (helm, not kubectl) needs the release owner's rights.
EXCLUDED = {"deploy-all.sh", "install-monitoring.sh", "e2e-kind.sh", "render-k8s.sh"}

Rights = frozenset[tuple[str, str, str]]  # (apiGroup, resource, verb)


def rights(group: str, resource: str, *verbs: str) -> Rights:
    return frozenset((group, resource, verb) for verb in verbs)


NONE: Rights = frozenset()
GET_DEPLOYMENT = rights("apps", "deployments", "get")
APPLY_DEPLOYMENT = rights("apps", "deployments", "get", "create", "patch")
PATCH_DEPLOYMENT = rights("apps", "deployments", "get", "patch")
ROLLOUT_STATUS = rights("apps", "deployments", "get", "list", "watch")
ROLLOUT_UNDO = rights("apps", "deployments", "get", "patch") | rights("apps", "replicasets", "list")
SCALE = GET_DEPLOYMENT | rights("apps", "deployments/scale", "patch")
DELETE_DEPLOYMENT = rights("apps", "deployments", "delete", "get", "list", "watch")
POD_OF_WORKLOAD = rights("", "pods", "get", "list", "watch")
EXEC = POD_OF_WORKLOAD | rights("", "pods/exec", "get", "create")
LOGS = POD_OF_WORKLOAD | rights("", "pods/log", "get")
INGRESS = "networking.k8s.io"
CRONJOB = rights("batch", "cronjobs", "get")
PORT_FORWARD = rights("", "services", "get") | POD_OF_WORKLOAD | rights("", "pods/portforward", "get", "create")

# (script, call) -> the rights it needs in the release's namespace. The call is the kubectl command as the scan
# below normalizes it: the verb, the resource argument with shell expansions as `*`, a few telling flags.
CALLS: dict[tuple[str, str], Rights] = {
    # scripts/lib/kube.sh: the helpers every script uses.
    ("kube.sh", "apply"): NONE,  # kube::apply_stdin; the applied kinds are listed at each caller
    ("kube.sh", "exec *"): EXEC | rights("apps", "deployments", "get") | rights("apps", "statefulsets", "get"),
    ("kube.sh", "exec pod/*"): EXEC,  # registry status changes inside each service-discovery pod
    ("kube.sh", "get job/*"): rights("batch", "jobs", "get"),
    ("kube.sh", "get replicasets"): rights("apps", "replicasets", "list"),
    ("kube.sh", "get deployment/*"): GET_DEPLOYMENT,
    ("kube.sh", "annotate replicaset/*"): rights("apps", "replicasets", "get", "patch"),  # rollback verdicts
    ("kube.sh", "get pods"): rights("", "pods", "list"),
    # scripts/lib/backup.sh: short-lived pods that mount the backup volume (list-backups.sh).
    ("backup.sh", "get cronjob/*"): rights("batch", "cronjobs", "get"),
    ("backup.sh", "apply-stdin pod-from-cronjob"): rights("", "pods", "get", "create", "patch"),
    ("backup.sh", "get pod/*"): rights("", "pods", "get"),
    ("backup.sh", "logs pod/*"): rights("", "pods", "get") | rights("", "pods/log", "get"),
    ("backup.sh", "delete pod * --wait=false"): rights("", "pods", "delete"),
    ("backup-database.sh", "create job * --from"): CRONJOB | rights("batch", "jobs", "create"),
    ("backup-database.sh", "create job * --from --dry-run=client"): rights("batch", "cronjobs", "get"),
    ("backup-database.sh", "set env --local"): NONE,  # edits the Job on stdin, no API call
    ("backup-database.sh", "apply-stdin job"): rights("batch", "jobs", "get", "create", "patch"),
    ("backup-database.sh", "logs job/*"): rights("batch", "jobs", "get") | LOGS,
    ("restore-database.sh", "get deployment/*"): GET_DEPLOYMENT,
    ("restore-database.sh", "get scaledobject *"): rights("keda.sh", "scaledobjects", "get"),
    ("restore-database.sh", "annotate scaledobject *"): rights("keda.sh", "scaledobjects", "get", "patch"),
    ("restore-database.sh", "scale deployment/*"): SCALE,
    ("restore-database.sh", "wait pod --for=delete"): rights("", "pods", "get", "list", "watch"),
    ("restore-database.sh", "get cronjob/*"): rights("batch", "cronjobs", "get"),
    ("restore-database.sh", "apply-stdin job-from-cronjob"): rights("batch", "jobs", "get", "create", "patch"),
    ("restore-database.sh", "logs job/*"): rights("batch", "jobs", "get") | LOGS,
    ("restore-database.sh", "rollout status deployment/*"): ROLLOUT_STATUS,
    # Releases.
    ("blue-green-deploy.sh", "get service *"): rights("", "services", "get"),
    ("blue-green-deploy.sh", "patch service *"): rights("", "services", "get", "patch"),
    ("blue-green-deploy.sh", "get deployment/*"): GET_DEPLOYMENT,
    ("blue-green-deploy.sh", "apply-stdin derive"): APPLY_DEPLOYMENT,
    ("blue-green-deploy.sh", "rollout status deployment/*"): ROLLOUT_STATUS,
    ("blue-green-deploy.sh", "delete deployment *"): DELETE_DEPLOYMENT,
    ("blue-green-deploy.sh", "get endpoints *"): rights("", "endpoints", "get"),
    ("blue-green-deploy.sh", "scale deployment/*"): SCALE,
    ("canary-deploy.sh", "get deployment/*"): GET_DEPLOYMENT,
    # --load: a bounded run of the load generator inside its pod, before each gate.
    ("canary-deploy.sh", "get deployment/loadgenerator"): GET_DEPLOYMENT,
    ("canary-deploy.sh", "exec deployment/loadgenerator"): EXEC | rights("apps", "deployments", "get"),
    ("canary-deploy.sh", "apply-stdin derive"): APPLY_DEPLOYMENT,
    ("canary-deploy.sh", "scale deployment/*"): SCALE,
    ("canary-deploy.sh", "rollout status deployment/*"): ROLLOUT_STATUS,
    ("canary-deploy.sh", "set image deployment/*"): PATCH_DEPLOYMENT,
    ("canary-deploy.sh", "rollout undo deployment/*"): ROLLOUT_UNDO,
    ("canary-deploy.sh", "delete deployment *"): DELETE_DEPLOYMENT,
    # Edge canaries: their own Service and nginx canary Ingress, removed either way.
    ("canary-deploy.sh", "get service/*"): rights("", "services", "get"),
    ("canary-deploy.sh", "apply-stdin canary_service"): rights("", "services", "get", "create", "patch"),
    ("canary-deploy.sh", "delete service *"): rights("", "services", "delete", "get", "list", "watch"),
    ("canary-deploy.sh", "get ingress"): rights(INGRESS, "ingresses", "list"),
    ("canary-deploy.sh", "apply-stdin ingress"): rights(INGRESS, "ingresses", "get", "create", "patch"),
    ("canary-deploy.sh", "delete ingress *"): rights(INGRESS, "ingresses", "delete", "get", "list", "watch"),
    # The gate's Prometheus port-forward goes to namespace monitoring, outside this Role (PROMETHEUS_URL
    # avoids it).
    ("canary-deploy.sh", "port-forward * *"): NONE,
    ("rollback.sh", "get deployment/*"): GET_DEPLOYMENT,
    ("rollback.sh", "rollout undo deployment/*"): ROLLOUT_UNDO,
    ("rollback.sh", "rollout status deployment/*"): ROLLOUT_STATUS,
    # Credentials.
    ("rotate-secrets.sh", "get secret *"): rights("", "secrets", "get"),
    ("rotate-secrets.sh", "patch secret *"): rights("", "secrets", "get", "patch"),
    ("rotate-secrets.sh", "exec statefulset/postgres"): EXEC | rights("apps", "statefulsets", "get"),
    ("rotate-secrets.sh", "rollout restart deployment/*"): PATCH_DEPLOYMENT,
    ("rotate-secrets.sh", "rollout status deployment/*"): ROLLOUT_STATUS,
    # scripts/lib/identity.sh: `rotate-secrets.sh identity` restarts every component through kube::workload
    # (`* *` is how the scan splits "$(kube::workload ...)"): nine Deployments and the registry's StatefulSet.
    ("identity.sh", "rollout restart * *"): PATCH_DEPLOYMENT | rights("apps", "statefulsets", "get", "patch"),
    ("identity.sh", "rollout status * *"): ROLLOUT_STATUS | rights("apps", "statefulsets", "get", "list", "watch"),
    # Health and access.
    ("health-check.sh", "get * *"): GET_DEPLOYMENT | rights("apps", "statefulsets", "get"),  # kube::workload
    ("health-check.sh", "get endpoints *"): rights("", "endpoints", "get"),
    ("health-check.sh", "exec statefulset/postgres"): EXEC | rights("apps", "statefulsets", "get"),
    ("health-check.sh", "get hpa"): rights("autoscaling", "horizontalpodautoscalers", "list"),
    ("health-check.sh", "get scaledobjects"): rights("keda.sh", "scaledobjects", "list"),
    # The components' Services in the release's namespace (the monitoring ones are outside this Role).
    ("port-forward-all.sh", "port-forward svc/*"): PORT_FORWARD,
}

_CALL = re.compile(r'(?:^|[\s|(;&!])(kube|kube::change|"\$\{KUBECTL\}")\s+')
_APPLY = re.compile(r"kube::apply_stdin\s")
_FLAGS = ("--from", "--dry-run=client", "--local", "--for=delete", "--wait=false")
_MULTI_WORD = {"rollout", "set", "create"}


def logical_lines(text: str) -> Iterator[str]:
    """Shell lines with their continuations joined (\\, and lines ending in a pipe or && / ||); no comments."""
    pending = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.lstrip().startswith("#"):
            continue
        pending += " " + line.removesuffix("\\")
        if line.endswith(("\\", "|", "&&", "||")):
            continue
        yield pending.strip()
        pending = ""
    if pending.strip():
        yield pending.strip()


def _word(token: str) -> str:
    """A shell word with quotes dropped and every expansion ($VAR, ${...}, $(...)) written as `*`."""
    token = token.strip("\"'")
    return re.sub(r"\$[({].*", "*", token) or "*"


def normalize(arguments: str) -> str | None:
    """`get "deployment/${x}" -o json` -> `get deployment/*`. None when the text is not a kubectl command."""
    tokens = arguments.split()
    while len(tokens) >= 2 and tokens[0] == "-n":
        tokens = tokens[2:]
    if not tokens or not re.fullmatch(r"[a-z][a-z-]*", tokens[0]):
        return None  # "${KUBECTL}" as a value (command -v, a dry-run message), not a call
    words = [tokens[0]]
    rest = tokens[1:]
    if tokens[0] in _MULTI_WORD and rest:
        words.append(rest.pop(0))
    stop = {">", ">/dev/null", "2>&1", "2>/dev/null", ">&2", "|", "||", "&&", ";", "<<<", "--"}
    for position, token in enumerate(rest):
        if token in stop or token.startswith((">", "2>", "|", ")", "<<<")):
            rest = rest[:position]
            break
    resource = next((t for t in rest if not t.startswith("-")), None)
    if resource is not None and words[0] not in {"exec", "port-forward", "logs"} and "=" in resource:
        resource = None  # an annotation or env assignment, not a resource
    if resource is not None and not (len(words) == 2 and words[0] == "set" and words[1] == "env"):
        words.append(_word(resource))
        following = rest[rest.index(resource) + 1 :]
        if following and not following[0].startswith("-") and "/" not in resource and words[0] != "exec":
            words.append(_word(following[0]))
    flags = [flag for flag in _FLAGS for token in rest if token.strip("\"'").startswith(flag)]
    return " ".join(words + sorted(set(flags), key=_FLAGS.index))


def applied_kind(line: str) -> str:
    """What a kube::apply_stdin line applies: the producer of its stdin."""
    for pattern in (
        r"kubeobj (derive|job-from-cronjob|pod-from-cronjob)",
        r"canary (service|ingress)",
        r"create (job)",
        r'<<<"\$\{(\w+)\}"\s*(?:>|$)',
    ):
        match = re.search(pattern, line)
        if match:
            return match.group(1)
    raise AssertionError(f"cannot tell what this applies: {line}")


def scanned_calls() -> dict[tuple[str, str], list[str]]:
    """(script, normalized call) -> the source lines, for every script the Role is for."""
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted([*SCRIPTS.glob("*.sh"), *SCRIPTS.glob("lib/*.sh")]):
        if path.name in EXCLUDED:
            continue
        for line in logical_lines(path.read_text()):
            if line.startswith(("kube() {", "kube::change() {")):
                continue
            for match in _CALL.finditer(line):
                arguments = line[match.end() :]
                if arguments.startswith('"$@"'):
                    continue  # the wrappers' own bodies
                call = normalize(arguments)
                if call is not None:
                    found.setdefault((path.name, call), []).append(line)
            if _APPLY.search(line) and "kube::apply_stdin()" not in line:
                found.setdefault((path.name, f"apply-stdin {applied_kind(line)}"), []).append(line)
    return found


def role_rights(docs: list[Doc]) -> Rights:
    [role] = [d for d in by_kind(docs, "Role") if d["metadata"]["name"] == "ecommerce-operator"]
    granted = set()
    for rule in role["rules"]:
        assert set(rule) <= {"apiGroups", "resources", "verbs"}, rule  # no resourceNames/nonResourceURLs
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    assert "*" not in (group, resource, verb), rule
                    granted.add((group, resource, verb))
    return frozenset(granted)


def test_the_scan_finds_the_scripts_kubectl_calls() -> None:
    calls = scanned_calls()
    # Spot checks that the scan sees calls through each wrapper and across continuation lines.
    for expected in [
        ("canary-deploy.sh", "delete ingress *"),
        ("canary-deploy.sh", "apply-stdin ingress"),
        ("blue-green-deploy.sh", "patch service *"),
        ("kube.sh", "annotate replicaset/*"),
        ("health-check.sh", "get scaledobjects"),
        ("port-forward-all.sh", "port-forward svc/*"),
        ("backup-database.sh", "create job * --from --dry-run=client"),
    ]:
        assert expected in calls, sorted(calls)
    assert {script for script, _ in calls} >= {
        "backup-database.sh",
        "blue-green-deploy.sh",
        "canary-deploy.sh",
        "health-check.sh",
        "backup.sh",
        "restore-database.sh",
        "rollback.sh",
        "rotate-secrets.sh",
    }
    for name in EXCLUDED:
        assert (SCRIPTS / name).exists(), f"{name} is excluded but does not exist"


def test_every_kubectl_call_of_the_scripts_is_listed_with_its_rights() -> None:
    calls = scanned_calls()
    unlisted = {key: lines[0] for key, lines in calls.items() if key not in CALLS}
    assert not unlisted, "kubectl calls missing from CALLS (add them with the rights they need):\n" + "\n".join(
        f"{key}: {line}" for key, line in sorted(unlisted.items())
    )
    stale = sorted(set(CALLS) - set(calls))
    assert not stale, f"CALLS lists calls no script makes any more: {stale}"


def test_operator_role_grants_exactly_what_the_scripts_use(docs: list[Doc]) -> None:
    needed: set[tuple[str, str, str]] = set()
    for call_rights in CALLS.values():
        needed |= call_rights
    granted = role_rights(docs)
    missing = sorted(needed - granted)
    extra = sorted(granted - needed)
    assert not missing, f"the scripts need rights the Role does not grant: {missing}"
    assert not extra, f"the Role grants rights no script uses: {extra}"


def test_operator_role_is_bound_to_its_account_in_the_namespace_only(docs: list[Doc]) -> None:
    assert not by_kind(docs, "ClusterRole") and not by_kind(docs, "ClusterRoleBinding")
    [binding] = [d for d in by_kind(docs, "RoleBinding") if d["metadata"]["name"] == "ecommerce-operator"]
    namespace = binding["metadata"]["namespace"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ecommerce-operator"}
    assert {"kind": "ServiceAccount", "name": "ecommerce-operator", "namespace": namespace} in binding["subjects"]
    [role] = [d for d in by_kind(docs, "Role") if d["metadata"]["name"] == "ecommerce-operator"]
    assert role["metadata"]["namespace"] == namespace


def test_normalize_examples() -> None:
    assert normalize('-n "${ns}" get "deployment/${live}" -o json') == "get deployment/*"
    assert normalize('-n "${ns}" delete ingress "${s}-canary" --ignore-not-found >/dev/null') == "delete ingress *"
    assert normalize('-n "${ns}" rollout status "deployment/${s}" --timeout="${t}s"') == "rollout status deployment/*"
    assert normalize('-n "${ns}" wait --for=delete pod -l "app=${w}"') == "wait pod --for=delete"
    assert normalize('"${namespace}"') is None
    assert normalize(">/dev/null 2>&1 || die") is None
    assert applied_kind('kube::apply_stdin "${NAMESPACE}" <<<"${canary_service}" >/dev/null') == "canary_service"
