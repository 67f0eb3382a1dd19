#!/bin/sh
# Cocoon first-stage bootstrap: the one fixed line any first-stage environment runs (docs/first-stage.md).
# Reads cocoon.script=<url> (or cocoon.first_stage=<url>) from the kernel command line, fetches the machine's first-stage script and runs it.
for a in $(cat /proc/cmdline); do case $a in cocoon.script=*|cocoon.first_stage=*) u=${a#*=};; esac; done; mkdir -p /tmp/cocoon && until { command -v curl >/dev/null && curl -fsSL -o /tmp/cocoon/first-stage.sh "$u"; } || wget -q -O /tmp/cocoon/first-stage.sh "$u"; do sleep 5; done; exec sh /tmp/cocoon/first-stage.sh
