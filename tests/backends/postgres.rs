//! The Postgres `JobStore`, `AccountStore`, `UploadStore` and `CatalogStore` against a real server
//! (`GANTRY_TEST_POSTGRES_URL`). Each test
//! runs in its own database, created for it and dropped afterwards (even when the test fails), so tests can
//! run in parallel.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use gantry::adapters::postgres::{DbError, PostgresDb};
use gantry_actors::catalog::OptionKind;
use gantry_actors::catalog::names::normalize;
use gantry_actors::catalog::seed::{OPTIONS, SeedReport, seed};
use gantry_actors::ports::accounts::{AccountStore, AccountStoreError, RevocationNotice, RevocationScope, User};
use gantry_actors::ports::catalog::{CatalogOption, CatalogStore, Created};
use gantry_actors::ports::jobs::{Job, JobState, JobStore, JobStoreError, JobUpdate};
use gantry_actors::ports::uploads::{UploadRecord, UploadStatus, UploadStore};
use secrecy::SecretString;
use serde_json::json;
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPoolOptions;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::support::backend_env;

/// `url` with its database name replaced by `database` (query parameters kept).
fn with_database(url: &str, database: &str) -> String {
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
pub(crate) async fn with_fresh_database<F, Fut>(test: F)
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

/// Timestamps as Postgres keeps them (microseconds), for comparing a created job with its stored copy.
fn stored(mut job: Job) -> Job {
    let truncate = |t: OffsetDateTime| {
        t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).expect("a truncated nanosecond is in range")
    };
    job.created_at = truncate(job.created_at);
    job.updated_at = truncate(job.updated_at);
    job
}

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
        // Every file in migrations/postgres, once each, in order, all successful.
        let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
            .expect("migrations folder")
            .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql")))
            .count();
        let expected: Vec<(i64, bool)> = (1..=i64::try_from(files).expect("few")).map(|v| (v, true)).collect();
        assert_eq!(applied, expected);
        db.health().await.expect("healthy");
        assert_eq!(db.backend(), "postgres");
        let jobs: i64 =
            sqlx::query_scalar("SELECT count(*) FROM jobs").fetch_one(db.pool()).await.expect("jobs table exists");
        assert_eq!(jobs, 0);
    })
    .await;
}

/// A job reads back as created (JSON included), and each update replaces exactly its `Some` fields and bumps
/// `updated_at`.
#[tokio::test]
async fn job_round_trip_keeps_json_and_applies_only_some_fields() {
    with_fresh_database(|url| async move {
        let db = PostgresDb::connect(&url, 2).await.expect("connect");
        let job = Job::new("sessions.revoke_all", Some("user-1".to_owned()));

        db.create(&job).await.expect("create");
        let fetched = db.get(job.id).await.expect("get").expect("job exists");
        assert_eq!(fetched, stored(job.clone()));

        let progress = json!({"step": "revoking", "done": 3, "of": [1, 2.5, null]});
        let running = db
            .update(
                job.id,
                JobUpdate { state: Some(JobState::Running), progress: Some(progress.clone()), ..JobUpdate::default() },
            )
            .await
            .expect("update to running");
        assert_eq!(running.state, JobState::Running);
        assert_eq!(running.progress, progress);
        assert!(running.updated_at >= fetched.updated_at);

        let result = json!({"revoked": 42, "note": "naïve ✓"});
        let done = db
            .update(
                job.id,
                JobUpdate { state: Some(JobState::Succeeded), result: Some(result.clone()), ..JobUpdate::default() },
            )
            .await
            .expect("update to succeeded");
        assert_eq!(done.progress, progress, "progress was not part of the update");
        assert_eq!(done.result, Some(result));
        assert_eq!(done.error, None);
        assert_eq!(done.owner, job.owner);
        assert_eq!(done.created_at, fetched.created_at);
        assert_eq!(db.get(job.id).await.expect("get").as_ref(), Some(&done));
        assert!(db.get(Uuid::now_v7()).await.expect("get").is_none());
    })
    .await;
}

/// Two tasks updating different fields of one job at the same time both land: the final row holds the last
/// progress of one and the last result of the other (no lost update).
#[tokio::test]
async fn concurrent_updates_from_two_tasks_both_land() {
    with_fresh_database(|url| async move {
        let db = Arc::new(PostgresDb::connect(&url, 4).await.expect("connect"));
        let job = Job::new("upload", None);
        db.create(&job).await.expect("create");
        let id = job.id;
        const ROUNDS: i64 = 25;

        let progress_writer = {
            let db = Arc::clone(&db);
            tokio::spawn(async move {
                for i in 0..ROUNDS {
                    let update = JobUpdate {
                        state: Some(JobState::Running),
                        progress: Some(json!({"part": i})),
                        ..JobUpdate::default()
                    };
                    db.update(id, update).await.expect("progress update");
                }
            })
        };
        let result_writer = {
            let db = Arc::clone(&db);
            tokio::spawn(async move {
                for i in 0..ROUNDS {
                    let update = JobUpdate { result: Some(json!({"checksum": i})), ..JobUpdate::default() };
                    db.update(id, update).await.expect("result update");
                }
            })
        };
        progress_writer.await.expect("progress task");
        result_writer.await.expect("result task");

        let last = ROUNDS - 1;
        let stored = db.get(id).await.expect("get").expect("job exists");
        assert_eq!(stored.state, JobState::Running);
        assert_eq!(stored.progress, json!({"part": last}));
        assert_eq!(stored.result, Some(json!({"checksum": last})));
        assert!(stored.updated_at > stored.created_at);
    })
    .await;
}

/// Updating an id that was never created is `NotFound` and creates nothing.
#[tokio::test]
async fn update_of_unknown_id_is_not_found() {
    with_fresh_database(|url| async move {
        let db = PostgresDb::connect(&url, 2).await.expect("connect");
        let id = Uuid::now_v7();

        let err = db
            .update(
                id,
                JobUpdate { state: Some(JobState::Failed), error: Some("boom".to_owned()), ..JobUpdate::default() },
            )
            .await
            .expect_err("unknown id");

        assert!(matches!(err, JobStoreError::NotFound(missing) if missing == id));
        assert!(db.get(id).await.expect("get").is_none());
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

/// A user with this email, created now.
fn user(email: &str) -> User {
    User {
        id: Uuid::now_v7(),
        email: email.to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        created_at: OffsetDateTime::now_utc(),
    }
}

/// A user reads back by email and id; registering the same email again is `EmailTaken` (the unique
/// constraint, SQLSTATE 23505), and deleting frees the email.
#[tokio::test]
async fn duplicate_email_is_email_taken() {
    with_fresh_database(|url| async move {
        let db = PostgresDb::connect(&url, 2).await.expect("connect");
        let alice = user("alice@example.com");

        db.create_user(&alice).await.expect("create");
        let err = db.create_user(&user("alice@example.com")).await.expect_err("same email");

        assert!(matches!(err, AccountStoreError::EmailTaken), "{err:?}");
        let stored = db.user_by_email("alice@example.com").await.expect("by email").expect("exists");
        assert_eq!(stored.id, alice.id);
        assert_eq!(stored.password_hash, alice.password_hash);
        assert_eq!(stored.created_at.unix_timestamp_nanos() / 1_000, alice.created_at.unix_timestamp_nanos() / 1_000);
        assert_eq!(db.user_by_id(alice.id).await.expect("by id"), Some(stored));
        db.delete_user(alice.id).await.expect("delete");
        db.delete_user(alice.id).await.expect("deleting an absent user");
        assert!(db.user_by_id(alice.id).await.expect("by id").is_none());
        db.create_user(&user("alice@example.com")).await.expect("the email is free again");
    })
    .await;
}

/// Two tasks raising the same epochs at the same time, each with its own rising sequence, never see the
/// epoch go down: every call returns at least its own value and at least what that task saw before, and the
/// final epochs are the highest values sent.
#[tokio::test]
async fn concurrent_epoch_raises_never_lower_it() {
    with_fresh_database(|url| async move {
        let db = Arc::new(PostgresDb::connect(&url, 4).await.expect("connect"));
        let alice = Uuid::now_v7();
        const ROUNDS: i64 = 40;

        let raiser = |offset: i64, user: Option<Uuid>| {
            let db = Arc::clone(&db);
            tokio::spawn(async move {
                let mut seen = 0;
                for i in 0..ROUNDS {
                    let value = 1_000 * i + offset;
                    let stored = db.raise_epoch(user, value).await.expect("raise");
                    assert!(stored >= value && stored >= seen, "{stored} < {value} or < {seen}");
                    seen = stored;
                }
            })
        };
        let tasks = [raiser(1, None), raiser(2, None), raiser(1, Some(alice)), raiser(2, Some(alice))];
        for task in tasks {
            task.await.expect("raising task");
        }

        let highest = 1_000 * (ROUNDS - 1) + 2;
        let epochs = db.epochs().await.expect("epochs");
        assert_eq!(epochs.global_ms, highest);
        assert_eq!(epochs.users.get(&alice), Some(&highest));
        assert_eq!(epochs.users.len(), 1);
        assert_eq!(db.raise_epoch(None, 5).await.expect("lower"), highest, "a lower value keeps the higher");
    })
    .await;
}

/// Notices come back newest first and limited, with every field kept; a count filled in later shows up.
#[tokio::test]
async fn revocation_notices_come_newest_first_with_filled_in_counts() {
    with_fresh_database(|url| async move {
        let db = PostgresDb::connect(&url, 2).await.expect("connect");
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("valid instant");
        let notice = |i: i64, scope: RevocationScope| RevocationNotice {
            id: Uuid::now_v7(),
            scope,
            user_id: (scope == RevocationScope::User).then(Uuid::now_v7),
            reason: format!("incident {i} — naïve ✓"),
            requested_by: "admin".to_owned(),
            not_before_ms: 1_800_000_000_000 + i,
            active_sessions: None,
            created_at: start + time::Duration::seconds(i),
        };
        let (first, second, third) =
            (notice(1, RevocationScope::All), notice(2, RevocationScope::User), notice(3, RevocationScope::All));
        for n in [&second, &third, &first] {
            db.record_revocation(n).await.expect("record");
        }

        db.set_revocation_count(second.id, 7).await.expect("count");
        let newest = db.revocations(2).await.expect("list");

        let mut counted = second.clone();
        counted.active_sessions = Some(7);
        assert_eq!(newest, vec![third, counted]);
        let all = db.revocations(10).await.expect("list");
        assert_eq!(all.len(), 3);
        assert_eq!(all[2], first);
    })
    .await;
}

/// A fresh upload of `owner`, still receiving, started at a whole second (so it reads back unchanged).
fn upload(owner: &str) -> UploadRecord {
    let id = Uuid::now_v7();
    UploadRecord {
        id,
        owner: owner.to_owned(),
        object_key: format!("uploads/{}", id.hyphenated()),
        filename: Some("Bagger «CAT 320» naïve ✓.pdf".to_owned()),
        content_type: "application/octet-stream".to_owned(),
        size: 0,
        sha256: String::new(),
        status: UploadStatus::Receiving,
        error: None,
        created_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("valid instant"),
    }
}

/// An upload reads back as created; an update replaces status, size (beyond 32 bits), digest and error but
/// keeps the owner, object key and start time; a deleted upload is gone, and deleting it again is fine.
#[tokio::test]
async fn upload_create_get_update_delete_round_trip() {
    with_fresh_database(|url| async move {
        let db = PostgresDb::connect(&url, 2).await.expect("connect");
        let receiving = upload("user:0190f0c8-0000-7000-8000-000000000001");
        let other = upload("guest:t1");
        db.create_upload(&receiving).await.expect("create");
        db.create_upload(&other).await.expect("create another");
        assert_eq!(db.get_upload(receiving.id).await.expect("get"), Some(receiving.clone()));

        let stored = UploadRecord {
            content_type: "application/pdf".to_owned(),
            size: 5_000_000_000,
            sha256: "ab".repeat(32),
            status: UploadStatus::Stored,
            ..receiving.clone()
        };
        let moved = UploadRecord { owner: "guest:someone-else".to_owned(), ..stored.clone() };
        db.update_upload(&moved).await.expect("update");
        assert_eq!(db.get_upload(receiving.id).await.expect("get"), Some(stored.clone()), "the owner is fixed");

        let failed = UploadRecord { status: UploadStatus::Failed, error: Some("too_large".to_owned()), ..stored };
        db.update_upload(&failed).await.expect("update to failed");
        assert_eq!(db.get_upload(receiving.id).await.expect("get"), Some(failed));

        db.delete_upload(receiving.id).await.expect("delete");
        db.delete_upload(receiving.id).await.expect("deleting an absent upload");
        assert!(db.get_upload(receiving.id).await.expect("get").is_none());
        assert_eq!(db.get_upload(other.id).await.expect("get"), Some(other), "only that upload was deleted");
    })
    .await;
}

/// An upload that was never created is `None`, not an error, and updating it creates nothing.
#[tokio::test]
async fn get_of_unknown_upload_is_none() {
    with_fresh_database(|url| async move {
        let db = PostgresDb::connect(&url, 2).await.expect("connect");
        let never = upload("guest:t2");

        db.update_upload(&never).await.expect("updating an unknown id");

        assert!(db.get_upload(never.id).await.expect("get").is_none());
    })
    .await;
}

/// Only uploads still receiving that started strictly before the cut-off are stale (down to the microsecond);
/// they come oldest first, whatever the insertion order, and at most `limit` of them.
#[tokio::test]
async fn stale_uploads_are_old_receiving_ones_oldest_first_and_limited() {
    with_fresh_database(|url| async move {
        let db = PostgresDb::connect(&url, 2).await.expect("connect");
        let cutoff = OffsetDateTime::from_unix_timestamp(1_800_000_100).expect("valid instant");
        let started = |before_cutoff: time::Duration, status: UploadStatus| UploadRecord {
            status,
            created_at: cutoff - before_cutoff,
            ..upload("guest:t3")
        };
        let oldest = started(time::Duration::hours(30), UploadStatus::Receiving);
        let older = started(time::Duration::seconds(50), UploadStatus::Receiving);
        let just_before = started(time::Duration::microseconds(1), UploadStatus::Receiving);
        let at_cutoff = started(time::Duration::ZERO, UploadStatus::Receiving);
        let newer = started(-time::Duration::seconds(5), UploadStatus::Receiving);
        let stored = started(time::Duration::hours(40), UploadStatus::Stored);
        let failed = started(time::Duration::hours(40), UploadStatus::Failed);
        for u in [&just_before, &stored, &newer, &oldest, &failed, &at_cutoff, &older] {
            db.create_upload(u).await.expect("create");
        }

        let all = db.stale_uploads(cutoff, 10).await.expect("stale");
        let first_two = db.stale_uploads(cutoff, 2).await.expect("stale");

        assert_eq!(all, vec![oldest.clone(), older.clone(), just_before]);
        assert_eq!(first_two, vec![oldest, older]);
        assert!(db.stale_uploads(cutoff, 0).await.expect("stale").is_empty());
    })
    .await;
}

/// An owner's count takes in its uploads still receiving and those stored, but not failed ones nor other owners'
/// uploads; an upload that fails later stops counting, and an owner with no uploads counts zero.
#[tokio::test]
async fn count_uploads_counts_the_owners_receiving_and_stored_only() {
    with_fresh_database(|url| async move {
        let db = PostgresDb::connect(&url, 2).await.expect("connect");
        let with_status = |owner: &str, status: UploadStatus| UploadRecord { status, ..upload(owner) };
        let receiving = with_status("guest:t4", UploadStatus::Receiving);
        let stored = with_status("guest:t4", UploadStatus::Stored);
        let failed = with_status("guest:t4", UploadStatus::Failed);
        let others = with_status("guest:t5", UploadStatus::Stored);
        for u in [&receiving, &stored, &failed, &others] {
            db.create_upload(u).await.expect("create");
        }

        let before = db.count_uploads("guest:t4").await.expect("count");
        db.update_upload(&UploadRecord { status: UploadStatus::Failed, ..receiving }).await.expect("fail one");
        let after = db.count_uploads("guest:t4").await.expect("count");

        assert_eq!(before, 2);
        assert_eq!(after, 1, "an upload that failed no longer counts");
        assert_eq!(db.count_uploads("guest:t5").await.expect("count"), 1);
        assert_eq!(db.count_uploads("guest:nobody").await.expect("count"), 0);
    })
    .await;
}

/// A catalog option named `name`, normalised as the caller does, created at a whole second (so it reads back
/// unchanged); categories have an engine.
fn catalog_option(kind: OptionKind, parent: Option<&CatalogOption>, name: &str) -> CatalogOption {
    let name = normalize(name).expect("valid name");
    CatalogOption {
        id: Uuid::now_v7(),
        kind,
        parent_id: parent.map(|p| p.id),
        name: name.display,
        name_key: name.key,
        search_key: name.search,
        has_engine: kind == OptionKind::Category,
        created_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("valid instant"),
    }
}

/// Creating a name that is already there (in another spelling) returns the stored option with `created = false`
/// and leaves the version alone; a new name raises it by one.
#[tokio::test]
async fn create_option_twice_returns_the_first_and_keeps_the_version() {
    with_fresh_database(|url| async move {
        let db = PostgresDb::connect(&url, 2).await.expect("connect");
        assert_eq!(db.catalog_version().await.expect("version"), 0);
        let volvo = catalog_option(OptionKind::Brand, None, "Volvo");

        let first = db.create_option(&volvo).await.expect("create");
        let again = db.create_option(&catalog_option(OptionKind::Brand, None, "  VOLVO ")).await.expect("again");

        assert_eq!(first, Created { option: volvo.clone(), created: true, version: 1 });
        assert_eq!(again, Created { option: volvo.clone(), created: false, version: 1 });
        assert_eq!(db.catalog_version().await.expect("version"), 1);
        assert_eq!(db.get_option(volvo.id).await.expect("get"), Some(volvo.clone()));
        assert_eq!(db.list_options(OptionKind::Brand, None).await.expect("list"), vec![volvo]);
        let scania = db.create_option(&catalog_option(OptionKind::Brand, None, "Scania")).await.expect("create");
        assert!(scania.created);
        assert_eq!(scania.version, 2);
        assert!(db.get_option(Uuid::now_v7()).await.expect("get").is_none());
    })
    .await;
}

/// Options list in search-key order (case and accents ignored, ties broken by id; byte order whatever the
/// database's locale, as on SQLite), only those of the kind under the given parent; `None` lists only options
/// without a parent.
#[tokio::test]
async fn list_options_orders_by_search_key_and_filters_by_kind_and_parent() {
    with_fresh_database(|url| async move {
        let db = PostgresDb::connect(&url, 2).await.expect("connect");
        let germany = catalog_option(OptionKind::Country, None, "Germany");
        let poland = catalog_option(OptionKind::Country, None, "Poland");
        for country in [&poland, &germany] {
            db.create_option(country).await.expect("create country");
        }
        let german: Vec<CatalogOption> = ["München", "zwickau", "Baden-Baden", "Köln", "Berlin", "Kiel", "Bad Tölz"]
            .iter()
            .map(|n| catalog_option(OptionKind::City, Some(&germany), n))
            .collect();
        let polish = [catalog_option(OptionKind::City, Some(&poland), "Łódź")];
        // "Škoda" and "Skoda" are two names (two keys) with one search key: the older id comes first.
        let brands: Vec<CatalogOption> =
            ["Škoda", "Skoda", "Scania"].iter().map(|n| catalog_option(OptionKind::Brand, None, n)).collect();
        for option in german.iter().chain(&polish).chain(&brands) {
            assert!(db.create_option(option).await.expect("create").created);
        }

        let german_cities = db.list_options(OptionKind::City, Some(germany.id)).await.expect("list");
        let countries = db.list_options(OptionKind::Country, None).await.expect("list");
        let listed_brands = db.list_options(OptionKind::Brand, None).await.expect("list");

        let names = |options: &[CatalogOption]| options.iter().map(|o| o.name.clone()).collect::<Vec<_>>();
        // glibc locales such as en_US.UTF-8 skip spaces and hyphens at first ("badtolz" > "badenbaden"); the
        // column's byte order, as in SQLite, puts the space first whatever the server's locale.
        assert_eq!(names(&german_cities), ["Bad Tölz", "Baden-Baden", "Berlin", "Kiel", "Köln", "München", "zwickau"]);
        assert_eq!(countries, vec![germany.clone(), poland.clone()]);
        assert_eq!(listed_brands, vec![brands[2].clone(), brands[0].clone(), brands[1].clone()]);
        assert_eq!(db.list_options(OptionKind::City, Some(poland.id)).await.expect("list"), polish);
        assert!(db.list_options(OptionKind::City, None).await.expect("list").is_empty(), "cities have parents");
        assert!(db.list_options(OptionKind::Country, Some(germany.id)).await.expect("list").is_empty());
        assert_eq!(db.catalog_version().await.expect("version"), 13);
    })
    .await;
}

/// One name under two parents, or as another kind, is three options; a repeat under one parent is not; an
/// unknown parent or a parent on a top-level kind is refused and leaves the version alone.
#[tokio::test]
async fn same_name_under_another_parent_or_kind_is_another_option() {
    with_fresh_database(|url| async move {
        let db = PostgresDb::connect(&url, 2).await.expect("connect");
        let trucks = catalog_option(OptionKind::Category, None, "Trucks");
        let trailers = catalog_option(OptionKind::Category, None, "Trailers");
        let under_trucks = catalog_option(OptionKind::Subcategory, Some(&trucks), "Tippers");
        let under_trailers = catalog_option(OptionKind::Subcategory, Some(&trailers), "Tippers");
        let top_level = catalog_option(OptionKind::Category, None, "Tippers");
        for option in [&trucks, &trailers, &under_trucks, &under_trailers, &top_level] {
            assert!(db.create_option(option).await.expect("create").created, "{option:?}");
        }

        let repeat =
            db.create_option(&catalog_option(OptionKind::Subcategory, Some(&trucks), "tippers")).await.expect("repeat");
        let phantom = catalog_option(OptionKind::Category, None, "Never stored");
        let orphan = db.create_option(&catalog_option(OptionKind::Subcategory, Some(&phantom), "Orphans")).await;
        let misplaced = db.create_option(&catalog_option(OptionKind::Brand, Some(&trucks), "Volvo")).await;

        assert_eq!(repeat, Created { option: under_trucks.clone(), created: false, version: 5 });
        assert!(orphan.is_err(), "{orphan:?}");
        assert!(misplaced.is_err(), "{misplaced:?}");
        assert_eq!(db.catalog_version().await.expect("version"), 5);
        assert_eq!(db.list_options(OptionKind::Subcategory, Some(trailers.id)).await.expect("list"), [under_trailers]);
        let categories = db.list_options(OptionKind::Category, None).await.expect("list");
        assert_eq!(categories, vec![top_level, trailers, trucks]);
    })
    .await;
}

/// Twenty tasks creating one name at once, each in its own spelling (normalised as the caller does), store one
/// row and raise the version once: exactly one of them created it, and all of them get that row back.
#[tokio::test]
async fn concurrent_creates_of_one_name_store_one_row_and_raise_the_version_once() {
    with_fresh_database(|url| async move {
        let db = Arc::new(PostgresDb::connect(&url, 20).await.expect("connect"));
        const TASKS: usize = 20;
        let spellings = ["Mercedes-Benz", " mercedes-benz", "MERCEDES-BENZ ", "Mercedes-benz", "mErCeDeS-bEnZ"];
        let start = Arc::new(tokio::sync::Barrier::new(TASKS));

        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                let (db, start) = (Arc::clone(&db), Arc::clone(&start));
                let option = catalog_option(OptionKind::Brand, None, spellings[i % spellings.len()]);
                tokio::spawn(async move {
                    start.wait().await;
                    db.create_option(&option).await.expect("create")
                })
            })
            .collect();
        let mut outcomes = Vec::with_capacity(TASKS);
        for task in tasks {
            outcomes.push(task.await.expect("creating task"));
        }

        let stored = db.list_options(OptionKind::Brand, None).await.expect("list");
        assert_eq!(stored.len(), 1, "{stored:?}");
        assert_eq!(outcomes.iter().filter(|o| o.created).count(), 1);
        assert!(outcomes.iter().all(|o| o.option == stored[0] && o.version == 1), "{outcomes:?}");
        assert_eq!(db.catalog_version().await.expect("version"), 1);
        assert_eq!(stored[0].name_key, "mercedes-benz");
    })
    .await;
}

/// Twenty tasks creating twenty different names at once each raise the version by exactly one: the versions
/// they get back are 1 to 20, each once.
#[tokio::test]
async fn concurrent_creates_of_different_names_each_raise_the_version_once() {
    with_fresh_database(|url| async move {
        let db = Arc::new(PostgresDb::connect(&url, 20).await.expect("connect"));
        const TASKS: u64 = 20;
        let start = Arc::new(tokio::sync::Barrier::new(TASKS as usize));

        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                let (db, start) = (Arc::clone(&db), Arc::clone(&start));
                let option = catalog_option(OptionKind::Country, None, &format!("Country {i}"));
                tokio::spawn(async move {
                    start.wait().await;
                    db.create_option(&option).await.expect("create")
                })
            })
            .collect();
        let mut versions = Vec::with_capacity(tasks.len());
        for task in tasks {
            let outcome = task.await.expect("creating task");
            assert!(outcome.created);
            versions.push(outcome.version);
        }

        versions.sort_unstable();
        assert_eq!(versions, (1..=TASKS).collect::<Vec<_>>());
        assert_eq!(db.catalog_version().await.expect("version"), TASKS);
        assert_eq!(db.list_options(OptionKind::Country, None).await.expect("list").len(), 20);
    })
    .await;
}

/// Seeding twice loads the starter catalog once: the second run finds every option, and the version counts
/// each option once.
#[tokio::test]
async fn seeding_twice_creates_nothing_the_second_time() {
    with_fresh_database(|url| async move {
        let db = PostgresDb::connect(&url, 2).await.expect("connect");

        let first = seed(&db).await.expect("first run");
        let second = seed(&db).await.expect("second run");

        assert_eq!(first, SeedReport { created: OPTIONS.len(), existing: 0 });
        assert_eq!(second, SeedReport { created: 0, existing: OPTIONS.len() });
        assert_eq!(db.catalog_version().await.expect("version"), OPTIONS.len() as u64);
        let categories = db.list_options(OptionKind::Category, None).await.expect("list");
        assert_eq!(categories.len(), OPTIONS.iter().filter(|o| o.kind == OptionKind::Category).count());
        let brands = db.list_options(OptionKind::Brand, None).await.expect("list");
        let volvo = brands.iter().find(|b| b.name == "Volvo").expect("Volvo");
        let models = db.list_options(OptionKind::Model, Some(volvo.id)).await.expect("list");
        assert_eq!(models.len(), OPTIONS.iter().filter(|o| o.parent == Some("Volvo")).count());
        assert!(models.iter().any(|m| m.name == "FH16"));
    })
    .await;
}
