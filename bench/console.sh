#!/usr/bin/env bash
# Does the console cost the public listener anything? Authenticated `GET /v1/auth/me` on the public listener,
# measured with wrk (closed loop, throughput and p99), alternately:
#   idle     nothing on the admin listener;
#   console  CLIENTS open consoles (default 4) on the admin listener, each as a browser tab does it: the page and
#            every asset, then the Fleet page's three calls (/admin/fleet, /admin/jobs/counts, /metrics), again
#            every PERIOD seconds (default 5, the page's refresh; each round reloads the page too, which a real
#            tab does not). PERIOD=0 makes it a flood: each client reloads without pause, which on a small
#            machine mostly measures the CPU the load tools and the admin listener take from the public one;
# ROUNDS rounds of each (default 3), interleaved so that drift on a shared machine hits both. Prints each run,
# the medians and the ratio console/idle, and the bytes the console's files add to the binary.
#   bench/console.sh [secs=10] [connections=64]
# BIN=path/to/gantry measures another build; SKIP_BUILD=1 uses what is there. With PIN=1 (default on 2+ cores)
# the server runs on CPU 0 and the load tools on CPU 1. PUBLIC_PORT / ADMIN_PORT move the listeners.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
secs=${1:-10}
conns=${2:-64}
clients=${CLIENTS:-4}
rounds=${ROUNDS:-3}
period=${PERIOD:-5}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --bin gantry >/dev/null 2>&1
bin=${BIN:-"${CARGO_TARGET_DIR:-target}/release/gantry"}
pub=${PUBLIC_PORT:-18081}
adm=${ADMIN_PORT:-19091}

pin

# What the console adds to the binary: the files `src/gateway/console.rs` embeds.
embedded=$(cat console/index.html console/*.js console/*.css | wc -c)
echo "console files embedded in the binary: $embedded bytes ($(python3 -c "print(f'{$embedded/1048576*100:.1f}')") % of 1 MiB)"

data=$(mktemp -d)
loaders=()
trap 'kill "${loaders[@]}" $(jobs -p) 2>/dev/null || true; rm -rf "$data"' EXIT
GANTRY_DATA_DIR="$data" GANTRY_HTTP_ADDR=127.0.0.1:$pub GANTRY_ADMIN_ADDR=127.0.0.1:$adm GANTRY_LOG=warn \
  "${server[@]}" "$bin" 2>/dev/null &
for _ in $(seq 1 100); do curl -sf "localhost:$pub/readyz" >/dev/null && break; sleep 0.2; done
curl -sf -XPOST "localhost:$pub/v1/auth/register" -H 'content-type: application/json' \
  -d '{"email":"bench-console@example.com","password":"harvest-tractor-blue-42"}' >/dev/null
token=$(curl -sf -XPOST "localhost:$pub/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"bench-console@example.com","password":"harvest-tractor-blue-42"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# Every file the page loads: the page, then each module its scripts import (as the browser follows them).
assets=$(grep -oh "from './[a-z]*\.js'" console/*.js | sed "s#from './##; s#'##" | sort -u | sed 's#^#/console/assets/#')
urls="/console/ /console/assets/app.js /console/assets/console.css $assets"
for u in $urls; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "localhost:$adm$u")
  [ "$code" = 200 ] || { echo "GET $u on the admin listener: $code" >&2; exit 1; }
done
echo "console files fetched per page load: $(echo "$urls" | wc -w)"

admin_token=$(cat "$data/secrets/GANTRY_ADMIN_TOKEN")
polls="/admin/fleet /admin/jobs/counts /metrics"
load_console() {
  local fetch=""
  for u in $urls $polls; do fetch="$fetch -o /dev/null localhost:$adm$u"; done
  for _ in $(seq 1 "$clients"); do
    # One curl per round: a kept-alive connection fetching every file and the three calls, as a browser tab.
    "${client[@]}" bash -c "while :; do curl -s -H 'Authorization: Bearer $admin_token' $fetch; sleep $period; done" &
    loaders+=($!)
  done
}
stop_console() { kill "${loaders[@]}" 2>/dev/null || true; wait "${loaders[@]}" 2>/dev/null || true; loaders=(); }

# wrk's throughput and p99 (ms) of /v1/auth/me.
measure() {
  "${client[@]}" wrk -t1 -c"$conns" -d"${secs}s" --latency -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$pub/v1/auth/me" | awk '
      /Requests\/sec/ {rps=$2}
      / 99%/ {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; p99=v}
      END {printf "%s %s\n", rps, p99}'
}

measure >/dev/null   # warm-up
idle=(); busy=()
for round in $(seq 1 "$rounds"); do
  r=$(measure); idle+=("$r"); echo "round $round idle:    $(echo "$r" | awk '{printf "%s req/s, p99 %s ms", $1, $2}')"
  load_console; sleep 1
  served_before=$(curl -s "localhost:$adm/metrics" | awk '/^gantry_http_requests_total\{.*listener="admin".*route="\/console\/assets\/\{file\}"/ {n+=$2} END {print n+0}')
  r=$(measure); busy+=("$r")
  served_after=$(curl -s "localhost:$adm/metrics" | awk '/^gantry_http_requests_total\{.*listener="admin".*route="\/console\/assets\/\{file\}"/ {n+=$2} END {print n+0}')
  stop_console
  echo "round $round console: $(echo "$r" | awk '{printf "%s req/s, p99 %s ms", $1, $2}') (the admin listener served $((served_after - served_before)) asset requests meanwhile)"
done
python3 - "${idle[*]}" "${busy[*]}" <<'PY'
import statistics, sys
def parse(s):
    v = [float(x) for x in s.split()]
    return v[0::2], v[1::2]
(irps, ip99), (brps, bp99) = parse(sys.argv[1]), parse(sys.argv[2])
mi, mb = statistics.median(irps), statistics.median(brps)
pi, pb = statistics.median(ip99), statistics.median(bp99)
print(f"median /v1/auth/me: idle {mi:.0f} req/s p99 {pi:.2f} ms; console {mb:.0f} req/s p99 {pb:.2f} ms")
print(f"ratio console/idle: throughput {mb/mi:.3f}, p99 {pb/max(pi, 1e-9):.2f}")
PY
