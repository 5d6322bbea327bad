//! Uploads on the embedded profile (objects in the data folder): guest tokens, streaming limits, type and
//! digest checks, downloads with ranges and ETags, ownership, deletion, and clean failure.

use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::eventually::{Deadline, eventually, poll, settled};
use crate::helpers::{TestApp, access, assert_problem, json_of, spawn_app, spawn_app_with};

/// A small but real PNG header followed by `len - 8` filler bytes.
fn png(len: usize) -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    v.extend((0..len.saturating_sub(8)).map(|i| u8::try_from(i % 251).expect("small")));
    v.truncate(len);
    v
}

async fn user_token(app: &TestApp, email: &str) -> String {
    app.register(email).await;
    access(&app.login(email).await).to_owned()
}

async fn guest_token(app: &TestApp) -> String {
    let response = app.client.post(format!("{}/v1/uploads/guest-token", app.http)).send().await.expect("request");
    let body = json_of(response, 200).await;
    body["upload_token"].as_str().expect("token").to_owned()
}

fn upload(app: &TestApp, bytes: Vec<u8>, content_type: &str) -> reqwest::RequestBuilder {
    app.client.post(format!("{}/v1/uploads", app.http)).header("content-type", content_type).body(bytes)
}

/// The object under `key` once the removal job has deleted it (or as it still was after 6 s).
async fn removed(
    app: &TestApp,
    key: &gantry_actors::ports::objects::ObjectKey,
) -> Result<gantry_actors::ports::objects::ObjectBody, gantry_actors::ports::objects::ObjectStoreError> {
    let get = async || app.backends.objects.get(key, None).await;
    settled(Deadline::ms(6_000, 100), get, |object| {
        matches!(object, Err(gantry_actors::ports::objects::ObjectStoreError::NotFound))
    })
    .await
}

/// Files left in the object folder (temporary files included).
fn stored_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.path().is_dir() {
                    walk(&e.path(), out);
                } else {
                    out.push(e.path());
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&app.state.settings.objects_dir(), &mut out);
    out
}

/// A guest token comes with its quota; guests upload with `X-Upload-Token` and read back what they sent.
#[tokio::test]
async fn guest_uploads_and_downloads_a_png() {
    let app = spawn_app().await;
    let response = app.client.post(format!("{}/v1/uploads/guest-token", app.http)).send().await.expect("request");
    let grant = json_of(response, 200).await;
    assert_eq!(grant["expires_in"], 900);
    assert!(grant["allowed_types"].as_array().expect("list").iter().any(|t| t == "image/png"));
    let token = grant["upload_token"].as_str().expect("token");

    let bytes = png(10_000);
    let response = upload(&app, bytes.clone(), "image/png")
        .header("x-upload-token", token)
        .header("x-filename", "../../etc/Trактор photo.png")
        .send()
        .await
        .expect("request");
    let body = json_of(response, 201).await;
    assert_eq!(body["size"], 10_000);
    assert_eq!(body["sha256"], hex::encode(Sha256::digest(&bytes)));
    assert_eq!(body["content_type"], "image/png");
    assert_eq!(body["status"], "stored");
    assert_eq!(body["filename"], "Trактор photo.png");
    let id = body["id"].as_str().expect("id");

    let response = app
        .client
        .get(format!("{}/v1/uploads/{id}/content", app.http))
        .header("x-upload-token", token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["content-length"], "10000");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["etag"], format!("\"{}\"", hex::encode(Sha256::digest(&bytes))));
    let disposition = headers["content-disposition"].to_str().expect("ascii");
    assert!(disposition.starts_with("attachment;") && disposition.contains("filename*=UTF-8''"), "{disposition}");
    assert_eq!(response.bytes().await.expect("body").as_ref(), bytes.as_slice());

    let job = app.get(&format!("/v1/jobs/{id}")).header("x-upload-token", token).send().await.expect("request");
    let job = json_of(job, 200).await;
    assert_eq!(job["state"], "completed");
}

/// An upload's job reads as the one attempt it was: `completed` with `attempt` 1 and a `finished_at`; and the
/// owner's view serves exactly the keys `openapi/public.json` documents for a job (nothing more, nothing less).
#[tokio::test]
async fn an_uploads_job_shows_its_attempt_and_end_as_documented() {
    let app = spawn_app().await;
    let token = guest_token(&app).await;
    let response =
        upload(&app, png(1_000), "image/png").header("x-upload-token", &token).send().await.expect("request");
    let id = json_of(response, 201).await["id"].as_str().expect("id").to_owned();
    let job = app.get(&format!("/v1/jobs/{id}")).header("x-upload-token", &token).send().await.expect("request");
    let job = json_of(job, 200).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["attempt"], 1, "an upload runs once, inline: {job}");
    let finished = job["finished_at"].as_str().unwrap_or_else(|| panic!("a completed job has finished_at: {job}"));
    assert!(finished >= job["created_at"].as_str().expect("created_at"), "{job}");

    let contract: serde_json::Value =
        serde_json::from_str(include_str!("../../openapi/public.json")).expect("the contract parses");
    let schema = &contract["components"]["schemas"]["Job"];
    let mut documented: Vec<&str> =
        schema["properties"].as_object().expect("properties").keys().map(String::as_str).collect();
    let mut served: Vec<&str> = job.as_object().expect("an object").keys().map(String::as_str).collect();
    documented.sort_unstable();
    served.sort_unstable();
    assert_eq!(served, documented, "GET /v1/jobs/{{id}} serves what the contract documents");
    let required: Vec<&str> =
        schema["required"].as_array().expect("required").iter().filter_map(|k| k.as_str()).collect();
    assert!(served.iter().all(|k| required.contains(k)), "every served key is always there: {required:?}");
}

/// Ranges at the edges answer 206 with `Content-Range`; past the end is 416; a matching ETag is 304.
#[tokio::test]
async fn ranges_and_etags() {
    let app = spawn_app().await;
    let token = user_token(&app, "range@example.com").await;
    let bytes = png(5000);
    let body =
        json_of(upload(&app, bytes.clone(), "image/png").bearer_auth(&token).send().await.expect("req"), 201).await;
    let url = format!("{}/v1/uploads/{}/content", app.http, body["id"].as_str().expect("id"));
    let get = |range: &'static str| app.client.get(&url).bearer_auth(&token).header("range", range).send();

    for (range, start, end) in
        [("bytes=0-0", 0, 0), ("bytes=-1", 4999, 4999), ("bytes=4990-", 4990, 4999), ("bytes=100-199", 100, 199)]
    {
        let response = get(range).await.expect("request");
        assert_eq!(response.status(), 206, "{range}");
        assert_eq!(response.headers()["content-range"], format!("bytes {start}-{end}/5000"), "{range}");
        assert_eq!(response.bytes().await.expect("body").as_ref(), &bytes[start..=end], "{range}");
    }
    let response = get("bytes=5000-").await.expect("request");
    assert_eq!(response.headers()["content-range"], "bytes */5000");
    assert_problem(response, 416, "range_not_satisfiable").await;

    let etag = format!("\"{}\"", body["sha256"].as_str().expect("sha"));
    let response = app.client.get(&url).bearer_auth(&token).header("if-none-match", &etag).send().await.expect("req");
    assert_eq!(response.status(), 304);
}

/// Exactly the limit is accepted; one byte more is 413 — announced or streamed — and nothing is left behind.
#[tokio::test]
async fn size_limit_is_enforced_at_exactly_max_plus_one() {
    let app = spawn_app_with("[uploads]\nmax_bytes = 4096").await;
    let token = user_token(&app, "limit@example.com").await;
    json_of(upload(&app, png(4096), "image/png").bearer_auth(&token).send().await.expect("req"), 201).await;
    let files_before = stored_files(&app).len();

    let response = upload(&app, png(4097), "image/png").bearer_auth(&token).send().await.expect("request");
    assert_problem(response, 413, "payload_too_large").await;

    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = png(4097).chunks(1000).map(|c| Ok(c.to_vec())).collect();
    let response = app
        .client
        .post(format!("{}/v1/uploads", app.http))
        .bearer_auth(&token)
        .header("content-type", "image/png")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .expect("request");
    assert_problem(response, 413, "payload_too_large").await;
    assert_eq!(stored_files(&app).len(), files_before, "a refused upload leaves no file");
}

/// Types are decided by the bytes: a PNG declared as PDF and a text file named `.jpg` are 415.
#[tokio::test]
async fn bytes_decide_the_type() {
    let app = spawn_app().await;
    let token = user_token(&app, "types@example.com").await;
    let response = upload(&app, png(2000), "application/pdf").bearer_auth(&token).send().await.expect("request");
    assert_problem(response, 415, "unsupported_media_type").await;

    let response = upload(&app, b"just some text, honestly not a JPEG".to_vec(), "image/jpeg")
        .bearer_auth(&token)
        .header("x-filename", "photo.jpg")
        .send()
        .await
        .expect("request");
    assert_problem(response, 415, "unsupported_media_type").await;

    let pdf =
        b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer << /Root 1 0 R >>\n".to_vec();
    let body = json_of(upload(&app, pdf, "application/pdf").bearer_auth(&token).send().await.expect("req"), 201).await;
    assert_eq!(body["content_type"], "application/pdf");
    let objects = app.state.settings.objects_dir();
    let leftovers: Vec<_> = stored_files(&app)
        .into_iter()
        .filter(|p| p.strip_prefix(&objects).is_ok_and(|r| r.starts_with(".tmp")))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files left: {leftovers:?}");
}

/// A digest that does not match the bytes is 400 `digest_mismatch`, and the upload is not kept (its bytes are
/// removed by the `uploads.remove_object` job moments later); a matching one is accepted.
#[tokio::test]
async fn digest_is_checked() {
    use base64::Engine;
    let app = spawn_app().await;
    let token = user_token(&app, "digest@example.com").await;
    let bytes = png(3000);
    let wrong = base64::engine::general_purpose::STANDARD.encode([0u8; 32]);
    let files_before = stored_files(&app).len();
    let response = upload(&app, bytes.clone(), "image/png")
        .bearer_auth(&token)
        .header("content-digest", format!("sha-256=:{wrong}:"))
        .send()
        .await
        .expect("request");
    assert_problem(response, 400, "digest_mismatch").await;
    settled(Deadline::ms(5_000, 50), async || stored_files(&app).len(), |files| *files == files_before).await;
    assert_eq!(stored_files(&app).len(), files_before, "the refused bytes are removed");

    let right = hex::encode(Sha256::digest(&bytes));
    let response = upload(&app, bytes, "image/png")
        .bearer_auth(&token)
        .header("x-checksum-sha256", right)
        .send()
        .await
        .expect("req");
    json_of(response, 201).await;
}

/// Upload tokens and access tokens are not interchangeable, an expired guest token is refused, and an
/// upload is visible only to its owner.
#[tokio::test]
async fn tokens_are_not_interchangeable_and_uploads_are_private() {
    let app = spawn_app().await;
    let alice = user_token(&app, "alice-up@example.com").await;
    let bob = user_token(&app, "bob-up@example.com").await;
    let guest = guest_token(&app).await;

    let response = upload(&app, png(100), "image/png").header("x-upload-token", &alice).send().await.expect("req");
    assert_problem(response, 401, "token_invalid").await;
    assert_problem(app.me(&guest).await, 401, "token_invalid").await;

    let keyring = app.state.secrets.keyring();
    let settings = app.state.settings.uploads.guest();
    let past = time::OffsetDateTime::now_utc() - time::Duration::hours(2);
    let (expired, _) = gantry_actors::uploads::guest_token::issue(&keyring, &settings, past);
    let response = upload(&app, png(100), "image/png").header("x-upload-token", &expired).send().await.expect("req");
    assert_problem(response, 401, "token_expired").await;

    let body = json_of(upload(&app, png(100), "image/png").bearer_auth(&alice).send().await.expect("req"), 201).await;
    let id = body["id"].as_str().expect("id");
    for path in [format!("/v1/uploads/{id}"), format!("/v1/uploads/{id}/content")] {
        let response = app.get(&path).bearer_auth(&bob).send().await.expect("request");
        assert_problem(response, 404, "upload_not_found").await;
        let response = app.get(&path).header("x-upload-token", &guest).send().await.expect("request");
        assert_problem(response, 404, "upload_not_found").await;
    }
    json_of(app.get(&format!("/v1/uploads/{id}")).bearer_auth(&alice).send().await.expect("req"), 200).await;
}

/// Delete removes the object from the store and the upload from the API.
#[tokio::test]
async fn delete_removes_the_object() {
    let app = spawn_app().await;
    let token = user_token(&app, "delete@example.com").await;
    let files_before = stored_files(&app).len();
    let body = json_of(upload(&app, png(1000), "image/png").bearer_auth(&token).send().await.expect("req"), 201).await;
    assert_eq!(stored_files(&app).len(), files_before + 1);
    let url = format!("{}/v1/uploads/{}", app.http, body["id"].as_str().expect("id"));
    assert_eq!(app.client.delete(&url).bearer_auth(&token).send().await.expect("req").status(), 204);
    assert_eq!(stored_files(&app).len(), files_before);
    assert_problem(app.client.get(&url).bearer_auth(&token).send().await.expect("req"), 404, "upload_not_found").await;
}

/// A client that disconnects mid-upload leaves nothing behind and its upload ends failed.
#[tokio::test]
async fn dropped_connection_leaves_nothing_behind() {
    let app = spawn_app().await;
    let token = user_token(&app, "drop@example.com").await;
    let files_before = stored_files(&app).len();
    let addr = app.http.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /v1/uploads HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: image/png\r\ncontent-length: 100000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(&png(20_000)).await.expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(stream);

    let counted = async || {
        crate::prometheus::value_or_zero(&app.metrics().await, "gantry_uploads_total{outcome=\"client_aborted\"}")
    };
    let aborted = poll(Deadline::ms(2_000, 20), counted, |aborted| *aborted >= 1.0).await.is_ok();
    assert!(aborted, "the aborted upload is counted");
    assert_eq!(stored_files(&app).len(), files_before, "no partial object or temporary file");
}

/// Beyond `uploads.max_in_flight`, uploads are refused with 503 and `Retry-After`.
#[tokio::test]
async fn uploads_beyond_capacity_get_503() {
    let app = spawn_app_with("[uploads]\nmax_in_flight = 1").await;
    let token = user_token(&app, "busy@example.com").await;
    let addr = app.http.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /v1/uploads HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: image/png\r\ncontent-length: 1000\r\n\r\n"
    );
    slow.write_all(head.as_bytes()).await.expect("write");
    slow.write_all(&png(10)).await.expect("write");
    let second = async || upload(&app, png(100), "image/png").bearer_auth(&token).send().await.expect("request");
    let response =
        eventually("second upload refused while the first is in flight", Deadline::ms(1_000, 10), second, |response| {
            response.status() == 503
        })
        .await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, 503, "overloaded").await;
}

/// Guest tokens are rate-limited per client address.
#[tokio::test]
async fn guest_tokens_are_rate_limited() {
    let app = spawn_app_with("[uploads]\nguest_tokens_per_address_per_hour = 2").await;
    guest_token(&app).await;
    guest_token(&app).await;
    let response = app.client.post(format!("{}/v1/uploads/guest-token", app.http)).send().await.expect("request");
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, 429, "too_many_requests").await;
}

/// An upload left `receiving` by a crash is swept: marked failed (job too) and its object removed (by the
/// removal job).
#[tokio::test]
async fn abandoned_uploads_are_swept() {
    use gantry_actors::ports::jobs::{Job, JobState};
    use gantry_actors::ports::objects::ObjectKey;
    use gantry_actors::ports::uploads::{UploadRecord, UploadStatus};
    let app = spawn_app_with("[uploads]\ntimeout_secs = 1\nabandon_after_secs = 2\nsweep_secs = 1").await;
    let id = uuid::Uuid::now_v7();
    let key = ObjectKey::parse(format!("uploads/{id}")).expect("key");
    let bytes: crate::helpers::ByteChunks = Box::pin(futures::stream::iter(vec![Ok(bytes::Bytes::from(png(100)))]));
    app.backends.objects.put(&key, bytes, Some(100), "image/png").await.expect("put");
    let record = UploadRecord {
        id,
        owner: "user:crashed".into(),
        object_key: key.as_str().into(),
        filename: None,
        content_type: "image/png".into(),
        size: 0,
        sha256: String::new(),
        status: UploadStatus::Receiving,
        error: None,
        created_at: time::OffsetDateTime::now_utc() - time::Duration::minutes(5),
        received_by: None,
    };
    app.backends.uploads.create_upload(&record).await.expect("record");
    app.backends.jobs.create(&Job { id, state: JobState::Running, ..Job::new("upload", None) }).await.expect("job");

    let probe = async || json_of(app.admin_get(&format!("/admin/jobs/{id}")).send().await.expect("request"), 200).await;
    let job = settled(Deadline::ms(6_000, 100), probe, |job| job["state"] == "discarded").await;
    assert_eq!(job["state"], "discarded", "{job}");
    assert_eq!(job["error"], "abandoned");
    // The object goes in the `uploads.remove_object` job stored with the failure, moments later.
    let object = removed(&app, &key).await;
    assert!(matches!(object, Err(gantry_actors::ports::objects::ObjectStoreError::NotFound)));
}

/// An upload that is still arriving when the sweep takes it for abandoned ends once: the sweep's failure
/// stands, the client that finishes sending afterwards hears 409 `upload_abandoned` instead of a 201 for bytes
/// that the failure's removal job deletes, and the object is gone. (In production the sweep does this to an
/// instance whose heartbeat went stale while it still receives; one process cannot be both, so the test writes
/// the sweep's own failure — the record failed `abandoned` with its `uploads.remove_object` job, through the
/// same port call — while the body is held back.)
#[tokio::test]
async fn an_upload_failed_by_the_sweep_is_not_stored_afterwards() {
    let app = spawn_app().await;
    let token = user_token(&app, "slow@example.com").await;
    let bytes = png(4000);
    let (head, tail) = (bytes[..1000].to_vec(), bytes[1000..].to_vec());
    let swept = std::sync::Arc::new(tokio::sync::Notify::new());
    let wait = std::sync::Arc::clone(&swept);
    let body = futures::stream::unfold((Some(head), Some(tail), wait), |(head, tail, wait)| async move {
        match (head, tail) {
            (Some(head), tail) => Some((Ok::<_, std::io::Error>(head), (None, tail, wait))),
            (None, Some(tail)) => {
                wait.notified().await;
                Some((Ok(tail), (None, None, wait)))
            }
            (None, None) => None,
        }
    });
    let sending = tokio::spawn(
        app.client
            .post(format!("{}/v1/uploads", app.http))
            .bearer_auth(&token)
            .header("content-type", "image/png")
            .body(reqwest::Body::wrap_stream(body))
            .send(),
    );
    // Its first bytes are in: the sweep fails it (as the sweep writes it), then the rest of the body arrives.
    let stale =
        async || app.backends.uploads.stale_uploads(time::OffsetDateTime::now_utc(), 10).await.expect("uploads");
    let mut receiving = settled(Deadline::ms(5_000, 50), stale, |receiving| !receiving.is_empty()).await;
    let record = receiving.pop().expect("the upload is receiving");
    let key = gantry_actors::ports::objects::ObjectKey::parse(record.object_key.clone()).expect("key");
    let failed = gantry_actors::ports::uploads::UploadRecord {
        status: gantry_actors::ports::uploads::UploadStatus::Failed,
        error: Some("abandoned".into()),
        ..record.clone()
    };
    let removal = gantry_actors::uploads::removal::remove_object_job(&key, record.id);
    assert!(app.backends.uploads.update_upload_enqueueing(&failed, &removal).await.expect("the sweep's write"));
    swept.notify_one();

    let response = sending.await.expect("task").expect("request");
    assert_problem(response, 409, "upload_abandoned").await;
    let stored = app.backends.uploads.get_upload(record.id).await.expect("get").expect("the record stays");
    assert_eq!(stored, failed, "the sweep's end stands");
    let object = removed(&app, &key).await;
    assert!(matches!(object, Err(gantry_actors::ports::objects::ObjectStoreError::NotFound)), "the bytes are removed");
}

/// A panic in the upload pipeline is survived: uploads work again after its restart.
#[tokio::test]
async fn upload_pipeline_restart_keeps_serving() {
    let app = spawn_app().await;
    let token = user_token(&app, "restart-up@example.com").await;
    app.state.pipeline.inject_panic().expect("message accepted");
    let attempt = async || {
        let response = upload(&app, png(500), "image/png").bearer_auth(&token).send().await.expect("request");
        if response.status() != 201 {
            assert_eq!(response.status(), 503, "only 503 while restarting");
        }
        response.status()
    };
    let stored = poll(Deadline::ms(2_000, 20), attempt, |status| *status == 201).await.is_ok();
    assert!(stored, "uploads work again after the restart");
}

/// A guest token allows `max_files` files; failed uploads do not count; beyond it, 403 `upload_quota_exceeded`.
#[tokio::test]
async fn guest_file_quota_is_enforced() {
    let app = spawn_app_with("[uploads]\nguest_max_files = 2").await;
    let token = guest_token(&app).await;
    let send = |bytes: Vec<u8>| upload(&app, bytes, "image/png").header("x-upload-token", &token).send();
    json_of(send(png(100)).await.expect("req"), 201).await;
    assert_problem(send(b"not an image at all".to_vec()).await.expect("req"), 415, "unsupported_media_type").await;
    json_of(send(png(100)).await.expect("req"), 201).await;
    assert_problem(send(png(100)).await.expect("req"), 403, "upload_quota_exceeded").await;
}

/// The attack: 16 parallel uploads with a 10-file guest token stored 16 (the quota was counted before each
/// upload), and delete-then-upload reset it. Now the quota is reserved atomically: at most 10 are stored, the
/// rest are 403 `upload_quota_exceeded`, and deleting a stored file does not free a place.
#[tokio::test]
async fn guest_quota_holds_under_parallel_uploads_and_deletes() {
    let app =
        spawn_app_with("[uploads]\nguest_max_files = 10\nmax_in_flight = 32\nmax_in_flight_per_client = 32").await;
    let token = guest_token(&app).await;
    let attempts = (0..16).map(|i| upload(&app, png(100 + i), "image/png").header("x-upload-token", &token).send());
    let responses = futures::future::join_all(attempts).await;
    let mut stored = Vec::new();
    for response in responses {
        let response = response.expect("request");
        match response.status().as_u16() {
            201 => stored.push(json_of(response, 201).await["id"].as_str().expect("id").to_owned()),
            _ => {
                assert_problem(response, 403, "upload_quota_exceeded").await;
            }
        }
    }
    assert_eq!(stored.len(), 10, "exactly the token's quota is stored");

    let deleted = app
        .client
        .delete(format!("{}/v1/uploads/{}", app.http, stored[0]))
        .header("x-upload-token", &token)
        .send()
        .await
        .expect("request");
    assert_eq!(deleted.status(), 204);
    let again = upload(&app, png(100), "image/png").header("x-upload-token", &token).send().await.expect("request");
    assert_problem(again, 403, "upload_quota_exceeded").await;
}

/// The local profile's data folder, database (with its WAL) and objects are the service user's alone: folders
/// 0700, files 0600, whatever the umask (other local users could read sessions, hashes and uploads before).
#[cfg(unix)]
#[tokio::test]
async fn local_data_is_created_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let app = crate::helpers::spawn_app_in(&data, "").await;
    let token = user_token(&app, "perms@example.com").await;
    let response = upload(&app, png(100), "image/png").bearer_auth(&token).send().await.expect("request");
    let body = json_of(response, 201).await;
    assert_eq!(body["status"], "stored");

    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "data folder");
    assert_eq!(mode(&app.state.settings.objects_dir()), 0o700, "objects folder");
    let db = app.state.settings.sqlite_path();
    assert_eq!(mode(&db), 0o600, "database file");
    let wal = db.with_extension(format!("{}-wal", db.extension().and_then(|e| e.to_str()).unwrap_or_default()));
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600, "WAL file");
    }
    let objects = stored_files(&app);
    assert!(!objects.is_empty(), "the upload is stored as a file");
    for object in objects {
        assert_eq!(mode(&object), 0o600, "{}", object.display());
    }
}

/// Starts an upload over a raw connection that sends its head and the first `sent` bytes of a PNG of
/// `declared` bytes, then nothing more: a stalled upload holding its slot.
async fn stalled_upload(app: &TestApp, token: &str, declared: usize, sent: usize) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let addr = app.http.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /v1/uploads HTTP/1.1\r\nhost: x\r\nx-upload-token: {token}\r\ncontent-type: image/png\r\ncontent-length: {declared}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(&png(declared)[..sent]).await.expect("first bytes");
    stream
}

/// The attack: an upload that sends its head and a few bytes, then nothing, held its upload slot for the whole
/// upload deadline (an hour). Now after `uploads.body_idle_timeout_secs` without a byte it is aborted with 408
/// `body_timeout`, nothing is kept, and the slot is free again.
#[tokio::test]
async fn stalled_upload_is_aborted_with_408_and_leaves_nothing() {
    use tokio::io::AsyncReadExt;
    let app = spawn_app_with("[uploads]\nbody_idle_timeout_secs = 1\nmax_in_flight = 1").await;
    let token = guest_token(&app).await;
    let mut stalled = stalled_upload(&app, &token, 100_000, 64).await;

    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(10), stalled.read(&mut answer)).await;
    let n = read.expect("the server answers a stalled upload").expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(stored_files(&app).is_empty(), "nothing is left behind: {:?}", stored_files(&app));

    // The only slot is free again: a complete upload goes through.
    let response = upload(&app, png(100), "image/png").header("x-upload-token", &token).send().await.expect("request");
    json_of(response, 201).await;
}

/// The attack: a few free guest tokens from one address opened stalled uploads until every upload slot was
/// taken, blocking uploads for everyone. Now one uploader or one address holds at most
/// `uploads.max_in_flight_per_client` uploads (429 `too_many_uploads` beyond), and a client at another address
/// still uploads.
#[tokio::test]
async fn one_client_cannot_hold_every_upload_slot() {
    let app = spawn_app_with("[uploads]\nmax_in_flight = 8\nmax_in_flight_per_client = 2").await;
    let first = guest_token(&app).await;
    let second = guest_token(&app).await;
    let _held = [stalled_upload(&app, &first, 100_000, 64).await, stalled_upload(&app, &second, 100_000, 64).await];
    // Give the server a moment to admit both before the next attempts.
    let third =
        async || upload(&app, png(100), "image/png").header("x-upload-token", &second).send().await.expect("req");
    let refused =
        eventually("the address's share is taken", Deadline::ms(1_000, 20), third, |response| response.status() == 429)
            .await;
    assert_eq!(refused.headers().get("retry-after").map(|v| v.to_str().expect("ascii")), Some("1"));
    assert_problem(refused, 429, "too_many_uploads").await;

    let elsewhere =
        reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 2])).build().expect("client");
    let grant =
        json_of(elsewhere.post(format!("{}/v1/uploads/guest-token", app.http)).send().await.expect("req"), 200).await;
    let token = grant["upload_token"].as_str().expect("token");
    let response = elsewhere
        .post(format!("{}/v1/uploads", app.http))
        .header("content-type", "image/png")
        .header("x-upload-token", token)
        .body(png(100))
        .send()
        .await
        .expect("request");
    json_of(response, 201).await;
}

/// The attack (issue 20 item 3): `/OpenAction` → `/S /JavaScript` inside a FlateDecode object stream indexed
/// by a compressed `/XRef` stream — no forbidden name in the raw bytes — was stored (201) and served back, as
/// were `/AA` with a `javascript:` URI, SubmitForm with an AcroForm and an `/EmbeddedFiles` name tree. Now the
/// whole PDF is parsed: each file of the corpus (every hiding place, benign files, unreadable ones) gets the
/// answer it must (415 `active_content`, 201, 415 `unreadable_pdf`), and nothing refused is kept.
#[tokio::test]
async fn pdf_corpus_is_parsed_not_grepped() {
    use crate::pdf_corpus::{Expect, corpus};
    let app = spawn_app().await;
    let token = user_token(&app, "pdf@example.com").await;
    let corpus = corpus();
    assert!(corpus.iter().filter(|c| c.expect == Expect::Active).count() >= 20, "at least 20 hiding places");
    let attack = corpus.iter().find(|c| c.name.starts_with("the issue's attack")).expect("the attack is there");
    for name in ["JavaScript", "JS", "OpenAction", "Launch", "EmbeddedFile"] {
        let raw = format!("/{name}");
        assert!(!attack.bytes.windows(raw.len()).any(|w| w == raw.as_bytes()), "{name} is not in the raw bytes");
    }

    let mut stored = 0;
    for case in corpus {
        let response = upload(&app, case.bytes, "application/pdf").bearer_auth(&token).send().await.expect("request");
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let got = (status, body["code"].as_str().map(str::to_owned));
        let want = match case.expect {
            Expect::Stored => (201, None),
            Expect::Active => (415, Some("active_content".to_owned())),
            Expect::Unreadable => (415, Some("unreadable_pdf".to_owned())),
        };
        assert_eq!(got, want, "{}: {body}", case.name);
        if case.expect == Expect::Stored {
            assert_eq!(body["content_type"], "application/pdf", "{}", case.name);
            stored += 1;
        }
    }
    assert_eq!(stored_files(&app).len(), stored, "only the benign files are kept: {:?}", stored_files(&app));
}

/// A PDF larger than `uploads.pdf_max_bytes` (it is held in memory for the check) is refused with 413 the
/// moment it passes the limit, even when `uploads.max_bytes` allows more; a PNG of that size is still stored.
#[tokio::test]
async fn pdfs_are_bounded_by_their_own_limit() {
    let app = spawn_app_with("[uploads]\npdf_max_bytes = 4096").await;
    let token = user_token(&app, "bigpdf@example.com").await;
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.resize(5000, b' ');
    let response = upload(&app, pdf, "application/pdf").bearer_auth(&token).send().await.expect("request");
    assert_problem(response, 413, "payload_too_large").await;
    let response = upload(&app, png(5000), "image/png").bearer_auth(&token).send().await.expect("request");
    json_of(response, 201).await;
}

/// The attack: PNG bytes uploaded as `photo.html` were served as `photo.html`, which a browser or desktop may
/// open as HTML. Now the served name's extension follows the detected type: `photo.png`.
#[tokio::test]
async fn served_filename_extension_matches_the_bytes() {
    let app = spawn_app().await;
    let token = user_token(&app, "names@example.com").await;
    let response = upload(&app, png(100), "image/png")
        .bearer_auth(&token)
        .header("x-filename", "photo.html")
        .send()
        .await
        .expect("request");
    let body = json_of(response, 201).await;
    assert_eq!(body["filename"], "photo.png");
    let id = body["id"].as_str().expect("id");
    let download =
        app.client.get(format!("{}/v1/uploads/{id}/content", app.http)).bearer_auth(&token).send().await.expect("req");
    let disposition = download.headers()["content-disposition"].to_str().expect("ascii").to_owned();
    assert!(disposition.contains("filename=\"photo.png\""), "{disposition}");
}

/// The guest token advertises the limit that is enforced: with `uploads.max_bytes` below
/// `uploads.guest_max_bytes`, both the answer and the token say `uploads.max_bytes`, and a larger upload is
/// refused with 413.
#[tokio::test]
async fn guest_token_advertises_the_enforced_limit() {
    let app = spawn_app_with("[uploads]\nmax_bytes = 1000").await;
    let response = app.client.post(format!("{}/v1/uploads/guest-token", app.http)).send().await.expect("request");
    let body = json_of(response, 200).await;
    assert_eq!(body["max_bytes"], 1000, "{body}");
    let token = body["upload_token"].as_str().expect("token");
    let refused = upload(&app, vec![0u8; 1001], "image/png").header("x-upload-token", token).send().await.unwrap();
    assert_problem(refused, 413, "payload_too_large").await;
}
