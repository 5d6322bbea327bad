#!/usr/bin/env bash
# Job runner throughput, enqueue-to-start latency and Postgres dead tuples with 1 or 2 instances, using the
# no-op drill kind (compiled in with `--features chaos`; a plain release build does not have it).
#   export GANTRY_TEST_POSTGRES_URL=… GANTRY_TEST_REDIS_URL=… GANTRY_TEST_AMQP_URL=… GANTRY_TEST_S3_ENDPOINT=…
#     GANTRY_TEST_S3_ACCESS_KEY_ID=… GANTRY_TEST_S3_SECRET_ACCESS_KEY=…   # as .ci/run exports them (production profile)
#   bench/jobs.sh [instances=1] [jobs=50000] [concurrency=64]
#   RATE=1000 LATENCY_SECS=10 SOAK_SECS=300 bench/jobs.sh 2     # the issue's runs (SOAK_SECS=0 skips the soak)
# Throughput: `jobs` rows inserted in one statement while the instances run (with `fair_at` set as an enqueue
# sets it; `FAIR_AT=0` leaves it NULL, as a hand-written insert would); jobs/s = jobs / (last finish -
# first start). Soak (SOAK_SECS > 0): the queue is kept fed (20,000 rows at a time whenever fewer than 20,000
# wait) for that long; jobs/s over the soak. Latency: `examples/jobs_enqueue` enqueues RATE jobs/s for
# LATENCY_SECS, open loop, through the job store with the runners' wake-up attached — the same path an
# instance's own enqueues take, minus the in-process nudge: every start it causes is woken over the bus
# (RabbitMQ), the harder path. p50/p99/max of started_at - created_at of those jobs (both stamped by this
# machine's clock). The latency run is a steady state, not the bulk run's aftermath: it starts once autovacuum
# has taken `jobs`' dead versions below its trigger (up to 120 s; SETTLE=0 starts at once), and its first
# WARMUP_SECS (default 2) at the same rate are tagged `warmup` and not counted (the generator's first
# connections and the runners' first wake-ups). Dead tuples: n_dead_tup of `jobs` and `job_attempts` (pg_stat_user_tables) sampled every
# second throughout; max and last reported.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1}; total=${2:-50000}; conc=${3:-64}
rate=${RATE:-1000}; latency_secs=${LATENCY_SECS:-10}; soak_secs=${SOAK_SECS:-0}; warmup_secs=${WARMUP_SECS:-2}
: "${GANTRY_TEST_POSTGRES_URL:?export the GANTRY_TEST_* backend variables first (see .ci/run)}"
target=${CARGO_TARGET_DIR:-target}
bin=${BENCH_BIN:-$target/release/gantry}
enqueuer=${BENCH_ENQUEUER:-$target/release/examples/jobs_enqueue}
[ "${SKIP_BUILD:-0}" = 1 ] ||
  cargo build --release --features chaos --bin gantry --example jobs_enqueue >/dev/null 2>&1
db="bench_jobs_$$"
psql -q "$GANTRY_TEST_POSTGRES_URL" -c "CREATE DATABASE $db"
url="${GANTRY_TEST_POSTGRES_URL%/*}/$db"
samples="/tmp/bench-jobs-$$-dead.tsv"
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 1; rm -f /tmp/bench-jobs-$$-*; [ "${KEEP_DB:-0}" = 1 ] || psql -q "$GANTRY_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
# The production settings every process of the run shares (the instances and the enqueuer).
common=(GANTRY_PROFILE=production GANTRY_DATABASE_URL="$url" GANTRY_REDIS_URL="$GANTRY_TEST_REDIS_URL"
  GANTRY_AMQP_URL="$GANTRY_TEST_AMQP_URL" GANTRY_S3_ENDPOINT="$GANTRY_TEST_S3_ENDPOINT"
  GANTRY_S3_BUCKET="bench-jobs-$$" GANTRY_BUS__EXCHANGE="bench.jobs.$$" GANTRY_LOG=warn)
for i in $(seq "$n"); do
  env "${common[@]}" S3_ACCESS_KEY_ID="$GANTRY_TEST_S3_ACCESS_KEY_ID" \
    S3_SECRET_ACCESS_KEY="$GANTRY_TEST_S3_SECRET_ACCESS_KEY" \
    JWT_SECRET=Vb7Nq2Lx9Rt4Kw8Mz3Hc6Jp1Df5Gs0Ya UPLOAD_GUEST_TOKEN_SECRET=Zt5Kp2Wq9Lx7Mv3Bn8Rc4Hd6Jf1Gs0Ya \
    GANTRY_ADMIN_TOKEN=Hn4Bv7Cx2Zl9Kj5Mg8Df3Sa6Qw1Er0Ty GANTRY_HTTP_ADDR=127.0.0.1:$((18700 + i)) \
    GANTRY_ADMIN_ADDR=127.0.0.1:$((19700 + i)) GANTRY_JOBS__DEFAULT_CONCURRENCY="$conc" \
    GANTRY_DATABASE__MAX_CONNECTIONS=$((conc / 4 + 4)) "$bin" 2>"/tmp/bench-jobs-$$-$i.log" &
done
for i in $(seq "$n"); do
  for _ in $(seq 200); do curl -sf "127.0.0.1:$((18700 + i))/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf "127.0.0.1:$((18700 + i))/healthz" >/dev/null || { cat "/tmp/bench-jobs-$$-$i.log"; exit 1; }
done
# Dead tuples, every second until the run ends: epoch, table, n_dead_tup, n_live_tup, autovacuum_count.
(while sleep 1; do
  psql -qtA -F $'\t' "$url" -c "SELECT extract(epoch FROM now())::int, relname, n_dead_tup, n_live_tup,
    autovacuum_count FROM pg_stat_user_tables WHERE relname IN ('jobs', 'job_attempts')" >>"$samples" 2>/dev/null
done) &
fair_at=t; [ "${FAIR_AT:-1}" = 0 ] && fair_at=NULL
insert() { # count tag — rows as the job store enqueues them: due now, their fair place their due time (no owner)
  psql -q "$url" -c "INSERT INTO jobs (id, kind, state, created_at, updated_at, queue, args, max_attempts, run_at,
    fair_at) SELECT gen_random_uuid(), 'drill.noop', 'available', t, t, 'default', '{\"tag\": \"$2\"}'::jsonb, 1, t,
    $fair_at FROM (SELECT clock_timestamp() AS t FROM generate_series(1, $1)) AS due"
}
waiting() { psql -qtA "$url" -c "SELECT count(*) FROM jobs WHERE kind = 'drill.noop' AND state <> 'completed'"; }
# Polled once a second: each poll is a psql process, a Postgres backend and a scan, taken from the run measured.
drain() { until [ "$(waiting)" = 0 ]; do sleep 1; done; }
rate_of() { # tag label
  psql -qtA "$url" -c "SELECT count(*) || ' jobs, ' || $n || ' instance(s), concurrency $conc, $2: ' ||
    round(count(*) / extract(epoch FROM max(finished_at) - min(started_at))) || ' jobs/s'
    FROM jobs WHERE args->>'tag' = '$1'"
}
insert "$total" bulk
drain
rate_of bulk throughput
if [ "$soak_secs" -gt 0 ]; then
  end=$((SECONDS + soak_secs))
  while [ "$SECONDS" -lt "$end" ]; do
    [ "$(waiting)" -lt 20000 ] && insert 20000 soak
    sleep 0.5
  done
  drain
  rate_of soak "soak of ${soak_secs}s"
fi
if [ "${SETTLE:-1}" = 1 ]; then
  # Autovacuum's trigger for `jobs` (migration 0024): 1,000 dead versions + 2 % of the live rows.
  settled() { psql -qtA "$url" -c "SELECT n_dead_tup < 1000 + 0.02 * n_live_tup FROM pg_stat_user_tables
    WHERE relname = 'jobs'"; }
  waited=0
  until [ "$(settled)" = t ] || [ "$waited" -ge 120 ]; do sleep 1; waited=$((waited + 1)); done
  echo "settled after ${waited}s: $(psql -qtA "$url" -c "SELECT n_dead_tup || ' dead, ' || n_live_tup || ' live, ' ||
    autovacuum_count || ' autovacuums' FROM pg_stat_user_tables WHERE relname = 'jobs'")"
fi
env "${common[@]}" WARMUP_SECS="$warmup_secs" "$enqueuer" "$rate" "$latency_secs" latency
drain
psql -qtA "$url" -c "SELECT 'enqueue-to-start latency ($rate jobs/s offered through the store + wake-up, poll ' ||
  '100 ms as the fallback): p50 ' ||
  round(1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at))::numeric, 1)
  || ' ms, p99 ' ||
  round(1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at))::numeric, 1)
  || ' ms, max ' || round(1000 * max(extract(epoch FROM started_at - created_at))::numeric, 1) || ' ms'
  FROM jobs WHERE args->>'tag' = 'latency'"
psql -qtA "$url" -c "SELECT 'p99 per second of enqueue (ms): ' || string_agg(p99::text, ' ' ORDER BY second)
  FROM (SELECT date_trunc('second', created_at) AS second, round(1000 * percentile_cont(0.99) WITHIN GROUP
    (ORDER BY extract(epoch FROM started_at - created_at))::numeric, 1) AS p99
    FROM jobs WHERE args->>'tag' = 'latency' GROUP BY 1) AS by_second"
sleep 1
awk -F '\t' 'NF == 5 { if ($3 > max[$2]) max[$2] = $3; last[$2] = $3; live[$2] = $4; vac[$2] = $5 }
  END { for (t in max) printf "dead tuples %s: max %d, last %d (live %d, autovacuums %d)\n", t, max[t], last[t], live[t], vac[t] }' \
  "$samples"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
