#!/usr/bin/env bash
# Upload throughput through Gantry (production profile) to S3 against a direct aws-sdk-s3 upload of the
# same bytes to the same server, same run; and Gantry's peak RSS during a large upload.
# Needs PostgreSQL, Redis and RabbitMQ on their usual local ports, and s3s-fs on PATH.
#   bench/upload.sh [MiB=100] [runs=3] [rss_MiB=1024]
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-100}; runs=${2:-3}; rss_mib=${3:-1024}
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --bin gantry --example upload_bench >/dev/null 2>&1
# BIN=path/to/gantry measures another build; EXAMPLES=dir takes upload_bench from elsewhere.
release="${CARGO_TARGET_DIR:-target}/release"
bin=${BIN:-"$release/gantry"}
examples=${EXAMPLES:-"$release/examples"}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
key_id=benchkey; secret=$(head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)
mkdir -p "$work/s3"
s3s-fs --host 127.0.0.1 --port 19400 --access-key "$key_id" --secret-key "$secret" "$work/s3" >/dev/null 2>&1 &
psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS gantry_upload_bench WITH (FORCE)" \
  -c "CREATE DATABASE gantry_upload_bench" >/dev/null
export GANTRY_PROFILE=production GANTRY_HTTP_ADDR=127.0.0.1:18480 GANTRY_ADMIN_ADDR=127.0.0.1:19480 GANTRY_LOG=warn \
  GANTRY_DATABASE_URL=postgres://postgres@127.0.0.1:5432/gantry_upload_bench GANTRY_REDIS_URL=redis://127.0.0.1:6379/8 \
  GANTRY_AMQP_URL='amqp://guest:guest@127.0.0.1:5672/%2f' GANTRY_S3_ENDPOINT=http://127.0.0.1:19400 \
  GANTRY_S3_BUCKET=gantry-bench GANTRY_UPLOADS__MAX_BYTES=$((2 * 1024 * 1024 * 1024)) \
  JWT_SECRET=q7R2vX9kLm4PzT8wN3bH6yC1dF5gJ0sA UPLOAD_GUEST_TOKEN_SECRET=Zt5Kp2Wq9Lx7Mv3Bn8Rc4Hd6Jf1Gs0Ya \
  GANTRY_ADMIN_TOKEN=Hn4Bv7Cx2Zl9Kj5Mg8Df3Sa6Qw1Er0Ty S3_ACCESS_KEY_ID=$key_id S3_SECRET_ACCESS_KEY=$secret
sleep 1
"$bin" 2>"$work/gantry.log" &
gantry_pid=$!
for _ in $(seq 50); do curl -sf localhost:18480/healthz >/dev/null && break; sleep 0.2; done
curl -sf -XPOST localhost:18480/v1/auth/register -H 'content-type: application/json' \
  -d '{"email":"bench@example.com","password":"harvest-tractor-blue-42"}' >/dev/null
token=$(curl -sf -XPOST localhost:18480/v1/auth/login -H 'content-type: application/json' \
  -d '{"email":"bench@example.com","password":"harvest-tractor-blue-42"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
b="$examples/upload_bench"
$b gantry http://127.0.0.1:18480 "$token" 8 >/dev/null   # warm-up (bucket creation, connections)
echo "$mib MiB uploads, $runs runs each, interleaved:"
for r in $(seq "$runs"); do
  echo "  direct aws-sdk-s3: $($b direct http://127.0.0.1:19400 gantry-bench "$key_id" "$secret" "$mib")"
  echo "  through gantry:    $($b gantry http://127.0.0.1:18480 "$token" "$mib")"
done
before=$(awk '/VmHWM/ {print $2}' /proc/$gantry_pid/status)
echo "RSS: peak before a $rss_mib MiB upload ${before} kB"
$b gantry http://127.0.0.1:18480 "$token" "$rss_mib" | sed 's/^/  /'
after=$(awk '/VmHWM/ {print $2}' /proc/$gantry_pid/status)
echo "RSS: peak after ${after} kB (growth $(( (after - before) / 1024 )) MiB)"
