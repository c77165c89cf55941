#!/usr/bin/env bash
#
# End-to-end check on a throw-away kind cluster (needs docker, kind, helm and kubectl on PATH):
# builds the image, loads it into the cluster, installs the chart with the dev values, waits for every component
# and runs the health checks through each Service. Nothing else on the machine is touched; the cluster is deleted
# at the end unless KEEP_CLUSTER=1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly CHART="${ROOT}/helm-charts/ecommerce-microservices"
readonly NAMESPACE="dev"
readonly IMAGE_REPOSITORY="ecommerce-microservices"
readonly IMAGE_TAG="e2e"
# COMPONENTS, COMPONENT_PORT, COMPONENT_ACTUATOR: the component table (src/ecommerce/components.py).
# shellcheck source-path=SCRIPTDIR source=lib/components.sh
source "${ROOT}/scripts/lib/components.sh"

usage() {
  cat <<EOF_USAGE
Usage: $(basename "$0") [-h|--help] [CLUSTER_NAME]
End-to-end check on a throw-away kind cluster (default name ecommerce-e2e): build the image, load it, install
the chart with the dev values, wait for every component and check each one's readiness inside its pod.
Needs docker, kind, helm and kubectl on PATH.
Environment: KEEP_CLUSTER=1 keeps the cluster afterwards (it is deleted by default).
EOF_USAGE
}

log() { printf 'e2e-kind: %s\n' "$*" >&2; }

require() {
  local tool
  for tool in "$@"; do
    if ! command -v "${tool}" >/dev/null; then
      log "${tool} is required"
      exit 1
    fi
  done
}

create_cluster() {
  local cluster="$1"
  if kind get clusters | grep -qx "${cluster}"; then
    log "reusing cluster ${cluster}"
  else
    kind create cluster --name "${cluster}" --wait 120s
  fi
  kubectl config use-context "kind-${cluster}" >/dev/null
}

build_and_load_image() {
  local cluster="$1"
  docker build --tag "${IMAGE_REPOSITORY}:${IMAGE_TAG}" "${ROOT}"
  kind load docker-image --name "${cluster}" "${IMAGE_REPOSITORY}:${IMAGE_TAG}"
}

install_chart() {
  kubectl create namespace "${NAMESPACE}" --dry-run=client -o yaml | kubectl apply -f -
  kubectl label namespace "${NAMESPACE}" --overwrite \
    pod-security.kubernetes.io/enforce=restricted project=ecommerce environment=development
  # kind has neither KEDA, prometheus-operator, cert-manager nor an ingress controller: switch off the objects
  # that need their CRDs; kind's default StorageClass backs the volumes.
  helm upgrade --install ecommerce "${CHART}" \
    --namespace "${NAMESPACE}" \
    --values "${CHART}/values-${NAMESPACE}.yaml" \
    --set image.repository="${IMAGE_REPOSITORY}" \
    --set image.tag="${IMAGE_TAG}" \
    --set storage.storageClass.create=false \
    --set autoscaling.keda=false \
    --set monitoring.serviceMonitors=false \
    --set monitoring.prometheusRule=false \
    --set monitoring.dashboards=false \
    --set ingress.enabled=false \
    --wait --timeout 15m
}

wait_for_pods() {
  local name
  kubectl wait --for=condition=ready pod -l app=postgres -n "${NAMESPACE}" --timeout=300s
  for name in "${COMPONENTS[@]}"; do
    kubectl rollout status "deployment/${name}" -n "${NAMESPACE}" --timeout=300s 2>/dev/null \
      || kubectl rollout status "statefulset/${name}" -n "${NAMESPACE}" --timeout=300s
  done
}

# The network policies deny unknown pods, so the checks run inside the components' own pods (wget is in the image).
health_check() {
  local name failed=0
  for name in "${COMPONENTS[@]}"; do
    if kubectl exec -n "${NAMESPACE}" "$(first_pod "${name}")" -- \
      wget -q -T 5 -O- "http://127.0.0.1:${COMPONENT_PORT[${name}]}${COMPONENT_ACTUATOR[${name}]}/health/readiness" \
      >/dev/null; then
      log "ok   ${name}"
    else
      log "FAIL ${name}"
      failed=1
    fi
  done
  # The registry page is the operator's: the pod holds OPERATOR_PASSWORD (identity-secret). Python reads it from
  # its own environment, so the password is on no command line (wget --password would show it in ps).
  kubectl exec -n "${NAMESPACE}" "$(first_pod api-gateway)" -- python3 -c \
    'import base64, os, sys, urllib.request
token = base64.b64encode(("operator:" + os.environ["OPERATOR_PASSWORD"]).encode()).decode()
request = urllib.request.Request(sys.argv[1], headers={"Authorization": "Basic " + token})
urllib.request.urlopen(request, timeout=5).read()' "http://service-discovery:${COMPONENT_PORT[service-discovery]}/eureka/" \
    >/dev/null
  return "${failed}"
}

first_pod() {
  kubectl get pod -n "${NAMESPACE}" -l "app=$1" -o jsonpath='{.items[0].metadata.name}'
}

main() {
  case "${1:-}" in
    -h | --help)
      usage
      return 0
      ;;
    -*)
      usage >&2
      return 2
      ;;
  esac
  (($# <= 1)) || {
    usage >&2
    return 2
  }
  local cluster="${1:-ecommerce-e2e}"
  require docker kind helm kubectl
  create_cluster "${cluster}"
  if [[ "${KEEP_CLUSTER:-0}" != "1" ]]; then
    # shellcheck disable=SC2064  # expand the name now
    trap "kind delete cluster --name '${cluster}'" EXIT
  fi
  build_and_load_image "${cluster}"
  install_chart
  wait_for_pods
  health_check
  log "the shop is up on kind cluster ${cluster}"
}

main "$@"
