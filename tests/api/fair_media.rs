//! Issue 20, item 6: one owner's burst of large photos does not starve another owner's small photo (the
//! media queue is claimed round robin by owner), and guests have an hourly pixel budget.

use gantry_actors::ports::jobs::{Job, JobFilter};
use serde_json::Value;

use crate::eventually::{Deadline, eventually};
use crate::helpers::{TestApp, access, assert_problem, json_of, spawn_app_with};
use crate::prometheus::value_or_zero;

/// A `width` × `height` PNG with some texture (so decoding and scaling do real work), compressed well.
fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).expect("encode");
    bytes
}

async fn user_token(app: &TestApp, email: &str) -> String {
    app.register(email).await;
    access(&app.login(email).await).to_owned()
}

fn upload(app: &TestApp, bytes: Vec<u8>) -> reqwest::RequestBuilder {
    app.client.post(format!("{}/v1/uploads", app.http)).header("content-type", "image/png").body(bytes)
}

async fn guest_token(app: &TestApp) -> String {
    let response = app.client.post(format!("{}/v1/uploads/guest-token", app.http)).send().await.expect("request");
    json_of(response, 200).await["upload_token"].as_str().expect("token").to_owned()
}

async fn photo_jobs(app: &TestApp) -> Vec<Job> {
    let filter = JobFilter { state: None, kind: Some("uploads.photo".into()), limit: 200 };
    app.backends.jobs.list(&filter).await.expect("jobs")
}

/// Alice queues five large photos at once; Bob then uploads one small photo. With one media worker, Bob's job
/// is the next one claimed after it is queued: none of Alice's waiting jobs starts between Bob's enqueue and
/// Bob's start (only the job already running is ahead of him), while Alice still has jobs left that start
/// after his. Asserted on the order of the jobs' start times, not on wall time. On a `run_at`-ordered queue
/// every one of Alice's photos goes first.
#[tokio::test]
async fn a_burst_of_one_owners_photos_does_not_delay_anothers() {
    let app = spawn_app_with("[photos]\nconcurrency = 1\nsizes = [320]").await;
    let alice = user_token(&app, "alice@example.com").await;
    let bob = user_token(&app, "bob@example.com").await;
    let large = png(1200, 1200);
    for _ in 0..5 {
        let response = upload(&app, large.clone()).bearer_auth(&alice).send().await.expect("request");
        json_of(response, 201).await;
    }
    // Bob comes while the worker is busy with Alice's first photo (so the rest of her burst is waiting).
    let started = |jobs: &Vec<Job>| jobs.iter().any(|j| j.started_at.is_some());
    eventually("no photo job started", Deadline::ms(60_000, 20), async || photo_jobs(&app).await, started).await;
    let response = upload(&app, png(64, 64)).bearer_auth(&bob).send().await.expect("request");
    let bobs_upload = json_of(response, 201).await["id"].as_str().expect("id").to_owned();

    let all_done = |jobs: &Vec<Job>| jobs.len() == 6 && jobs.iter().all(|j| j.finished_at.is_some());
    let jobs = eventually(
        "the photo jobs did not finish",
        Deadline::ms(180_000, 200),
        async || photo_jobs(&app).await,
        all_done,
    )
    .await;
    let is_bobs = |j: &&Job| j.args["upload_id"] == Value::String(bobs_upload.clone());
    let bobs = jobs.iter().find(is_bobs).expect("Bob's photo job");
    let (queued, started) = (bobs.created_at, bobs.started_at.expect("started"));
    let alices: Vec<&Job> = jobs.iter().filter(|j| !is_bobs(j)).collect();
    let overtook_bob: Vec<_> =
        alices.iter().filter(|j| j.started_at.is_some_and(|s| s > queued && s < started)).map(|j| j.id).collect();
    assert!(overtook_bob.is_empty(), "Alice's waiting jobs started before Bob's: {overtook_bob:?}");
    let after_bob = alices.iter().filter(|j| j.started_at.is_some_and(|s| s >= started)).count();
    assert!(after_bob >= 1, "the burst was still queued when Bob came (else this proves nothing): {jobs:#?}");
}

/// A guest's photos count against `uploads.guest_pixels_per_hour`, per guest token and per client address:
/// past it, 429 `photo_budget_exceeded` with `Retry-After`, and a second free token from the same address
/// does not reset it; small photos still fit the rest, and a logged-in user is not counted.
#[tokio::test]
async fn guests_have_an_hourly_pixel_budget() {
    let app =
        spawn_app_with("[photos]\nconcurrency = 0\nmax_pixels = 4000000\n[uploads]\nguest_pixels_per_hour = 5000000")
            .await;
    let over_budget =
        async || value_or_zero(&app.metrics().await, "gantry_uploads_total{outcome=\"photo_budget_exceeded\"}");
    let before = over_budget().await;
    let large = png(2000, 2000);
    let first = guest_token(&app).await;
    let response = upload(&app, large.clone()).header("x-upload-token", &first).send().await.expect("request");
    json_of(response, 201).await;
    let response = upload(&app, large.clone()).header("x-upload-token", &first).send().await.expect("request");
    let retry_after: u64 = response.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    assert_problem(response, 429, "photo_budget_exceeded").await;

    let second = guest_token(&app).await;
    let response = upload(&app, large.clone()).header("x-upload-token", &second).send().await.expect("request");
    assert_problem(response, 429, "photo_budget_exceeded").await;
    let response = upload(&app, png(500, 500)).header("x-upload-token", &second).send().await.expect("request");
    json_of(response, 201).await;

    let user = user_token(&app, "member@example.com").await;
    for _ in 0..3 {
        let response = upload(&app, large.clone()).bearer_auth(&user).send().await.expect("request");
        json_of(response, 201).await;
    }
    let stored_by_guests =
        photo_jobs(&app).await.iter().filter(|j| j.owner.as_deref().is_some_and(|o| o.starts_with("guest:"))).count();
    assert_eq!(stored_by_guests, 2, "only the photos within the budget were queued");
    assert_eq!(over_budget().await - before, 2.0, "both refusals counted (the recorder is the process's)");
}
