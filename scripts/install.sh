#!/usr/bin/env bash
# Installs the built termhost (run `make build` first) into PREFIX:
#
#   PREFIX/lib/termhost/               dist/src, dist/simulators, package.json, package-lock.json,
#                                      production node_modules, device-profiles
#   PREFIX/bin/                        termhostd, termhost, termhost-sim (links into lib/termhost)
#   PREFIX/lib/systemd/system/         termhostd.service, termhostd.socket, termhostd-admin.socket
#   PREFIX/lib/sysusers.d/             termhost.conf
#   PREFIX/lib/tmpfiles.d/             termhost.conf
#   PREFIX/lib/udev/rules.d/           70-termhost.rules
#   PREFIX/share/doc/termhost/         docs/*.md
#
# The units are rewritten to name PREFIX's paths. With DESTDIR set, files go to DESTDIR/PREFIX while
# the units still name PREFIX (for packaging). Usage: scripts/install.sh [PREFIX]   (default /usr/local)
set -euo pipefail

prefix=${1:-/usr/local}
case "$prefix" in
  /*) ;;
  *) echo "install.sh: PREFIX must be an absolute path, got '$prefix'" >&2; exit 2 ;;
esac
prefix=${prefix%/}
dest=${DESTDIR:-}${prefix}
src=$(cd "$(dirname "$0")/.." && pwd)

for built in dist/src/daemon/main.js dist/src/cli/main.js dist/simulators/main.js; do
  if [ ! -f "$src/$built" ]; then
    echo "install.sh: $built is missing: run 'make build' first" >&2
    exit 1
  fi
done

lib=$dest/lib/termhost
bindir=$prefix/bin
docdir=$prefix/share/doc/termhost

# A fresh tree each time, so files removed from the product do not linger from an older install.
rm -rf "$lib"
install -d -m 0755 "$lib/dist" "$dest/bin" "$dest/lib/systemd/system" "$dest/lib/sysusers.d" \
  "$dest/lib/tmpfiles.d" "$dest/lib/udev/rules.d" "$dest/share/doc/termhost"
cp -a "$src/dist/src" "$src/dist/simulators" "$lib/dist/"
cp -a "$src/device-profiles" "$lib/"
install -m 0644 "$src/package.json" "$src/package-lock.json" "$lib/"

# Production dependencies: the checkout's own modules (native addons already built against this
# machine's libraries), pruned of development tools. No network needed.
cp -a "$src/node_modules" "$lib/"
rm -f "$lib/node_modules/.install-stamp"
(cd "$lib" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error >/dev/null)
find "$lib/node_modules" -mindepth 1 -maxdepth 1 -type d -empty -delete

chmod 0755 "$lib/dist/src/daemon/main.js" "$lib/dist/src/cli/main.js" "$lib/dist/simulators/main.js"
ln -sfn ../lib/termhost/dist/src/daemon/main.js "$dest/bin/termhostd"
ln -sfn ../lib/termhost/dist/src/cli/main.js "$dest/bin/termhost"
ln -sfn ../lib/termhost/dist/simulators/main.js "$dest/bin/termhost-sim"

for unit in termhostd.service termhostd.socket termhostd-admin.socket; do
  sed -e "s|@BINDIR@|$bindir|g" -e "s|@DOCDIR@|$docdir|g" "$src/systemd/$unit" >"$dest/lib/systemd/system/$unit"
  chmod 0644 "$dest/lib/systemd/system/$unit"
done
install -m 0644 "$src/systemd/sysusers.d/termhost.conf" "$dest/lib/sysusers.d/termhost.conf"
install -m 0644 "$src/systemd/tmpfiles.d/termhost.conf" "$dest/lib/tmpfiles.d/termhost.conf"
install -m 0644 "$src/systemd/udev/70-termhost.rules" "$dest/lib/udev/rules.d/70-termhost.rules"
install -m 0644 "$src"/docs/*.md "$dest/share/doc/termhost/"

cat <<EOF
termhost installed into ${dest}. To run it as a service (as root):
  systemd-sysusers termhost.conf && systemd-tmpfiles --create termhost.conf
  udevadm control --reload && udevadm trigger
  systemctl daemon-reload && systemctl enable --now termhostd.socket termhostd-admin.socket termhostd.service
EOF
