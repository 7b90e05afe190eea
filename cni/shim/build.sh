#!/usr/bin/env bash
# Builds the CNI plugin shim (cni/shim/main.go): static, standard library only, so it needs
# nothing but Debian's golang-go and runs on any Linux of the same architecture.
# Usage: build.sh OUT
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec bash "$here/../../scripts/go-build.sh" "$here" "$1" "" -- -ldflags '-s -w'
