#!/bin/sh
# The one way Cocoon is started: the container image's entrypoint, the systemd unit's ExecStart
# and CI's start test all run this script, so CI exercises the production start path.
#
# Settings live in the config file. These environment variables adjust a deployment without
# editing it (each one maps to a server flag; unset or empty = the config file decides):
#   COCOON_CONFIG       the config file                       (default /etc/cocoon/config.yaml)
#   COCOON_LOG_LEVEL    error | warn | info | debug           -> --log-level
#   COCOON_NO_DNSMASQ   1 / true: HTTP only, no DHCP/TFTP     -> --no-dnsmasq
#   COCOON_NO_GIT       1 / true: no git audit commits        -> --no-git
# Arguments are passed on to the server after those (e.g. --api-port 8443).
set -eu

self=$(readlink -f -- "$0")
root=$(dirname -- "$(dirname -- "$self")")

is_true() {
  case "${1:-}" in
    1 | true | yes | on) return 0 ;;
    '' | 0 | false | no | off) return 1 ;;
    *) echo "cocoon-start: $2=$1 is not a boolean (use 1/true/yes/on or 0/false/no/off)" >&2; exit 2 ;;
  esac
}

config=${COCOON_CONFIG:-/etc/cocoon/config.yaml}
if [ ! -f "$config" ] || [ ! -r "$config" ]; then
  echo "cocoon-start: cannot read the config file $config (not a readable file; set COCOON_CONFIG or mount the file there, deploy/config.yaml is an example)" >&2
  exit 2
fi

flags=''
if [ -n "${COCOON_LOG_LEVEL:-}" ]; then
  case "$COCOON_LOG_LEVEL" in
    error | warn | info | debug) ;;
    *) echo "cocoon-start: COCOON_LOG_LEVEL=$COCOON_LOG_LEVEL is not one of error, warn, info, debug" >&2; exit 2 ;;
  esac
  flags="--log-level=$COCOON_LOG_LEVEL"
fi
if is_true "${COCOON_NO_DNSMASQ:-}" COCOON_NO_DNSMASQ; then flags="$flags --no-dnsmasq"; fi
if is_true "${COCOON_NO_GIT:-}" COCOON_NO_GIT; then flags="$flags --no-git"; fi

# $flags holds only the fixed words above, so splitting it on spaces is safe.
# shellcheck disable=SC2086
exec node "$root/packages/server/dist/main.js" --config "$config" $flags "$@"
