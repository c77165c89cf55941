#!/usr/bin/env bash
#
# Deploy the whole shop into one namespace in the manual's order, waiting for each step, then run the
# health check. k8s/ serves the namespace it was rendered for (dev); another environment with a values file
# (qa, prod) is rendered from the chart on the fly into a private temporary directory, in the same layout.
# --helm installs the chart instead.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
# shellcheck source-path=SCRIPTDIR source=lib/log.sh
source "${SCRIPT_DIR}/lib/log.sh"
# shellcheck source-path=SCRIPTDIR source=lib/kube.sh
source "${SCRIPT_DIR}/lib/kube.sh"

# The manifests applied: k8s/, or the environment's rendering (render_environment).
K8S_DIR="${K8S_DIR:-${REPO_ROOT}/k8s}"
RENDER_DIR=""
readonly CHART_DIR="${CHART_DIR:-${REPO_ROOT}/helm-charts/ecommerce-microservices}"
readonly RELEASE="${RELEASE:-ecommerce}"

usage() {
  cat <<EOF_USAGE
Usage: $(basename "$0") [--helm] [--skip-health] [--timeout S] [--dry-run] [-h|--help] <env>

Apply k8s/ into namespace <env> in the manual's order, waiting for each to be ready: namespaces, storage,
database secret, init scripts and StatefulSet, service-discovery, cloud-config-server, the six services,
api-gateway, proxy-client, TLS ingress, network policies, RBAC, autoscaling, backups; then
health-check.sh <env>. Every rollout that finishes is recorded as a healthy revision (for rollback.sh).
k8s/ is rendered for dev; for another <env> with a values-<env>.yaml (qa, prod) the manifests are rendered
on the fly (helm template --dry-run=server with values-<env>.yaml, so Secrets already in the cluster keep
their values) into a private temporary directory, removed at the end, and applied in the same order.
  --helm         helm upgrade --install ${RELEASE} ${CHART_DIR#"${REPO_ROOT}"/} with values-<env>.yaml instead
  --skip-health  do not run health-check.sh at the end
  --timeout S    seconds to wait for each component (default 300)
  --dry-run      print the changes instead of making them
Environment: KUBECTL, HELM, K8S_DIR, CHART_DIR, RELEASE.
EOF_USAGE
}

# kubectl apply one file or folder of k8s/ (a missing path is an error: the manual's layout is complete).
apply() {
  local namespace="$1" path="${K8S_DIR}/$2"
  [[ -e "${path}" ]] || die "missing k8s/$2 (looked in ${K8S_DIR})"
  log "applying k8s/$2"
  kube::change -n "${namespace}" apply -f "${path}" >/dev/null
}

# Apply the file if it exists (steps the layout may not need, e.g. a component without a ConfigMap).
apply_optional() {
  if [[ -e "${K8S_DIR}/$2" ]]; then apply "$@"; fi
}

# Wait until a workload's rollout is complete, then record the revision as healthy.
wait_ready() {
  local namespace="$1" workload="$2" timeout="$3"
  kube::change -n "${namespace}" rollout status "${workload}" --timeout="${timeout}s" \
    || die "${workload} is not ready after ${timeout}s (kubectl describe ${workload} -n ${namespace})"
  if [[ "${workload}" == deployment/* && "${DRY_RUN}" != "1" ]]; then
    kube::record_verdict "${namespace}" "${workload#deployment/}" healthy
  fi
}

deploy_component() {
  local namespace="$1" name="$2" timeout="$3"
  apply_optional "${namespace}" "config/${name}-configmap.yaml"
  if [[ "${name}" == "proxy-client" ]]; then
    apply_optional "${namespace}" "config/proxy-client-eureka-configmap.yaml"
  fi
  apply_optional "${namespace}" "secrets/${name}-secret.yaml"
  apply "${namespace}" "services/${name}/deployment.yaml"
  wait_ready "${namespace}" "$(kube::workload "${name}")" "${timeout}"
}

remove_render_dir() {
  if [[ -n "${RENDER_DIR}" ]]; then
    rm -rf "${RENDER_DIR}"
  fi
}

# Render the chart for <namespace> with its values file into a private temporary directory, in k8s/'s layout,
# and use it as K8S_DIR. Lookups run against the cluster (--dry-run=server): Secrets that already exist keep
# their values instead of being generated again. Read-only, so it also runs under --dry-run.
render_environment() {
  local namespace="$1" values="${CHART_DIR}/values-$1.yaml"
  [[ -f "${values}" ]] || die "k8s/ is rendered for another namespace and there is no ${values} to render ${namespace} with"
  RENDER_DIR="$(mktemp -d)"
  chmod 700 "${RENDER_DIR}"
  trap remove_render_dir EXIT
  log "rendering ${CHART_DIR#"${REPO_ROOT}"/} with values-${namespace}.yaml for ${namespace}"
  "${HELM}" template "${RELEASE}" "${CHART_DIR}" --namespace "${namespace}" --values "${values}" \
    --set namespaces.create=true --dry-run=server >"${RENDER_DIR}/stream.yaml" \
    || die "helm template failed for ${namespace}"
  ecommerce_cli kubeobj split-manifests "${RENDER_DIR}/k8s" "${namespace}" <"${RENDER_DIR}/stream.yaml" \
    || die "cannot split the rendered manifests of ${namespace}"
  rm -f "${RENDER_DIR}/stream.yaml"
  K8S_DIR="${RENDER_DIR}/k8s"
}

deploy_manifests() {
  local namespace="$1" timeout="$2" name rendered
  rendered="$(awk '/^  namespace: /{ print $2; exit }' "${K8S_DIR}/databases/postgres-statefulset.yaml" 2>/dev/null || true)"
  if [[ -n "${rendered}" && "${rendered}" != "${namespace}" ]]; then
    render_environment "${namespace}"
  fi
  log "applying k8s/namespaces/namespaces.yaml"
  kube::change apply -f "${K8S_DIR}/namespaces/namespaces.yaml" >/dev/null
  apply_optional "${namespace}" storage/storage-class.yaml
  apply "${namespace}" storage/backup-pvc.yaml
  apply "${namespace}" databases/postgres-secret.yaml
  apply "${namespace}" secrets/identity-secret.yaml
  apply "${namespace}" databases/postgres-init-scripts.yaml
  apply "${namespace}" databases/postgres-statefulset.yaml
  wait_ready "${namespace}" statefulset/postgres "${timeout}"
  for name in "${COMPONENTS[@]}"; do
    deploy_component "${namespace}" "${name}" "${timeout}"
  done
  apply "${namespace}" ingress/ingress-tls.yaml
  apply "${namespace}" network-policies/
  apply "${namespace}" rbac/rbac-complete.yaml
  apply "${namespace}" autoscaling/
  apply_optional "${namespace}" backups/
}

deploy_helm() {
  local namespace="$1" timeout="$2" name
  local -a values=()
  [[ -f "${CHART_DIR}/values-${namespace}.yaml" ]] && values=(--values "${CHART_DIR}/values-${namespace}.yaml")
  log "helm upgrade --install ${RELEASE} in ${namespace}"
  helm::change upgrade --install "${RELEASE}" "${CHART_DIR}" --namespace "${namespace}" --create-namespace \
    "${values[@]}" --wait --timeout "${timeout}s" || die "helm upgrade failed (helm status ${RELEASE} -n ${namespace})"
  [[ "${DRY_RUN}" == "1" ]] && return 0
  for name in "${COMPONENTS[@]:1}"; do
    kube::record_verdict "${namespace}" "${name}" healthy
  done
}

main() {
  local namespace="" use_helm=0 health=1 timeout=300
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=1 ;;
      --helm) use_helm=1 ;;
      --skip-health) health=0 ;;
      --timeout) (($# > 1)) || usage_error "--timeout needs a value"; timeout="$2"; shift ;;
      -*) usage_error "unknown option: $1" ;;
      *) [[ -z "${namespace}" ]] || usage_error "unexpected argument: $1"; namespace="$1" ;;
    esac
    shift
  done
  [[ -n "${namespace}" ]] || usage_error "missing <env>"
  kube::check_namespace "${namespace}"
  kube::require
  if ((use_helm)); then
    deploy_helm "${namespace}" "${timeout}"
  else
    deploy_manifests "${namespace}" "${timeout}"
  fi
  if ((health)) && [[ "${DRY_RUN}" != "1" ]]; then
    "${SCRIPT_DIR}/health-check.sh" "${namespace}" || die "deployed, but the health check found problems"
  fi
  log "the shop is deployed in ${namespace}"
}

main "$@"
