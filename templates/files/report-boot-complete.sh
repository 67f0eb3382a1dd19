#!/bin/sh
# Tells the Cocoon boot server that this machine has booted its installed OS: POSTs
# {"versions":{"os":ID,"os_version":VERSION_ID,"kernel":uname -r}} from /etc/os-release to the
# URL given as the only argument, retrying while the server cannot be reached.
# Usage: report-boot-complete http://boot-server:4081/machines/<serial>/boot-complete
set -u
url=${1:?usage: report-boot-complete URL}

ID=unknown
VERSION_ID=unknown
# os-release(5) is shell-compatible assignments; /usr/lib/os-release is the fallback location.
for f in /etc/os-release /usr/lib/os-release; do
  if [ -r "$f" ]; then
    . "$f"
    break
  fi
done

# Minimal JSON string escaping: backslash and double quote (os-release values have no controls).
esc() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }
body=$(printf '{"versions":{"os":"%s","os_version":"%s","kernel":"%s"}}' "$(esc "$ID")" "$(esc "$VERSION_ID")" "$(esc "$(uname -r)")")

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
