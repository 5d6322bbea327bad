//! A short database outage across the fleet (issue 25 item 5): two real `gantry` processes reach the shared
//! Postgres each through a TCP relay of its own ([`Proxy`], never the shared server itself), so the test cuts
//! the database for both and brings it back to one instance a little before the other (pools reconnect at their
//! own pace). Nobody is taken for dead for having been cut off: the other's sweep neither fails the live
//! instance's uploads as abandoned nor takes over its job's lease; and an upload refused (503) during the cut is
//! failed as soon as its instance reaches the database again. Part of the `production` suite.

use std::time::Duration;

use gantry::adapters::postgres::PostgresDb;
use gantry_actors::ports::jobs::{AttemptOutcome, JobState, NewJob};
use gantry_actors::ports::uploads::{UploadStatus, UploadStore};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::eventually::{Deadline, eventually};
use crate::production::{backends, json as json_of};
use crate::support::with_fresh_database;
use crate::upload_jobs::{Instance, Proxy, Store, job_store, png};

/// A relay of its own in front of the test's Postgres, and the database URL through it.
async fn relay_to(database: &SecretString) -> (Proxy, SecretString) {
    let mut url = reqwest::Url::parse(database.expose_secret()).expect("database URL");
    assert!(matches!(url.host_str(), Some("127.0.0.1" | "localhost")), "the relay forwards to loopback");
    let proxy = Proxy::start(url.port().unwrap_or(5432)).await;
    url.set_port(Some(proxy.port)).expect("a port");
    (proxy, SecretString::from(url.to_string()))
}

/// Starts an upload to `http` whose body keeps coming (a chunk every 200 ms) until `finish` fires or is dropped;
/// returns the switch and the answer to come.
fn trickling_upload(
    client: &reqwest::Client,
    http: &str,
    token: &str,
) -> (oneshot::Sender<()>, JoinHandle<reqwest::Response>) {
    let (chunks, received) = mpsc::channel::<Vec<u8>>(4);
    let (finish, mut finished) = oneshot::channel::<()>();
    tokio::spawn(async move {
        if chunks.send(png(4096)).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                _ = &mut finished => return,
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    if chunks.send(vec![7u8; 512]).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let body = futures::stream::unfold(received, |mut received| async move {
        received.recv().await.map(|chunk| (Ok::<_, std::io::Error>(chunk), received))
    });
    let request = client
        .post(format!("{http}/v1/uploads"))
        .header("x-upload-token", token)
        .header("content-type", "image/png")
        .body(reqwest::Body::wrap_stream(body));
    (finish, tokio::spawn(async move { request.send().await.expect("req") }))
}

/// The uploads `receiving` on `instance`, by id.
async fn receiving_on(uploads: &std::sync::Arc<dyn UploadStore>, instance: Uuid) -> Vec<Uuid> {
    let later = time::OffsetDateTime::now_utc() + Duration::from_secs(5);
    let all = uploads.stale_uploads(later, 100).await.expect("uploads");
    all.into_iter().filter(|u| u.received_by == Some(instance)).map(|u| u.id).collect()
}

/// Two instances with fixed ids; a job runs on one of them (the "late" one), which also receives two uploads.
/// The database is cut for 14 s for both (longer than the job lease and than `live_within_secs`); one upload's
/// body ends during the cut (answered 503). The database comes back to the other instance 3 s before the late
/// one. Afterwards: the job completes in its first attempt (its lease was not taken over), the upload still
/// in progress is stored (not failed as abandoned), and the refused one is failed with `database_unavailable`
/// once the late instance reaches the database, not left `receiving`.
#[tokio::test]
async fn a_database_outage_does_not_make_live_instances_look_dead() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let store = Store::start().await;
        let s3 = format!("http://127.0.0.1:{}", store.port);
        let bucket = format!("gantry-outage-{}", Uuid::new_v4().simple());
        let settings = [
            ("GANTRY_JOBS__LEASE_SECS", "6"),
            ("GANTRY_JOBS__MAINTAIN_MS", "100"),
            ("GANTRY_ROTATION__HEARTBEAT_SECS", "1"),
            ("GANTRY_ROTATION__LIVE_WITHIN_SECS", "5"),
            ("GANTRY_UPLOADS__SWEEP_SECS", "1"),
        ];
        let (relays, urls): (Vec<Proxy>, Vec<SecretString>) =
            futures::future::join_all([relay_to(&database), relay_to(&database)]).await.into_iter().unzip();
        let mut instances = Vec::new();
        for url in &urls {
            instances.push(Instance::start(url, &b, &store, &s3, &bucket, &settings).await);
        }
        let jobs = job_store(&database).await;
        let uploads = PostgresDb::connect(&database, 2).await.expect("postgres").ports().uploads;

        // A job of 25 s runs on one instance: that one gets the database back last.
        let job = NewJob { max_attempts: 3, ..NewJob::new("drill.sleep", "default", json!({"ms": 25_000})) };
        jobs.enqueue(&job).await.expect("enqueue");
        let get = async || jobs.get(job.id).await.expect("get").expect("stored");
        let running =
            eventually("the job never ran", Deadline::ms(30_000, 50), get, |j| j.state == JobState::Running).await;
        let late = instances.iter().position(|i| Some(i.id) == running.lease_owner).expect("one of the two runs it");
        let (early, late_id) = (1 - late, instances[late].id);

        // Two uploads in progress on the late instance.
        let client = reqwest::Client::new();
        let token = instances[late].guest_token(&client).await;
        let (keep_going, kept) = trickling_upload(&client, &instances[late].http, &token);
        let ids = async || receiving_on(&uploads, late_id).await;
        let first = eventually("no upload recorded", Deadline::ms(10_000, 50), ids, |ids| ids.len() == 1).await[0];
        let (end_in_cut, refused) = trickling_upload(&client, &instances[late].http, &token);
        let ids = async || receiving_on(&uploads, late_id).await;
        let both = eventually("no second upload recorded", Deadline::ms(10_000, 50), ids, |ids| ids.len() == 2).await;
        let second = *both.iter().find(|id| **id != first).expect("two uploads");

        // The cut: 14 s for both; the refused upload's body ends in it.
        for relay in &relays {
            relay.take_down();
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(end_in_cut);
        let refused = tokio::time::timeout(Duration::from_secs(11), refused).await.expect("answered").expect("task");
        assert_eq!(refused.status(), 503, "an upload whose end cannot be recorded is refused");
        tokio::time::sleep(Duration::from_secs(12)).await;
        relays[early].bring_back();
        tokio::time::sleep(Duration::from_secs(3)).await;
        relays[late].bring_back();

        // The refused upload is failed once its instance reaches the database again.
        let status = async || uploads.get_upload(second).await.expect("get").expect("recorded");
        let failed = eventually("the refused upload stayed receiving", Deadline::ms(15_000, 100), status, |u| {
            u.status != UploadStatus::Receiving
        })
        .await;
        assert_eq!((failed.status, failed.error.as_deref()), (UploadStatus::Failed, Some("database_unavailable")));

        // Past the other instance's wait (a lease period, `live_within_secs`) and several of its sweeps.
        tokio::time::sleep(Duration::from_secs(7)).await;
        let _ = keep_going.send(());
        let stored = tokio::time::timeout(Duration::from_secs(20), kept).await.expect("answered").expect("task");
        let stored = json_of(stored, 201).await;
        assert_eq!(stored["id"], json!(first.to_string()), "the upload in progress through the cut is kept");
        assert_eq!(uploads.get_upload(first).await.expect("get").expect("recorded").status, UploadStatus::Stored);

        let get = async || jobs.get(job.id).await.expect("get").expect("stored");
        let done =
            eventually("the job never finished", Deadline::ms(30_000, 100), get, |j| j.state.is_terminal()).await;
        assert_eq!(done.state, JobState::Completed, "{done:?}");
        let attempts = jobs.attempts(job.id).await.expect("attempts");
        let who: Vec<_> = attempts.iter().map(|a| (a.attempt, a.instance_id, a.outcome)).collect();
        assert_eq!(who, vec![(1, late_id, AttemptOutcome::Completed)], "its lease was not taken over: {attempts:?}");
    })
    .await;
}
