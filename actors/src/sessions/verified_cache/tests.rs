use uuid::Uuid;

use super::*;

const NOW: i64 = 1_800_000_000;

fn claims() -> Arc<AccessClaims> {
    Arc::new(AccessClaims {
        sub: Uuid::now_v7(),
        sid: Uuid::now_v7(),
        iat: NOW,
        exp: NOW + 900,
        iss: "gantry".into(),
        aud: "gantry-api".into(),
        jti: Uuid::new_v4(),
    })
}

/// A token-shaped string: header, claims and an 86-character signature unique to `n`.
fn token(n: usize) -> String {
    format!("eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.{n:0>86}")
}

fn any_key(_: &str) -> bool {
    true
}

/// A verified token is answered with its claims until its `until`, and not before it was inserted.
#[test]
fn a_remembered_token_is_answered_until_it_expires() {
    let cache = VerifiedTokenCache::default();
    let (t, c) = (token(1), claims());
    assert!(cache.get(&t, NOW, any_key).is_none(), "nothing before it was verified");
    cache.insert(&t, Arc::clone(&c), "k1", NOW + 930, NOW);
    assert_eq!(cache.get(&t, NOW + 929, any_key).as_deref(), Some(&*c));
    assert!(cache.get(&t, NOW + 930, any_key).is_none(), "its `until` is past");
    assert!(cache.get(&t, NOW, any_key).is_none(), "and the entry is gone for good");
}

/// The same signature under other claims (a forgery reusing a real token's signature) is not the token that
/// was verified: a miss.
#[test]
fn a_cached_signature_under_other_claims_is_a_miss() {
    let cache = VerifiedTokenCache::default();
    let t = token(2);
    cache.insert(&t, claims(), "k1", NOW + 900, NOW);
    let forged = t.replace("eyJzdWIiOiJ4In0", "eyJzdWIiOiJ5In0");
    assert!(cache.get(&forged, NOW, any_key).is_none());
    assert!(cache.get(&t, NOW, any_key).is_some(), "the real one still hits");
}

/// An entry whose key the current verifier no longer trusts (an emergency rotation, a dropped key) is never
/// answered again, even if the key came back.
#[test]
fn an_entry_of_a_key_no_longer_trusted_is_refused_and_dropped() {
    let cache = VerifiedTokenCache::default();
    let t = token(3);
    cache.insert(&t, claims(), "old", NOW + 900, NOW);
    assert!(cache.get(&t, NOW, |kid| kid == "new").is_none());
    assert!(cache.get(&t, NOW, any_key).is_none(), "dropped at the refusal");
}

/// `forget_all_but` drops the entries of every other key and keeps the trusted ones.
#[test]
fn forgetting_a_key_drops_only_its_entries() {
    let cache = VerifiedTokenCache::default();
    for n in 0..10 {
        cache.insert(&token(n), claims(), if n % 2 == 0 { "old" } else { "new" }, NOW + 900, NOW);
    }
    assert_eq!(cache.size().0, 10);
    cache.forget_all_but(vec!["new".to_owned()]);
    assert_eq!(cache.size().0, 5);
    assert!(cache.get(&token(0), NOW, any_key).is_none());
    assert!(cache.get(&token(1), NOW, any_key).is_some());
}

/// The cache stays within its byte bound however many tokens pass, and each entry is counted at a plausible
/// size (a few hundred bytes).
#[test]
fn the_cache_is_bounded_by_its_bytes() {
    let cache = VerifiedTokenCache::new(64 * 1024);
    cache.insert(&token(0), claims(), "k1", NOW + 900, NOW);
    let (_, one) = cache.size();
    assert!((300..1000).contains(&one), "one entry weighs {one} bytes");
    for n in 1..2_000 {
        cache.insert(&token(n), claims(), "k1", NOW + 900, NOW);
    }
    let (entries, bytes) = cache.size();
    assert!(bytes <= 64 * 1024, "{bytes} bytes");
    assert!(entries < 2_000 && entries > 0, "{entries} entries");
}

/// A token already at its `until` (or past it) is not remembered.
#[test]
fn an_expired_token_is_not_remembered() {
    let cache = VerifiedTokenCache::default();
    cache.insert(&token(4), claims(), "k1", NOW, NOW);
    cache.insert("no-dots-at-all", claims(), "k1", NOW + 900, NOW);
    assert_eq!(cache.size().0, 0);
}

/// Entries past their `until` that no request asks for again leave the cache at the next insert a minute
/// or more after the last sweep; live ones stay.
#[test]
fn expired_entries_are_swept_out_by_later_inserts() {
    let cache = VerifiedTokenCache::default();
    cache.insert(&token(10), claims(), "k1", NOW + 30, NOW);
    cache.insert(&token(11), claims(), "k1", NOW + 900, NOW);
    cache.insert(&token(12), claims(), "k1", NOW + 900, NOW + 40);
    assert_eq!(cache.size().0, 3, "no sweep within a minute of the last");
    cache.insert(&token(13), claims(), "k1", NOW + 900, NOW + 61);
    assert_eq!(cache.size().0, 3, "the expired entry is gone, the others stay");
    assert!(cache.get(&token(11), NOW + 61, any_key).is_some());
    assert!(cache.get(&token(10), NOW + 61, any_key).is_none());
}
