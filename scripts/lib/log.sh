# shellcheck shell=bash
#
# Logging and exit helpers shared by the operations scripts. Sourced, not run.
# Messages go to stderr with a UTC timestamp; data (what a script reports) goes to stdout.

# Print a timestamped message to stderr.
log() {
  printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
}

# Print a warning to stderr.
warn() {
  log "WARNING: $*"
}

# Print an error and exit (status 1, or the second argument).
# Arguments: message, optional exit status.
die() {
  log "ERROR: $1"
  exit "${2:-1}"
}

# Report a wrong invocation: the message, then the calling script's usage(), then exit 2.
usage_error() {
  printf '%s: %s\n' "$(basename "$0")" "$*" >&2
  usage >&2
  exit 2
}
