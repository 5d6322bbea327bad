//! Reads the runbook's secrets: `NAME` from the environment or `NAME_FILE` (the Docker and Kubernetes
//! convention; one trailing newline is dropped), validates them together with the rules in
//! `gantry_actors::secrets::rules`, and — in the local profile only — generates a missing one into the data
//! folder (mode 0600) so `cargo run` works with nothing set. A weak value given explicitly is always
//! rejected, in every profile.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use gantry_actors::secrets::keyring::{SecretOrigin, SecretVersion, Versions};
use gantry_actors::secrets::rules::{self, Candidates, Requirements};
use gantry_actors::secrets::signing_key::SigningKey;
use gantry_actors::secrets::{KeyRing, SecretName, SecretValue, Violation};
use secrecy::ExposeSecret;
use serde::Serialize;

use super::{Profile, Settings};

/// Secrets that may be generated in the local profile (S3 credentials never are: they must match a store;
/// `JWT_SIGNING_KEY` only with an asymmetric algorithm, as a PKCS#8 PEM key of it; the next key never is).
const GENERATED: [SecretName; 4] =
    [SecretName::JwtSecret, SecretName::UploadGuestTokenSecret, SecretName::AdminToken, SecretName::JwtSigningKey];
/// Random bytes in a generated secret (hex-encoded, so 96 characters).
const GENERATED_BYTES: usize = 48;

/// Where the secrets come from: a snapshot of the relevant environment variables.
#[derive(Clone, Default)]
pub struct SecretEnv(HashMap<String, String>);

impl std::fmt::Debug for SecretEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut keys: Vec<_> = self.0.keys().collect();
        keys.sort();
        f.debug_struct("SecretEnv").field("set", &keys).finish()
    }
}

impl SecretEnv {
    /// The process environment's secret variables (and their `_FILE` forms).
    #[must_use]
    pub fn from_process() -> Self {
        let wanted = |k: &str| {
            SecretName::ALL.iter().any(|n| {
                let v = n.env_var();
                k == v || k == format!("{v}_FILE") || k == format!("{v}_PREVIOUS") || k == format!("{v}_PREVIOUS_FILE")
            })
        };
        Self(std::env::vars().filter(|(k, _)| wanted(k)).collect())
    }

    /// An explicit set (tests, embedding).
    #[must_use]
    pub fn from_pairs<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        Self(pairs.into_iter().collect())
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// A problem reading a secret (not a rule violation): named, never showing a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceProblem {
    /// The variable.
    pub variable: SecretName,
    /// What is wrong.
    pub problem: String,
}

/// The outcome of loading: the key ring, or everything that is wrong.
#[derive(Debug, Default, Serialize)]
pub struct SecretReport {
    /// Reading problems (unreadable file, both `NAME` and `NAME_FILE` set, …).
    pub source_problems: Vec<SourceProblem>,
    /// Rule violations.
    pub violations: Vec<Violation>,
    /// Secrets generated during this load (local profile).
    pub generated: Vec<SecretName>,
    /// Secrets that are not set and that the local profile will generate on first start.
    pub would_generate: Vec<SecretName>,
}

impl SecretReport {
    /// Logs the one structured event operators grep for: `event="secret_validation_failed"`, with every
    /// problem (variable and rule, never a value).
    pub fn log_failure(&self) {
        let lines = self.lines();
        tracing::error!(
            event = "secret_validation_failed",
            count = lines.len(),
            violations = lines.join("; "),
            "secret validation failed"
        );
    }

    /// Whether nothing is wrong.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.source_problems.is_empty() && self.violations.is_empty()
    }

    /// One line per problem, for terminals and logs.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        self.source_problems
            .iter()
            .map(|p| format!("{} {}", p.variable, p.problem))
            .chain(self.violations.iter().map(ToString::to_string))
            .collect()
    }
}

/// Loads, generates (local only) and validates every secret. `JWT_SECRET_PREVIOUS` and
/// `UPLOAD_GUEST_TOKEN_SECRET_PREVIOUS` (or their `_FILE` forms), when set, become the `previous` versions:
/// redeploy-style rotation, where tokens signed with the old value keep verifying (access tokens for the grace
/// window, guest tokens until they expire).
///
/// `generate` = false validates without touching the disk (`gantry secrets check`): missing secrets that
/// would be generated are then reported as fine only if a generated file already exists.
#[must_use]
pub fn load(settings: &Settings, env: &SecretEnv, generate: bool) -> (Option<KeyRing>, SecretReport) {
    let (set, mut report) = read_set(settings, env, generate);
    let Some(set) = set else { return (None, report) };
    let mut secrets = BTreeMap::new();
    for (name, (value, origin)) in set {
        let current = SecretVersion::first(value, origin);
        let previous = match name {
            SecretName::JwtSecret | SecretName::UploadGuestTokenSecret => read_previous(name, env),
            _ => Ok(None),
        };
        let versions = match previous {
            Ok(Some((old, old_origin))) if old != current.value.expose() => {
                Versions::with_previous(current, SecretVersion::first(SecretValue::new(old), old_origin))
            }
            Ok(_) => Versions::only(current),
            Err(problem) => {
                report.source_problems.push(SourceProblem { variable: name, problem });
                return (None, report);
            }
        };
        secrets.insert(name, versions);
    }
    (Some(KeyRing::new(secrets)), report)
}

/// `NAME_PREVIOUS` or `NAME_PREVIOUS_FILE`.
fn read_previous(name: SecretName, env: &SecretEnv) -> Result<Option<(String, SecretOrigin)>, String> {
    let var = format!("{}_PREVIOUS", name.env_var());
    let file_var = format!("{var}_FILE");
    match (env.get(&var), env.get(&file_var)) {
        (Some(_), Some(_)) => Err(format!("previous value is set both as {var} and {file_var}; set only one")),
        (Some(v), None) => Ok(Some((v.to_owned(), SecretOrigin::Env))),
        (None, Some(path)) => read_file(Path::new(path))
            .map(|v| Some((v, SecretOrigin::File)))
            .map_err(|e| format!("previous value cannot be read from {file_var} ({path}): {e}")),
        (None, None) => Ok(None),
    }
}

/// The secret source of a running instance: the same variables and files as at start-up, re-read (files
/// change; the environment of a running process does not), validated with the start-up rules. Nothing is
/// generated.
#[derive(Debug, Clone)]
pub struct EnvSource {
    settings: Settings,
    env: SecretEnv,
}

impl EnvSource {
    /// A source over `env` (usually [`SecretEnv::from_process`]).
    #[must_use]
    pub fn new(settings: Settings, env: SecretEnv) -> Self {
        Self { settings, env }
    }
}

impl gantry_actors::ports::secrets::SecretSource for EnvSource {
    fn read(&self) -> Result<gantry_actors::ports::secrets::SecretSet, Vec<String>> {
        match read_set(&self.settings, &self.env, false) {
            (Some(set), _) => Ok(set),
            (None, report) if report.is_ok() => {
                Err(report.would_generate.iter().map(|n| format!("{n} is not set")).collect())
            }
            (None, report) => Err(report.lines()),
        }
    }
}

/// Reads, generates (local only, with `generate`) and validates every secret: the set, or the report of
/// what is wrong.
fn read_set(
    settings: &Settings,
    env: &SecretEnv,
    generate: bool,
) -> (Option<gantry_actors::ports::secrets::SecretSet>, SecretReport) {
    let mut report = SecretReport::default();
    let mut found: BTreeMap<SecretName, (String, SecretOrigin)> = BTreeMap::new();
    for name in SecretName::ALL {
        match read_one(name, settings, env) {
            Ok(Some(v)) => {
                found.insert(name, v);
            }
            Ok(None) => {}
            Err(problem) => report.source_problems.push(SourceProblem { variable: name, problem }),
        }
    }
    let algorithm = settings.sessions.access_token_algorithm;
    if settings.profile == Profile::Local {
        for name in GENERATED {
            if found.contains_key(&name) || report.source_problems.iter().any(|p| p.variable == name) {
                continue;
            }
            if name == SecretName::JwtSigningKey && !algorithm.is_asymmetric() {
                continue;
            }
            let path = settings.secrets_dir().join(name.env_var());
            let make = || {
                if name == SecretName::JwtSigningKey {
                    // Stored as read back (`read_file` drops a trailing newline): the same fingerprint every start.
                    SigningKey::generate_pem(algorithm).trim_end().to_owned()
                } else {
                    let mut bytes = [0u8; GENERATED_BYTES];
                    rand::fill(&mut bytes);
                    hex::encode(bytes)
                }
            };
            match read_or_generate(&path, generate, make) {
                Ok(Some((value, created))) => {
                    if created {
                        tracing::warn!(
                            event = "secret_generated",
                            secret = name.env_var(),
                            path = %path.display(),
                            "generated a missing secret for the local profile; set it explicitly in production"
                        );
                        report.generated.push(name);
                    }
                    found.insert(name, (value, SecretOrigin::Generated));
                }
                Ok(None) => report.would_generate.push(name),
                Err(problem) => report.source_problems.push(SourceProblem { variable: name, problem }),
            }
        }
    }
    let get = |n: SecretName| found.get(&n).map(|(v, _)| v.as_str());
    let candidates = Candidates {
        jwt_secret: get(SecretName::JwtSecret),
        upload_guest_token_secret: get(SecretName::UploadGuestTokenSecret),
        s3_access_key_id: get(SecretName::S3AccessKeyId),
        s3_secret_access_key: get(SecretName::S3SecretAccessKey),
        admin_token: get(SecretName::AdminToken),
        jwt_signing_key: get(SecretName::JwtSigningKey),
        jwt_signing_key_next: get(SecretName::JwtSigningKeyNext),
    };
    let required = Requirements { s3: settings.profile == Profile::Production, admin_token: true, algorithm };
    report.violations = rules::validate(&candidates, required);
    // A missing secret that a read problem already explains, or that will be generated, is not a violation.
    report.violations.retain(|v| {
        !(v.rule == rules::Rule::Missing
            && (report.source_problems.iter().any(|p| p.variable == v.variable)
                || report.would_generate.contains(&v.variable)))
    });
    if !report.is_ok() || !report.would_generate.is_empty() {
        return (None, report);
    }
    let set = found.into_iter().map(|(name, (value, origin))| (name, (SecretValue::new(value), origin))).collect();
    (Some(set), report)
}

/// `NAME`, `NAME_FILE`, or (admin token only) the config file's `admin_token`.
fn read_one(name: SecretName, settings: &Settings, env: &SecretEnv) -> Result<Option<(String, SecretOrigin)>, String> {
    let var = name.env_var();
    let file_var = format!("{var}_FILE");
    let direct = env.get(var).map(str::to_owned).or_else(|| {
        (name == SecretName::AdminToken)
            .then(|| settings.admin_token.as_ref().map(|s| s.expose_secret().to_owned()))
            .flatten()
    });
    match (direct, env.get(&file_var)) {
        (Some(_), Some(_)) => Err(format!("is set both directly and through {file_var}; set only one")),
        (Some(v), None) => Ok(Some((v, SecretOrigin::Env))),
        (None, Some(path)) => read_file(Path::new(path))
            .map(|v| Some((v, SecretOrigin::File)))
            .map_err(|e| format!("cannot be read from {file_var} ({path}): {e}")),
        (None, None) => Ok(None),
    }
}

/// Reads a secret file, dropping one trailing newline (`echo` and most editors add one).
///
/// # Errors
/// The file cannot be read or is not UTF-8.
pub fn read_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.kind().to_string())?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text.strip_suffix('\r').unwrap_or(text).to_owned())
}

/// The generated secret at `path`, creating it when `generate` (returns whether it was created).
fn read_or_generate(
    path: &Path,
    generate: bool,
    make: impl FnOnce() -> String,
) -> Result<Option<(String, bool)>, String> {
    if path.exists() {
        return read_file(path)
            .map(|v| Some((v, false)))
            .map_err(|e| format!("generated file {}: {e}", path.display()));
    }
    if !generate {
        return Ok(None);
    }
    let value = make();
    write_private(path, &value).map_err(|e| format!("cannot store generated secret at {}: {e}", path.display()))?;
    Ok(Some((value, true)))
}

/// Creates `path` readable by the owner only and writes `value`; never overwrites.
fn write_private(path: &Path, value: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        crate::private_files::create_dir_all_sync(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    let mut file = crate::private_files::file_options_sync().write(true).create_new(true).open(path)?;
    file.write_all(value.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests;

/// The admin token alone (`GANTRY_ADMIN_TOKEN`, `GANTRY_ADMIN_TOKEN_FILE`, the config file, or the local
/// profile's generated file), for CLI commands that call a running instance. Not validated: the instance
/// decides.
#[must_use]
pub fn admin_token(settings: &Settings, env: &SecretEnv) -> Option<String> {
    match read_one(SecretName::AdminToken, settings, env) {
        Ok(Some((value, _))) => Some(value),
        _ => read_file(&settings.secrets_dir().join(SecretName::AdminToken.env_var())).ok(),
    }
}
