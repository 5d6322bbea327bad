#!/usr/bin/env bash
# Cached catalog reads against `/healthz`, same Gantry, same run, wrk on loopback:
#   - `GET /v1/options/model?parent_id=…` (a cached option list),
#   - `GET /v1/templates/{trucks}` (a cached resolved form),
#   - `POST /v1/templates/{trucks}/evaluate` (the cascade runtime: JsonLogic conditions, value checks and
#     option-membership look-ups through the cached lists),
#   - the same cached option list with a logged-in caller's access token (the token check and the per-caller
#     filter of pending options: what review of new accounts' options costs a read),
#   - `GET /v1/options/brand/suggestions?name=Scanja` (identity key and near matches over a cached list).
# Pinned like bench/auth.sh (Gantry on CPU 0, wrk on CPU 1; PIN=0 to let them float).
#   bench/options.sh [secs=10] [connections=64]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
secs=${1:-10}; conns=${2:-64}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --bin gantry >/dev/null 2>&1
# BIN=path/to/gantry measures another build (an older one for a before/after in the same session).
bin=${BIN:-"${CARGO_TARGET_DIR:-target}/release/gantry"}
pin
data=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$data"' EXIT
GANTRY_DATA_DIR="$data" GANTRY_HTTP_ADDR=127.0.0.1:18680 GANTRY_ADMIN_ADDR=127.0.0.1:19680 GANTRY_LOG=warn \
  "${server[@]}" "$bin" 2>/dev/null &
for _ in $(seq 100); do curl -sf localhost:18680/healthz >/dev/null && break; sleep 0.1; done
seed_form http://127.0.0.1:18680
body=$truck_body
url="http://127.0.0.1:18680/v1/options/model?parent_id=$volvo"
form="http://127.0.0.1:18680/v1/templates/$trucks"
curl -sf "$url" >/dev/null; curl -sf "$form" >/dev/null   # fill the caches
curl -sf -H 'content-type: application/json' -d "$body" "$form/evaluate" >/dev/null
token=$(bench_token http://127.0.0.1:18680 "correct horse battery staple")
suggest="http://127.0.0.1:18680/v1/options/brand/suggestions?name=Scanja"
# Builds from before suggestions existed answer 404 there: that line then reads 0.
has_suggest=1; curl -sf "$suggest" >/dev/null || has_suggest=0
lua=$(mktemp); post_lua "$lua" "$body"
rps() { "${client[@]}" wrk -t1 -c"$conns" -d"${secs}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
rps http://127.0.0.1:18680/healthz >/dev/null   # warm-up
healthz=$(rps http://127.0.0.1:18680/healthz)
models=$(rps "$url")
template=$(rps "$form")
evaluate=$(rps -s "$lua" "$form/evaluate")
evaluate_status=$(curl -s -o /dev/null -w "%{http_code}" -H "content-type: application/json" -d "$body" "$form/evaluate")
authed=$(rps -H "Authorization: Bearer $token" "$url")
suggestions=0; [ "$has_suggest" = 0 ] || suggestions=$(rps "$suggest")
rm -f "$lua"
echo "gantry /healthz:                   $healthz req/s"
echo "gantry /v1/options/model (hit):    $models req/s"
echo "gantry /v1/templates/{id} (hit):   $template req/s"
echo "gantry /v1/templates/{id}/evaluate: $evaluate req/s (answers $evaluate_status)"
echo "gantry /v1/options/model (hit, logged in): $authed req/s"
echo "gantry /v1/options/brand/suggestions: $suggestions req/s"
python3 -c "print(f'ratio options/healthz: {$models/$healthz:.2f}  template/healthz: {$template/$healthz:.2f}  evaluate/healthz: {$evaluate/$healthz:.2f}  options-logged-in/healthz: {$authed/$healthz:.2f}  suggestions/healthz: {$suggestions/$healthz:.2f}')"
