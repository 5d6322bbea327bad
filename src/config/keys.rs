//! Which keys and `GANTRY_…` variables Gantry knows, and what an unknown one most likely meant. A mistyped
//! key would otherwise be ignored in silence and its default used: here it is a start-up error with a
//! "did you mean" when a known key is close.
//!
//! The settings keys are those of the compiled-in `config/default.toml` plus [`OPTIONAL_KEYS`] (unset by
//! default); [`OTHER_VARIABLES`] are the `GANTRY_…` variables read outside the settings tree.

use figment::providers::Format;
use figment::value::{Dict, Value};
use figment::{Figment, Provider};

/// Settings keys with no default (absent from `config/default.toml`), and `config_dir` (`GANTRY_CONFIG_DIR`,
/// read before the files it points to).
pub const OPTIONAL_KEYS: &[&str] = &[
    "profile",
    "config_dir",
    "instance_id",
    "database_url",
    "redis_url",
    "amqp_url",
    "s3_endpoint",
    "admin_token",
    "smoke_email",
    "smoke_password",
    "smoke_password_file",
    "chaos_rotation_pause",
];

/// `GANTRY_…` variables Gantry reads outside the settings tree, and who reads them.
pub const OTHER_VARIABLES: &[(&str, &str)] = &[
    ("GANTRY_LOG", "the log filter (like RUST_LOG)"),
    ("GANTRY_ADMIN_URL", "the admin URL of the CLI commands that call a running instance"),
    ("GANTRY_ADMIN_TOKEN_FILE", "the admin token's file form"),
    ("GANTRY_ADMIN_TOKEN_PREVIOUS", "the admin token's previous version (rollback)"),
    ("GANTRY_ADMIN_TOKEN_PREVIOUS_FILE", "the admin token's previous version, file form"),
    ("GANTRY_BUILD_COMMIT", "build time only: the commit in gantry_build_info"),
    ("GANTRY_REQUIRE_BACKENDS", "tests: a backend suite without its URL fails instead of skipping"),
    ("GANTRY_TEST_POSTGRES_URL", "tests: the Postgres backend suites"),
    ("GANTRY_TEST_REDIS_URL", "tests: the Redis backend suites"),
    ("GANTRY_TEST_AMQP_URL", "tests: the RabbitMQ backend suites"),
    ("GANTRY_TEST_S3_ENDPOINT", "tests: the S3 backend suites"),
    ("GANTRY_TEST_S3_ACCESS_KEY_ID", "tests: the S3 backend suites"),
    ("GANTRY_TEST_S3_SECRET_ACCESS_KEY", "tests: the S3 backend suites"),
];

/// Whether `var` (a whole variable name) is read outside the settings tree.
#[must_use]
pub fn is_other_variable(var: &str) -> bool {
    OTHER_VARIABLES.iter().any(|(name, _)| name.eq_ignore_ascii_case(var))
}

/// Every known settings key, dotted (`sessions.access_ttl_secs`), tables included (`sessions`): those of the
/// compiled-in files `tomls` (defaults and profile overlays) and [`OPTIONAL_KEYS`].
#[must_use]
pub fn known_keys(tomls: &[&str]) -> Vec<String> {
    let mut keys: Vec<String> = OPTIONAL_KEYS.iter().map(|k| (*k).to_owned()).collect();
    for toml in tomls {
        if let Ok(data) = Figment::from(figment::providers::Toml::string(toml)).data() {
            for dict in data.values() {
                collect(dict, "", &mut keys);
            }
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

fn collect(dict: &Dict, prefix: &str, out: &mut Vec<String>) {
    for (key, value) in dict {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        if let Value::Dict(_, inner) = value {
            collect(inner, &path, out);
        }
        out.push(path);
    }
}

/// The leaf keys of `figment` (every provider merged), dotted.
#[must_use]
pub fn present_keys(figment: &Figment) -> Vec<String> {
    let mut keys = Vec::new();
    if let Ok(data) = figment.data() {
        for dict in data.values() {
            leaves(dict, "", &mut keys);
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

fn leaves(dict: &Dict, prefix: &str, out: &mut Vec<String>) {
    for (key, value) in dict {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            Value::Dict(_, inner) if !inner.is_empty() => leaves(inner, &path, out),
            _ => out.push(path),
        }
    }
}

/// The environment variable that sets `key` (`sessions.access_ttl_secs` → `GANTRY_SESSIONS__ACCESS_TTL_SECS`).
#[must_use]
pub fn env_name(key: &str) -> String {
    format!("GANTRY_{}", key.replace('.', "__").to_ascii_uppercase())
}

/// The known key closest to `key`, when it is close enough to be a typo of it.
#[must_use]
pub fn closest<'a>(key: &str, known: &'a [String]) -> Option<&'a str> {
    let key = key.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (distance(&key, k), k))
        .filter(|(d, k)| *d > 0 && *d <= (k.len() / 5).clamp(1, 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

/// Levenshtein distance (small inputs: two rows).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example: a missing `s` finds the real table.
    #[test]
    fn a_near_miss_suggests_the_known_key() {
        let known = known_keys(&[super::super::DEFAULT_TOML]);
        assert_eq!(closest("session.access_ttl_secs", &known), Some("sessions.access_ttl_secs"));
        assert_eq!(env_name("sessions.access_ttl_secs"), "GANTRY_SESSIONS__ACCESS_TTL_SECS");
        assert_eq!(closest("completely_unrelated_thing", &known), None);
    }

    /// Tables, leaves and the optional keys are all known.
    #[test]
    fn known_keys_cover_defaults_and_optional_keys() {
        let known = known_keys(&[super::super::DEFAULT_TOML]);
        for key in ["http", "http.max_body_bytes", "sessions.access_ttl_secs", "database_url", "profile"] {
            assert!(known.iter().any(|k| k == key), "{key} unknown");
        }
    }
}
