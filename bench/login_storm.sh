#!/usr/bin/env bash
# Login goodput under a storm (everybody logging in again after a revoke-all): successful logins per second
# with 8 clients (capacity) and with 1,500 connections whose clients give up after 2 s, same Gantry, same run.
# Pinned like bench/auth.sh: Gantry on CPU 0, wrk on CPU 1. Every client here shares 127.0.0.1, so the
# per-address and per-account attempt limits (which count attempts in flight) are lifted: the storm stands for
# many users at many addresses.
# Then the mixed flood (issue 24): LOGIN_CLIENTS=64 login connections while an authenticated `GET /v1/auth/me`
# flood holds the rest of FLOOD=4800 connections (opened after the logins' own, so those are in): logins per
# second in a window of the flood, counted by the server (`gantry_http_requests_total` 200s on the admin
# listener), against the same 64 clients' logins per second without the flood, measured just before. 64, not 8:
# under the flood every request waits for its connection's turn among thousands (hundreds of milliseconds), so
# 8 clients would measure their own round trips, not the server's login throughput. MIXED=0 skips it.
#   bench/login_storm.sh [users=200] [secs=15] [connections=1500]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
users=${1:-200}; secs=${2:-15}; conns=${3:-1500}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --bin gantry >/dev/null 2>&1
bin=${BIN:-./target/release/gantry}
pin
data=$(mktemp -d); lua=$(mktemp --suffix .lua)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$data" "$lua"' EXIT
GANTRY_DATA_DIR="$data" GANTRY_HTTP_ADDR=127.0.0.1:18880 GANTRY_ADMIN_ADDR=127.0.0.1:19880 GANTRY_LOG=warn \
  GANTRY_HTTP__MAX_CONNECTIONS_PER_ADDRESS=0 GANTRY_HTTP__MAX_IN_FLIGHT_PER_ADDRESS=0 GANTRY_SESSIONS__REGISTRATIONS_PER_ADDRESS=100000 \
  GANTRY_SESSIONS__LOGIN_MAX_FAILURES_PER_ADDRESS=1000000 GANTRY_SESSIONS__LOGIN_MAX_FAILURES_PER_ACCOUNT=1000000 \
  GANTRY_SESSIONS__LOGIN_MAX_FAILURES_PER_ACCOUNT_ADDRESS=1000000 \
  "${server[@]}" "$bin" 2>"$data/log" &
for _ in $(seq 100); do curl -sf localhost:18880/healthz >/dev/null && break; sleep 0.1; done
python3 - "$users" <<'PY'
import json, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
def reg(i):
    body = json.dumps({"email": f"storm{i}@example.com", "password": "harvest-tractor-blue-42"}).encode()
    urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:18880/v1/auth/register", data=body,
        headers={"content-type": "application/json"}), timeout=60).read()
with ThreadPoolExecutor(4) as pool:
    list(pool.map(reg, range(int(sys.argv[1]))))
PY
cat > "$lua" <<LUA
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"email":"storm%d@example.com","password":"harvest-tractor-blue-42"}', n % $users)
  return wrk.format("POST", "/v1/auth/login", {["Content-Type"] = "application/json"}, body)
end
LUA
raw() { "${client[@]}" wrk -t1 -c"$1" -d"${secs}s" --timeout 2s -s "$lua" http://127.0.0.1:18880; }
ok_per_sec() {
  "${client[@]}" wrk -t1 -c"$1" -d"${secs}s" --timeout 2s -s "$lua" http://127.0.0.1:18880 | python3 -c '
import re, sys
text = sys.stdin.read()
total = int(re.search(r"(\d+) requests in", text).group(1))
non = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
secs = float(re.search(r"requests in ([\d.]+)s", text).group(1))
print(f"{(total - (int(non.group(1)) if non else 0)) / secs:.1f}")'
}
capacity=$(ok_per_sec 8)
storm=$(ok_per_sec "$conns")
log_lines=$(wc -l < "$data/log")
echo "successful logins/s: capacity (8 clients) $capacity, storm ($conns connections, 2 s client timeout) $storm"
python3 -c "print(f'goodput under the storm: {$storm / $capacity:.0%} of capacity')"
echo "log lines written by Gantry at warn level during the run: $log_lines"
[ "${MIXED:-1}" = 1 ] || exit 0
flood=${FLOOD:-4800}
token=$(curl -sf -H 'content-type: application/json' -d '{"email":"storm0@example.com","password":"harvest-tractor-blue-42"}' \
  localhost:18880/v1/auth/login | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# served ROUTE: the 200s the server counted on ROUTE so far.
served() {
  curl -sf localhost:19880/metrics | awk -v r="route=\"$1\"" \
    '/^gantry_http_requests_total\{/ && index($0, r) && index($0, "status=\"200\"") { s += $NF } END { printf "%d", s }'
}
logins=${LOGIN_CLIENTS:-64}
alone_a=$(served /v1/auth/login)
"${client[@]}" wrk -t1 -c"$logins" -d"${secs}s" --timeout 2s -s "$lua" http://127.0.0.1:18880 >/dev/null 2>&1
alone_b=$(served /v1/auth/login)
"${client[@]}" wrk -t1 -c"$logins" -d"$((secs + 8))s" --timeout 2s -s "$lua" http://127.0.0.1:18880 >/dev/null 2>&1 &
logins_pid=$!
sleep 1
"${client[@]}" wrk -t1 -c"$((flood - logins))" -d"$((secs + 6))s" --timeout 2s -H "Authorization: Bearer $token" \
  http://127.0.0.1:18880/v1/auth/me >/dev/null 2>&1 &
flood_pid=$!
sleep 4   # the flood's connections open
logins_a=$(served /v1/auth/login); me_a=$(served /v1/auth/me)
sleep "$secs"
logins_b=$(served /v1/auth/login); me_b=$(served /v1/auth/me)
wait "$logins_pid" "$flood_pid" 2>/dev/null || true
python3 - "$alone_a" "$alone_b" "$logins_a" "$logins_b" "$me_a" "$me_b" "$secs" "$flood" "$logins" <<'PY'
import sys
aa, ab, la, lb, ma, mb, secs, flood, clients = map(float, sys.argv[1:])
alone, mixed = (ab - aa) / secs, (lb - la) / secs
print(f"logins/s with {int(clients)} clients: alone {alone:.1f}; under the mixed flood ({int(flood)} connections, "
      f"the rest on /v1/auth/me) {mixed:.1f} = {mixed / alone:.0%} of it, while /me served {(mb - ma) / secs:.0f}/s")
PY
