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
