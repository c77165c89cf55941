# shellcheck shell=bash
#
# kubectl/helm wrappers shared by the operations scripts. Sourced after log.sh.
# KUBECTL and HELM override the binaries (tests inject recording fakes); DRY_RUN=1 makes `run` print the
# commands that would change the cluster (to stderr, so callers may discard a command's own output) instead
# of running them; read-only queries still run.

KUBECTL="${KUBECTL:-kubectl}"
HELM="${HELM:-helm}"
DRY_RUN="${DRY_RUN:-0}"
POLL_SECONDS="${POLL_SECONDS:-5}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly REPO_ROOT
readonly VERDICT_ANNOTATION="ecommerce/verdict"

# The ten components (COMPONENT_PORT, COMPONENT_ACTUATOR, COMPONENTS, BUSINESS_SERVICES, SERVICE_DATABASE),
# generated from src/ecommerce/components.py by `ecommerce components render`.
# shellcheck source-path=SCRIPTDIR source=components.sh
source "${REPO_ROOT}/scripts/lib/components.sh"

# Run a command that changes something, or only print it under --dry-run.
run() {
  if [[ "${DRY_RUN}" == "1" ]]; then
    {
      printf '[dry-run]'
      printf ' %q' "$@"
      printf '\n'
    } >&2
    return 0
  fi
  "$@"
}

# kubectl for reading (always runs, also under --dry-run).
kube() {
  "${KUBECTL}" "$@"
}

# kubectl for changing the cluster (printed under --dry-run).
kube::change() {
  run "${KUBECTL}" "$@"
}

# helm for changing releases (printed under --dry-run).
helm::change() {
  run "${HELM}" "$@"
}

# kubectl apply -f - of the manifest on stdin; under --dry-run the manifest is printed.
kube::apply_stdin() {
  local namespace="$1"
  if [[ "${DRY_RUN}" == "1" ]]; then
    {
      printf '[dry-run] %q -n %q apply -f - <<EOF\n' "${KUBECTL}" "${namespace}"
      cat
      printf 'EOF\n'
    } >&2
    return 0
  fi
  "${KUBECTL}" -n "${namespace}" apply -f -
}

# Fail unless kubectl (or the override) can be found.
kube::require() {
  command -v "${KUBECTL}" >/dev/null 2>&1 || die "kubectl not found (set KUBECTL)"
}

# Check that a name is a namespace/environment-like DNS label.
kube::check_namespace() {
  [[ "$1" =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]] || usage_error "invalid namespace: $1"
}

# True if $1 is one of the ten components.
kube::is_component() {
  [[ -n "${COMPONENT_PORT[$1]+set}" ]]
}

# The workload kind of a component: the registry is a StatefulSet, the rest are Deployments.
kube::workload() {
  if [[ "$1" == "service-discovery" ]]; then
    printf 'statefulset/%s' "$1"
  else
    printf 'deployment/%s' "$1"
  fi
}

# Python from the checkout's virtualenv when there is one (PYTHON overrides), with the checkout's src/ importable.
ops_python() {
  local python="${PYTHON:-}"
  if [[ -z "${python}" ]]; then
    if [[ -x "${REPO_ROOT}/.venv/bin/python" ]]; then
      python="${REPO_ROOT}/.venv/bin/python"
    else
      python="python3"
    fi
  fi
  PYTHONPATH="${REPO_ROOT}/src${PYTHONPATH:+:${PYTHONPATH}}" "${python}" "$@"
}

# The project's command line (`ecommerce kubeobj ...`, `ecommerce canary ...`: src/ecommerce/cli).
ecommerce_cli() {
  ops_python -m ecommerce "$@"
}

# GET a URL from inside a pod of a workload (127.0.0.1: no network policy in the way). Prints the body.
# Arguments: namespace, workload reference (deployment/x, pod/y), URL.
kube::http_get() {
  local namespace="$1" ref="$2" url="$3"
  # As the operator when the pod holds its password (the registry and management endpoints ask for it).
  kube -n "${namespace}" exec "${ref}" -- python3 -c \
    'import base64, os, sys, urllib.request
headers = {"Accept": "application/json"}
if os.environ.get("OPERATOR_PASSWORD"):
    token = base64.b64encode(("operator:" + os.environ["OPERATOR_PASSWORD"]).encode()).decode()
    headers["Authorization"] = "Basic " + token
req = urllib.request.Request(sys.argv[1], headers=headers)
print(urllib.request.urlopen(req, timeout=5).read().decode())' "${url}"
}

# The actuator health URL of a component, on 127.0.0.1 inside its pod.
kube::health_url() {
  printf 'http://127.0.0.1:%s%s/health%s' "${COMPONENT_PORT[$1]}" "${COMPONENT_ACTUATOR[$1]}" "${2:-}"
}

# Wait until a Job succeeds (0) or fails (1), polling; prints nothing. Arguments: namespace, job, timeout s.
kube::wait_job() {
  local namespace="$1" job="$2" timeout="$3" waited=0 status
  [[ "${DRY_RUN}" == "1" ]] && return 0
  while ((waited <= timeout)); do
    status="$(kube -n "${namespace}" get "job/${job}" \
      -o jsonpath='{.status.succeeded}/{.status.failed}' 2>/dev/null)" || status=""
    case "${status}" in
      [1-9]*/*) return 0 ;;
      */[1-9]*) return 1 ;;
    esac
    sleep "${POLL_SECONDS}"
    waited=$((waited + POLL_SECONDS))
  done
  log "job ${job} did not finish within ${timeout}s"
  return 1
}

# The ReplicaSets of a Deployment: "name<TAB>revision<TAB>verdict" per line.
kube::replicasets() {
  local namespace="$1" deployment="$2"
  kube -n "${namespace}" get replicasets -l "app=${deployment}" -o jsonpath='{range .items[*]}{.metadata.ownerReferences[0].name}{"\t"}{.metadata.name}{"\t"}{.metadata.annotations.deployment\.kubernetes\.io/revision}{"\t"}{.metadata.annotations.ecommerce/verdict}{"\n"}{end}' \
    | awk -F '\t' -v d="${deployment}" '$1 == d { print $2 "\t" $3 "\t" $4 }'
}

# Record a verdict (healthy/unhealthy) on the Deployment's current revision, for rollback.sh.
kube::record_verdict() {
  local namespace="$1" deployment="$2" verdict="$3" revision rs
  revision="$(kube -n "${namespace}" get "deployment/${deployment}" \
    -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')"
  rs="$(kube::replicasets "${namespace}" "${deployment}" | awk -F '\t' -v r="${revision}" '$2 == r { print $1 }')"
  if [[ -z "${rs}" ]]; then
    warn "no ReplicaSet for ${deployment} revision ${revision}: verdict not recorded"
    return 0
  fi
  kube::change -n "${namespace}" annotate "replicaset/${rs}" "${VERDICT_ANNOTATION}=${verdict}" --overwrite >/dev/null
  log "${deployment} revision ${revision} recorded as ${verdict}"
}

# The registry instance ids (host:name:port, the pod IP as host) of a component's pods matching a label
# selector, one per line. Pods without an IP yet are left out. Arguments: namespace, component, selector.
kube::instance_ids() {
  local namespace="$1" component="$2" selector="$3"
  kube -n "${namespace}" get pods -l "${selector}" -o jsonpath='{range .items[*]}{.status.podIP}{"\n"}{end}' \
    | awk -v name="${component}" -v port="${COMPONENT_PORT[${component}]}" 'NF { print $1 ":" name ":" port }'
}

# Set a registry status override (OUT_OF_SERVICE keeps an instance out of every client's choice, through its
# heartbeats) or clear it (UP: DELETE the override), on every registry replica directly (wget inside the
# replica, on 127.0.0.1: no network policy in the way, no wait for replication). Retries while an instance is
# not registered yet (REGISTRY_ATTEMPTS, POLL_SECONDS apart). Returns 1 when an instance could not be changed.
# Arguments: namespace, component, status (OUT_OF_SERVICE or UP), instance ids...
kube::registry_status() {
  local namespace="$1" component="$2" status="$3"
  shift 3
  (($# > 0)) || return 0
  local method="PUT" query="?value=${status}" attempts="${REGISTRY_ATTEMPTS:-6}" attempt pod failed
  local -a registry_pods=()
  if [[ "${status}" == "UP" ]]; then
    method="DELETE"
    query=""
  fi
  mapfile -t registry_pods < <(kube -n "${namespace}" get pods -l app=service-discovery \
    -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | awk 'NF')
  if ((${#registry_pods[@]} == 0)); then
    warn "no service-discovery pod in ${namespace}: registry status of ${component} not changed"
    return 1
  fi
  # shellcheck disable=SC2016  # expanded by the pod's shell
  local program='m="$1"; q="$2"; a="$3"; shift 3; rc=0
for i in "$@"; do
  wget -q -T 5 -O /dev/null --auth-no-challenge --user=operator --password="$OPERATOR_PASSWORD" --method="$m" \
    "http://127.0.0.1:'"${COMPONENT_PORT[service-discovery]}"'/eureka/apps/$a/$i/status$q" \
    || { echo "registry: $m $a/$i$q failed" >&2; rc=1; }
done
exit "$rc"'
  for ((attempt = 1; attempt <= attempts; attempt++)); do
    failed=0
    for pod in "${registry_pods[@]}"; do
      kube::change -n "${namespace}" exec "pod/${pod}" -- sh -c "${program}" registry-status \
        "${method}" "${query}" "${component^^}" "$@" >/dev/null || failed=1
    done
    if ((failed == 0)); then
      log "registry: ${component} $* -> ${status}"
      return 0
    fi
    ((attempt < attempts)) && sleep "${POLL_SECONDS}"
  done
  warn "registry: could not set ${component} $* to ${status} on every replica"
  return 1
}
