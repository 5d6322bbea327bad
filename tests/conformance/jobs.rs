//! The `JobStore` contract.

use std::sync::Arc;

use gantry_actors::ports::jobs::{Job, JobState, JobStore, JobStoreError, JobUpdate};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

/// Timestamps as both databases keep them (microseconds), for comparing a created job with its stored copy.
fn stored(mut job: Job) -> Job {
    let truncate = |t: OffsetDateTime| {
        t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).expect("a truncated nanosecond is in range")
    };
    job.created_at = truncate(job.created_at);
    job.updated_at = truncate(job.updated_at);
    job
}

/// A created job reads back unchanged, and an update replaces exactly its `Some` fields (JSON included)
/// and bumps `updated_at`.
pub async fn create_get_update_round_trip_keeps_json_and_applies_only_some_fields(jobs: Arc<dyn JobStore>) {
    let job = Job::new("sessions.revoke_all", Some("user-1".to_owned()));

    jobs.create(&job).await.expect("create");
    let fetched = jobs.get(job.id).await.expect("get").expect("job exists");
    assert_eq!(fetched, stored(job.clone()));

    let progress = json!({"step": "revoking", "done": 3, "of": [1, 2.5, null]});
    let running = jobs
        .update(
            job.id,
            JobUpdate { state: Some(JobState::Running), progress: Some(progress.clone()), ..JobUpdate::default() },
        )
        .await
        .expect("update to running");
    assert_eq!(running.state, JobState::Running);
    assert_eq!(running.progress, progress);
    assert_eq!(running.result, None);
    assert!(running.updated_at >= fetched.updated_at);

    let result = json!({"revoked": 42, "note": "naïve ✓"});
    let done = jobs
        .update(
            job.id,
            JobUpdate { state: Some(JobState::Succeeded), result: Some(result.clone()), ..JobUpdate::default() },
        )
        .await
        .expect("update to succeeded");
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.progress, progress, "progress was not part of the update");
    assert_eq!(done.result, Some(result));
    assert_eq!(done.error, None);
    assert_eq!(done.kind, job.kind);
    assert_eq!(done.owner, job.owner);
    assert_eq!(done.created_at, fetched.created_at);
    assert_eq!(jobs.get(job.id).await.expect("get").as_ref(), Some(&done));
    assert!(jobs.get(Uuid::now_v7()).await.expect("get").is_none());
}

/// Updating an id that was never created is `NotFound`, and creates nothing.
pub async fn update_of_unknown_id_is_not_found(jobs: Arc<dyn JobStore>) {
    let id = Uuid::now_v7();

    let err = jobs
        .update(id, JobUpdate { state: Some(JobState::Failed), error: Some("boom".to_owned()), ..JobUpdate::default() })
        .await
        .expect_err("unknown id");

    assert!(matches!(err, JobStoreError::NotFound(missing) if missing == id));
    assert!(jobs.get(id).await.expect("get").is_none());
}

/// Two tasks updating different fields of one job at the same time both land: the final row holds the last
/// progress of one and the last result of the other (no lost update).
pub async fn concurrent_updates_from_two_tasks_both_land(jobs: Arc<dyn JobStore>) {
    let job = Job::new("upload", None);
    jobs.create(&job).await.expect("create");
    let id = job.id;
    const ROUNDS: i64 = 25;

    let progress_writer = {
        let jobs = Arc::clone(&jobs);
        tokio::spawn(async move {
            for i in 0..ROUNDS {
                let update = JobUpdate {
                    state: Some(JobState::Running),
                    progress: Some(json!({"part": i})),
                    ..JobUpdate::default()
                };
                jobs.update(id, update).await.expect("progress update");
            }
        })
    };
    let result_writer = {
        let jobs = Arc::clone(&jobs);
        tokio::spawn(async move {
            for i in 0..ROUNDS {
                let update = JobUpdate { result: Some(json!({"checksum": i})), ..JobUpdate::default() };
                jobs.update(id, update).await.expect("result update");
            }
        })
    };
    progress_writer.await.expect("progress task");
    result_writer.await.expect("result task");

    let last = ROUNDS - 1;
    let stored = jobs.get(id).await.expect("get").expect("job exists");
    assert_eq!(stored.state, JobState::Running);
    assert_eq!(stored.progress, json!({"part": last}));
    assert_eq!(stored.result, Some(json!({"checksum": last})));
    assert!(stored.updated_at > stored.created_at);
}

sql_cases!(
    jobs: create_get_update_round_trip_keeps_json_and_applies_only_some_fields,
    update_of_unknown_id_is_not_found,
    concurrent_updates_from_two_tasks_both_land,
);
