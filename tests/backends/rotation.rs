//! Secret rotation on the production profile: two instances sharing secret files, Postgres, Redis, RabbitMQ
//! and an S3-compatible store. Part of the `production` suite (needs every backend variable).

use std::time::Duration;

use gantry_actors::secrets::Fingerprint;
use serde_json::{Value, json};

use crate::production::{
    ADMIN, Backends, JWT, backends, free_port, json as json_of, production_toml, readiness, register_and_login, s3s_fs,
};
use crate::rotation_fleet::{Files, Instance, follow, me, rotate};
use crate::support::with_fresh_database;

const NEW_JWT: &str = "Vb7Nq2Lx9Rt4Kw8Mz3Hc6Jp1Df5Gs0Ya";

async fn instance(
    database: &secrecy::SecretString,
    b: &Backends,
    files: &Files,
    exchange: &str,
    bucket: &str,
    extra: &str,
) -> Instance {
    crate::rotation_fleet::instance(&production_toml(database, b, exchange, bucket, extra), files).await
}

async fn current_jwt(admin: &str) -> Value {
    let secrets = json_of(
        reqwest::Client::new().get(format!("{admin}/admin/secrets")).bearer_auth(ADMIN).send().await.expect("req"),
        200,
    )
    .await;
    secrets["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .find(|s| s["name"] == "JWT_SECRET" && s["state"] == "current")
        .expect("current JWT_SECRET")["fingerprint"]
        .clone()
}

/// Two instances sharing secret files, a bus exchange and a bucket (the fleet of most tests here).
async fn two_instances(database: &secrecy::SecretString, b: &Backends) -> (Files, Instance, Instance) {
    let files = Files::new(&b.s3_key_id, &b.s3_secret);
    let (exchange, bucket) = (exchange(), format!("gantry-rot-{}", uuid::Uuid::new_v4().simple()));
    let a = instance(database, b, &files, &exchange, &bucket, "").await;
    let c = instance(database, b, &files, &exchange, &bucket, "").await;
    (files, a, c)
}

fn exchange() -> String {
    format!("gantry.events.test-{}", uuid::Uuid::new_v4().simple())
}

/// A full `JWT_SECRET` rotation started on A: both instances acknowledge every step, old tokens are refused
/// on both afterwards, and a login on B gives a token that A accepts.
#[tokio::test]
async fn jwt_rotation_reaches_every_instance() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let (files, a, c) = two_instances(&database, &b).await;
        let client = reqwest::Client::new();
        let old_a = register_and_login(&client, &a.http, "fleet-a@example.com").await;
        let old_c = register_and_login(&client, &c.http, "fleet-c@example.com").await;
        files.write("jwt", NEW_JWT);

        let started = client
            .post(format!("{}/admin/secrets/rotate", a.admin))
            .bearer_auth(ADMIN)
            .json(&json!({"deployment_id": "prod-1", "commit_sha": "0badc0de"}))
            .send()
            .await
            .expect("req");
        let id = json_of(started, 202).await["job_id"].as_str().expect("job id").to_owned();
        let second = client
            .post(format!("{}/admin/secrets/rotate", c.admin))
            .bearer_auth(ADMIN)
            .json(&json!({}))
            .send()
            .await
            .expect("req");
        let conflict = json_of(second, 409).await;
        assert_eq!(conflict["code"], "rotation_in_progress", "one rotation at a time across instances");
        let (job, record) = follow(&a.admin, &id).await;
        assert_eq!(job["state"], "completed", "{job}");
        assert_eq!(
            record["detail"]["changes"].as_object().expect("changes").len(),
            2,
            "both instances changed: {record}"
        );
        for (http, token) in [(&a.http, &old_a), (&c.http, &old_a), (&a.http, &old_c), (&c.http, &old_c)] {
            assert_eq!(me(http, token).await, 401, "an old token is refused on {http}");
        }
        let creds = json!({"email": "fleet-c@example.com", "password": crate::production::PASSWORD});
        let pair =
            json_of(client.post(format!("{}/v1/auth/login", c.http)).json(&creds).send().await.expect("req"), 200)
                .await;
        let new = pair["access_token"].as_str().expect("token");
        assert_eq!(me(&a.http, new).await, 200, "A accepts a token B signed with the new key");
        for admin in [&a.admin, &c.admin] {
            assert_eq!(current_jwt(admin).await, Fingerprint::of(NEW_JWT).as_str());
        }
        let _ = a.stop.send(());
        let _ = c.stop.send(());
    })
    .await;
}

/// Two rotation requests on two instances at the same moment: the database's unique key lets exactly one
/// start (202) and the other is 409 `rotation_in_progress` naming it; once it finished, the next one starts.
#[tokio::test]
async fn simultaneous_rotations_on_two_instances_start_exactly_one() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let (files, a, c) = two_instances(&database, &b).await;
        files.write("jwt", NEW_JWT);
        let client = reqwest::Client::new();
        let post = |admin: String| {
            let client = client.clone();
            async move {
                let response = client
                    .post(format!("{admin}/admin/secrets/rotate"))
                    .bearer_auth(ADMIN)
                    .json(&json!({}))
                    .send()
                    .await
                    .expect("req");
                let status = response.status().as_u16();
                (status, response.json::<Value>().await.expect("json"), admin)
            }
        };
        let (first, second) = tokio::join!(post(a.admin.clone()), post(c.admin.clone()));
        let mut answers = [first, second];
        answers.sort_by_key(|(status, _, _)| *status);
        let [(accepted, body, admin), (refused, problem, _)] = answers;
        assert_eq!((accepted, refused), (202, 409), "{body} / {problem}");
        assert_eq!(problem["code"], "rotation_in_progress");
        let id = body["job_id"].as_str().expect("job id").to_owned();
        let (job, _) = follow(&admin, &id).await;
        assert_eq!(job["state"], "completed", "{job}");

        files.write("jwt", JWT);
        let (status, body, _) = post(c.admin.clone()).await;
        assert_eq!(status, 202, "the lock is free once the rotation finished: {body}");
        let (job, _) = follow(&c.admin, body["job_id"].as_str().expect("job id")).await;
        assert_eq!(job["state"], "completed", "{job}");
        let _ = a.stop.send(());
        let _ = c.stop.send(());
    })
    .await;
}

/// An instance that is alive (its heartbeat is in the database) but does not take part (it listens on
/// another exchange) fails the rotation at stage; everything is put back: A still signs and verifies with
/// the old key and has nothing staged.
#[tokio::test]
async fn an_instance_that_does_not_acknowledge_fails_the_rotation() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let files = Files::new(&b.s3_key_id, &b.s3_secret);
        let bucket = format!("gantry-rot-{}", uuid::Uuid::new_v4().simple());
        let extra = "[rotation]\nack_timeout_secs = 2";
        let a = instance(&database, &b, &files, &exchange(), &bucket, extra).await;
        let deaf = instance(&database, &b, &files, &exchange(), &bucket, extra).await;
        let client = reqwest::Client::new();
        let old = register_and_login(&client, &a.http, "deaf@example.com").await;
        files.write("jwt", NEW_JWT);

        let (job, record) = rotate(&a.admin, &json!({})).await;
        assert_eq!(job["state"], "discarded", "{job}");
        assert_eq!(record["failed_step"], "stage");
        assert!(record["reason"].as_str().expect("reason").contains("no stage acknowledgement"), "{record}");
        let steps: Vec<&str> = job["progress"]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| s["name"].as_str().expect("name"))
            .collect();
        assert_eq!(steps.last(), Some(&"restore"));
        assert_eq!(current_jwt(&a.admin).await, Fingerprint::of(JWT).as_str());
        let secrets = json_of(
            client.get(format!("{}/admin/secrets", a.admin)).bearer_auth(ADMIN).send().await.expect("req"),
            200,
        )
        .await;
        assert!(!secrets.to_string().contains("\"pending\""), "nothing left staged: {secrets}");
        assert_eq!(me(&a.http, &old).await, 200);
        let _ = a.stop.send(());
        let _ = deaf.stop.send(());
    })
    .await;
}

/// S3 credential rotation against `s3s-fs` restarted with new keys: the rotation checks the new keys against
/// the bucket, uploads work with them (the smoke test uploads and downloads), and an object stored before the
/// rotation can still be read.
#[tokio::test]
async fn s3_credentials_rotate_to_a_store_restarted_with_new_keys() {
    let Some(mut b) = backends() else { return };
    with_fresh_database(|database| async move {
        let port = free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let (old_key, old_secret) = ("gantryoldkey", "Mx4Nc8Vb2Zl6Kj1Hg5Fd9Sa3Qw7Er0Ty2Ui6Op");
        let (new_key, new_secret) = ("gantrynewkey", "Pw9Ol3Ik7Uj1Yh5Tg8Rf2Ed6Ws0Qa4Zx8Cv3Bn");
        let mut store = s3s_fs(port, dir.path(), old_key, old_secret);
        tokio::time::sleep(Duration::from_millis(300)).await;
        b.s3_endpoint = format!("http://127.0.0.1:{port}");
        let files = Files::new(old_key, old_secret);
        let bucket = format!("gantry-s3rot-{}", uuid::Uuid::new_v4().simple());
        let a = instance(&database, &b, &files, &exchange(), &bucket, "").await;
        readiness(&a.http, |v| v["components"]["object_store"]["status"] == "up").await;
        let client = reqwest::Client::new();
        let grant =
            json_of(client.post(format!("{}/v1/uploads/guest-token", a.http)).send().await.expect("req"), 200).await;
        let token = grant["upload_token"].as_str().expect("token").to_owned();
        let png: Vec<u8> = b"\x89PNG\r\n\x1a\n".iter().copied().chain(std::iter::repeat_n(3u8, 1024)).collect();
        let stored = client
            .post(format!("{}/v1/uploads", a.http))
            .header("x-upload-token", &token)
            .header("content-type", "image/png")
            .body(png.clone())
            .send()
            .await
            .expect("req");
        let stored = json_of(stored, 201).await;

        store.kill().expect("stop s3s-fs");
        let _ = store.wait();
        let mut store = s3s_fs(port, dir.path(), new_key, new_secret);
        tokio::time::sleep(Duration::from_millis(300)).await;
        files.write("s3_key", new_key);
        files.write("s3_secret", new_secret);

        let (job, record) = rotate(&a.admin, &json!({"deployment_id": "s3-keys"})).await;
        assert_eq!(job["state"], "completed", "{job}");
        assert_eq!(record["detail"]["invalidate_sessions"], false);
        let pending = record["detail"]["smoke"]["pending"].as_array().expect("pending checks");
        assert!(
            pending.iter().any(|c| c["name"].as_str().unwrap_or("").starts_with("S3") && c["ok"] == true),
            "{record}"
        );
        let content = client
            .get(format!("{}/v1/uploads/{}/content", a.http, stored["id"].as_str().expect("id")))
            .header("x-upload-token", &token)
            .send()
            .await
            .expect("req");
        assert_eq!(content.status(), 200);
        assert_eq!(content.bytes().await.expect("bytes").as_ref(), png.as_slice());
        let _ = a.stop.send(());
        store.kill().expect("stop s3s-fs");
        let _ = store.wait();
    })
    .await;
}

/// Without invalidation, on both instances: tokens of the old key are accepted within the grace window and
/// refused after it; a guest token issued by one instance before an upload-secret rotation still uploads on
/// the other.
#[tokio::test]
async fn grace_window_and_outstanding_guest_tokens_on_two_instances() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let files = Files::new(&b.s3_key_id, &b.s3_secret);
        let (exchange, bucket) = (exchange(), format!("gantry-rot-{}", uuid::Uuid::new_v4().simple()));
        let extra = "[sessions]\nprevious_key_grace_secs = 2";
        let a = instance(&database, &b, &files, &exchange, &bucket, extra).await;
        let c = instance(&database, &b, &files, &exchange, &bucket, extra).await;
        let client = reqwest::Client::new();
        let old = register_and_login(&client, &a.http, "grace@example.com").await;
        let grant =
            json_of(client.post(format!("{}/v1/uploads/guest-token", c.http)).send().await.expect("req"), 200).await;
        let guest = grant["upload_token"].as_str().expect("token").to_owned();
        files.write("jwt", NEW_JWT);
        files.write("upload", "Xe3Tm8Qa5Wd1Ln7Ry4Ub9Kc2Hg6Fz0Sp");

        let (job, _) = rotate(&a.admin, &json!({"invalidate_sessions": false})).await;
        assert_eq!(job["state"], "completed", "{job}");
        assert_eq!(me(&a.http, &old).await, 200, "A: within the grace window");
        assert_eq!(me(&c.http, &old).await, 200, "B: within the grace window");
        let png: Vec<u8> = b"\x89PNG\r\n\x1a\n".iter().copied().chain(std::iter::repeat_n(5u8, 256)).collect();
        let upload = client
            .post(format!("{}/v1/uploads", a.http))
            .header("x-upload-token", &guest)
            .header("content-type", "image/png")
            .body(png)
            .send()
            .await
            .expect("req");
        assert_eq!(upload.status(), 201, "B's guest token of the old upload secret uploads on A");
        tokio::time::sleep(Duration::from_millis(2200)).await;
        assert_eq!(me(&a.http, &old).await, 401, "A: after the grace window");
        assert_eq!(me(&c.http, &old).await, 401, "B: after the grace window");
        let _ = a.stop.send(());
        let _ = c.stop.send(());
    })
    .await;
}

/// On two instances: a weak new value is refused at validate with nothing staged anywhere; a smoke test that
/// fails (a configured smoke account with a wrong password) puts both instances back, and the evidence says
/// which step failed and why.
#[tokio::test]
async fn failed_rotations_leave_both_instances_as_they_were() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let files = Files::new(&b.s3_key_id, &b.s3_secret);
        let (exchange, bucket) = (exchange(), format!("gantry-rot-{}", uuid::Uuid::new_v4().simple()));
        // Either instance's runner may claim the job: both log in as an account that does not exist.
        let smoke = "smoke_email = \"nobody@example.com\"\nsmoke_password = \"not-the-password-1\"";
        let a = instance(&database, &b, &files, &exchange, &bucket, smoke).await;
        let c = instance(&database, &b, &files, &exchange, &bucket, smoke).await;
        let client = reqwest::Client::new();
        let old = register_and_login(&client, &c.http, "steady@example.com").await;

        files.write("jwt", "short");
        let (job, record) = rotate(&a.admin, &json!({})).await;
        assert_eq!((job["state"].as_str(), record["failed_step"].as_str()), (Some("discarded"), Some("validate")));
        assert!(!record.to_string().contains("\"short\""));

        files.write("jwt", NEW_JWT);
        let (job, record) = rotate(&a.admin, &json!({})).await;
        assert_eq!(job["state"], "discarded", "{job}");
        assert_eq!(record["failed_step"], "smoke");
        assert!(record["reason"].as_str().expect("reason").contains("login"), "{record}");
        for admin in [&a.admin, &c.admin] {
            assert_eq!(current_jwt(admin).await, Fingerprint::of(JWT).as_str());
            let secrets = json_of(
                client.get(format!("{admin}/admin/secrets")).bearer_auth(ADMIN).send().await.expect("req"),
                200,
            )
            .await;
            assert!(!secrets.to_string().contains("\"pending\""), "nothing left staged on {admin}: {secrets}");
        }
        assert_eq!(me(&a.http, &old).await, 200);
        assert_eq!(me(&c.http, &old).await, 200);
        let _ = a.stop.send(());
        let _ = c.stop.send(());
    })
    .await;
}

/// An instance whose secret files were not updated (its own copy still holds the old value) acknowledges
/// with nothing staged (or, running the job itself, finds nothing to rotate): the rotation fails instead of
/// leaving that instance on the old key.
#[tokio::test]
async fn an_instance_with_stale_files_fails_the_rotation() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let files = Files::new(&b.s3_key_id, &b.s3_secret);
        let stale = Files::new(&b.s3_key_id, &b.s3_secret);
        let (exchange, bucket) = (exchange(), format!("gantry-rot-{}", uuid::Uuid::new_v4().simple()));
        let a = instance(&database, &b, &files, &exchange, &bucket, "").await;
        let c = instance(&database, &b, &stale, &exchange, &bucket, "").await;
        files.write("jwt", NEW_JWT);
        let (job, record) = rotate(&a.admin, &json!({})).await;
        assert_eq!(job["state"], "discarded", "{job}");
        // Whichever instance's runner claims it: A validates and C's stage does not hold the new value, or C
        // validates its own (stale) files and finds nothing to rotate. Either way nothing changes anywhere.
        let reason = record["reason"].as_str().expect("reason");
        match record["failed_step"].as_str() {
            Some("stage") => assert!(reason.contains("did not stage the validated JWT_SECRET"), "{record}"),
            Some("validate") => assert!(reason.contains("nothing to rotate"), "{record}"),
            other => panic!("failed at {other:?}: {record}"),
        }
        for admin in [&a.admin, &c.admin] {
            assert_eq!(current_jwt(admin).await, Fingerprint::of(JWT).as_str());
        }
        let _ = a.stop.send(());
        let _ = c.stop.send(());
    })
    .await;
}
