#!/bin/sh
# Cocoon first stage for vm-0001
set -u
COCOON_SERVER='http://10.77.0.1:4081'
COCOON_SERIAL='vm-0001'
PROGRESS_URL='http://10.77.0.1:4081/machines/vm-0001/progress'
FAILED_URL='http://10.77.0.1:4081/machines/vm-0001/failed'
INSTALLED_URL='http://10.77.0.1:4081/machines/vm-0001/installed'
AGENT_URL='http://10.77.0.1:4081/agent/cocoon-agent.gz'
ENROLL_URL='http://10.77.0.1:4081/enroll'
IMAGE_URL='http://10.77.0.1:4081/images/vm-0001/install_image.bin.bz2'
INSTALL_DISK=''
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
