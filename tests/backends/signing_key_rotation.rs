//! Rotation of the asymmetric signing key on two production-profile instances (issue 23): a planned rotation
//! promotes the published next key with no wait while real verifiers (PyJWT, jose) that cache the key set keep
//! accepting every token; an instance restarted after it adopts the previous key from the database and
//! verifies its tokens like its peer; an emergency rotation ends the old key at once everywhere.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gantry::config::secrets::SecretEnv;
use gantry_actors::secrets::signing_key::{AccessAlgorithm, SigningKey};
use gantry_actors::sessions::AccessClaims;
use gantry_actors::sessions::tokens::sign_access_with;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::eventually::{Deadline, poll};
use crate::production::{
    ADMIN, Backends, JWT, UPLOAD, backends, json as json_of, production_toml, readiness, register_and_login,
    start_with_secrets,
};
use crate::support::with_fresh_database;
use crate::verifiers::{self, Kind, Verifier};

pub(crate) struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    pub(crate) fn new(b: &Backends, signing: &str, next: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = Self { dir };
        for (name, value) in [
            ("jwt", JWT),
            ("upload", UPLOAD),
            ("s3_key", b.s3_key_id.as_str()),
            ("s3_secret", b.s3_secret.as_str()),
            ("signing", signing),
            ("next", next),
        ] {
            files.write(name, value);
        }
        files
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn write(&self, name: &str, value: &str) {
        std::fs::write(self.path(name), value).expect("write");
    }

    fn env(&self) -> SecretEnv {
        let p = |n: &str| self.path(n).display().to_string();
        SecretEnv::from_pairs([
            ("JWT_SECRET_FILE".to_owned(), p("jwt")),
            ("UPLOAD_GUEST_TOKEN_SECRET_FILE".to_owned(), p("upload")),
            ("S3_ACCESS_KEY_ID_FILE".to_owned(), p("s3_key")),
            ("S3_SECRET_ACCESS_KEY_FILE".to_owned(), p("s3_secret")),
            ("JWT_SIGNING_KEY_FILE".to_owned(), p("signing")),
            ("JWT_SIGNING_KEY_NEXT_FILE".to_owned(), p("next")),
            ("GANTRY_ADMIN_TOKEN".to_owned(), ADMIN.to_owned()),
        ])
    }
}

pub(crate) struct Instance {
    pub(crate) http: String,
    pub(crate) admin: String,
    pub(crate) stop: oneshot::Sender<()>,
}

pub(crate) const EDDSA: &str = "[sessions]\naccess_token_algorithm = \"EdDSA\"\n";

pub(crate) async fn instance(toml: &str, files: &Files) -> Instance {
    let (http, admin, stop) = start_with_secrets(toml, files.env()).await;
    readiness(&http, |v| v["components"]["bus"]["status"] == "up").await;
    Instance { http, admin, stop }
}

pub(crate) fn kid(pem: &str) -> String {
    SigningKey::parse(pem).expect("valid key").public().kid.clone()
}

pub(crate) fn header_kid(token: &str) -> String {
    let part = token.split('.').next().expect("a JWT");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json");
    header["kid"].as_str().expect("kid").to_owned()
}

fn claims(token: &str) -> AccessClaims {
    let part = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("claims")
}

async fn kids(http: &str) -> Vec<String> {
    let set = json_of(reqwest::get(format!("{http}/.well-known/jwks.json")).await.expect("req"), 200).await;
    set["keys"].as_array().expect("keys").iter().map(|k| k["kid"].as_str().expect("kid").to_owned()).collect()
}

async fn me(http: &str, token: &str) -> u16 {
    let client = reqwest::Client::new();
    client.get(format!("{http}/v1/auth/me")).bearer_auth(token).send().await.expect("req").status().as_u16()
}

async fn login(http: &str, email: &str) -> String {
    let creds = json!({"email": email, "password": crate::production::PASSWORD});
    let client = reqwest::Client::new();
    let pair = json_of(client.post(format!("{http}/v1/auth/login")).json(&creds).send().await.expect("req"), 200).await;
    pair["access_token"].as_str().expect("token").to_owned()
}

/// Runs a rotation through `admin` to its end; returns the job and the evidence.
pub(crate) async fn rotate(admin: &str, body: &Value) -> (Value, Value) {
    let client = reqwest::Client::new();
    let accepted = json_of(
        client.post(format!("{admin}/admin/secrets/rotate")).bearer_auth(ADMIN).json(body).send().await.expect("req"),
        202,
    )
    .await;
    let id = accepted["job_id"].as_str().expect("job id").to_owned();
    let job = async || {
        json_of(client.get(format!("{admin}/admin/jobs/{id}")).bearer_auth(ADMIN).send().await.expect("req"), 200).await
    };
    let ended = |job: &Value| job["state"] == "completed" || job["state"] == "discarded";
    let job = poll(Deadline::ms(60_000, 100), job, ended).await.unwrap_or_else(|_| panic!("rotation {id} did not end"));
    let record =
        json_of(client.get(format!("{admin}/admin/rotations/{id}")).bearer_auth(ADMIN).send().await.expect("req"), 200)
            .await;
    (job, record)
}

/// A planned rotation (the next key's value into `JWT_SIGNING_KEY`, a new next key) promotes with no `publish`
/// wait; verifiers that cached the key set before it accept the tokens signed after it without a refetch; the
/// previous key's tokens verify on both instances and on one restarted afterwards (adopted from the database);
/// an emergency rotation then ends the old key at once on every instance and drops it from the key set.
#[tokio::test]
async fn signing_key_rotations_on_two_instances() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let keys: Vec<String> = (0..4).map(|_| SigningKey::generate_pem(AccessAlgorithm::EdDsa)).collect();
        let files = Files::new(&b, &keys[0], &keys[1]);
        let exchange = format!("gantry.events.test-{}", uuid::Uuid::new_v4().simple());
        let bucket = format!("gantry-jwks-{}", uuid::Uuid::new_v4().simple());
        let toml = production_toml(&database, &b, &exchange, &bucket, EDDSA);
        let a = instance(&toml, &files).await;
        let c = instance(&toml, &files).await;
        let client = reqwest::Client::new();

        let first = register_and_login(&client, &a.http, "signer@example.com").await;
        assert_eq!(header_kid(&first), kid(&keys[0]));
        assert_eq!(kids(&c.http).await, vec![kid(&keys[0]), kid(&keys[1])], "current and next are published");
        let mut running = Vec::new();
        if verifiers::available() {
            for k in [Kind::PyJwt, Kind::Jose] {
                let mut v =
                    Verifier::start(k, &format!("{}/.well-known/jwks.json", a.http), "gantry", "gantry-api", 300);
                assert!(v.verify(&first).await.ok, "{k:?} accepts a token of the current key");
                running.push(v);
            }
        }

        // Planned: the published next key signs, a new next key is published.
        files.write("signing", &keys[1]);
        files.write("next", &keys[2]);
        let (job, record) = rotate(&a.admin, &json!({"requested_by": "planned"})).await;
        assert_eq!(job["state"], "completed", "{job}");
        assert_eq!(record["detail"]["signing_key"]["published_before"], true, "{record}");
        let steps: Vec<&str> =
            job["progress"]["steps"].as_array().expect("steps").iter().filter_map(|s| s["name"].as_str()).collect();
        assert!(!steps.contains(&"publish"), "a published next key needs no wait: {steps:?}");
        let second = login(&c.http, "signer@example.com").await;
        assert_eq!(header_kid(&second), kid(&keys[1]));
        for http in [&a.http, &c.http] {
            assert_eq!(me(http, &first).await, 200, "the previous key's token verifies on {http}");
            assert_eq!(me(http, &second).await, 200);
            let mut published = kids(http).await;
            assert_eq!(published[0], kid(&keys[1]), "the signing key first");
            published.sort();
            let mut expected = vec![kid(&keys[0]), kid(&keys[1]), kid(&keys[2])];
            expected.sort();
            assert_eq!(published, expected, "current, next and the previous key within its window");
        }
        for v in &mut running {
            for token in [&first, &second] {
                let answer = v.verify(token).await;
                assert!(answer.ok, "{:?} refused a token through the planned rotation: {answer:?}", v.kind);
            }
        }

        // A restarted instance knows only the new files, and adopts the previous key from the database.
        let _ = c.stop.send(());
        let c = instance(&toml, &files).await;
        assert_eq!(me(&c.http, &first).await, 200, "the restarted instance verifies the previous key's token");
        assert!(kids(&c.http).await.contains(&kid(&keys[0])), "and publishes it");

        // Emergency: the (published) next key signs at once and every old key ends now.
        files.write("signing", &keys[2]);
        files.write("next", &keys[3]);
        let (job, record) = rotate(&a.admin, &json!({"invalidate_sessions": true, "requested_by": "emergency"})).await;
        assert_eq!(job["state"], "completed", "{job}");
        assert!(record["detail"]["external_verifiers"].as_str().is_some_and(|s| s.contains("max-age 300")), "{record}");
        let old = SigningKey::parse(&keys[1]).expect("valid");
        let mut forged = claims(&second);
        forged.sid = uuid::Uuid::now_v7();
        forged.iat = time::OffsetDateTime::now_utc().unix_timestamp();
        forged.exp = forged.iat + 600;
        let minted = sign_access_with(&forged, &old);
        for http in [&a.http, &c.http] {
            let response = client.get(format!("{http}/v1/auth/me")).bearer_auth(&minted).send().await.expect("req");
            let body = json_of(response, 401).await;
            assert_eq!(body["code"], "token_invalid", "the retired key verifies nothing on {http}: {body}");
            let published = kids(http).await;
            assert!(!published.contains(&kid(&keys[1])) && !published.contains(&kid(&keys[0])), "{published:?}");
        }
        for v in running {
            v.stop().await;
        }
        let _ = a.stop.send(());
        let _ = c.stop.send(());
    })
    .await;
}

/// Keys given at start-up are recorded for the fleet without any rotation: an instance started later with
/// other key files (a deployment rolling out before its rotation) adopts the first instance's keys from the
/// database, verifies its tokens and publishes its keys.
#[tokio::test]
async fn start_up_keys_are_recorded_for_the_fleet() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let keys: Vec<String> = (0..4).map(|_| SigningKey::generate_pem(AccessAlgorithm::EdDsa)).collect();
        let (first, second) = (Files::new(&b, &keys[0], &keys[1]), Files::new(&b, &keys[2], &keys[3]));
        let exchange = format!("gantry.events.test-{}", uuid::Uuid::new_v4().simple());
        let bucket = format!("gantry-jwks-{}", uuid::Uuid::new_v4().simple());
        let toml = production_toml(&database, &b, &exchange, &bucket, EDDSA);
        let a = instance(&toml, &first).await;
        let token = register_and_login(&reqwest::Client::new(), &a.http, "startup@example.com").await;
        assert_eq!(header_kid(&token), kid(&keys[0]));
        let c = instance(&toml, &second).await;
        assert_eq!(me(&c.http, &token).await, 200, "the later instance verifies the first one's start-up key");
        let published = kids(&c.http).await;
        assert!(published.contains(&kid(&keys[0])) && published.contains(&kid(&keys[1])), "{published:?}");
        let _ = a.stop.send(());
        let _ = c.stop.send(());
    })
    .await;
}
