#!/usr/bin/env bash
# Instructions per request, by route, under valgrind's callgrind: the work done inside the HTTP connection
# futures (parse, route, handler, response, metrics) divided by the requests served, for `/healthz`,
# `/v1/auth/me`, a cached option list (anonymous and logged in), a cached form and `evaluate`. Instruction counts do
# not depend on what else the machine is doing, so a before/after of two builds holds on a busy 2-core machine
# where wall-clock ratios do not (they count work, not time: cache misses and lock contention are not in them;
# SHA instructions valgrind does not emulate run in software, so hashing weighs more here than on the CPU).
# Run it from a checkout of the build measured (the binary reads its own config/default.toml).
#   bench/icount.sh [secs=6]        (BIN=path/to/gantry for another build; needs valgrind and wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-6}; port=${PORT:-18780}
command -v valgrind >/dev/null && command -v wrk >/dev/null || { echo "needs valgrind and wrk" >&2; exit 1; }
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --bin gantry >/dev/null 2>&1
bin=${BIN:-"${CARGO_TARGET_DIR:-target}/release/gantry"}
out=${KEEP_OUT:-$(mktemp -d)}; data=$(mktemp -d)
GANTRY_DATA_DIR="$data" GANTRY_HTTP_ADDR=127.0.0.1:$port GANTRY_ADMIN_ADDR=127.0.0.1:$((port + 1)) GANTRY_LOG=warn \
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.%p" "$bin" 2>"$out/valgrind.log" &
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data"; [ -n "${KEEP_OUT:-}" ] || rm -rf "$out"' EXIT
for _ in $(seq 600); do curl -sf "localhost:$port/healthz" >/dev/null && break; sleep 0.2; done
source bench/lib.sh
seed_form "http://127.0.0.1:$port"
list="http://127.0.0.1:$port/v1/options/model?parent_id=$volvo"
form="http://127.0.0.1:$port/v1/templates/$trucks"
token=$(bench_token "http://127.0.0.1:$port" "correct horse battery staple")
lua=$out/post.lua
post_lua "$lua" "$truck_body"
pid=$(find "$out" -name 'cg.*' | head -1 | sed 's/.*cg\.//')
# measure NAME WRK-ARGS…: warm up, zero the counters, load for $secs, dump; prints instructions per request.
measure() {
  local name=$1; shift
  wrk -t1 -c2 -d2s "$@" >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  wrk -t1 -c2 -d"${secs}s" "$@" >/dev/null
  callgrind_control -d "route" "$pid" >/dev/null 2>&1
  sleep 1
  local file tree requests work
  file=$(ls -t "$out"/cg."$pid".* | head -1)
  # Requests: the calls of `request_metrics` (once per request, never inlined: it takes a lock); work: everything
  # under the connection futures. (The most-called service closure, used before, moves with inlining.)
  tree=$(callgrind_annotate --tree=caller --inclusive=yes --threshold=100 "$file" 2>/dev/null)
  requests=$(echo "$tree" | awk 'BEGIN { RS = "" } /\*  \?\?\?:gantry::gateway::server::request_metrics / \
    { n = split($0, lines, "\n"); for (i = 1; i <= n; i++) if (lines[i] ~ /^ *[0-9,]+ .*< / && match(lines[i], /\(([0-9,]+)x\)/, m)) \
    { gsub(",", "", m[1]); sum += m[1] } } END { print sum + 0 }')
  work=$(callgrind_annotate --inclusive=yes --threshold=100 "$file" 2>/dev/null \
    | awk '/GracefulConnectionFuture/ && !f { gsub(",", "", $1); print $1; f = 1 }')
  [ "$requests" -gt 0 ] || { echo "$name: no calls of request_metrics in $file" >&2; return 1; }
  printf '%-30s %7d requests  %8d instructions/request\n' "$name" "$requests" $((work / requests))
}
measure "/healthz" "http://127.0.0.1:$port/healthz"
measure "/v1/auth/me" -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/auth/me"
measure "option list (cached)" "$list"
measure "option list (logged in)" -H "Authorization: Bearer $token" "$list"
measure "form (cached)" "$form"
measure "evaluate (truck form)" -s "$lua" "$form/evaluate"
