#!/usr/bin/env bash
#
# Back up the shop's databases now: a Job from the backup CronJob, waited on by its own name, whose
# `ecommerce db backup` verifies each dump; prints where each dump is and its SHA-256.
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
Usage: $(basename "$0") [-n|--namespace NS] [--timeout S] [--dry-run] [-h|--help] [database...]

Start a Job from CronJob ${BACKUP_CRONJOB} (all the shop's databases, or only those named: userdb,
productdb, favouritedb, orderdb, shippingdb, paymentdb), wait for that Job, and print each dump's path on
the backup-storage volume (${BACKUP_DIR}) with its SHA-256. The Job keeps the newest backups per database
(the CronJob's retention). Namespace: -n, or NAMESPACE, default dev.
Environment: KUBECTL, NAMESPACE.
EOF_USAGE
}

main() {
  local namespace="${NAMESPACE:-dev}" timeout=900
  local -a databases=()
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=1 ;;
      -n | --namespace) (($# > 1)) || usage_error "$1 needs a value"; namespace="$2"; shift ;;
      --timeout) (($# > 1)) || usage_error "--timeout needs a value"; timeout="$2"; shift ;;
      -*) usage_error "unknown option: $1" ;;
      *) [[ "$1" =~ ^[a-z_][a-z0-9_]*$ ]] || usage_error "invalid database name: $1"; databases+=("$1") ;;
    esac
    shift
  done
  kube::check_namespace "${namespace}"
  kube::require

  local job
  job="backup-manual-$(backup::stamp)"
  log "starting Job ${job} from CronJob ${BACKUP_CRONJOB} in ${namespace} (${databases[*]:-all databases})"
  if ((${#databases[@]} == 0)); then
    kube::change -n "${namespace}" create job "${job}" --from="cronjob/${BACKUP_CRONJOB}" >/dev/null \
      || die "cannot create the Job (does CronJob ${BACKUP_CRONJOB} exist in ${namespace}?)"
  else
    kube -n "${namespace}" create job "${job}" --from="cronjob/${BACKUP_CRONJOB}" --dry-run=client -o json \
      | kube set env --local -f - -o json "ECOMMERCE_BACKUP_DATABASES=${databases[*]}" \
      | kube::apply_stdin "${namespace}" >/dev/null \
      || die "cannot create the Job (does CronJob ${BACKUP_CRONJOB} exist in ${namespace}?)"
  fi
  [[ "${DRY_RUN}" == "1" ]] && return 0

  local ok=0 output
  kube::wait_job "${namespace}" "${job}" "${timeout}" && ok=1
  output="$(kube -n "${namespace}" logs "job/${job}" 2>&1)" || true
  if ((ok == 0)); then
    printf '%s\n' "${output}" >&2
    die "backup Job ${job} failed (logs above; kubectl describe job/${job} -n ${namespace})"
  fi
  local lines
  lines="$(grep -E '^backup .* sha256=[0-9a-f]{64} .*verified$' <<<"${output}" || true)"
  [[ -n "${lines}" ]] || { printf '%s\n' "${output}" >&2; die "Job ${job} reported no verified backup"; }
  local _ path sha rest
  while read -r _ path sha rest; do
    printf '%s  %s  (volume backup-storage)\n' "${sha#sha256=}" "${path}"
  done <<<"${lines}"
  log "backup finished: $(wc -l <<<"${lines}") verified dump(s); list them with list-backups.sh -n ${namespace}"
}

main "$@"
