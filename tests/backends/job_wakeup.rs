//! The job runners' wake-up across instances: a job enqueued on one instance is started by another long
//! before that instance's poll, because the enqueueing instance announces it on the bus after the commit.

use crate::eventually::{Deadline, settled};
use crate::production::{ADMIN, backends, json, readiness, start_in_bucket};
use crate::support::with_fresh_database;

/// Two production instances polling once a minute; only B works the `media` queue (A's photo concurrency is
/// 0). A photo uploaded through A — its `uploads.photo` job enqueued inside the upload's transaction — gets
/// its variants well within 10 s, made by B: A's announcement (`jobs_enqueued`) reached B over RabbitMQ.
#[tokio::test]
async fn a_job_enqueued_on_one_instance_is_started_by_another_without_waiting_for_its_poll() {
    use crate::test_photos::jpeg_with_gps;
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let (bucket, exchange) = (format!("gantry-wake-{unique}"), format!("gantry.events.test-wake-{unique}"));
        let b_id = uuid::Uuid::now_v7();
        let a_toml =
            format!("instance_id = \"{}\"\n[jobs]\npoll_ms = 60000\n[photos]\nconcurrency = 0\n", uuid::Uuid::now_v7());
        let b_toml = format!("instance_id = \"{b_id}\"\n[jobs]\npoll_ms = 60000\n[photos]\nconcurrency = 1\n");
        let (a_http, _a_admin, stop_a) =
            start_in_bucket(&database, &b, &b.s3_secret, &exchange, &bucket, &a_toml).await;
        let (b_http, b_admin, stop_b) = start_in_bucket(&database, &b, &b.s3_secret, &exchange, &bucket, &b_toml).await;
        for http in [&a_http, &b_http] {
            readiness(http, |v| {
                v["components"]["bus"]["status"] == "up" && v["components"]["object_store"]["status"] == "up"
            })
            .await;
        }
        let client = reqwest::Client::new();
        let grant = json(client.post(format!("{a_http}/v1/uploads/guest-token")).send().await.expect("req"), 200).await;
        let token = grant["upload_token"].as_str().expect("token").to_owned();
        let response = client
            .post(format!("{a_http}/v1/uploads"))
            .header("x-upload-token", &token)
            .body(jpeg_with_gps(400, 300))
            .send()
            .await
            .expect("req");
        let id = json(response, 201).await["id"].as_str().expect("id").to_owned();

        let upload = async || {
            let response = client.get(format!("{a_http}/v1/uploads/{id}")).header("x-upload-token", &token).send();
            json(response.await.expect("req"), 200).await
        };
        let ready = |listed: &serde_json::Value| {
            let variants = listed["variants"].as_array().expect("variants");
            !variants.is_empty() && variants.iter().all(|v| v["state"] == "ready")
        };
        let listed = settled(Deadline::ms(10_000, 50), upload, ready).await;
        assert!(ready(&listed), "the variants waited for a poll: {listed}");

        // B made them (A does not work the queue).
        let list = client.get(format!("{b_admin}/admin/jobs?kind=uploads.photo")).bearer_auth(ADMIN).send();
        let jobs = json(list.await.expect("req"), 200).await;
        let job_id = jobs["jobs"][0]["id"].as_str().expect("the photo job").to_owned();
        let job = client.get(format!("{b_admin}/admin/jobs/{job_id}")).bearer_auth(ADMIN).send();
        let job = json(job.await.expect("req"), 200).await;
        assert_eq!(job["attempts"][0]["instance_id"], b_id.to_string(), "{job}");
        let _ = (stop_a.send(()), stop_b.send(()));
    })
    .await;
}
