#!/usr/bin/env bash
#
# Install curl and jq from Debian's packages: the README's purchase walk-through uses them, and a test runs it.
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly PACKAGES=(curl jq)

main() {
  if command -v curl >/dev/null && command -v jq >/dev/null; then
    return 0
  fi
  tools::log "installing ${PACKAGES[*]}"
  tools::apt_install "${PACKAGES[@]}"
}

main "$@"
