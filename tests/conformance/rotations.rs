//! The `RotationStore` and `Fleet` contracts.

use std::sync::Arc;
use std::time::Duration;

use gantry_actors::ports::rotations::{
    Fleet, InstanceReport, ReportedSecret, RotationRecord, RotationStart, RotationStore,
};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

/// A rotation started `i` seconds after a fixed instant, still running.
fn record(i: i64) -> RotationRecord {
    RotationRecord {
        id: Uuid::now_v7(),
        kind: "rotation".to_owned(),
        deployment_id: Some(format!("deploy-{i}")),
        commit_sha: None,
        requested_by: "cli".to_owned(),
        outcome: "running".to_owned(),
        failed_step: None,
        reason: None,
        detail: json!({"steps": [i], "note": "naïve ✓"}),
        started_at: OffsetDateTime::from_unix_timestamp(1_800_000_000 + i).expect("valid instant"),
        finished_at: None,
    }
}

/// A record reads back as saved; saving it again with its outcome replaces it; records list newest first,
/// limited; an unknown id is `None`.
pub async fn rotations_save_replace_and_list_newest_first(rotations: Arc<dyn RotationStore>) {
    let (first, second) = (record(1), record(2));
    rotations.save_rotation(&second).await.expect("save");
    rotations.save_rotation(&first).await.expect("save");
    assert_eq!(rotations.rotation(first.id).await.expect("get"), Some(first.clone()));

    let failed = RotationRecord {
        outcome: "failed".to_owned(),
        failed_step: Some("smoke".to_owned()),
        reason: Some("login failed".to_owned()),
        finished_at: Some(first.started_at + time::Duration::seconds(5)),
        ..first.clone()
    };
    rotations.save_rotation(&failed).await.expect("replace");

    assert_eq!(rotations.rotation(first.id).await.expect("get"), Some(failed.clone()));
    assert_eq!(rotations.rotations(10).await.expect("list"), vec![second.clone(), failed]);
    assert_eq!(rotations.rotations(1).await.expect("list"), vec![second]);
    assert!(rotations.rotation(Uuid::now_v7()).await.expect("get").is_none());
}

/// An instance that sent a heartbeat is live (listed in id order, once however often it beats) until it
/// leaves; leaving twice is fine.
pub async fn fleet_lists_live_instances_until_they_leave(fleet: Arc<dyn Fleet>) {
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    assert!(fleet.live_instances(Duration::from_secs(60)).await.expect("live").is_empty());

    fleet.heartbeat(b, &report("b")).await.expect("beat");
    fleet.heartbeat(a, &report("a")).await.expect("beat");
    fleet.heartbeat(a, &report("a")).await.expect("beat again");
    assert_eq!(fleet.live_instances(Duration::from_secs(60)).await.expect("live"), vec![a, b]);

    fleet.leave(a).await.expect("leave");
    fleet.leave(a).await.expect("leaving twice");
    assert_eq!(fleet.live_instances(Duration::from_secs(60)).await.expect("live"), vec![b]);
}

/// A heartbeat older than the window does not count.
pub async fn fleet_forgets_instances_silent_for_longer_than_the_window(fleet: Arc<dyn Fleet>) {
    let a = Uuid::now_v7();
    fleet.heartbeat(a, &report("a")).await.expect("beat");
    tokio::time::sleep(Duration::from_millis(50)).await;

    assert!(fleet.live_instances(Duration::from_millis(10)).await.expect("live").is_empty());
    assert!(fleet.seen(Duration::from_millis(10)).await.expect("seen").is_empty());
    assert_eq!(fleet.live_instances(Duration::from_secs(60)).await.expect("live"), vec![a]);
}

/// A report with `fingerprint` as the current `JWT_SECRET`.
fn report(fingerprint: &str) -> InstanceReport {
    InstanceReport {
        version: "0.1.0".to_owned(),
        started_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("valid instant"),
        status: "ready".to_owned(),
        components: [("database".to_owned(), "up".to_owned())].into(),
        secrets: vec![ReportedSecret {
            name: "JWT_SECRET".to_owned(),
            state: "current".to_owned(),
            version: 1,
            fingerprint: fingerprint.to_owned(),
        }],
    }
}

/// The fleet lists each live instance once, in id order, with the report of its latest heartbeat, when it
/// beat (recently, by the database's clock) — what `GET /admin/fleet` shows.
pub async fn fleet_lists_each_instance_with_its_latest_report(fleet: Arc<dyn Fleet>) {
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    fleet.heartbeat(b, &report("bbb")).await.expect("beat");
    fleet.heartbeat(a, &report("old")).await.expect("beat");
    fleet.heartbeat(a, &report("new")).await.expect("beat again");

    let seen = fleet.seen(Duration::from_secs(60)).await.expect("seen");
    assert_eq!(seen.iter().map(|i| i.id).collect::<Vec<_>>(), vec![a, b]);
    assert_eq!(seen[0].report, Some(report("new")), "the latest heartbeat's report");
    assert_eq!(seen[1].report, Some(report("bbb")));
    for instance in &seen {
        assert!((0..10_000).contains(&instance.age_ms), "a heartbeat just written: {}", instance.age_ms);
        let drift = (OffsetDateTime::now_utc() - instance.last_heartbeat).whole_seconds().abs();
        assert!(drift < 10, "the heartbeat's time is now, give or take the clocks: {drift} s");
    }
    fleet.leave(a).await.expect("leave");
    assert_eq!(fleet.seen(Duration::from_secs(60)).await.expect("seen").len(), 1);
}

sql_cases!(rotations: rotations_save_replace_and_list_newest_first);

/// The fleet cases, per SQL backend (`sql_cases!` names one port per file).
mod fleet {
    sql_cases!(
        fleet: fleet_lists_live_instances_until_they_leave,
        fleet_forgets_instances_silent_for_longer_than_the_window,
        fleet_lists_each_instance_with_its_latest_report,
    );
    use super::{
        fleet_forgets_instances_silent_for_longer_than_the_window, fleet_lists_each_instance_with_its_latest_report,
        fleet_lists_live_instances_until_they_leave,
    };
}

/// A rotation's start stores its record and its job in one transaction: both, or (when the job's id is taken)
/// neither.
pub async fn rotation_start_stores_record_and_job_together(ports: gantry::adapters::sql::SqlPorts) {
    use gantry_actors::ports::jobs::{Job, JobState, NewJob};
    let (rotations, jobs) = (ports.rotations, ports.jobs);
    let job_for = |r: &RotationRecord| NewJob {
        id: r.id,
        max_attempts: 5,
        unique_key: Some("secrets.rotation".into()),
        ..NewJob::new("secrets.rotate", "secrets", serde_json::json!({"rollback": false}))
    };
    let started = record(1);
    assert_eq!(rotations.start_rotation(&started, &job_for(&started)).await.expect("start"), RotationStart::Started);
    let job = jobs.get(started.id).await.expect("get").expect("the job is stored");
    assert_eq!((job.state, job.queue.as_str(), job.max_attempts), (JobState::Available, "secrets", 5));
    assert!(job.run_at.is_some(), "a runner job, claimed by any instance");
    assert!(rotations.rotation(started.id).await.expect("get").is_some());
    jobs.cancel(started.id, time::OffsetDateTime::now_utc()).await.expect("cancel frees the lock");

    let clash = record(2);
    let taken = Job::new("upload", None);
    jobs.create(&taken).await.expect("create");
    let job = NewJob { id: taken.id, ..job_for(&clash) };
    assert!(matches!(rotations.start_rotation(&clash, &job).await.expect("start"), RotationStart::InProgress(_)));
    assert!(rotations.rotation(clash.id).await.expect("get").is_none(), "no record without its job");

    // Two starts at once holding the same fleet key: exactly one is stored, the other names it.
    let (a, b) = (record(3), record(4));
    let (ja, jb) = (job_for(&a), job_for(&b));
    let (ra, rb) = tokio::join!(rotations.start_rotation(&a, &ja), rotations.start_rotation(&b, &jb));
    let mut outcomes = [ra.expect("start"), rb.expect("start")];
    outcomes.sort_by_key(|o| matches!(o, RotationStart::InProgress(_)));
    match outcomes {
        [RotationStart::Started, RotationStart::InProgress(holder)] => assert!(holder == a.id || holder == b.id),
        other => panic!("exactly one start: {other:?}"),
    }
}

mod together {
    #[tokio::test]
    async fn sqlite() {
        crate::on_sqlite(super::rotation_start_stores_record_and_job_together).await;
    }

    #[tokio::test]
    async fn postgres() {
        crate::on_postgres(super::rotation_start_stores_record_and_job_together).await;
    }
}
