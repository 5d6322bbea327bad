//! Accounts, tokens, refresh rotation, logout and mass invalidation on the embedded profile.

use std::time::Duration;

use gantry_actors::secrets::SecretValue;
use gantry_actors::sessions::AccessClaims;
use gantry_actors::sessions::tokens::sign_access;
use serde_json::json;

use crate::eventually::{Deadline, settled};
use crate::helpers::{
    ADMIN_TOKEN, JWT, PASSWORD, access, assert_problem, json_of, refresh_of, spawn_app, spawn_app_in, spawn_app_with,
};

/// Emails are normalised (trim, lower-case) and unique: the same address in another case is 409.
#[tokio::test]
async fn register_normalises_email_and_rejects_duplicates() {
    let app = spawn_app().await;
    app.register(" Alice@Example.COM ").await;
    let response = app
        .post_json("/v1/auth/register", &json!({"email": "alice@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("request");
    assert_problem(response, 409, "email_taken").await;
    let pair = app.login("ALICE@example.com").await;
    let me = json_of(app.me(access(&pair)).await, 200).await;
    assert_eq!(me["email"], "alice@example.com");
}

/// Bad registrations answer 422 with one entry per broken rule, per field.
#[tokio::test]
async fn register_rejects_bad_input_per_field() {
    let app = spawn_app().await;
    let response = app
        .post_json("/v1/auth/register", &json!({"email": "not-an-email", "password": "short"}))
        .send()
        .await
        .expect("request");
    let body = assert_problem(response, 422, "validation_failed").await;
    let errors: Vec<(String, String)> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| (e["field"].as_str().unwrap_or("").to_owned(), e["code"].as_str().unwrap_or("").to_owned()))
        .collect();
    assert!(errors.contains(&("email".into(), "invalid_email".into())), "{errors:?}");
    assert!(errors.contains(&("password".into(), "too_short".into())), "{errors:?}");

    let response = app
        .post_json("/v1/auth/register", &json!({"email": "bob@example.com", "password": "Password1234"}))
        .send()
        .await
        .expect("request");
    let body = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["code"], "common_password", "{body}");
}

/// Login returns a Bearer pair with the documented fields, and the access token opens `/v1/auth/me`.
#[tokio::test]
async fn login_returns_a_bearer_pair() {
    let app = spawn_app().await;
    let user_id = app.register("carol@example.com").await;
    let pair = app.login("carol@example.com").await;
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    assert!(pair["refresh_expires_in"].as_i64().expect("number") > 29 * 24 * 3600);
    let me = json_of(app.me(access(&pair)).await, 200).await;
    assert_eq!(me["user_id"], user_id);
    assert_eq!(me["session_id"], pair["session_id"]);
}

/// Unknown email and wrong password are indistinguishable: same status, same code.
#[tokio::test]
async fn unknown_email_and_wrong_password_look_the_same() {
    let app = spawn_app().await;
    app.register("dave@example.com").await;
    for body in [
        json!({"email": "dave@example.com", "password": "wrong-password-123"}),
        json!({"email": "nobody@example.com", "password": PASSWORD}),
    ] {
        let response = app.post_json("/v1/auth/login", &body).send().await.expect("request");
        let problem = assert_problem(response, 401, "invalid_credentials").await;
        assert_eq!(problem["detail"], "wrong email or password");
    }
}

/// Repeated failures for one account are answered 429 with `Retry-After`, even with the right password.
#[tokio::test]
async fn repeated_login_failures_are_rate_limited() {
    let app = spawn_app_with("[sessions]\nlogin_max_failures_per_account = 3").await;
    app.register("erin@example.com").await;
    let wrong = json!({"email": "erin@example.com", "password": "wrong-password-123"});
    for _ in 0..3 {
        let response = app.post_json("/v1/auth/login", &wrong).send().await.expect("request");
        assert_eq!(response.status(), 401);
    }
    let right = json!({"email": "erin@example.com", "password": PASSWORD});
    let response = app.post_json("/v1/auth/login", &right).send().await.expect("request");
    let retry_after: u64 = response.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!(retry_after > 0 && retry_after <= 900, "{retry_after}");
    assert_problem(response, 429, "too_many_requests").await;
}

/// Issue 11.3: 100 simultaneous wrong passwords for one account from one address are counted before any is
/// verified: at most the per-(account, address) limit (5) are verified (401), every other one is 429 with
/// `Retry-After` — none waits for a hashing slot.
#[tokio::test]
async fn simultaneous_wrong_passwords_get_at_most_the_configured_verifications() {
    let app = spawn_app_with("[sessions]\nlogin_max_failures_per_account_address = 5").await;
    app.register("burst@example.com").await;
    let wrong = json!({"email": "burst@example.com", "password": "wrong-password-123"});
    let attempts = (0..100).map(|_| {
        let request = app.post_json("/v1/auth/login", &wrong);
        async move { request.send().await.expect("request") }
    });
    let responses = futures::future::join_all(attempts).await;
    let status = |code: u16| responses.iter().filter(|r| r.status().as_u16() == code).count();
    assert!(status(401) <= 5, "verified {} times", status(401));
    assert_eq!(
        status(401) + status(429),
        100,
        "only 401 and 429: {:?}",
        responses.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    assert!(responses.iter().filter(|r| r.status() == 429).all(|r| r.headers().contains_key("retry-after")));
}

/// Issue 11.3: a handful of failures from another address (more than the pair limit) cannot lock the user out
/// of their own address: the attacker's address gets 429, the user still logs in.
#[tokio::test]
async fn failures_from_elsewhere_do_not_lock_the_user_out() {
    let app = spawn_app().await;
    app.register("owner@example.com").await;
    let elsewhere = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .expect("client bound to 127.0.0.2");
    let wrong = json!({"email": "owner@example.com", "password": "wrong-password-123"});
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let url = format!("{}/v1/auth/login", app.http);
        statuses.push(elsewhere.post(url).json(&wrong).send().await.expect("request").status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429], "the attacker's pair is limited");
    app.login("owner@example.com").await;
}

/// Issue 11.4: registrations are limited per address (429 + `Retry-After` past the limit), and a registration
/// flood from one address does not slow other users' logins by more than 2×. Samples alternate between
/// "flood off" and "flood on" (8 rounds of 3 logins each way) so both medians see the same background load
/// (other tests share the cores); run with `--nocapture` to see the numbers.
#[tokio::test]
async fn registration_flood_is_limited_and_does_not_starve_logins() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let app = spawn_app_with("[sessions]\nregistrations_per_address = 3\nregistration_window_secs = 600").await;
    app.register("steady@example.com").await;
    let login = json!({"email": "steady@example.com", "password": PASSWORD});

    let flooder = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .expect("client bound to 127.0.0.2");
    let (flooding, stop) = (std::sync::Arc::new(AtomicBool::new(false)), std::sync::Arc::new(AtomicBool::new(false)));
    let statuses = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    // Two connections, each sending a registration every 5 ms (~400/s) while flooding is on: the hashing kind
    // of flood. Client and server share this machine's two cores (and the other tests'), so an unpaced flood
    // would measure the harness's CPU rather than the server's hashing slots.
    let flood: Vec<_> = (0..2)
        .map(|worker| {
            let (client, flooding, stop, statuses) =
                (flooder.clone(), flooding.clone(), stop.clone(), statuses.clone());
            let url = format!("{}/v1/auth/register", app.http);
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    if !flooding.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    }
                    n += 1;
                    let body = json!({"email": format!("flood-{worker}-{n}@example.com"), "password": PASSWORD});
                    let response = client.post(&url).json(&body).send().await.expect("request");
                    let retry_after = response.headers().contains_key("retry-after");
                    statuses.lock().expect("lock").push((response.status().as_u16(), retry_after));
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
        .collect();
    let (mut alone, mut flooded) = (Vec::new(), Vec::new());
    for _ in 0..8 {
        for (on, samples) in [(false, &mut alone), (true, &mut flooded)] {
            flooding.store(on, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
            for _ in 0..3 {
                let started = std::time::Instant::now();
                let response = app.post_json("/v1/auth/login", &login).send().await.expect("request");
                assert_eq!(response.status(), 200);
                samples.push(started.elapsed());
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for worker in flood {
        worker.await.expect("flood worker");
    }
    alone.sort();
    flooded.sort();
    let (alone, flooded) = (alone[alone.len() / 2], flooded[flooded.len() / 2]);

    let statuses = statuses.lock().expect("lock").clone();
    let created = statuses.iter().filter(|(s, _)| *s == 201).count();
    println!("login median: {alone:?} alone, {flooded:?} under a flood of {} registrations", statuses.len());
    assert!(created <= 3, "{created} registrations got through");
    assert!(statuses.iter().filter(|(s, _)| *s != 201).all(|(s, retry)| *s == 429 && *retry), "429 + Retry-After");
    assert!(flooded <= alone * 2, "login median {flooded:?} under the flood vs {alone:?} without");
}

/// Issue 11.5: `POST /v1/auth/password` (Bearer) changes the password under the policy and ends every other
/// session of the user — a thief's session with the old password dies with it — while this one stays; a wrong
/// current password is a failed login (401, then 429 past the limit).
#[tokio::test]
async fn password_change_revokes_other_sessions_and_wrong_current_counts_as_failed_login() {
    let app = spawn_app_with("[sessions]\nlogin_max_failures_per_account_address = 2").await;
    app.register("changer@example.com").await;
    let mine = app.login("changer@example.com").await;
    let thief = app.login("changer@example.com").await;
    let change = |current: &str, new: &str| {
        app.post_json("/v1/auth/password", &json!({"current_password": current, "new_password": new}))
            .bearer_auth(access(&mine))
    };
    const NEW: &str = "combine-harvester-red-77";

    let unauthenticated = app
        .post_json("/v1/auth/password", &json!({"current_password": PASSWORD, "new_password": NEW}))
        .send()
        .await
        .expect("request");
    assert_problem(unauthenticated, 401, "unauthorized").await;
    let weak = assert_problem(change(PASSWORD, "short").send().await.expect("request"), 422, "validation_failed").await;
    assert_eq!(weak["errors"][0]["field"], "new_password", "{weak}");

    let changed = change(PASSWORD, NEW).send().await.expect("request");
    assert_eq!(changed.status(), 204);
    assert_problem(app.me(access(&thief)).await, 401, "session_revoked").await;
    assert_problem(app.refresh(refresh_of(&thief)).await, 401, "session_revoked").await;
    json_of(app.me(access(&mine)).await, 200).await;
    let old = json!({"email": "changer@example.com", "password": PASSWORD});
    assert_problem(app.post_json("/v1/auth/login", &old).send().await.expect("request"), 401, "invalid_credentials")
        .await;
    let new = json!({"email": "changer@example.com", "password": NEW});
    json_of(app.post_json("/v1/auth/login", &new).send().await.expect("request"), 200).await;

    assert_problem(change("wrong-password-123", NEW).send().await.expect("request"), 401, "invalid_credentials").await;
    assert_problem(change("wrong-password-456", NEW).send().await.expect("request"), 401, "invalid_credentials").await;
    assert_problem(change(NEW, "another-fine-password-9").send().await.expect("request"), 429, "too_many_requests")
        .await;
}

/// Issue 11.6: identities are NFKC + case folded and invisible characters are refused: the full-width form of
/// an existing address cannot register a second account that displays the same (409), addresses with a
/// zero-width space, a right-to-left override or other format/bidi characters are 422.
#[tokio::test]
async fn lookalike_and_invisible_emails_cannot_register_a_second_account() {
    let app = spawn_app().await;
    app.register("victim@example.com").await;
    let register = |email: &str| app.post_json("/v1/auth/register", &json!({"email": email, "password": PASSWORD}));

    let fullwidth = register("ｖｉｃｔｉｍ＠ｅｘａｍｐｌｅ．ｃｏｍ").send().await.expect("request");
    assert_problem(fullwidth, 409, "email_taken").await;
    let styled = register("VICTIM@EXAMPLE.ＣＯＭ").send().await.expect("request");
    assert_problem(styled, 409, "email_taken").await;
    for hidden in [
        "vic\u{200B}tim@example.com",
        "victim@\u{202E}moc.elpmaxe",
        "\u{2067}victim@example.com",
        "victim\u{FEFF}@example.com",
    ] {
        let body = assert_problem(register(hidden).send().await.expect("request"), 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["code"], "invalid_email", "{hidden:?}: {body}");
    }
    json_of(
        app.post_json("/v1/auth/login", &json!({"email": "ＶＩＣＴＩＭ@example.com", "password": PASSWORD}))
            .send()
            .await
            .expect("request"),
        200,
    )
    .await;
}

/// Issue 11.6: passwords are NFKC-normalised — a password registered in full-width form logs in as typed on an
/// ASCII keyboard — and a hash made before normalisation keeps working: it verifies, and is then replaced by a
/// hash of the normal form (after which the normal form logs in too).
#[tokio::test]
async fn passwords_are_nfkc_normalised_and_old_hashes_are_rehashed() {
    let app = spawn_app().await;
    let request = json!({"email": "wide@example.com", "password": "ｈａｒｖｅｓｔ-tractor-blue-42"});
    json_of(app.post_json("/v1/auth/register", &request).send().await.expect("request"), 201).await;
    let ascii = json!({"email": "wide@example.com", "password": "harvest-tractor-blue-42"});
    json_of(app.post_json("/v1/auth/login", &ascii).send().await.expect("request"), 200).await;

    // A hash made before normalisation: argon2id of "ﬁeld-harvest-blue-42" with the ligature as typed.
    let legacy = gantry_actors::ports::accounts::User {
        id: uuid::Uuid::now_v7(),
        email: "legacy@example.com".into(),
        password_hash:
            "$argon2id$v=19$m=19456,t=2,p=1$/nxDKLljdVKJkBRy9Bchpg$XpaBD9H61E4Auw7OZCbM5BSd2dbEiaxTLIWsoo5VG2A".into(),
        created_at: time::OffsetDateTime::now_utc(),
        disabled_at: None,
    };
    app.backends.accounts.create_user(&legacy).await.expect("legacy user");
    let normal = json!({"email": "legacy@example.com", "password": "field-harvest-blue-42"});
    assert_problem(app.post_json("/v1/auth/login", &normal).send().await.expect("request"), 401, "invalid_credentials")
        .await;
    let typed = json!({"email": "legacy@example.com", "password": "\u{FB01}eld-harvest-blue-42"});
    json_of(app.post_json("/v1/auth/login", &typed).send().await.expect("request"), 200).await;
    let stored = app.backends.accounts.user_by_id(legacy.id).await.expect("read").expect("user");
    assert_ne!(stored.password_hash, legacy.password_hash, "re-hashed");
    json_of(app.post_json("/v1/auth/login", &normal).send().await.expect("request"), 200).await;
}

/// Refresh rotates the pair; the old refresh token presented again within the grace returns the very same
/// pair (a retry, a second tab), and the new pair works.
#[tokio::test]
async fn refresh_rotates_and_grace_returns_the_same_pair() {
    let app = spawn_app().await;
    app.register("frank@example.com").await;
    let first = app.login("frank@example.com").await;

    let second = json_of(app.refresh(refresh_of(&first)).await, 200).await;
    assert_ne!(refresh_of(&second), refresh_of(&first));
    assert_eq!(second["session_id"], first["session_id"]);
    let again = json_of(app.refresh(refresh_of(&first)).await, 200).await;
    assert_eq!(again["refresh_token"], second["refresh_token"]);
    assert_eq!(again["access_token"], second["access_token"]);

    json_of(app.me(access(&second)).await, 200).await;
    let third = json_of(app.refresh(refresh_of(&second)).await, 200).await;
    json_of(app.me(access(&third)).await, 200).await;
}

/// A used refresh token presented after the grace is reuse: 401 `refresh_reused`, and the whole session is
/// revoked (its newer tokens too).
#[tokio::test]
async fn refresh_token_reuse_revokes_the_session() {
    let app = spawn_app_with("[sessions]\nrefresh_grace_secs = 0").await;
    app.register("grace@example.com").await;
    let first = app.login("grace@example.com").await;
    let second = json_of(app.refresh(refresh_of(&first)).await, 200).await;
    tokio::time::sleep(Duration::from_millis(20)).await;

    assert_problem(app.refresh(refresh_of(&first)).await, 401, "refresh_reused").await;
    assert_problem(app.refresh(refresh_of(&second)).await, 401, "session_revoked").await;
    assert_problem(app.me(access(&second)).await, 401, "session_revoked").await;
    let metrics = app.metrics().await;
    assert!(crate::prometheus::value_or_zero(&metrics, "gantry_auth_refresh_reuse_total") >= 1.0, "reuse counted");
}

/// Reuse is detected for older generations too, while a made-up token carrying a real session id is merely
/// invalid: knowing a session id is not enough to end someone's session.
#[tokio::test]
async fn reuse_of_older_generations_is_detected_and_forged_refresh_is_harmless() {
    use base64::Engine;
    let app = spawn_app_with("[sessions]\nrefresh_grace_secs = 0").await;
    app.register("uma@example.com").await;
    let first = app.login("uma@example.com").await;
    let sid: uuid::Uuid = first["session_id"].as_str().expect("sid").parse().expect("uuid");
    let mut forged = sid.as_bytes().to_vec();
    forged.extend_from_slice(&[7u8; 32]);
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged);
    assert_problem(app.refresh(&forged).await, 401, "token_invalid").await;
    json_of(app.me(access(&first)).await, 200).await;

    let second = json_of(app.refresh(refresh_of(&first)).await, 200).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let third = json_of(app.refresh(refresh_of(&second)).await, 200).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_problem(app.refresh(refresh_of(&first)).await, 401, "refresh_reused").await;
    assert_problem(app.me(access(&third)).await, 401, "session_revoked").await;
}

/// Issue 11.1: a thief who refreshes a stolen token many times cannot outrun reuse detection. The victim's
/// copy, presented after 12 rotations, is 401 `refresh_reused`; the whole session (the thief's newest pair
/// too) is revoked, and the reuse is counted.
#[tokio::test]
async fn reuse_is_detected_however_many_rotations_came_after() {
    let app = spawn_app_with("[sessions]\nrefresh_grace_secs = 0").await;
    app.register("victim@example.com").await;
    let stolen = app.login("victim@example.com").await;
    let mut thief = stolen.clone();
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(3)).await;
        thief = json_of(app.refresh(refresh_of(&thief)).await, 200).await;
    }
    tokio::time::sleep(Duration::from_millis(5)).await;

    assert_problem(app.refresh(refresh_of(&stolen)).await, 401, "refresh_reused").await;
    assert_problem(app.refresh(refresh_of(&thief)).await, 401, "session_revoked").await;
    assert_problem(app.me(access(&thief)).await, 401, "session_revoked").await;
    // The recorder is shared by every test of this binary: the counter is at least this reuse.
    let metrics = app.metrics().await;
    let reuse = crate::prometheus::value(&metrics, "gantry_auth_refresh_reuse_total");
    assert!(reuse.is_some_and(|n| n >= 1.0), "reuse counted: {reuse:?}");
}

/// A JWT signed HS256 with `secret`, with exactly the header and claims given.
fn hand_signed(header: &serde_json::Value, claims: &serde_json::Value, secret: &str) -> String {
    use base64::Engine;
    use hmac::Mac;
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"))
    };
    let signing_input = format!("{}.{}", b64(header), b64(claims));
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(signing_input.as_bytes());
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// Issue 11.7: RFC 8725 checks. With the real key and a real session, a token is refused (`token_invalid`)
/// when its `typ` is not `at+jwt` (or missing), it carries a `crit` extension, its `nbf` or `iat` is in the
/// future beyond the leeway, or `exp - iat` exceeds the access lifetime; the `Bearer` scheme is matched
/// case-insensitively (RFC 6750).
#[tokio::test]
async fn access_tokens_are_checked_per_rfc_8725() {
    let app = spawn_app().await;
    let user_id = app.register("rfc@example.com").await;
    let pair = app.login("rfc@example.com").await;
    let kid = SecretValue::new(JWT).fingerprint().as_str().to_owned();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = |iat: i64, exp: i64| {
        json!({"sub": user_id, "sid": pair["session_id"], "iat": iat, "exp": exp, "iss": "gantry",
               "aud": "gantry-api", "jti": uuid::Uuid::new_v4()})
    };
    let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": kid});
    let good = hand_signed(&header, &claims(now, now + 900), JWT);
    json_of(app.me(&good).await, 200).await;

    let mut refused = Vec::new();
    for typ in [json!("JWT"), json!("upload"), serde_json::Value::Null] {
        let mut h = header.clone();
        h["typ"] = typ;
        refused.push(("typ", hand_signed(&h, &claims(now, now + 900), JWT)));
    }
    let mut crit = header.clone();
    crit["crit"] = json!(["exp"]);
    refused.push(("crit", hand_signed(&crit, &claims(now, now + 900), JWT)));
    refused.push(("iat in the future", hand_signed(&header, &claims(now + 3600, now + 4000), JWT)));
    let mut nbf = claims(now, now + 900);
    nbf["nbf"] = json!(now + 600);
    refused.push(("nbf in the future", hand_signed(&header, &nbf, JWT)));
    refused.push(("lifetime above access_ttl", hand_signed(&header, &claims(now, now + 30 * 24 * 3600), JWT)));
    for (what, token) in refused {
        let body = assert_problem(app.me(&token).await, 401, "token_invalid").await;
        assert_eq!(body["code"], "token_invalid", "{what}");
    }

    for scheme in ["bearer", "BEARER", "Bearer"] {
        let response = app
            .get("/v1/auth/me")
            .header("authorization", format!("{scheme} {}", access(&pair)))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{scheme}");
    }
}

/// Issue 11.8: token responses (login, refresh, guest upload token) are never cached (`Cache-Control:
/// no-store`); every response, errors and plain text included, carries `X-Content-Type-Options: nosniff`; JSON
/// and problem+json responses carry `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`.
#[tokio::test]
async fn token_responses_are_not_cached_and_every_response_is_hardened() {
    const CSP: &str = "default-src 'none'; frame-ancestors 'none'";
    let app = spawn_app().await;
    app.register("headers@example.com").await;
    let login = app
        .post_json("/v1/auth/login", &json!({"email": "headers@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("request");
    let header =
        |r: &reqwest::Response, name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(header(&login, "cache-control").as_deref(), Some("no-store"));
    let pair = json_of(login, 200).await;
    let refreshed = app.refresh(refresh_of(&pair)).await;
    assert_eq!(header(&refreshed, "cache-control").as_deref(), Some("no-store"));
    let guest = app.post_json("/v1/uploads/guest-token", &json!({})).send().await.expect("request");
    assert_eq!(guest.status(), 200);
    assert_eq!(header(&guest, "cache-control").as_deref(), Some("no-store"));

    let me = app.me(access(&pair)).await;
    let problem = app.me("not.a.token").await;
    let missing = app.get("/nope").send().await.expect("request");
    let health = app.get("/healthz").send().await.expect("request");
    let metrics = app.client.get(format!("{}/metrics", app.admin)).send().await.expect("request");
    for (what, response) in
        [("me", &me), ("problem", &problem), ("404", &missing), ("healthz", &health), ("metrics", &metrics)]
    {
        assert_eq!(header(response, "x-content-type-options").as_deref(), Some("nosniff"), "{what}");
    }
    for (what, response) in [("me", &me), ("problem", &problem), ("404", &missing)] {
        assert_eq!(header(response, "content-security-policy").as_deref(), Some(CSP), "{what}");
    }
}

/// Issue 11.10: the invalidation notice reaches users. Revoke-all and per-user revoke take a `user_message`;
/// every 401 `session_revoked` they cause (access token or refresh) carries `notice: {id, message, time}`, a
/// session ended by its own logout does not, and the evidence (`GET /admin/sessions/revocations`) has the
/// message and how many refused requests carried it.
#[tokio::test]
async fn revocation_notice_reaches_the_refused_users_and_the_evidence() {
    let app = spawn_app_with("[sessions]\nview_reload_secs = 1").await;
    app.register("notified@example.com").await;
    let bob_id = app.register("bob-notified@example.com").await;
    let before = app.login("notified@example.com").await;
    let logged_out = app.login("bob-notified@example.com").await;
    let logout =
        app.post_json("/v1/auth/logout", &json!({})).bearer_auth(access(&logged_out)).send().await.expect("req");
    assert_eq!(logout.status(), 204);

    const MESSAGE: &str = "We signed everyone out after a security update. Please log in again.";
    let body = json!({"reason": "incident 42", "user_message": MESSAGE});
    let accepted =
        json_of(app.admin_post("/admin/sessions/revoke-all").json(&body).send().await.expect("req"), 202).await;
    let job_id = accepted["job_id"].as_str().expect("job id").to_owned();

    for response in [app.me(access(&before)).await, app.refresh(refresh_of(&before)).await] {
        let problem = assert_problem(response, 401, "session_revoked").await;
        assert_eq!(problem["notice"]["id"], job_id, "{problem}");
        assert_eq!(problem["notice"]["message"], MESSAGE, "{problem}");
        assert!(problem["notice"]["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{problem}");
    }
    let own = assert_problem(app.me(access(&logged_out)).await, 401, "session_revoked").await;
    assert!(own.get("notice").is_none(), "a logout is not the revocation's doing: {own}");

    let bob = app.login("bob-notified@example.com").await;
    let body = json!({"reason": "account secured", "user_message": "Your account was secured by support."});
    let path = format!("/admin/users/{bob_id}/revoke-sessions");
    let per_user = json_of(app.admin_post(&path).json(&body).send().await.expect("req"), 202).await;
    let problem = assert_problem(app.me(access(&bob)).await, 401, "session_revoked").await;
    assert_eq!(problem["notice"]["id"], per_user["job_id"], "{problem}");
    assert_eq!(problem["notice"]["message"], "Your account was secured by support.");
    let fresh = app.login("notified@example.com").await;
    json_of(app.me(access(&fresh)).await, 200).await;

    let notice = async || {
        let list = json_of(app.admin_get("/admin/sessions/revocations").send().await.expect("req"), 200).await;
        list["revocations"].as_array().expect("list").iter().find(|n| n["id"] == job_id).cloned().expect("notice")
    };
    let evidence = settled(Deadline::ms(4_000, 100), notice, |n| n["refused_requests"] == 2).await;
    assert_eq!(evidence["user_message"], MESSAGE, "{evidence}");
    assert_eq!(evidence["refused_requests"], 2, "the access and the refresh request: {evidence}");
}

/// Garbage, forged and expired tokens get distinct codes; a missing token is `unauthorized`.
#[tokio::test]
async fn bad_access_tokens_are_refused_with_distinct_codes() {
    let app = spawn_app().await;
    let user_id = app.register("hank@example.com").await;
    let pair = app.login("hank@example.com").await;
    let sid = pair["session_id"].as_str().expect("sid").parse().expect("uuid");

    let response = app.get("/v1/auth/me").send().await.expect("request");
    assert_problem(response, 401, "unauthorized").await;
    assert_problem(app.me("not.a.token").await, 401, "token_invalid").await;

    let token = access(&pair);
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    assert_problem(app.me(&parts.join(".")).await, 401, "token_invalid").await;

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let expired = AccessClaims {
        sub: user_id.parse().expect("uuid"),
        sid,
        iat: now - 3600,
        exp: now - 600,
        iss: "gantry".into(),
        aud: "gantry-api".into(),
        jti: uuid::Uuid::new_v4(),
    };
    let expired = sign_access(&expired, &SecretValue::new(JWT));
    assert_problem(app.me(&expired).await, 401, "token_expired").await;

    // The admin token is not an access token, and an access token does not open the admin API.
    assert_problem(app.me(ADMIN_TOKEN).await, 401, "token_invalid").await;
    let response = app.client.get(format!("{}/admin/secrets", app.admin)).bearer_auth(token).send().await.expect("req");
    assert_problem(response, 401, "unauthorized").await;
}

/// Logout revokes the session: its access and refresh tokens stop working, other sessions go on.
#[tokio::test]
async fn logout_revokes_only_this_session() {
    let app = spawn_app().await;
    app.register("ivy@example.com").await;
    let phone = app.login("ivy@example.com").await;
    let laptop = app.login("ivy@example.com").await;

    let response = app.client.post(format!("{}/v1/auth/logout", app.http)).bearer_auth(access(&phone)).send().await;
    assert_eq!(response.expect("request").status(), 204);

    assert_problem(app.me(access(&phone)).await, 401, "session_revoked").await;
    assert_problem(app.refresh(refresh_of(&phone)).await, 401, "session_revoked").await;
    json_of(app.me(access(&laptop)).await, 200).await;
}

/// `scope: others` keeps the caller's session; `scope: all` ends every session of the user, not others'.
#[tokio::test]
async fn logout_scopes_others_and_all() {
    let app = spawn_app().await;
    app.register("jack@example.com").await;
    app.register("kate@example.com").await;
    let (a, b, c) =
        (app.login("jack@example.com").await, app.login("jack@example.com").await, app.login("jack@example.com").await);
    let kate = app.login("kate@example.com").await;

    let logout = |token: String, scope: &'static str| {
        let client = app.client.clone();
        let url = format!("{}/v1/auth/logout", app.http);
        async move { client.post(url).bearer_auth(token).json(&json!({"scope": scope})).send().await.expect("req") }
    };
    assert_eq!(logout(access(&a).to_owned(), "others").await.status(), 204);
    json_of(app.me(access(&a)).await, 200).await;
    assert_problem(app.me(access(&b)).await, 401, "session_revoked").await;
    assert_problem(app.me(access(&c)).await, 401, "session_revoked").await;

    let d = app.login("jack@example.com").await;
    assert_eq!(logout(access(&d).to_owned(), "all").await.status(), 204);
    assert_problem(app.me(access(&a)).await, 401, "session_revoked").await;
    assert_problem(app.me(access(&d)).await, 401, "session_revoked").await;
    json_of(app.me(access(&kate)).await, 200).await;
    let e = app.login("jack@example.com").await;
    json_of(app.me(access(&e)).await, 200).await;

    let response = logout(access(&e).to_owned(), "everything").await;
    assert_problem(response, 422, "validation_failed").await;
}

/// A user lists their own sessions (the current one marked) and can end one; another user's session id
/// is 404 and stays alive.
#[tokio::test]
async fn own_sessions_are_listed_and_deletable_others_are_not() {
    let app = spawn_app().await;
    app.register("leo@example.com").await;
    app.register("mia@example.com").await;
    let one = app.login("leo@example.com").await;
    let two = app.login("leo@example.com").await;
    let mia = app.login("mia@example.com").await;

    let list = json_of(app.get("/v1/auth/sessions").bearer_auth(access(&one)).send().await.expect("req"), 200).await;
    let sessions = list["sessions"].as_array().expect("list");
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], one["session_id"]);
    assert_eq!(current[0]["address"], "127.0.0.1");

    let url = |sid: &serde_json::Value| format!("{}/v1/auth/sessions/{}", app.http, sid.as_str().expect("sid"));
    let response = app.client.delete(url(&mia["session_id"])).bearer_auth(access(&one)).send().await.expect("req");
    assert_problem(response, 404, "session_not_found").await;
    json_of(app.me(access(&mia)).await, 200).await;

    let response = app.client.delete(url(&two["session_id"])).bearer_auth(access(&one)).send().await.expect("req");
    assert_eq!(response.status(), 204);
    assert_problem(app.me(access(&two)).await, 401, "session_revoked").await;
}

/// Revoke-all: 202 with a job and `not_before`; every earlier token is refused (access and refresh), new
/// logins work, and the notice records who, why and how many sessions were active.
#[tokio::test]
async fn revoke_all_forces_everyone_to_log_in_again() {
    let app = spawn_app().await;
    app.register("nina@example.com").await;
    app.register("omar@example.com").await;
    let nina = app.login("nina@example.com").await;
    let omar = app.login("omar@example.com").await;

    let response = app
        .admin_post("/admin/sessions/revoke-all")
        .json(&json!({"reason": "rotated JWT_SECRET"}))
        .send()
        .await
        .expect("request");
    let accepted = json_of(response, 202).await;
    assert!(accepted["not_before"].is_string());

    for pair in [&nina, &omar] {
        assert_problem(app.me(access(pair)).await, 401, "session_revoked").await;
        assert_problem(app.refresh(refresh_of(pair)).await, 401, "session_revoked").await;
    }
    let fresh = app.login("nina@example.com").await;
    json_of(app.me(access(&fresh)).await, 200).await;

    let job_id = accepted["job_id"].as_str().expect("job id");
    let job = settled(
        Deadline::ms(1_000, 20),
        async || json_of(app.admin_get(&format!("/admin/jobs/{job_id}")).send().await.expect("req"), 200).await,
        |job| job["state"] == "completed",
    )
    .await;
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["result"]["active_sessions"], 2, "{job}");

    let notices = json_of(app.admin_get("/admin/sessions/revocations").send().await.expect("req"), 200).await;
    let notice = &notices["revocations"][0];
    assert_eq!(notice["reason"], "rotated JWT_SECRET");
    assert_eq!(notice["requested_by"], "admin");
    assert_eq!(notice["scope"], "all");
    assert_eq!(notice["active_sessions"], 2);
    assert_eq!(notice["id"], job_id);

    let response = app.admin_post("/admin/sessions/revoke-all").json(&json!({})).send().await.expect("request");
    assert_problem(response, 422, "validation_failed").await;
}

/// Revoking one user's sessions leaves everyone else logged in; unknown users are 404.
#[tokio::test]
async fn revoke_user_affects_only_that_user() {
    let app = spawn_app().await;
    let pia = app.register("pia@example.com").await;
    app.register("quinn@example.com").await;
    let pia_pair = app.login("pia@example.com").await;
    let quinn = app.login("quinn@example.com").await;

    let response = app
        .admin_post(&format!("/admin/users/{pia}/revoke-sessions"))
        .json(&json!({"reason": "account compromised"}))
        .send()
        .await
        .expect("request");
    json_of(response, 202).await;
    assert_problem(app.me(access(&pia_pair)).await, 401, "session_revoked").await;
    json_of(app.me(access(&quinn)).await, 200).await;

    let response = app
        .admin_post(&format!("/admin/users/{}/revoke-sessions", uuid::Uuid::now_v7()))
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .expect("request");
    assert_problem(response, 404, "user_not_found").await;
}

/// On the local profile the epoch and the sessions survive a restart: revoked stays revoked, and a
/// session created after the revocation still refreshes.
#[tokio::test]
async fn epoch_and_sessions_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = spawn_app_in(dir.path(), "").await;
    app.register("rita@example.com").await;
    let before = app.login("rita@example.com").await;
    let response = app.admin_post("/admin/sessions/revoke-all").json(&json!({"reason": "drill"})).send().await;
    json_of(response.expect("request"), 202).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let after = app.login("rita@example.com").await;
    app.stop().await.expect("clean stop");

    let app = spawn_app_in(dir.path(), "").await;
    assert_problem(app.me(access(&before)).await, 401, "session_revoked").await;
    assert_problem(app.refresh(refresh_of(&before)).await, 401, "session_revoked").await;
    json_of(app.me(access(&after)).await, 200).await;
    json_of(app.refresh(refresh_of(&after)).await, 200).await;
}

/// A panic in the session registry is survived: logins and refreshes work again afterwards, and tokens
/// issued before still verify (the view outlives the actor).
#[tokio::test]
async fn session_registry_restart_keeps_serving() {
    let app = spawn_app().await;
    app.register("sam@example.com").await;
    let pair = app.login("sam@example.com").await;

    app.state.sessions.inject_panic().expect("message accepted");
    json_of(app.me(access(&pair)).await, 200).await;

    let refresh = async || {
        let response = app.refresh(refresh_of(&pair)).await;
        if response.status() == 200 {
            return Some(response.json::<serde_json::Value>().await.expect("json"));
        }
        assert_eq!(response.status(), 503, "only 503 while restarting");
        None
    };
    let refreshed = settled(Deadline::ms(2_000, 20), refresh, Option::is_some).await;
    let refreshed = refreshed.expect("refresh works again after the restart");
    json_of(app.me(access(&refreshed)).await, 200).await;
    assert!(app.metrics().await.contains("gantry_actor_restarts_total{actor=\"session_registry\"} 1"));
}

/// The attack (issue 20 item 4): 55 wrong passwords for the victim's email from 11 addresses (5 each) filled
/// the per-account limit, and the victim's correct password from a new address got 429 — their own password
/// change too. Now a login presenting the device token of an earlier login is not held by that limit, and a
/// logged-in user's password change never is; strangers stay throttled (per account, per pair, per address).
#[tokio::test]
async fn strangers_cannot_lock_a_known_device_out() {
    let app = spawn_app().await;
    app.register("victim@example.com").await;
    let earlier = app.login("victim@example.com").await;
    let device_token = earlier["device_token"].as_str().expect("a login answers a device token").to_owned();
    let from = |last: u8| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, last]))
            .build()
            .expect("client bound to a loopback address")
    };
    let url = format!("{}/v1/auth/login", app.http);
    let wrong = json!({"email": "victim@example.com", "password": "wrong-password-123"});
    let mut statuses = Vec::new();
    for attacker in 10..21 {
        let client = from(attacker);
        for _ in 0..5 {
            statuses.push(client.post(&url).json(&wrong).send().await.expect("request").status().as_u16());
        }
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 50, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 5, "the account's limit is full: {statuses:?}");

    let right = json!({"email": "victim@example.com", "password": PASSWORD});
    let stranger = from(30).post(&url).json(&right).send().await.expect("request");
    assert_eq!(stranger.status(), 429, "without a device token, the account's limit holds");
    assert!(stranger.headers().contains_key("retry-after"));

    let with_device = json!({"email": "victim@example.com", "password": PASSWORD, "device_token": device_token});
    let victim = from(31).post(&url).json(&with_device).send().await.expect("request");
    let victim = json_of(victim, 200).await;
    assert!(victim["device_token"].is_string(), "{victim}");

    let forged = json!({"email": "victim@example.com", "password": PASSWORD, "device_token": "d1.x.99999999999.y"});
    let forged = from(32).post(&url).json(&forged).send().await.expect("request");
    assert_eq!(forged.status(), 429, "a forged device token is a stranger's");

    let change = app
        .post_json(
            "/v1/auth/password",
            &json!({"current_password": PASSWORD, "new_password": "combine-harvester-red-77"}),
        )
        .bearer_auth(access(&victim));
    assert_eq!(change.send().await.expect("request").status(), 204, "the user's own password change is not held");
}

/// The attack (issue 20 item 7): `Summer2024!` and `Pa$$w0rd2024` were accepted, and so were ten zero-width
/// spaces or ten spaces before an `x`. Now registration refuses the first two as `common_password` (the bundled
/// breached-password list, checked offline) and the padded ones as `too_short` (visible characters counted).
#[tokio::test]
async fn breached_and_padded_passwords_are_refused() {
    let app = spawn_app().await;
    let zero_width = format!("{}x", "\u{200B}".repeat(10));
    let spaces = format!("{}x", " ".repeat(10));
    for (password, code) in [
        ("Summer2024!", "common_password"),
        ("Pa$$w0rd2024", "common_password"),
        (zero_width.as_str(), "too_short"),
        (spaces.as_str(), "too_short"),
    ] {
        let request = app.post_json("/v1/auth/register", &json!({"email": "pw@example.com", "password": password}));
        let problem = assert_problem(request.send().await.expect("request"), 422, "validation_failed").await;
        let codes: Vec<&str> =
            problem["errors"].as_array().unwrap().iter().filter_map(|e| e["code"].as_str()).collect();
        assert!(codes.contains(&code), "{password:?}: {problem}");
    }
}
