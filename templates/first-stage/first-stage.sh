#!/bin/sh
{#
  The first-stage script (POSIX sh; busybox ash and bash run it), rendered per machine.
  This is the minimal built-in version; the first-stage agent work replaces it with the full
  install (disk choice, checksummed image streaming, config placement). It needs: sh, wget or
  curl, gzip, and the agent's enrollment answer.
-#}
# Cocoon first stage for {{ machine.Serial }}{% if not enrolled %} (not enrolled yet){% endif %}

set -u
COCOON_SERVER={{ urls.boot | shquote }}
COCOON_SERIAL={{ machine.Serial | shquote }}
PROGRESS_URL={{ urls.progress | shquote }}
FAILED_URL={{ urls.failed | shquote }}
INSTALLED_URL={{ urls.installed | shquote }}
AGENT_URL={{ urls.agentGz | shquote }}
ENROLL_URL={{ urls.enroll | shquote }}
IMAGE_URL={{ install.image.url | shquote }}
INSTALL_DISK={{ install.disk | shquote }}
WORK=${TMPDIR:-/tmp}/cocoon-first-stage
export COCOON_SERVER COCOON_SERIAL

post() { # URL JSON
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' --data "$2" "$1"
  else
    wget -q -O /dev/null --header 'Content-Type: application/json' --post-data "$2" "$1"
  fi
}

fetch() { # URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o "$2" "$1"
  else
    wget -q -O "$2" "$1"
  fi
}

# Messages are fixed texts of this script: no JSON escaping needed.
progress() { echo "cocoon: $1"; post "$PROGRESS_URL" "{\"message\":\"$1\"}" || true; }
fail() { echo "cocoon: FAILED: $1" >&2; post "$FAILED_URL" "{\"reason\":\"$1\"}" || true; exit 1; }

mkdir -p "$WORK" || fail "cannot create a work directory"
progress "first stage started"

progress "fetching the agent"
fetch "$AGENT_URL" "$WORK/cocoon-agent.gz" || fail "cannot fetch the agent"
gzip -dc "$WORK/cocoon-agent.gz" > "$WORK/cocoon-agent" && chmod 0755 "$WORK/cocoon-agent" || fail "cannot unpack the agent"

progress "enrolling"
"$WORK/cocoon-agent" --server "$COCOON_SERVER" --enroll-url "$ENROLL_URL" --output "$WORK/final-config" || fail "enrollment failed"

if [ -z "$INSTALL_DISK" ]; then
  fail "no install disk chosen (set install_disk in the profile)"
fi
progress "writing the OS image to $INSTALL_DISK"
if command -v curl >/dev/null 2>&1; then
  curl -fsS "$IMAGE_URL" | bzip2 -dc | dd of="$INSTALL_DISK" bs=4M conv=fsync 2>/dev/null || fail "writing the OS image failed"
else
  wget -q -O- "$IMAGE_URL" | bzip2 -dc | dd of="$INSTALL_DISK" bs=4M conv=fsync 2>/dev/null || fail "writing the OS image failed"
fi

post "$INSTALLED_URL" '{}' || fail "cannot report installed"
progress "installed, rebooting"
sync
reboot -f
