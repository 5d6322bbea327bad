#!/usr/bin/env bash
# /healthz throughput of Gantry (local profile) against a bare hyper hello-world, same load tool, same
# machine, same run. Prints requests/s of both and the ratio.
#   bench/healthz.sh [duration_secs=10] [connections=64]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
conns=${2:-64}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
cargo build --release --bin gantry --example hello_hyper >/dev/null 2>&1

data=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$data"' EXIT
./target/release/examples/hello_hyper 127.0.0.1:18090 2>/dev/null &
GANTRY_DATA_DIR="$data" GANTRY_HTTP_ADDR=127.0.0.1:18080 GANTRY_ADMIN_ADDR=127.0.0.1:19090 GANTRY_LOG=warn \
  ./target/release/gantry 2>/dev/null &
sleep 1

rps() { wrk -t2 -c"$conns" -d"${duration}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
# Warm-up, then the measured runs (interleaved so drift affects both).
rps http://127.0.0.1:18090/ >/dev/null; rps http://127.0.0.1:18080/healthz >/dev/null
base=$(rps http://127.0.0.1:18090/)
gantry=$(rps http://127.0.0.1:18080/healthz)
echo "hello_hyper:     $base req/s"
echo "gantry /healthz: $gantry req/s"
python3 -c "print(f'ratio gantry/baseline: {$gantry/$base:.2f}')"
