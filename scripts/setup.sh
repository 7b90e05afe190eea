#!/usr/bin/env bash
# Installs everything berth needs on a fresh Debian 12 machine (as root), builds it, and
# then runs what was asked for:
#   scripts/setup.sh               install + build only
#   scripts/setup.sh --quickstart  ... then the quickstart (two pods on a berth-bridge network)
#   scripts/setup.sh --test        ... then the full test suite
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# docker.io and busybox-static: the berthd end-to-end tests run a real Docker engine (inside
# the test run's private namespaces; the package's own service is not started here) with an
# image made from the static busybox. `file` tells the tests the busybox is the static one.
for pkg in nftables iproute2 iputils-ping util-linux containernetworking-plugins golang-go golang-github-appc-cni-dev ca-certificates docker.io busybox-static file; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Installing docker.io must not start a Docker engine on this machine (its bridge and
  # iptables rules would change the host): a policy-rc.d that refuses service starts, for
  # the duration of the install only, unless the machine already has its own.
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    own_policy=1
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
  fi
  status=0
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null || status=$?
  if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
  if [ "$status" -ne 0 ]; then exit "$status"; fi
fi
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: Node.js 20 or later is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

echo "setup: npm ci"
npm ci --no-audit --no-fund --loglevel=error
echo "setup: build"
npm run --silent build

# cniclient: berth's container runtime for the tests and the benchmark, a small Go program on the
# reference libcni (test/tools/cniclient), built offline from Debian's golang-go and
# golang-github-appc-cni-dev into .tools/cniclient; rebuilt when its source is newer.
if [ ! -x .tools/cniclient ] || [ test/tools/cniclient/main.go -nt .tools/cniclient ] || [ test/tools/cniclient/build.sh -nt .tools/cniclient ]; then
  bash test/tools/cniclient/build.sh "$PWD/.tools/cniclient"
  echo "setup: built .tools/cniclient"
fi

# hnscheck: the tests' strict checker of HNS/HCN documents (test/tools/hnscheck: hcsshim's struct
# fields and types, unknown fields refused), standard-library Go built offline with golang-go into
# .tools/hnscheck; rebuilt when a source file is newer.
if [ ! -x .tools/hnscheck ] || [ -n "$(find test/tools/hnscheck -newer .tools/hnscheck -type f)" ]; then
  bash test/tools/hnscheck/build.sh "$PWD/.tools/hnscheck"
  echo "setup: built .tools/hnscheck"
fi

case "${1:-}" in
  --quickstart) exec bash scripts/quickstart.sh ;;
  --test) exec bash scripts/test.sh ;;
  "") ;;
  *) echo "setup: unknown option $1 (use --quickstart or --test)" >&2; exit 2 ;;
esac
