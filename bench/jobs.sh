#!/usr/bin/env bash
# Job runner throughput and enqueue-to-start latency on Postgres with 1 or 2 instances, using the no-op drill
# kind (compiled in with `--features chaos`; a plain release build does not have it).
#   export GANTRY_TEST_POSTGRES_URL=… GANTRY_TEST_REDIS_URL=… GANTRY_TEST_AMQP_URL=… GANTRY_TEST_S3_ENDPOINT=…
#     GANTRY_TEST_S3_ACCESS_KEY_ID=… GANTRY_TEST_S3_SECRET_ACCESS_KEY=…   # as .ci/run exports them (production profile)
#   bench/jobs.sh [instances=1] [jobs=50000] [concurrency=64]
# Throughput: `jobs` rows inserted in one statement while the instances run; jobs/s = jobs / (last finish -
# first start). Latency: then 20 batches of 50 jobs, 100 ms apart (500 jobs/s offered); p50/p99 of
# started_at - created_at of those jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1}; total=${2:-50000}; conc=${3:-64}
: "${GANTRY_TEST_POSTGRES_URL:?export the GANTRY_TEST_* backend variables first (see .ci/run)}"
target=${CARGO_TARGET_DIR:-target}
bin=${BENCH_BIN:-$target/release/gantry}
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --features chaos --bin gantry >/dev/null 2>&1
db="bench_jobs_$$"
psql -q "$GANTRY_TEST_POSTGRES_URL" -c "CREATE DATABASE $db"
url="${GANTRY_TEST_POSTGRES_URL%/*}/$db"
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 1; rm -f /tmp/bench-jobs-$$-*.log; [ "${KEEP_DB:-0}" = 1 ] || psql -q "$GANTRY_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
for i in $(seq "$n"); do
  GANTRY_PROFILE=production GANTRY_DATABASE_URL="$url" GANTRY_REDIS_URL="$GANTRY_TEST_REDIS_URL" \
    GANTRY_AMQP_URL="$GANTRY_TEST_AMQP_URL" GANTRY_S3_ENDPOINT="$GANTRY_TEST_S3_ENDPOINT" \
    GANTRY_S3_BUCKET="bench-jobs-$$" S3_ACCESS_KEY_ID="$GANTRY_TEST_S3_ACCESS_KEY_ID" \
    S3_SECRET_ACCESS_KEY="$GANTRY_TEST_S3_SECRET_ACCESS_KEY" GANTRY_BUS__EXCHANGE="bench.jobs.$$" \
    JWT_SECRET=Vb7Nq2Lx9Rt4Kw8Mz3Hc6Jp1Df5Gs0Ya UPLOAD_GUEST_TOKEN_SECRET=Zt5Kp2Wq9Lx7Mv3Bn8Rc4Hd6Jf1Gs0Ya \
    GANTRY_ADMIN_TOKEN=Hn4Bv7Cx2Zl9Kj5Mg8Df3Sa6Qw1Er0Ty GANTRY_HTTP_ADDR=127.0.0.1:$((18700 + i)) \
    GANTRY_ADMIN_ADDR=127.0.0.1:$((19700 + i)) GANTRY_LOG=warn GANTRY_JOBS__DEFAULT_CONCURRENCY="$conc" \
    GANTRY_DATABASE__MAX_CONNECTIONS=$((conc / 4 + 4)) "$bin" 2>"/tmp/bench-jobs-$$-$i.log" &
done
for i in $(seq "$n"); do
  for _ in $(seq 200); do curl -sf "127.0.0.1:$((18700 + i))/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf "127.0.0.1:$((18700 + i))/healthz" >/dev/null || { cat "/tmp/bench-jobs-$$-$i.log"; exit 1; }
done
insert() { # count tag
  psql -q "$url" -c "INSERT INTO jobs (id, kind, state, created_at, updated_at, queue, args, max_attempts, run_at)
    SELECT gen_random_uuid(), 'drill.noop', 'available', clock_timestamp(), clock_timestamp(), 'default',
           '{\"tag\": \"$2\"}'::jsonb, 1, clock_timestamp() FROM generate_series(1, $1)"
}
insert "$total" bulk
until [ "$(psql -qtA "$url" -c "SELECT count(*) FROM jobs WHERE kind = 'drill.noop' AND state <> 'completed'")" = 0 ]; do
  sleep 0.5
done
psql -qtA "$url" -c "SELECT count(*) || ' jobs, ' || $n || ' instance(s), concurrency $conc: ' ||
  round(count(*) / extract(epoch FROM max(finished_at) - min(started_at))) || ' jobs/s'
  FROM jobs WHERE args->>'tag' = 'bulk'"
for _ in $(seq 20); do insert 50 latency; sleep 0.1; done
until [ "$(psql -qtA "$url" -c "SELECT count(*) FROM jobs WHERE kind = 'drill.noop' AND state <> 'completed'")" = 0 ]; do
  sleep 0.2
done
psql -qtA "$url" -c "SELECT 'enqueue-to-start latency (500 jobs/s offered): p50 ' ||
  round(1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at))::numeric, 1)
  || ' ms, p99 ' ||
  round(1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at))::numeric, 1)
  || ' ms' FROM jobs WHERE args->>'tag' = 'latency'"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
