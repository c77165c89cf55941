#!/usr/bin/env bash
#
# A running Docker engine for `make test-containers`: Debian's docker.io (and mmdebstrap for the stand-in base
# images, docker-compose 1.29 for the Compose v1 check) installed when missing, dockerd started as root in the
# background when it is not answering (log: /var/log/ecommerce-dockerd.log).
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

readonly DOCKERD_LOG="/var/log/ecommerce-dockerd.log"

main() {
  tools::apt_install docker.io mmdebstrap docker-compose
  if docker info >/dev/null 2>&1; then
    return 0
  fi
  tools::log "starting dockerd (log: ${DOCKERD_LOG})"
  setsid dockerd >"${DOCKERD_LOG}" 2>&1 </dev/null &
  local attempt
  for attempt in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  tools::log "dockerd did not answer after ${attempt} s; see ${DOCKERD_LOG}"
  return 1
}

main "$@"
