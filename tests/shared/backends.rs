//! Shared helpers of the backend and conformance suites (included by both with `#[path]`): the loud skip of a
//! suite whose service is not configured, a fresh Postgres database per test, a fresh S3 bucket's settings and
//! the keys and bodies object store tests write.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use gantry::adapters::s3::S3Settings;
use gantry_actors::ports::objects::{ByteStream, ObjectKey};
use secrecy::SecretString;
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

/// The value of `var`, or `None` after announcing loudly that `suite` is skipped. With
/// `GANTRY_REQUIRE_BACKENDS=1` a missing variable is a failure instead: CI must not skip silently.
pub fn backend_env(var: &str, suite: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("GANTRY_REQUIRE_BACKENDS").as_deref() != Ok("1"),
                "backend suite `{suite}` is required (GANTRY_REQUIRE_BACKENDS=1) but {var} is not set"
            );
            // Written to stderr directly, not with eprintln!, so the test harness does not capture it: a
            // skipped suite must be visible in every run.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED backend suite `{suite}`: set {var} to run it");
            None
        }
    }
}

/// `url` with its database name replaced by `database` (query parameters kept).
pub fn with_database(url: &str, database: &str) -> String {
    let (main, query) = url.split_once('?').map_or((url, None), |(m, q)| (m, Some(q)));
    let authority_start = main.find("://").map_or(0, |i| i + 3);
    let base = match main[authority_start..].find('/') {
        Some(slash) => &main[..authority_start + slash],
        None => main,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// Runs `test` against a fresh, empty database, then drops that database `WITH (FORCE)` (closing whatever
/// connections the test left open) and re-raises the test's panic, if any. Skips when the variable is unset.
pub async fn with_fresh_database<F, Fut>(test: F)
where
    F: FnOnce(SecretString) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(base_url) = backend_env("GANTRY_TEST_POSTGRES_URL", "postgres") else {
        return;
    };
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&base_url)
        .await
        .expect("connect to GANTRY_TEST_POSTGRES_URL");
    // A generated name of [a-z0-9_] only: safe to splice into the statement.
    let name = format!("gantry_test_{}", Uuid::new_v4().simple());
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("create the test database");

    let url = SecretString::from(with_database(&base_url, &name));
    let outcome = AssertUnwindSafe(test(url)).catch_unwind().await;

    sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&admin)
        .await
        .expect("drop the test database");
    admin.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Settings for a fresh bucket (created on connect) on the test S3 server with `part_size`, or `None` after
/// announcing loudly that `suite` is skipped.
pub fn s3_settings(suite: &str, part_size: usize) -> Option<S3Settings> {
    let endpoint = backend_env("GANTRY_TEST_S3_ENDPOINT", suite)?;
    let access_key_id = backend_env("GANTRY_TEST_S3_ACCESS_KEY_ID", suite)?;
    let secret = backend_env("GANTRY_TEST_S3_SECRET_ACCESS_KEY", suite)?;
    Some(S3Settings {
        endpoint,
        bucket: format!("gantry-test-{}", Uuid::new_v4().simple()),
        region: "us-east-1".to_owned(),
        access_key_id,
        secret_access_key: SecretString::from(secret),
        part_size,
        create_bucket: true,
    })
}

/// The object key `s`, which the test knows to be valid.
pub fn key(s: &str) -> ObjectKey {
    ObjectKey::parse(s).expect("valid test key")
}

/// Deterministic, non-repeating-looking bytes.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| u8::try_from((i * 31 + i / 7) % 256).expect("below 256")).collect()
}

/// `data` as a body of `chunk`-sized pieces.
pub fn body(data: &[u8], chunk: usize) -> ByteStream {
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        data.chunks(chunk).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    Box::pin(futures::stream::iter(chunks))
}
