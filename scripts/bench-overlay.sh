#!/usr/bin/env bash
# Overlay benchmark in a private network and mount namespace: pod-to-pod throughput across two
# lab hosts (berth-overlay against a hand-built VXLAN pair, routed mode beside), a new node's
# convergence with 3 and 10 hosts, berthd's RSS. See bench/overlay-bench.ts.
#   scripts/bench-overlay.sh [--quick] [--seconds N] [--rounds R] [--joins J] [--sizes 3,10] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v iperf3 >/dev/null || { echo "bench-overlay: iperf3 is missing: run bash scripts/setup.sh" >&2; exit 1; }
[ -x dist/bin/berth-overlay ] && [ -f dist/bench/overlay-bench.js ] || npm run --silent build
exec env -u NODE_EXTRA_CA_CERTS unshare --net --mount --propagation private -- bash scripts/in-private-netns.sh node dist/bench/overlay-bench.js "$@"
