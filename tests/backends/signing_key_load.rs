//! Rotations of the asymmetric signing key on two production-profile instances under load (issue 23): while
//! clients keep logging in, refreshing and calling `/v1/auth/me` on both instances, and external verifiers —
//! jose's `createRemoteJWKSet` on one instance's key set, PyJWT's `PyJWKClient` on the other's, unmodified,
//! each caching the set for the server's (short) max-age — verify every access token Gantry issues, an
//! operator's rotation runs to its end. Gantry fails no request, no verifier refuses any token, and every token
//! issued after the rotation carries the new `kid`.
//!
//! Why this fails when a rotation signs with a key verifiers could not have: jose keeps its fetched set while it
//! is fresh (max-age) and refetches for an unknown `kid` at most once per 30 s cooldown — so a token signed with
//! a key that was not in the set it fetched within the last max-age is refused (`ERR_JWKS_NO_MATCHING_KEY`). A
//! rotation that signs before publishing (or before the max-age has passed since publishing a never-published
//! key) produces such tokens within the first max-age after its promotion, while the load keeps tokens flowing
//! to jose. PyJWT (which refetches at once for an unknown `kid`) reads the *other* instance's set: a key the
//! signing instance publishes but its peer does not yet is refused there.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use gantry_actors::secrets::signing_key::{AccessAlgorithm, SigningKey};
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};

use crate::production::{PASSWORD, backends, production_toml};
use crate::rotation_fleet::{Files, instance, rotate};
use crate::signing_key_rotation::{EDDSA, header_kid, kid};
use crate::support::with_fresh_database;
use crate::verifiers::{self, Kind, Verifier};

/// The key set's max-age in these tests, and the verifiers' cache lifetime: short, so the never-published
/// key's wait is short and the verifiers refetch during the run.
const MAX_AGE_SECS: u64 = 2;

/// Before the rotation was asked for; while it runs; after it completed.
const BEFORE: u8 = 0;
const ROTATING: u8 = 1;
const AFTER: u8 = 2;

/// An access token Gantry issued, with the phase its request started in and what issued it.
struct Issued {
    token: String,
    phase: u8,
    by: String,
}

/// What the load saw.
#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    failures: Mutex<Vec<String>>,
}

impl Tally {
    async fn check(&self, what: &str, result: Result<reqwest::Response, reqwest::Error>, status: u16) -> Option<Value> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(response) if response.status().as_u16() == status => Some(response.json().await.unwrap_or(Value::Null)),
            Ok(response) => {
                let code = response.status();
                let body = response.text().await.unwrap_or_default();
                self.failures.lock().await.push(format!("{what}: {code} {body}"));
                None
            }
            Err(e) => {
                self.failures.lock().await.push(format!("{what}: {e}"));
                None
            }
        }
    }
}

/// One client: logged in on `home`, then refreshing on each instance in turn and calling `/v1/auth/me` on
/// both with every new access token, logging in again every `login_every` rounds; every token goes to the
/// verifiers.
#[allow(clippy::too_many_arguments)]
async fn client_loop(
    email: String,
    https: [String; 2],
    login_every: u64,
    tally: Arc<Tally>,
    phase: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    tokens: mpsc::UnboundedSender<Issued>,
) {
    let client = reqwest::Client::new();
    let creds = json!({"email": email, "password": PASSWORD});
    let mut refresh = String::new();
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let http = &https[usize::try_from(round % 2).expect("0 or 1")];
        let started = phase.load(Ordering::SeqCst);
        let (what, request) = if refresh.is_empty() || round.is_multiple_of(login_every) {
            ("login", client.post(format!("{http}/v1/auth/login")).json(&creds))
        } else {
            ("refresh", client.post(format!("{http}/v1/auth/refresh")).json(&json!({"refresh_token": refresh})))
        };
        round += 1;
        let Some(pair) = tally.check(&format!("{what} on {http}"), request.send().await, 200).await else {
            refresh.clear();
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let access = pair["access_token"].as_str().unwrap_or_default().to_owned();
        refresh = pair["refresh_token"].as_str().unwrap_or_default().to_owned();
        let _ = tokens.send(Issued { token: access.clone(), phase: started, by: format!("{what} on {http}") });
        for target in &https {
            let me = client.get(format!("{target}/v1/auth/me")).bearer_auth(&access).send().await;
            tally.check(&format!("me on {target} after a {what} on {http}"), me, 200).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the verifiers saw: every token's answer from each, and the kids by phase.
#[derive(Default)]
struct Verified {
    tokens: u64,
    refused: Vec<String>,
    kids_after: Vec<String>,
    by_phase: [u64; 3],
}

/// Verifies every issued token with each verifier as it comes (the verifiers' caches age in real time).
async fn verify_all(mut verifiers: Vec<Verifier>, mut rx: mpsc::UnboundedReceiver<Issued>) -> Verified {
    let mut seen = Verified::default();
    while let Some(issued) = rx.recv().await {
        seen.tokens += 1;
        seen.by_phase[usize::from(issued.phase)] += 1;
        if issued.phase == AFTER {
            seen.kids_after.push(header_kid(&issued.token));
        }
        for v in &mut verifiers {
            let answer = v.verify(&issued.token).await;
            if !answer.ok {
                let kid = header_kid(&issued.token);
                seen.refused
                    .push(format!("{:?} refused a token ({}, kid {kid}): {:?}", v.kind, issued.by, answer.error));
            }
        }
    }
    for v in verifiers {
        v.stop().await;
    }
    seen
}

/// Runs the load on two instances, the rotation `signing`/`next` (files rewritten as an operator does, then
/// `POST /admin/secrets/rotate`) in the middle, and checks what users and verifiers saw; returns the job.
async fn rotation_under_load(keys: &[String; 4], signing: &str, next: &str) -> Value {
    let b = backends().expect("checked by the caller");
    let signing = signing.to_owned();
    let next = next.to_owned();
    let keys = keys.clone();
    let mut out = Value::Null;
    let out_ref = &mut out;
    with_fresh_database(|database| async move {
        let files = Files::with_signing_keys(&b, &keys[0], &keys[1]);
        let exchange = format!("gantry.events.test-{}", uuid::Uuid::new_v4().simple());
        let bucket = format!("gantry-jwks-load-{}", uuid::Uuid::new_v4().simple());
        let toml = production_toml(
            &database,
            &b,
            &exchange,
            &bucket,
            &format!("{EDDSA}key_set_max_age_secs = {MAX_AGE_SECS}\n"),
        );
        let a = instance(&toml, &files).await;
        let c = instance(&toml, &files).await;
        let https = [a.http.clone(), c.http.clone()];
        let client = reqwest::Client::new();
        let emails: Vec<String> = (0..4).map(|i| format!("load{i}@example.com")).collect();
        for (i, email) in emails.iter().enumerate() {
            let creds = json!({"email": email, "password": PASSWORD});
            let registered = client.post(format!("{}/v1/auth/register", https[i % 2])).json(&creds).send().await;
            assert_eq!(registered.expect("request").status(), 201);
        }

        let jwks = |http: &str| format!("{http}/.well-known/jwks.json");
        let running = vec![
            Verifier::start(Kind::Jose, &jwks(&a.http), "gantry", "gantry-api", MAX_AGE_SECS),
            Verifier::start(Kind::PyJwt, &jwks(&c.http), "gantry", "gantry-api", MAX_AGE_SECS),
        ];
        let (tx, rx) = mpsc::unbounded_channel();
        let verifying = tokio::spawn(verify_all(running, rx));
        let tally = Arc::new(Tally::default());
        let phase = Arc::new(AtomicU8::new(BEFORE));
        let stop = Arc::new(AtomicBool::new(false));
        // Three clients mostly refreshing, one mostly logging in (password hashing is the slow path).
        let clients: Vec<_> = emails
            .iter()
            .enumerate()
            .map(|(i, email)| {
                let login_every = if i == 0 { 1 } else { 25 };
                let args = (Arc::clone(&tally), Arc::clone(&phase), Arc::clone(&stop), tx.clone());
                tokio::spawn(client_loop(email.clone(), https.clone(), login_every, args.0, args.1, args.2, args.3))
            })
            .collect();
        drop(tx);

        // Load first, so the verifiers hold a fetched set when the rotation starts.
        tokio::time::sleep(Duration::from_secs(3)).await;
        files.write("signing", &signing);
        files.write("next", &next);
        phase.store(ROTATING, Ordering::SeqCst);
        let (job, _record) = rotate(&a.admin, &json!({"requested_by": "rotation under load"})).await;
        phase.store(AFTER, Ordering::SeqCst);
        // Long enough for the verifiers' cached sets to expire and be fetched again under load.
        tokio::time::sleep(Duration::from_secs(2 * MAX_AGE_SECS + 1)).await;
        stop.store(true, Ordering::SeqCst);
        for c in clients {
            c.await.expect("client loop");
        }
        let seen = verifying.await.expect("verifiers");

        assert_eq!(job["state"], "completed", "{job}");
        let failures = tally.failures.lock().await;
        let requests = tally.requests.load(Ordering::Relaxed);
        assert!(
            failures.is_empty(),
            "{} of {requests} requests failed: {:?}",
            failures.len(),
            &failures[..failures.len().min(10)]
        );
        assert!(
            seen.refused.is_empty(),
            "{} of {} tokens refused by an external verifier: {:?}",
            seen.refused.len(),
            seen.tokens,
            &seen.refused[..seen.refused.len().min(10)]
        );
        let [before, _, after] = seen.by_phase;
        assert!(before >= 5 && after >= 5, "tokens issued before / during / after: {:?}", seen.by_phase);
        let new_kid = kid(&signing);
        assert!(seen.kids_after.iter().all(|k| *k == new_kid), "a token issued after the rotation has an old kid");
        eprintln!(
            "rotation under load: {requests} requests, 0 failed; {} tokens ({:?} before/during/after), each accepted \
             by jose and PyJWT",
            seen.tokens, seen.by_phase
        );
        let _ = a.stop.send(());
        let _ = c.stop.send(());
        *out_ref = job;
    })
    .await;
    out
}

fn four_keys() -> [String; 4] {
    std::array::from_fn(|_| SigningKey::generate_pem(AccessAlgorithm::EdDsa))
}

fn steps(job: &Value) -> Vec<String> {
    job["progress"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect()
}

/// The planned rotation of the runbook (the published next key into `JWT_SIGNING_KEY`, a new next key)
/// under load: no wait, 0 failed requests, 0 refused verifications, new tokens carry the promoted key's `kid`.
#[tokio::test]
async fn planned_signing_key_rotation_under_load_fails_nothing() {
    if backends().is_none() || !verifiers::available() {
        return;
    }
    let keys = four_keys();
    let job = rotation_under_load(&keys, &keys[1], &keys[2]).await;
    assert!(!steps(&job).contains(&"publish".to_owned()), "the published next key needs no wait: {job}");
}

/// A rotation to a key that was never published (an operator who put a brand-new key into
/// `JWT_SIGNING_KEY`) under load: the rotation publishes it, waits the max-age, and only then signs with it —
/// 0 failed requests, 0 refused verifications. Without the wait, jose (its fetched set still fresh, the
/// unknown `kid` within its cooldown) refuses the first new tokens.
#[tokio::test]
async fn rotation_to_a_never_published_key_under_load_fails_nothing() {
    if backends().is_none() || !verifiers::available() {
        return;
    }
    let keys = four_keys();
    let job = rotation_under_load(&keys, &keys[3], &keys[1]).await;
    assert!(steps(&job).contains(&"publish".to_owned()), "a never-published key waits the max-age: {job}");
}
