#!/usr/bin/env bash
#
# Install Debian's chromium for the storefront's browser tests (Playwright drives it through
# executable_path=/usr/bin/chromium; no browser is downloaded by Playwright itself).
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly CHROMIUM_BIN="/usr/bin/chromium"
readonly PACKAGES=(chromium fonts-dejavu-core)

#######################################
# True when the chromium binary is present and answers --version.
#######################################
already_installed() {
  [[ -x "${CHROMIUM_BIN}" ]] && "${CHROMIUM_BIN}" --version >/dev/null 2>&1
}

main() {
  if already_installed; then
    ln -sfn "${CHROMIUM_BIN}" "${TOOLS_BIN}/chromium"
    return 0
  fi
  tools::log "installing ${PACKAGES[*]}"
  tools::apt_install "${PACKAGES[@]}"
  ln -sfn "${CHROMIUM_BIN}" "${TOOLS_BIN}/chromium"
  "${CHROMIUM_BIN}" --version >&2
}

main "$@"
