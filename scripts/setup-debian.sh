#!/usr/bin/env bash
# Installs the Debian packages termhost needs, only those missing; quick when all are there.
set -euo pipefail
missing=()
for pkg in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "termhost setup: missing Debian packages: ${missing[*]}" >&2
  echo "Run 'make' as root, or install them: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "termhost setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
# The package may start a system pcscd; termhost's rigs run their own, isolated ones.
mkdir -p /run/pcscd
