use crate::helpers::spawn_app;

/// With no services at all, the embedded profile is alive.
#[tokio::test]
async fn healthz_answers_ok_with_no_services() {
    let app = spawn_app().await;
    let response = app.get("/healthz").send().await.expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), "ok\n");
}

/// `/readyz` names every component with its backend and says the embedded profile is ready.
#[tokio::test]
async fn readyz_reports_each_component_of_the_local_profile() {
    let app = spawn_app().await;
    let response = app.get("/readyz").send().await.expect("request");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["profile"], "local");
    let expected = [
        ("database", "sqlite"),
        ("cache", "memory"),
        ("object_store", "fs"),
        ("bus", "memory"),
        ("secret_store", "actor"),
    ];
    for (component, backend) in expected {
        assert_eq!(body["components"][component]["backend"], backend, "{component}: {body}");
        assert_eq!(body["components"][component]["status"], "up", "{component}: {body}");
    }
}

/// A client's request id is echoed back; without one the server makes one up.
#[tokio::test]
async fn request_id_is_echoed_or_generated() {
    let app = spawn_app().await;
    let response = app.get("/healthz").header("x-request-id", "abc-123").send().await.expect("request");
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    let response = app.get("/healthz").send().await.expect("request");
    let generated = response.headers()["x-request-id"].to_str().expect("ascii");
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");
}

/// HTTP/2 (prior knowledge) is served too.
#[tokio::test]
async fn http2_is_served() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder().http2_prior_knowledge().build().expect("client");
    let response = client.get(format!("{}/healthz", app.http)).send().await.expect("h2 request");
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), 200);
}

/// Unknown jobs are 404 `job_not_found`, whether the id is well-formed or not.
#[tokio::test]
async fn unknown_job_is_404() {
    let app = spawn_app().await;
    for id in [uuid::Uuid::now_v7().to_string(), "not-a-uuid".to_owned()] {
        let response = app.get(&format!("/v1/jobs/{id}")).send().await.expect("request");
        crate::helpers::assert_problem(response, 404, "job_not_found").await;
    }
}

/// A job recorded through the job store is readable at `/v1/jobs/{id}` by its owner, with its state and
/// progress (and without the owner field or the runner's internals: input, queue, keys, which instance holds
/// its lease).
#[tokio::test]
async fn stored_job_is_served() {
    use gantry_actors::ports::jobs::{Job, JobState, JobUpdate};
    let app = spawn_app().await;
    let user_id = app.register("owner@example.com").await;
    let token = crate::helpers::access(&app.login("owner@example.com").await).to_owned();
    let job = Job::new("test.kind", Some(format!("user:{user_id}")));
    app.backends.jobs.create(&job).await.expect("create");
    let update = JobUpdate {
        state: Some(JobState::Running),
        progress: Some(serde_json::json!({"step": "stage"})),
        ..JobUpdate::default()
    };
    app.backends.jobs.update(job.id, update).await.expect("update");

    let body: serde_json::Value = app
        .get(&format!("/v1/jobs/{}", job.id))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(body["id"], job.id.to_string());
    assert_eq!(body["kind"], "test.kind");
    assert_eq!(body["state"], "running");
    assert_eq!(body["progress"]["step"], "stage");
    assert!(body.get("owner").is_none_or(serde_json::Value::is_null), "the public view hides the owner: {body}");
    for internal in ["args", "queue", "unique_key", "period_key", "lease_owner", "lease_expires_at"] {
        assert!(body.get(internal).is_none(), "the public view hides the runner's {internal}: {body}");
    }
}

/// The attack: anyone holding a job id read rotation steps, instance ids and session counts at
/// `/v1/jobs/{id}`. Now an operator job (a revoke-all) is 404 on the public listener — anonymously, with a
/// user's token, with a guest token — and readable on the admin listener; a user's job is 404 to another user.
#[tokio::test]
async fn jobs_are_shown_only_to_their_owner() {
    use gantry_actors::ports::jobs::Job;
    let app = spawn_app().await;
    let body = serde_json::json!({"reason": "drill"});
    let accepted = crate::helpers::json_of(
        app.admin_post("/admin/sessions/revoke-all").json(&body).send().await.expect("request"),
        202,
    )
    .await;
    let operator_job = accepted["job_id"].as_str().expect("job id").to_owned();

    let alice = app.register("alice@example.com").await;
    app.register("mallory@example.com").await;
    let mallory = crate::helpers::access(&app.login("mallory@example.com").await).to_owned();
    let guest: serde_json::Value = crate::helpers::json_of(
        app.client.post(format!("{}/v1/uploads/guest-token", app.http)).send().await.expect("request"),
        200,
    )
    .await;
    let guest = guest["upload_token"].as_str().expect("token").to_owned();
    let alices_job = Job::new("upload", Some(format!("user:{alice}")));
    app.backends.jobs.create(&alices_job).await.expect("create");

    for id in [operator_job.clone(), alices_job.id.to_string()] {
        let path = format!("/v1/jobs/{id}");
        crate::helpers::assert_problem(app.get(&path).send().await.expect("request"), 404, "job_not_found").await;
        let as_mallory = app.get(&path).bearer_auth(&mallory).send().await.expect("request");
        crate::helpers::assert_problem(as_mallory, 404, "job_not_found").await;
        let as_guest = app.get(&path).header("x-upload-token", &guest).send().await.expect("request");
        crate::helpers::assert_problem(as_guest, 404, "job_not_found").await;
    }
    let as_operator = app.admin_get(&format!("/admin/jobs/{operator_job}")).send().await.expect("request");
    let job = crate::helpers::json_of(as_operator, 200).await;
    assert_eq!(job["kind"], "sessions.revoke_all");
    let refused = app.get(&format!("/v1/jobs/{operator_job}")).bearer_auth("not-a-token").send().await;
    crate::helpers::assert_problem(refused.expect("request"), 401, "token_invalid").await;
}
