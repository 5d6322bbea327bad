//! The `UploadStore` contract.

use std::sync::Arc;

use gantry::adapters::sql::SqlPorts;
use gantry_actors::ports::jobs::{JobState, NewJob};
use gantry_actors::ports::uploads::{UploadRecord, UploadStatus, UploadStore, VariantRecord, VariantState};
use gantry_actors::uploads::photo;
use time::OffsetDateTime;
use uuid::Uuid;

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
        received_by: Some(Uuid::now_v7()),
    }
}

/// An upload reads back as created; its end replaces status, size, digest and error but keeps the owner,
/// object key and start time; it ends once (a second end — the sweep failing an upload its instance stored
/// meanwhile — is refused and changes nothing); a deleted upload is gone, and deleting it again is fine.
pub async fn upload_create_get_update_delete_round_trip(uploads: Arc<dyn UploadStore>) {
    let receiving = upload("user:0190f0c8-0000-7000-8000-000000000001");
    let other = upload("guest:t1");
    uploads.create_upload(&receiving).await.expect("create");
    uploads.create_upload(&other).await.expect("create another");
    assert_eq!(uploads.get_upload(receiving.id).await.expect("get"), Some(receiving.clone()));

    let stored = UploadRecord {
        content_type: "application/pdf".to_owned(),
        size: 5_000_000_000,
        sha256: "ab".repeat(32),
        status: UploadStatus::Stored,
        ..receiving.clone()
    };
    let moved = UploadRecord { owner: "guest:someone-else".to_owned(), ..stored.clone() };
    assert!(uploads.update_upload(&moved).await.expect("update"), "a receiving upload ends");
    assert_eq!(uploads.get_upload(receiving.id).await.expect("get"), Some(stored.clone()), "the owner is fixed");

    let failed = UploadRecord { status: UploadStatus::Failed, error: Some("abandoned".to_owned()), ..stored.clone() };
    assert!(!uploads.update_upload(&failed).await.expect("a second end"), "an upload ends once");
    let job = NewJob::new("uploads.remove_object", "maintenance", serde_json::json!({"key": failed.object_key}));
    assert!(!uploads.update_upload_enqueueing(&failed, &job).await.expect("a second end with its job"));
    assert_eq!(uploads.get_upload(receiving.id).await.expect("get"), Some(stored), "the first end stands");

    uploads.delete_upload(receiving.id).await.expect("delete");
    uploads.delete_upload(receiving.id).await.expect("deleting an absent upload");
    assert!(uploads.get_upload(receiving.id).await.expect("get").is_none());
    assert_eq!(uploads.get_upload(other.id).await.expect("get"), Some(other), "only that upload was deleted");
}

/// An upload that was never created is `None`, not an error, and updating it creates nothing.
pub async fn get_of_unknown_upload_is_none(uploads: Arc<dyn UploadStore>) {
    let never = upload("guest:t2");

    assert!(!uploads.update_upload(&never).await.expect("updating an unknown id"));

    assert!(uploads.get_upload(never.id).await.expect("get").is_none());
}

/// Only uploads still receiving that started strictly before the cut-off are stale (down to the
/// microsecond); they come oldest first, whatever the insertion order, and at most `limit` of them.
pub async fn stale_uploads_are_old_receiving_ones_oldest_first_and_limited(uploads: Arc<dyn UploadStore>) {
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
        uploads.create_upload(u).await.expect("create");
    }

    let all = uploads.stale_uploads(cutoff, 10).await.expect("stale");
    let first_two = uploads.stale_uploads(cutoff, 2).await.expect("stale");

    assert_eq!(all, vec![oldest.clone(), older.clone(), just_before]);
    assert_eq!(first_two, vec![oldest, older]);
    assert!(uploads.stale_uploads(cutoff, 0).await.expect("stale").is_empty());
}

/// An owner's count takes in its uploads still receiving and those stored, but not failed ones nor other
/// owners' uploads; an upload that fails later stops counting, and an owner with no uploads counts zero.
pub async fn count_uploads_counts_the_owners_receiving_and_stored_only(uploads: Arc<dyn UploadStore>) {
    let with_status = |owner: &str, status: UploadStatus| UploadRecord { status, ..upload(owner) };
    let receiving = with_status("guest:t4", UploadStatus::Receiving);
    let stored = with_status("guest:t4", UploadStatus::Stored);
    let failed = with_status("guest:t4", UploadStatus::Failed);
    let others = with_status("guest:t5", UploadStatus::Stored);
    for u in [&receiving, &stored, &failed, &others] {
        uploads.create_upload(u).await.expect("create");
    }

    let before = uploads.count_uploads("guest:t4").await.expect("count");
    uploads.update_upload(&UploadRecord { status: UploadStatus::Failed, ..receiving }).await.expect("fail one");
    let after = uploads.count_uploads("guest:t4").await.expect("count");

    assert_eq!(before, 2);
    assert_eq!(after, 1, "an upload that failed no longer counts");
    assert_eq!(uploads.count_uploads("guest:t5").await.expect("count"), 1);
    assert_eq!(uploads.count_uploads("guest:nobody").await.expect("count"), 0);
}

/// File quotas are reserved atomically: of 16 concurrent reservations against a quota of 10, exactly 10 win;
/// a release gives one back; quotas are per owner; a quota of 0 admits nothing.
pub async fn reserve_file_is_atomic_and_release_gives_one_back(uploads: Arc<dyn UploadStore>) {
    let attempts = (0..16).map(|_| {
        let uploads = Arc::clone(&uploads);
        tokio::spawn(async move { uploads.reserve_file("guest:q1", 10).await.expect("reserve") })
    });
    let mut won = 0;
    for attempt in attempts {
        if attempt.await.expect("task") {
            won += 1;
        }
    }
    assert_eq!(won, 10, "exactly the quota is reserved");
    assert!(!uploads.reserve_file("guest:q1", 10).await.expect("reserve"), "the quota is used up");

    uploads.release_file("guest:q1").await.expect("release");
    assert!(uploads.reserve_file("guest:q1", 10).await.expect("reserve"), "a released file can be reserved again");
    assert!(!uploads.reserve_file("guest:q1", 10).await.expect("reserve"));

    assert!(uploads.reserve_file("guest:q2", 1).await.expect("reserve"), "another owner has its own quota");
    assert!(!uploads.reserve_file("guest:q3", 0).await.expect("reserve"), "a quota of 0 admits nothing");
    uploads.release_file("guest:nobody").await.expect("releasing an unknown owner is a no-op");
}

/// An image upload's stored state, its pending variants and its photo job are written together: the job is
/// there (queue `media`, due), the variants read back in order and take their ready or failed state; a second
/// write whose job cannot be stored (same id) leaves its upload untouched and records no variants; deleting the
/// upload deletes its variants.
pub async fn variants_are_stored_with_their_job_and_go_with_the_upload(ports: SqlPorts) {
    let uploads = ports.uploads;
    let receiving = upload("user:0190f0c8-0000-7000-8000-000000000009");
    uploads.create_upload(&receiving).await.expect("create");
    let stored = UploadRecord {
        content_type: "image/jpeg".to_owned(),
        size: 12_345,
        sha256: "cd".repeat(32),
        status: UploadStatus::Stored,
        ..receiving.clone()
    };
    let names = ["320".to_owned(), "1280".to_owned(), "full".to_owned()];
    let job = photo::job(stored.id, &stored.owner);
    assert!(uploads.store_with_variants(&stored, &names, &job).await.expect("store with variants"));

    assert_eq!(uploads.get_upload(stored.id).await.expect("get"), Some(stored.clone()));
    let pending: Vec<_> = names.iter().map(VariantRecord::pending).collect();
    assert_eq!(uploads.variants(stored.id).await.expect("variants"), pending);
    let queued = ports.jobs.get(job.id).await.expect("get job").expect("the job was enqueued");
    assert_eq!((queued.kind.as_str(), queued.queue.as_str()), (photo::KIND, photo::QUEUE));
    assert_eq!(queued.state, JobState::Available);
    assert_eq!(queued.owner.as_deref(), Some(stored.owner.as_str()));

    let ready = VariantRecord {
        state: VariantState::Ready,
        content_type: Some("image/jpeg".to_owned()),
        width: Some(1280),
        height: Some(853),
        size: Some(98_765),
        sha256: Some("ef".repeat(32)),
        ..VariantRecord::pending("1280")
    };
    let failed = VariantRecord {
        state: VariantState::Failed,
        error: Some("too_many_pixels: the image is 20000 x 20000 px".to_owned()),
        ..VariantRecord::pending("full")
    };
    uploads.set_variant(stored.id, &ready).await.expect("ready");
    uploads.set_variant(stored.id, &failed).await.expect("failed");
    let read = uploads.variants(stored.id).await.expect("variants");
    assert_eq!(read, [VariantRecord::pending("320"), ready, failed]);

    let second = upload("user:0190f0c8-0000-7000-8000-000000000009");
    uploads.create_upload(&second).await.expect("create");
    let second_stored = UploadRecord { status: UploadStatus::Stored, ..second.clone() };
    assert!(uploads.store_with_variants(&second_stored, &names, &job).await.is_err(), "the job id is taken");
    assert_eq!(uploads.get_upload(second.id).await.expect("get"), Some(second.clone()), "rolled back");
    assert!(uploads.variants(second.id).await.expect("variants").is_empty(), "no variants without their job");

    // An upload the sweep failed first is not stored afterwards: no variants, no job.
    let swept = upload("user:0190f0c8-0000-7000-8000-000000000009");
    uploads.create_upload(&swept).await.expect("create");
    let abandoned = UploadRecord { status: UploadStatus::Failed, error: Some("abandoned".into()), ..swept.clone() };
    assert!(uploads.update_upload(&abandoned).await.expect("the sweep fails it"));
    let late = UploadRecord { status: UploadStatus::Stored, ..swept.clone() };
    let late_job = photo::job(swept.id, &swept.owner);
    assert!(!uploads.store_with_variants(&late, &names, &late_job).await.expect("a late store"));
    assert_eq!(uploads.get_upload(swept.id).await.expect("get"), Some(abandoned), "the failure stands");
    assert!(uploads.variants(swept.id).await.expect("variants").is_empty());
    assert!(ports.jobs.get(late_job.id).await.expect("get job").is_none(), "no photo job for it");

    uploads.delete_upload(stored.id).await.expect("delete");
    assert!(uploads.variants(stored.id).await.expect("variants").is_empty(), "variants go with the upload");
    assert!(uploads.variants(Uuid::now_v7()).await.expect("variants of an unknown upload").is_empty());
}

mod variants {
    #[tokio::test]
    async fn sqlite() {
        crate::on_sqlite(super::variants_are_stored_with_their_job_and_go_with_the_upload).await;
    }

    #[tokio::test]
    async fn postgres() {
        crate::on_postgres(super::variants_are_stored_with_their_job_and_go_with_the_upload).await;
    }
}

sql_cases!(
    uploads: upload_create_get_update_delete_round_trip,
    reserve_file_is_atomic_and_release_gives_one_back,
    get_of_unknown_upload_is_none,
    stale_uploads_are_old_receiving_ones_oldest_first_and_limited,
    count_uploads_counts_the_owners_receiving_and_stored_only,
);

/// A failure and its follow-up job are stored together: after `update_upload_enqueueing` the record is failed
/// and the job is waiting for the runner; after `delete_upload_enqueueing` the record is gone and its job
/// waits; enqueueing the same job again stores nothing more.
pub async fn update_and_delete_enqueue_their_job_with_the_change(ports: SqlPorts) {
    let (uploads, jobs) = (ports.uploads, ports.jobs);
    let failing = upload("guest:t6");
    let deleting = UploadRecord { status: UploadStatus::Stored, ..upload("guest:t6") };
    uploads.create_upload(&failing).await.expect("create");
    uploads.create_upload(&deleting).await.expect("create");
    let remove = |r: &UploadRecord| {
        let args = serde_json::json!({ "key": r.object_key });
        NewJob { max_attempts: 10, ..NewJob::new("uploads.remove_object", "maintenance", args) }
    };
    let (failed_job, deleted_job) = (remove(&failing), remove(&deleting));

    let failed = UploadRecord { status: UploadStatus::Failed, error: Some("digest_mismatch".into()), ..failing };
    uploads.update_upload_enqueueing(&failed, &failed_job).await.expect("fail and enqueue");
    uploads.update_upload_enqueueing(&failed, &failed_job).await.expect("the same job again");
    uploads.delete_upload_enqueueing(deleting.id, &deleted_job).await.expect("delete and enqueue");

    assert_eq!(uploads.get_upload(failed.id).await.expect("get"), Some(failed.clone()));
    assert!(uploads.get_upload(deleting.id).await.expect("get").is_none());
    for (job, upload) in [(&failed_job, &failed), (&deleted_job, &deleting)] {
        let stored = jobs.get(job.id).await.expect("get job").expect("the job was stored with the change");
        assert_eq!(stored.state, JobState::Available);
        assert_eq!(stored.kind, "uploads.remove_object");
        assert_eq!(stored.max_attempts, 10);
        assert_eq!(stored.args["key"], upload.object_key.as_str());
    }
}

/// The cases on more than the upload store (the job store beside it; the multipart ledger).
mod with_jobs {
    #[tokio::test]
    async fn sqlite_update_and_delete_enqueue_their_job_with_the_change() {
        crate::on_sqlite(super::update_and_delete_enqueue_their_job_with_the_change).await;
    }

    #[tokio::test]
    async fn postgres_update_and_delete_enqueue_their_job_with_the_change() {
        crate::on_postgres(super::update_and_delete_enqueue_their_job_with_the_change).await;
    }

    #[tokio::test]
    async fn sqlite_multipart_ledger_records_lists_and_forgets() {
        crate::on_sqlite(super::multipart_ledger_records_lists_and_forgets).await;
    }

    #[tokio::test]
    async fn postgres_multipart_ledger_records_lists_and_forgets() {
        crate::on_postgres(super::multipart_ledger_records_lists_and_forgets).await;
    }
}

/// The multipart ledger: recorded uploads come back by age (strictly before the cut-off, oldest first, at
/// most `limit`) and by key; recording twice keeps one; a forgotten upload is gone, forgetting it again is
/// fine.
pub async fn multipart_ledger_records_lists_and_forgets(ports: SqlPorts) {
    use gantry_actors::ports::objects::PendingMultipart;
    let ledger = ports.multiparts;
    let at = |secs: i64| OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).expect("valid instant");
    let pending =
        |key: &str, id: &str, secs| PendingMultipart { key: key.into(), upload_id: id.into(), started_at: at(secs) };
    let (old, older, young) =
        (pending("uploads/a", "u1", 10), pending("uploads/b", "u2", 5), pending("uploads/a", "u3", 60));
    for p in [&old, &older, &young, &old] {
        ledger.record(p).await.expect("record");
    }

    assert_eq!(ledger.started_before(at(30), 10).await.expect("list"), vec![older.clone(), old.clone()]);
    assert_eq!(ledger.started_before(at(30), 1).await.expect("list"), vec![older.clone()]);
    assert_eq!(ledger.started_before(at(10), 10).await.expect("list"), vec![older.clone()], "strictly before");
    assert_eq!(ledger.of_key("uploads/a").await.expect("by key"), vec![old.clone(), young.clone()]);

    ledger.forget("u1").await.expect("forget");
    ledger.forget("u1").await.expect("forget again");
    assert_eq!(ledger.of_key("uploads/a").await.expect("by key"), vec![young]);
    assert_eq!(ledger.started_before(at(30), 10).await.expect("list"), vec![older]);
}
