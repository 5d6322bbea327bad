#!/usr/bin/env bash
# Issue 24's table: builds side by side in one run against a bare hyper hello-world. Every server runs pinned to
# CPU 0 and `wrk -t1 -c$conns` to CPU 1; each round measures bare hyper, then every build's routes in turn, so
# drift hits all of them:
#   /healthz; /v1/auth/me with an HS256 token (verification and the revocation check); the cached
#   `GET /v1/options/brand?limit=50`, anonymous and logged in; `evaluate` of the full truck form.
# Each build runs from its own checkout's config (`dir`: the binary reads `<dir>/config`), on its own data.
# Prints each run's req/s, then per build the ratios of every round (min–max, median): route / bare hyper,
# route / its own /healthz, and route / the first build's; then the same ratios of the best rounds ("best": each
# target's fastest round over the other's). On this VM every server, bare hyper included, runs in one of two
# modes from one run to the next (~112k or ~134k req/s for the same /healthz in one process), so a ratio of two
# single runs can be a ratio of two modes; the best rounds compare the fast mode with the fast mode.
#   bench/compare.sh [secs=8] [rounds=3] [connections=32]
# Bare hyper also answers bodies as large as /healthz's and the list's (`/bytes/{n}`): the ratio of those two is
# the ceiling of list / its /healthz that the bytes alone leave. And it takes evaluate's POST (the same body, read
# whole and parsed as JSON) and answers as many bytes as evaluate: the ceiling of evaluate / its /healthz.
# Bare hyper also runs in its `floor` mode (examples/hello_hyper.rs: only the per-request work every protection
# needs, in its cheapest form): its ratio to bare hyper is the highest any build can reach with those protections on.
#   BUILDS="name=binary[@dir] …" (default: this checkout's release build as `this`), HELLO=path/to/hello_hyper
# e.g. BUILDS="before=/tmp/old/gantry@/tmp/old-checkout this=target/release/gantry" bench/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
secs=${1:-8}; rounds=${2:-3}; conns=${3:-32}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
release="${CARGO_TARGET_DIR:-target}/release"
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --bin gantry --example hello_hyper >/dev/null 2>&1
read -r -a builds <<<"${BUILDS:-this=$release/gantry}"
hello=${HELLO:-$release/examples/hello_hyper}
pin
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
port=${PORT_BASE:-18400}
"${server[@]}" "$hello" "127.0.0.1:$port" 2>/dev/null &
"${server[@]}" "$hello" "127.0.0.1:$((port + 1))" floor 2>/dev/null &
targets=("hello|http://127.0.0.1:$port/" "floor|http://127.0.0.1:$((port + 1))/")   # label|wrk arguments…
names=()
i=0
for build in "${builds[@]}"; do
  i=$((i + 1))
  name=${build%%=*}; rest=${build#*=}; bin=${rest%@*}; dir=.; [[ $rest == *@* ]] && dir=${rest#*@}
  bin=$(realpath "$bin"); dir=$(realpath "$dir")
  http=$((port + 2 * i)); admin=$((port + 2 * i + 1))
  mkdir "$work/$name"
  # The issue's `/me` is HS256; a build from before the setting existed signs HS256 anyway.
  (cd "$dir" && GANTRY_DATA_DIR="$work/$name" GANTRY_HTTP_ADDR="127.0.0.1:$http" GANTRY_ADMIN_ADDR="127.0.0.1:$admin" \
    GANTRY_SESSIONS__ACCESS_TOKEN_ALGORITHM=HS256 GANTRY_LOG=warn exec "${server[@]}" "$bin" 2>"$work/$name.log") &
  for _ in $(seq 200); do curl -sf "localhost:$http/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf "localhost:$http/healthz" >/dev/null || { echo "$name did not start:" >&2; tail -5 "$work/$name.log" >&2; exit 1; }
  api="http://127.0.0.1:$http"
  seed_form "$api"
  token=$(bench_token "$api" harvest-tractor-blue-42)
  body=$truck_body
  post_lua "$work/$name.lua" "$body"
  list="$api/v1/options/brand?limit=50"
  for check in "$api/v1/auth/me" "$list"; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$check")" = 200 ] \
      || { echo "$name: $check does not answer 200" >&2; exit 1; }
  done
  status=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -d "$body" "$api/v1/templates/$trucks/evaluate")
  [ "$status" = 200 ] || { echo "$name: evaluate answers $status" >&2; exit 1; }
  names+=("$name")
  [ "$i" -gt 1 ] || { first_evaluate="$api/v1/templates/$trucks/evaluate"; first_body=$body; first_lua="$work/$name.lua"; }
  targets+=("$name/healthz|$api/healthz"
    "$name/me|-H|Authorization: Bearer $token|$api/v1/auth/me"
    "$name/list|$list"
    "$name/list-logged-in|-H|Authorization: Bearer $token|$list"
    "$name/evaluate|-s|$work/$name.lua|$api/v1/templates/$trucks/evaluate")
done

# Bare hyper again, answering bodies that make its responses as large as the first build's /healthz and anonymous
# list responses (head and body): the ratio of those two is what the bytes alone (the kernel's copies, the load
# tool's reads) leave of list / its /healthz, before any of Gantry's work.
size_of() { curl -s -D - -o - "$1" | wc -c; }
bare_head=$(( $(size_of "http://127.0.0.1:$port/bytes/0") - 1 ))   # its head, less the one digit of "0"
first_api="http://127.0.0.1:$((port + 2))"
healthz_bytes=$(size_of "$first_api/healthz"); list_bytes=$(size_of "$first_api/v1/options/brand?limit=50")
evaluate_bytes=$(curl -s -D - -o - -H 'content-type: application/json' -d "$first_body" "$first_evaluate" | wc -c)
# And bare hyper taking evaluate's POST (the same body, read whole and parsed as JSON) and answering as many bytes
# as evaluate does: what any JSON endpoint pays around its own work, so evaluate / its /healthz can be no more.
targets+=("sized-healthz|http://127.0.0.1:$port/bytes/$((healthz_bytes - bare_head - ${#healthz_bytes}))"
  "sized-list|http://127.0.0.1:$port/bytes/$((list_bytes - bare_head - ${#list_bytes}))"
  "sized-evaluate|-s|$first_lua|http://127.0.0.1:$port/bytes/$((evaluate_bytes - bare_head - ${#evaluate_bytes}))")
echo "response sizes (head and body): /healthz $healthz_bytes B, the list $list_bytes B, evaluate $evaluate_bytes B" \
  "(its body ${#first_body} B); bare hyper sends the same"

results=$work/results
rps() { "${client[@]}" wrk -t1 -c"$conns" -d"${secs}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
for target in "${targets[@]}"; do IFS='|' read -r -a args <<<"${target#*|}"; rps "${args[@]}" >/dev/null; done  # warm-up
echo "pinned: servers on CPU 0, wrk -t1 -c$conns on CPU 1; $rounds rounds of ${secs} s per target"
for round in $(seq "$rounds"); do
  for target in "${targets[@]}"; do
    label=${target%%|*}; IFS='|' read -r -a args <<<"${target#*|}"
    r=$(rps "${args[@]}")
    echo "$round $label $r" | tee -a "$results"
  done
done
python3 - "$results" "${names[@]}" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
names = sys.argv[2:]
rate = {(int(r), label): float(v) for r, label, v in rows}
rounds = sorted({r for r, _ in rate})
def fmt(values):
    return f"{min(values):.2f}-{max(values):.2f} (median {statistics.median(values):.2f})"
routes = ["healthz", "me", "list", "list-logged-in", "evaluate"]
print(f"\nbare hyper: {fmt([rate[(r, 'hello')] / 1000 for r in rounds])} k req/s")
best_of = lambda label: max(rate[(r, label)] for r in rounds)
print(f"floor (bare hyper with the protections' least work) / bare hyper: per round "
      f"{fmt([rate[(r, 'floor')] / rate[(r, 'hello')] for r in rounds])}, best rounds {best_of('floor') / best_of('hello'):.2f}")
print(f"bare hyper at the list's response size / at /healthz's: per round "
      f"{fmt([rate[(r, 'sized-list')] / rate[(r, 'sized-healthz')] for r in rounds])}, "
      f"best rounds {best_of('sized-list') / best_of('sized-healthz'):.2f} (the most list / its /healthz can be)")
print(f"bare hyper taking evaluate's body as JSON, answering its size / at /healthz's: per round "
      f"{fmt([rate[(r, 'sized-evaluate')] / rate[(r, 'sized-healthz')] for r in rounds])}, "
      f"best rounds {best_of('sized-evaluate') / best_of('sized-healthz'):.2f} (the most evaluate / its /healthz can be)")
def table(title, rate_of, ratio):
    """Every build's routes: the rate, then its ratio to bare hyper, to its own /healthz and to the first build."""
    print(title)
    for name in names:
        for route in routes:
            label = f"{name}/{route}"
            parts = [f"{label:28} {rate_of(label):9.0f} req/s", f"/ bare hyper {ratio(label, 'hello')}"]
            if route != "healthz":
                parts.append(f"/ its /healthz {ratio(label, f'{name}/healthz')}")
            if name != names[0]:
                parts.append(f"/ {names[0]} {ratio(label, f'{names[0]}/{route}')}")
            print("  " + "   ".join(parts))
table("\nper round (mean rate; ratios min-max, median)", lambda label: statistics.mean(rate[(r, label)] for r in rounds),
      lambda a, b: fmt([rate[(r, a)] / rate[(r, b)] for r in rounds]))
best = lambda label: max(rate[(r, label)] for r in rounds)
table("\nbest rounds (each target's fastest)", best, lambda a, b: f"{best(a) / best(b):.2f}")
PY
