//! Real verifiers of Gantry's access tokens, unmodified, as long-running processes (included by the test
//! suites with `#[path]`): PyJWT's `PyJWKClient` (`tests/verifiers/verify.py`, pinned by `requirements.txt`,
//! installed by .ci/run into `target/verifiers-venv`) and node's `jose` `createRemoteJWKSet`
//! (`tests/verifiers/verify.mjs`, pinned by `package-lock.json`; `npm ci` in `tests/verifiers`). Each keeps
//! its cached key set for its whole life, as a service of the marketplace would. Without the tools the suite
//! is skipped loudly; with `GANTRY_REQUIRE_BACKENDS=1` (CI) that is a failure instead.

use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Which verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// PyJWT `PyJWKClient`.
    PyJwt,
    /// node `jose` `createRemoteJWKSet`.
    Jose,
}

/// A running verifier: one token in, one answer out.
pub struct Verifier {
    pub kind: Kind,
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/verifiers")
}

/// The Python that has PyJWT: `GANTRY_VERIFIER_PYTHON`, else `target/verifiers-venv/bin/python`.
fn python() -> PathBuf {
    std::env::var_os("GANTRY_VERIFIER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/verifiers-venv/bin/python"))
}

fn installed(kind: Kind) -> bool {
    match kind {
        Kind::PyJwt => std::process::Command::new(python())
            .args(["-c", "import jwt, cryptography"])
            .output()
            .is_ok_and(|o| o.status.success()),
        Kind::Jose => {
            dir().join("node_modules/jose/package.json").is_file()
                && std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success())
        }
    }
}

/// Both verifiers, or none (after saying so loudly) when they are not installed.
pub fn available() -> bool {
    let missing: Vec<Kind> = [Kind::PyJwt, Kind::Jose].into_iter().filter(|k| !installed(*k)).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("GANTRY_REQUIRE_BACKENDS").as_deref() != Ok("1"),
        "the token verifiers are required (GANTRY_REQUIRE_BACKENDS=1) but {missing:?} are not installed: \
         `python3 -m venv target/verifiers-venv && target/verifiers-venv/bin/pip install -r tests/verifiers/requirements.txt` \
         and `npm ci` in tests/verifiers"
    );
    eprintln!("SKIPPED backend suite `verifiers`: {missing:?} not installed (see tests/verifiers)");
    false
}

/// The answer to one token. (Each test binary that includes this module reads only some of the fields.)
#[allow(dead_code)]
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Answer {
    pub ok: bool,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

impl Verifier {
    /// Starts `kind` against the key set at `jwks_url`, caching it for `max_age_secs`.
    pub fn start(kind: Kind, jwks_url: &str, issuer: &str, audience: &str, max_age_secs: u64) -> Self {
        let mut command = match kind {
            Kind::PyJwt => {
                let mut c = Command::new(python());
                c.arg(dir().join("verify.py"));
                c
            }
            Kind::Jose => {
                let mut c = Command::new("node");
                c.arg(dir().join("verify.mjs"));
                c
            }
        };
        let mut child = command
            .args([jwks_url, issuer, audience, &max_age_secs.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the verifier starts");
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
        Self { kind, child, stdin, stdout }
    }

    /// Verifies `token`.
    pub async fn verify(&mut self, token: &str) -> Answer {
        self.stdin.write_all(format!("{token}\n").as_bytes()).await.expect("the verifier reads");
        self.stdin.flush().await.expect("the verifier reads");
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), self.stdout.next_line())
            .await
            .expect("the verifier answers within 30 s")
            .expect("the verifier's output is readable")
            .expect("the verifier answers");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{:?} answered {line:?}: {e}", self.kind))
    }

    /// Stops it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
