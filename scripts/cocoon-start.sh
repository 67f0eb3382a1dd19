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
#   COCOON_NODE_FLAGS   node's own flags, before the script (unset: the heap settings below;
#                       empty: V8's defaults)
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

# V8 sizes its heap for throughput on big machines: a young generation of up to 2 x 16 MB, and an
# old generation let grow to up to four times what is live before it is collected. The server's
# live heap is small and steady (about 2 KB a machine), so those defaults cost more memory than the
# fleet: at 10 000 machines under request load, RSS 240 MB instead of 135 MB, for ~5 % of request
# rate (bench/request-rate.mjs prints both). Given on the command line: V8 reads them when it
# creates the heap.
node_flags=${COCOON_NODE_FLAGS---max-semi-space-size=1 --heap-growing-percent=25}
for f in $node_flags; do
  case "$f" in
    --[a-z]*) ;;
    *) echo "cocoon-start: COCOON_NODE_FLAGS: \"$f\" is not a node flag (each word must start with --)" >&2; exit 2 ;;
  esac
done

# $flags holds only the fixed words above and $node_flags only --flags, so splitting them on
# spaces is intended.
# shellcheck disable=SC2086
exec node $node_flags "$root/packages/server/dist/main.js" --config "$config" $flags "$@"
