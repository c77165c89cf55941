#!/bin/sh
# The official postgres image's start contract, on Debian's postgresql-15:
# - an empty $PGDATA is initialised with the superuser $POSTGRES_USER (default postgres) whose password is
#   $POSTGRES_PASSWORD (required), password (scram) authentication for every network client;
# - $POSTGRES_DB (default: the user's name) is created;
# - /docker-entrypoint-initdb.d/*.sh run (sourced when not executable) and *.sql are fed to psql, once, against a
#   server that listens only on its socket;
# - then the server runs in the foreground as the postgres user, listening on every address.
set -eu

if [ "${1:-postgres}" != "postgres" ]; then
  exec "$@"
fi

if [ "$(id -u)" = "0" ]; then
  mkdir -p "${PGDATA}" /var/run/postgresql
  chown -R postgres:postgres "${PGDATA}" /var/run/postgresql
  chmod 700 "${PGDATA}"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

export POSTGRES_USER="${POSTGRES_USER:-postgres}"
export POSTGRES_DB="${POSTGRES_DB:-${POSTGRES_USER}}"

if [ ! -s "${PGDATA}/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "docker-entrypoint: POSTGRES_PASSWORD must be set" >&2
    exit 1
  fi
  pwfile="$(mktemp)"
  printf '%s\n' "${POSTGRES_PASSWORD}" >"${pwfile}"
  initdb --username="${POSTGRES_USER}" --pwfile="${pwfile}" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 -D "${PGDATA}" >/dev/null
  rm -f "${pwfile}"
  printf 'host all all all scram-sha-256\n' >>"${PGDATA}/pg_hba.conf"
  pg_ctl -D "${PGDATA}" -o "-c listen_addresses='' -k /var/run/postgresql" -w start >/dev/null
  export PGHOST=/var/run/postgresql
  if [ "${POSTGRES_DB}" != "postgres" ]; then
    psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname postgres \
      -c "CREATE DATABASE \"${POSTGRES_DB}\"" >/dev/null
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "${f}" in
      *.sh)
        echo "docker-entrypoint: running ${f}"
        # shellcheck disable=SC1090  # the init scripts are the image user's, mounted at run time
        if [ -x "${f}" ]; then "${f}"; else . "${f}"; fi
        ;;
      *.sql)
        echo "docker-entrypoint: running ${f}"
        psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname "${POSTGRES_DB}" -f "${f}"
        ;;
      *) ;;
    esac
  done
  unset PGHOST
  pg_ctl -D "${PGDATA}" -m fast -w stop >/dev/null
  echo "docker-entrypoint: PostgreSQL init process complete; ready for start up."
fi

[ "$#" -gt 0 ] && shift
exec postgres -c listen_addresses='*' -k /var/run/postgresql "$@"
