//! `RotationStore` and `Fleet` on either database, written once; [`FleetDialect`] holds what differs (the
//! heartbeat's clock: SQLite keeps integer milliseconds from this process, Postgres its own `now()`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::jobs::{DueSignal, Enqueued, NewJob};
use gantry_actors::ports::rotations::{
    Fleet, InstanceReport, RotationRecord, RotationStart, RotationStore, SeenInstance, SigningKeyRecord,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::errors::{corrupt, unavailable};
use super::exec::{Exec, SqlDb, all, backend, execute, optional};
use super::rows::{Fields, SqlRow};
use super::values::{Value, args};

/// What the fleet's SQL says differently per backend.
pub trait FleetDialect: SqlDb {
    /// Upserts the heartbeat of instance `$1` with its report `$2` (JSON text), at `$3` =
    /// [`FleetDialect::now`] or the database's clock.
    const HEARTBEAT: &'static str;
    /// Selects `id` of the instances seen since `$1` = [`FleetDialect::since`], ordered by id.
    const LIVE_INSTANCES: &'static str;
    /// Selects `id`, `last_seen_ms` (milliseconds since the Unix epoch), `age_ms` (by the database's clock) and
    /// `report` of the instances seen since `$1` = [`FleetDialect::since`], ordered by id.
    const SEEN: &'static str;

    /// The heartbeat's `$3`, when the backend has no clock of its own to use.
    fn now() -> Option<Value>;

    /// The `$1` of [`FleetDialect::LIVE_INSTANCES`] for heartbeats younger than `within`.
    fn since(within: Duration) -> Value;
}

/// `RotationStore` on the database `D`.
#[derive(Debug, Clone)]
pub struct SqlRotations<D> {
    /// The database.
    db: D,
    /// Told after a commit that made jobs due (the runners' wake-up).
    due: Arc<DueSignal>,
}

impl<D: SqlDb> SqlRotations<D> {
    /// The rotation store on `db`.
    pub fn new(db: D) -> Self {
        Self { db, due: Arc::default() }
    }

    /// The same store, telling `due` after each commit that made jobs due.
    #[must_use]
    pub fn with_due(mut self, due: Arc<DueSignal>) -> Self {
        self.due = due;
        self
    }
}

#[async_trait]
impl<D: SqlDb> RotationStore for SqlRotations<D> {
    async fn save_rotation(&self, record: &RotationRecord) -> Result<(), Unavailable> {
        let (sql, args) = save_statement(record)?;
        execute(&self.db, "save_rotation", sql, args).await?;
        Ok(())
    }

    async fn start_rotation(&self, record: &RotationRecord, job: &NewJob) -> Result<RotationStart, Unavailable> {
        let (sql, args) = save_statement(record)?;
        let failed = |e: sqlx::Error| unavailable(backend::<D>(), "start_rotation", &e);
        let mut tx = self.db.begin().await.map_err(failed)?;
        if super::jobs::enqueue_on(&mut tx, job).await.map_err(failed)? == Enqueued::Duplicate {
            // The job's unique key is held by a live rotation (or its id is taken): nothing is stored.
            let key = job.unique_key.as_deref().unwrap_or_default();
            let holder = super::jobs::holder_of(&mut tx, key).await.map_err(failed)?;
            return Ok(RotationStart::InProgress(holder.unwrap_or(job.id)));
        }
        tx.execute(sql, args).await.map_err(failed)?;
        D::commit(tx).await.map_err(failed)?;
        self.due.enqueued(job, true);
        Ok(RotationStart::Started)
    }

    async fn rotations(&self, limit: u32) -> Result<Vec<RotationRecord>, Unavailable> {
        let sql = "SELECT detail FROM rotations ORDER BY started_at DESC LIMIT $1";
        let rows = all(&self.db, "rotations", sql, args![i64::from(limit)]).await?;
        rows.iter().map(rotation_from_row).collect()
    }

    async fn rotation(&self, id: Uuid) -> Result<Option<RotationRecord>, Unavailable> {
        let row = optional(&self.db, "rotation", "SELECT detail FROM rotations WHERE id = $1", args![id]).await?;
        row.as_ref().map(rotation_from_row).transpose()
    }

    async fn record_signing_keys(&self, keys: &[SigningKeyRecord]) -> Result<(), Unavailable> {
        let sql = "INSERT INTO signing_keys (kid, public, verify_until, revoked_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (kid) DO UPDATE SET public = excluded.public, verify_until = excluded.verify_until, \
                   revoked_at = excluded.revoked_at";
        for key in keys {
            let public = serde_json::to_string(&key.public).map_err(|e| Unavailable::new(e.to_string()))?;
            let args = args![&key.kid, public, key.verify_until, key.revoked_at];
            execute(&self.db, "record_signing_keys", sql, args).await?;
        }
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, Unavailable> {
        let sql = "SELECT kid, public, verify_until, revoked_at FROM signing_keys ORDER BY kid";
        let rows = all(&self.db, "signing_keys", sql, Vec::new()).await?;
        rows.iter()
            .map(|row| {
                let fields = Fields::new(row, "signing_key");
                let public = fields.text("public")?;
                Ok(SigningKeyRecord {
                    kid: fields.text("kid")?,
                    public: serde_json::from_str(&public)
                        .map_err(|_| corrupt(backend::<D>(), "signing_key", "public"))?,
                    verify_until: fields.opt_int("verify_until")?,
                    revoked_at: fields.opt_int("revoked_at")?,
                })
            })
            .collect()
    }
}

/// Reads a rotation record from its `detail` (the whole record as JSON text).
fn rotation_from_row<R: SqlRow>(row: &R) -> Result<RotationRecord, Unavailable> {
    let detail = Fields::new(row, "rotation").text("detail")?;
    serde_json::from_str(&detail).map_err(|_| corrupt(R::BACKEND, "rotation", "detail"))
}

/// `Fleet` on the database `D`.
#[derive(Debug, Clone)]
pub struct SqlFleet<D> {
    /// The database.
    db: D,
}

impl<D: SqlDb> SqlFleet<D> {
    /// The fleet on `db`.
    pub fn new(db: D) -> Self {
        Self { db }
    }
}

#[async_trait]
impl<D: FleetDialect> Fleet for SqlFleet<D> {
    async fn heartbeat(&self, instance: Uuid, report: &InstanceReport) -> Result<(), Unavailable> {
        let report = serde_json::to_string(report).map_err(|e| Unavailable::new(e.to_string()))?;
        let mut args = args![instance, report];
        args.extend(D::now());
        execute(&self.db, "heartbeat", D::HEARTBEAT, args).await?;
        Ok(())
    }

    async fn seen(&self, within: Duration) -> Result<Vec<SeenInstance>, Unavailable> {
        let rows = all(&self.db, "seen_instances", D::SEEN, vec![D::since(within)]).await?;
        rows.iter().map(seen_from_row).collect()
    }

    async fn live_instances(&self, within: Duration) -> Result<Vec<Uuid>, Unavailable> {
        let rows = all(&self.db, "live_instances", D::LIVE_INSTANCES, vec![D::since(within)]).await?;
        rows.iter().map(|row| Fields::new(row, "instance").uuid("id")).collect()
    }

    async fn leave(&self, instance: Uuid) -> Result<(), Unavailable> {
        execute(&self.db, "leave", "DELETE FROM instances WHERE id = $1", args![instance]).await?;
        Ok(())
    }
}

/// An instance of [`FleetDialect::SEEN`]. A report that does not read (another version's shape) is `None`,
/// as for an instance that writes none: the fleet still lists it.
fn seen_from_row<R: SqlRow>(row: &R) -> Result<SeenInstance, Unavailable> {
    let fields = Fields::new(row, "instance");
    let last_seen_ms = fields.int("last_seen_ms")?;
    let last_heartbeat = OffsetDateTime::from_unix_timestamp_nanos(i128::from(last_seen_ms) * 1_000_000)
        .map_err(|_| corrupt(R::BACKEND, "instance", "last_seen"))?;
    let report = fields.opt_text("report")?.and_then(|text| serde_json::from_str(&text).ok());
    Ok(SeenInstance { id: fields.uuid("id")?, last_heartbeat, age_ms: fields.int("age_ms")?.max(0), report })
}

/// The upsert of a rotation record (the whole record as JSON in `detail`).
fn save_statement(record: &RotationRecord) -> Result<(&'static str, Vec<Value>), Unavailable> {
    let detail = serde_json::to_string(record).map_err(|e| Unavailable::new(e.to_string()))?;
    let sql = "INSERT INTO rotations (id, kind, deployment_id, commit_sha, requested_by, outcome, failed_step, \
               reason, detail, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
               ON CONFLICT (id) DO UPDATE SET outcome = excluded.outcome, failed_step = excluded.failed_step, \
               reason = excluded.reason, detail = excluded.detail, finished_at = excluded.finished_at";
    let args = args![
        record.id,
        &record.kind,
        record.deployment_id.as_deref(),
        record.commit_sha.as_deref(),
        &record.requested_by,
        &record.outcome,
        record.failed_step.as_deref(),
        record.reason.as_deref(),
        detail,
        record.started_at,
        record.finished_at,
    ];
    Ok((sql, args))
}
