#!/usr/bin/env bash
#
# Install prometheus, promtool, alertmanager and amtool from Debian's packages into .tools/.
# The packages are fetched with `apt-get download` and unpacked with `dpkg-deb -x` (no dependencies, no
# services started, nothing written outside the checkout); the binaries link only libc.
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly PACKAGES=(prometheus prometheus-alertmanager)
readonly PROM_ROOT="${TOOLS_DIR}/prometheus"
# Debian's alertmanager reads its notification templates from this fixed directory and refuses to start without.
readonly AM_TEMPLATES_DIR="/usr/share/prometheus/alertmanager"
# "link name in .tools/bin=binary inside the unpacked packages"
readonly BINARIES=(
  "prometheus=usr/bin/prometheus"
  "promtool=usr/bin/promtool"
  "alertmanager=usr/bin/prometheus-alertmanager"
  "amtool=usr/bin/amtool"
)

#######################################
# True when every binary is linked and runs.
#######################################
already_installed() {
  local entry
  for entry in "${BINARIES[@]}"; do
    [[ -x "${TOOLS_BIN}/${entry%%=*}" ]] || return 1
  done
  "${TOOLS_BIN}/promtool" --version >/dev/null 2>&1 && "${TOOLS_BIN}/amtool" --version >/dev/null 2>&1 \
    && [[ -f "${AM_TEMPLATES_DIR}/default.tmpl" ]]
}

#######################################
# Put alertmanager's default templates where the Debian build looks for them (as the package would).
#######################################
install_alertmanager_templates() {
  [[ -f "${AM_TEMPLATES_DIR}/default.tmpl" ]] && return 0
  tools::log "installing alertmanager templates into ${AM_TEMPLATES_DIR}"
  mkdir -p "${AM_TEMPLATES_DIR}"
  cp "${PROM_ROOT}${AM_TEMPLATES_DIR}"/*.tmpl "${AM_TEMPLATES_DIR}/"
}

#######################################
# Download the .deb files into a directory, refreshing the package lists once if the first try fails.
# Arguments:
#   Directory to download into.
#######################################
download_packages() {
  local dest="$1"
  if ! (cd "${dest}" && apt-get download -qq "${PACKAGES[@]}" >/dev/null 2>&1); then
    tools::log "apt-get download failed; refreshing package lists"
    apt-get update -qq
    (cd "${dest}" && apt-get download -qq "${PACKAGES[@]}" >/dev/null)
  fi
}

main() {
  if already_installed; then
    return 0
  fi
  tools::log "installing ${PACKAGES[*]} into ${PROM_ROOT}"
  local tmp deb entry
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064  # expand now: tmp is local
  trap "rm -rf '${tmp}'" EXIT
  download_packages "${tmp}"
  rm -rf "${PROM_ROOT}"
  mkdir -p "${PROM_ROOT}"
  for deb in "${tmp}"/*.deb; do
    dpkg-deb -x "${deb}" "${PROM_ROOT}"
  done
  for entry in "${BINARIES[@]}"; do
    ln -sfn "../prometheus/${entry#*=}" "${TOOLS_BIN}/${entry%%=*}"
  done
  install_alertmanager_templates
  "${TOOLS_BIN}/promtool" --version >&2
}

main "$@"
