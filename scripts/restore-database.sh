#!/usr/bin/env bash
#
# Restore one database from a backup on the backup-storage volume, safely: confirm, check the dump,
# stop the service that writes to the database, restore (the restore itself ends open connections and
# compares every table with the backup), then start the service again.
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
Usage: $(basename "$0") [--database NAME] [--yes] [-n|--namespace NS] [--timeout S] [--dry-run] <backup-file>

<backup-file> is a name shown by list-backups.sh (e.g. productdb-20261202T020000Z.dump) on the
backup-storage volume. The database defaults to the one in the file name.
Steps: confirm (type the database name, or --yes), verify the dump (checksum and archive), scale the
service that owns the database to 0 (and pause its KEDA ScaledObject), run a Job
'ecommerce db restore' (ends open connections, restores into a scratch database, compares row counts
and checksums with the backup's manifest, then swaps it in), scale the service back and wait for it.
Namespace: -n, or NAMESPACE, default dev. Environment: KUBECTL, NAMESPACE.
EOF_USAGE
}

NAMESPACE=""
WRITER=""
WRITER_REPLICAS=""
WRITER_KEDA=0

# Give the writer its replicas back (runs on every exit once it was scaled down).
restore_writer() {
  [[ -n "${WRITER}" ]] || return 0
  log "starting ${WRITER} again (${WRITER_REPLICAS} replica(s))"
  kube::change -n "${NAMESPACE}" scale "deployment/${WRITER}" --replicas="${WRITER_REPLICAS}" >/dev/null || true
  if ((WRITER_KEDA)); then
    kube::change -n "${NAMESPACE}" annotate scaledobject "${WRITER}-scaler" autoscaling.keda.sh/paused-replicas- \
      >/dev/null || true
  fi
  kube::change -n "${NAMESPACE}" rollout status "deployment/${WRITER}" --timeout=300s >/dev/null \
    || warn "${WRITER} is not ready yet: check 'kubectl get pods -n ${NAMESPACE} -l app=${WRITER}'"
  WRITER=""
}

confirm() {
  local database="$1" answer
  if [[ ! -t 0 ]]; then
    die "refusing to replace database ${database} without confirmation: pass --yes"
  fi
  read -r -p "This replaces database ${database} in ${NAMESPACE}. Type its name to continue: " answer
  [[ "${answer}" == "${database}" ]] || die "not confirmed; nothing changed"
}

main() {
  local file="" database="" yes=0 timeout=1800
  NAMESPACE="${NAMESPACE:-dev}"
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=1 ;;
      -y | --yes) yes=1 ;;
      --database) (($# > 1)) || usage_error "--database needs a value"; database="$2"; shift ;;
      -n | --namespace) (($# > 1)) || usage_error "$1 needs a value"; NAMESPACE="$2"; shift ;;
      --timeout) (($# > 1)) || usage_error "--timeout needs a value"; timeout="$2"; shift ;;
      -*) usage_error "unknown option: $1" ;;
      *) [[ -z "${file}" ]] || usage_error "unexpected argument: $1"; file="$1" ;;
    esac
    shift
  done
  [[ -n "${file}" ]] || usage_error "missing <backup-file>"
  file="$(basename "${file}")"
  [[ "${file}" =~ ^([a-z_][a-z0-9_]*)-[0-9]{8}T[0-9]{6}Z(-[0-9]+)?\.dump$ ]] \
    || usage_error "not a backup file name: ${file} (see list-backups.sh)"
  database="${database:-${BASH_REMATCH[1]}}"
  kube::check_namespace "${NAMESPACE}"
  kube::require
  ((yes)) || confirm "${database}"

  log "verifying ${file}"
  backup::run_pod "${NAMESPACE}" "backup-verify-$(backup::stamp)" 300 db verify "${BACKUP_DIR}/${file}" \
    || die "backup ${file} is missing or damaged; nothing changed"

  local service
  for service in "${BUSINESS_SERVICES[@]}"; do
    [[ "${SERVICE_DATABASE[${service}]}" == "${database}" ]] && WRITER="${service}"
  done
  trap restore_writer EXIT
  if [[ -n "${WRITER}" ]]; then
    WRITER_REPLICAS="$(kube -n "${NAMESPACE}" get "deployment/${WRITER}" -o jsonpath='{.spec.replicas}')" \
      || { local missing="${WRITER}"; WRITER=""; die "deployment ${missing} not found"; }
    ((WRITER_REPLICAS > 0)) || WRITER_REPLICAS=1
    if kube -n "${NAMESPACE}" get scaledobject "${WRITER}-scaler" >/dev/null 2>&1; then
      WRITER_KEDA=1
      kube::change -n "${NAMESPACE}" annotate scaledobject "${WRITER}-scaler" \
        autoscaling.keda.sh/paused-replicas=0 --overwrite >/dev/null
    fi
    log "stopping ${WRITER} (${WRITER_REPLICAS} replica(s)) while ${database} is restored"
    kube::change -n "${NAMESPACE}" scale "deployment/${WRITER}" --replicas=0 >/dev/null
    kube::change -n "${NAMESPACE}" wait --for=delete pod -l "app=${WRITER}" --timeout=120s >/dev/null || true
  fi

  local job cronjob
  job="restore-${database//_/-}-$(backup::stamp)"
  cronjob="$(kube -n "${NAMESPACE}" get "cronjob/${BACKUP_CRONJOB}" -o json)" || die "CronJob ${BACKUP_CRONJOB} not found"
  ecommerce_cli kubeobj job-from-cronjob --name "${job}" --label app=postgres-restore \
    -- db restore "${BACKUP_DIR}/${file}" --database "${database}" --yes <<<"${cronjob}" \
    | kube::apply_stdin "${NAMESPACE}" >/dev/null
  log "restore Job ${job} started"
  if ! kube::wait_job "${NAMESPACE}" "${job}" "${timeout}"; then
    kube -n "${NAMESPACE}" logs "job/${job}" >&2 || true
    die "restore Job ${job} failed; ${database} keeps its previous contents (the restore swaps only a verified copy)"
  fi
  [[ "${DRY_RUN}" == "1" ]] && return 0
  local output
  output="$(kube -n "${NAMESPACE}" logs "job/${job}" 2>&1)" || true
  printf '%s\n' "${output}"
  grep -Eq '^restored .* verified$' <<<"${output}" || die "restore Job ${job} did not report a verified restore"
  restore_writer
  log "${database} restored from ${file}"
}

main "$@"
