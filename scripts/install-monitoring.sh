#!/usr/bin/env bash
#
# Install the observability stack in namespace monitoring so that the manual's section 5 commands work
# as typed: kube-prometheus-stack (Prometheus, Alertmanager, Grafana), Loki with its Alloy log agent, Jaeger.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
# shellcheck source-path=SCRIPTDIR source=lib/log.sh
source "${SCRIPT_DIR}/lib/log.sh"
# shellcheck source-path=SCRIPTDIR source=lib/kube.sh
source "${SCRIPT_DIR}/lib/kube.sh"

readonly MONITORING_NS="monitoring"
readonly STACK_DIR="${STACK_DIR:-${REPO_ROOT}/monitoring/stack}"
# release | chart | values file in monitoring/stack/ (used when present)
readonly -a RELEASES=(
  "kube-prometheus-stack|prometheus-community/kube-prometheus-stack|kube-prometheus-stack-values.yaml"
  "loki|grafana/loki|loki-values.yaml"
  "alloy|grafana/alloy|alloy-values.yaml"
  "jaeger|jaegertracing/jaeger|jaeger-values.yaml"
)
readonly -a REPOS=(
  "prometheus-community|https://prometheus-community.github.io/helm-charts"
  "grafana|https://grafana.github.io/helm-charts"
  "jaegertracing|https://jaegertracing.github.io/helm-charts"
)

usage() {
  cat <<EOF_USAGE
Usage: $(basename "$0") [--timeout S] [--skip-repos] [--dry-run] [-h|--help]

Install or upgrade, in namespace ${MONITORING_NS}:
  kube-prometheus-stack  secret and service kube-prometheus-stack-grafana (port 80),
                         service kube-prometheus-stack-prometheus (9090)
  loki                   Loki (single binary; gateway service loki-gateway)
  alloy                  the log agent on every node, pushing the pods' JSON logs to Loki
  jaeger                 services jaeger-query (16686) and jaeger-collector (OTLP 4317/4318)
with values from monitoring/stack/<release>-values.yaml when present, then apply k8s/monitoring/ (alert
rules, ServiceMonitors, dashboards) when present.
  --skip-repos   do not add/update the Helm repositories (offline mirrors)
Environment: KUBECTL, HELM, STACK_DIR.
EOF_USAGE
}

main() {
  local timeout=600 repos=1
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=1 ;;
      --skip-repos) repos=0 ;;
      --timeout) (($# > 1)) || usage_error "--timeout needs a value"; timeout="$2"; shift ;;
      *) usage_error "unexpected argument: $1" ;;
    esac
    shift
  done
  command -v "${HELM}" >/dev/null 2>&1 || die "helm not found (set HELM)"
  local entry name url release chart values_file
  if ((repos)); then
    for entry in "${REPOS[@]}"; do
      IFS='|' read -r name url <<<"${entry}"
      helm::change repo add "${name}" "${url}" --force-update >/dev/null
    done
    helm::change repo update >/dev/null
  fi
  for entry in "${RELEASES[@]}"; do
    IFS='|' read -r release chart values_file <<<"${entry}"
    local -a values=()
    [[ -f "${STACK_DIR}/${values_file}" ]] && values=(--values "${STACK_DIR}/${values_file}")
    log "installing ${release} (${chart}) in ${MONITORING_NS}${values:+ with ${values_file}}"
    helm::change upgrade --install "${release}" "${chart}" --namespace "${MONITORING_NS}" --create-namespace \
      "${values[@]}" --wait --timeout "${timeout}s" || die "installing ${release} failed"
  done
  if [[ -d "${REPO_ROOT}/k8s/monitoring" ]]; then
    kube::change apply -f "${REPO_ROOT}/k8s/monitoring/" >/dev/null || die "applying k8s/monitoring/ failed"
  fi
  log "monitoring installed: port-forward-all.sh forwards Grafana (3000), Prometheus (9090) and Jaeger (16686)"
}

main "$@"
