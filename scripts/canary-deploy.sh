#!/usr/bin/env bash
#
# Canary release of one service at 10 %, 50 %, then 100 %, with a gate after each step (a smoke request to the
# canary and Prometheus' error rate and p95 of canary versus stable). Internal services: a share of the pods
# behind the same Service. Edge services (api-gateway, proxy-client): nginx ingress canary weights on a canary
# Ingress and Service of their own. A failed gate rolls back to stable automatically; the canary objects are
# removed either way.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
# shellcheck source-path=SCRIPTDIR source=lib/log.sh
source "${SCRIPT_DIR}/lib/log.sh"
# shellcheck source-path=SCRIPTDIR source=lib/kube.sh
source "${SCRIPT_DIR}/lib/kube.sh"

readonly PROMETHEUS_SERVICE="${PROMETHEUS_SERVICE:-svc/kube-prometheus-stack-prometheus}"
readonly PROMETHEUS_NAMESPACE="${PROMETHEUS_NAMESPACE:-monitoring}"
# The services the ingress exposes: their canary is weighted at the ingress, not by pod counts.
readonly -a EDGE_SERVICES=(api-gateway proxy-client)

usage() {
  cat <<EOF_USAGE
Usage: $(basename "$0") [options] <service> <version> [env]

Release image tag <version> of <service> in namespace [env] (default dev) as a canary.
Internal services: steps 10 % and 50 %: <service>-canary pods next to the stable ones behind the same
  Service (and the same registry entry), in that proportion of the total; after each step a gate; then
  100 %: the stable Deployment is updated to <version>, verified, and the canary removed.
Edge services (${EDGE_SERVICES[*]}): Deployment and Service <service>-canary (pods kept out
  of the stable Service and OUT_OF_SERVICE in the registry) and an nginx canary Ingress <service>-canary
  on the same hosts and paths with canary-weight 10, 50, then 100, a gate after each; then the stable
  Deployment is updated to <version>, verified, and the canary Ingress, Service and Deployment removed.
Gate: a readiness request inside a canary pod, then Prometheus: canary error rate must stay within
  +1 point of stable's, canary p95 within 1.5x stable's (below 250 ms always passes).
Options:
  --pods N        internal services: pods in total during the canary steps (default: max(current
                  replicas, 10)); edge services get ceil(replicas x weight) canary pods
  --pause S       seconds of traffic before each gate (default 120)
  --timeout S     seconds to wait for each rollout (default 300)
  --load          during each pause, a bounded headless run of the load generator (ecommerce loadgen in
                  deployment/loadgenerator; values loadgenerator.enabled) against the shop, the canary's
                  own Service for edge services, so the gates have traffic to judge; a failed request
                  fails the gate
  --load-rate R   shopper actions per second of that run (default 10)
  --dry-run       print the changes instead of making them
Environment: KUBECTL, PROMETHEUS_URL (default: a port-forward to ${PROMETHEUS_SERVICE} in
  ${PROMETHEUS_NAMESPACE}), GATE_OPTIONS (extra options for ecommerce canary gate).
EOF_USAGE
}

NAMESPACE=""
SERVICE=""
STABLE_REPLICAS=""
PF_PID=""
EDGE=0
LOAD=0
LOAD_RATE=10

is_edge() {
  local edge
  for edge in "${EDGE_SERVICES[@]}"; do
    [[ "$1" == "${edge}" ]] && return 0
  done
  return 1
}

# Undo everything the canary changed: the canary Ingress first (the ingress sends everything to stable at
# once), then the canary Service and Deployment; stable gets its replicas back.
cleanup_canary() {
  if ((EDGE)); then
    kube::change -n "${NAMESPACE}" delete ingress "${SERVICE}-canary" --ignore-not-found >/dev/null || true
    kube::change -n "${NAMESPACE}" delete service "${SERVICE}-canary" --ignore-not-found >/dev/null || true
  fi
  kube::change -n "${NAMESPACE}" delete deployment "${SERVICE}-canary" --ignore-not-found >/dev/null || true
  if [[ -n "${STABLE_REPLICAS}" ]]; then
    kube::change -n "${NAMESPACE}" scale "deployment/${SERVICE}" --replicas="${STABLE_REPLICAS}" >/dev/null || true
  fi
}

on_exit() {
  local status=$?
  if [[ -n "${PF_PID}" ]]; then
    kill "${PF_PID}" 2>/dev/null || true
  fi
  if ((status != 0)) && [[ -n "${SERVICE}" ]]; then
    log "canary of ${SERVICE} failed: rolling back to stable"
    cleanup_canary
  fi
}

# The Prometheus base URL: PROMETHEUS_URL, or a port-forward started now (stopped on exit).
prometheus_url() {
  if [[ -n "${PROMETHEUS_URL:-}" ]]; then
    printf '%s' "${PROMETHEUS_URL}"
    return 0
  fi
  local port=19090
  "${KUBECTL}" -n "${PROMETHEUS_NAMESPACE}" port-forward "${PROMETHEUS_SERVICE}" "${port}:9090" >/dev/null 2>&1 &
  PF_PID=$!
  sleep 3
  printf 'http://127.0.0.1:%s' "${port}"
}

# A bounded headless load for SECONDS from the loadgenerator pod: through the gateway and the storefront, or
# straight at the canary's own Service for an edge service (the ingress' weights split only outside traffic).
# Returns 1 when any request failed or too few were made. Arguments: seconds.
run_load() {
  local seconds="$1"
  local gateway="http://api-gateway:${COMPONENT_PORT[api-gateway]}"
  local storefront="http://proxy-client:${COMPONENT_PORT[proxy-client]}"
  if ((EDGE)) && [[ "${SERVICE}" == "api-gateway" ]]; then
    gateway="http://api-gateway-canary:${COMPONENT_PORT[api-gateway]}"
  elif ((EDGE)); then
    storefront="http://proxy-client-canary:${COMPONENT_PORT[proxy-client]}"
  fi
  log "load: ${seconds}s of shoppers at ${LOAD_RATE}/s (gateway ${gateway}, storefront ${storefront})"
  kube -n "${NAMESPACE}" exec deployment/loadgenerator -- ecommerce loadgen --headless \
    --duration "${seconds}" --rate "${LOAD_RATE}" --min-requests "${seconds}" \
    --gateway "${gateway}" --storefront "${storefront}" >&2
}

# Smoke request and metric gate for the current step. Returns 1 when the canary must be rolled back.
gate() {
  local pause="$1" url
  [[ "${DRY_RUN}" == "1" ]] && { log "gate skipped under --dry-run"; return 0; }
  if ((LOAD)); then
    run_load "$((pause > 10 ? pause : 10))" || { log "gate: the load generator saw failed requests"; return 1; }
  elif ((pause > 0)); then
    log "letting the canary take traffic for ${pause}s"
    sleep "${pause}"
  fi
  if ! kube::http_get "${NAMESPACE}" "deployment/${SERVICE}-canary" "$(kube::health_url "${SERVICE}" /readiness)" \
    | grep -Eq '"status" *: *"UP"'; then
    log "gate: the canary's readiness request failed"
    return 1
  fi
  url="$(prometheus_url)"
  # shellcheck disable=SC2086  # GATE_OPTIONS is a list of options
  ecommerce_cli canary gate --prometheus "${url}" --service "${SERVICE}" --namespace "${NAMESPACE}" \
    ${GATE_OPTIONS:-} >&2
}

# Internal services: the canary's share is its share of the pods behind the one Service (and registry entry).
# Arguments: service, version, stable Deployment JSON, pods in total, pause, timeout.
internal_steps() {
  local service="$1" version="$2" deployment_json="$3" pods="$4" pause="$5" timeout="$6" weight canary stable
  for weight in 10 50; do
    canary=$(((pods * weight + 50) / 100))
    ((canary >= 1)) || canary=1
    stable=$((pods - canary))
    log "step ${weight} %: ${canary} canary pod(s) on ${version}, ${stable} stable pod(s) ($((100 * canary / pods)) % of pods)"
    ecommerce_cli kubeobj derive --name "${service}-canary" --label track=canary \
      --image-tag "${version}" --replicas "${canary}" <<<"${deployment_json}" \
      | kube::apply_stdin "${NAMESPACE}" >/dev/null
    kube::change -n "${NAMESPACE}" scale "deployment/${service}" --replicas="${stable}" >/dev/null
    kube::change -n "${NAMESPACE}" rollout status "deployment/${service}-canary" --timeout="${timeout}s" \
      || die "canary pods did not become ready"
    gate "${pause}" || die "gate failed at ${weight} %"
  done
}

# Edge services: the ingress controller splits the requests by the canary Ingress' weight. The canary pods
# carry another app.kubernetes.io/instance than the stable ones, so the stable Service (which selects on it)
# leaves them out, while the app label keeps their network policy and the ServiceMonitor's application label;
# they are OUT_OF_SERVICE in the registry, so the gateway's /app/** route does not reach a storefront canary.
# Stable keeps its replicas (and its autoscaler) throughout.
# Arguments: service, version, stable Deployment JSON, stable replicas, pause, timeout.
edge_steps() {
  local service="$1" version="$2" deployment_json="$3" replicas="$4" pause="$5" timeout="$6"
  local instance service_json ingresses_json canary_service weight canary
  local -a ids=()
  instance="$(kube -n "${NAMESPACE}" get "service/${service}" \
    -o jsonpath='{.spec.selector.app\.kubernetes\.io/instance}')" || die "Service ${service} not found in ${NAMESPACE}"
  [[ -n "${instance}" ]] \
    || die "Service ${service} does not select on app.kubernetes.io/instance: canary pods cannot be kept out of it"
  local -a labels=(--label track=canary --label "app.kubernetes.io/instance=${instance}-canary")
  service_json="$(kube -n "${NAMESPACE}" get "service/${service}" -o json)"
  ingresses_json="$(kube -n "${NAMESPACE}" get ingress -o json)" || die "cannot list the Ingresses of ${NAMESPACE}"
  # Both objects are built before anything changes: a missing Ingress route stops the release here.
  canary_service="$(ecommerce_cli canary service --name "${service}-canary" "${labels[@]}" <<<"${service_json}")" \
    || die "cannot build the canary Service of ${service}"
  ecommerce_cli canary ingress --service "${service}" --name "${service}-canary" --weight 0 \
    <<<"${ingresses_json}" >/dev/null || die "cannot build the canary Ingress of ${service}"

  EDGE=1
  trap on_exit EXIT
  kube::apply_stdin "${NAMESPACE}" <<<"${canary_service}" >/dev/null
  for weight in 10 50 100; do
    canary=$(((replicas * weight + 99) / 100))
    ((canary >= 1)) || canary=1
    log "step ${weight} %: ingress canary-weight ${weight} to ${service}-canary (${canary} pod(s) on ${version})"
    ecommerce_cli kubeobj derive --name "${service}-canary" "${labels[@]}" \
      --image-tag "${version}" --replicas "${canary}" <<<"${deployment_json}" \
      | kube::apply_stdin "${NAMESPACE}" >/dev/null
    kube::change -n "${NAMESPACE}" rollout status "deployment/${service}-canary" --timeout="${timeout}s" \
      || die "canary pods did not become ready"
    mapfile -t ids < <(kube::instance_ids "${NAMESPACE}" "${service}" "app=${service},track=canary")
    kube::registry_status "${NAMESPACE}" "${service}" OUT_OF_SERVICE "${ids[@]}" \
      || warn "the canary of ${service} is still UP in the registry: registry clients reach it too"
    ecommerce_cli canary ingress --service "${service}" --name "${service}-canary" --weight "${weight}" \
      <<<"${ingresses_json}" | kube::apply_stdin "${NAMESPACE}" >/dev/null
    gate "${pause}" || die "gate failed at ${weight} %"
  done
}

main() {
  local pods="" pause=120 timeout=300
  local -a positional=()
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=1 ;;
      --load) LOAD=1 ;;
      --load-rate) (($# > 1)) || usage_error "--load-rate needs a value"; LOAD_RATE="$2"; shift ;;
      --pods) (($# > 1)) || usage_error "--pods needs a value"; pods="$2"; shift ;;
      --pause) (($# > 1)) || usage_error "--pause needs a value"; pause="$2"; shift ;;
      --timeout) (($# > 1)) || usage_error "--timeout needs a value"; timeout="$2"; shift ;;
      -*) usage_error "unknown option: $1" ;;
      *) positional+=("$1") ;;
    esac
    shift
  done
  ((${#positional[@]} >= 2 && ${#positional[@]} <= 3)) || usage_error "need <service> <version> [env]"
  local service="${positional[0]}" version="${positional[1]}"
  NAMESPACE="${positional[2]:-dev}"
  kube::check_namespace "${NAMESPACE}"
  kube::is_component "${service}" && [[ "${service}" != "service-discovery" ]] \
    || usage_error "not a deployable service: ${service}"
  [[ "${version}" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || usage_error "invalid image tag: ${version}"
  [[ "${LOAD_RATE}" =~ ^[0-9]+([.][0-9]+)?$ ]] || usage_error "invalid --load-rate: ${LOAD_RATE}"
  kube::require
  if ((LOAD)) && [[ "${DRY_RUN}" != "1" ]]; then
    kube -n "${NAMESPACE}" get deployment/loadgenerator -o name >/dev/null \
      || die "--load needs deployment/loadgenerator in ${NAMESPACE} (chart value loadgenerator.enabled)"
  fi

  local deployment_json replicas container image
  deployment_json="$(kube -n "${NAMESPACE}" get "deployment/${service}" -o json)" \
    || die "deployment ${service} not found in ${NAMESPACE}"
  replicas="$(kube -n "${NAMESPACE}" get "deployment/${service}" -o jsonpath='{.spec.replicas}')"
  replicas="${replicas:-1}"
  container="$(kube -n "${NAMESPACE}" get "deployment/${service}" -o jsonpath='{.spec.template.spec.containers[0].name}')"
  image="$(kube -n "${NAMESPACE}" get "deployment/${service}" -o jsonpath='{.spec.template.spec.containers[0].image}')"
  pods="${pods:-$((replicas > 10 ? replicas : 10))}"
  ((pods >= 2)) || usage_error "--pods must be at least 2"

  SERVICE="${service}"
  if is_edge "${service}"; then
    edge_steps "${service}" "${version}" "${deployment_json}" "${replicas}" "${pause}" "${timeout}"
  else
    STABLE_REPLICAS="${replicas}"
    trap on_exit EXIT
    internal_steps "${service}" "${version}" "${deployment_json}" "${pods}" "${pause}" "${timeout}"
  fi

  log "step 100 %: updating ${service} to ${version}"
  local new_image
  new_image="$(ecommerce_cli kubeobj retag "${image}" "${version}")"
  kube::change -n "${NAMESPACE}" set image "deployment/${service}" "${container}=${new_image}" >/dev/null
  if [[ -n "${STABLE_REPLICAS}" ]]; then
    kube::change -n "${NAMESPACE}" scale "deployment/${service}" --replicas="${replicas}" >/dev/null
  fi
  if ! kube::change -n "${NAMESPACE}" rollout status "deployment/${service}" --timeout="${timeout}s"; then
    [[ "${DRY_RUN}" == "1" ]] || kube::record_verdict "${NAMESPACE}" "${service}" unhealthy
    kube::change -n "${NAMESPACE}" rollout undo "deployment/${service}" >/dev/null || true
    die "${service} did not roll out on ${version}; undone"
  fi
  [[ "${DRY_RUN}" == "1" ]] || kube::record_verdict "${NAMESPACE}" "${service}" healthy
  if ((EDGE)); then
    kube::change -n "${NAMESPACE}" delete ingress "${service}-canary" --ignore-not-found >/dev/null
    kube::change -n "${NAMESPACE}" delete service "${service}-canary" --ignore-not-found >/dev/null
  fi
  kube::change -n "${NAMESPACE}" delete deployment "${service}-canary" --ignore-not-found >/dev/null
  SERVICE=""
  log "${service} is on ${version} (100 %); canary removed"
}

main "$@"
