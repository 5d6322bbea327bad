//! Loading the settings: the layers merged in order (compiled-in defaults, the profile's overlay, the files
//! of the config folder, the environment or the caller's overrides), then every problem found on the way in
//! operator terms: an unknown profile, key or variable (with a "did you mean"), a value that does not
//! parse (never repeating the value), a broken rule. Nothing is reported until all of them are listed.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Toml};

use super::keys;
use super::{
    ActorSettings, BusSettings, CacheSettings, CatalogSettings, ConfigError, DEFAULT_TOML, DatabaseSettings,
    HttpSettings, LOCAL_TOML, LogFormat, PRODUCTION_TOML, PhotoSettings, Profile, RotationSettings, S3Details,
    SessionSettings, Settings, UploadSettings,
};

/// The `GANTRY_…` environment variables as settings (`__` between a table and its key), less the variables
/// read outside the settings tree ([`keys::OTHER_VARIABLES`]).
fn environment() -> Figment {
    Figment::new()
        .merge(Env::prefixed("GANTRY_").filter(|key| !keys::is_other_variable(&format!("GANTRY_{key}"))).split("__"))
}

/// Whether `metadata` is the environment provider's.
fn from_environment(metadata: Option<&figment::Metadata>) -> bool {
    metadata.is_some_and(|m| m.name.contains("environment"))
}

/// How an operator finds `key`: its variable when the environment set it, else the key and where it was set.
fn locate(figment: &Figment, key: &str) -> String {
    let metadata = figment.find_metadata(key);
    if from_environment(metadata) {
        return keys::env_name(key);
    }
    match metadata.and_then(|m| m.source.as_ref()) {
        Some(figment::Source::File(path)) => format!("key `{key}` in {}", path.display()),
        _ => format!("key `{key}`"),
    }
}

/// The profile named in `overrides` (`GANTRY_PROFILE`), `local` when none is.
fn parse_profile(overrides: &Figment) -> Result<Profile, String> {
    let Ok(value) = overrides.find_value("profile") else { return Ok(Profile::Local) };
    value.deserialize::<Profile>().map_err(|_| {
        let given = value.as_str().map_or_else(|| format!("{value:?}"), |s| format!("{s:?}"));
        let near = [Profile::Local, Profile::Production]
            .into_iter()
            .find(|p| {
                let given = given.trim_matches('"').trim().to_ascii_lowercase();
                given == p.as_str() || (given.len() >= 3 && p.as_str().starts_with(&given))
            })
            .map(|p| format!("; did you mean {:?}?", p.as_str()))
            .unwrap_or_default();
        format!("{}: unknown profile {given} (local or production){near}", locate(overrides, "profile"))
    })
}

/// One problem per key or variable that is not a setting.
fn unknown_keys(figment: &Figment) -> Vec<String> {
    let known = keys::known_keys(&[DEFAULT_TOML, LOCAL_TOML, PRODUCTION_TOML]);
    keys::present_keys(figment)
        .into_iter()
        .filter(|key| !known.iter().any(|k| k == key))
        .map(|key| {
            let env = from_environment(figment.find_metadata(&key));
            let suggestion = keys::closest(&key, &known).map(|k| {
                if env { format!("; did you mean {}?", keys::env_name(k)) } else { format!("; did you mean `{k}`?") }
            });
            let what = if env { "is not a Gantry setting" } else { "is not a setting" };
            format!("{} {what}{}", locate(figment, &key), suggestion.unwrap_or_default())
        })
        .collect()
}

/// An extraction error in operator terms: the variable or key, and what is wrong with its value.
fn describe_error(error: &figment::Error) -> String {
    let key = error.path.join(".");
    let env = from_environment(error.metadata.as_ref());
    let place = if key.is_empty() {
        String::new()
    } else if env {
        format!("{}: ", keys::env_name(&key))
    } else {
        match error.metadata.as_ref().and_then(|m| m.source.as_ref()) {
            Some(figment::Source::File(path)) => format!("key `{key}` in {}: ", path.display()),
            _ => format!("key `{key}`: "),
        }
    };
    // The value itself is never repeated: a misplaced secret (a URL with a password in the wrong variable) must
    // not reach the log through its own parse error. The expected type says enough to fix it.
    let what = match &error.kind {
        figment::error::Kind::InvalidType(_, expected) => format!("not a valid value (expected {expected})"),
        figment::error::Kind::InvalidValue(_, expected) => format!("not an accepted value (expected {expected})"),
        other => other.to_string(),
    };
    format!("{place}{what}")
}

/// Every value that does not parse: serde stops at the first, so each top-level key is extracted on its own.
fn parse_problems(figment: &Figment, first: &figment::Error) -> Vec<String> {
    use serde::de::DeserializeOwned;
    fn check<T: DeserializeOwned>(figment: &Figment, key: &str, out: &mut Vec<String>) {
        if let Err(errors) = figment.extract_inner::<T>(key) {
            out.extend(errors.into_iter().map(|mut e| {
                // `extract_inner` reports the section after the field (`max_body_bytes.http`): put it first.
                if e.path.len() > 1 && e.path.last().is_some_and(|last| last == key) {
                    e.path.rotate_right(1);
                }
                describe_error(&e)
            }));
        }
    }
    let mut out = Vec::new();
    check::<SocketAddr>(figment, "http_addr", &mut out);
    check::<SocketAddr>(figment, "admin_addr", &mut out);
    check::<PathBuf>(figment, "data_dir", &mut out);
    check::<LogFormat>(figment, "log_format", &mut out);
    check::<String>(figment, "s3_bucket", &mut out);
    check::<String>(figment, "s3_region", &mut out);
    for key in ["instance_id"] {
        if figment.find_value(key).is_ok() {
            check::<uuid::Uuid>(figment, key, &mut out);
        }
    }
    check::<HttpSettings>(figment, "http", &mut out);
    check::<ActorSettings>(figment, "actors", &mut out);
    check::<DatabaseSettings>(figment, "database", &mut out);
    check::<CacheSettings>(figment, "cache", &mut out);
    check::<S3Details>(figment, "s3", &mut out);
    check::<BusSettings>(figment, "bus", &mut out);
    check::<SessionSettings>(figment, "sessions", &mut out);
    check::<UploadSettings>(figment, "uploads", &mut out);
    check::<CatalogSettings>(figment, "catalog", &mut out);
    check::<RotationSettings>(figment, "rotation", &mut out);
    check::<PhotoSettings>(figment, "photos", &mut out);
    if out.is_empty() {
        out.extend(first.clone().into_iter().map(|e| describe_error(&e)));
    }
    out.dedup();
    out
}

impl Settings {
    /// Loads settings for `profile` (or `GANTRY_PROFILE`, or `local`) from defaults, files and environment.
    ///
    /// # Errors
    /// An unknown profile, key or `GANTRY_…` variable, a value that does not parse, or a broken rule (every
    /// problem is listed, with a "did you mean" for a near miss).
    pub fn load(profile: Option<Profile>) -> Result<Self, ConfigError> {
        Self::load_with(profile, environment(), true)
    }

    /// Like [`Settings::load`] without requiring the production profile's backend URLs: `gantry secrets check`
    /// runs in the secret manager's pipeline, before any backend exists.
    ///
    /// # Errors
    /// As [`Settings::load`], less the missing backend URLs.
    pub fn load_for_secrets_check(profile: Option<Profile>) -> Result<Self, ConfigError> {
        Self::load_with(profile, environment(), false)
    }

    /// Like [`Settings::load`] with `overrides` in place of the environment (tests, embedding).
    ///
    /// # Errors
    /// As [`Settings::load`].
    pub fn load_from(profile: Option<Profile>, overrides: Figment) -> Result<Self, ConfigError> {
        Self::load_with(profile, overrides, true)
    }

    fn load_with(profile: Option<Profile>, overrides: Figment, backends_required: bool) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let profile = match profile {
            Some(p) => p,
            None => parse_profile(&overrides).unwrap_or_else(|problem| {
                problems.push(problem);
                // Carry on to list every other problem too; start-up still fails.
                Profile::Local
            }),
        };
        let dir = match overrides.find_value("config_dir") {
            Err(_) => PathBuf::from("config"),
            Ok(_) => overrides.extract_inner::<PathBuf>("config_dir").unwrap_or_else(|e| {
                problems.push(describe_error(&e));
                PathBuf::from("config")
            }),
        };
        let figment = Figment::new()
            .merge(Toml::string(DEFAULT_TOML))
            .merge(Toml::string(profile.overlay()))
            .merge(Toml::file(dir.join("default.toml")))
            .merge(Toml::file(dir.join(format!("{}.toml", profile.as_str()))))
            .merge(overrides)
            .merge(("profile", profile));
        problems.extend(unknown_keys(&figment));
        match figment.extract::<Self>() {
            Ok(settings) => {
                if let Err(rules) = settings.validate(backends_required) {
                    problems.extend(rules.problems);
                }
                if problems.is_empty() { Ok(settings) } else { Err(ConfigError { problems }) }
            }
            Err(first) => {
                problems.extend(parse_problems(&figment, &first));
                Err(ConfigError { problems })
            }
        }
    }
}
