#!/usr/bin/env bash
# The full test suite: lint (layering included), unit tests, then every networking test
# inside a private network + mount namespace made for this run, so nothing touches the
# machine's own interfaces, routes or /run/netns. Ends with the skips and their reasons.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build

echo "== lint"
node node_modules/eslint/bin/eslint.js .
node node_modules/prettier/bin/prettier.cjs --check --log-level warn .

# Every skip goes through test/support/skip.ts, which appends one JSON line to BERTH_SKIP_LOG;
# ava's own `- [skip]` lines are read from its output. Both are summed up at the end.
run_dir="$(mktemp -d "$PWD/dist/.test-run.XXXXXX")"
trap 'rm -rf "$run_dir"' EXIT
export BERTH_SKIP_LOG="$run_dir/skips.jsonl"
: >"$BERTH_SKIP_LOG"
color=--no-color
[ -t 1 ] && color=--color
status=0
failed_phases=""

echo "== unit tests"
node node_modules/ava/entrypoints/cli.mjs "$color" --timeout=120s 'dist/test/unit/**/*.test.js' | tee "$run_dir/unit.out" || { status=$?; failed_phases+=" unit($status)"; }
echo "== network tests (private namespaces)"
unshare --net --mount --propagation private -- bash scripts/in-private-netns.sh node node_modules/ava/entrypoints/cli.mjs "$color" --serial --concurrency=1 --timeout=300s 'dist/test/netns/**/*.test.js' | tee "$run_dir/netns.out" || { status=$?; failed_phases+=" network($status)"; }
echo "== benchmarks self-check (each runs and writes its results; verdicts not judged)"; node dist/bench/run.js --self-check || { status=$?; failed_phases+=" bench-self-check($status)"; }

node scripts/test-skips.mjs "$BERTH_SKIP_LOG" "$run_dir/unit.out" "$run_dir/netns.out"
# The failures again, last, so that a log cut to its tail still names them.
if [ "$status" -ne 0 ]; then
  node scripts/test-failures.mjs "$run_dir/unit.out" "$run_dir/netns.out"
  echo "== FAILED:$failed_phases (ava exit status)"
fi
exit "$status"
