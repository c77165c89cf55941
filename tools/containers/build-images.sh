#!/usr/bin/env bash
#
# Stand-in base images made from Debian's own packages, tagged with the names the project's files use, so that
# the Dockerfile and docker-compose.yml build and run unchanged on a machine that reaches no container registry:
#   - the Python base (the Dockerfile's FROM): mmdebstrap root filesystem + CA bundle + a `python` command;
#   - PostgreSQL (docker-compose.yml's postgres image): Debian's postgresql-15 behind the official image's
#     environment and /docker-entrypoint-initdb.d contract (postgres/docker-entrypoint.sh);
#   - Prometheus (docker-compose.yml's prometheus image): Debian's prometheus binary.
# Jaeger and Grafana have no Debian package: stacks built on these images run without them.
# Each image carries the hash of its inputs in a label; an image whose label matches is not rebuilt.
# On a machine with a registry, skip this script: the same files pull the official images.
# Needs: a running Docker engine, mmdebstrap (tools/containers/ensure-docker.sh installs both).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"
readonly HERE ROOT
readonly LABEL="org.ecommerce.stand-in.inputs"
readonly SUITE="bookworm"
readonly BASE_PACKAGES="python3,python3-venv,ca-certificates"
readonly ROOTFS_TAG="ecommerce-local/bookworm-rootfs:latest"
readonly CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt"

log() { printf 'stand-in images: %s\n' "$*" >&2; }

# The image names, read from the files that use them (each name is written once, there).
python_tag() { awk '/^FROM /{print $2; exit}' "${ROOT}/Dockerfile"; }
compose_image() { sed -nE "s|^[[:space:]]+image:[[:space:]]+(${1}:[^[:space:]]+)[[:space:]]*\$|\\1|p" "${ROOT}/docker-compose.yml" | head -n1; }

# Hash of files and strings, the identity of an image's inputs.
inputs_hash() {
  local item
  for item in "$@"; do
    if [[ -f "${item}" ]]; then sha256sum <"${item}"; else printf '%s\n' "${item}"; fi
  done | sha256sum | cut -c1-16
}

# True when TAG exists and was built from inputs with HASH.
is_current() {
  local tag="$1" hash="$2" have
  have="$(docker image inspect -f "{{ index .Config.Labels \"${LABEL}\" }}" "${tag}" 2>/dev/null)" || return 1
  [[ "${have}" == "${hash}" ]]
}

build_python() {
  local tag="$1" hash="$2" ctx
  if ! is_current "${ROOTFS_TAG}" "${hash}"; then
    log "mmdebstrap ${SUITE} (${BASE_PACKAGES}) -> ${ROOTFS_TAG}"
    mmdebstrap --quiet --variant=apt --include="${BASE_PACKAGES}" "${SUITE}" - \
      | docker import --change "LABEL ${LABEL}=${hash}" - "${ROOTFS_TAG}" >/dev/null
  fi
  ctx="$(mktemp -d)"
  cp "${HERE}/python/Dockerfile" "${HERE}/python/.dockerignore" "${ctx}/"
  cp -L "${CA_BUNDLE}" "${ctx}/ca-certificates.crt"
  log "building ${tag}"
  DOCKER_BUILDKIT=0 docker build -q --network host --label "${LABEL}=${hash}" \
    --build-arg "ROOTFS=${ROOTFS_TAG}" -t "${tag}" "${ctx}" >/dev/null
  rm -rf "${ctx}"
}

build_from_dir() {
  local dir="$1" tag="$2" hash="$3" base="$4"
  log "building ${tag} from ${dir}"
  DOCKER_BUILDKIT=0 docker build -q --network host --label "${LABEL}=${hash}" \
    --build-arg "BASE=${base}" -t "${tag}" "${HERE}/${dir}" >/dev/null
}

main() {
  local py pg prom py_hash pg_hash prom_hash
  py="$(python_tag)"
  pg="$(compose_image postgres)"
  prom="$(compose_image prom/prometheus)"
  [[ -n "${py}" && -n "${pg}" && -n "${prom}" ]] || { log "cannot read the image names"; exit 1; }

  py_hash="$(inputs_hash "${SUITE}" "${BASE_PACKAGES}" "${HERE}/python/Dockerfile" "${CA_BUNDLE}")"
  pg_hash="$(inputs_hash "${py_hash}" "${HERE}/postgres/Dockerfile" "${HERE}/postgres/docker-entrypoint.sh")"
  prom_hash="$(inputs_hash "${py_hash}" "${HERE}/prometheus/Dockerfile")"

  if is_current "${py}" "${py_hash}"; then log "${py} is current"; else build_python "${py}" "${py_hash}"; fi
  if is_current "${pg}" "${pg_hash}"; then log "${pg} is current"; else build_from_dir postgres "${pg}" "${pg_hash}" "${py}"; fi
  if is_current "${prom}" "${prom_hash}"; then log "${prom} is current"; else build_from_dir prometheus "${prom}" "${prom_hash}" "${py}"; fi
  printf '%s\n' "${py}" "${pg}" "${prom}"
}

main "$@"
