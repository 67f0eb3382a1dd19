#!/bin/sh
# Cocoon first stage for vm-0001: enroll this machine, write its OS to disk, reboot.
# POSIX sh (busybox ash, dash, bash). Contract and every step: docs/first-stage.md.
# Each step posts a progress line to the boot server; a failed step posts `failed` and stops.

# >>> cocoon parameters (rendered per machine; re-read from the server after enrollment)
COCOON_SERVER='http://10.77.0.1:4081'
COCOON_RENDERED_SERIAL='vm-0001'
COCOON_ENROLLED=1
COCOON_OS='flatcar'
COCOON_INSTALL_DISK=''
COCOON_IMAGE='flatcar_production_image.bin.bz2'
COCOON_IMAGE_SHA256='abababababababababababababababababababababababababababababababab'
COCOON_IMAGE_SIZE='123456789'
COCOON_MIN_DISK_BYTES='8589934592'
# <<< cocoon parameters

# Everything below is fixed text. Commands and locations come from variables so that a test can
# run this script in a sandbox (fake /sys and /proc, a file as the disk, stub commands).
: "${COCOON_ROOT:=}"                    # prefix of /sys, /proc (tests: a fixture tree)
: "${COCOON_DEV_DIR:=/dev}"             # where block devices are
: "${COCOON_WORK:=/tmp/cocoon}"         # scratch space (tmpfs in a first-stage environment)
: "${COCOON_REBOOT:=reboot -f}"
: "${COCOON_FAIL_ACTION:=halt}"          # halt: stay up for inspection; exit: return 1 (tests)
: "${COCOON_WAIT_TRIES:=60}"            # server wait: tries, back-off doubling up to 10 s
: "${COCOON_AGENT_TIMEOUT:=300}"
: "${COCOON_MOUNT:=mount}"
: "${COCOON_UMOUNT:=umount}"
: "${COCOON_BLKID:=blkid}"
: "${COCOON_REREAD:=blockdev --rereadpt}"
: "${COCOON_SETTLE:=udevadm settle}"
# Generic OSes get the config in the last MiB of the disk, behind this header line.
COCOON_CONFIG_TAIL=1048576

SERIAL=$COCOON_RENDERED_SERIAL
W=$COCOON_WORK

log() { echo "cocoon: $*" >&2; }

json_string() {
  # JSON string body of $1: backslash and quote escaped, control characters dropped.
  printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g'
}

have() { command -v "$1" >/dev/null 2>&1; }

# http_get URL FILE: fails on transport errors and on HTTP error statuses. (No wget -T: Debian's
# static busybox 1.35 wget segfaults with it.)
http_get() {
  if have curl; then curl -fsSL --connect-timeout 10 -o "$2" "$1"
  else wget -q -O "$2" "$1"; fi
}

# http_get_stdout URL: the body on stdout (for streaming).
http_get_stdout() {
  if have curl; then curl -fsSL --connect-timeout 10 "$1"
  else wget -q -O - "$1"; fi
}

# http_post URL JSON: best effort, a report must never stop the install by itself.
http_post() {
  if have curl; then curl -fsS --connect-timeout 10 -m 30 -H 'Content-Type: application/json' --data-binary "$2" -o /dev/null "$1"
  else wget -q -O /dev/null --header 'Content-Type: application/json' --post-data "$2" "$1"; fi
}

progress() {
  log "$*"
  http_post "$COCOON_SERVER/machines/$SERIAL/progress" "{\"message\":\"$(json_string "$*")\"}" || log "(progress report failed)"
}

fail() {
  log "FAILED: $*"
  http_post "$COCOON_SERVER/machines/$SERIAL/failed" "{\"reason\":\"$(json_string "$*")\"}" || log "(failure report failed)"
  if [ "$COCOON_FAIL_ACTION" = exit ]; then exit 1; fi
  # Stay up (no reboot loop): the operator sees the reason in `cocoonctl logs` and on the console.
  while :; do sleep 3600; done
}

wait_for_server() {
  tries=0
  delay=1
  while ! http_get "$COCOON_SERVER/first-stage/$SERIAL" "$W/probe" 2>/dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -ge "$COCOON_WAIT_TRIES" ]; then
      log "boot server $COCOON_SERVER unreachable after $tries tries"
      [ "$COCOON_FAIL_ACTION" = exit ] && exit 3
      while :; do sleep 3600; done
    fi
    log "waiting for boot server $COCOON_SERVER (try $tries)"
    sleep "$delay"
    delay=$((delay * 2)); [ "$delay" -gt 10 ] && delay=10
  done
}

fetch_agent() {
  if have node; then
    http_get "$COCOON_SERVER/agent/cocoon-agent.js" "$W/cocoon-agent.js" || fail "download of the agent bundle failed"
    AGENT="node $W/cocoon-agent.js"
  else
    http_get "$COCOON_SERVER/agent/cocoon-agent.gz" "$W/cocoon-agent.gz" || fail "download of the agent executable failed"
    gzip -dc "$W/cocoon-agent.gz" > "$W/cocoon-agent" || fail "the agent executable is not valid gzip"
    rm -f "$W/cocoon-agent.gz"
    chmod 755 "$W/cocoon-agent"
    AGENT="$W/cocoon-agent"
  fi
}

run_agent() {
  set -- --server "$COCOON_SERVER" --serial-hint "$SERIAL" --out "$W/config" --info "$W/info" --timeout "$COCOON_AGENT_TIMEOUT"
  [ -n "$COCOON_ROOT" ] && set -- "$@" --root "$COCOON_ROOT"
  $AGENT "$@" 2> "$W/agent.err"
  rc=$?
  cat "$W/agent.err" >&2
  case $rc in
    0) ;;
    3) fail "agent: boot server unreachable: $(tail -n 1 "$W/agent.err")" ;;
    *) fail "agent exit $rc: $(tail -n 1 "$W/agent.err")" ;;
  esac
  # COCOON_SERIAL: the serial the server filed this machine under.
  . "$W/info"
  if [ -n "$COCOON_SERIAL" ]; then SERIAL=$COCOON_SERIAL; fi
}

# After enrollment the server knows the machine's profile, OS and disk: read the parameters
# block of the script rendered for the enrolled machine.
refresh_parameters() {
  http_get "$COCOON_SERVER/first-stage/$SERIAL" "$W/enrolled.sh" || fail "could not fetch the first stage of the enrolled machine"
  sed -n '/^# >>> cocoon parameters/,/^# <<< cocoon parameters/p' "$W/enrolled.sh" > "$W/parameters.sh"
  grep -q '^COCOON_IMAGE=' "$W/parameters.sh" || fail "the enrolled machine's first stage has no parameters block"
  . "$W/parameters.sh"
  [ "$COCOON_ENROLLED" = 1 ] || fail "the server did not enroll this machine as $SERIAL"
}

sys() { echo "$COCOON_ROOT$1"; }

# A disk the running environment uses: one of its partitions (or itself) is mounted or swap.
disk_in_use() {
  grep -q "^/dev/$1" "$(sys /proc/mounts)" 2>/dev/null && return 0
  grep -q "^/dev/$1" "$(sys /proc/swaps)" 2>/dev/null && return 0
  return 1
}

choose_disk() {
  # The compressed size is a lower bound of what the image needs; min_disk_bytes (a Flatcar
  # image expands to ~8.5 GB) keeps a small boot module from being picked.
  need=$COCOON_IMAGE_SIZE
  if [ "$need" -lt "$COCOON_MIN_DISK_BYTES" ]; then need=$COCOON_MIN_DISK_BYTES; fi
  need=$((need + COCOON_CONFIG_TAIL))
  if [ -n "$COCOON_INSTALL_DISK" ]; then
    name=${COCOON_INSTALL_DISK#/dev/}
    [ -e "$(sys /sys/block/"$name")" ] || fail "install_disk $COCOON_INSTALL_DISK does not exist"
    disk_in_use "$name" && fail "install_disk $COCOON_INSTALL_DISK holds the running environment"
    DISK_NAME=$name
  else
    DISK_NAME=
    best=
    for d in "$(sys /sys/block)"/*; do
      name=${d##*/}
      [ -e "$d/device" ] || continue
      [ "$(cat "$d/removable" 2>/dev/null)" = 1 ] && continue
      [ "$(cat "$d/device/type" 2>/dev/null)" = 5 ] && continue
      disk_in_use "$name" && continue
      size=$(( $(cat "$d/size" 2>/dev/null || echo 0) * 512 ))
      [ "$size" -ge "$need" ] || continue
      if [ -z "$best" ] || [ "$size" -lt "$best" ]; then best=$size; DISK_NAME=$name; fi
    done
    [ -n "$DISK_NAME" ] || fail "no non-removable disk of at least $need bytes that the running environment does not use"
  fi
  DISK="$COCOON_DEV_DIR/$DISK_NAME"
  DISK_BYTES=$(( $(cat "$(sys /sys/block/"$DISK_NAME"/size)") * 512 ))
  [ "$DISK_BYTES" -ge "$need" ] || fail "$DISK is $DISK_BYTES bytes, the image needs $need"
}

decompress() {
  case $COCOON_IMAGE in
    *.gz) gzip -dc ;;
    *.bz2) bzip2 -dc ;;
    *.xz) xz -dc ;;
    *) cat ;;
  esac
}

# Streams the image onto the disk and hashes the bytes as they arrive (tee into a fifo read by
# sha256sum): one pass, nothing held in memory. A mismatch wipes the start of the disk so a
# corrupted image is never booted.
write_image() {
  [ -n "$COCOON_IMAGE_SHA256" ] || fail "no sha256 for image $COCOON_IMAGE: refusing to install an unverified image (does its version have a manifest?)"
  rm -f "$W/hash.fifo" "$W/hash" "$W/rc.fetch" "$W/rc.unpack" "$W/rc.write"
  mkfifo "$W/hash.fifo" || fail "mkfifo in $W failed"
  sha256sum < "$W/hash.fifo" > "$W/hash" &
  hasher=$!
  { http_get_stdout "$COCOON_SERVER/images/$SERIAL/$COCOON_IMAGE"; echo $? > "$W/rc.fetch"; } \
    | tee "$W/hash.fifo" \
    | { decompress; echo $? > "$W/rc.unpack"; } \
    | { dd of="$DISK" bs=1048576 conv=notrunc,fsync 2> "$W/dd.err"; echo $? > "$W/rc.write"; }
  wait "$hasher"
  got=$(cut -d ' ' -f 1 < "$W/hash")
  rc_fetch=$(cat "$W/rc.fetch"); rc_unpack=$(cat "$W/rc.unpack"); rc_write=$(cat "$W/rc.write")
  if [ "$rc_fetch$rc_unpack$rc_write" = 000 ] && [ "$got" = "$COCOON_IMAGE_SHA256" ]; then
    sync
    return 0
  fi
  dd if=/dev/zero of="$DISK" bs=1048576 count=1 conv=notrunc 2>/dev/null
  if [ "$rc_fetch$rc_unpack$rc_write" = 000 ]; then
    fail "sha256 mismatch for $COCOON_IMAGE: got $got, manifest says $COCOON_IMAGE_SHA256"
  fi
  # One stage failing makes its neighbours fail too (SIGPIPE), so report every exit status.
  fail "writing $COCOON_IMAGE to $DISK failed: download exit $rc_fetch, decompress exit $rc_unpack, write exit $rc_write ($(tail -n 1 "$W/dd.err")); sha256 $got, manifest says $COCOON_IMAGE_SHA256"
}

# The OEM partition of the image just written (Flatcar: label OEM, partition 6), or nothing.
find_oem_partition() {
  $COCOON_REREAD "$DISK" 2>/dev/null
  $COCOON_SETTLE 2>/dev/null
  $COCOON_BLKID -t LABEL=OEM -o device "$DISK"* 2>/dev/null | head -n 1
}

# Flatcar: Ignition reads config.ign from the root of the OEM partition, where flatcar-install -i
# puts it.
place_config_oem() {
  oem=$1
  mkdir -p "$W/oem"
  $COCOON_MOUNT "$oem" "$W/oem" || fail "mounting the OEM partition $oem failed"
  if ! cp "$W/config" "$W/oem/config.ign"; then $COCOON_UMOUNT "$W/oem"; fail "writing config.ign to $oem failed"; fi
  sync
  $COCOON_UMOUNT "$W/oem" || fail "unmounting $oem failed"
}

# Other OSes: the last MiB of the disk holds "COCOON-CONFIG <bytes>\n" then the config.
place_config_tail() {
  bytes=$(wc -c < "$W/config" | tr -d ' ')
  [ "$bytes" -lt $((COCOON_CONFIG_TAIL - 64)) ] || fail "config of $bytes bytes does not fit the config area"
  { printf 'COCOON-CONFIG %s\n' "$bytes"; cat "$W/config"; } > "$W/config.tail"
  dd if=/dev/zero of="$DISK" bs=1024 seek=$(( (DISK_BYTES - COCOON_CONFIG_TAIL) / 1024 )) count=1024 conv=notrunc 2>/dev/null \
    && dd if="$W/config.tail" of="$DISK" bs=1024 seek=$(( (DISK_BYTES - COCOON_CONFIG_TAIL) / 1024 )) conv=notrunc 2>/dev/null \
    || fail "writing the config to the end of $DISK failed"
  sync
}

main() {
  mkdir -p "$W" || { log "cannot create $W"; exit 1; }
  wait_for_server
  progress "first stage started (serial $SERIAL)"
  fetch_agent
  progress "agent fetched; collecting hardware facts and enrolling"
  run_agent
  if [ "$COCOON_ENROLLED" != 1 ] || [ "$SERIAL" != "$COCOON_RENDERED_SERIAL" ] || [ -z "$COCOON_IMAGE" ]; then
    refresh_parameters
  fi
  [ -n "$COCOON_IMAGE" ] || fail "no install image for this machine (OS ${COCOON_OS:-unknown} has no manifest naming one)"
  progress "enrolled as $SERIAL; final config received"
  choose_disk
  progress "installing $COCOON_IMAGE (sha256 $COCOON_IMAGE_SHA256) to $DISK"
  write_image
  progress "image written to $DISK and verified"
  # Where the config goes depends on the image, not on the OS name: an image with an OEM
  # partition (Flatcar) gets config.ign there; any other image gets the tail area.
  oem=$(find_oem_partition)
  if [ -n "$oem" ]; then
    place_config_oem "$oem"
    progress "config placed as config.ign on the OEM partition $oem"
  else
    place_config_tail
    progress "config placed in the last MiB of $DISK (the image has no OEM partition)"
  fi
  http_post "$COCOON_SERVER/machines/$SERIAL/installed" '{}' || fail "could not report installed"
  log "installed; rebooting"
  sync
  $COCOON_REBOOT
}

main "$@"
