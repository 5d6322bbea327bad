//! Rotation of the asymmetric signing key on two production-profile instances (issue 23): a planned rotation
//! promotes the published next key with no wait while real verifiers (PyJWT, jose) that cache the key set keep
//! accepting every token; an instance restarted after it adopts the previous key from the database and
//! verifies its tokens like its peer; an emergency rotation ends the old key at once everywhere.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gantry_actors::secrets::signing_key::{AccessAlgorithm, SigningKey};
use gantry_actors::sessions::AccessClaims;
use gantry_actors::sessions::tokens::sign_access_with;
use serde_json::{Value, json};

use crate::production::{Backends, backends, json as json_of, production_toml, register_and_login};
use crate::rotation_fleet::{Files, instance, me, rotate};
use crate::support::with_fresh_database;
use crate::verifiers::{self, Kind, Verifier};

pub(crate) const EDDSA: &str = "[sessions]\naccess_token_algorithm = \"EdDSA\"\n";

/// The production settings of one test's fleet: its own bus exchange and bucket, EdDSA access tokens.
fn fleet_toml(database: &secrecy::SecretString, b: &Backends) -> String {
    let exchange = format!("gantry.events.test-{}", uuid::Uuid::new_v4().simple());
    let bucket = format!("gantry-jwks-{}", uuid::Uuid::new_v4().simple());
    production_toml(database, b, &exchange, &bucket, EDDSA)
}

/// `n` new Ed25519 signing keys (PEM).
fn eddsa_keys(n: usize) -> Vec<String> {
    (0..n).map(|_| SigningKey::generate_pem(AccessAlgorithm::EdDsa)).collect()
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

/// What an attacker holding the leaked key `pem` mints: a token for a made-up session of `template`'s user,
/// issued now (no epoch catches it; only the key's end does).
fn minted_by(pem: &str, template: &str) -> String {
    let mut forged = claims(template);
    forged.sid = uuid::Uuid::now_v7();
    forged.iat = time::OffsetDateTime::now_utc().unix_timestamp();
    forged.exp = forged.iat + 600;
    sign_access_with(&forged, &SigningKey::parse(pem).expect("valid"))
}

/// `token` (signed by the key `kid`) is 401 `token_invalid` on `http`, and the key is not in its key set.
async fn refused_and_unpublished(http: &str, token: &str, kid: &str) {
    let client = reqwest::Client::new();
    let response = client.get(format!("{http}/v1/auth/me")).bearer_auth(token).send().await.expect("req");
    let body = json_of(response, 401).await;
    assert_eq!(body["code"], "token_invalid", "the retired key verifies nothing on {http}: {body}");
    let published = kids(http).await;
    assert!(!published.iter().any(|k| k == kid), "the retired key is not published on {http}: {published:?}");
}

async fn login(http: &str, email: &str) -> String {
    let creds = json!({"email": email, "password": crate::production::PASSWORD});
    let client = reqwest::Client::new();
    let pair = json_of(client.post(format!("{http}/v1/auth/login")).json(&creds).send().await.expect("req"), 200).await;
    pair["access_token"].as_str().expect("token").to_owned()
}

/// A planned rotation (the next key's value into `JWT_SIGNING_KEY`, a new next key) promotes with no `publish`
/// wait; verifiers that cached the key set before it accept the tokens signed after it without a refetch; the
/// previous key's tokens verify on both instances and on one restarted afterwards (adopted from the database);
/// an emergency rotation then ends the old key at once on every instance and drops it from the key set.
#[tokio::test]
async fn signing_key_rotations_on_two_instances() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let keys = eddsa_keys(4);
        let files = Files::with_signing_keys(&b, &keys[0], &keys[1]);
        let toml = fleet_toml(&database, &b);
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
        let minted = minted_by(&keys[1], &second);
        for http in [&a.http, &c.http] {
            refused_and_unpublished(http, &minted, &kid(&keys[1])).await;
            assert!(!kids(http).await.contains(&kid(&keys[0])));
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
        let keys = eddsa_keys(4);
        let (first, second) =
            (Files::with_signing_keys(&b, &keys[0], &keys[1]), Files::with_signing_keys(&b, &keys[2], &keys[3]));
        let toml = fleet_toml(&database, &b);
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

/// Stale key files after an emergency rotation (issue 23): an instance restarted with the retired key still in
/// its `JWT_SIGNING_KEY` file refuses to start, naming the key's `kid` and the value's fingerprint (never the
/// key), before it records anything; afterwards the retired key is in no instance's key set — not on the one
/// that ran the rotation, not on a peer started later that adopts the fleet's record —, a token it signs is
/// refused everywhere, and every token is signed with the new key. (Before: the stale instance started,
/// recorded the retired key as in use, published it and signed with it, and the later peer adopted it.)
#[tokio::test]
async fn an_instance_with_stale_key_files_after_an_emergency_rotation_does_not_bring_the_key_back() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let keys = eddsa_keys(3);
        let files = Files::with_signing_keys(&b, &keys[0], &keys[1]);
        // The copy an instance on an old volume (or an old Secret) still reads.
        let stale = Files::with_signing_keys(&b, &keys[0], &keys[1]);
        let toml = fleet_toml(&database, &b);
        let a = instance(&toml, &files).await;
        let c = instance(&toml, &files).await;
        let client = reqwest::Client::new();
        let before = register_and_login(&client, &a.http, "stale@example.com").await;
        assert_eq!(header_kid(&before), kid(&keys[0]));

        files.write("signing", &keys[1]);
        files.write("next", &keys[2]);
        let (job, record) = rotate(&a.admin, &json!({"invalidate_sessions": true, "requested_by": "leak"})).await;
        assert_eq!(job["state"], "completed", "{job}");
        let recorded = record["detail"]["signing_keys"].as_array().expect("signing key records");
        assert!(recorded.iter().any(|r| r["kid"] == kid(&keys[0]) && r["revoked_at"].is_i64()), "{record}");

        let _ = c.stop.send(());
        let refused = match crate::production::try_start(&toml, stale.env()).await {
            Ok((http, _, stop)) => {
                let published = kids(&http).await;
                let _ = stop.send(());
                panic!("an instance with the retired key in its files started; it publishes {published:?}");
            }
            Err(e) => format!("{e:#}"),
        };
        // The fingerprint of the value as read from its file (one trailing newline dropped).
        let fingerprint = gantry_actors::secrets::Fingerprint::of(keys[0].strip_suffix('\n').unwrap_or(&keys[0]));
        let old_kid = kid(&keys[0]);
        for expected in ["JWT_SIGNING_KEY holds the signing key", old_kid.as_str(), fingerprint.as_str(), "revoked"] {
            assert!(refused.contains(expected), "missing {expected:?} in: {refused}");
        }
        assert!(!refused.contains("PRIVATE KEY"), "never the key: {refused}");

        // A peer restarting later with the current files reads the fleet's record.
        let d = instance(&toml, &files).await;
        let minted = minted_by(&keys[0], &before);
        for http in [&a.http, &d.http] {
            refused_and_unpublished(http, &minted, &kid(&keys[0])).await;
            let token = login(http, "stale@example.com").await;
            assert_eq!(header_kid(&token), kid(&keys[1]), "signed with the new key on {http}");
        }
        let _ = a.stop.send(());
        let _ = d.stop.send(());
    })
    .await;
}
