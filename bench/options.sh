#!/usr/bin/env bash
# Cached `GET /v1/options/model?parent_id=…` against `/healthz`, same Gantry, same run, wrk on loopback.
#   bench/options.sh [secs=10] [connections=64]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}; conns=${2:-64}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --bin gantry >/dev/null 2>&1
data=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$data"' EXIT
GANTRY_DATA_DIR="$data" GANTRY_HTTP_ADDR=127.0.0.1:18680 GANTRY_ADMIN_ADDR=127.0.0.1:19680 GANTRY_LOG=warn \
  ./target/release/gantry 2>/dev/null &
for _ in $(seq 100); do curl -sf localhost:18680/healthz >/dev/null && break; sleep 0.1; done
volvo=$(curl -sf 'localhost:18680/v1/options/brand?q=volvo' | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
url="http://127.0.0.1:18680/v1/options/model?parent_id=$volvo"
curl -sf "$url" >/dev/null   # fills the cache
rps() { wrk -t2 -c"$conns" -d"${secs}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
rps http://127.0.0.1:18680/healthz >/dev/null   # warm-up
healthz=$(rps http://127.0.0.1:18680/healthz)
models=$(rps "$url")
echo "gantry /healthz:               $healthz req/s"
echo "gantry /v1/options/model (hit): $models req/s"
python3 -c "print(f'ratio options/healthz: {$models/$healthz:.2f}')"
