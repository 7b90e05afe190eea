#!/usr/bin/env bash
# Runs a command in the private namespace that unshare made: loopback up, and a private
# /run/netns and /var/run/netns so namespaces made by tests live and die with this run.
set -euo pipefail
mount -t tmpfs tmpfs /run/netns 2>/dev/null || { mkdir -p /run/netns && mount -t tmpfs tmpfs /run/netns; }
ip link set lo up
# br_netfilter: bridged frames go through the inet forward hook (policy and isolation rely on it).
[ -w /proc/sys/net/bridge/bridge-nf-call-iptables ] && echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables || true
[ -w /proc/sys/net/bridge/bridge-nf-call-ip6tables ] && echo 1 > /proc/sys/net/bridge/bridge-nf-call-ip6tables || true
exec "$@"
