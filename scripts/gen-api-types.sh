#!/usr/bin/env bash
# The editor's API types from the server's OpenAPI document (no server needed):
#   dataflow openapi  ->  openapi-typescript  ->  frontend/src/api/schema.gen.ts (checked in).
# Usage: scripts/gen-api-types.sh [OUTPUT.ts]; tests/api/test_openapi.py checks the output is current.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(realpath -m "${1:-$root/frontend/src/api/schema.gen.ts}")"
dataflow="${DATAFLOW:-$root/.venv/bin/dataflow}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$dataflow" openapi -o "$tmp/openapi.json"
cd "$root/frontend"
npx --no-install openapi-typescript "$tmp/openapi.json" --default-non-nullable false --output "$out" >/dev/null
