#!/usr/bin/env bash
#
# Blue-green release: start the new colour next to the live one, check it, switch the Service selector and
# the registry (services call each other through it), keep the old colour for a confirmation window (instant
# --switch-back), then remove it.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
# shellcheck source-path=SCRIPTDIR source=lib/log.sh
source "${SCRIPT_DIR}/lib/log.sh"
# shellcheck source-path=SCRIPTDIR source=lib/kube.sh
source "${SCRIPT_DIR}/lib/kube.sh"

usage() {
  cat <<EOF_USAGE
Usage: $(basename "$0") [options] <env> <version> [service...]
       $(basename "$0") --switch-back <env> [service...]

For each service (default: every component but service-discovery, a StatefulSet): read the live colour
from the Service's selector (the chart's pods carry color=blue, values.color, and its Services select it, so
on the first release blue is the chart's Deployment and the new colour is green; a Service without a colour,
from a chart before the color label, counts as the chart's Deployment too),
create <service>-<new colour> on image tag <version> with pods labelled color=<new colour>, wait until
ready, mark its instances OUT_OF_SERVICE in the registry (service-discovery) until the switch, check its
health, then switch: the new colour's instances UP in the registry, the Service pointed at it, the old
colour's instances OUT_OF_SERVICE. An unhealthy new colour is deleted and never receives traffic. The old
colour stays up for the confirmation window, then is removed (the chart's Deployment is scaled to 0
instead, so Helm still owns it). --switch-back does the reverse, registry included.
Options:
  --window S      confirmation window in seconds before the old colour is removed (default 300)
  --keep-old      do not remove the old colour (switch back later with --switch-back)
  --switch-back   point the Services back at the previous colour (started again if needed)
  --timeout S     seconds to wait for each rollout (default 300)
  --dry-run       print the changes instead of making them
Environment: KUBECTL, REGISTRY_ATTEMPTS (tries per registry change while instances register, default 6).
EOF_USAGE
}

# Print the Deployment that serves a colour: <service>-<colour> when this script made one, else the chart's
# own Deployment when its pods carry that colour ("" = no colour: a chart from before the color label).
# Returns 1 when no Deployment serves it. Arguments: namespace, service, colour.
colour_deployment() {
  local namespace="$1" service="$2" colour="$3" chart_colour
  if [[ -n "${colour}" ]] && kube -n "${namespace}" get "deployment/${service}-${colour}" >/dev/null 2>&1; then
    printf '%s-%s' "${service}" "${colour}"
    return 0
  fi
  chart_colour="$(kube -n "${namespace}" get "deployment/${service}" \
    -o jsonpath='{.spec.template.metadata.labels.color}' 2>/dev/null)" || return 1
  [[ "${chart_colour}" == "${colour}" ]] || return 1
  printf '%s' "${service}"
}

# The label selector of a colour's pods ("" = the chart's own pods, which carry no colour).
colour_selector() {
  if [[ -z "$2" ]]; then printf 'app=%s,!color' "$1"; else printf 'app=%s,color=%s' "$1" "$2"; fi
}

# Set the registry status (OUT_OF_SERVICE or UP) of every instance of a colour.
# Arguments: namespace, service, colour, status.
registry_colour() {
  local namespace="$1" service="$2" colour="$3" status="$4"
  local -a ids=()
  mapfile -t ids < <(kube::instance_ids "${namespace}" "${service}" "$(colour_selector "${service}" "${colour}")")
  if ((${#ids[@]} == 0)); then
    log "${service}: no ${colour:-<chart>} pod with an address: nothing to mark ${status} in the registry"
    return 0
  fi
  kube::registry_status "${namespace}" "${service}" "${status}" "${ids[@]}"
}

# Move the traffic of a service from one colour to another, in the registry and in the Service: the target's
# instances UP first (if that fails nothing is switched), then the Service selector, then the source's
# instances OUT_OF_SERVICE (if that fails the source keeps some registry traffic until it is removed, when
# its preStop hook takes it out). Arguments: namespace, service, from colour, to colour.
switch_traffic() {
  local namespace="$1" service="$2" from="$3" to="$4"
  registry_colour "${namespace}" "${service}" "${to}" UP \
    || { log "${service}: ${to:-<chart>} could not be marked UP in the registry; nothing switched"; return 1; }
  select_colour "${namespace}" "${service}" "${to}"
  registry_colour "${namespace}" "${service}" "${from}" OUT_OF_SERVICE \
    || warn "${service}: ${from:-<chart>} is still UP in the registry; it leaves when it is removed"
}

healthy() {
  local namespace="$1" service="$2" deployment="$3"
  kube::http_get "${namespace}" "deployment/${deployment}" "$(kube::health_url "${service}" /readiness)" \
    | grep -Eq '"status" *: *"UP"'
}

# Point the Service at a colour ("" removes the colour from the selector: the chart's Deployment).
select_colour() {
  local namespace="$1" service="$2" colour="$3"
  if [[ -z "${colour}" ]]; then
    kube::change -n "${namespace}" patch service "${service}" --type json \
      -p '[{"op": "remove", "path": "/spec/selector/color"}]' >/dev/null
  else
    kube::change -n "${namespace}" patch service "${service}" --type merge \
      -p "{\"spec\":{\"selector\":{\"color\":\"${colour}\"}}}" >/dev/null
  fi
}

deploy_one() {
  local namespace="$1" service="$2" version="$3" window="$4" keep_old="$5" timeout="$6"
  local current new live replicas endpoints
  current="$(kube -n "${namespace}" get service "${service}" -o jsonpath='{.spec.selector.color}')" \
    || { log "${service}: no Service in ${namespace}"; return 1; }
  if [[ "${current}" == "green" ]]; then new="blue"; else new="green"; fi
  live="$(colour_deployment "${namespace}" "${service}" "${current}")" \
    || { log "${service}: no Deployment serves the live colour ${current:-<chart>}"; return 1; }
  replicas="$(kube -n "${namespace}" get "deployment/${live}" -o jsonpath='{.spec.replicas}')" \
    || { log "${service}: live Deployment ${live} not found"; return 1; }
  ((replicas > 0)) || replicas=1
  log "${service}: live colour ${current:-<chart>} (${live}), deploying ${new} on ${version} with ${replicas} pod(s)"
  kube -n "${namespace}" get "deployment/${live}" -o json \
    | ecommerce_cli kubeobj derive --name "${service}-${new}" --label "color=${new}" \
      --image-tag "${version}" --replicas "${replicas}" \
    | kube::apply_stdin "${namespace}" >/dev/null
  local ready=1
  kube::change -n "${namespace}" rollout status "deployment/${service}-${new}" --timeout="${timeout}s" || ready=0
  if ((ready)); then
    # Registered instances take registry traffic at once: hold them out of it until the switch.
    registry_colour "${namespace}" "${service}" "${new}" OUT_OF_SERVICE \
      || warn "${service}: ${new} could not be held OUT_OF_SERVICE; it may take registry traffic before the switch"
    [[ "${DRY_RUN}" == "1" ]] || healthy "${namespace}" "${service}" "${service}-${new}" || ready=0
  fi
  if ((ready == 0)); then
    log "${service}: ${service}-${new} is not healthy; deleting it, traffic stays on ${current:-<chart>}"
    kube::change -n "${namespace}" delete deployment "${service}-${new}" --ignore-not-found >/dev/null
    return 1
  fi
  if ! switch_traffic "${namespace}" "${service}" "${current}" "${new}"; then
    log "${service}: deleting ${service}-${new}, traffic stays on ${current:-<chart>}"
    kube::change -n "${namespace}" delete deployment "${service}-${new}" --ignore-not-found >/dev/null
    return 1
  fi
  if [[ "${DRY_RUN}" != "1" ]]; then
    endpoints="$(kube -n "${namespace}" get endpoints "${service}" -o jsonpath='{.subsets[*].addresses[*].ip}' | wc -w)"
    if ((endpoints == 0)); then
      log "${service}: the Service has no endpoints on ${new}; switching back"
      switch_traffic "${namespace}" "${service}" "${new}" "${current}" || select_colour "${namespace}" "${service}" "${current}"
      return 1
    fi
    kube::record_verdict "${namespace}" "${service}-${new}" healthy
  fi
  log "${service}: traffic switched to ${new}"
  if ((keep_old)); then
    log "${service}: ${live} kept; '$(basename "$0") --switch-back ${namespace} ${service}' returns to it"
    return 0
  fi
  if ((window > 0)); then
    log "${service}: confirmation window ${window}s (Ctrl-C keeps ${live} running for --switch-back)"
    sleep "${window}"
  fi
  if [[ "${live}" == "${service}" ]]; then
    # The chart's own Deployment: Helm owns it, so it stays, scaled to zero.
    kube::change -n "${namespace}" scale "deployment/${live}" --replicas=0 >/dev/null
  else
    kube::change -n "${namespace}" delete deployment "${live}" --ignore-not-found >/dev/null
  fi
  log "${service}: old colour ${current:-<chart>} removed"
}

switch_back() {
  local namespace="$1" service="$2" timeout="$3" current previous target replicas
  current="$(kube -n "${namespace}" get service "${service}" -o jsonpath='{.spec.selector.color}')"
  [[ -n "${current}" ]] || { log "${service}: not on a colour, nothing to switch back to"; return 1; }
  if [[ "${current}" == "green" ]]; then previous="blue"; else previous="green"; fi
  local deployment live
  if deployment="$(colour_deployment "${namespace}" "${service}" "${previous}")"; then
    target="${previous}"
  elif deployment="$(colour_deployment "${namespace}" "${service}" "")"; then
    target=""  # the chart's Deployment, from before the color label
  else
    log "${service}: no Deployment serves ${previous}; traffic stays on ${current}"
    return 1
  fi
  live="$(colour_deployment "${namespace}" "${service}" "${current}")" || live="${service}-${current}"
  replicas="$(kube -n "${namespace}" get "deployment/${live}" -o jsonpath='{.spec.replicas}')"
  kube::change -n "${namespace}" scale "deployment/${deployment}" --replicas="${replicas:-1}" >/dev/null
  kube::change -n "${namespace}" rollout status "deployment/${deployment}" --timeout="${timeout}s" \
    || { log "${service}: ${deployment} is not ready; traffic stays on ${current}"; return 1; }
  switch_traffic "${namespace}" "${service}" "${current}" "${target}" \
    || { log "${service}: traffic stays on ${current}"; return 1; }
  log "${service}: traffic back on ${target:-<chart>} (${deployment})"
}

main() {
  local window=300 keep_old=0 back=0 timeout=300
  local -a positional=()
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=1 ;;
      --keep-old) keep_old=1 ;;
      --switch-back) back=1 ;;
      --window) (($# > 1)) || usage_error "--window needs a value"; window="$2"; shift ;;
      --timeout) (($# > 1)) || usage_error "--timeout needs a value"; timeout="$2"; shift ;;
      -*) usage_error "unknown option: $1" ;;
      *) positional+=("$1") ;;
    esac
    shift
  done
  local namespace="${positional[0]:-}" version=""
  [[ -n "${namespace}" ]] || usage_error "missing <env>"
  kube::check_namespace "${namespace}"
  local -a services=()
  if ((back)); then
    services=("${positional[@]:1}")
  else
    version="${positional[1]:-}"
    [[ -n "${version}" ]] || usage_error "missing <version>"
    [[ "${version}" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || usage_error "invalid image tag: ${version}"
    services=("${positional[@]:2}")
  fi
  if ((${#services[@]} == 0)); then
    services=("${COMPONENTS[@]:1}")
  fi
  local service
  for service in "${services[@]}"; do
    kube::is_component "${service}" && [[ "${service}" != "service-discovery" ]] \
      || usage_error "not a blue-green service: ${service}"
  done
  kube::require
  for service in "${services[@]}"; do
    if ((back)); then
      switch_back "${namespace}" "${service}" "${timeout}" || die "switch-back of ${service} failed"
    else
      deploy_one "${namespace}" "${service}" "${version}" "${window}" "${keep_old}" "${timeout}" \
        || die "blue-green deployment of ${service} failed; it still serves the previous colour"
    fi
  done
  log "done"
}

main "$@"
