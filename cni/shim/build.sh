#!/usr/bin/env bash
# Builds the CNI plugin shim (cni/shim/main.go): Go's standard library only, static, with
# Debian's golang-go offline (scripts/go-build.sh), so it runs on any Linux of the same
# architecture.
# Usage: build.sh OUT
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec bash "$here/../../scripts/go-build.sh" "$here" "$1" "" -- -ldflags '-s -w'
