//! Configuration: compiled-in defaults (`config/default.toml` and the profile's file), then optional files
//! in a `config/` folder (or `GANTRY_CONFIG_DIR`), then `GANTRY_…` environment variables — validated as a
//! whole before anything binds. This module (with [`secrets`]) is the only reader of the environment.
//!
//! - [`Settings`]: the typed tree.
//! - [`secrets`]: the runbook's secrets from `NAME` / `NAME_FILE`, generated ones in the local profile.

pub mod secrets;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::SecretString;
use serde::Deserialize;

const DEFAULT_TOML: &str = include_str!("../config/default.toml");
const LOCAL_TOML: &str = include_str!("../config/local.toml");
const PRODUCTION_TOML: &str = include_str!("../config/production.toml");

/// Which set of backends this instance runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// No services: SQLite file, in-process cache and bus, objects in a folder. Single instance.
    Local,
    /// Postgres, Redis, RabbitMQ, S3-compatible storage. Any number of instances.
    Production,
}

impl Profile {
    /// The profile's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Production => "production",
        }
    }

    fn overlay(self) -> &'static str {
        match self {
            Self::Local => LOCAL_TOML,
            Self::Production => PRODUCTION_TOML,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// All settings.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// The profile.
    pub profile: Profile,
    /// Public listener address.
    pub http_addr: SocketAddr,
    /// Admin listener address.
    pub admin_addr: SocketAddr,
    /// Local data folder.
    pub data_dir: PathBuf,
    /// Log format.
    pub log_format: LogFormat,
    /// This instance's id on the bus; random per process when unset.
    #[serde(default)]
    pub instance_id: Option<uuid::Uuid>,
    /// Postgres URL (production).
    #[serde(default)]
    pub database_url: Option<SecretString>,
    /// Redis URL (production).
    #[serde(default)]
    pub redis_url: Option<SecretString>,
    /// RabbitMQ URL (production).
    #[serde(default)]
    pub amqp_url: Option<SecretString>,
    /// S3 endpoint (production).
    #[serde(default)]
    pub s3_endpoint: Option<String>,
    /// S3 bucket.
    pub s3_bucket: String,
    /// S3 region.
    pub s3_region: String,
    /// The admin token, when given in a config file or as `GANTRY_ADMIN_TOKEN` (see [`secrets`]).
    #[serde(default)]
    pub admin_token: Option<SecretString>,
    /// The account rotations smoke-test with (`GANTRY_SMOKE_EMAIL`); unset: an ephemeral account per run.
    #[serde(default)]
    pub smoke_email: Option<String>,
    /// Its password (`GANTRY_SMOKE_PASSWORD`).
    #[serde(default)]
    pub smoke_password: Option<SecretString>,
    /// Or a file holding it (`GANTRY_SMOKE_PASSWORD_FILE`).
    #[serde(default)]
    pub smoke_password_file: Option<std::path::PathBuf>,
    /// HTTP limits and timeouts.
    pub http: HttpSettings,
    /// Actor limits.
    pub actors: ActorSettings,
    /// Database pool.
    pub database: DatabaseSettings,
    /// Cache.
    pub cache: CacheSettings,
    /// S3 details.
    pub s3: S3Details,
    /// Bus details.
    pub bus: BusSettings,
    /// Sessions and logins.
    pub sessions: SessionSettings,
    /// Uploads.
    pub uploads: UploadSettings,
    /// The listing-form catalog.
    pub catalog: CatalogSettings,
    /// Secret rotation.
    pub rotation: RotationSettings,
}

/// Secret rotation.
#[derive(Debug, Clone, Deserialize)]
pub struct RotationSettings {
    /// How long a rotation step waits for every instance's acknowledgement, seconds.
    pub ack_timeout_secs: u64,
    /// How often each instance records that it is alive, seconds.
    pub heartbeat_secs: u64,
    /// An instance whose last heartbeat is younger than this must acknowledge every rotation step, seconds.
    pub live_within_secs: u64,
}

/// The listing-form catalog.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogSettings {
    /// How often each instance compares its cached catalog version with the store's, seconds.
    pub version_check_secs: u64,
    /// Options one user may create per hour.
    pub creates_per_user_per_hour: u32,
    /// Load the bundled seed catalog on the first start of the local profile.
    pub seed_on_first_start: bool,
}

/// Uploads.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadSettings {
    /// Largest upload, bytes (users; guests get the smaller of this and their token's quota).
    pub max_bytes: u64,
    /// Accepted media types (decided from the bytes).
    pub allowed_types: Vec<String>,
    /// Uploads in progress at once per instance; more → 503.
    pub max_in_flight: usize,
    /// Deadline of one upload or download request, seconds.
    pub timeout_secs: u64,
    /// An upload still `receiving` after this long was abandoned (a crash); the sweep fails it, seconds.
    pub abandon_after_secs: u64,
    /// How often the upload pipeline sweeps abandoned uploads, seconds.
    pub sweep_secs: u64,
    /// Guest upload token lifetime, seconds.
    pub guest_ttl_secs: u64,
    /// Largest file a guest may upload, bytes.
    pub guest_max_bytes: u64,
    /// Files a guest token allows (advertised in the token).
    pub guest_max_files: u32,
    /// Guest tokens per client address per hour.
    pub guest_tokens_per_address_per_hour: u32,
}

impl UploadSettings {
    /// The allowlist as media types (unknown names are rejected at start-up).
    #[must_use]
    pub fn allowed_types(&self) -> Vec<gantry_actors::uploads::media::MediaType> {
        self.allowed_types.iter().filter_map(|t| gantry_actors::uploads::media::MediaType::parse_mime(t)).collect()
    }

    /// The guest token settings.
    #[must_use]
    pub fn guest(&self) -> gantry_actors::uploads::guest_token::GuestTokenSettings {
        gantry_actors::uploads::guest_token::GuestTokenSettings {
            ttl: Duration::from_secs(self.guest_ttl_secs),
            max_bytes: self.guest_max_bytes,
            max_files: self.guest_max_files,
            allowed: self.allowed_types(),
            ..gantry_actors::uploads::guest_token::GuestTokenSettings::default()
        }
    }
}

/// Sessions and logins.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionSettings {
    /// `iss` of access tokens.
    pub issuer: String,
    /// `aud` of access tokens.
    pub audience: String,
    /// Access token lifetime, seconds.
    pub access_ttl_secs: u64,
    /// Refresh token lifetime, days.
    pub refresh_ttl_days: u64,
    /// Absolute session lifetime, days.
    pub absolute_ttl_days: u64,
    /// Retry grace for a used refresh token, seconds.
    pub refresh_grace_secs: u64,
    /// How often each instance reloads epochs and revocations from the stores, seconds.
    pub view_reload_secs: u64,
    /// Login attempts not followed by a success per (account, client address) pair within the window before
    /// 429: the tight limit (counted before the password is verified).
    pub login_max_failures_per_account_address: u32,
    /// Failed logins per account across all addresses within the window before 429: the loose limit.
    pub login_max_failures_per_account: u32,
    /// Failed logins per client address within the window before 429.
    pub login_max_failures_per_address: u32,
    /// The failure window, seconds.
    pub login_failure_window_secs: u64,
    /// Password hashes computed at once (argon2id: ~19 MiB and ~20 ms each).
    pub max_concurrent_hashes: usize,
    /// Registrations per client address within `registration_window_secs` before 429.
    pub registrations_per_address: u32,
    /// The registration window, seconds (opens at an address's first registration).
    pub registration_window_secs: u64,
    /// After a `JWT_SECRET` promotion, access tokens of the previous version verify this long (unless the
    /// rotation forces everyone to log in again).
    pub previous_key_grace_secs: u64,
}

impl SessionSettings {
    /// The token settings the registry uses.
    #[must_use]
    pub fn tokens(&self) -> gantry_actors::sessions::TokenSettings {
        gantry_actors::sessions::TokenSettings {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            access_ttl: Duration::from_secs(self.access_ttl_secs),
            refresh_ttl: Duration::from_secs(self.refresh_ttl_days * 24 * 3600),
            absolute_ttl: Duration::from_secs(self.absolute_ttl_days * 24 * 3600),
            refresh_grace: Duration::from_secs(self.refresh_grace_secs),
            previous_key_grace: Duration::from_secs(self.previous_key_grace_secs),
        }
    }
}

/// HTTP limits and timeouts.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    /// Largest JSON request body, bytes.
    pub max_body_bytes: usize,
    /// Per-request deadline, seconds.
    pub request_timeout_secs: u64,
    /// Deadline for a client to send its request headers, seconds.
    pub header_read_timeout_secs: u64,
    /// Open connections per listener.
    pub max_connections: usize,
    /// Requests handled at once.
    pub max_in_flight: usize,
    /// Drain time on shutdown, seconds.
    pub shutdown_grace_secs: u64,
}

/// Actor limits.
#[derive(Debug, Clone, Deserialize)]
pub struct ActorSettings {
    /// Mailbox bound per actor.
    pub mailbox_capacity: usize,
    /// Call timeout, milliseconds.
    pub call_timeout_ms: u64,
    /// Restarts tolerated per window.
    pub max_restarts: usize,
    /// The restart window, seconds.
    pub restart_window_secs: u64,
}

/// Database pool.
#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// Pool size (Postgres). Waiting for a pooled connection times out after 5 s (then 503).
    pub max_connections: u32,
}

/// Cache.
#[derive(Debug, Clone, Deserialize)]
pub struct CacheSettings {
    /// In-process cache entries.
    pub max_entries: usize,
    /// Redis pool size.
    pub pool_size: usize,
    /// Redis wait/create/recycle timeout, milliseconds.
    pub timeout_ms: u64,
}

/// S3 details.
#[derive(Debug, Clone, Deserialize)]
pub struct S3Details {
    /// Multipart part size, bytes.
    pub part_size: usize,
    /// Create the bucket when missing.
    pub create_bucket: bool,
}

/// Bus details.
#[derive(Debug, Clone, Deserialize)]
pub struct BusSettings {
    /// Fanout exchange name.
    pub exchange: String,
    /// Connect timeout, seconds.
    pub connect_timeout_secs: u64,
    /// Publish + confirm timeout, seconds.
    pub publish_timeout_secs: u64,
    /// Messages a subscriber may fall behind before it is told to resync.
    pub capacity: usize,
}

/// Configuration that cannot be used; every problem is listed.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .problems.join("\n  - "))]
pub struct ConfigError {
    /// One line per problem.
    pub problems: Vec<String>,
}

impl Settings {
    /// Loads settings for `profile` (or `GANTRY_PROFILE`, or `local`) from defaults, files and environment.
    ///
    /// # Errors
    /// A file or variable does not parse, or the result breaks a rule (every problem is listed).
    pub fn load(profile: Option<Profile>) -> Result<Self, ConfigError> {
        Self::load_from(profile, Figment::new().merge(Env::prefixed("GANTRY_").split("__")))
    }

    /// Like [`Settings::load`] with `overrides` in place of the environment (tests, embedding).
    ///
    /// # Errors
    /// As [`Settings::load`].
    pub fn load_from(profile: Option<Profile>, overrides: Figment) -> Result<Self, ConfigError> {
        let bad = |e: figment::Error| ConfigError { problems: e.into_iter().map(|e| e.to_string()).collect() };
        let profile = match profile {
            Some(p) => p,
            None => overrides.extract_inner::<Profile>("profile").unwrap_or(Profile::Local),
        };
        let dir = overrides.extract_inner::<PathBuf>("config_dir").unwrap_or_else(|_| PathBuf::from("config"));
        let settings: Self = Figment::new()
            .merge(Toml::string(DEFAULT_TOML))
            .merge(Toml::string(profile.overlay()))
            .merge(Toml::file(dir.join("default.toml")))
            .merge(Toml::file(dir.join(format!("{}.toml", profile.as_str()))))
            .merge(overrides)
            .merge(("profile", profile))
            .extract()
            .map_err(bad)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks cross-field rules.
    fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.profile == Profile::Production {
            let missing = [
                ("GANTRY_DATABASE_URL", self.database_url.is_none()),
                ("GANTRY_REDIS_URL", self.redis_url.is_none()),
                ("GANTRY_AMQP_URL", self.amqp_url.is_none()),
                ("GANTRY_S3_ENDPOINT", self.s3_endpoint.is_none()),
            ];
            for (var, is_missing) in missing {
                if is_missing {
                    problems.push(format!("{var} is required in the production profile"));
                }
            }
        }
        let overlap = self.http_addr.ip() == self.admin_addr.ip()
            || self.http_addr.ip().is_unspecified()
            || self.admin_addr.ip().is_unspecified();
        if overlap && self.http_addr.port() == self.admin_addr.port() && self.http_addr.port() != 0 {
            problems.push("GANTRY_HTTP_ADDR and GANTRY_ADMIN_ADDR must differ".into());
        }
        let positive = [
            ("http.max_body_bytes", self.http.max_body_bytes),
            ("http.max_connections", self.http.max_connections),
            ("http.max_in_flight", self.http.max_in_flight),
            ("actors.mailbox_capacity", self.actors.mailbox_capacity),
            ("cache.max_entries", self.cache.max_entries),
            ("cache.pool_size", self.cache.pool_size),
            ("bus.capacity", self.bus.capacity),
            ("catalog.version_check_secs", usize::try_from(self.catalog.version_check_secs).unwrap_or(1)),
            ("catalog.creates_per_user_per_hour", self.catalog.creates_per_user_per_hour as usize),
            ("sessions.max_concurrent_hashes", self.sessions.max_concurrent_hashes),
            (
                "sessions.login_max_failures_per_account_address",
                self.sessions.login_max_failures_per_account_address as usize,
            ),
            ("sessions.login_max_failures_per_account", self.sessions.login_max_failures_per_account as usize),
            ("sessions.login_max_failures_per_address", self.sessions.login_max_failures_per_address as usize),
            ("sessions.registrations_per_address", self.sessions.registrations_per_address as usize),
            ("sessions.registration_window_secs", usize::try_from(self.sessions.registration_window_secs).unwrap_or(1)),
            (
                "sessions.login_failure_window_secs",
                usize::try_from(self.sessions.login_failure_window_secs).unwrap_or(1),
            ),
            ("sessions.access_ttl_secs", usize::try_from(self.sessions.access_ttl_secs).unwrap_or(1)),
            ("sessions.view_reload_secs", usize::try_from(self.sessions.view_reload_secs).unwrap_or(1)),
            ("rotation.ack_timeout_secs", usize::try_from(self.rotation.ack_timeout_secs).unwrap_or(1)),
            ("rotation.heartbeat_secs", usize::try_from(self.rotation.heartbeat_secs).unwrap_or(1)),
        ];
        for (key, value) in positive {
            if value == 0 {
                problems.push(format!("{key} must be greater than 0"));
            }
        }
        // Individually revoked sessions are kept in the stores' revocation index for an hour; an access token
        // must not outlive that, or a reload could forget a revocation while the token is still valid.
        if !(60..=3000).contains(&self.sessions.access_ttl_secs) {
            problems.push("sessions.access_ttl_secs must be between 60 and 3000".into());
        }
        for t in &self.uploads.allowed_types {
            if gantry_actors::uploads::media::MediaType::parse_mime(t).is_none() {
                problems.push(format!(
                    "uploads.allowed_types: unsupported type {t:?} (image/jpeg, image/png, image/webp, application/pdf)"
                ));
            }
        }
        if self.rotation.live_within_secs <= self.rotation.heartbeat_secs {
            problems.push("rotation.live_within_secs must be longer than rotation.heartbeat_secs".into());
        }
        if self.uploads.abandon_after_secs <= self.uploads.timeout_secs {
            problems.push("uploads.abandon_after_secs must be longer than uploads.timeout_secs".into());
        }
        if self.uploads.max_in_flight == 0
            || self.uploads.guest_tokens_per_address_per_hour == 0
            || self.uploads.sweep_secs == 0
        {
            problems.push(
                "uploads.max_in_flight and uploads.guest_tokens_per_address_per_hour must be greater than 0".into(),
            );
        }
        if self.sessions.absolute_ttl_days < self.sessions.refresh_ttl_days {
            problems.push("sessions.absolute_ttl_days must be at least sessions.refresh_ttl_days".into());
        }
        if self.s3.part_size < 5 * 1024 * 1024 {
            problems.push("s3.part_size must be at least 5 MiB (5242880)".into());
        }
        if problems.is_empty() { Ok(()) } else { Err(ConfigError { problems }) }
    }

    /// The SQLite file of the local profile.
    #[must_use]
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("gantry.sqlite3")
    }

    /// The object folder of the local profile.
    #[must_use]
    pub fn objects_dir(&self) -> PathBuf {
        self.data_dir.join("objects")
    }

    /// Where generated secrets live (local profile).
    #[must_use]
    pub fn secrets_dir(&self) -> PathBuf {
        self.data_dir.join("secrets")
    }

    /// Per-request deadline.
    #[must_use]
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.http.request_timeout_secs)
    }
}

#[cfg(test)]
mod tests;
