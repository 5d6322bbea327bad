use super::*;
use crate::secrets::signing_key::AccessAlgorithm;

const JWT: &str = "q7R2vX9kLm4PzT8wN3bH6yC1dF5gJ0sA";
const UPLOAD: &str = "Zt5Kp2Wq9Lx7Mv3Bn8Rc4Hd6Jf1Gs0Ya";
const S3_KEY: &str = "Vw8Qe3Rt6Yu1Io4Pa7Sd2Fg9";

fn good<'a>() -> Candidates<'a> {
    Candidates {
        jwt_secret: Some(JWT),
        upload_guest_token_secret: Some(UPLOAD),
        s3_access_key_id: Some("gantry"),
        s3_secret_access_key: Some(S3_KEY),
        admin_token: Some("Hn4Bv7Cx2Zl9Kj5Mg8Df3Sa6Qw1Er0Ty"),
        jwt_signing_key: None,
        jwt_signing_key_next: None,
    }
}

const ALL_REQUIRED: Requirements = Requirements { s3: true, admin_token: true, algorithm: AccessAlgorithm::Hs256 };

fn rules_for(violations: &[Violation], name: SecretName) -> Vec<&'static str> {
    violations.iter().filter(|v| v.variable == name).map(|v| v.rule.code()).collect()
}

/// A strong, distinct set passes every rule.
#[test]
fn strong_distinct_set_passes() {
    assert_eq!(validate(&good(), ALL_REQUIRED), vec![]);
}

/// A short JWT secret is reported as too short, naming the 32-character minimum.
#[test]
fn short_jwt_secret_is_too_short() {
    let candidates = Candidates { jwt_secret: Some("short"), ..good() };
    let violations = validate(&candidates, ALL_REQUIRED);
    assert!(rules_for(&violations, SecretName::JwtSecret).contains(&"too_short"));
    let text = violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    assert!(text.contains("JWT_SECRET must be at least 32 characters"), "{text}");
    assert!(!text.contains("short ") || !text.contains("\"short\""), "value must not be echoed: {text}");
}

/// The upload secret may not equal the JWT secret.
#[test]
fn upload_secret_equal_to_jwt_secret_is_rejected() {
    let candidates = Candidates { upload_guest_token_secret: Some(JWT), ..good() };
    let violations = validate(&candidates, ALL_REQUIRED);
    assert_eq!(rules_for(&violations, SecretName::UploadGuestTokenSecret), vec!["same_as_jwt_secret"]);
}

/// The S3 secret needs 24 characters and the key id must be present, when objects go to S3.
#[test]
fn s3_rules_apply_only_when_s3_is_used() {
    let candidates = Candidates { s3_access_key_id: None, s3_secret_access_key: Some("Vw8Qe3Rt6Yu1"), ..good() };
    let violations = validate(&candidates, ALL_REQUIRED);
    assert_eq!(rules_for(&violations, SecretName::S3AccessKeyId), vec!["missing"]);
    assert!(rules_for(&violations, SecretName::S3SecretAccessKey).contains(&"too_short"));

    let local = Candidates { s3_access_key_id: None, s3_secret_access_key: None, ..good() };
    assert_eq!(
        validate(&local, Requirements { s3: false, admin_token: true, algorithm: AccessAlgorithm::Hs256 }),
        vec![]
    );
}

/// Every violation is reported together, not just the first.
#[test]
fn all_violations_are_reported_together() {
    let candidates = Candidates {
        jwt_secret: Some("short"),
        upload_guest_token_secret: None,
        s3_access_key_id: None,
        s3_secret_access_key: None,
        admin_token: None,
        jwt_signing_key: None,
        jwt_signing_key_next: Some("short"),
    };
    let violations = validate(&candidates, Requirements { algorithm: AccessAlgorithm::EdDsa, ..ALL_REQUIRED });
    for name in SecretName::ALL {
        assert!(!rules_for(&violations, name).is_empty(), "{name} should be reported: {violations:?}");
    }
}

/// Long but obviously weak values are rejected for their shape, not only their length.
#[test]
fn long_low_entropy_values_are_rejected() {
    let cases = [
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "repeated_character"),
        ("abcabcabcabcabcabcabcabcabcabcabcabc", "repeated_pattern"),
        ("abcdefghijklmnopqrstuvwxyz0123456789", "sequential_run"),
        ("changemechangemechangemechangeme1", "placeholder"),
        ("secret-for-the-jwt-signing-key-2026", "placeholder"),
        ("Password1234567890Password1234567890", "placeholder"),
        ("0101010101011010101010101010101001", "low_entropy"),
    ];
    for (value, expected) in cases {
        let found: Vec<_> = weaknesses(value).into_iter().map(Rule::code).collect();
        assert!(found.contains(&expected), "{value}: expected {expected}, got {found:?}");
    }
}

/// Random values of the shapes operators generate pass (`openssl rand -hex 16`, `-base64 32`).
#[test]
fn typical_generated_values_pass() {
    for value in [
        "3f9c2a7be41d08f56a9e0b3c7d2f1e84",
        "yJ8pV1qZ3rX7mK2nB5tW9cL4hD6gF0sQ+aE=",
        "correct horse battery staple tractor",
        "Vw8Qe3Rt6Yu1Io4Pa7Sd2Fg9",
    ] {
        assert_eq!(weaknesses(value), vec![], "{value}");
    }
}

/// The estimate grows with length for random-looking text and stays tiny for repetition.
#[test]
fn entropy_estimate_orders_values_sensibly() {
    assert!(estimate_entropy_bits("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") < 1.0);
    assert!(estimate_entropy_bits(JWT) > 150.0);
    assert!(estimate_entropy_bits("3f9c2a7be41d08f56a9e0b3c7d2f1e84") > MIN_ENTROPY_BITS);
}

/// With an asymmetric algorithm `JWT_SIGNING_KEY` is required; a key of the other algorithm, a value that is
/// no private key, and a key equal to the next one are each reported (naming the variable, never the value).
#[test]
fn signing_keys_parse_match_the_algorithm_and_are_distinct() {
    let eddsa = Requirements { s3: true, admin_token: true, algorithm: AccessAlgorithm::EdDsa };
    assert_eq!(rules_for(&validate(&good(), eddsa), SecretName::JwtSigningKey), vec!["missing"]);

    let ed = SigningKey::generate_pem(AccessAlgorithm::EdDsa);
    let ec = SigningKey::generate_pem(AccessAlgorithm::Es256);
    let with = |key: &'static str, next: Option<&'static str>| Candidates {
        jwt_signing_key: Some(key),
        jwt_signing_key_next: next,
        ..good()
    };
    let ed: &'static str = Box::leak(ed.into_boxed_str());
    let ec: &'static str = Box::leak(ec.into_boxed_str());
    assert_eq!(validate(&with(ed, None), eddsa), vec![]);
    let wrong = validate(&with(ec, None), eddsa);
    assert_eq!(rules_for(&wrong, SecretName::JwtSigningKey), vec!["wrong_algorithm"]);
    assert!(!wrong[0].to_string().contains("BEGIN"), "{}", wrong[0]);
    assert_eq!(
        rules_for(&validate(&with(JWT, None), eddsa), SecretName::JwtSigningKey),
        vec!["not_a_private_key", "same_as_another_secret"]
    );
    assert_eq!(
        rules_for(&validate(&with(ed, Some(ed)), eddsa), SecretName::JwtSigningKeyNext),
        vec!["same_as_another_secret"]
    );
    // With HS256 a key of either algorithm may be published ahead of the move.
    assert_eq!(validate(&with(ec, None), ALL_REQUIRED), vec![]);
}
