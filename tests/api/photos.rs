//! Photo variants of image uploads (the `uploads.photo` job): metadata stripped from every variant (checked by
//! a real EXIF reader), sizes by long side, the original byte-exact for its owner, a decompression bomb
//! discarded without the process's memory growing past the decoder limit, and the download answers while a
//! variant is pending, unknown, or not an image.

use serde_json::Value;

use crate::eventually::Deadline;
use crate::helpers::{ADMIN_TOKEN, JWT, TestApp, UPLOAD, access, assert_problem, json_of, spawn_app, spawn_app_with};
use crate::test_photos::{exif_of, jpeg_with_gps};

/// A 20,000 × 20,000 px greyscale PNG of a few KiB: 400 MB of pixels once decoded to 8 bits (1 bit each in
/// the file, all zero, so deflate shrinks the rows to almost nothing).
fn png_bomb() -> Vec<u8> {
    let side = 20_000u32;
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    encoder.set_compression(png::Compression::Balanced);
    let mut writer = encoder.write_header().unwrap();
    {
        let mut stream = writer.stream_writer().unwrap();
        let row = vec![0u8; (side / 8) as usize];
        for _ in 0..side {
            std::io::Write::write_all(&mut stream, &row).unwrap();
        }
        stream.finish().unwrap();
    }
    writer.finish().unwrap();
    bytes
}

async fn user_token(app: &TestApp, email: &str) -> String {
    app.register(email).await;
    access(&app.login(email).await).to_owned()
}

/// Uploads `bytes` as the user; returns the upload's JSON.
async fn upload(client: &reqwest::Client, http: &str, token: &str, bytes: Vec<u8>, name: &str) -> Value {
    let response = client
        .post(format!("{http}/v1/uploads"))
        .bearer_auth(token)
        .header("x-filename", name)
        .body(bytes)
        .send()
        .await
        .expect("request");
    json_of(response, 201).await
}

/// Polls the upload's metadata until no variant is pending.
async fn wait_for_variants(client: &reqwest::Client, http: &str, token: &str, id: &str) -> Value {
    let upload = async || {
        let response = client.get(format!("{http}/v1/uploads/{id}")).bearer_auth(token).send().await.expect("request");
        json_of(response, 200).await
    };
    let settled = |upload: &Value| {
        let variants = upload["variants"].as_array().expect("variants");
        !variants.is_empty() && variants.iter().all(|v| v["state"] != "pending")
    };
    crate::eventually::eventually("the variants stayed pending", Deadline::ms(60_000, 100), upload, settled).await
}

fn content(app: &TestApp, token: &str, id: &str, query: &str) -> reqwest::RequestBuilder {
    app.client.get(format!("{}/v1/uploads/{id}/content{query}", app.http)).bearer_auth(token)
}

/// A JPEG with GPS in its EXIF (and an XMP packet) comes out of every variant without any EXIF or XMP, each
/// at its long side (never upscaled), while its owner still downloads the original byte for byte.
#[tokio::test]
async fn a_jpeg_with_gps_exif_comes_out_of_every_variant_without_metadata() {
    let app = spawn_app().await;
    let token = user_token(&app, "photographer@example.com").await;
    let original = jpeg_with_gps(1600, 1000);
    let exif = exif_of(&original).expect("the original has EXIF");
    assert!(exif.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY).is_some(), "the original has GPS");
    assert!(exif.get_field(exif::Tag::GPSLongitude, exif::In::PRIMARY).is_some(), "the original has GPS");

    let created = upload(&app.client, &app.http, &token, original.clone(), "harvester.jpg").await;
    let id = created["id"].as_str().expect("id");
    let names: Vec<_> = created["variants"].as_array().expect("variants").iter().map(|v| v["name"].clone()).collect();
    assert_eq!(names, ["320", "1280", "full"], "{created}");

    let done = wait_for_variants(&app.client, &app.http, &token, id).await;
    for (variant, (width, height)) in [("320", (320, 200)), ("1280", (1280, 800)), ("full", (1600, 1000))] {
        let listed = done["variants"].as_array().unwrap().iter().find(|v| v["name"] == variant).expect("listed");
        assert_eq!(listed["state"], "ready", "{done}");
        assert_eq!((listed["width"].as_u64(), listed["height"].as_u64()), (Some(width), Some(height)));
        let response = content(&app, &token, id, &format!("?variant={variant}")).send().await.expect("request");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "image/jpeg");
        let bytes = response.bytes().await.expect("body");
        assert!(exif_of(&bytes).is_none(), "variant {variant} has no EXIF");
        for marker in [&b"Exif\0\0"[..], b"GantryCam", b"ns.adobe.com", b"GPSLatitude"] {
            assert!(!bytes.windows(marker.len()).any(|w| w == marker), "variant {variant} carries {marker:?}");
        }
        let decoded = image::load_from_memory(&bytes).expect("a decodable image");
        assert_eq!((u64::from(decoded.width()), u64::from(decoded.height())), (width, height), "variant {variant}");
        assert_eq!(listed["size"].as_u64(), Some(bytes.len() as u64));
    }

    let response = content(&app, &token, id, "").send().await.expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.expect("body").as_ref(), original.as_slice(), "the original is byte-exact");
    let jobs = json_of(app.admin_get("/admin/jobs?kind=uploads.photo").send().await.expect("request"), 200).await;
    assert_eq!(jobs["jobs"][0]["state"], "completed", "{jobs}");
}

/// A small image is never upscaled: its `1280` variant keeps the original's size.
#[tokio::test]
async fn a_small_image_is_not_upscaled() {
    let app = spawn_app().await;
    let token = user_token(&app, "small@example.com").await;
    let created = upload(&app.client, &app.http, &token, jpeg_with_gps(400, 300), "small.jpg").await;
    let id = created["id"].as_str().expect("id");
    let done = wait_for_variants(&app.client, &app.http, &token, id).await;
    let sizes: Vec<_> =
        done["variants"].as_array().unwrap().iter().map(|v| (v["width"].clone(), v["height"].clone())).collect();
    assert_eq!(sizes, [(320.into(), 240.into()), (400.into(), 300.into()), (400.into(), 300.into())], "{done}");
}

/// With the poll a minute away (60 s), a photo's variants are made well within 10 s: the `uploads.photo` job,
/// enqueued inside the upload's own transaction, wakes the runner once that transaction commits.
#[tokio::test]
async fn a_photo_job_enqueued_with_its_upload_wakes_the_runner() {
    let app = spawn_app_with("[jobs]\npoll_ms = 60000\n").await;
    let token = user_token(&app, "woken@example.com").await;
    let created = upload(&app.client, &app.http, &token, jpeg_with_gps(400, 300), "woken.jpg").await;
    let id = created["id"].as_str().expect("id");
    let probe = async || {
        let response =
            app.client.get(format!("{}/v1/uploads/{id}", app.http)).bearer_auth(&token).send().await.expect("request");
        json_of(response, 200).await
    };
    let ready = |upload: &Value| {
        let variants = upload["variants"].as_array().expect("variants");
        !variants.is_empty() && variants.iter().all(|v| v["state"] == "ready")
    };
    crate::eventually::eventually("the variants waited for the poll", Deadline::ms(10_000, 50), probe, ready).await;
}

/// While the media queue does not run (concurrency 0), a variant answers 409 `processing` with
/// `Retry-After` and the metadata lists it pending; an unknown variant name and any variant of a PDF are 404
/// `variant_not_found`; another user's upload stays 404 `upload_not_found`.
#[tokio::test]
async fn pending_unknown_and_non_image_variants_answer_their_codes() {
    let app = spawn_app_with("[photos]\nconcurrency = 0").await;
    let token = user_token(&app, "waiting@example.com").await;
    let created = upload(&app.client, &app.http, &token, jpeg_with_gps(64, 48), "tiny.jpg").await;
    let id = created["id"].as_str().expect("id");
    let states: Vec<_> = created["variants"].as_array().unwrap().iter().map(|v| v["state"].clone()).collect();
    assert_eq!(states, ["pending", "pending", "pending"]);

    let response = content(&app, &token, id, "?variant=320").send().await.expect("request");
    assert!(response.headers().contains_key("retry-after"), "a pending variant says when to ask again");
    assert_problem(response, 409, "processing").await;
    let response = content(&app, &token, id, "?variant=640").send().await.expect("request");
    assert_problem(response, 404, "variant_not_found").await;
    let response = content(&app, &token, id, "").send().await.expect("request");
    assert_eq!(response.status(), 200, "the original is there at once");

    let pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec();
    let document = upload(&app.client, &app.http, &token, pdf, "manual.pdf").await;
    assert_eq!(document["variants"], serde_json::json!([]), "a PDF gets no variants");
    let pdf_id = document["id"].as_str().expect("id");
    for variant in ["320", "full"] {
        let response = content(&app, &token, pdf_id, &format!("?variant={variant}")).send().await.expect("request");
        assert_problem(response, 404, "variant_not_found").await;
    }

    let other = user_token(&app, "someone-else@example.com").await;
    let response = content(&app, &other, id, "?variant=320").send().await.expect("request");
    assert_problem(response, 404, "upload_not_found").await;
    let jobs = json_of(app.admin_get("/admin/jobs?kind=uploads.photo").send().await.expect("request"), 200).await;
    assert_eq!(jobs["jobs"][0]["state"], "available", "enqueued with the upload, waiting for a media worker");
}

/// The peak resident memory (`VmHWM`) of process `pid`, bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib * 1024
}

/// A 20,000 × 20,000 px PNG bomb (a few KiB) uploaded to a real `gantry` process with a 64 MiB decoder limit:
/// its photo job is discarded with a clear error, its variants answer 422 `variant_failed`, and the process's
/// peak RSS stays below its baseline plus the decoder limit (decoding it would take 400 MB).
#[tokio::test]
async fn a_png_bomb_is_discarded_without_memory_growing_past_the_decoder_limit() {
    const DECODER_LIMIT: u64 = 64 * 1024 * 1024;
    let bomb = png_bomb();
    assert!(bomb.len() < 1024 * 1024, "the bomb is tiny on disk ({} bytes)", bomb.len());

    let dir = tempfile::tempdir().unwrap();
    let mut process = crate::helpers::spawn_process(dir.path(), |command| {
        command
            .env("GANTRY_LOG", "warn")
            .env("JWT_SECRET", JWT)
            .env("UPLOAD_GUEST_TOKEN_SECRET", UPLOAD)
            .env("GANTRY_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("GANTRY_CATALOG__SEED_ON_FIRST_START", "false")
            // The memory limit, not the pixel limit, is what stops this bomb.
            .env("GANTRY_PHOTOS__MAX_PIXELS", "1000000000")
            .env("GANTRY_PHOTOS__MAX_DECODER_BYTES", DECODER_LIMIT.to_string());
    })
    .await;
    let (http, admin) = (process.http.clone(), process.admin.clone());
    let client = reqwest::Client::new();
    let credentials = serde_json::json!({"email": "bomber@example.com", "password": crate::helpers::PASSWORD});
    let registered = client.post(format!("{http}/v1/auth/register")).json(&credentials).send().await.unwrap();
    assert_eq!(registered.status(), 201);
    let pair =
        json_of(client.post(format!("{http}/v1/auth/login")).json(&credentials).send().await.unwrap(), 200).await;
    let token = access(&pair).to_owned();
    let baseline = peak_rss(process.child.id());

    let created = upload(&client, &http, &token, bomb, "bomb.png").await;
    let id = created["id"].as_str().expect("id");
    let done = wait_for_variants(&client, &http, &token, id).await;
    for variant in done["variants"].as_array().unwrap() {
        assert_eq!(variant["state"], "failed", "{done}");
        assert!(variant["error"].as_str().unwrap().starts_with("decoder_memory_limit: "), "{done}");
    }
    let response = client.get(format!("{http}/v1/uploads/{id}/content?variant=1280")).bearer_auth(&token).send();
    let problem = assert_problem(response.await.unwrap(), 422, "variant_failed").await;
    assert!(problem["detail"].as_str().unwrap().contains("decoder limit"), "{problem}");
    let jobs = client.get(format!("{admin}/admin/jobs?kind=uploads.photo")).bearer_auth(ADMIN_TOKEN).send();
    let jobs = json_of(jobs.await.unwrap(), 200).await;
    assert_eq!(jobs["jobs"][0]["state"], "discarded", "{jobs}");
    let error = jobs["jobs"][0]["error"].as_str().unwrap();
    assert!(error.contains("400000000 bytes") && error.contains("decoder limit of 67108864 bytes"), "{error}");

    let peak = peak_rss(process.child.id());
    assert!(process.child.try_wait().unwrap().is_none(), "the process is still running");
    assert_eq!(client.get(format!("{http}/healthz")).send().await.unwrap().status(), 200);
    drop(process);
    assert!(
        peak < baseline + DECODER_LIMIT,
        "peak RSS {peak} bytes went past the baseline {baseline} plus the decoder limit {DECODER_LIMIT}"
    );
}
