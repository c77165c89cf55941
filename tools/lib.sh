# Shared helpers for tools/install-*.sh. Sourced, not run.
# Tools go to .tools/ in the project root so nothing outside the checkout changes except apt packages.
readonly TOOLS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly TOOLS_DIR="${TOOLS_ROOT}/.tools"
readonly TOOLS_BIN="${TOOLS_DIR}/bin"
mkdir -p "${TOOLS_BIN}"

tools::log() { printf 'tools: %s\n' "$*" >&2; }

# Install Debian packages that are missing; runs apt-get update at most once per call.
tools::apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null | grep -q 'install ok installed' || missing+=("${pkg}")
  done
  ((${#missing[@]} == 0)) && return 0
  tools::log "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
