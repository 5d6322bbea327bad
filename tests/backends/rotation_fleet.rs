//! What the rotation tests share (`rotation.rs`, `signing_key_rotation.rs`, `signing_key_load.rs`): the secret
//! files the instances of one test read (as a mounted secret volume), an instance started on them, a rotation
//! run through the admin API to its end, and the requests the tests make of an instance.

use std::path::PathBuf;

use gantry::config::secrets::SecretEnv;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::eventually::{Deadline, poll};
use crate::production::{ADMIN, Backends, JWT, UPLOAD, json as json_of, readiness, start_with_secrets};

/// Secret files shared by the instances of one test.
pub(crate) struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    /// `JWT_SECRET`, `UPLOAD_GUEST_TOKEN_SECRET` and the S3 pair.
    pub(crate) fn new(s3_key: &str, s3_secret: &str) -> Self {
        let files = Self { dir: tempfile::tempdir().expect("tempdir") };
        for (name, value) in [("jwt", JWT), ("upload", UPLOAD), ("s3_key", s3_key), ("s3_secret", s3_secret)] {
            files.write(name, value);
        }
        files
    }

    /// As [`Files::new`] with `b`'s S3 pair, plus `JWT_SIGNING_KEY` and `JWT_SIGNING_KEY_NEXT`.
    pub(crate) fn with_signing_keys(b: &Backends, signing: &str, next: &str) -> Self {
        let files = Self::new(&b.s3_key_id, &b.s3_secret);
        files.write("signing", signing);
        files.write("next", next);
        files
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Overwrites the file `name` in place (as an operator does on the volume).
    pub(crate) fn write(&self, name: &str, value: &str) {
        std::fs::write(self.path(name), value).expect("write");
    }

    /// The variables naming the files (the signing keys' only when they were written).
    pub(crate) fn env(&self) -> SecretEnv {
        let p = |n: &str| self.path(n).display().to_string();
        let mut pairs = vec![
            ("JWT_SECRET_FILE".to_owned(), p("jwt")),
            ("UPLOAD_GUEST_TOKEN_SECRET_FILE".to_owned(), p("upload")),
            ("S3_ACCESS_KEY_ID_FILE".to_owned(), p("s3_key")),
            ("S3_SECRET_ACCESS_KEY_FILE".to_owned(), p("s3_secret")),
            ("GANTRY_ADMIN_TOKEN".to_owned(), ADMIN.to_owned()),
        ];
        for (variable, name) in [("JWT_SIGNING_KEY_FILE", "signing"), ("JWT_SIGNING_KEY_NEXT_FILE", "next")] {
            if self.path(name).exists() {
                pairs.push((variable.to_owned(), p(name)));
            }
        }
        SecretEnv::from_pairs(pairs)
    }
}

/// A running production-profile instance.
pub(crate) struct Instance {
    pub(crate) http: String,
    pub(crate) admin: String,
    pub(crate) stop: oneshot::Sender<()>,
}

/// Starts an instance of `toml` on `files`, once its bus is up.
pub(crate) async fn instance(toml: &str, files: &Files) -> Instance {
    let (http, admin, stop) = start_with_secrets(toml, files.env()).await;
    readiness(&http, |v| v["components"]["bus"]["status"] == "up").await;
    Instance { http, admin, stop }
}

/// Runs a rotation through `admin` to its end; returns the job and the evidence.
pub(crate) async fn rotate(admin: &str, body: &Value) -> (Value, Value) {
    let client = reqwest::Client::new();
    let accepted = json_of(
        client.post(format!("{admin}/admin/secrets/rotate")).bearer_auth(ADMIN).json(body).send().await.expect("req"),
        202,
    )
    .await;
    follow(admin, accepted["job_id"].as_str().expect("job id")).await
}

/// Follows a rotation job until it ends; returns the job and its evidence.
pub(crate) async fn follow(admin: &str, id: &str) -> (Value, Value) {
    let client = reqwest::Client::new();
    let job = async || {
        json_of(client.get(format!("{admin}/admin/jobs/{id}")).bearer_auth(ADMIN).send().await.expect("req"), 200).await
    };
    let ended = |job: &Value| job["state"] == "completed" || job["state"] == "discarded";
    let job = poll(Deadline::ms(60_000, 50), job, ended).await.unwrap_or_else(|_| panic!("rotation {id} did not end"));
    let record =
        json_of(client.get(format!("{admin}/admin/rotations/{id}")).bearer_auth(ADMIN).send().await.expect("req"), 200)
            .await;
    (job, record)
}

/// The status of `GET /v1/auth/me` with `token`.
pub(crate) async fn me(http: &str, token: &str) -> u16 {
    let client = reqwest::Client::new();
    client.get(format!("{http}/v1/auth/me")).bearer_auth(token).send().await.expect("req").status().as_u16()
}
