#!/usr/bin/env bash
#
# Rotate a service's database credential without failing a request: the new credential is created in
# PostgreSQL next to the old one, the Secret is updated, the service restarted and checked, and only then
# is the old credential retired. Any failure puts the old Secret back; the old credential keeps working.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
# shellcheck source-path=SCRIPTDIR source=lib/log.sh
source "${SCRIPT_DIR}/lib/log.sh"
# shellcheck source-path=SCRIPTDIR source=lib/kube.sh
source "${SCRIPT_DIR}/lib/kube.sh"
# shellcheck source-path=SCRIPTDIR source=lib/identity.sh
source "${SCRIPT_DIR}/lib/identity.sh"

usage() {
  cat <<EOF_USAGE
Usage: $(basename "$0") [options] <service> [<new-username> <new-password>]
       $(basename "$0") [-n NS] [--timeout S] identity

identity: rotate the environment's identity (Secret identity-secret): a new mesh key is added (verifying only),
then made the signing key, then the old keys are dropped, with a restart of every component after each step;
the operator's and Prometheus' passwords are replaced in the first step. A failed first step restores the old.

Rotate the database credential of <service> (one of the six business services), in namespace -n (default
dev, or NAMESPACE). Without a username the role alternates between <role> and <role>_b, so the old and
the new credential overlap. The password comes, safest first, from:
  (nothing)              a generated 40-character password (default)
  --password-file FILE   the first line of FILE
  --password-stdin       the first line of standard input
  <new-password>         the command line (lands in your shell history: avoid)
Steps: create/alter the new role (member of the database owner, so it sees the same tables), update
Secret <service>-secret, restart the Deployment and wait, check the service's readiness, set key
<service>-password of postgres-secret (if it has one) to the new password, then disable login for the
old role and end its sessions. On failure the old Secret is restored and postgres-secret is untouched.
Options: --username U, -n/--namespace NS, --timeout S (default 300), --dry-run, -h/--help.
Environment: KUBECTL, NAMESPACE, POSTGRES_SECRET (default postgres-secret).
EOF_USAGE
}

NAMESPACE=""
SUPERUSER="postgres"
readonly POSTGRES_SECRET="${POSTGRES_SECRET:-postgres-secret}"

# Run SQL (stdin) as the superuser inside the PostgreSQL pod; the SQL (with passwords) never goes on argv.
psql_exec() {
  if [[ "${DRY_RUN}" == "1" ]]; then
    {
      printf '[dry-run] %q -n %q exec -i statefulset/postgres -- psql <<SQL\n' "${KUBECTL}" "${NAMESPACE}"
      sed -E "s/PASSWORD '([^']|'')*'/PASSWORD '***'/g"
      printf 'SQL\n'
    } >&2
    return 0
  fi
  "${KUBECTL}" -n "${NAMESPACE}" exec -i statefulset/postgres -- \
    psql -X -q -At -v ON_ERROR_STOP=1 -U "${SUPERUSER}" -d postgres
}

# A secret value decoded from the Secret (empty if absent).
secret_value() {
  local secret="$1" key="$2" encoded
  encoded="$(kube -n "${NAMESPACE}" get secret "${secret}" -o "jsonpath={.data.${key//./\\.}}")" || return 1
  [[ -z "${encoded}" ]] || base64 -d <<<"${encoded}"
}

# Write keys of a Secret from base64 values, through a private patch file (never on argv).
# Arguments: secret, then key and base64 value pairs.
patch_secret() {
  local secret="$1" dir entries="" separator=""
  shift
  while (($# >= 2)); do
    entries+="${separator}\"$1\":\"$2\""
    separator=","
    shift 2
  done
  dir="$(mktemp -d)"
  chmod 700 "${dir}"
  printf '{"data":{%s}}\n' "${entries}" >"${dir}/patch.json"
  local status=0
  kube::change -n "${NAMESPACE}" patch secret "${secret}" --type merge --patch-file "${dir}/patch.json" >/dev/null \
    || status=$?
  rm -rf "${dir}"
  return "${status}"
}

sql_literal() {
  printf "'%s'" "${1//\'/\'\'}"
}

generate_password() {
  local raw
  raw="$(head -c 45 /dev/urandom | base64 -w0)"
  raw="${raw//[^A-Za-z0-9]/}"
  printf '%s' "${raw:0:40}"
}

restart_and_check() {
  local service="$1" timeout="$2"
  kube::change -n "${NAMESPACE}" rollout restart "deployment/${service}" >/dev/null || return 1
  kube::change -n "${NAMESPACE}" rollout status "deployment/${service}" --timeout="${timeout}s" || return 1
  [[ "${DRY_RUN}" == "1" ]] && return 0
  kube::http_get "${NAMESPACE}" "deployment/${service}" "$(kube::health_url "${service}" /readiness)" \
    | grep -Eq '"status" *: *"UP"'
}

# postgres-secret's copy of the service role's password (key <service>-password, which the init script uses
# when the data directory is created), if the Secret has that key: set to the new password once the service
# works with it. Arguments: service, new password.
update_postgres_secret() {
  local service="$1" password="$2" key="$1-password" current
  current="$(kube -n "${NAMESPACE}" get secret "${POSTGRES_SECRET}" -o "jsonpath={.data.${key}}" 2>/dev/null)" \
    || current=""
  if [[ -z "${current}" ]]; then
    log "${POSTGRES_SECRET} has no key ${key}: nothing to update there"
    return 0
  fi
  patch_secret "${POSTGRES_SECRET}" "${key}" "$(printf '%s' "${password}" | base64 -w0)" \
    || { warn "could not update ${key} in ${POSTGRES_SECRET}: set it by hand to the new password"; return 0; }
  log "${POSTGRES_SECRET} ${key} updated"
}

main() {
  local service="" new_user="" password="" password_source="generated" timeout=300
  NAMESPACE="${NAMESPACE:-dev}"
  local -a positional=()
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=1 ;;
      -n | --namespace) (($# > 1)) || usage_error "$1 needs a value"; NAMESPACE="$2"; shift ;;
      --username) (($# > 1)) || usage_error "--username needs a value"; new_user="$2"; shift ;;
      --timeout) (($# > 1)) || usage_error "--timeout needs a value"; timeout="$2"; shift ;;
      --password-file)
        (($# > 1)) || usage_error "--password-file needs a value"
        [[ -r "$2" ]] || die "cannot read $2"
        IFS= read -r password <"$2" || true
        password_source="file"
        shift ;;
      --password-stdin) IFS= read -r password || true; password_source="stdin" ;;
      --generate) password_source="generated" ;;
      -*) usage_error "unknown option: $1" ;;
      *) positional+=("$1") ;;
    esac
    shift
  done
  ((${#positional[@]} == 1 || ${#positional[@]} == 3)) || usage_error "need <service> [<new-username> <new-password>]"
  service="${positional[0]}"
  if [[ "${service}" == "identity" && ${#positional[@]} == 1 ]]; then
    kube::check_namespace "${NAMESPACE}"
    kube::require
    identity::rotate "${timeout}"
    return 0
  fi
  if ((${#positional[@]} == 3)); then
    new_user="${positional[1]}"
    password="${positional[2]}"
    password_source="command line"
    warn "a password on the command line lands in the shell history; prefer --password-file, --password-stdin or none"
  fi
  [[ -n "${SERVICE_DATABASE[${service}]+set}" ]] || usage_error "not a service with a database: ${service}"
  kube::check_namespace "${NAMESPACE}"
  kube::require
  local database="${SERVICE_DATABASE[${service}]}" secret="${service}-secret"

  local user_key="database.username" pass_key="database.password" old_user
  old_user="$(secret_value "${secret}" "${user_key}")" || die "Secret ${secret} not found in ${NAMESPACE}"
  if [[ -z "${old_user}" ]]; then
    user_key="DATABASE_USERNAME" pass_key="DATABASE_PASSWORD"
    old_user="$(secret_value "${secret}" "${user_key}")"
  fi
  [[ -n "${old_user}" ]] || die "Secret ${secret} has no database username"
  local old_user_b64 old_pass_b64
  old_user_b64="$(kube -n "${NAMESPACE}" get secret "${secret}" -o "jsonpath={.data.${user_key//./\\.}}")"
  old_pass_b64="$(kube -n "${NAMESPACE}" get secret "${secret}" -o "jsonpath={.data.${pass_key//./\\.}}")"
  SUPERUSER="$(secret_value "${POSTGRES_SECRET}" username 2>/dev/null)" || true
  SUPERUSER="${SUPERUSER:-postgres}"
  local owner
  owner="$(kube -n "${NAMESPACE}" exec statefulset/postgres -- psql -X -At -U "${SUPERUSER}" -d postgres \
    -c "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '${database}'")" \
    || die "cannot reach PostgreSQL in ${NAMESPACE}"
  owner="${owner:-${old_user}}"

  if [[ -z "${new_user}" ]]; then
    if [[ "${old_user}" == *_b ]]; then new_user="${old_user%_b}"; else new_user="${old_user}_b"; fi
  fi
  [[ "${new_user}" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || usage_error "invalid username: ${new_user}"
  [[ -n "${password}" ]] || password="$(generate_password)"
  ((${#password} >= 12)) || die "the new password is too short (12 characters at least)"
  [[ "${new_user}" != "${old_user}" ]] \
    || warn "same username: the old password stops working at once (no overlap); omit the username to alternate roles"
  log "rotating ${service}: ${old_user} -> ${new_user} (password: ${password_source}), database ${database}"

  {
    printf "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN CREATE ROLE \"%s\"; END IF; END \$\$;\n" \
      "${new_user}" "${new_user}"
    printf 'ALTER ROLE "%s" WITH LOGIN PASSWORD %s;\n' "${new_user}" "$(sql_literal "${password}")"
    if [[ "${new_user}" != "${owner}" ]]; then
      printf 'GRANT "%s" TO "%s";\n' "${owner}" "${new_user}"
      printf 'ALTER ROLE "%s" SET role = "%s";\n' "${new_user}" "${owner}"
    fi
  } | psql_exec >/dev/null || die "could not create the new credential; nothing changed"

  patch_secret "${secret}" "${user_key}" "$(printf '%s' "${new_user}" | base64 -w0)" \
    "${pass_key}" "$(printf '%s' "${password}" | base64 -w0)" || die "could not update Secret ${secret}"

  if ! restart_and_check "${service}" "${timeout}"; then
    log "${service} did not come back healthy with the new credential: restoring the old Secret"
    patch_secret "${secret}" "${user_key}" "${old_user_b64}" "${pass_key}" "${old_pass_b64}" \
      || warn "could not restore Secret ${secret}: fix it by hand"
    if [[ "${new_user}" == "${old_user}" ]]; then
      printf 'ALTER ROLE "%s" WITH PASSWORD %s;\n' "${old_user}" "$(sql_literal "$(base64 -d <<<"${old_pass_b64}")")" \
        | psql_exec >/dev/null || warn "could not put the old password back"
    else
      printf 'ALTER ROLE "%s" NOLOGIN;\n' "${new_user}" | psql_exec >/dev/null || true
    fi
    kube::change -n "${NAMESPACE}" rollout restart "deployment/${service}" >/dev/null || true
    kube::change -n "${NAMESPACE}" rollout status "deployment/${service}" --timeout="${timeout}s" >/dev/null || true
    die "rotation of ${service} failed; the old credential (${old_user}) is in place and still valid"
  fi

  update_postgres_secret "${service}" "${password}"
  if [[ "${new_user}" != "${old_user}" ]]; then
    printf "ALTER ROLE \"%s\" NOLOGIN;\nSELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '%s';\n" \
      "${old_user}" "${old_user}" | psql_exec >/dev/null || warn "could not retire ${old_user}: disable it by hand"
    log "old credential ${old_user} retired (NOLOGIN)"
  fi
  log "${service} now uses ${new_user}"
}

main "$@"
