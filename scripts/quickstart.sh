#!/usr/bin/env bash
# Quickstart: a berth-bridge network and two pods (network namespaces), inside a private
# network namespace made for this run: addresses, a ping between the pods, then cleanup.
# Runs the plugins exactly as a container runtime does: CNI_* variables and the config on stdin.
# pod-a is added through berthd (the plugin shim hands the request to berthd's CNI socket);
# berthd is then stopped and pod-b is added by the in-process fallback, on the same network.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x dist/bin/berth-bridge ] || npm run --silent build

if [ "${BERTH_QUICKSTART_INSIDE:-}" != 1 ]; then
  exec env BERTH_QUICKSTART_INSIDE=1 unshare --net --mount --propagation private -- bash scripts/in-private-netns.sh bash "$0"
fi

work=$(mktemp -d)
berthd_pid=""
stop_berthd() { [ -n "$berthd_pid" ] && kill "$berthd_pid" 2>/dev/null && wait "$berthd_pid" 2>/dev/null; berthd_pid=""; }
trap 'stop_berthd; ip netns del pod-a 2>/dev/null || true; ip netns del pod-b 2>/dev/null || true; rm -rf "$work"' EXIT
node dist/bin/berth install --cni-bin-dir "$work/bin" >/dev/null
node dist/bin/berthd --no-docker --no-policy --metrics-address none --run-dir "$work/run" --data-dir "$work/berthd" \
  --log-file "$work/berthd.log" --docker-socket "$work/no-docker.sock" --firewall-check-interval 0 &
berthd_pid=$!
for _ in $(seq 100); do [ -S "$work/run/cni.sock" ] && break; sleep 0.1; done
[ -S "$work/run/cni.sock" ] || { echo "quickstart: berthd did not start; its log:" >&2; cat "$work/berthd.log" >&2; exit 1; }
echo "== berthd serves CNI on $work/run/cni.sock"
node dist/bin/berth status --host "$work/run/berthd.sock" | sed -n 's/^CNI: */   CNI: /p'

conf=$(cat <<JSON
{"cniVersion":"1.1.0","name":"quickstart","type":"berth-bridge","bridge":"berth0",
 "isGateway":true,"isDefaultGateway":true,"ipMasq":true,
 "ipam":{"type":"berth-ipam","ranges":[[{"subnet":"10.88.0.0/24"}],[{"subnet":"fd88::/64"}]],"dataDir":"$work/data"}}
JSON
)
cni() { # cni COMMAND POD
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND="$1" CNI_CONTAINERID="$2" CNI_NETNS="/run/netns/$2" \
    CNI_IFNAME=eth0 CNI_PATH="$work/bin" BERTH_RUN_DIR="$work/run" BERTH_CACHE_DIR="$work/cache" "$work/bin/berth-bridge" <<<"$conf"
}

echo "== network 'quickstart' (berth-bridge, bridge berth0, 10.88.0.0/24 + fd88::/64), two pods"
for pod in pod-a pod-b; do
  ip netns add "$pod"
  ip -n "$pod" link set lo up
  if [ "$pod" = pod-b ]; then stop_berthd; echo "-- berthd stopped: the plugin runs in-process"; fi
  echo "-- CNI ADD $pod"
  cni ADD "$pod" | node -e 'const r=JSON.parse(require("fs").readFileSync(0,"utf8"));for(const i of r.ips)console.log(`   ${r.interfaces[i.interface].name}: ${i.address} via ${i.gateway}`)'
done
echo "== addresses inside pod-a"
ip -n pod-a -br addr show dev eth0
b4=$(ip -n pod-b -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
b6=$(ip -n pod-b -6 -o addr show dev eth0 scope global | awk '{print $4}' | cut -d/ -f1)
echo "== ping pod-a -> pod-b ($b4, $b6)"
ip netns exec pod-a ping -c 2 -i 0.2 -W 1 "$b4"
ip netns exec pod-a ping -6 -c 2 -i 0.2 -W 1 "$b6"
echo "== CNI DEL both pods"
cni DEL pod-a
cni DEL pod-b
left=$(ip -br link show | grep -cE '^(berth0|bv)' || true)
echo "== links left on the host: $left; nft tables left: $(nft list tables | wc -l)"
echo "quickstart done"
