#!/usr/bin/env bash
#
# Regenerate everything derived from one source (see usage below).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly CHART="${ROOT}/helm-charts/ecommerce-microservices"
readonly OUT="${K8S_OUT:-${ROOT}/k8s}"
readonly RELEASE="ecommerce"
readonly NAMESPACE="dev"

usage() {
  cat <<EOF_USAGE
Usage: $(basename "$0") [-h|--help] [--sync-only | --render-only]
Regenerate everything derived from one source:
  1. the files generated from the component table (\`ecommerce components render\`: the chart's
     files/components.yaml, scripts/lib/components.sh, config-repo/api-gateway.yml's routes), then copy
     monitoring/rules/*.yaml, monitoring/dashboards/*.json and config-repo/* into the chart's files/
     (Helm reads no file outside the chart; tests fail when a copy drifts);
  2. render the chart with the dev values into k8s/, in the layout the operations manual applies (needs helm).
  --sync-only     step 1 only
  --render-only   step 2 only
Environment: K8S_OUT=DIR renders somewhere else than k8s/.
EOF_USAGE
}

log() { printf 'render-k8s: %s\n' "$*" >&2; }

find_helm() {
  local candidate
  for candidate in "${ROOT}/.tools/bin/helm4" "${ROOT}/.tools/bin/helm" "$(command -v helm || true)"; do
    if [[ -n "${candidate}" && -x "${candidate}" ]]; then
      printf '%s\n' "${candidate}"
      return 0
    fi
  done
  log "helm not found: run tools/install-kube.sh"
  return 1
}

find_python() {
  if [[ -x "${ROOT}/.venv/bin/python" ]]; then
    printf '%s\n' "${ROOT}/.venv/bin/python"
  else
    command -v python3
  fi
}

# Mirror SOURCE_DIR's files matching PATTERN into DEST_DIR (removing copies whose source is gone).
sync_dir() {
  local source_dir="$1" pattern="$2" dest_dir="$3" file
  mkdir -p "${dest_dir}"
  find "${dest_dir}" -maxdepth 1 -type f ! -name '.gitkeep' -delete
  if [[ -d "${source_dir}" ]]; then
    while IFS= read -r -d '' file; do
      cp "${file}" "${dest_dir}/"
    done < <(find "${source_dir}" -maxdepth 1 -type f -name "${pattern}" -print0)
  fi
  touch "${dest_dir}/.gitkeep"
}

sync_files() {
  local python
  python="$(find_python)"
  PYTHONPATH="${ROOT}/src${PYTHONPATH:+:${PYTHONPATH}}" "${python}" -m ecommerce components render --root "${ROOT}"
  sync_dir "${ROOT}/monitoring/rules" '*.yaml' "${CHART}/files/rules"
  sync_dir "${ROOT}/monitoring/dashboards" '*.json' "${CHART}/files/dashboards"
  sync_dir "${ROOT}/config-repo" '*' "${CHART}/files/config-repo"
  log "rendered the component table; synced monitoring/rules, monitoring/dashboards and config-repo into ${CHART#"${ROOT}/"}/files"
}

render() {
  local helm python
  helm="$(find_helm)"
  python="$(find_python)"
  "${helm}" template "${RELEASE}" "${CHART}" --namespace "${NAMESPACE}" \
    --values "${CHART}/values-${NAMESPACE}.yaml" --set namespaces.create=true \
    | PYTHONPATH="${ROOT}/src${PYTHONPATH:+:${PYTHONPATH}}" "${python}" -m ecommerce kubeobj split-manifests \
      "${OUT}" "${NAMESPACE}"
  log "rendered ${CHART#"${ROOT}/"} (values-${NAMESPACE}.yaml) into ${OUT}"
}

main() {
  local mode="${1:-all}"
  case "${mode}" in
    all) sync_files && render ;;
    --sync-only) sync_files ;;
    --render-only) render ;;
    -h | --help) usage ;;
    *)
      log "unknown option ${mode}"
      usage >&2
      return 2
      ;;
  esac
}

main "$@"
