//! Asymmetric access tokens and the published key set (issue 23): the local profile signs EdDSA with a
//! generated key that `/.well-known/jwks.json` publishes; HS256 and asymmetric tokens both verify during a
//! move; the next key is published but signs nothing; real verifiers (PyJWT, jose) accept the tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gantry::config::secrets::SecretEnv;
use gantry_actors::secrets::signing_key::{AccessAlgorithm, SigningKey};
use gantry_actors::sessions::AccessClaims;
use gantry_actors::sessions::tokens::sign_access_with;
use serde_json::Value;

use crate::helpers::{ADMIN_TOKEN, JWT, TestApp, UPLOAD, access, json_of, spawn_app, spawn_app_with_secrets};
use crate::verifiers::{self, Kind, Verifier};

/// The JOSE header of a token.
fn header(token: &str) -> Value {
    let part = token.split('.').next().expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON header")
}

/// The claims of a token (not verified: the tests verify through the server and the real verifiers).
fn claims(token: &str) -> AccessClaims {
    let part = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("claims")
}

async fn key_set(app: &TestApp) -> Value {
    json_of(app.get("/.well-known/jwks.json").send().await.expect("request"), 200).await
}

fn kids(set: &Value) -> Vec<String> {
    set["keys"].as_array().expect("keys").iter().map(|k| k["kid"].as_str().expect("kid").to_owned()).collect()
}

/// An app whose secrets are the test ones plus `extra` (signing keys), with `toml` overlaid.
async fn app_with_keys(dir: &std::path::Path, toml: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut pairs = vec![
        ("JWT_SECRET".to_owned(), JWT.to_owned()),
        ("UPLOAD_GUEST_TOKEN_SECRET".to_owned(), UPLOAD.to_owned()),
        ("GANTRY_ADMIN_TOKEN".to_owned(), ADMIN_TOKEN.to_owned()),
    ];
    pairs.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    spawn_app_with_secrets(dir, toml, SecretEnv::from_pairs(pairs)).await
}

/// A newcomer's first token (local profile, nothing configured) is EdDSA, its `kid` is the one key of the
/// published set (an RFC 7638 thumbprint), and it authenticates.
#[tokio::test]
async fn local_profile_signs_eddsa_with_a_published_key() {
    let app = spawn_app().await;
    app.register("first@example.com").await;
    let token = access(&app.login("first@example.com").await).to_owned();
    let header = header(&token);
    assert_eq!((header["alg"].as_str(), header["typ"].as_str()), (Some("EdDSA"), Some("at+jwt")));
    let set = key_set(&app).await;
    assert_eq!(kids(&set), vec![header["kid"].as_str().expect("kid").to_owned()]);
    let key = &set["keys"][0];
    assert_eq!((key["kty"].as_str(), key["crv"].as_str()), (Some("OKP"), Some("Ed25519")));
    assert_eq!((key["alg"].as_str(), key["use"].as_str()), (Some("EdDSA"), Some("sig")));
    assert!(key.get("d").is_none(), "no private member: {key}");
    assert_eq!(app.me(&token).await.status(), 200);
}

/// The key set is cacheable for the configured max-age (`public`), carries an ETag, and a revalidation
/// with that ETag is a 304 with no body.
#[tokio::test]
async fn the_key_set_is_cacheable_with_an_etag() {
    let app = crate::helpers::spawn_app_with("[sessions]\nkey_set_max_age_secs = 120\n").await;
    let response = app.get("/.well-known/jwks.json").send().await.expect("request");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["cache-control"], "public, max-age=120");
    assert_eq!(headers["content-type"], "application/jwk-set+json");
    let etag = headers["etag"].to_str().expect("ascii").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let again = app.get("/.well-known/jwks.json").header("if-none-match", &etag).send().await.expect("request");
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert_eq!(again.headers()["cache-control"], "public, max-age=120");
    assert!(again.bytes().await.expect("body").is_empty());
}

/// The next key is published (after the current one) but signs nothing; a token it signs still verifies
/// here (it is one of ours). ES256 keys publish as P-256 JWKs.
#[tokio::test]
async fn the_next_key_is_published_but_does_not_sign() {
    let dir = tempfile::tempdir().expect("tempdir");
    let current = SigningKey::generate_pem(AccessAlgorithm::Es256);
    let next = SigningKey::generate_pem(AccessAlgorithm::Es256);
    let toml = "[sessions]\naccess_token_algorithm = \"ES256\"\n";
    let app = app_with_keys(dir.path(), toml, &[("JWT_SIGNING_KEY", &current), ("JWT_SIGNING_KEY_NEXT", &next)]).await;
    let current = SigningKey::parse(&current).expect("valid");
    let next = SigningKey::parse(&next).expect("valid");
    let set = key_set(&app).await;
    assert_eq!(kids(&set), vec![current.public().kid.clone(), next.public().kid.clone()]);
    assert_eq!((set["keys"][1]["kty"].as_str(), set["keys"][1]["crv"].as_str()), (Some("EC"), Some("P-256")));
    assert!(set["keys"][1]["y"].is_string());

    app.register("next@example.com").await;
    let token = access(&app.login("next@example.com").await).to_owned();
    assert_eq!(header(&token)["kid"].as_str(), Some(current.public().kid.as_str()));
    assert_eq!(header(&token)["alg"].as_str(), Some("ES256"));
    let by_next = sign_access_with(&claims(&token), &next);
    assert_eq!(app.me(&by_next).await.status(), 200);
}

/// The move from HS256 without logging anyone out: with HS256 and a signing key set, tokens are HS256 and the
/// key is already published; after the restart on EdDSA, the HS256 token still authenticates and new tokens
/// are EdDSA with the published key.
#[tokio::test]
async fn hs256_tokens_keep_working_after_the_move_to_eddsa() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pem = SigningKey::generate_pem(AccessAlgorithm::EdDsa);
    let kid = SigningKey::parse(&pem).expect("valid").public().kid.clone();
    let before =
        app_with_keys(dir.path(), "[sessions]\naccess_token_algorithm = \"HS256\"\n", &[("JWT_SIGNING_KEY", &pem)])
            .await;
    before.register("mover@example.com").await;
    let old = access(&before.login("mover@example.com").await).to_owned();
    assert_eq!(header(&old)["alg"].as_str(), Some("HS256"));
    assert_eq!(kids(&key_set(&before).await), vec![kid.clone()], "published ahead of the move");
    before.stop().await.expect("stops");

    let after =
        app_with_keys(dir.path(), "[sessions]\naccess_token_algorithm = \"EdDSA\"\n", &[("JWT_SIGNING_KEY", &pem)])
            .await;
    assert_eq!(after.me(&old).await.status(), 200, "an HS256 token of before the move still authenticates");
    let new = access(&after.login("mover@example.com").await).to_owned();
    assert_eq!((header(&new)["alg"].as_str(), header(&new)["kid"].as_str()), (Some("EdDSA"), Some(kid.as_str())));
    assert_eq!(after.me(&new).await.status(), 200);
}

/// A token whose header claims another algorithm than its key's (`kid` of the Ed25519 key, `alg: HS256`
/// signed with the public key's bytes: the classic confusion) is refused.
#[tokio::test]
async fn a_kid_pins_its_algorithm() {
    let app = spawn_app().await;
    app.register("confused@example.com").await;
    let token = access(&app.login("confused@example.com").await).to_owned();
    let set = key_set(&app).await;
    let x = set["keys"][0]["x"].as_str().expect("x").to_owned();
    let kid = set["keys"][0]["kid"].as_str().expect("kid").to_owned();
    let head = serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": kid});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&head).expect("json")),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(&token)).expect("json"))
    );
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(x.as_bytes()).expect("any key length");
    hmac::Mac::update(&mut mac, signing_input.as_bytes());
    let forged = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(hmac::Mac::finalize(mac).into_bytes()));
    crate::helpers::assert_problem(app.me(&forged).await, 401, "token_invalid").await;
}

/// Real verifiers, unmodified — PyJWT's `PyJWKClient` and jose's `createRemoteJWKSet` — fetch the key set and
/// accept Gantry's EdDSA and ES256 access tokens; a token with a changed claim is refused by both.
#[tokio::test]
async fn real_verifiers_accept_tokens_from_the_key_set() {
    if !verifiers::available() {
        return;
    }
    for (alg, toml) in [("EdDSA", ""), ("ES256", "[sessions]\naccess_token_algorithm = \"ES256\"\n")] {
        let app = crate::helpers::spawn_app_with(toml).await;
        app.register("verified@example.com").await;
        let token = access(&app.login("verified@example.com").await).to_owned();
        assert_eq!(header(&token)["alg"].as_str(), Some(alg));
        let sub = claims(&token).sub.to_string();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut forged_claims = serde_json::to_value(claims(&token)).expect("claims");
        forged_claims["sub"] = Value::String(uuid::Uuid::new_v4().to_string());
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged_claims).expect("json"));
        let forged = parts.join(".");
        let url = format!("{}/.well-known/jwks.json", app.http);
        for kind in [Kind::PyJwt, Kind::Jose] {
            let mut verifier = Verifier::start(kind, &url, "gantry", "gantry-api", 300);
            let answer = verifier.verify(&token).await;
            assert!(answer.ok, "{kind:?} refused an {alg} token: {answer:?}");
            assert_eq!(answer.sub.as_deref(), Some(sub.as_str()));
            assert_eq!(answer.kid.as_deref(), header(&token)["kid"].as_str(), "{kind:?} used the token's key");
            let refused = verifier.verify(&forged).await;
            assert!(!refused.ok && refused.error.is_some(), "{kind:?} accepted a forged token: {refused:?}");
            verifier.stop().await;
        }
    }
}

/// Through a planned rotation, a verifier revalidating with the ETag it holds gets a 304 while the set is the
/// same, then a 200 with the new set (the promoted key first, the new next key, the previous key within its
/// window) and a new ETag once the rotation published and promoted keys; every answer is `public` for the
/// configured max-age.
#[tokio::test]
async fn the_key_set_etag_changes_through_a_rotation() {
    use crate::token_cache::{Keys, app, eddsa, rotate};
    let pems = [eddsa(), eddsa(), eddsa()];
    let kid = |pem: &str| SigningKey::parse(pem).expect("valid").public().kid.clone();
    let keys = Keys::new(&pems[0], &pems[1]);
    let app = app(&keys, "key_set_max_age_secs = 120\n").await;
    let fetch = async |etag: Option<&str>| {
        let mut request = app.get("/.well-known/jwks.json");
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.headers()["cache-control"], "public, max-age=120");
        let status = response.status().as_u16();
        let etag = response.headers()["etag"].to_str().expect("ascii").to_owned();
        let body = response.bytes().await.expect("body");
        (status, etag, body)
    };
    let (status, before, body) = fetch(None).await;
    assert_eq!(status, 200);
    let set: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(kids(&set), vec![kid(&pems[0]), kid(&pems[1])]);
    let (status, same, body) = fetch(Some(&before)).await;
    assert_eq!((status, same.as_str(), body.len()), (304, before.as_str(), 0));

    keys.write(&pems[1], &pems[2]);
    let job = rotate(&app, &serde_json::json!({"requested_by": "etag test"})).await;
    assert_eq!(job["state"], "completed", "{job}");
    let (status, after, body) = fetch(Some(&before)).await;
    assert_eq!(status, 200, "the old ETag no longer matches");
    assert_ne!(after, before);
    let set: Value = serde_json::from_slice(&body).expect("json");
    let mut published = kids(&set);
    assert_eq!(published[0], kid(&pems[1]), "the promoted key first");
    published.sort();
    let mut expected: Vec<String> = pems.iter().map(|p| kid(p)).collect();
    expected.sort();
    assert_eq!(published, expected);
    let (status, _, _) = fetch(Some(&after)).await;
    assert_eq!(status, 304, "the new ETag revalidates");
}

/// A rollback to a signing key that left the key set (retired by an emergency rotation) works like a rotation
/// to a never-published key, backwards: the key is published again first, and signs only after a `publish`
/// step that waits the key set's max-age — while it waits, the key set has it and logins still get the
/// current key's tokens; afterwards tokens carry it again.
#[tokio::test]
async fn a_rollback_to_a_retired_key_publishes_it_a_max_age_before_it_signs() {
    use crate::token_cache::{Keys, app, eddsa, finished, rotate};
    let pems = [eddsa(), eddsa(), eddsa()];
    let kid = |pem: &str| SigningKey::parse(pem).expect("valid").public().kid.clone();
    let keys = Keys::new(&pems[0], &pems[1]);
    let app = app(&keys, "key_set_max_age_secs = 3\n").await;
    app.register("rollback@example.com").await;
    keys.write(&pems[1], &pems[2]);
    let job = rotate(&app, &serde_json::json!({"invalidate_sessions": true, "requested_by": "emergency"})).await;
    assert_eq!(job["state"], "completed", "{job}");
    assert!(!kids(&key_set(&app).await).contains(&kid(&pems[0])), "the emergency rotation retired the old key");

    let body = serde_json::json!({"requested_by": "rollback test", "invalidate_sessions": false});
    let accepted =
        json_of(app.admin_post("/admin/secrets/rollback").json(&body).send().await.expect("request"), 202).await;
    let id = accepted["job_id"].as_str().expect("job id").to_owned();
    let republished = async || kids(&key_set(&app).await);
    let has_old = |published: &Vec<String>| published.contains(&kid(&pems[0]));
    crate::eventually::eventually(
        "the old key is published again",
        crate::eventually::Deadline::ms(5_000, 20),
        republished,
        has_old,
    )
    .await;
    let during = access(&app.login("rollback@example.com").await).to_owned();
    assert_eq!(header(&during)["kid"].as_str(), Some(kid(&pems[1]).as_str()), "published, not signing yet");

    let job = finished(&app, &id).await;
    assert_eq!(job["state"], "completed", "{job}");
    let publish = job["progress"]["steps"].as_array().expect("steps").iter().find(|s| s["name"] == "publish").cloned();
    let publish = publish.unwrap_or_else(|| panic!("a publish step: {job}"));
    assert!(publish["detail"].as_str().is_some_and(|d| d.contains("3 s")), "{publish}");
    let after = access(&app.login("rollback@example.com").await).to_owned();
    assert_eq!(header(&after)["kid"].as_str(), Some(kid(&pems[0]).as_str()), "the rolled-back key signs");
    assert_eq!(app.me(&during).await.status(), 200, "the key it replaced still verifies within its window");
}

/// Two planned rotations within one access token's lifetime: the token the first key signed still
/// authenticates after the second rotation, and the first key stays in the key set beside the current, next
/// and previous keys — until its own window closes (`access_ttl_secs` + 30 s after the first promotion); then
/// it leaves the set. (With only one previous key kept, the second promotion dropped it at once: its token was
/// 401 `token_invalid` before its `exp`.)
#[tokio::test]
async fn two_rotations_within_a_token_lifetime_keep_the_first_key_until_its_window_closes() {
    use crate::token_cache::{Keys, app, eddsa, rotate};
    let pems = [eddsa(), eddsa(), eddsa(), eddsa()];
    let kid = |pem: &str| SigningKey::parse(pem).expect("valid").public().kid.clone();
    let keys = Keys::new(&pems[0], &pems[1]);
    let app = app(&keys, "access_ttl_secs = 60\n").await;
    app.register("twice@example.com").await;
    let first = access(&app.login("twice@example.com").await).to_owned();
    assert_eq!(header(&first)["kid"].as_str(), Some(kid(&pems[0]).as_str()));

    let started = std::time::Instant::now();
    for (n, (signing, next)) in [(&pems[1], &pems[2]), (&pems[2], &pems[3])].into_iter().enumerate() {
        keys.write(signing, next);
        let job = rotate(&app, &serde_json::json!({"requested_by": format!("planned {n}")})).await;
        assert_eq!(job["state"], "completed", "{job}");
        // Whole seconds apart, so the two windows end visibly apart.
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
    let second = access(&app.login("twice@example.com").await).to_owned();
    assert_eq!(header(&second)["kid"].as_str(), Some(kid(&pems[2]).as_str()), "two rotations later");
    let response = app.me(&first).await;
    assert_eq!(
        response.status(),
        200,
        "a token of two keys ago verifies until its exp: {}",
        response.text().await.unwrap_or_default()
    );
    let mut published = kids(&key_set(&app).await);
    published.sort();
    let mut all: Vec<String> = pems.iter().map(|p| kid(p)).collect();
    all.sort();
    assert_eq!(published, all, "current, next, previous, and the key of two rotations ago");

    let set = async || kids(&key_set(&app).await);
    let gone = |published: &Vec<String>| !published.contains(&kid(&pems[0]));
    let published = crate::eventually::eventually(
        "the first key leaves the key set",
        crate::eventually::Deadline::ms(120_000, 250),
        set,
        gone,
    )
    .await;
    let waited = started.elapsed();
    assert!(waited >= std::time::Duration::from_secs(88), "not before its own window closed: {waited:?}");
    assert!(
        published.contains(&kid(&pems[1])),
        "the key it was replaced by keeps its own, later window: {published:?}"
    );
}

/// Stale key files after an emergency rotation, through the `gantry` binary as an operator starts it: the
/// process refuses to start (exit 1, before it listens), naming the variable, the revoked key's `kid` and the
/// fingerprint of the configured value — never the key. (Before, it started, published the retired key again
/// and signed with it.)
#[tokio::test]
async fn a_signing_key_revoked_by_an_emergency_rotation_is_a_start_up_error() {
    use crate::token_cache::{Keys, app, eddsa, rotate};
    let pems = [eddsa(), eddsa(), eddsa()];
    let keys = Keys::new(&pems[0], &pems[1]);
    let app = app(&keys, "").await;
    keys.write(&pems[1], &pems[2]);
    let job = rotate(&app, &serde_json::json!({"invalidate_sessions": true, "requested_by": "emergency"})).await;
    assert_eq!(job["state"], "completed", "{job}");
    app.stop().await.expect("stops");

    keys.write(&pems[0], &pems[1]);
    let path = |n: &str| keys.path().join(n).display().to_string();
    let mut command = crate::helpers::gantry_cli(keys.path());
    command
        .arg("serve")
        .env("JWT_SECRET", JWT)
        .env("UPLOAD_GUEST_TOKEN_SECRET", UPLOAD)
        .env("GANTRY_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("JWT_SIGNING_KEY_FILE", path("signing"))
        .env("JWT_SIGNING_KEY_NEXT_FILE", path("next"))
        .env("GANTRY_SESSIONS__ACCESS_TOKEN_ALGORITHM", "EdDSA")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("gantry runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gantry started with a revoked signing key");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let mut text = String::new();
    for mut pipe in [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read>),
        child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read>),
    ]
    .into_iter()
    .flatten()
    {
        std::io::Read::read_to_string(&mut pipe, &mut text).expect("output");
    }
    assert_eq!(status.code(), Some(1), "{text}");
    // The fingerprint of the value as read from its file (one trailing newline dropped), as `GET /admin/secrets`
    // shows it.
    let fingerprint = gantry_actors::secrets::Fingerprint::of(pems[0].strip_suffix('\n').unwrap_or(&pems[0]));
    let old_kid = kid_of(&pems[0]);
    for expected in
        ["signing_key_revoked", "JWT_SIGNING_KEY holds the signing key", old_kid.as_str(), fingerprint.as_str()]
    {
        assert!(text.contains(expected), "missing {expected:?} in: {text}");
    }
    assert!(!text.contains("PRIVATE KEY") && !text.contains("listening"), "{text}");
}

fn kid_of(pem: &str) -> String {
    SigningKey::parse(pem).expect("valid").public().kid.clone()
}
