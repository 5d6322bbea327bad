//! Configuration: compiled-in defaults (`config/default.toml` and the profile's file), then optional files
//! in a `config/` folder (or `GANTRY_CONFIG_DIR`), then `GANTRY_…` environment variables — validated as a
//! whole before anything binds. This module (with [`secrets`]) is the only reader of the environment.
//!
//! - [`Settings`]: the typed tree and its cross-field rules (this file).
//! - [`load`]: the layers merged in order and every problem found on the way, in operator terms.
//! - [`keys`]: the known keys and variables, for "is not a setting" and "did you mean".
//! - [`secrets`]: the runbook's secrets from `NAME` / `NAME_FILE`, generated ones in the local profile.

pub mod keys;
mod load;
pub mod secrets;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Crash drills in chaos builds only (`GANTRY_CHAOS_ROTATION_PAUSE`): the rotation step whose start a
    /// rotation's first attempt stops at, until the process is killed. Ignored by other builds.
    #[serde(default)]
    pub chaos_rotation_pause: Option<String>,
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
    /// The job runner.
    pub jobs: JobSettings,
    /// Photo variants of image uploads.
    pub photos: PhotoSettings,
}

/// Photo variants of image uploads (the `uploads.photo` job).
#[derive(Debug, Clone, Deserialize)]
pub struct PhotoSettings {
    /// Long sides of the scaled variants, pixels (each is a variant name; `full` is always added).
    pub sizes: Vec<u32>,
    /// The variants' format: `jpeg`, `png` or `webp` (lossless).
    pub format: String,
    /// JPEG quality, 1–100.
    pub quality: u8,
    /// Stored uploads of these types (decided from the bytes) get variants; empty turns processing off.
    pub accepted_types: Vec<String>,
    /// Largest photo in pixels (width × height, read from the header before decoding).
    pub max_pixels: u64,
    /// Most bytes the decoder may allocate for one photo.
    pub max_decoder_bytes: u64,
    /// Photo jobs (the `media` queue) this instance runs at once; 0 = this instance processes none.
    pub concurrency: usize,
}

impl PhotoSettings {
    /// The settings as the photo job takes them (validated at start-up: an unknown format or type never
    /// gets here).
    #[must_use]
    pub fn photos(&self) -> gantry_actors::uploads::photo::PhotoSettings {
        use gantry_actors::uploads::photo::OutputFormat;
        gantry_actors::uploads::photo::PhotoSettings {
            sizes: self.sizes.clone(),
            format: OutputFormat::parse(&self.format).unwrap_or(OutputFormat::Jpeg),
            quality: self.quality,
            accepted: self
                .accepted_types
                .iter()
                .filter_map(|t| gantry_actors::uploads::media::MediaType::parse_mime(t))
                .collect(),
            max_pixels: self.max_pixels,
            max_decoder_bytes: self.max_decoder_bytes,
        }
    }

    /// Every broken rule, one line each.
    fn problems(&self) -> Vec<String> {
        use gantry_actors::uploads::media::MediaType;
        let mut problems = Vec::new();
        let mut sizes = self.sizes.clone();
        sizes.sort_unstable();
        sizes.dedup();
        if sizes.len() != self.sizes.len() || self.sizes.iter().any(|s| !(16..=16_384).contains(s)) {
            problems.push("photos.sizes must be distinct long sides between 16 and 16384 px".into());
        }
        if gantry_actors::uploads::photo::OutputFormat::parse(&self.format).is_none() {
            problems.push(format!("photos.format: unsupported format {:?} (jpeg, png, webp)", self.format));
        }
        if !(1..=100).contains(&self.quality) {
            problems.push("photos.quality must be between 1 and 100".into());
        }
        for t in &self.accepted_types {
            if !matches!(MediaType::parse_mime(t), Some(MediaType::Jpeg | MediaType::Png | MediaType::Webp)) {
                problems.push(format!(
                    "photos.accepted_types: {t:?} is not a photo type (image/jpeg, image/png, image/webp)"
                ));
            }
        }
        if self.max_pixels == 0 || self.max_decoder_bytes == 0 {
            problems.push("photos.max_pixels and photos.max_decoder_bytes must be greater than 0".into());
        }
        problems
    }
}

/// The job runner.
#[derive(Debug, Clone, Deserialize)]
pub struct JobSettings {
    /// How long a claimed job's lease holds without renewal (renewed every third of it), seconds. A job whose
    /// instance died is claimed again by another one after this long.
    pub lease_secs: u64,
    /// How often each queue is polled for due jobs when idle, milliseconds (the fallback of the wake-up).
    pub poll_ms: u64,
    /// The wake-up's coalescing period: each queue is nudged, and announced on the bus, at most once per
    /// this many milliseconds per instance however many jobs were enqueued meanwhile.
    pub wake_coalesce_ms: u64,
    /// How often periodic jobs are enqueued and queue depths published, milliseconds.
    pub maintain_ms: u64,
    /// Jobs of the `default` queue this instance runs at once (0: this instance does not work it; another
    /// instance must).
    pub default_concurrency: usize,
    /// Jobs of the `maintenance` queue (sweeps, pruning) this instance runs at once.
    pub maintenance_concurrency: usize,
    /// Finished jobs are deleted this long after they finished, seconds.
    pub keep_finished_secs: u64,
    /// How often finished jobs are pruned (once per period across the fleet), seconds.
    pub prune_every_secs: u64,
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
    /// Options created by accounts younger than this (seconds) are visible only to their creator until an
    /// operator approves them; 0 turns review off.
    pub new_account_review_age_secs: u64,
    /// `Cache-Control: public, max-age=` of option lists that hold nothing personal, seconds.
    pub list_max_age_secs: u64,
    /// The deployment's language (a locale tag): option names and plain template texts are in it, and
    /// requests asking for nothing served get it.
    pub default_locale: String,
    /// The locales answers are served in (canonical tags; the default is always served).
    pub locales: Vec<String>,
}

impl CatalogSettings {
    /// Every locale served, the default first.
    #[must_use]
    pub fn served_locales(&self) -> Vec<String> {
        let mut out = vec![self.default_locale.clone()];
        out.extend(self.locales.iter().filter(|l| **l != self.default_locale).cloned());
        out
    }
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
    /// Uploads in progress at once per client on this instance — per uploader (user or guest token) and per
    /// client address, each — so that one client cannot hold every upload slot; more → 429.
    pub max_in_flight_per_client: usize,
    /// An upload whose body sends nothing for this long is aborted with 408, seconds.
    pub body_idle_timeout_secs: u64,
    /// An upload must average at least this many bytes per second over each `rate_window_secs` (after
    /// `rate_grace_secs`), or it ends with 408 `body_too_slow`; when every slot is taken, a newcomer displaces
    /// the slowest upload under it. 0 = no minimum rate.
    pub min_bytes_per_sec: u64,
    /// The window the upload rate is averaged over, seconds.
    pub rate_window_secs: u64,
    /// No upload is held to the rate before this long after its admission, seconds.
    pub rate_grace_secs: u64,
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
    /// Largest PDF, bytes: a PDF is held in memory while it arrives and parsed whole for active content
    /// before it is stored.
    pub pdf_max_bytes: u64,
    /// Files a guest token allows (advertised in the token).
    pub guest_max_files: u32,
    /// Guest tokens per client address per hour.
    pub guest_tokens_per_address_per_hour: u32,
    /// Pixels (width × height) of the photos a guest may upload per hour, per guest token and per client
    /// address; 0 = no budget. An hour with nothing charged yet takes one photo of any accepted size.
    pub guest_pixels_per_hour: u64,
}

impl UploadSettings {
    /// The minimum rate uploads keep (`None` when `min_bytes_per_sec` is 0).
    #[must_use]
    pub fn min_rate(&self) -> Option<gantry_actors::uploads::ledger::MinRate> {
        (self.min_bytes_per_sec > 0).then(|| gantry_actors::uploads::ledger::MinRate {
            bytes_per_sec: self.min_bytes_per_sec,
            window: Duration::from_secs(self.rate_window_secs),
            grace: Duration::from_secs(self.rate_grace_secs),
        })
    }

    /// The allowlist as media types (unknown names are rejected at start-up).
    #[must_use]
    pub fn allowed_types(&self) -> Vec<gantry_actors::uploads::media::MediaType> {
        self.allowed_types.iter().filter_map(|t| gantry_actors::uploads::media::MediaType::parse_mime(t)).collect()
    }

    /// The guest token settings. The token's `max_bytes` is the limit enforced: `guest_max_bytes`, capped by
    /// `max_bytes` (every upload's limit), so the token and `POST /v1/uploads/guest-token` advertise it.
    #[must_use]
    pub fn guest(&self) -> gantry_actors::uploads::guest_token::GuestTokenSettings {
        gantry_actors::uploads::guest_token::GuestTokenSettings {
            ttl: Duration::from_secs(self.guest_ttl_secs),
            max_bytes: self.guest_max_bytes.min(self.max_bytes),
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
    /// Longest expected wait for a hashing slot a login, registration or password change is admitted for,
    /// milliseconds; beyond it, 503 `overloaded` at once (before the account is looked up).
    pub max_hash_wait_ms: u64,
    /// Registrations per client address within `registration_window_secs` before 429.
    pub registrations_per_address: u32,
    /// The registration window, seconds (opens at an address's first registration).
    pub registration_window_secs: u64,
    /// Base URL of a Pwned Passwords-style range API (`GET {base}/range/{5 hex}` → `SUFFIX:COUNT` lines),
    /// asked about new passwords besides the bundled list; empty = off (the default).
    #[serde(default)]
    pub breached_range_url: String,
    /// How long one range request may take, milliseconds; beyond it the bundled list alone decides.
    pub breached_range_timeout_ms: u64,
    /// After a `JWT_SECRET` promotion, access tokens of the previous version verify this long (unless the
    /// rotation forces everyone to log in again).
    pub previous_key_grace_secs: u64,
    /// How access tokens are signed (`HS256`, `EdDSA`, `ES256`).
    pub access_token_algorithm: gantry_actors::secrets::signing_key::AccessAlgorithm,
    /// `Cache-Control: max-age` of the key set, seconds (and the wait before a never-published key signs).
    pub key_set_max_age_secs: u64,
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
            algorithm: self.access_token_algorithm,
            key_set_max_age: Duration::from_secs(self.key_set_max_age_secs),
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
    /// Open connections per client address on each listener; 0 = no cap (behind a load balancer).
    pub max_connections_per_address: usize,
    /// A connection with no request in progress is closed after this long, seconds.
    pub keep_alive_idle_secs: u64,
    /// HTTP/2 keep-alive ping interval, seconds.
    pub http2_keep_alive_interval_secs: u64,
    /// An HTTP/2 ping not answered within this long closes the connection, seconds.
    pub http2_keep_alive_timeout_secs: u64,
    /// Requests handled at once.
    pub max_in_flight: usize,
    /// Requests handled at once per client address (its share of `max_in_flight`; more → 429
    /// `too_many_in_flight`); 0 = no share (behind a load balancer's few addresses).
    pub max_in_flight_per_address: usize,
    /// Streams one HTTP/2 connection may have open at once.
    pub http2_max_concurrent_streams: u32,
    /// A JSON request body must have arrived whole within this long of the request's start, or 408
    /// `body_timeout`, seconds.
    pub json_body_timeout_secs: u64,
    /// Every request body (JSON) must average at least this many bytes per second once
    /// `body_rate_grace_secs` have passed, or 408 `body_too_slow`; 0 = no minimum rate.
    pub min_body_bytes_per_sec: u64,
    /// The grace period before a request body is held to `min_body_bytes_per_sec`, seconds.
    pub body_rate_grace_secs: u64,
    /// A 503 `overloaded` is sent after this long (jittered ±50 %), milliseconds, with nothing held meanwhile:
    /// a client that retries at once cannot turn refusals into a busy loop that starves the admitted requests.
    pub overload_delay_ms: u64,
    /// Drain time on shutdown, seconds.
    pub shutdown_grace_secs: u64,
    /// `Strict-Transport-Security: max-age=` on every answer, seconds, for deployments that terminate TLS in
    /// front of Gantry; 0 (the default) sends none.
    pub hsts_max_age_secs: u64,
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
    /// Checks cross-field rules (the production backend URLs only when `backends_required`).
    fn validate(&self, backends_required: bool) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.profile == Profile::Production && backends_required {
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
            ("http.http2_max_concurrent_streams", self.http.http2_max_concurrent_streams as usize),
            ("http.json_body_timeout_secs", usize::try_from(self.http.json_body_timeout_secs).unwrap_or(1)),
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
        // Locales are compared as spelled: each must be a canonical tag, so `?lang=DE` finds `de`.
        for (key, tag) in std::iter::once(("catalog.default_locale", &self.catalog.default_locale))
            .chain(self.catalog.locales.iter().map(|l| ("catalog.locales", l)))
        {
            match gantry_actors::catalog::locale::parse_tag(tag) {
                Ok(canonical) if canonical == *tag => {}
                Ok(canonical) => problems.push(format!("{key}: write {tag:?} as {canonical:?}")),
                Err(e) => problems.push(format!("{key}: {e}")),
            }
        }
        if self.catalog.locales.len() > 64 {
            problems.push("catalog.locales: at most 64 locales".into());
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
        if self.uploads.min_bytes_per_sec > 0 && self.uploads.rate_window_secs == 0 {
            problems
                .push("uploads.rate_window_secs must be greater than 0 when uploads.min_bytes_per_sec is set".into());
        }
        if self.uploads.pdf_max_bytes == 0 {
            problems.push("uploads.pdf_max_bytes must be greater than 0".into());
        }
        if self.uploads.max_in_flight_per_client == 0 || self.uploads.body_idle_timeout_secs == 0 {
            problems.push(
                "uploads.max_in_flight_per_client and uploads.body_idle_timeout_secs must be greater than 0".into(),
            );
        }
        if self.uploads.max_in_flight == 0
            || self.uploads.guest_tokens_per_address_per_hour == 0
            || self.uploads.sweep_secs == 0
        {
            problems.push(
                "uploads.max_in_flight and uploads.guest_tokens_per_address_per_hour must be greater than 0".into(),
            );
        }
        let range = self.sessions.breached_range_url.trim();
        if !(range.is_empty() || range.starts_with("https://") || range.starts_with("http://")) {
            problems.push("sessions.breached_range_url must be empty (off) or an http(s) URL".into());
        }
        if !range.is_empty() && !(1..=10_000).contains(&self.sessions.breached_range_timeout_ms) {
            problems.push("sessions.breached_range_timeout_ms must be between 1 and 10000".into());
        }
        if self.sessions.absolute_ttl_days < self.sessions.refresh_ttl_days {
            problems.push("sessions.absolute_ttl_days must be at least sessions.refresh_ttl_days".into());
        }
        problems.extend(self.photos.problems());
        if self.s3.part_size < 5 * 1024 * 1024 {
            problems.push("s3.part_size must be at least 5 MiB (5242880)".into());
        }
        let jobs = &self.jobs;
        if [
            jobs.lease_secs,
            jobs.poll_ms,
            jobs.wake_coalesce_ms,
            jobs.maintain_ms,
            jobs.keep_finished_secs,
            jobs.prune_every_secs,
        ]
        .contains(&0)
            || jobs.maintenance_concurrency == 0
        {
            problems.push("every jobs.* setting must be greater than 0".into());
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

    /// How long this 503 `overloaded` waits before it is sent: `http.overload_delay_ms`, ±50 % at random so
    /// refused clients do not come back in step.
    #[must_use]
    pub fn overload_delay(&self) -> Duration {
        let base = self.http.overload_delay_ms;
        if base == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(rand::random_range(base / 2..=base + base / 2))
    }
}

#[cfg(test)]
mod tests;
