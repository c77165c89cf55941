# shellcheck shell=bash
#
# Helpers shared by backup-database.sh, list-backups.sh and restore-database.sh. Sourced after kube.sh.
# The pods they start copy the backup CronJob's pod (image, PostgreSQL credentials, the backup-storage
# volume at /backups, security settings) and only change what `ecommerce` runs.

readonly BACKUP_CRONJOB="${BACKUP_CRONJOB:-postgres-backup}"
# shellcheck disable=SC2034  # used by the scripts that source this file
readonly BACKUP_DIR="/backups"

# A timestamp for object names (lower case, no colons).
backup::stamp() {
  date -u +%Y%m%d-%H%M%S
}

# Run `ecommerce <args>` in a short-lived pod with the backup volume; print its output; remove it.
# Arguments: namespace, pod name, timeout, ecommerce arguments...
backup::run_pod() {
  local namespace="$1" name="$2" timeout="$3" cronjob phase waited=0
  shift 3
  cronjob="$(kube -n "${namespace}" get "cronjob/${BACKUP_CRONJOB}" -o json)" \
    || die "CronJob ${BACKUP_CRONJOB} not found in ${namespace} (deploy the chart or k8s/backups/ first)"
  ecommerce_cli kubeobj pod-from-cronjob --name "${name}" --label "app=${BACKUP_CRONJOB}-tool" \
    -- "$@" <<<"${cronjob}" | kube::apply_stdin "${namespace}" >/dev/null
  [[ "${DRY_RUN}" == "1" ]] && return 0
  while ((waited <= timeout)); do
    phase="$(kube -n "${namespace}" get "pod/${name}" -o jsonpath='{.status.phase}' 2>/dev/null)" || phase=""
    [[ "${phase}" == "Succeeded" || "${phase}" == "Failed" ]] && break
    sleep "${POLL_SECONDS}"
    waited=$((waited + POLL_SECONDS))
  done
  kube -n "${namespace}" logs "pod/${name}" || true
  kube::change -n "${namespace}" delete pod "${name}" --ignore-not-found --wait=false >/dev/null || true
  [[ "${phase}" == "Succeeded" ]]
}
