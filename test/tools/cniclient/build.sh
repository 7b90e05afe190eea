#!/usr/bin/env bash
# Builds cniclient (berth's libcni test runtime) offline, from Debian's Go sources:
#   golang-go                    the compiler (Go 1.19 on Debian 12)
#   golang-github-appc-cni-dev   libcni and its packages under /usr/share/gocode/src
# Usage: build.sh [OUT]   (default: <repo>/.tools/cniclient)
# GOPATH mode (GO111MODULE=off): nothing is downloaded; every import resolves in GOROOT or
# /usr/share/gocode. The build cache lives in <repo>/.tools/go-build (git-ignored).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="${1:-$root/.tools/cniclient}"
gocode=/usr/share/gocode

command -v go >/dev/null || { echo "cniclient/build.sh: go is not installed (apt-get install golang-go)" >&2; exit 1; }
[ -d "$gocode/src/github.com/containernetworking/cni/libcni" ] || {
  echo "cniclient/build.sh: $gocode/src/github.com/containernetworking/cni is missing (apt-get install golang-github-appc-cni-dev)" >&2
  exit 1
}

exec bash "$root/scripts/go-build.sh" "$here" "$out" "$gocode"
