#!/usr/bin/env bash
# Regenerates docs/api.md (between its markers) and docs/api.schema.json from src/api/schemas.
# --check: change nothing, exit 1 when either is out of date.
set -euo pipefail
cd "$(dirname "$0")/.."
node_modules/.bin/tsc -p tsconfig.build.json
exec node dist/src/api/docs/gen-api-docs.js "$@"
