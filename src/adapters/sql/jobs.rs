//! `JobStore` on either database, written once: SQLite and Postgres differ only in how values are stored,
//! which [`SqlDb`] encodes, and in the claim, which [`JobsDialect`] holds (Postgres skips rows another
//! instance has locked; SQLite serialises writers, so one `UPDATE … RETURNING` is already exclusive).
//!
//! Every state change under a lease is one guarded statement (`WHERE … AND lease_token = $n AND state =
//! 'running'`): the token is the claiming runner's, drawn when that runner started, so a runner whose lease was
//! taken over or cancelled — or a process restarted under the same instance id — cannot renew the lease or
//! overwrite the new holder's outcome. `lease_owner` (the instance) is what operators and attempts see.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::jobs::{
    Attempt, AttemptOutcome, DueSignal, Enqueued, Finish, FinishItem, Job, JobCount, JobFilter, JobState, JobStore,
    JobStoreError, JobUpdate, LeaseHolder, NewJob, QueueDepth, fair_place,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::errors::{database_code, is_unique_violation, unavailable};
use super::exec::{Exec, SqlDb, all, backend, execute, optional};
use super::rows::{Fields, SqlRow};
use super::values::{Value, args};

/// The columns [`job_from_row`] reads. A macro, not a `const`, because sqlx 0.9 only takes SQL that is
/// static text (`concat!` keeps it so); formatted strings would need an audit marker.
macro_rules! job_columns {
    () => {
        "id, kind, state, progress, result, error, owner, created_at, updated_at, queue, args, attempt, \
         max_attempts, run_at, unique_key, period_key, started_at, finished_at, lease_owner, lease_expires_at"
    };
}
pub(crate) use job_columns;

/// The states a runner job waits in.
macro_rules! waiting_states {
    () => {
        "('scheduled', 'available', 'retryable')"
    };
}
pub(crate) use waiting_states;

/// The claim statement of [`JobsDialect::CLAIM`], written once; the backend says how the selected ids are
/// taken (`$ids` … `$end`: SQLite `id IN (…)`; Postgres `id = ANY(ARRAY(…))`, which keeps the plan a lookup by
/// id even when the limit is a parameter of a cached generic plan), what it appends to the row selection
/// (`$lock`: Postgres `FOR UPDATE SKIP LOCKED`; SQLite nothing, its writers are serialised) and what it puts
/// before the statement (`$with`; Postgres: the claim's commit does not wait for the disk, see
/// `postgres/jobs.rs`) and how it reads the limit `$5` (`$limit`; see `sqlite/jobs.rs`). Due jobs are taken in fair order (`fair_at`, see `ports::jobs::fair_place`: round robin
/// between owners) along the partial index `jobs_fair_due_idx`; expired leases are made due again by
/// [`JobStore::rescue_expired`] first, so this statement never scans running rows.
macro_rules! claim_sql {
    ($with:literal, $ids:literal, $limit:literal, $lock:literal, $end:literal) => {
        concat!(
            $with,
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = $2, lease_expires_at = $4, \
             lease_token = $6, started_at = $3, updated_at = $3 WHERE ",
            $ids,
            "SELECT id FROM jobs WHERE queue = $1 AND run_at IS NOT NULL AND state IN ",
            $crate::adapters::sql::jobs::waiting_states!(),
            " AND run_at <= $3 ORDER BY fair_at, run_at LIMIT ",
            $limit,
            $lock,
            $end,
            " RETURNING ",
            $crate::adapters::sql::jobs::job_columns!()
        )
    };
}
pub(crate) use claim_sql;

/// An instant as RFC 3339 text (the batch completion's JSON).
fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// The error a job keeps after its previous attempt's lease expired (see [`JobStore::rescue_expired`]).
pub const LEASE_EXPIRED: &str = "the previous attempt's lease expired (its instance stopped before finishing)";

/// What the job SQL says differently per backend.
pub trait JobsDialect: SqlDb {
    /// Leases due jobs: `$1` queue, `$2` instance, `$3` now, `$4` lease end, `$5` limit, `$6` the runner's
    /// lease token; returns [`job_columns!`].
    const CLAIM: &'static str;

    /// Extends leases: `$1` the runner's lease token, `$2` the new end, `$3` the ids (a [`Value::Uuids`]) of
    /// the jobs the runner is running; returns the `id`s still leased to it.
    const RENEW: &'static str;

    /// Completes a batch in one statement, where the backend can: `$1` a JSON array of `{id, attempt,
    /// started_at, finished_at, result}`, `$2` the instance (the attempts name it), `$3` the lease token the
    /// jobs must still be held with; records each attempt and completes each job still leased with `$3`,
    /// returning the `id`s it completed. `None`: one by one.
    const COMPLETE_MANY: Option<&'static str>;
}

/// How many times a batch the database refused as a deadlock victim is tried in all (a deadlock aborts the
/// whole transaction, so trying again applies nothing twice). Renewals never wait for a row lock (see
/// `postgres/jobs.rs`), which leaves a lease rescue racing an outcome of the same expired job to meet one.
const DEADLOCK_TRIES: u32 = 3;

/// Whether the database refused `err`'s statement to break a deadlock (Postgres SQLSTATE `40P01`).
fn is_deadlock(err: &sqlx::Error) -> bool {
    database_code(err).as_deref() == Some("40P01")
}

/// `JobStore` on the database `D`.
#[derive(Debug, Clone)]
pub struct SqlJobs<D> {
    /// The database.
    db: D,
    /// Told after a commit that made jobs due (the runners' wake-up).
    due: Arc<DueSignal>,
}

impl<D: SqlDb> SqlJobs<D> {
    /// The job store on `db`.
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

/// Enqueues `job` on `exec` — the pool, or the transaction of the domain write that causes the job, so the
/// job exists exactly when that write commits.
///
/// # Errors
/// The database failed or refused the statement.
pub async fn enqueue_on<E: Exec>(exec: &mut E, job: &NewJob) -> Result<Enqueued, sqlx::Error> {
    let now = OffsetDateTime::now_utc();
    let state = if job.run_at > now { JobState::Scheduled } else { JobState::Available };
    // The owner's latest place among its live jobs of this queue (index `jobs_owner_live_idx`); two enqueues
    // of one owner at the same instant may share a place, which only ties them.
    let latest = match &job.owner {
        Some(owner) => {
            let sql = "SELECT MAX(fair_at) AS latest FROM jobs WHERE queue = $1 AND owner = $2 \
                       AND state IN ('scheduled', 'available', 'running', 'retryable')";
            let row = exec.fetch_optional(sql, args![&job.queue, owner.as_str()]).await?;
            row.and_then(|row| {
                row.time("latest")
                    .inspect_err(|_| {
                        tracing::warn!(queue = %job.queue, "unreadable fair place of the owner's jobs; this job queues by its due time");
                    })
                    .ok()
                    .flatten()
            })
        }
        None => None,
    };
    let fair_at = fair_place(job.run_at, latest);
    let mut args = args![job.id, &job.kind, state.as_str(), job.owner.as_deref(), now, &job.queue];
    args.push(Value::json(&job.args));
    args.extend(args![i64::from(job.max_attempts.max(1)), job.run_at]);
    args.extend(args![job.unique_key.as_deref(), job.period_key.as_deref(), fair_at]);
    // No conflict target: whichever unique index (live key, period, id) refuses the row, nothing is stored
    // and nothing fails. Two instances enqueueing at once: the second waits for the first to commit, then
    // skips.
    let sql = "INSERT INTO jobs (id, kind, state, owner, created_at, updated_at, queue, args, max_attempts, \
               run_at, unique_key, period_key, fair_at) VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10, $11, $12) \
               ON CONFLICT DO NOTHING";
    Ok(if exec.execute(sql, args).await? == 1 { Enqueued::Created(job.id) } else { Enqueued::Duplicate })
}

/// Stores the record-only `job` on `exec` (an upload's job: [`JobStore::create`]).
///
/// # Errors
/// The database failed or refused the statement.
/// Returns `false` (and stores nothing) when the id or the job's live `unique_key` is taken.
async fn create_on<E: Exec>(exec: &mut E, job: &Job) -> Result<bool, sqlx::Error> {
    let mut args = args![job.id, &job.kind, job.state.as_str()];
    args.extend([Value::json(&job.progress), Value::json_opt(job.result.as_ref())]);
    args.extend(args![job.error.as_deref(), job.owner.as_deref(), job.created_at, job.updated_at]);
    args.extend(args![job.unique_key.as_deref(), job.lease_owner, job.lease_expires_at, job.started_at]);
    args.extend(args![i64::from(job.attempt)]);
    let sql = "INSERT INTO jobs (id, kind, state, progress, result, error, owner, created_at, updated_at, \
               unique_key, lease_owner, lease_expires_at, started_at, attempt) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING";
    Ok(exec.execute(sql, args).await? == 1)
}

/// The live job holding `unique_key`, if any.
///
/// # Errors
/// The database failed.
pub async fn holder_of<E: Exec>(exec: &mut E, unique_key: &str) -> Result<Option<Uuid>, sqlx::Error> {
    let sql = "SELECT id FROM jobs WHERE unique_key = $1 \
               AND state IN ('scheduled', 'available', 'running', 'retryable')";
    let row = exec.fetch_optional(sql, args![unique_key]).await?;
    Ok(row.and_then(|r| r.uuid("id").ok().flatten()))
}

#[async_trait]
impl<D: JobsDialect> JobStore for SqlJobs<D> {
    async fn create(&self, job: &Job) -> Result<(), JobStoreError> {
        let mut pool = self.db.pool();
        let created = create_on(&mut pool, job).await.map_err(|e| unavailable(backend::<D>(), "create", &e))?;
        if created { Ok(()) } else { Err(Unavailable::new("a job with this id or unique key exists").into()) }
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
        // would under READ COMMITTED. A job put in a final state (a record-only job run inline ends this way)
        // gets its `finished_at`.
        let mut args = args![id, update.state.map(JobState::as_str)];
        args.extend([Value::json_opt(update.progress.as_ref()), Value::json_opt(update.result.as_ref())]);
        args.extend(args![update.error.as_deref(), OffsetDateTime::now_utc()]);
        let sql = concat!(
            "UPDATE jobs SET state = COALESCE($2, state), progress = COALESCE($3, progress), \
             result = COALESCE($4, result), error = COALESCE($5, error), updated_at = $6, \
             finished_at = CASE WHEN $2 IN ('completed', 'discarded', 'cancelled') THEN $6 ELSE finished_at END \
             WHERE id = $1 RETURNING ",
            job_columns!()
        );
        match optional(&self.db, "update", sql, args).await? {
            Some(row) => Ok(job_from_row(&row)?),
            None => Err(JobStoreError::NotFound(id)),
        }
    }

    async fn enqueue(&self, job: &NewJob) -> Result<Enqueued, JobStoreError> {
        let mut pool = self.db.pool();
        let enqueued = enqueue_on(&mut pool, job).await.map_err(|e| unavailable(backend::<D>(), "enqueue", &e))?;
        // One statement on the pool: committed when it returns.
        self.due.enqueued(job, enqueued == Enqueued::Created(job.id));
        Ok(enqueued)
    }

    async fn claim(
        &self,
        queue: &str,
        holder: LeaseHolder,
        limit: u32,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<Vec<Job>, JobStoreError> {
        let args = args![queue, holder.instance, now, now + lease, i64::from(limit), holder.token];
        let rows = all(&self.db, "claim", D::CLAIM, args).await?;
        Ok(rows.iter().map(job_from_row).collect::<Result<_, _>>()?)
    }

    async fn rescue_expired(&self, now: OffsetDateTime) -> Result<u64, JobStoreError> {
        // A runner job: the dead attempt stays counted (the next claim counts a new one), and the job says why
        // it ran again. A record-only job with a lease (a rotation accepted by an older version, which ran it
        // inline) cannot be resumed by the runner: its inline runner died, so it is discarded, which frees its
        // unique key.
        // The dead attempt is recorded first, in the same transaction, as `lease_expired` naming the instance
        // that held it. A rescue racing another instance's records it once: the attempt's key refuses the
        // second row, and the second rescue's UPDATE finds the job no longer running.
        let failed = |e: sqlx::Error| unavailable(backend::<D>(), "rescue", &e);
        let mut tx = self.db.begin().await.map_err(failed)?;
        let sql = "INSERT INTO job_attempts (job_id, attempt, instance_id, started_at, finished_at, outcome, error) \
                   SELECT id, CASE WHEN attempt < 1 THEN 1 ELSE attempt END, lease_owner, \
                   COALESCE(started_at, created_at), $1, 'lease_expired', \
                   'lease expired: instance ' || CAST(lease_owner AS TEXT) || ' stopped renewing' \
                   FROM jobs WHERE state = 'running' AND lease_expires_at < $1 AND lease_owner IS NOT NULL \
                   ON CONFLICT DO NOTHING";
        tx.execute(sql, args![now]).await.map_err(failed)?;
        let sql = "UPDATE jobs SET state = 'available', run_at = $1, lease_owner = NULL, lease_expires_at = NULL, \
                   lease_token = NULL, error = $2, updated_at = $1 WHERE state = 'running' \
                   AND lease_expires_at < $1 AND run_at IS NOT NULL";
        let rescued = tx.execute(sql, args![now, LEASE_EXPIRED]).await.map_err(failed)?;
        let sql = "UPDATE jobs SET state = 'discarded', finished_at = $1, lease_owner = NULL, lease_expires_at = NULL, \
                   lease_token = NULL, error = $2, updated_at = $1 WHERE state = 'running' \
                   AND lease_expires_at < $1 AND run_at IS NULL";
        let orphaned = "its instance stopped before finishing (lease expired)";
        let discarded = tx.execute(sql, args![now, orphaned]).await.map_err(failed)?;
        D::commit(tx).await.map_err(failed)?;
        Ok(rescued + discarded)
    }

    async fn renew(
        &self,
        holder: LeaseHolder,
        jobs: &[Uuid],
        until: OffsetDateTime,
    ) -> Result<Vec<Uuid>, JobStoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        // Never a deadlock victim: a renewal does not wait for row locks (see `postgres/jobs.rs`).
        let args = vec![Value::from(holder.token), Value::from(until), Value::Uuids(jobs.to_vec())];
        let rows = all(&self.db, "renew", D::RENEW, args).await?;
        Ok(rows.iter().map(|r| Fields::new(r, "job").uuid("id")).collect::<Result<_, _>>()?)
    }

    async fn finish(
        &self,
        id: Uuid,
        holder: LeaseHolder,
        attempt: &Attempt,
        finish: &Finish,
    ) -> Result<bool, JobStoreError> {
        let mut pool = self.db.pool();
        Ok(finish_on(&mut pool, id, holder, attempt, finish)
            .await
            .map_err(|e| unavailable(backend::<D>(), "finish", &e))?)
    }

    async fn finish_many(&self, holder: LeaseHolder, items: &[FinishItem]) -> Result<Vec<bool>, JobStoreError> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.finish_batch(holder, items).await {
                Err(e) if is_deadlock(&e) && tries < DEADLOCK_TRIES => deadlock_retried("finish_many", tries),
                result => return Ok(result.map_err(|e| unavailable(backend::<D>(), "finish_many", &e))?),
            }
        }
    }

    async fn release(&self, holder: LeaseHolder) -> Result<u64, JobStoreError> {
        // Runner jobs only: a record-only job's inline runner (an older version's rotation) keeps its lease until it stops.
        let sql = "UPDATE jobs SET state = 'available', run_at = $2, attempt = attempt - 1, lease_owner = NULL, \
                   lease_expires_at = NULL, lease_token = NULL, updated_at = $2 WHERE lease_token = $1 \
                   AND state = 'running' AND run_at IS NOT NULL";
        Ok(execute(&self.db, "release", sql, args![holder.token, OffsetDateTime::now_utc()]).await?)
    }

    async fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, JobStoreError> {
        let sql = concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR kind = $2) \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let args = args![filter.state.map(JobState::as_str), filter.kind.as_deref(), i64::from(filter.limit)];
        let rows = all(&self.db, "list", sql, args).await?;
        Ok(rows.iter().map(job_from_row).collect::<Result<_, _>>()?)
    }

    async fn attempts(&self, id: Uuid) -> Result<Vec<Attempt>, JobStoreError> {
        let sql = "SELECT attempt, instance_id, started_at, finished_at, outcome, error FROM job_attempts \
                   WHERE job_id = $1 ORDER BY attempt";
        let rows = all(&self.db, "attempts", sql, args![id]).await?;
        Ok(rows.iter().map(attempt_from_row).collect::<Result<_, _>>()?)
    }

    async fn retry(&self, id: Uuid, now: OffsetDateTime) -> Result<Job, JobStoreError> {
        let sql = concat!(
            "UPDATE jobs SET state = 'available', run_at = $2, finished_at = NULL, updated_at = $2, \
             max_attempts = CASE WHEN attempt >= max_attempts THEN attempt + 1 ELSE max_attempts END \
             WHERE id = $1 AND run_at IS NOT NULL AND state IN ('discarded', 'cancelled', 'retryable') RETURNING ",
            job_columns!()
        );
        // Making the job live again is refused by `jobs_unique_live_idx` while another live job holds its
        // unique key: that is the operator's conflict (named by its holder), not an outage. The holder is read
        // after the refusal; if it finished in between, the key is free and the retry is tried again.
        let mut holder = None;
        for _ in 0..3 {
            let mut pool = self.db.pool();
            match pool.fetch_optional(sql, args![id, now]).await {
                Ok(Some(row)) => {
                    let job = job_from_row(&row)?;
                    self.due.due(&job.queue);
                    return Ok(job);
                }
                Ok(None) => return self.not_applied(id).await,
                Err(e) if is_unique_violation(&e) => {
                    let failed = |e: sqlx::Error| unavailable(backend::<D>(), "retry", &e);
                    let key = self.get(id).await?.and_then(|job| job.unique_key);
                    holder = match key {
                        Some(key) => holder_of(&mut pool, &key).await.map_err(failed)?,
                        None => None,
                    };
                    if holder.is_some() {
                        break;
                    }
                }
                Err(e) => return Err(unavailable(backend::<D>(), "retry", &e).into()),
            }
        }
        Err(JobStoreError::KeyTaken { id, holder })
    }

    async fn cancel(&self, id: Uuid, now: OffsetDateTime) -> Result<Job, JobStoreError> {
        let sql = concat!(
            "UPDATE jobs SET state = 'cancelled', finished_at = $2, updated_at = $2, lease_owner = NULL, \
             lease_expires_at = NULL, lease_token = NULL WHERE id = $1 AND run_at IS NOT NULL \
             AND state IN ('scheduled', 'available', 'retryable', 'running') RETURNING ",
            job_columns!()
        );
        self.control(id, "cancel", sql, now).await
    }

    async fn depths(&self, now: OffsetDateTime) -> Result<Vec<QueueDepth>, JobStoreError> {
        let sql = concat!(
            "SELECT queue, SUM(CASE WHEN run_at <= $1 THEN 1 ELSE 0 END) AS available, \
             SUM(CASE WHEN run_at > $1 THEN 1 ELSE 0 END) AS scheduled, \
             MIN(CASE WHEN run_at <= $1 THEN run_at END) AS oldest \
             FROM jobs WHERE run_at IS NOT NULL AND state IN ",
            waiting_states!(),
            " GROUP BY queue ORDER BY queue"
        );
        let rows = all(&self.db, "depths", sql, args![now]).await?;
        rows.iter()
            .map(|row| {
                let f = Fields::new(row, "queue depth");
                Ok(QueueDepth {
                    queue: f.text("queue")?,
                    available: f.count("available")?,
                    scheduled: f.count("scheduled")?,
                    oldest_available: f.opt_time("oldest")?,
                })
            })
            .collect::<Result<_, Unavailable>>()
            .map_err(JobStoreError::from)
    }

    async fn counts(&self) -> Result<Vec<JobCount>, JobStoreError> {
        // One pass over the table (finished jobs are pruned after `jobs.keep_finished_secs`, so it stays small); an
        // operator's view, not the runner's path.
        let sql = "SELECT queue, kind, state, COUNT(*) AS n FROM jobs GROUP BY queue, kind, state \
                   ORDER BY queue, kind, state";
        let rows = all(&self.db, "counts", sql, Vec::new()).await?;
        rows.iter()
            .map(|row| {
                let f = Fields::new(row, "job count");
                Ok(JobCount {
                    queue: f.text("queue")?,
                    kind: f.text("kind")?,
                    state: f.parse("state", JobState::parse)?,
                    count: f.count("n")?,
                })
            })
            .collect::<Result<_, Unavailable>>()
            .map_err(JobStoreError::from)
    }

    async fn prune_finished(&self, before: OffsetDateTime) -> Result<u64, JobStoreError> {
        // Attempts first (SQLite may run without foreign-key enforcement, so the cascade is not relied on).
        execute(
            &self.db,
            "prune_attempts",
            "DELETE FROM job_attempts WHERE job_id IN (SELECT id FROM jobs \
             WHERE state IN ('completed', 'discarded', 'cancelled') AND updated_at < $1)",
            args![before],
        )
        .await?;
        let sql = "DELETE FROM jobs WHERE state IN ('completed', 'discarded', 'cancelled') AND updated_at < $1";
        Ok(execute(&self.db, "prune_jobs", sql, args![before]).await?)
    }

    async fn health(&self) -> Result<(), Unavailable> {
        execute(&self.db, "health", "SELECT 1", Vec::new()).await?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        backend::<D>()
    }
}

impl<D: JobsDialect> SqlJobs<D> {
    /// Runs an operator's guarded `UPDATE … RETURNING` (`$1` id, `$2` now); no row means either no such job
    /// or a job in another state, told apart by reading it.
    async fn control(
        &self,
        id: Uuid,
        op: &'static str,
        sql: &'static str,
        now: OffsetDateTime,
    ) -> Result<Job, JobStoreError> {
        if let Some(row) = optional(&self.db, op, sql, args![id, now]).await? {
            return Ok(job_from_row(&row)?);
        }
        self.not_applied(id).await
    }

    /// Why an operator's guarded statement changed no row: no such job, or a job in another state.
    async fn not_applied(&self, id: Uuid) -> Result<Job, JobStoreError> {
        match self.get(id).await? {
            Some(job) => Err(JobStoreError::WrongState { id, state: job.state }),
            None => Err(JobStoreError::NotFound(id)),
        }
    }
}

/// A count column as `u32` (attempts never come near the limit; larger values read as the maximum).
fn small<R: SqlRow>(f: &Fields<'_, R>, column: &'static str) -> Result<u32, Unavailable> {
    Ok(u32::try_from(f.int(column)?).unwrap_or(u32::MAX))
}

/// Reads a job from a row selected with [`job_columns!`].
pub(crate) fn job_from_row<R: SqlRow>(row: &R) -> Result<Job, Unavailable> {
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
        queue: f.text("queue")?,
        args: f.json("args")?,
        attempt: small(&f, "attempt")?,
        max_attempts: small(&f, "max_attempts")?,
        run_at: f.opt_time("run_at")?,
        unique_key: f.opt_text("unique_key")?,
        period_key: f.opt_text("period_key")?,
        started_at: f.opt_time("started_at")?,
        finished_at: f.opt_time("finished_at")?,
        lease_owner: f.opt_uuid("lease_owner")?,
        lease_expires_at: f.opt_time("lease_expires_at")?,
    })
}

/// Reads an attempt row.
fn attempt_from_row<R: SqlRow>(row: &R) -> Result<Attempt, Unavailable> {
    let f = Fields::new(row, "job attempt");
    Ok(Attempt {
        attempt: small(&f, "attempt")?,
        instance_id: f.uuid("instance_id")?,
        started_at: f.time("started_at")?,
        finished_at: f.time("finished_at")?,
        outcome: f.parse("outcome", AttemptOutcome::parse)?,
        error: f.opt_text("error")?,
    })
}

impl<D: JobsDialect> SqlJobs<D> {
    /// [`JobStore::finish_many`] once: the outcomes of `items` in one transaction (or one statement when all
    /// are completions and the dialect has [`JobsDialect::COMPLETE_MANY`]).
    async fn finish_batch(&self, holder: LeaseHolder, items: &[FinishItem]) -> Result<Vec<bool>, sqlx::Error> {
        if let Some(sql) = D::COMPLETE_MANY
            && !items.is_empty()
            && items.iter().all(|item| matches!(item.finish, Finish::Complete(_)))
        {
            // Only completions (a busy runner's usual batch): the one statement is its own transaction, so the
            // batch costs one round trip and one commit.
            let mut pool = self.db.pool();
            let items: Vec<&FinishItem> = items.iter().collect();
            return complete_many(&mut pool, sql, holder, &items).await;
        }
        let mut recorded = vec![false; items.len()];
        let mut tx = self.db.begin().await?;
        // Completions (the bulk of a busy runner's outcomes) in one statement where the dialect has one; the
        // rest one by one, all in this transaction: one commit for the batch.
        let mut completions = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match (&item.finish, D::COMPLETE_MANY) {
                (Finish::Complete(_), Some(_)) => completions.push((i, item)),
                _ => recorded[i] = finish_on(&mut tx, item.id, holder, &item.attempt, &item.finish).await?,
            }
        }
        if let (Some(sql), false) = (D::COMPLETE_MANY, completions.is_empty()) {
            let batch: Vec<&FinishItem> = completions.iter().map(|(_, item)| *item).collect();
            let done = complete_many(&mut tx, sql, holder, &batch).await?;
            for ((i, _), done) in completions.iter().zip(done) {
                recorded[*i] = done;
            }
        }
        D::commit(tx).await?;
        Ok(recorded)
    }
}

/// Logs and counts a batch the database refused as a deadlock victim, about to be tried again.
fn deadlock_retried(op: &'static str, tries: u32) {
    metrics::counter!("gantry_job_store_retries_total", "op" => op, "reason" => "deadlock").increment(1);
    tracing::warn!(
        event = "job_store_deadlock_retried",
        op,
        tries,
        "the database refused a batch to break a deadlock; trying it again"
    );
}

/// Completes the jobs of `items` (each a [`Finish::Complete`]) with the dialect's one-statement `sql`
/// ([`JobsDialect::COMPLETE_MANY`]) on `exec`; returns, in order, whether each was recorded (its lease held).
///
/// # Errors
/// The database failed.
async fn complete_many<E: Exec>(
    exec: &mut E,
    sql: &'static str,
    holder: LeaseHolder,
    items: &[&FinishItem],
) -> Result<Vec<bool>, sqlx::Error> {
    let batch: Vec<serde_json::Value> = items
        .iter()
        .map(|item| {
            let result = match &item.finish {
                Finish::Complete(result) => result.as_ref(),
                _ => None,
            };
            serde_json::json!({
                "id": item.id,
                "attempt": item.attempt.attempt,
                "started_at": rfc3339(item.attempt.started_at),
                "finished_at": rfc3339(item.attempt.finished_at),
                "result": result,
            })
        })
        .collect();
    let args = vec![Value::json(&serde_json::Value::Array(batch)), holder.instance.into(), holder.token.into()];
    let rows = exec.fetch_all(sql, args).await?;
    let done: std::collections::HashSet<Uuid> =
        rows.iter().filter_map(|r| Fields::new(r, "job").uuid("id").ok()).collect();
    Ok(items.iter().map(|item| done.contains(&item.id)).collect())
}

/// Records `attempt` of job `id` and moves the job as `finish` says, if `holder` still holds its lease (see
/// [`JobStore::finish`]), on `exec` — the pool, or a batch's transaction.
///
/// # Errors
/// The database failed.
async fn finish_on<E: Exec>(
    exec: &mut E,
    id: Uuid,
    holder: LeaseHolder,
    attempt: &Attempt,
    finish: &Finish,
) -> Result<bool, sqlx::Error> {
    let (instance, token) = (holder.instance, holder.token);
    let now = attempt.finished_at;
    if let Finish::Snooze { at } = finish {
        // Not an attempt of this kind's work: given back uncounted.
        let sql = "UPDATE jobs SET state = 'available', run_at = $3, attempt = attempt - 1, lease_owner = NULL, \
                   lease_expires_at = NULL, lease_token = NULL, updated_at = $4 \
                   WHERE id = $1 AND lease_token = $2 AND state = 'running'";
        return Ok(exec.execute(sql, args![id, token, *at, now]).await? == 1);
    }
    // The attempt first, guarded by the lease, then the job, guarded the same way. No transaction is
    // needed: if this instance dies in between, the recorded attempt stays true and the job's lease
    // expires; the rescue's `lease_expired` row for it is refused by the attempt's key (this row stays) and
    // the next claim counts a new attempt number. Conversely, a rescue that recorded this attempt first
    // refuses this row: nothing is recorded and the lease is gone, so this returns `false`.
    let mut args = args![id, instance, i64::from(attempt.attempt), attempt.started_at, now];
    args.extend(args![attempt.outcome.as_str(), attempt.error.as_deref(), token]);
    let recorded = exec
        .execute(
            "INSERT INTO job_attempts (job_id, attempt, instance_id, started_at, finished_at, outcome, error) \
         SELECT id, $3, $2, $4, $5, $6, $7 FROM jobs WHERE id = $1 AND lease_token = $8 AND state = 'running' \
         ON CONFLICT DO NOTHING",
            args,
        )
        .await?;
    if recorded == 0 {
        return Ok(false);
    }
    let (sql, args) = match finish {
        Finish::Complete(result) => {
            let mut args = args![id, token, now];
            args.push(Value::json_opt(result.as_ref()));
            (
                "UPDATE jobs SET state = 'completed', result = $4, error = NULL, finished_at = $3, \
                 lease_owner = NULL, lease_expires_at = NULL, lease_token = NULL, updated_at = $3 \
                 WHERE id = $1 AND lease_token = $2 AND state = 'running'",
                args,
            )
        }
        Finish::Retry { error, at } => (
            "UPDATE jobs SET state = 'retryable', error = $4, run_at = $5, lease_owner = NULL, \
             lease_expires_at = NULL, lease_token = NULL, updated_at = $3 \
             WHERE id = $1 AND lease_token = $2 AND state = 'running'",
            args![id, token, now, error.as_str(), *at],
        ),
        Finish::Discard { error } => (
            "UPDATE jobs SET state = 'discarded', error = $4, finished_at = $3, lease_owner = NULL, \
             lease_expires_at = NULL, lease_token = NULL, updated_at = $3 \
             WHERE id = $1 AND lease_token = $2 AND state = 'running'",
            args![id, token, now, error.as_str()],
        ),
        Finish::Snooze { .. } => unreachable!("handled above"),
    };
    Ok(exec.execute(sql, args).await? == 1)
}
