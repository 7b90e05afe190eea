#!/usr/bin/env bash
# Installs everything berth needs on a fresh Debian 12 machine (as root), builds it, and
# then runs what was asked for:
#   scripts/setup.sh               install + build only
#   scripts/setup.sh --quickstart  ... then the quickstart (two pods on a berth-bridge network)
#   scripts/setup.sh --test        ... then the full test suite
set -euo pipefail
cd "$(dirname "$0")/.."

# Node.js: berth runs on the current LTS lines (22 or later). A machine whose node is older
# (Debian 12's own is 18) or missing gets a pinned Node LTS of its own in .tools/node (git-ignored),
# from the npm registry: the package node-linux-<arch> holds the official node binary, the
# package npm the npm that Node bundles. Both are checked against pinned sha512
# sums. Everything below (npm ci, the build, cniclient, the tests, the quickstart) then runs on
# it through PATH; a second run finds it in place and only puts it on PATH.
NODE_VERSION=24.22.3
NPM_VERSION=11.21.3
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if ! command -v node >/dev/null || [ "$(node_major)" -lt 22 ] || ! command -v npm >/dev/null; then
  tools_node="$PWD/.tools/node"
  if [ "$("$tools_node/bin/node" --version 2>/dev/null)" != "v$NODE_VERSION" ] ||
     ! grep -q "\"version\": \"$NPM_VERSION\"" "$tools_node/lib/node_modules/npm/package.json" 2>/dev/null ||
     [ ! -e "$tools_node/bin/npm" ]; then
    case "$(uname -m)" in
      x86_64|amd64) node_arch=x64
        node_sha512=287b286fe16ff587ab013bd8ba331b8b226a9d10af2edadcaff79336a46a88e486a7dec43a244fd723f8efe9271a043fc677375d8f31ce45b9f3b76567336a44 ;;
      aarch64|arm64) node_arch=arm64
        node_sha512=219c74279dbfd4d0f002c6368b2591f6794f218b98be24d67ad8e3f3e125bd8421dbe5d184b7c27e46c5105ff63b9bc623685c51bc8f34757e9f3df8d856c95f ;;
      *) echo "setup: no Node.js package for $(uname -m) (x86_64 and aarch64 are supported)" >&2; exit 1 ;;
    esac
    npm_sha512=e427fe8c4f9772d6e11ffce338ea970be8adcbb79e73f4e4938425dfcb5feb0fb586da76c183c7984e1cd51d44b370d8db6ec0735e3e48bae5609c2406271b4e
    echo "setup: node is $(node --version 2>/dev/null || echo missing), berth needs 22 or later: installing Node $NODE_VERSION ($node_arch) and npm $NPM_VERSION into .tools/node"
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
    # fetch_pkg NAME VERSION SHA512: the package's tarball into $scratch, with the machine's npm when
    # it has a working one (its registry and proxy settings apply), else straight from the registry.
    fetch_pkg() {
      local file="$scratch/$1-$2.tgz"
      if ! { command -v npm >/dev/null && (cd "$scratch" && npm pack --silent --loglevel=error "$1@$2" >/dev/null); }; then
        command -v curl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl ca-certificates >/dev/null; }
        local registry="${npm_config_registry:-https://registry.npmjs.org/}"
        curl -fsSL --retry 3 -o "$file" "${registry%/}/$1/-/$1-$2.tgz"
      fi
      echo "$3  $file" | sha512sum --check --quiet --strict
    }
    fetch_pkg "node-linux-$node_arch" "$NODE_VERSION" "$node_sha512"
    fetch_pkg npm "$NPM_VERSION" "$npm_sha512"
    rm -rf "$tools_node.new"
    mkdir -p "$tools_node.new/lib/node_modules/npm"
    tar -xzf "$scratch/node-linux-$node_arch-$NODE_VERSION.tgz" -C "$tools_node.new" --strip-components=1 --no-same-owner
    tar -xzf "$scratch/npm-$NPM_VERSION.tgz" -C "$tools_node.new/lib/node_modules/npm" --strip-components=1 --no-same-owner
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tools_node.new/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tools_node.new/bin/npx"
    rm -rf "$tools_node" "$scratch"
    trap - EXIT
    mv "$tools_node.new" "$tools_node"
  fi
  # npm (#!/usr/bin/env node), npm's scripts and the tests pick this Node from here on.
  export PATH="$tools_node/bin:$PATH"
  hash -r
  if [ "$(node_major)" -lt 22 ]; then echo "setup: $tools_node/bin/node does not run" >&2; exit 1; fi
fi
echo "setup: node $(node --version) ($(command -v node)), npm $(npm --version)"

need_apt=()
# docker.io and busybox-static: the berthd end-to-end tests run a real Docker engine (inside
# the test run's private namespaces; the package's own service is not started here) with an
# image made from the static busybox. `file` tells the tests the busybox is the static one;
# openssl makes the certificates of the Kubernetes source's HTTPS test; golang-go builds the
# CNI plugin shim (cni/shim) and the test tools; etcd-server is the cluster
# store the etcd tests start for themselves, etcd-client (etcdctl) what the multi-host tests
# and the README's walkthrough read it with; curl reads berthd's metrics over its unix socket.
# iperf3 measures pod-to-pod throughput in the overlay benchmark (scripts/bench-overlay.sh).
# dnsmasq-base is the DHCP server the DHCP client's tests lease from.
for pkg in nftables iproute2 iputils-ping util-linux containernetworking-plugins golang-go golang-github-appc-cni-dev ca-certificates docker.io busybox-static file openssl etcd-server etcd-client curl iperf3 dnsmasq-base; do
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
  # Nor at the next boot: a Docker engine or an etcd that this setup installed only for the
  # tests (which start their own, inside private namespaces) stays off.
  if command -v systemctl >/dev/null; then
    for pkg in "${need_apt[@]}"; do
      case "$pkg" in
        docker.io) systemctl disable docker.service docker.socket >/dev/null 2>&1 || true ;;
        etcd-server) systemctl disable etcd.service >/dev/null 2>&1 || true ;;
      esac
    done
  fi
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
