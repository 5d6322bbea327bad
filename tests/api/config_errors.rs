//! Configuration that refuses mistakes, through the `gantry` binary as an operator runs it: an unknown
//! profile, key or variable and values that do not parse are start-up errors listed together, with a "did you
//! mean"; `secrets check` needs no backend URLs; `users add` lists every broken rule.

use std::process::Command;

use crate::helpers::{ADMIN_TOKEN, JWT, UPLOAD, gantry_cli as gantry, output_of};

/// `GANTRY_PROFILE=Production` does not silently start the local profile (fresh secrets, empty SQLite).
#[test]
fn a_mistyped_profile_is_refused_with_a_suggestion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, text) = output_of(gantry(dir.path()).arg("serve").env("GANTRY_PROFILE", "Production"));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("GANTRY_PROFILE: unknown profile \"Production\""), "{text}");
    assert!(text.contains("did you mean \"production\""), "{text}");
    assert!(!dir.path().join("data").exists(), "nothing may be created: the local profile must not start");
}

/// A mistyped variable is named with the one it most likely meant; every problem is listed in one go,
/// unparsable values included.
#[test]
fn unknown_variables_and_bad_values_are_listed_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, text) = output_of(
        gantry(dir.path())
            .arg("serve")
            .env("GANTRY_SESSION__ACCESS_TTL_SECS", "600")
            .env("GANTRY_HTTP__MAX_BODY_BYTES", "two megabytes")
            .env("GANTRY_ACTORS__MAILBOX_CAPACITY", "-1")
            .env("GANTRY_NO_SUCH_THING", "1"),
    );
    assert_eq!(code, 1, "{text}");
    for expected in [
        "GANTRY_SESSION__ACCESS_TTL_SECS is not a Gantry setting; did you mean GANTRY_SESSIONS__ACCESS_TTL_SECS?",
        "GANTRY_HTTP__MAX_BODY_BYTES: not a valid value",
        "GANTRY_ACTORS__MAILBOX_CAPACITY: not an accepted value",
        "GANTRY_NO_SUCH_THING is not a Gantry setting",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in: {text}");
    }
    assert!(!text.contains("two megabytes"), "a value is never repeated (it could be a misplaced secret): {text}");
    assert!(!dir.path().join("data").exists(), "nothing may start");
}

/// A mistyped key in a config file names the file and the key it most likely meant.
#[test]
fn unknown_key_in_a_config_file_names_file_and_suggestion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("conf");
    std::fs::create_dir_all(&config).expect("dir");
    std::fs::write(config.join("local.toml"), "[sesions]\naccess_ttl_secs = 600\n").expect("file");
    let (code, text) = output_of(gantry(dir.path()).arg("serve").env("GANTRY_CONFIG_DIR", &config));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("key `sesions.access_ttl_secs` in"), "{text}");
    assert!(text.contains("local.toml is not a setting; did you mean `sessions.access_ttl_secs`?"), "{text}");
}

/// The variables Gantry reads outside the settings tree (log filter, CLI admin URL, secret files, the test
/// suites' switches CI exports) are known by name and accepted.
#[test]
fn variables_read_outside_the_settings_tree_are_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("admin_token");
    std::fs::write(&token_file, ADMIN_TOKEN).expect("file");
    let (code, text) = output_of(
        gantry(dir.path())
            .args(["secrets", "check"])
            .env("GANTRY_LOG", "warn")
            .env("GANTRY_ADMIN_URL", "http://127.0.0.1:1")
            .env("GANTRY_ADMIN_TOKEN_FILE", &token_file)
            .env("GANTRY_REQUIRE_BACKENDS", "1")
            .env("GANTRY_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
            .env("GANTRY_TEST_S3_ACCESS_KEY_ID", "x")
            .env("JWT_SECRET", JWT)
            .env("UPLOAD_GUEST_TOKEN_SECRET", UPLOAD),
    );
    assert_eq!(code, 0, "{text}");
}

/// `gantry secrets check` on the production profile validates the secrets with no backend URL set (the
/// secret manager's pipeline runs it before any backend exists), and still fails on a bad secret.
#[test]
fn secrets_check_needs_no_backend_urls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let production = |cmd: &mut Command| {
        cmd.args(["--profile", "production", "secrets", "check"])
            .env("UPLOAD_GUEST_TOKEN_SECRET", UPLOAD)
            .env("GANTRY_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("S3_ACCESS_KEY_ID", "AKIAGANTRYCHECK7Q2X")
            .env("S3_SECRET_ACCESS_KEY", "Wq9Lx7Mv3Bn8Rc4Hd6Jf1Gs0YaZt5Kp2q7R2vX9k");
    };
    let mut ok = gantry(dir.path());
    production(&mut ok);
    let (code, text) = output_of(ok.env("JWT_SECRET", JWT));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("secrets: ok (production profile)"), "{text}");
    assert!(!text.contains("GANTRY_DATABASE_URL"), "{text}");

    let mut weak = gantry(dir.path());
    production(&mut weak);
    let (code, text) = output_of(weak.env("JWT_SECRET", "short"));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("JWT_SECRET must be at least 32 characters"), "{text}");
}

/// `gantry users add` prints every broken rule with its field, message and code, like the API's 422.
#[test]
fn users_add_lists_each_broken_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let password = dir.path().join("password");
    std::fs::write(&password, "xq7").expect("file");
    let (code, text) = output_of(
        gantry(dir.path()).args(["users", "add", "--email", "not-an-email", "--password-file"]).arg(&password),
    );
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("breaks 2 rule(s)"), "{text}");
    assert!(text.contains("  - email: ") && text.contains("(invalid_email)"), "{text}");
    assert!(text.contains("  - password: ") && text.contains("(too_short)"), "{text}");
}
