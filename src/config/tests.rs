use figment::Figment;
use figment::providers::Format;

use super::*;

fn with(toml: &str) -> Figment {
    Figment::new().merge(figment::providers::Toml::string(toml))
}

/// With nothing set, the compiled-in defaults describe the embedded local profile.
#[test]
fn defaults_are_the_local_profile_on_documented_addresses() {
    let s = Settings::load_from(None, Figment::new()).expect("defaults are valid");
    assert_eq!(s.profile, Profile::Local);
    assert_eq!(s.http_addr.to_string(), "127.0.0.1:8080");
    assert_eq!(s.admin_addr.to_string(), "127.0.0.1:9090");
    assert_eq!(s.data_dir, PathBuf::from("./data"));
}

/// Overrides win over the defaults, nested keys included.
#[test]
fn overrides_win_over_defaults() {
    let s =
        Settings::load_from(None, with("http_addr = \"127.0.0.1:18080\"\n[http]\nmax_body_bytes = 42")).expect("valid");
    assert_eq!(s.http_addr.port(), 18080);
    assert_eq!(s.http.max_body_bytes, 42);
}

/// The production profile lists every missing backend URL at once.
#[test]
fn production_without_backends_lists_every_missing_url() {
    let err = Settings::load_from(Some(Profile::Production), Figment::new()).expect_err("must fail");
    let text = err.to_string();
    for var in ["GANTRY_DATABASE_URL", "GANTRY_REDIS_URL", "GANTRY_AMQP_URL", "GANTRY_S3_ENDPOINT"] {
        assert!(text.contains(var), "{var} missing from: {text}");
    }
}

/// The profile can come from the overrides (GANTRY_PROFILE) when no flag is given.
#[test]
fn profile_comes_from_overrides() {
    let err = Settings::load_from(None, with("profile = \"production\"")).expect_err("production needs URLs");
    assert!(err.to_string().contains("GANTRY_DATABASE_URL"));
}

/// A database URL's password never shows in Debug output of the settings.
#[test]
fn debug_of_settings_hides_urls() {
    let s = Settings::load_from(None, with("database_url = \"postgres://gantry:hunter2-very-secret@db/gantry\""))
        .expect("valid");
    assert!(!format!("{s:?}").contains("hunter2"));
}

/// Nonsense values are rejected with the key named.
#[test]
fn invalid_values_name_the_key() {
    let err = Settings::load_from(None, with("[http]\nmax_in_flight = 0")).expect_err("zero is invalid");
    assert!(err.to_string().contains("http.max_in_flight"));
}

/// An unknown profile is an error (not the local profile in silence), listed with the other problems.
#[test]
fn unknown_profile_is_listed_with_other_problems() {
    let err =
        Settings::load_from(None, with("profile = \"Production\"\n[http]\nmax_in_flight = 0")).expect_err("invalid");
    let text = err.to_string();
    assert!(text.contains("unknown profile \"Production\""), "{text}");
    assert!(text.contains("did you mean \"production\""), "{text}");
    assert!(text.contains("http.max_in_flight"), "{text}");
}

/// A key that is not a setting is refused with the closest known key.
#[test]
fn unknown_key_suggests_the_closest_setting() {
    let err = Settings::load_from(None, with("[session]\naccess_ttl_secs = 600")).expect_err("unknown key");
    assert!(err.to_string().contains("did you mean `sessions.access_ttl_secs`?"), "{err}");
}

/// Every value that does not parse is listed, not only the first.
#[test]
fn every_unparsable_value_is_listed() {
    let err =
        Settings::load_from(None, with("http_addr = \"nope\"\n[http]\nmax_in_flight = \"x\"\n[bus]\ncapacity = -1"))
            .expect_err("invalid");
    assert_eq!(err.problems.len(), 3, "{err}");
    assert!(err.problems.iter().any(|p| p.contains("http.max_in_flight")), "{err}");
    assert!(err.problems.iter().any(|p| p.contains("bus.capacity")), "{err}");
}
