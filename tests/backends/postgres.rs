//! Postgres-only behaviour against a real server (`GANTRY_TEST_POSTGRES_URL`): migrations on a fresh
//! database and a connect failure that reveals nothing. The port contracts run in `tests/conformance/`. Each
//! test runs in its own database, created for it and dropped afterwards.

use gantry::adapters::postgres::{DbError, PostgresDb};
use secrecy::SecretString;
use uuid::Uuid;

use crate::support::{backend_env, with_database, with_fresh_database};

/// Connecting migrates an empty database; migrating again (explicitly, or by a second connect) changes nothing
/// and records each migration exactly once.
#[tokio::test]
async fn migrations_apply_to_fresh_database_and_reapply_cleanly() {
    with_fresh_database(|url| async move {
        let db = PostgresDb::connect(&url, 2).await.expect("connect and migrate");
        db.migrate().await.expect("migrating twice is a no-op");
        let again = PostgresDb::connect(&url, 2).await.expect("second connect");

        let applied: Vec<(i64, bool)> =
            sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(again.pool())
                .await
                .expect("read migration table");
        // Every file in migrations/postgres, once each, in order, all successful (numbers are given out per
        // branch, so a gap while another branch's number is not merged yet is fine).
        let mut versions: Vec<i64> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
            .expect("migrations folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .filter_map(|p| p.file_name()?.to_str()?.split('_').next()?.parse().ok())
            .collect();
        versions.sort_unstable();
        let expected: Vec<(i64, bool)> = versions.into_iter().map(|v| (v, true)).collect();
        assert_eq!(applied, expected);
        let jobs_port = db.ports().jobs;
        jobs_port.health().await.expect("healthy");
        assert_eq!(jobs_port.backend(), "postgres");
        let jobs: i64 =
            sqlx::query_scalar("SELECT count(*) FROM jobs").fetch_one(db.pool()).await.expect("jobs table exists");
        assert_eq!(jobs, 0);
    })
    .await;
}

/// Connecting to a database that does not exist fails at start-up with a reason that quotes neither the URL
/// nor its password.
#[tokio::test]
async fn connect_failure_does_not_reveal_the_url() {
    let Some(base_url) = backend_env("GANTRY_TEST_POSTGRES_URL", "postgres") else {
        return;
    };
    let missing = format!("gantry_missing_{}", Uuid::new_v4().simple());
    let with_password =
        with_database(&base_url, &missing).replacen("://postgres@", "://postgres:hunter2-do-not-log@", 1);

    let err =
        PostgresDb::connect(&SecretString::from(with_password), 1).await.expect_err("the database does not exist");

    let text = err.to_string();
    assert!(matches!(err, DbError::Connect(_)), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains(&missing), "{text}");
    assert!(!text.contains("127.0.0.1"), "{text}");
}

/// The runner's claim (issue 24) stays a lookup by id as a cached generic plan, where its limit is a parameter
/// the planner cannot see (the plain `id IN (…)` form then joined against a scan of the whole table: tens of
/// milliseconds per claim at 100,000 jobs), and its relaxed commit (`synchronous_commit` off) ends with it:
/// the next statement on the same connection commits durably again.
#[tokio::test]
async fn the_claim_is_a_lookup_by_id_as_a_generic_plan_and_relaxes_only_its_own_commit() {
    use gantry::adapters::sql::jobs::JobsDialect;
    use gantry_actors::ports::jobs::LeaseHolder;
    use sqlx::AssertSqlSafe;

    with_fresh_database(|url| async move {
        let db = PostgresDb::connect(&url, 1).await.expect("connect and migrate");
        sqlx::query(
            "INSERT INTO jobs (id, kind, state, created_at, updated_at, queue, run_at, fair_at) \
             SELECT gen_random_uuid(), 'test.plan', 'available', now(), now(), 'default', now(), now() \
             FROM generate_series(1, 20000)",
        )
        .execute(db.pool())
        .await
        .expect("due jobs");
        sqlx::query("ANALYZE jobs").execute(db.pool()).await.expect("analyze");

        let mut conn = db.pool().acquire().await.expect("a connection");
        let prepare = format!("PREPARE claim AS {}", <PostgresDb as JobsDialect>::CLAIM);
        sqlx::raw_sql(AssertSqlSafe(prepare)).execute(&mut *conn).await.expect("prepare the claim");
        sqlx::raw_sql("SET plan_cache_mode = force_generic_plan").execute(&mut *conn).await.expect("generic plans");
        let plan: Vec<String> = sqlx::query_scalar(
            "EXPLAIN EXECUTE claim('default', gen_random_uuid(), now(), now() + interval '30 seconds', 10, \
             gen_random_uuid())",
        )
        .fetch_all(&mut *conn)
        .await
        .expect("explain");
        let plan = plan.join("\n");
        assert!(!plan.contains("Seq Scan"), "the claim scans the table:\n{plan}");
        assert!(plan.contains("jobs_pkey"), "the claimed rows are found by id:\n{plan}");
        sqlx::raw_sql("DEALLOCATE claim; RESET plan_cache_mode").execute(&mut *conn).await.expect("reset");
        drop(conn);

        let jobs = db.ports().jobs;
        let holder = LeaseHolder::new(Uuid::now_v7());
        let now = time::OffsetDateTime::now_utc();
        let claimed = jobs.claim("default", holder, 5, now, std::time::Duration::from_secs(30)).await.expect("claim");
        assert_eq!(claimed.len(), 5);
        // The pool has one connection: the claim's.
        let setting: String = sqlx::query_scalar("SHOW synchronous_commit").fetch_one(db.pool()).await.expect("show");
        assert_eq!(setting, "on", "the claim's relaxed commit outlived it");
    })
    .await;
}
