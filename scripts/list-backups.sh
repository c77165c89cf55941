#!/usr/bin/env bash
#
# List every backup on the backup-storage volume with size, date, SHA-256 and whether the file still
# matches its checksum, from a short-lived pod that mounts the volume read-only.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
# shellcheck source-path=SCRIPTDIR source=lib/log.sh
source "${SCRIPT_DIR}/lib/log.sh"
# shellcheck source-path=SCRIPTDIR source=lib/kube.sh
source "${SCRIPT_DIR}/lib/kube.sh"
# shellcheck source-path=SCRIPTDIR source=lib/backup.sh
source "${SCRIPT_DIR}/lib/backup.sh"

usage() {
  cat <<EOF_USAGE
Usage: $(basename "$0") [-n|--namespace NS] [--json] [--dry-run] [-h|--help]

Start a pod like CronJob ${BACKUP_CRONJOB}'s (volume backup-storage at ${BACKUP_DIR}, read-only) that runs
'ecommerce db list', print its table (file, database, size, date, SHA-256, status) and remove the pod.
Namespace: -n, or NAMESPACE, default dev. Environment: KUBECTL, NAMESPACE.
EOF_USAGE
}

main() {
  local namespace="${NAMESPACE:-dev}"
  local -a extra=()
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=1 ;;
      --json) extra+=(--json) ;;
      -n | --namespace) (($# > 1)) || usage_error "$1 needs a value"; namespace="$2"; shift ;;
      *) usage_error "unexpected argument: $1" ;;
    esac
    shift
  done
  kube::check_namespace "${namespace}"
  kube::require
  backup::run_pod "${namespace}" "backup-list-$(backup::stamp)" 300 db list --dir "${BACKUP_DIR}" "${extra[@]}" \
    || die "listing the backups failed"
}

main "$@"
