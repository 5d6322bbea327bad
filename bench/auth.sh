#!/usr/bin/env bash
# Authenticated `GET /v1/auth/me` against `/healthz` and a bare hyper hello-world, same machine, same run:
#   1. maximum throughput with wrk (closed loop, 64 connections, 10 s each);
#   2. tail latency with examples/loadgen (open loop) at 70 % of the hello-world's maximum rate.
# On a small machine the load tool competes with the server for CPU; with PIN=1 (default on 2+ cores) the
# servers run on CPU 0 and the load tools on CPU 1, so each side has one core of its own.
#   bench/auth.sh [secs=10] [connections=64]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-64}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --bin gantry --example hello_hyper --example loadgen >/dev/null 2>&1
# BIN=path/to/gantry measures another build (an older one for a before/after in the same session); EXAMPLES=dir
# takes hello_hyper and loadgen from elsewhere.
release="${CARGO_TARGET_DIR:-target}/release"
bin=${BIN:-"$release/gantry"}
examples=${EXAMPLES:-"$release/examples"}

server=(); client=()
if [ "${PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  server=(taskset -c 0); client=(taskset -c 1)
  echo "pinned: servers on CPU 0, load tools on CPU 1"
fi

data=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$data"' EXIT
"${server[@]}" "$examples/hello_hyper" 127.0.0.1:18090 2>/dev/null &
GANTRY_DATA_DIR="$data" GANTRY_HTTP_ADDR=127.0.0.1:18080 GANTRY_ADMIN_ADDR=127.0.0.1:19090 GANTRY_LOG=warn \
  "${server[@]}" "$bin" 2>/dev/null &
sleep 1
curl -sf -XPOST localhost:18080/v1/auth/register -H 'content-type: application/json' \
  -d '{"email":"bench@example.com","password":"harvest-tractor-blue-42"}' >/dev/null
token=$(curl -sf -XPOST localhost:18080/v1/auth/login -H 'content-type: application/json' \
  -d '{"email":"bench@example.com","password":"harvest-tractor-blue-42"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
auth="Authorization: Bearer $token"

rps() { "${client[@]}" wrk -t1 -c"$conns" -d"${secs}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
rps http://127.0.0.1:18090/ >/dev/null   # warm-up
hello=$(rps http://127.0.0.1:18090/)
healthz=$(rps http://127.0.0.1:18080/healthz)
me=$(rps -H "$auth" http://127.0.0.1:18080/v1/auth/me)
echo "max throughput (wrk -t1 -c$conns -d${secs}s):"
echo "  hello_hyper      $hello req/s"
echo "  gantry /healthz  $healthz req/s"
echo "  gantry /auth/me  $me req/s"
python3 -c "print(f'  ratios: /healthz {$healthz/$hello:.2f}, /auth/me {$me/$hello:.2f} of hello_hyper')"

rate=$(python3 -c "print(int($hello*0.7))")
echo "latency at $rate req/s (70 % of hello_hyper's max), open loop, $conns connections, ${secs}s:"
h=$("${client[@]}" "$examples/loadgen" http://127.0.0.1:18090/ "$rate" "$secs" "$conns")
m=$("${client[@]}" "$examples/loadgen" http://127.0.0.1:18080/v1/auth/me "$rate" "$secs" "$conns" "$auth")
echo "  hello_hyper      $h"
echo "  gantry /auth/me  $m"
python3 - "$h" "$m" <<'PY'
import sys
def p99(s): return int(dict(kv.split("=") for kv in s.split())["p99_us"])
print(f"  p99 ratio /auth/me vs hello_hyper: {p99(sys.argv[2]) / max(p99(sys.argv[1]), 1):.2f}")
PY
