#!/bin/sh
# Creates one database and one owning role per business service. Run by the postgres image on the first start of
# an empty data directory (and by docker-compose.yml). The role passwords come from the environment:
# the variables ECOMMERCE_DATABASES names. Owning the database and its public schema is what a role needs
# on PostgreSQL 15 and later, where CREATE on schema public is no longer granted to everyone. CONNECT is revoked
# from PUBLIC, so a service's role cannot open another service's database.
set -eu

create_database() {
  db="$1"
  role="$2"
  password="$3"
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname postgres \
    -v db="${db}" -v role="${role}" -v password="${password}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'role', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SELECT format('GRANT ALL ON DATABASE %I TO %I', :'db', :'role') \gexec
SQL
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname "${db}" -v role="${role}" <<'SQL'
SELECT format('ALTER SCHEMA public OWNER TO %I', :'role') \gexec
SQL
}

# ECOMMERCE_DATABASES: space-separated "database:role:PASSWORD_VARIABLE" entries.
for entry in ${ECOMMERCE_DATABASES}; do
  db="${entry%%:*}"
  rest="${entry#*:}"
  role="${rest%%:*}"
  password="$(printenv "${rest#*:}")" || {
    echo "init-databases: ${rest#*:} is not set" >&2
    exit 1
  }
  create_database "${db}" "${role}" "${password}"
done
