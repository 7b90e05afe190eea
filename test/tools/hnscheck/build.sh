#!/usr/bin/env bash
# Builds hnscheck (berth's strict checker of HNS/HCN documents) offline with Debian's golang-go
# (Go 1.19 on Debian 12). It uses the standard library only: hcsshim's structs are written out
# in schema.go, since hcsshim builds for Windows only and Debian does not package it.
# Usage: build.sh [OUT]   (default: <repo>/.tools/hnscheck)
# GOPATH mode (GO111MODULE=off): nothing is downloaded. The build cache lives in
# <repo>/.tools/go-build (git-ignored).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="${1:-$root/.tools/hnscheck}"

exec bash "$root/scripts/go-build.sh" "$here" "$out"
