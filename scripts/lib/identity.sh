# shellcheck shell=bash
#
# Rotation of the environment's identity (Secret identity-secret, docs/security.md): the mesh key with overlap,
# the operator's and Prometheus' passwords. Sourced by rotate-secrets.sh, which provides secret_value,
# patch_secret and generate_password. Every key verifies and the first signs, so a new key is first added last
# (verified everywhere once every component has restarted), then moved first (signing), then the old keys are
# dropped; a restart of every component follows each step, so no component ever meets a key it cannot verify.

readonly IDENTITY_SECRET="${IDENTITY_SECRET:-identity-secret}"

b64() { printf '%s' "$1" | base64 -w0; }

# Restart every component, then wait for each rollout. Arguments: timeout in seconds.
identity::restart_all() {
  local timeout="$1" name
  for name in "${COMPONENTS[@]}"; do
    kube::change -n "${NAMESPACE}" rollout restart "$(kube::workload "${name}")" >/dev/null || return 1
  done
  for name in "${COMPONENTS[@]}"; do
    kube::change -n "${NAMESPACE}" rollout status "$(kube::workload "${name}")" --timeout="${timeout}s" \
      || return 1
  done
}

# One step: write the keys (and any other key/value pairs), restart everything. Arguments: timeout, keys, pairs.
identity::step() {
  local timeout="$1" keys="$2"
  shift 2
  patch_secret "${IDENTITY_SECRET}" service-keys "$(b64 "${keys}")" "$@" || return 1
  identity::restart_all "${timeout}"
}

# Arguments: timeout in seconds.
identity::rotate() {
  local timeout="$1" old_keys old_operator old_prometheus new_key
  old_keys="$(secret_value "${IDENTITY_SECRET}" service-keys)" \
    || die "Secret ${IDENTITY_SECRET} not found in ${NAMESPACE}"
  [[ -n "${old_keys}" ]] || die "${IDENTITY_SECRET} has no service-keys"
  old_operator="$(secret_value "${IDENTITY_SECRET}" operator-password)"
  old_prometheus="$(secret_value "${IDENTITY_SECRET}" prometheus-password)"
  new_key="k$(date -u +%Y%m%d%H%M%S):$(generate_password)"
  log "identity: adding mesh key ${new_key%%:*} (verifying only) and new operator/prometheus passwords"
  if ! identity::step "${timeout}" "${old_keys},${new_key}" \
    operator-password "$(b64 "$(generate_password)")" prometheus-password "$(b64 "$(generate_password)")"; then
    log "a component did not come back: restoring the old identity"
    patch_secret "${IDENTITY_SECRET}" service-keys "$(b64 "${old_keys}")" \
      operator-password "$(b64 "${old_operator}")" prometheus-password "$(b64 "${old_prometheus}")" \
      || warn "could not restore ${IDENTITY_SECRET}: fix it by hand"
    identity::restart_all "${timeout}" || true
    die "identity rotation failed; the old key and passwords are in place"
  fi
  log "identity: mesh key ${new_key%%:*} now signs; the old keys still verify"
  identity::step "${timeout}" "${new_key},${old_keys}" \
    || die "restart failed with ${new_key%%:*} signing; both keys still verify: rerun or fix by hand"
  log "identity: dropping the old keys"
  identity::step "${timeout}" "${new_key}" \
    || die "restart failed after dropping the old keys; ${IDENTITY_SECRET} holds only the new one"
  log "identity rotated: mesh key ${new_key%%:*}, operator and prometheus passwords in ${IDENTITY_SECRET}"
}
