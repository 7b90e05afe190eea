#!/usr/bin/env bash
# CNI ADD/DEL benchmark, berth vs the reference plugins, in a private network namespace.
#   scripts/bench-cni.sh [--pods N] [--rounds R]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x dist/bin/berth-bridge ] || npm run --silent build
exec env -u NODE_EXTRA_CA_CERTS unshare --net --mount --propagation private -- bash scripts/in-private-netns.sh node dist/bench/cni-bench.js "$@"
