//! Revoke-all evidence on the job runner across real processes on Postgres: the count of affected sessions is
//! a runner job stored with the revocation, so an instance killed right after accepting a revoke-all does not
//! lose it. Part of the `production` suite.

use gantry_actors::ports::jobs::JobState;
use uuid::Uuid;

use crate::eventually::{Deadline, settled};
use crate::production::{ADMIN, backends, json, register_and_login};
use crate::support::with_fresh_database;
use crate::upload_jobs::{Instance, Store, job_store};

/// A revoke-all accepted by an instance whose runner does not get to it (it does not work the `default` queue,
/// so neither its poll nor the wake-up after the commit starts the job there) and which is then killed with `kill -9`: another instance's runner completes the evidence — the job `completed` with the
/// count of affected sessions, the notice's `active_sessions` filled in with the same count — as the public
/// contract promises.
#[tokio::test]
async fn revoke_all_evidence_survives_the_accepting_instance_being_killed() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let store = Store::start().await;
        let bucket = format!("gantry-rj-{}", Uuid::new_v4().simple());
        let endpoint = format!("http://127.0.0.1:{}", store.port);
        let idle_runner = [("GANTRY_JOBS__POLL_MS", "3600000"), ("GANTRY_JOBS__DEFAULT_CONCURRENCY", "0")];
        let mut accepting = Instance::start(&database, &b, &store, &endpoint, &bucket, &idle_runner).await;
        let client = reqwest::Client::new();
        register_and_login(&client, &accepting.http, "evidence@example.com").await;

        let response = client
            .post(format!("{}/admin/sessions/revoke-all", accepting.admin))
            .bearer_auth(ADMIN)
            .json(&serde_json::json!({"reason": "evidence survives a crash"}))
            .send()
            .await
            .expect("req");
        let accepted = json(response, 202).await;
        let job_id: Uuid = accepted["job_id"].as_str().expect("job id").parse().expect("uuid");
        let jobs = job_store(&database).await;
        let waiting = jobs.get(job_id).await.expect("get").expect("stored with the revocation");
        assert_eq!((waiting.kind.as_str(), waiting.state), ("sessions.revoke_all", JobState::Available));
        accepting.kill();

        let other = Instance::start(&database, &b, &store, &endpoint, &bucket, &[]).await;
        let probe = async || {
            let response = client.get(format!("{}/admin/jobs/{job_id}", other.admin)).bearer_auth(ADMIN).send();
            json(response.await.expect("req"), 200).await
        };
        let job = settled(Deadline::ms(20_000, 100), probe, |job| job["state"] == "completed").await;
        assert_eq!(job["state"], "completed", "{job}");
        // The production profile's sessions are in the shared Redis: other tests' sessions count too.
        let counted = job["result"]["active_sessions"].as_u64().expect("a count");
        assert!(counted >= 1, "at least the session logged in here: {job}");
        let stored = jobs.get(job_id).await.expect("get").expect("job");
        let attempts = jobs.attempts(job_id).await.expect("attempts");
        assert_eq!(attempts.iter().map(|a| a.instance_id).collect::<Vec<_>>(), vec![other.id], "{stored:?}");
        let notices = client.get(format!("{}/admin/sessions/revocations", other.admin)).bearer_auth(ADMIN).send();
        let notices = json(notices.await.expect("req"), 200).await;
        let notice = notices["revocations"].as_array().and_then(|n| n.iter().find(|n| n["id"] == job_id.to_string()));
        assert_eq!(notice.expect("the notice")["active_sessions"], counted);
    })
    .await;
}
