#!/usr/bin/env bash
# Photo jobs per second (`uploads.photo`: decode, strip, 320 / 1280 / full variants) for a 12 MP JPEG on one
# local-profile instance pinned with taskset. N uploads are stored while the media queue is paused
# (photos.concurrency = 0); the instance is then restarted pinned, with the queue running, and the jobs are
# timed from the first job's start to the last one's finish (the runner's own records).
#   bench/photo.sh [photos=8] [concurrency=1] [cpus=1]
# PROFILE=dev measures a debug build (target/debug); SKIP_BUILD=1 uses what is built.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-8}; concurrency=${2:-1}; cpus=${3:-1}
profile=${PROFILE:-release}
out=$([ "$profile" = dev ] && echo debug || echo "$profile")
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --profile "$profile" --bin gantry --example photo_gen >/dev/null 2>&1
bin=${BIN:-./target/$out/gantry}
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
export GANTRY_ADMIN_TOKEN=Hn4Bv7Cx2Zl9Kj5Mg8Df3Sa6Qw1Er0Ty UPLOAD_GUEST_TOKEN_SECRET=Zt5Kp2Wq9Lx7Mv3Bn8Rc4Hd6Jf1Gs0Ya
export JWT_SECRET=Vb7Nq2Lx9Rt4Kw8Mz3Hc6Jp1Df5Gs0Ya GANTRY_DATA_DIR="$dir/data" GANTRY_LOG=warn
export GANTRY_HTTP_ADDR=127.0.0.1:18691 GANTRY_ADMIN_ADDR=127.0.0.1:19691 GANTRY_CATALOG__SEED_ON_FIRST_START=false
"./target/$out/examples/photo_gen" "$dir/photo.jpg" 4000 3000 >/dev/null
up() { for _ in $(seq 200); do curl -sf localhost:18691/healthz >/dev/null && return; sleep 0.1; done; exit 1; }

GANTRY_PHOTOS__CONCURRENCY=0 "$bin" 2>/dev/null & pid=$!
up
creds='{"email":"bench@example.com","password":"harvest-tractor-blue-42"}'
curl -sf localhost:18691/v1/auth/register -H 'content-type: application/json' -d "$creds" >/dev/null
token=$(curl -sf localhost:18691/v1/auth/login -H 'content-type: application/json' -d "$creds" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
for _ in $(seq "$n"); do
  curl -sf localhost:18691/v1/uploads -H "authorization: Bearer $token" -H 'content-type: image/jpeg' \
    --data-binary @"$dir/photo.jpg" >/dev/null
done
kill "$pid"; wait "$pid" 2>/dev/null || true

GANTRY_PHOTOS__CONCURRENCY=$concurrency taskset -c "$cpus" "$bin" 2>/dev/null & pid=$!
up
jobs_json() { curl -sf -H "authorization: Bearer $GANTRY_ADMIN_TOKEN" "localhost:19691/admin/jobs?kind=uploads.photo&limit=500"; }
for _ in $(seq 3000); do
  left=$(jobs_json | python3 -c 'import json,sys; print(sum(j["state"] not in ("completed","discarded") for j in json.load(sys.stdin)["jobs"]))')
  [ "$left" = 0 ] && break
  sleep 0.2
done
metrics=$(curl -sf localhost:19691/metrics)
jobs_json | N="$n" C="$concurrency" P="$profile" CPUS="$cpus" BYTES=$(stat -c %s "$dir/photo.jpg") METRICS="$metrics" python3 -c '
import json, os, sys, datetime as d
e = os.environ
n, conc, profile, cpus, kib = e["N"], e["C"], e["P"], e["CPUS"], int(e["BYTES"]) // 1024
def t(s): return d.datetime.fromisoformat(s.replace("Z", "+00:00"))
done = [j for j in json.load(sys.stdin)["jobs"] if j["state"] == "completed"]
span = (max(t(j["finished_at"]) for j in done) - min(t(j["started_at"]) for j in done)).total_seconds()
each = sorted((t(j["finished_at"]) - t(j["started_at"])).total_seconds() * 1000 for j in done)
m = {l.split(" ")[0]: float(l.split(" ")[1]) for l in e["METRICS"].splitlines() if l.startswith("gantry_photo_processing_seconds_")}
cpu = 1000 * m.get("gantry_photo_processing_seconds_sum", 0) / max(m.get("gantry_photo_processing_seconds_count", 1), 1)
print(f"{profile} build, 4000x3000 JPEG ({kib} KiB), {len(done)}/{n} completed, concurrency {conc}, taskset -c {cpus}")
print(f"{len(done) / span:.2f} photo jobs/s; per job median {each[len(each) // 2]:.0f} ms, of which decode + scale + encode {cpu:.0f} ms")
'
