#!/usr/bin/env bash
#
# Roll a service (or every component) back to its last revision recorded as healthy, then verify it.
# The deployment scripts record a verdict on each revision (annotation ecommerce/verdict on the ReplicaSet).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
# shellcheck source-path=SCRIPTDIR source=lib/log.sh
source "${SCRIPT_DIR}/lib/log.sh"
# shellcheck source-path=SCRIPTDIR source=lib/kube.sh
source "${SCRIPT_DIR}/lib/kube.sh"

readonly RELEASE="${RELEASE:-ecommerce}"

usage() {
  cat <<EOF_USAGE
Usage: $(basename "$0") [--helm] [--force] [--timeout SECONDS] [--dry-run] [-h|--help] <env> [service]

Roll <service> (or, without it, every component whose current revision is not recorded healthy) back to
the newest earlier revision recorded as healthy, wait for the rollout and check its actuator health.
  --helm      roll the Helm release '${RELEASE}' back to its last successfully deployed revision instead
  --force     with no service: also roll back components whose current revision is recorded healthy
  --timeout   seconds to wait for each rollout (default 300)
  --dry-run   print the changes instead of making them

Environment: KUBECTL, HELM, RELEASE (default ecommerce).
EOF_USAGE
}

# Print the revision to go back to: the highest revision below the current one recorded healthy.
# Arguments: namespace, deployment. Outputs: revision number (empty if none).
last_healthy_revision() {
  local namespace="$1" deployment="$2" current
  current="$(kube -n "${namespace}" get "deployment/${deployment}" \
    -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')"
  kube::replicasets "${namespace}" "${deployment}" \
    | awk -F '\t' -v cur="${current}" '$3 == "healthy" && $2 + 0 < cur + 0 { print $2 }' \
    | sort -n | tail -n 1
}

# Whether the deployment's current revision is recorded healthy.
current_is_healthy() {
  local namespace="$1" deployment="$2" current
  current="$(kube -n "${namespace}" get "deployment/${deployment}" \
    -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')"
  kube::replicasets "${namespace}" "${deployment}" \
    | awk -F '\t' -v cur="${current}" '$2 == cur && $3 == "healthy" { found = 1 } END { exit !found }'
}

rollback_one() {
  local namespace="$1" deployment="$2" timeout="$3" revision
  revision="$(last_healthy_revision "${namespace}" "${deployment}")"
  if [[ -z "${revision}" ]]; then
    log "${deployment}: no earlier revision is recorded healthy; see 'kubectl rollout history deployment/${deployment} -n ${namespace}'"
    return 1
  fi
  log "${deployment}: rolling back to revision ${revision} (last recorded healthy)"
  kube::change -n "${namespace}" rollout undo "deployment/${deployment}" --to-revision="${revision}"
  if ! kube::change -n "${namespace}" rollout status "deployment/${deployment}" --timeout="${timeout}s"; then
    log "${deployment}: rollout to revision ${revision} did not complete"
    return 1
  fi
  [[ "${DRY_RUN}" == "1" ]] && return 0
  if ! kube::http_get "${namespace}" "deployment/${deployment}" "$(kube::health_url "${deployment}")" \
    | grep -Eq '"status" *: *"UP"'; then
    kube::record_verdict "${namespace}" "${deployment}" unhealthy
    log "${deployment}: health check failed after the rollback"
    return 1
  fi
  kube::record_verdict "${namespace}" "${deployment}" healthy
  log "${deployment}: back on revision ${revision} and healthy"
}

helm_rollback() {
  local namespace="$1" timeout="$2" revision
  revision="$(kube::helm_history "${namespace}" | ecommerce_cli kubeobj helm-last-good)" \
    || die "cannot read the history of release ${RELEASE}"
  [[ -n "${revision}" ]] || die "release ${RELEASE} has no earlier successful revision"
  log "helm: rolling ${RELEASE} back to revision ${revision}"
  helm::change rollback "${RELEASE}" "${revision}" -n "${namespace}" --wait --timeout "${timeout}s" \
    || die "helm rollback failed"
  helm::change status "${RELEASE}" -n "${namespace}"
}

kube::helm_history() {
  "${HELM}" history "${RELEASE}" -n "$1" -o json
}

main() {
  local namespace="" service="" use_helm=0 force=0 timeout=300
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=1 ;;
      --helm) use_helm=1 ;;
      --force) force=1 ;;
      --timeout) (($# > 1)) || usage_error "--timeout needs a value"; timeout="$2"; shift ;;
      -*) usage_error "unknown option: $1" ;;
      *)
        if [[ -z "${namespace}" ]]; then namespace="$1"
        elif [[ -z "${service}" ]]; then service="$1"
        else usage_error "unexpected argument: $1"; fi ;;
    esac
    shift
  done
  [[ -n "${namespace}" ]] || usage_error "missing <env>"
  kube::check_namespace "${namespace}"
  if ((use_helm)); then
    helm_rollback "${namespace}" "${timeout}"
    return 0
  fi
  kube::require
  local -a targets=()
  if [[ -n "${service}" ]]; then
    kube::is_component "${service}" || usage_error "unknown service: ${service}"
    [[ "${service}" != "service-discovery" ]] \
      || die "service-discovery is a StatefulSet: use 'kubectl rollout undo statefulset/service-discovery -n ${namespace}'"
    targets=("${service}")
  else
    local name
    for name in "${COMPONENTS[@]}"; do
      [[ "${name}" == "service-discovery" ]] && continue
      kube -n "${namespace}" get "deployment/${name}" >/dev/null 2>&1 || { log "${name}: not deployed, skipped"; continue; }
      if ((force == 0)) && current_is_healthy "${namespace}" "${name}"; then
        log "${name}: current revision is recorded healthy, skipped (--force to include)"
        continue
      fi
      targets+=("${name}")
    done
  fi
  local failed=0 deployment
  for deployment in "${targets[@]}"; do
    rollback_one "${namespace}" "${deployment}" "${timeout}" || failed=$((failed + 1))
  done
  ((failed == 0)) || die "${failed} rollback(s) failed"
  log "rollback finished (${#targets[@]} component(s))"
}

main "$@"
