#!/bin/sh
# Assembles a runnable Cocoon tree from a built checkout: the layout of the container image
# (/opt/cocoon) and of a systemd host install (the same path). Run after `pnpm install` and
# `pnpm build` (and the agent build) in the checkout:
#   sh scripts/assemble-release.sh DEST
# DEST must not exist or be empty. Layout (relative paths as in the repository, so the server
# finds its templates and the agent the same way in a checkout and in a release):
#   DEST/packages/server            server + production node_modules (pnpm deploy)
#   DEST/packages/cli               cocoonctl + production node_modules
#   DEST/packages/first-stage/dist  agent artefacts served to booting machines (cocoon-agent.*)
#   DEST/templates  DEST/dnsmasq    built-in templates
#   DEST/scripts                    cocoon-start.sh (the start command), healthcheck.mjs
#   DEST/bin                        cocoon-server, cocoonctl (put on PATH)
#   DEST/docs                       the operator's documentation
set -eu

dest=${1:?usage: sh scripts/assemble-release.sh DEST}
src=$(dirname -- "$(dirname -- "$(readlink -f -- "$0")")")
cd "$src"

if [ -e "$dest" ] && [ -n "$(ls -A -- "$dest")" ]; then
  echo "assemble-release: $dest exists and is not empty" >&2
  exit 2
fi
for built in packages/server/dist/main.js packages/cli/dist/main.js; do
  [ -f "$built" ] || { echo "assemble-release: $built is missing: run pnpm build first" >&2; exit 2; }
done
mkdir -p "$dest"
dest=$(readlink -f -- "$dest")

# --legacy: the workspace does not use injected workspace packages; deploy copies @cocoon/server
# into the cli's node_modules all the same.
pnpm --filter @cocoon/server --prod deploy --legacy "$dest/packages/server" >/dev/null
pnpm --filter @cocoon/cli --prod deploy --legacy "$dest/packages/cli" >/dev/null

# The agent in both shipped forms (pnpm build makes them): booting machines download these.
mkdir -p "$dest/packages/first-stage/dist"
for f in cocoon-agent.js cocoon-agent.gz; do
  [ -s "packages/first-stage/dist/$f" ] || { echo "assemble-release: packages/first-stage/dist/$f is missing: run pnpm build first" >&2; exit 2; }
  cp -p -- "packages/first-stage/dist/$f" "$dest/packages/first-stage/dist/$f"
done

for d in templates dnsmasq docs; do
  [ -d "$d" ] && cp -R -- "$d" "$dest/$d"
done
mkdir -p "$dest/scripts" "$dest/bin"
cp -- scripts/cocoon-start.sh scripts/healthcheck.mjs "$dest/scripts/"
chmod 0755 "$dest/scripts/cocoon-start.sh"

for pair in cocoon-server:server cocoonctl:cli; do
  name=${pair%%:*} pkg=${pair#*:}
  cat >"$dest/bin/$name" <<WRAPPER
#!/bin/sh
# $name from the Cocoon release this file belongs to (works through symlinks, e.g. /usr/local/bin/$name).
root=\$(dirname -- "\$(dirname -- "\$(readlink -f -- "\$0")")")
exec node "\$root/packages/$pkg/dist/main.js" "\$@"
WRAPPER
  chmod 0755 "$dest/bin/$name"
done

# Tests and their helpers are not part of a release.
find "$dest/packages" -path '*/node_modules' -prune -o -type f \( -name '*.test.js' -o -name '*.test.js.map' -o -name '*.test.d.ts' -o -name '*.test.d.ts.map' -o -name '.tsbuildinfo' \) -print | xargs -r rm -f --
echo "assembled Cocoon in $dest"
