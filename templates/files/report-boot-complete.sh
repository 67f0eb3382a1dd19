#!/bin/sh
# Tells the Cocoon boot server that this machine has booted its installed OS: POSTs
# {"versions":{"os":VERSION_ID,"os-id":ID,"os-build":BUILD_ID,"kernel":`uname -r`}} from
# /etc/os-release (the keys `cocoonctl boot-complete` sends) to the URL given as the only
# argument, retrying while the server cannot be reached.
# Usage: report-boot-complete http://boot-server:4081/machines/<serial>/boot-complete
set -u
url=${1:?usage: report-boot-complete URL}

ID=
VERSION_ID=
BUILD_ID=
# os-release(5) is shell-compatible assignments; /usr/lib/os-release is the fallback location.
for f in /etc/os-release /usr/lib/os-release; do
  if [ -r "$f" ]; then
    . "$f"
    break
  fi
done

# Minimal JSON string escaping: backslash and double quote (os-release values have no controls).
esc() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }
# Only the keys that have a value, like cocoonctl.
body=
add() { [ -n "$2" ] && body="$body${body:+,}\"$1\":\"$(esc "$2")\""; return 0; }
add os "$VERSION_ID"
add os-id "$ID"
add os-build "$BUILD_ID"
add kernel "$(uname -r)"
body="{\"versions\":{$body}}"

tries=0
while :; do
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' --data "$body" "$url" && exit 0
  else
    wget -q -O /dev/null --header 'Content-Type: application/json' --post-data "$body" "$url" && exit 0
  fi
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "report-boot-complete: giving up after $tries attempts" >&2
    exit 1
  fi
  sleep 10
done
