//! `examples/verify_token.rs`, the Rust verifier of docs/verifying-tokens.md (the `jsonwebtoken` crate and a
//! cached JWKS fetch), run as written against a real local Gantry: it accepts the EdDSA and ES256 access
//! tokens a login hands out (with their user and session), and refuses a token whose claims were changed, one
//! signed by a key the key set does not have, and a refresh token.

use gantry_actors::secrets::signing_key::{AccessAlgorithm, SigningKey};
use gantry_actors::sessions::AccessClaims;
use gantry_actors::sessions::tokens::sign_access_with;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::helpers::{access, refresh_of, spawn_app_with};

#[allow(dead_code)]
#[path = "../../examples/verify_token.rs"]
mod example;

fn claims(token: &str) -> AccessClaims {
    let part = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("claims")
}

#[tokio::test]
async fn the_rust_verifier_example_accepts_gantry_tokens_and_refuses_others() {
    for toml in ["", "[sessions]\naccess_token_algorithm = \"ES256\"\n"] {
        let app = spawn_app_with(toml).await;
        app.register("example@example.com").await;
        let pair = app.login("example@example.com").await;
        let token = access(&pair).to_owned();
        let mut keys = example::KeySet::new(&app.http);
        let verified = example::verify(&mut keys, &token).await.expect("the example accepts a Gantry token");
        let expected = claims(&token);
        assert_eq!((verified.sub, verified.sid), (expected.sub.to_string(), expected.sid.to_string()));

        let mut changed = token.split('.').map(str::to_owned).collect::<Vec<_>>();
        let mut forged = expected.clone();
        forged.sub = uuid::Uuid::new_v4();
        changed[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).expect("json"));
        assert!(example::verify(&mut keys, &changed.join(".")).await.is_err(), "changed claims are refused");

        let stranger = SigningKey::parse(&SigningKey::generate_pem(AccessAlgorithm::EdDsa)).expect("valid");
        let foreign = sign_access_with(&expected, &stranger);
        assert!(example::verify(&mut keys, &foreign).await.is_err(), "a key not in the set is refused");
        assert!(example::verify(&mut keys, refresh_of(&pair)).await.is_err(), "a refresh token is refused");
        app.stop().await.expect("stops");
    }
}
