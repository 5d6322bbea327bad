//! Rotation crash drills on the production profile: two real `gantry` processes share secret files, Postgres,
//! Redis, RabbitMQ and a bucket; the one running a `JWT_SECRET` rotation is killed with SIGKILL while a given
//! step runs (test builds have the `chaos` feature: `GANTRY_CHAOS_ROTATION_PAUSE` stops the first attempt of a drill
//! rotation at that step's start, so the kill lands inside it, not at a lucky moment). The job resumes on the other
//! instance once the lease expired, and the fleet ends consistent: every instance on the new key, a token
//! signed by either accepted by the other. Every instance has a fixed `GANTRY_INSTANCE_ID`, as operators set them
//! (a stable identity per pod), and a killed one that comes back comes back under the same id (issue 25 item 1).
//! Part of the `production` suite.

use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use gantry_actors::secrets::Fingerprint;
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::eventually::{Deadline, eventually, settled};
use crate::production::{
    ADMIN, Backends, JWT, PASSWORD, UPLOAD, backends, free_port, json as json_of, production_command,
};
use crate::support::with_fresh_database;

const NEW_JWT: &str = "Qw4Er8Ty2Ui6Op0As3Df7Gh1Jk5Lz9Xc";
const NEXT_JWT: &str = "Mn3Bv7Cx1Zl5Kj9Hg2Fd6Sa0Po4Iu8Yt";

/// The secret files the instances share (a mounted secret volume).
struct Files(tempfile::TempDir);

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("jwt"), JWT).expect("write");
        std::fs::write(dir.path().join("upload"), UPLOAD).expect("write");
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    fn write_jwt(&self, value: &str) {
        std::fs::write(self.path("jwt"), value).expect("write");
    }
}

/// Where a starting process stands at one look.
enum Start {
    /// `/readyz` answers 200.
    Ready,
    /// The process has ended.
    Exited,
    /// Neither yet.
    Starting,
}

/// One `gantry` process of the fleet.
struct Instance {
    id: Uuid,
    child: Child,
    http: String,
    admin: String,
}

impl Instance {
    /// Starts a production-profile process with the fixed instance id `id`, reading `JWT_SECRET` and
    /// `UPLOAD_GUEST_TOKEN_SECRET` from `files`, with a job lease of `lease_secs`, a 1 s heartbeat, and the
    /// rotation pause at `pause`; returns once it is ready. A port another test took between picking it and binding it means new
    /// ports; any other start-up failure fails the test with the process's own words.
    async fn start(
        database: &SecretString,
        b: &Backends,
        fleet: (&str, &str),
        files: &Files,
        pause: &str,
        (id, lease_secs): (Uuid, &str),
    ) -> Self {
        let log = tempfile::NamedTempFile::new().expect("log file");
        for _ in 0..3 {
            let (port, admin_port) = (free_port(), free_port());
            let mut command = production_command(database, b, (port, admin_port), fleet.0, fleet.1);
            command
                .env_remove("JWT_SECRET")
                .env_remove("UPLOAD_GUEST_TOKEN_SECRET")
                .env("JWT_SECRET_FILE", files.path("jwt"))
                .env("UPLOAD_GUEST_TOKEN_SECRET_FILE", files.path("upload"))
                .env("GANTRY_INSTANCE_ID", id.to_string())
                .env("GANTRY_JOBS__LEASE_SECS", lease_secs)
                .env("GANTRY_JOBS__POLL_MS", "50")
                .env("GANTRY_ROTATION__HEARTBEAT_SECS", "1")
                .env("GANTRY_ROTATION__LIVE_WITHIN_SECS", "4")
                .env("GANTRY_CHAOS_ROTATION_PAUSE", pause)
                .stderr(log.reopen().expect("log file"));
            let mut child = command.spawn().expect("gantry binary");
            let http = format!("http://127.0.0.1:{port}");
            let started = async || {
                if let Ok(response) = reqwest::get(format!("{http}/readyz")).await
                    && response.status() == 200
                {
                    return Start::Ready;
                }
                if child.try_wait().expect("status").is_some() { Start::Exited } else { Start::Starting }
            };
            // Still starting after the deadline: go on as before the helper; the test's requests then fail.
            let start = settled(Deadline::ms(30_000, 100), started, |start| !matches!(start, Start::Starting)).await;
            if matches!(start, Start::Exited) {
                let said = std::fs::read_to_string(log.path()).unwrap_or_default();
                assert!(said.contains("binding the"), "the instance exited at start-up: {said}");
                continue;
            }
            // Its first heartbeat is in: rotations expect its acknowledgements from now on.
            tokio::time::sleep(Duration::from_millis(1200)).await;
            return Self { id, child, http, admin: format!("http://127.0.0.1:{admin_port}") };
        }
        panic!("no free ports for the instance after 3 tries");
    }

    /// `kill -9`.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn get(&self, path: &str) -> Value {
        let response = reqwest::Client::new().get(format!("{}{path}", self.admin)).bearer_auth(ADMIN).send().await;
        json_of(response.expect("req"), 200).await
    }

    /// The fingerprints of this instance's `JWT_SECRET` versions, by state (`current`, `pending`, `previous`).
    async fn jwt_versions(&self) -> Vec<(String, String)> {
        let secrets = self.get("/admin/secrets").await;
        let mut versions: Vec<(String, String)> = secrets["secrets"]
            .as_array()
            .expect("secrets")
            .iter()
            .filter(|s| s["name"] == "JWT_SECRET")
            .map(|s| {
                (s["state"].as_str().expect("state").to_owned(), s["fingerprint"].as_str().expect("fp").to_owned())
            })
            .collect();
        versions.sort();
        versions
    }

    async fn login(&self, email: &str) -> String {
        let creds = json!({"email": email, "password": PASSWORD});
        let response = reqwest::Client::new().post(format!("{}/v1/auth/login", self.http)).json(&creds).send().await;
        json_of(response.expect("req"), 200).await["access_token"].as_str().expect("token").to_owned()
    }

    async fn me(&self, token: &str) -> u16 {
        let response = reqwest::Client::new().get(format!("{}/v1/auth/me", self.http)).bearer_auth(token).send().await;
        response.expect("req").status().as_u16()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts a rotation through `via` (with the drill's deployment id, the first attempt stops at the pause
/// step; any other runs through); returns its job id.
async fn start_rotation(via: &Instance, drill: bool) -> String {
    let deployment = if drill { gantry_actors::secrets::rotation::CHAOS_DEPLOYMENT } else { "after-drill" };
    let response = reqwest::Client::new()
        .post(format!("{}/admin/secrets/rotate", via.admin))
        .bearer_auth(ADMIN)
        .json(&json!({"deployment_id": deployment}))
        .send()
        .await;
    json_of(response.expect("req"), 202).await["job_id"].as_str().expect("job id").to_owned()
}

/// Polls job `id` through `via` until `done` accepts it (at most ~60 s).
async fn wait_job(via: &Instance, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let job = async || via.get(&format!("/admin/jobs/{id}")).await;
    eventually(&format!("rotation job never {what}"), Deadline::ms(60_000, 50), job, |job| done(job)).await
}

/// The drill: A and B up with fixed instance ids, a user logged in on each, the new `JWT_SECRET` in the shared
/// file; a rotation is started on A; whichever instance runs it is killed (SIGKILL) inside `step`; with
/// `restart`, it is started again 2 s later under the same instance id (its files hold the new key) and joins.
/// The job must complete on a live instance as a resumed attempt, and every live instance must hold exactly the
/// new key as current, nothing pending, and accept the tokens the others sign.
async fn kill_runner_during(step: &'static str, restart: bool) {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let files = Files::new();
        let exchange = format!("gantry.events.test-{}", Uuid::new_v4().simple());
        let bucket = format!("gantry-crash-{}", Uuid::new_v4().simple());
        let fleet = (exchange.as_str(), bucket.as_str());
        let (a_id, c_id) = (Uuid::now_v7(), Uuid::now_v7());
        // With a restart, a lease longer than the restart takes, as in production (30 s): the restarted process
        // is up while the dead one's lease still holds, and must not renew it. Otherwise 2 s.
        let lease = if restart { "12" } else { "2" };
        let a = Instance::start(&database, &b, fleet, &files, step, (a_id, lease)).await;
        let c = Instance::start(&database, &b, fleet, &files, step, (c_id, lease)).await;
        let client = reqwest::Client::new();
        let old = crate::production::register_and_login(&client, &a.http, "drill@example.com").await;
        files.write_jwt(NEW_JWT);

        let id = start_rotation(&a, true).await;
        let paused = wait_job(&a, &id, &format!("paused in {step}"), |job| {
            job["state"] == "running"
                && job["progress"]["step"] == step
                && job["progress"]["steps"].as_array().and_then(|s| s.last()).is_some_and(|s| s["state"] == "running")
        })
        .await;
        let runner: Uuid = paused["lease_owner"].as_str().and_then(|s| s.parse().ok()).expect("lease owner");
        let (mut victim, survivor) = if runner == a.id { (a, c) } else { (c, a) };
        assert_eq!(victim.id, runner, "one of the two instances runs it");
        victim.kill();
        let rejoined = if restart {
            // Back under its own id, as a restarted pod is: it must not keep the dead process's lease alive.
            tokio::time::sleep(Duration::from_secs(2)).await;
            Some(Instance::start(&database, &b, fleet, &files, step, (victim.id, lease)).await)
        } else {
            None
        };

        let job = wait_job(&survivor, &id, "finished", |job| {
            matches!(job["state"].as_str(), Some("completed" | "discarded" | "cancelled"))
        })
        .await;
        assert_eq!(job["state"], "completed", "the rotation resumed and completed: {job}");
        assert!(job["attempt"].as_u64().expect("attempt") >= 2, "a second attempt ran it: {job}");
        let record = survivor.get(&format!("/admin/rotations/{id}")).await;
        assert_eq!(record["outcome"], "succeeded", "{record}");
        let resumed = &record["detail"]["resumed"][0];
        assert_eq!(resumed["interrupted_step"], step, "the evidence says where it was interrupted: {record}");
        assert_eq!(resumed["previous_instance"], json!(runner.to_string()), "{record}");

        // A consistent fleet: the new key current everywhere, nothing pending, tokens accepted across.
        let new_fp = Fingerprint::of(NEW_JWT).as_str().to_owned();
        let live: Vec<&Instance> = std::iter::once(&survivor).chain(rejoined.as_ref()).collect();
        for instance in &live {
            let versions = instance.jwt_versions().await;
            assert!(versions.contains(&("current".to_owned(), new_fp.clone())), "{}: {versions:?}", instance.id);
            assert!(!versions.iter().any(|(state, _)| state == "pending"), "{}: {versions:?}", instance.id);
            assert_eq!(instance.me(&old).await, 401, "the rotation invalidated sessions signed with the old key");
        }
        for signer in &live {
            let token = signer.login("drill@example.com").await;
            for verifier in &live {
                assert_eq!(verifier.me(&token).await, 200, "{} accepts what {} signs", verifier.id, signer.id);
            }
        }

        if let Some(rejoined) = &rejoined {
            // The next rotation is accepted (no 409 `rotation_in_progress` left behind) and works on the fleet
            // the crash left (it once failed with a misleading message).
            files.write_jwt(NEXT_JWT);
            let next = start_rotation(rejoined, false).await;
            let done = wait_job(&survivor, &next, "finished", |job| {
                matches!(job["state"].as_str(), Some("completed" | "discarded" | "cancelled"))
            })
            .await;
            assert_eq!(done["state"], "completed", "{done}");
            let next_fp = Fingerprint::of(NEXT_JWT).as_str().to_owned();
            for instance in &live {
                let versions = instance.jwt_versions().await;
                assert!(versions.contains(&("current".to_owned(), next_fp.clone())), "{versions:?}");
            }
        }
    })
    .await;
}

// Every drill restarts the killed instance 2 s later under its own instance id (a pod with a stable identity),
// then checks the rotation resumed and the fleet — the restarted instance included — agrees, and the next
// rotation is accepted (issue 25 item 1). The last drill's instance stays dead.

/// Killed while validating (nothing changed yet): the rotation is validated again against the same baseline and
/// runs through.
#[tokio::test]
async fn killed_during_validate_the_rotation_completes() {
    kill_runner_during("validate", true).await;
}

/// Killed while staging: staging is repeated (keeping the first restore snapshots) and the fleet ends promoted.
#[tokio::test]
async fn killed_during_stage_the_fleet_ends_promoted() {
    kill_runner_during("stage", true).await;
}

/// Killed during the smoke test and restarted 2 s later under the same instance id (its files hold the new key,
/// so it starts with it as current): it joins, the rotation resumes instead of staying `running` under a lease
/// the restarted process kept alive, both end on the new key, and the next rotation is accepted and works.
#[tokio::test]
async fn killed_during_smoke_and_restarted_the_instance_joins_consistently() {
    kill_runner_during("smoke", true).await;
}

/// Killed while promoting: promotion is repeated (a no-op where it happened) and the fleet ends promoted.
#[tokio::test]
async fn killed_during_promote_the_fleet_ends_promoted() {
    kill_runner_during("promote", true).await;
}

/// Killed while invalidating sessions: the invalidation is repeated and old tokens are refused everywhere.
#[tokio::test]
async fn killed_during_invalidate_old_tokens_are_refused_everywhere() {
    kill_runner_during("invalidate", true).await;
}

/// Killed while recording the evidence: the record is completed.
#[tokio::test]
async fn killed_during_record_the_evidence_is_completed() {
    kill_runner_during("record", true).await;
}

/// Killed while promoting and never back: the other instance resumes and completes the rotation alone.
#[tokio::test]
async fn killed_during_promote_for_good_the_other_instance_completes_alone() {
    kill_runner_during("promote", false).await;
}
