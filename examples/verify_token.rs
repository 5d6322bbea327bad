//! Verifying a Gantry access token in another Rust service (docs/verifying-tokens.md): the `jsonwebtoken`
//! crate and the published key set, cached for its `Cache-Control` max-age and fetched again, at most once per
//! cooldown, when a token names a `kid` the cached set does not have (a key published after the last fetch).
//!
//! Run: `cargo run --example verify_token -- http://127.0.0.1:8080 "$ACCESS_TOKEN"` prints the user id.
//! (`tests/api/verify_token_example.rs` runs this file's `verify` against a real local instance.)

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The claims this service reads.
#[derive(Debug, Deserialize)]
pub(crate) struct Claims {
    /// The user id.
    pub(crate) sub: String,
    /// The session id (a service that wants revocation within seconds asks Gantry: `GET /v1/auth/me`).
    pub(crate) sid: String,
}

/// The key set of one issuer, as last fetched.
pub(crate) struct KeySet {
    url: String,
    client: reqwest::Client,
    keys: JwkSet,
    fetched: Option<Instant>,
    max_age: Duration,
}

/// Never fetch the key set more often than this because of unknown `kid`s (jose's default).
const COOLDOWN: Duration = Duration::from_secs(30);

impl KeySet {
    pub(crate) fn new(base_url: &str) -> Self {
        Self {
            url: format!("{base_url}/.well-known/jwks.json"),
            client: reqwest::Client::new(),
            keys: JwkSet { keys: Vec::new() },
            fetched: None,
            max_age: Duration::ZERO,
        }
    }

    async fn fetch(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        let response = self.client.get(&self.url).send().await?.error_for_status()?;
        // `Cache-Control: public, max-age=300`: keep the set that long.
        self.max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').find_map(|d| d.trim().strip_prefix("max-age=")?.parse().ok()))
            .map_or(Duration::from_secs(300), Duration::from_secs);
        self.keys = response.json().await?;
        self.fetched = Some(Instant::now());
        Ok(())
    }

    /// The key named `kid`: from the cached set while it is fresh, else after fetching it again (for an
    /// unknown `kid`, at most once per [`COOLDOWN`]).
    async fn key(&mut self, kid: &str) -> Result<DecodingKey, Box<dyn std::error::Error>> {
        let age = self.fetched.map(|t| t.elapsed());
        let stale = age.is_none_or(|a| a >= self.max_age);
        let unknown = self.keys.find(kid).is_none();
        if stale || (unknown && age.is_none_or(|a| a >= COOLDOWN)) {
            self.fetch().await?;
        }
        let jwk = self.keys.find(kid).ok_or("no key with this kid in the key set")?;
        Ok(DecodingKey::from_jwk(jwk)?)
    }
}

/// Verifies `token`: a known key, its own algorithm (EdDSA or ES256, never what the token asks for), the
/// `at+jwt` type, issuer, audience, expiry.
pub(crate) async fn verify(keys: &mut KeySet, token: &str) -> Result<Claims, Box<dyn std::error::Error>> {
    let header = jsonwebtoken::decode_header(token)?;
    if header.typ.as_deref() != Some("at+jwt") {
        return Err("not an access token".into());
    }
    let kid = header.kid.ok_or("the token names no key")?;
    let key = keys.key(&kid).await?;
    let alg = keys.keys.find(&kid).and_then(|k| k.common.key_algorithm).ok_or("the key names no algorithm")?;
    let alg = match alg {
        jsonwebtoken::jwk::KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        jsonwebtoken::jwk::KeyAlgorithm::ES256 => Algorithm::ES256,
        _ => return Err("unexpected key algorithm".into()),
    };
    let mut validation = Validation::new(alg);
    validation.set_issuer(&["gantry"]);
    validation.set_audience(&["gantry-api"]);
    validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
    Ok(jsonwebtoken::decode::<Claims>(token, &key, &validation)?.claims)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(base_url), Some(token)) = (args.next(), args.next()) else {
        return Err("usage: verify_token BASE_URL ACCESS_TOKEN".into());
    };
    let mut keys = KeySet::new(&base_url);
    let claims = verify(&mut keys, &token).await?;
    println!("user {} (session {})", claims.sub, claims.sid);
    Ok(())
}
