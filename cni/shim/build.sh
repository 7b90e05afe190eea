#!/usr/bin/env bash
# Builds the CNI plugin shim (cni/shim/main.go): static (no cgo), standard library only, so
# it needs nothing but Debian's golang-go and runs on any Linux of the same architecture.
# Usage: build.sh OUT
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$1"
command -v go >/dev/null || { echo "cni/shim/build.sh: go is not installed (apt-get install golang-go; scripts/setup.sh does)" >&2; exit 1; }
mkdir -p "$(dirname "$out")" "$root/.tools/go-build"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cd "$here"
env GO111MODULE=off GOFLAGS= GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 GOPATH="$scratch" GOCACHE="$root/.tools/go-build" \
  go build -trimpath -ldflags '-s -w' -o "$out.tmp.$$" .
mv -f "$out.tmp.$$" "$out"
