#!/usr/bin/env bash
# Runs one benchmark (B=NAME) or all of them; each prints one JSON line with its figures last.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${1:-}" ]; then
  benches=("$1")
else
  benches=()
  for f in dist/bench/*.js; do
    name=$(basename "$f" .js)
    benches+=("$name")
  done
fi
for b in "${benches[@]}"; do
  if [ ! -f "dist/bench/$b.js" ]; then
    echo "no benchmark named '$b' (bench/$b.ts)" >&2
    exit 2
  fi
  echo "== bench $b"
  node "dist/bench/$b.js"
done
