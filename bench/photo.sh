#!/usr/bin/env bash
# Photo jobs per second (`uploads.photo`: decode, strip, 320 / 1280 / full variants) for a 12 MP JPEG on one
# local-profile instance pinned with taskset, against libvips making the same variants of the same JPEG on the
# same CPUs in the same run. N uploads are stored while the media queue is paused (photos.concurrency = 0); the
# instance is then restarted pinned, with the queue running, and the jobs are timed from the first job's start
# to the last one's finish (the runner's own records); the instance's CPU time (user + sys, /proc) over the
# jobs is read too. Then libvips (Debian's `libvips-tools`, one thread: VIPS_CONCURRENCY=1) makes the same
# three variants N times, as a command line would: `vipsthumbnail` to 320 and to 1280 (`>`: never upscaled)
# and `vips autorot` for the full-size re-encode (EXIF orientation applied), each saved as JPEG at
# photos.quality 85, 4:4:4 (no chroma subsampling, as Gantry writes) and stripped of all metadata: three
# processes and three decodes per photo, timed with /usr/bin/time. The ratio is libvips's CPU per photo over
# Gantry's whole instance's (≥ 1.0: Gantry is at least as fast); CPU time is what a shared machine's load
# disturbs least, the wall times are printed beside it.
#   bench/photo.sh [photos=8] [concurrency=1] [cpus=1]
# PROFILE=dev measures a debug build (target/debug); SKIP_BUILD=1 uses what is built; BIN= another gantry
# binary (an earlier build), PHOTO_GEN= its photo_gen; VIPS=0 skips libvips.
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
"${PHOTO_GEN:-./target/$out/examples/photo_gen}" "$dir/photo.jpg" 4000 3000 >/dev/null
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
# CPU time (user + sys, clock ticks) of the instance: from its start, so the first job's start is in.
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
up
jobs_json() { curl -sf -H "authorization: Bearer $GANTRY_ADMIN_TOKEN" "localhost:19691/admin/jobs?kind=uploads.photo&limit=500"; }
for _ in $(seq 3000); do
  left=$(jobs_json | python3 -c 'import json,sys; print(sum(j["state"] not in ("completed","discarded") for j in json.load(sys.stdin)["jobs"]))')
  [ "$left" = 0 ] && break
  sleep 0.2
done
cpu_ticks=$(ticks)
metrics=$(curl -sf localhost:19691/metrics)

vips_cpu=0; vips_wall=0
if [ "${VIPS:-1}" = 1 ]; then
  command -v vipsthumbnail >/dev/null || { echo "vipsthumbnail missing: apt-get install -y libvips-tools" >&2; exit 1; }
  save="[Q=85,strip,subsample-mode=off]"
  export VIPS_CONCURRENCY=1
  /usr/bin/time -f '%e %U %S' -o "$dir/vips.time" taskset -c "$cpus" bash -c '
    for i in $(seq "$1"); do
      vipsthumbnail "$2/photo.jpg" --size "320x320>" -o "$2/v320.jpg$3"
      vipsthumbnail "$2/photo.jpg" --size "1280x1280>" -o "$2/v1280.jpg$3"
      vips autorot "$2/photo.jpg" "$2/vfull.jpg$3"
    done' vips "$n" "$dir" "$save"
  read -r vips_wall vips_user vips_sys < "$dir/vips.time"
  vips_cpu=$(python3 -c "print($vips_user + $vips_sys)")
  vipsheader "$dir/v320.jpg" "$dir/v1280.jpg" "$dir/vfull.jpg" >&2
fi
jobs_json | N="$n" C="$concurrency" P="$profile" CPUS="$cpus" BYTES=$(stat -c %s "$dir/photo.jpg") METRICS="$metrics" \
  TICKS="$cpu_ticks" HZ=$(getconf CLK_TCK) VIPS_CPU="$vips_cpu" VIPS_WALL="$vips_wall" python3 -c '
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
proc = 1000 * int(e["TICKS"]) / int(e["HZ"]) / max(len(done), 1)
print(f"gantry CPU (user + sys) per photo, whole instance from its start: {proc:.0f} ms")
vips, vips_wall = (1000 * float(e[k]) / int(n) for k in ("VIPS_CPU", "VIPS_WALL"))
if vips:
    print(f"libvips CPU (user + sys) per photo, 3 commands: {vips:.0f} ms (wall {vips_wall:.0f} ms)")
    print(f"ratio libvips / gantry, CPU per photo: {vips / proc:.2f} (against gantry\u2019s decode + scale + encode wall time: {vips / cpu:.2f})")
print("load average " + open("/proc/loadavg").read().split(" ", 3)[2] + " (15 min)")
'
