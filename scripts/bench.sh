#!/usr/bin/env bash
# Every benchmark, or those named, each in a private network + mount namespace of its own; results
# (JSON, Markdown, SVG charts) into bench-results/. See bench/run.ts.
#   scripts/bench.sh [--quick] [--self-check] [--out DIR] [--list] [NAME|PREFIX ...]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/bench/run.js ] && [ -x dist/bin/berth-bridge ] || npm run --silent build
exec node dist/bench/run.js "$@"
