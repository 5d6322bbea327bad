//! `JobStore` on either database, written once: SQLite and Postgres differ only in how values are stored,
//! which [`SqlDb`] encodes.

use async_trait::async_trait;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::jobs::{Job, JobState, JobStore, JobStoreError, JobUpdate};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Fields, SqlDb, SqlRow, Value, args, backend, execute, optional};

/// The columns [`job_from_row`] reads. A macro, not a `const`, because sqlx 0.9 only takes SQL that is
/// static text (`concat!` keeps it so); formatted strings would need an audit marker.
macro_rules! job_columns {
    () => {
        "id, kind, state, progress, result, error, owner, created_at, updated_at"
    };
}

/// `JobStore` on the database `D`.
#[derive(Debug, Clone)]
pub struct SqlJobs<D> {
    /// The database.
    db: D,
}

impl<D: SqlDb> SqlJobs<D> {
    /// The job store on `db`.
    pub fn new(db: D) -> Self {
        Self { db }
    }
}

#[async_trait]
impl<D: SqlDb> JobStore for SqlJobs<D> {
    async fn create(&self, job: &Job) -> Result<(), JobStoreError> {
        let mut args = args![job.id, &job.kind, job.state.as_str()];
        args.extend([Value::json(&job.progress), Value::json_opt(job.result.as_ref())]);
        args.extend(args![job.error.as_deref(), job.owner.as_deref(), job.created_at, job.updated_at]);
        execute(
            &self.db,
            "create",
            concat!("INSERT INTO jobs (", job_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
            args,
        )
        .await?;
        Ok(())
    }

    async fn get(&self, id: Uuid) -> Result<Option<Job>, JobStoreError> {
        let sql = concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1");
        let row = optional(&self.db, "get", sql, args![id]).await?;
        Ok(row.as_ref().map(job_from_row).transpose()?)
    }

    async fn update(&self, id: Uuid, update: JobUpdate) -> Result<Job, JobStoreError> {
        // One `UPDATE … RETURNING` statement is its own transaction (and on Postgres takes the row lock): the
        // `Some` fields are applied (COALESCE keeps the rest) and the row is read back atomically, so
        // concurrent updates of different fields cannot overwrite each other the way a read-modify-write
        // would under READ COMMITTED.
        let mut args = args![id, update.state.map(JobState::as_str)];
        args.extend([Value::json_opt(update.progress.as_ref()), Value::json_opt(update.result.as_ref())]);
        args.extend(args![update.error.as_deref(), OffsetDateTime::now_utc()]);
        let sql = concat!(
            "UPDATE jobs SET state = COALESCE($2, state), progress = COALESCE($3, progress), \
             result = COALESCE($4, result), error = COALESCE($5, error), updated_at = $6 \
             WHERE id = $1 RETURNING ",
            job_columns!()
        );
        match optional(&self.db, "update", sql, args).await? {
            Some(row) => Ok(job_from_row(&row)?),
            None => Err(JobStoreError::NotFound(id)),
        }
    }

    async fn health(&self) -> Result<(), Unavailable> {
        execute(&self.db, "health", "SELECT 1", Vec::new()).await?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        backend::<D>()
    }
}

/// Reads a job from a row selected with [`job_columns!`].
fn job_from_row<R: SqlRow>(row: &R) -> Result<Job, Unavailable> {
    let f = Fields::new(row, "job");
    Ok(Job {
        id: f.uuid("id")?,
        kind: f.text("kind")?,
        state: f.parse("state", JobState::parse)?,
        progress: f.json("progress")?,
        result: f.opt_json("result")?,
        error: f.opt_text("error")?,
        owner: f.opt_text("owner")?,
        created_at: f.time("created_at")?,
        updated_at: f.time("updated_at")?,
    })
}
