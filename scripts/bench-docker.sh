#!/usr/bin/env bash
# docker run --network: berth-nat vs Docker's built-in bridge, same run, in a private
# network + mount namespace with its own dockerd and berthd.
#   scripts/bench-docker.sh [--runs N] [--publish]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/bench/docker-bench.js ] || npm run --silent build
exec unshare --net --mount --propagation private -- bash scripts/in-private-netns.sh node dist/bench/docker-bench.js "$@"
