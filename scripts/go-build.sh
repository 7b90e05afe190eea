#!/usr/bin/env bash
# Builds one of berth's Go programs offline with Debian's golang-go (Go 1.19 on Debian 12):
# GOPATH mode (GO111MODULE=off), so nothing is downloaded and every import resolves in GOROOT
# or in the GOPATH given; static (no cgo). The build cache lives in <repo>/.tools/go-build
# (git-ignored). The output is written next to OUT and renamed into place.
# Usage: go-build.sh SOURCE_DIR OUT [EXTRA_GOPATH] [-- GO_BUILD_FLAGS...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="$(cd "$1" && pwd)"
out="$2"
extra="${3:-}"
shift $(( $# >= 3 ? 3 : $# ))
[ "${1:-}" = "--" ] && shift
command -v go >/dev/null || { echo "$src: go is not installed (apt-get install golang-go; scripts/setup.sh does)" >&2; exit 1; }
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
mkdir -p "$(dirname "$out")" "$root/.tools/go-build"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cd "$src"
env GO111MODULE=off GOFLAGS= GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 \
  GOPATH="${extra:+$extra:}$scratch" GOCACHE="$root/.tools/go-build" \
  go build -trimpath "$@" -o "$out.tmp.$$" .
mv -f "$out.tmp.$$" "$out"
