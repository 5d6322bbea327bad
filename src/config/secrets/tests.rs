use figment::Figment;
use figment::providers::{Format, Toml};

use super::*;

const JWT: &str = "q7R2vX9kLm4PzT8wN3bH6yC1dF5gJ0sA";
const UPLOAD: &str = "Zt5Kp2Wq9Lx7Mv3Bn8Rc4Hd6Jf1Gs0Ya";
const ADMIN: &str = "Hn4Bv7Cx2Zl9Kj5Mg8Df3Sa6Qw1Er0Ty";

fn local(dir: &Path) -> Settings {
    let toml = format!("data_dir = {:?}", dir.display().to_string());
    Settings::load_from(None, Figment::new().merge(Toml::string(&toml))).expect("valid settings")
}

/// The local profile signing HS256 (no signing key to generate): for the tests of the other secrets.
fn local_hs256(dir: &Path) -> Settings {
    let toml = format!("data_dir = {:?}\n[sessions]\naccess_token_algorithm = \"HS256\"", dir.display().to_string());
    Settings::load_from(None, Figment::new().merge(Toml::string(&toml))).expect("valid settings")
}

fn env(pairs: &[(&str, &str)]) -> SecretEnv {
    SecretEnv::from_pairs(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
}

/// In the local profile a missing secret is generated once, stored 0600, and reused on the next start.
#[test]
fn local_profile_generates_missing_secrets_once_with_private_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = local(dir.path());

    let (ring, report) = load(&settings, &SecretEnv::default(), true);
    let ring = ring.expect("generated secrets are valid");
    assert_eq!(report.generated.len(), 4, "{:?}", report.generated);
    let path = settings.secrets_dir().join("JWT_SECRET");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("file exists").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let first = ring.current(SecretName::JwtSecret).expect("present").fingerprint().clone();

    let signing = ring.current(SecretName::JwtSigningKey).expect("the local profile signs EdDSA").fingerprint().clone();

    let (again, report) = load(&settings, &SecretEnv::default(), true);
    assert!(report.generated.is_empty(), "second start reuses the stored secrets");
    let again = again.expect("valid");
    assert_eq!(again.current(SecretName::JwtSecret).expect("present").fingerprint(), &first);
    assert_eq!(again.current(SecretName::JwtSigningKey).expect("present").fingerprint(), &signing);
}

/// The local profile's generated `JWT_SIGNING_KEY` is an Ed25519 PKCS#8 PEM key (what it signs with by
/// default); a next key is never generated.
#[test]
fn local_profile_generates_an_ed25519_signing_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ring, _) = load(&local(dir.path()), &SecretEnv::default(), true);
    let ring = ring.expect("valid");
    let pem = ring.current(SecretName::JwtSigningKey).expect("generated");
    let key = SigningKey::parse(pem.expose()).expect("a PKCS#8 key");
    assert_eq!(key.alg(), gantry_actors::secrets::signing_key::AccessAlgorithm::EdDsa);
    assert!(ring.current(SecretName::JwtSigningKeyNext).is_none());
}

/// Start-up refuses a signing key that is not a private key, one of the other algorithm, and a next key equal
/// to the current one — each named with its rule, the key itself never shown.
#[test]
fn bad_signing_keys_are_refused_at_start_up_without_showing_them() {
    use gantry_actors::secrets::signing_key::AccessAlgorithm;
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = local(dir.path());
    let ec = SigningKey::generate_pem(AccessAlgorithm::Es256);
    let ed = SigningKey::generate_pem(AccessAlgorithm::EdDsa);
    let base = [("JWT_SECRET", JWT), ("UPLOAD_GUEST_TOKEN_SECRET", UPLOAD), ("GANTRY_ADMIN_TOKEN", ADMIN)];
    let with = |extra: &[(&str, &str)]| {
        let mut pairs = base.to_vec();
        pairs.extend_from_slice(extra);
        env(&pairs)
    };
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[("JWT_SIGNING_KEY", "not-a-key-but-long-enough-to-look-like-one-9f8e7d")],
            "JWT_SIGNING_KEY must be a PKCS#8 PEM private key",
        ),
        (
            &[("JWT_SIGNING_KEY", &ec)],
            "JWT_SIGNING_KEY must be a key of the configured access token algorithm (EdDSA) [wrong_algorithm]",
        ),
        (
            &[("JWT_SIGNING_KEY", &ed), ("JWT_SIGNING_KEY_NEXT", &ed)],
            "JWT_SIGNING_KEY_NEXT must differ from every other secret [same_as_another_secret]",
        ),
    ];
    for (extra, expected) in cases {
        let (ring, report) = load(&settings, &with(extra), true);
        assert!(ring.is_none(), "{expected}");
        let text = report.lines().join("\n");
        assert!(text.contains(expected), "{text}");
        let key_body = [&ec, &ed].map(|pem| pem.lines().nth(1).expect("a PEM body line").to_owned());
        assert!(
            !text.contains("not-a-key") && !key_body.iter().any(|b| text.contains(b.as_str())),
            "a value is shown: {text}"
        );
    }
}

/// A weak value given explicitly is rejected even in the local profile, and never echoed.
#[test]
fn explicit_weak_value_is_rejected_in_local_profile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ring, report) = load(&local(dir.path()), &env(&[("JWT_SECRET", "short")]), true);
    assert!(ring.is_none());
    let text = report.lines().join("\n");
    assert!(text.contains("JWT_SECRET must be at least 32 characters"), "{text}");
    assert!(!text.contains("short ["), "value must not appear: {text}");
}

/// `NAME_FILE` is read with its trailing newline dropped; setting both forms is an error.
#[test]
fn file_variant_is_read_and_conflicts_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("jwt");
    std::fs::write(&file, format!("{JWT}\n")).expect("write");
    let settings = local_hs256(dir.path());
    let file_str = file.display().to_string();

    let (ring, report) = load(
        &settings,
        &env(&[("JWT_SECRET_FILE", &file_str), ("UPLOAD_GUEST_TOKEN_SECRET", UPLOAD), ("GANTRY_ADMIN_TOKEN", ADMIN)]),
        false,
    );
    assert!(report.is_ok(), "{:?}", report.lines());
    let ring = ring.expect("valid");
    assert_eq!(ring.current(SecretName::JwtSecret).expect("present").expose(), JWT);

    let (_, report) = load(&settings, &env(&[("JWT_SECRET_FILE", &file_str), ("JWT_SECRET", JWT)]), false);
    assert!(report.lines().join("\n").contains("set only one"));
}

/// An unreadable secret file is reported by variable and path, not silently replaced by a generated one.
#[test]
fn unreadable_file_is_a_problem_not_a_generation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ring, report) = load(&local(dir.path()), &env(&[("JWT_SECRET_FILE", "/nonexistent/jwt")]), true);
    assert!(ring.is_none());
    assert_eq!(report.source_problems.len(), 1);
    assert_eq!(report.source_problems[0].variable, SecretName::JwtSecret);
    assert!(!report.generated.contains(&SecretName::JwtSecret));
}

/// The production profile generates nothing and requires the S3 credentials.
#[test]
fn production_requires_everything_and_generates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = format!(
        "data_dir = {:?}\ndatabase_url = \"postgres://x\"\nredis_url = \"redis://x\"\namqp_url = \"amqp://x\"\ns3_endpoint = \"http://x\"",
        dir.path().display().to_string()
    );
    let settings =
        Settings::load_from(Some(Profile::Production), Figment::new().merge(Toml::string(&toml))).expect("valid");
    let (ring, report) = load(
        &settings,
        &env(&[("JWT_SECRET", JWT), ("UPLOAD_GUEST_TOKEN_SECRET", UPLOAD), ("GANTRY_ADMIN_TOKEN", ADMIN)]),
        true,
    );
    assert!(ring.is_none());
    let missing: Vec<_> = report.violations.iter().map(|v| v.variable.env_var()).collect();
    assert_eq!(missing, vec!["S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"]);
    assert!(!settings.secrets_dir().exists(), "nothing generated in production");
}

/// Redeploy-style rotation: `JWT_SECRET_PREVIOUS` (or its `_FILE`) becomes the previous version, so tokens of
/// the old key keep verifying during the grace window; a previous value equal to the current one is ignored.
#[test]
fn previous_values_at_start_up_become_previous_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = local_hs256(dir.path());
    let old_file = dir.path().join("old_upload");
    std::fs::write(&old_file, "Kq2Wm7Xn4Rb9Tc1Vd6Yf3Zg8Hj5Lp0Sa\n").expect("write");
    let pairs = [
        ("JWT_SECRET", JWT),
        ("JWT_SECRET_PREVIOUS", "Lw8Qe3Rt6Yu1Io4Pa9Sd2Fg7Hj0Kl5Zx"),
        ("UPLOAD_GUEST_TOKEN_SECRET", UPLOAD),
        ("UPLOAD_GUEST_TOKEN_SECRET_PREVIOUS_FILE", old_file.to_str().expect("utf-8")),
        ("GANTRY_ADMIN_TOKEN", ADMIN),
    ];
    let (ring, report) = load(&settings, &env(&pairs), false);
    let ring = ring.unwrap_or_else(|| panic!("{:?}", report.lines()));
    let jwt = ring.versions(SecretName::JwtSecret).expect("jwt");
    assert_eq!(jwt.previous.as_ref().expect("previous").value.expose(), "Lw8Qe3Rt6Yu1Io4Pa9Sd2Fg7Hj0Kl5Zx");
    assert_eq!(jwt.current.value.expose(), JWT);
    let upload = ring.versions(SecretName::UploadGuestTokenSecret).expect("upload");
    assert_eq!(
        upload.previous.as_ref().expect("previous from the file").value.expose(),
        "Kq2Wm7Xn4Rb9Tc1Vd6Yf3Zg8Hj5Lp0Sa"
    );

    let old = gantry_actors::sessions::tokens::sign_access(
        &gantry_actors::sessions::AccessClaims {
            sub: uuid::Uuid::now_v7(),
            sid: uuid::Uuid::now_v7(),
            iat: time::OffsetDateTime::now_utc().unix_timestamp(),
            exp: time::OffsetDateTime::now_utc().unix_timestamp() + 60,
            iss: "gantry".into(),
            aud: "gantry-api".into(),
            jti: uuid::Uuid::now_v7(),
        },
        &jwt.previous.as_ref().expect("previous").value,
    );
    let verified = gantry_actors::sessions::tokens::verify_access(&old, &ring, &settings.sessions.tokens());
    assert!(verified.is_ok(), "a token of the previous key verifies after a redeploy: {verified:?}");

    let same = [
        ("JWT_SECRET", JWT),
        ("JWT_SECRET_PREVIOUS", JWT),
        ("UPLOAD_GUEST_TOKEN_SECRET", UPLOAD),
        ("GANTRY_ADMIN_TOKEN", ADMIN),
    ];
    let (ring, _) = load(&settings, &env(&same), false);
    assert!(ring.expect("valid").versions(SecretName::JwtSecret).expect("jwt").previous.is_none());
}
