#!/usr/bin/env bash
# The full test suite: lint (layering included), unit tests, then every networking test
# inside a private network + mount namespace made for this run, so nothing touches the
# machine's own interfaces, routes or /run/netns.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d dist ] || npm run --silent build

echo "== lint"
npx eslint .
echo "== unit tests"
npx ava --timeout=120s 'dist/test/unit/**/*.test.js'
echo "== network tests (private namespaces)"
exec unshare --net --mount --propagation private -- bash scripts/in-private-netns.sh npx ava --serial --timeout=300s 'dist/test/netns/**/*.test.js'
