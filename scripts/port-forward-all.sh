#!/usr/bin/env bash
#
# Forward every component of one namespace, and Grafana, Prometheus and Jaeger, to localhost, until Ctrl-C.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
# shellcheck source-path=SCRIPTDIR source=lib/log.sh
source "${SCRIPT_DIR}/lib/log.sh"
# shellcheck source-path=SCRIPTDIR source=lib/kube.sh
source "${SCRIPT_DIR}/lib/kube.sh"

# namespace-independent forwards: namespace | service | local port | remote port
readonly -a MONITORING_FORWARDS=(
  "monitoring|kube-prometheus-stack-grafana|3000|80"
  "monitoring|kube-prometheus-stack-prometheus|9090|9090"
  "monitoring|jaeger-query|16686|16686"
)

usage() {
  local name ports=()
  for name in "${COMPONENTS[@]}"; do
    ports+=("${name} ${COMPONENT_PORT[${name}]}")
  done
  cat <<EOF_USAGE
Usage: $(basename "$0") [--no-monitoring] [--dry-run] [-h|--help] [env]

Forward each component's Service in [env] (default dev) to the same port on 127.0.0.1, and Grafana 3000,
Prometheus 9090, Jaeger 16686 from namespace monitoring. Stops every forward it started on exit (Ctrl-C).
Components (scripts/lib/components.sh):
$(printf '  %s\n' "${ports[@]}")
Environment: KUBECTL.
EOF_USAGE
}

PIDS=()

stop_forwards() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "${pid}" 2>/dev/null || true
  done
}

forward() {
  local namespace="$1" service="$2" local_port="$3" remote_port="$4"
  if [[ "${DRY_RUN}" == "1" ]]; then
    run "${KUBECTL}" -n "${namespace}" port-forward "svc/${service}" "${local_port}:${remote_port}"
    return 0
  fi
  "${KUBECTL}" -n "${namespace}" port-forward "svc/${service}" "${local_port}:${remote_port}" >/dev/null 2>&1 &
  PIDS+=("$!")
  printf '%-34s http://127.0.0.1:%s\n' "${namespace}/${service}" "${local_port}"
}

main() {
  local namespace="" monitoring=1
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=1 ;;
      --no-monitoring) monitoring=0 ;;
      -*) usage_error "unknown option: $1" ;;
      *) [[ -z "${namespace}" ]] || usage_error "unexpected argument: $1"; namespace="$1" ;;
    esac
    shift
  done
  namespace="${namespace:-dev}"
  kube::check_namespace "${namespace}"
  kube::require
  trap stop_forwards EXIT
  local name entry ns service local_port remote_port
  for name in "${COMPONENTS[@]}"; do
    forward "${namespace}" "${name}" "${COMPONENT_PORT[${name}]}" "${COMPONENT_PORT[${name}]}"
  done
  if ((monitoring)); then
    for entry in "${MONITORING_FORWARDS[@]}"; do
      IFS='|' read -r ns service local_port remote_port <<<"${entry}"
      forward "${ns}" "${service}" "${local_port}" "${remote_port}"
    done
  fi
  [[ "${DRY_RUN}" == "1" ]] && return 0
  log "forwarding; Ctrl-C stops every forward"
  wait
}

main "$@"
