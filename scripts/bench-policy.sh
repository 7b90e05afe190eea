#!/usr/bin/env bash
# Policy engine benchmark (compile time and object count, one-change apply time, CPU time per
# new connection with 0..10,000 policies) in a private network namespace made for the run.
#   scripts/bench-policy.sh [--pods N] [--policies N] [--levels 0,100,1000,10000] [--connections N] [--rounds R] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/bench/policy-bench.js ] && [ -x dist/bin/berth-bridge ] || npm run --silent build
exec env -u NODE_EXTRA_CA_CERTS unshare --net --mount --propagation private -- bash scripts/in-private-netns.sh node dist/bench/policy-bench.js "$@"
