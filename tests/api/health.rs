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

/// A job recorded through the job store is readable at `/v1/jobs/{id}` with its state and progress.
#[tokio::test]
async fn stored_job_is_served() {
    use gantry_actors::ports::jobs::{Job, JobState, JobUpdate};
    let app = spawn_app().await;
    let job = Job::new("test.kind", None);
    app.backends.jobs.create(&job).await.expect("create");
    let update = JobUpdate {
        state: Some(JobState::Running),
        progress: Some(serde_json::json!({"step": "stage"})),
        ..JobUpdate::default()
    };
    app.backends.jobs.update(job.id, update).await.expect("update");

    let body: serde_json::Value =
        app.get(&format!("/v1/jobs/{}", job.id)).send().await.expect("request").json().await.expect("json");
    assert_eq!(body["id"], job.id.to_string());
    assert_eq!(body["kind"], "test.kind");
    assert_eq!(body["state"], "running");
    assert_eq!(body["progress"]["step"], "stage");
}
