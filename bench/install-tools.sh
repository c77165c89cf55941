#!/usr/bin/env bash
#
# What `make bench` needs beyond `make tools`: wrk (closed-loop load), taskset (pinning), nginx (the gateway's
# yardstick), valgrind (the chassis' instructions per request). Idempotent.
set -euo pipefail

# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tools/lib.sh"

main() {
  tools::apt_install wrk util-linux nginx valgrind
}

main "$@"
