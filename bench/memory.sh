#!/usr/bin/env bash
# Resident memory under password-hashing load: 1,000 failed logins and 1,000 registrations (8 clients at a time),
# then idle. Prints the peak RSS during the load, the RSS after the load and after 20 s idle, sampled from
# /proc/<pid>/status. The login and registration limits are lifted so every request really hashes (the counts of
# hashing work done are printed from /metrics; binaries older than a limit setting ignore its variable).
#   bench/memory.sh [binary=./target/release/gantry] [requests=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-./target/release/gantry}
n=${2:-1000}
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --bin gantry >/dev/null 2>&1
data=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$data"' EXIT
GANTRY_DATA_DIR="$data" GANTRY_HTTP_ADDR=127.0.0.1:18780 GANTRY_ADMIN_ADDR=127.0.0.1:19780 GANTRY_LOG=error \
  GANTRY_SESSIONS__LOGIN_MAX_FAILURES_PER_ACCOUNT=1000000 GANTRY_SESSIONS__LOGIN_MAX_FAILURES_PER_ADDRESS=1000000 \
  GANTRY_SESSIONS__LOGIN_MAX_FAILURES_PER_ACCOUNT_ADDRESS=1000000 GANTRY_SESSIONS__REGISTRATIONS_PER_ADDRESS=1000000 \
  "$bin" 2>/dev/null &
pid=$!
for _ in $(seq 100); do curl -sf localhost:18780/healthz >/dev/null && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status"; }
start=$(rss)
peak_file=$(mktemp)
( peak=0; while kill -0 "$pid" 2>/dev/null; do r=$(rss); [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" > "$peak_file"; sleep 0.2; done ) &
sampler=$!
python3 - "$n" <<'PY'
import json, sys, urllib.request, urllib.error
from concurrent.futures import ThreadPoolExecutor
n = int(sys.argv[1])
def post(path, body):
    req = urllib.request.Request("http://127.0.0.1:18780" + path, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=60).read()
    except urllib.error.HTTPError as e:
        e.read()
post("/v1/auth/register", {"email": "memory@example.com", "password": "harvest-tractor-blue-42"})
with ThreadPoolExecutor(8) as pool:
    list(pool.map(lambda i: post("/v1/auth/login", {"email": "memory@example.com", "password": f"wrong-password-{i}"}), range(n)))
    list(pool.map(lambda i: post("/v1/auth/register", {"email": f"memory{i}@example.com", "password": "harvest-tractor-blue-42"}), range(n)))
PY
after=$(rss)
work=$(curl -sf localhost:19780/metrics | awk '/^gantry_auth_logins_total\{outcome="invalid_credentials"\}/ {l=$2} /^gantry_auth_registrations_total / {r=$2} END {printf "%d failed logins verified, %d registrations", l, r}')
sleep 20
idle=$(rss)
kill "$sampler" 2>/dev/null || true
echo "rss MiB: start $start, peak $(cat "$peak_file"), after load $after, after 20 s idle $idle ($work; 8 at a time)"
