#!/usr/bin/env bash
#
# Health of the shop in one namespace: pods ready, Service endpoints, each component's actuator health,
# registry instances, the database, and the autoscalers. Prints a table; exits 1 if anything is unhealthy.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
# shellcheck source-path=SCRIPTDIR source=lib/log.sh
source "${SCRIPT_DIR}/lib/log.sh"
# shellcheck source-path=SCRIPTDIR source=lib/kube.sh
source "${SCRIPT_DIR}/lib/kube.sh"

usage() {
  cat <<EOF_USAGE
Usage: $(basename "$0") [--dry-run] [-h|--help] <env>

Check every component in namespace <env> (dev, qa, prod):
  ready pods (READY column, not only Running), Service endpoints, actuator health (asked from inside
  each pod), instances registered in service-discovery, PostgreSQL accepting connections, HPA and
  KEDA ScaledObject status. Exit status 1 when anything is unhealthy.

Environment: KUBECTL (default kubectl).
EOF_USAGE
}

# Count UP instances per registry application: prints "APP count" lines from Eureka JSON on stdin.
registry_counts() {
  ecommerce_cli kubeobj eureka-count
}

main() {
  local namespace=""
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --dry-run) ;;  # read-only: nothing to skip
      -*) usage_error "unknown option: $1" ;;
      *) [[ -z "${namespace}" ]] || usage_error "unexpected argument: $1"; namespace="$1" ;;
    esac
    shift
  done
  [[ -n "${namespace}" ]] || usage_error "missing <env>"
  kube::check_namespace "${namespace}"
  kube::require

  local failures=0 registry="" name ready endpoints health instances
  registry="$(kube::http_get "${namespace}" statefulset/service-discovery \
    "http://127.0.0.1:${COMPONENT_PORT[service-discovery]}/eureka/apps" 2>/dev/null | registry_counts 2>/dev/null)" || registry=""

  printf '%-20s %-8s %-10s %-8s %-9s\n' COMPONENT READY ENDPOINTS HEALTH REGISTRY
  for name in "${COMPONENTS[@]}"; do
    ready="$(kube -n "${namespace}" get "$(kube::workload "${name}")" \
      -o jsonpath='{.status.readyReplicas}/{.spec.replicas}' 2>/dev/null)" || ready="missing"
    [[ "${ready}" == /* ]] && ready="0${ready}"
    endpoints="$(kube -n "${namespace}" get endpoints "${name}" \
      -o jsonpath='{.subsets[*].addresses[*].ip}' 2>/dev/null | wc -w)" || endpoints=0
    if kube::http_get "${namespace}" "$(kube::workload "${name}")" "$(kube::health_url "${name}")" 2>/dev/null \
      | grep -Eq '"status" *: *"UP"'; then
      health="UP"
    else
      health="DOWN"
    fi
    instances="-"
    if [[ "${name}" != "service-discovery" ]]; then
      instances="$(awk -v app="${name^^}" '$1 == app { print $2 }' <<<"${registry}")"
      instances="${instances:-0}"
    fi
    local bad=0
    [[ "${ready}" =~ ^([0-9]+)/([0-9]+)$ ]] && ((BASH_REMATCH[1] > 0 && BASH_REMATCH[1] == BASH_REMATCH[2])) || bad=1
    ((endpoints > 0)) || bad=1
    [[ "${health}" == "UP" ]] || bad=1
    [[ "${instances}" == "-" || "${name}" == "cloud-config-server" || "${instances}" -gt 0 ]] || bad=1
    printf '%-20s %-8s %-10s %-8s %-9s %s\n' "${name}" "${ready}" "${endpoints}" "${health}" "${instances}" \
      "$( ((bad)) && echo UNHEALTHY || echo ok)"
    failures=$((failures + bad))
  done

  if kube -n "${namespace}" exec statefulset/postgres -- pg_isready -q >/dev/null 2>&1; then
    printf '%-20s %s\n' postgres "accepting connections ok"
  else
    printf '%-20s %s\n' postgres "NOT accepting connections UNHEALTHY"
    failures=$((failures + 1))
  fi

  printf '\nHorizontalPodAutoscalers:\n'
  kube -n "${namespace}" get hpa 2>/dev/null || printf '  (none)\n'
  printf '\nKEDA ScaledObjects:\n'
  local scaled
  scaled="$(kube -n "${namespace}" get scaledobjects \
    -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' \
    2>/dev/null)" || scaled=""
  if [[ -z "${scaled}" ]]; then
    printf '  (none)\n'
  else
    while read -r name ready; do
      [[ -n "${name}" ]] || continue
      printf '  %-32s ready=%s\n' "${name}" "${ready:-unknown}"
      [[ "${ready}" == "True" ]] || failures=$((failures + 1))
    done <<<"${scaled}"
  fi

  if ((failures > 0)); then
    log "${failures} problem(s) in ${namespace}"
    exit 1
  fi
  log "everything in ${namespace} is healthy"
}

main "$@"
