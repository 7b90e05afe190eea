#!/usr/bin/env bash
# The full test suite: lint (layering included), unit tests, then every networking test
# inside a private network + mount namespace made for this run, so nothing touches the
# machine's own interfaces, routes or /run/netns.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build

echo "== lint"
node node_modules/eslint/bin/eslint.js .
echo "== unit tests"
node node_modules/ava/entrypoints/cli.mjs --timeout=120s 'dist/test/unit/**/*.test.js'
echo "== network tests (private namespaces)"
exec unshare --net --mount --propagation private -- bash scripts/in-private-netns.sh node node_modules/ava/entrypoints/cli.mjs --serial --concurrency=1 --timeout=300s 'dist/test/netns/**/*.test.js'
