#!/usr/bin/env bash
# Builds the CNI plugin shim (cni/shim/shim.c): C with the C library only, linked statically,
# so it runs on any Linux of the same architecture and starts in about a millisecond.
# Needs gcc and libc6-dev (scripts/setup.sh installs them).
# Usage: build.sh OUT
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$1"
command -v gcc >/dev/null || { echo "cni/shim/build.sh: gcc is not installed (apt-get install gcc libc6-dev; scripts/setup.sh does)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
gcc -O2 -Wall -Wextra -Werror -static -s -o "$out.tmp.$$" "$here/shim.c"
mv -f "$out.tmp.$$" "$out"
