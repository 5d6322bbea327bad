//! Rotation evidence and the fleet of running instances, both in the database (Postgres in production,
//! SQLite in the local profile).
//!
//! - [`RotationStore`]: one record per rotation or rollback — who, which deployment and commit, every version
//!   change with old and new fingerprints, the smoke results, the session-invalidation notice, the outcome.
//! - [`SigningKeyRecord`]s (through [`RotationStore`]): the public signing keys in use, published and
//!   retiring, with when each stops verifying.
//! - [`Fleet`]: every instance writes a heartbeat; a rotation waits for the acknowledgement of every instance
//!   seen alive, so an instance that is up but does not take part fails the rotation instead of silently
//!   keeping old keys. Each heartbeat carries the instance's [`InstanceReport`] (version, start, readiness, the
//!   fingerprints of its secrets), so `GET /admin/fleet` shows every live instance from any one of them.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Unavailable;

/// A stored rotation or rollback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RotationRecord {
    /// Id (also the job id).
    pub id: Uuid,
    /// `rotation` or `rollback`.
    pub kind: String,
    /// The deployment it belongs to (operator-supplied).
    pub deployment_id: Option<String>,
    /// The commit deployed (operator-supplied).
    pub commit_sha: Option<String>,
    /// Who asked.
    pub requested_by: String,
    /// `running`, `succeeded` or `failed`.
    pub outcome: String,
    /// The step that failed.
    pub failed_step: Option<String>,
    /// Why it failed (no values).
    pub reason: Option<String>,
    /// The steps, version changes, acknowledgements, smoke report and session notice (JSON).
    pub detail: serde_json::Value,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// When it ended.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

/// What [`RotationStore::start_rotation`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationStart {
    /// The record and the job are stored.
    Started,
    /// Another live job holds the unique key (its id); nothing was stored.
    InProgress(Uuid),
}

/// The evidence store capability.
#[async_trait]
pub trait RotationStore: Send + Sync + 'static {
    /// Inserts or replaces the record with `record.id`.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn save_rotation(&self, record: &RotationRecord) -> Result<(), Unavailable>;

    /// Records a rotation's start: its record and its runner job, in one transaction (both or neither). The
    /// job's live `unique_key` is the fleet-wide lock: while another live job holds it, nothing is stored and
    /// the answer names that job.
    ///
    /// # Errors
    /// The database is unreachable or refused the record.
    async fn start_rotation(
        &self,
        record: &RotationRecord,
        job: &super::jobs::NewJob,
    ) -> Result<RotationStart, Unavailable>;

    /// The newest `limit` records, newest first.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn rotations(&self, limit: u32) -> Result<Vec<RotationRecord>, Unavailable>;

    /// One record.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn rotation(&self, id: Uuid) -> Result<Option<RotationRecord>, Unavailable>;

    /// Inserts or replaces the records of `keys` (by `kid`), `revoked_at` included.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn record_signing_keys(&self, keys: &[SigningKeyRecord]) -> Result<(), Unavailable>;

    /// Every recorded signing key.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, Unavailable>;
}

/// A public access-token signing key as the fleet records it, so every instance — one restarted in the middle
/// of a rotation too — verifies and publishes what its peers do. Public keys only: nothing here is secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyRecord {
    /// The key's `kid` (RFC 7638 thumbprint).
    pub kid: String,
    /// The public key (`alg`, `kid`, `x`, `y`).
    pub public: serde_json::Value,
    /// When it stops verifying (Unix seconds): `None` while an instance signs with it or publishes it.
    pub verify_until: Option<i64>,
    /// When an emergency rotation (`invalidate_sessions=true`) ended it (Unix seconds): an instance configured
    /// with it refuses to start, and no instance adopts it. `None` for a key in use, published, or that only
    /// aged out; cleared when a rollback publishes it again.
    #[serde(default)]
    pub revoked_at: Option<i64>,
}

/// What an instance says about itself with each heartbeat (no secret values: fingerprints only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceReport {
    /// The build's version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// When the process started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// `ready`, `degraded` or `not_ready`, as its `/readyz` says.
    pub status: String,
    /// Each `/readyz` component and whether it is `up` or `down`.
    pub components: std::collections::BTreeMap<String, String>,
    /// Every version of every secret it holds.
    pub secrets: Vec<ReportedSecret>,
}

/// One secret version of an [`InstanceReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedSecret {
    /// The variable (`JWT_SECRET`, …).
    pub name: String,
    /// `current`, `pending` or `previous`.
    pub state: String,
    /// The version number on that instance.
    pub version: u32,
    /// The first 12 hex digits of the value's SHA-256.
    pub fingerprint: String,
}

/// An instance seen alive, as the fleet lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenInstance {
    /// Its id.
    pub id: Uuid,
    /// Its last heartbeat.
    pub last_heartbeat: OffsetDateTime,
    /// How long ago that was, by the database's clock, in milliseconds.
    pub age_ms: i64,
    /// What it reported with that heartbeat (`None`: an instance that writes none, like an older version).
    pub report: Option<InstanceReport>,
}

/// The fleet capability.
#[async_trait]
pub trait Fleet: Send + Sync + 'static {
    /// Records that `instance` is alive now, with what it reports about itself.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn heartbeat(&self, instance: Uuid, report: &InstanceReport) -> Result<(), Unavailable>;

    /// The instances whose last heartbeat is younger than `within`, in id order, with their reports.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn seen(&self, within: Duration) -> Result<Vec<SeenInstance>, Unavailable>;

    /// Instances whose last heartbeat is younger than `within`.
    ///
    /// # Errors
    /// The database is unreachable.
    async fn live_instances(&self, within: Duration) -> Result<Vec<Uuid>, Unavailable>;

    /// Forgets `instance` (a clean stop).
    ///
    /// # Errors
    /// The database is unreachable.
    async fn leave(&self, instance: Uuid) -> Result<(), Unavailable>;
}
