use std::collections::BTreeMap;

use base64::Engine;

use super::*;
use crate::secrets::keyring::{SecretOrigin, SecretVersion, Versions};

const JWT: &str = "q7R2vX9kLm4PzT8wN3bH6yC1dF5gJ0sA";

fn ring(secret: &str) -> KeyRing {
    let mut m = BTreeMap::new();
    m.insert(SecretName::JwtSecret, Versions::only(SecretVersion::first(SecretValue::new(secret), SecretOrigin::Env)));
    KeyRing::new(m)
}

fn claims(exp_in: i64) -> AccessClaims {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    AccessClaims {
        sub: Uuid::now_v7(),
        sid: Uuid::now_v7(),
        iat: now,
        exp: now + exp_in,
        iss: "gantry".into(),
        aud: "gantry-api".into(),
        jti: Uuid::new_v4(),
    }
}

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"))
}

/// A token signed with the current secret verifies and carries its claims.
#[test]
fn signed_token_verifies() {
    let keyring = ring(JWT);
    let c = claims(900);
    let token = sign_access(&c, keyring.current(SecretName::JwtSecret).expect("jwt"));
    assert_eq!(verify_access(&token, &keyring, &TokenSettings::default()), Ok(c));
}

/// Expired (beyond the 30 s leeway) is `Expired`; within the leeway it still verifies.
#[test]
fn expiry_respects_leeway() {
    let keyring = ring(JWT);
    let key = keyring.current(SecretName::JwtSecret).expect("jwt");
    let settings = TokenSettings::default();
    assert_eq!(verify_access(&sign_access(&claims(-60), key), &keyring, &settings), Err(TokenError::Expired));
    assert!(verify_access(&sign_access(&claims(-10), key), &keyring, &settings).is_ok());
}

/// `alg: none`, another algorithm, an unknown `kid`, a tampered payload, another issuer or audience: all
/// invalid.
#[test]
fn forged_tokens_are_invalid() {
    let keyring = ring(JWT);
    let key = keyring.current(SecretName::JwtSecret).expect("jwt");
    let settings = TokenSettings::default();
    let good = sign_access(&claims(900), key);
    let parts: Vec<&str> = good.split('.').collect();
    let payload = serde_json::to_value(claims(900)).expect("json");
    let kid = key.fingerprint().as_str();

    let none = format!("{}.{}.", b64(&serde_json::json!({"alg": "none", "typ": "JWT", "kid": kid})), parts[1]);
    let hs512 = {
        let mut h = Header::new(Algorithm::HS512);
        h.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&h, &payload, &EncodingKey::from_secret(JWT.as_bytes())).expect("sign")
    };
    let unknown_kid = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("000000000000".into());
        jsonwebtoken::encode(&h, &payload, &EncodingKey::from_secret(JWT.as_bytes())).expect("sign")
    };
    let mut evil = claims(900);
    evil.sub = Uuid::now_v7();
    let tampered = format!("{}.{}.{}", parts[0], b64(&serde_json::to_value(&evil).expect("json")), parts[2]);
    let other_key = sign_access(&claims(900), &SecretValue::new("Zt5Kp2Wq9Lx7Mv3Bn8Rc4Hd6Jf1Gs0Ya"));
    let mut wrong_aud = claims(900);
    wrong_aud.aud = "someone-else".into();
    let wrong_aud = sign_access(&wrong_aud, key);

    for (name, token) in [
        ("none", none),
        ("hs512", hs512),
        ("unknown kid", unknown_kid),
        ("tampered", tampered),
        ("other key", other_key),
        ("wrong aud", wrong_aud),
        ("garbage", "a.b.c".into()),
    ] {
        assert_eq!(verify_access(&token, &keyring, &settings), Err(TokenError::Invalid), "{name}");
    }
}

/// Refresh tokens carry their session id, hash stably, and never show in Debug output.
#[test]
fn refresh_token_round_trip() {
    let sid = Uuid::now_v7();
    let token = RefreshToken::generate(sid);
    let parsed = RefreshToken::parse(token.expose()).expect("parses");
    assert_eq!(parsed.session_id(), sid);
    assert_eq!(parsed.hash(), token.hash());
    assert_eq!(token.hash().len(), 64);
    assert!(!format!("{token:?}").contains(token.expose()));
    assert!(RefreshToken::parse("not-a-token").is_none());
    assert_ne!(RefreshToken::generate(sid), token, "256 random bits each time");
}

/// Only the holder of the used token can unseal its successor.
#[test]
fn seal_opens_only_with_the_used_token() {
    let sid = Uuid::now_v7();
    let used = RefreshToken::generate(sid);
    let successor = RefreshToken::generate(sid);
    let sealed = used.seal(&successor);
    assert_eq!(used.unseal(sid, &sealed, None), Some(successor.clone()));
    let stranger = RefreshToken::generate(sid);
    assert_ne!(stranger.unseal(sid, &sealed, None), Some(successor));

    let key = crate::ports::sessions::RefreshMacKey::generate();
    let used = RefreshToken::issue(sid, 4, &key);
    let successor = RefreshToken::issue(sid, 5, &key);
    assert_eq!(used.unseal(sid, &used.seal(&successor), Some((5, &key))), Some(successor));
}

/// A v2 token carries its generation under a tag only the session's key makes: changing the generation, the
/// key or any byte makes it inauthentic; legacy tokens are never authentic.
#[test]
fn generation_tag_binds_generation_and_session_key() {
    let sid = Uuid::now_v7();
    let key = crate::ports::sessions::RefreshMacKey::generate();
    let token = RefreshToken::issue(sid, 7, &key);
    let parsed = RefreshToken::parse(token.expose()).expect("parses");
    assert_eq!(parsed.session_id(), sid);
    assert_eq!(parsed.generation(), Some(7));
    assert!(parsed.is_authentic(&key));
    assert!(!parsed.is_authentic(&crate::ports::sessions::RefreshMacKey::generate()));
    let mut raw = URL_SAFE_NO_PAD.decode(token.expose()).expect("b64");
    raw[19] ^= 1;
    let bumped = RefreshToken::parse(&URL_SAFE_NO_PAD.encode(&raw)).expect("parses");
    assert_eq!(bumped.generation(), Some(6));
    assert!(!bumped.is_authentic(&key), "a changed generation breaks the tag");
    assert!(!RefreshToken::generate(sid).is_authentic(&key));
}

/// A ring signing with `signing` (EdDSA) beside `JWT`.
fn signing_ring(signing: &str) -> KeyRing {
    let mut m = BTreeMap::new();
    m.insert(SecretName::JwtSecret, Versions::only(SecretVersion::first(SecretValue::new(JWT), SecretOrigin::Env)));
    m.insert(
        SecretName::JwtSigningKey,
        Versions::only(SecretVersion::first(SecretValue::new(signing), SecretOrigin::File)),
    );
    KeyRing::new(m)
}

/// `ring` with `next` staged as `JWT_SIGNING_KEY` and promoted at `at`.
fn rotated(ring: &KeyRing, next: &str, at: time::OffsetDateTime) -> KeyRing {
    let candidate = BTreeMap::from([(SecretName::JwtSigningKey, (SecretValue::new(next), SecretOrigin::File))]);
    let (staged, _) = ring.staged(&candidate, at);
    staged.promoted(at).0
}

/// Two rotations within one access token's lifetime: the key of two rotations ago keeps verifying, and stays
/// published, until its own window closes (`access_ttl` + leeway after it stopped signing), then it is
/// dropped; the emergency retirement ends it at once. Only one previous key was kept before: its tokens were
/// refused from the second promotion on.
#[test]
fn every_previous_signing_key_verifies_until_its_own_window_closes() {
    let settings = TokenSettings { algorithm: AccessAlgorithm::EdDsa, ..TokenSettings::default() };
    let pems: Vec<String> = (0..3).map(|_| SigningKey::generate_pem(AccessAlgorithm::EdDsa)).collect();
    let kids: Vec<String> = pems.iter().map(|p| SigningKey::parse(p).expect("valid").public().kid.clone()).collect();
    let ring = signing_ring(&pems[0]);
    let old = sign_current(&claims(600), &ring, &settings);

    let now = time::OffsetDateTime::now_utc();
    let first = now - time::Duration::seconds(120);
    let ring = rotated(&rotated(&ring, &pems[1], first), &pems[2], now - time::Duration::seconds(60));
    let window = i64::try_from(settings.previous_signing_key_window().as_secs()).expect("fits");
    let published = published_keys(&ring, &settings, now.unix_timestamp());
    let key_one = published.iter().find(|p| p.key.kid == kids[0]).expect("the key of two rotations ago is published");
    assert_eq!(key_one.until, Some(first.unix_timestamp() + window), "until its own window closes");
    assert_eq!(key_one.used, KeyUse::Previous);
    let (_, used) = Verifier::new(&ring, &settings).verify_with(&old).expect("its token verifies");
    assert_eq!(used, KeyUse::Previous);
    assert!(!Verifier::new(&ring, &settings).trusts(&kids[0], now.unix_timestamp()), "never cached");

    let closed = first.unix_timestamp() + window;
    let kids_then: Vec<String> = published_keys(&ring, &settings, closed).into_iter().map(|p| p.key.kid).collect();
    assert!(!kids_then.contains(&kids[0]), "dropped once its window closed: {kids_then:?}");
    assert!(kids_then.contains(&kids[1]), "the key it was replaced by keeps its own, later window");

    let (retired, changes) = ring.previous_retired(SecretName::JwtSigningKey, now);
    assert_eq!(changes.iter().filter(|c| c.action == "retired").count(), 2, "{changes:?}");
    let kids_after: Vec<String> =
        published_keys(&retired, &settings, now.unix_timestamp()).into_iter().map(|p| p.key.kid).collect();
    assert_eq!(kids_after, vec![kids[2].clone()], "an emergency retirement ends every older key at once");
    assert_eq!(Verifier::new(&retired, &settings).verify(&old), Err(TokenError::Invalid));
}

/// The older previous keys are bounded: beyond the cap the oldest is dropped, and the change says so.
#[test]
fn retiring_signing_keys_are_bounded() {
    use crate::secrets::keyring::MAX_RETIRING_SIGNING_KEYS;
    let mut ring = signing_ring(&SigningKey::generate_pem(AccessAlgorithm::EdDsa));
    let now = time::OffsetDateTime::now_utc();
    let mut dropped = 0;
    for _ in 0..MAX_RETIRING_SIGNING_KEYS + 3 {
        let candidate = BTreeMap::from([(
            SecretName::JwtSigningKey,
            (SecretValue::new(SigningKey::generate_pem(AccessAlgorithm::EdDsa)), SecretOrigin::File),
        )]);
        let (staged, _) = ring.staged(&candidate, now);
        let (promoted, changes) = staged.promoted(now);
        dropped += changes.iter().filter(|c| c.action == "dropped").count();
        ring = promoted;
    }
    assert_eq!(ring.retiring_keys().len(), MAX_RETIRING_SIGNING_KEYS);
    assert_eq!(dropped, 2, "11 promotions: 10 replaced previous keys, 8 kept");
}
