//! `UploadStore` on either database, written once: SQLite and Postgres differ only in how values are
//! stored, which [`SqlDb`] encodes.

use std::sync::Arc;

use async_trait::async_trait;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::jobs::{DueSignal, Enqueued, NewJob};
use gantry_actors::ports::uploads::{UploadRecord, UploadStatus, UploadStore, VariantRecord, VariantState};
use time::OffsetDateTime;
use uuid::Uuid;

use super::errors::unavailable;
use super::exec::{Exec, SqlDb, all, backend, execute, one, optional};
use super::rows::{Fields, SqlRow};
use super::values::{Value, args, count_to_db};

/// The columns [`upload_from_row`] reads (static SQL, see `jobs.rs`).
macro_rules! upload_columns {
    () => {
        "id, owner, object_key, filename, content_type, size, sha256, status, error, created_at, received_by"
    };
}

/// The columns [`variant_from_row`] reads.
macro_rules! variant_columns {
    () => {
        "name, state, content_type, width, height, size, sha256, error"
    };
}

/// `UploadStore` on the database `D`.
#[derive(Debug, Clone)]
pub struct SqlUploads<D> {
    /// The database.
    db: D,
    /// Told after a commit that made jobs due (the runners' wake-up).
    due: Arc<DueSignal>,
}

impl<D: SqlDb> SqlUploads<D> {
    /// The upload store on `db`.
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
impl<D: SqlDb> UploadStore for SqlUploads<D> {
    async fn create_upload(&self, upload: &UploadRecord) -> Result<(), Unavailable> {
        let sql = concat!(
            "INSERT INTO uploads (",
            upload_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        );
        let args = args![
            upload.id,
            &upload.owner,
            &upload.object_key,
            upload.filename.as_deref(),
            &upload.content_type,
            count_to_db(upload.size),
            &upload.sha256,
            upload.status.as_str(),
            upload.error.as_deref(),
            upload.created_at,
            upload.received_by,
        ];
        execute(&self.db, "create_upload", sql, args).await?;
        Ok(())
    }

    async fn update_upload(&self, upload: &UploadRecord) -> Result<bool, Unavailable> {
        let (sql, args) = update_statement(upload);
        Ok(execute(&self.db, "update_upload", sql, args).await? == 1)
    }

    async fn store_with_variants(
        &self,
        upload: &UploadRecord,
        variants: &[String],
        job: &NewJob,
    ) -> Result<bool, Unavailable> {
        let failed = |e: sqlx::Error| unavailable(backend::<D>(), "store_with_variants", &e);
        let mut tx = self.db.begin().await.map_err(failed)?;
        let (sql, args) = update_statement(upload);
        if tx.execute(sql, args).await.map_err(failed)? == 0 {
            // Ended already (or unknown): dropping the transaction writes nothing.
            return Ok(false);
        }
        let now = OffsetDateTime::now_utc();
        for (position, name) in variants.iter().enumerate() {
            // An upload is stored once; were its end recorded twice, the variants already there (maybe ready)
            // stay as they are.
            let sql = "INSERT INTO upload_variants (upload_id, name, position, state, updated_at) \
                       VALUES ($1, $2, $3, 'pending', $4) ON CONFLICT DO NOTHING";
            let position = i64::try_from(position).unwrap_or(i64::MAX);
            tx.execute(sql, args![upload.id, name, position, now]).await.map_err(failed)?;
        }
        if super::jobs::enqueue_on(&mut tx, job).await.map_err(failed)? == Enqueued::Duplicate {
            // Dropping the transaction rolls the upload's end back.
            return Err(Unavailable::new("a job with this id exists"));
        }
        D::commit(tx).await.map_err(failed)?;
        self.due.enqueued(job, true);
        Ok(true)
    }

    async fn variants(&self, id: Uuid) -> Result<Vec<VariantRecord>, Unavailable> {
        let sql =
            concat!("SELECT ", variant_columns!(), " FROM upload_variants WHERE upload_id = $1 ORDER BY position");
        let rows = all(&self.db, "variants", sql, args![id]).await?;
        rows.iter().map(variant_from_row).collect()
    }

    async fn set_variant(&self, id: Uuid, variant: &VariantRecord) -> Result<(), Unavailable> {
        let sql = "UPDATE upload_variants SET state = $3, content_type = $4, width = $5, height = $6, size = $7, \
                   sha256 = $8, error = $9, updated_at = $10 WHERE upload_id = $1 AND name = $2";
        let mut args = args![id, &variant.name, variant.state.as_str(), variant.content_type.as_deref()];
        args.extend([
            Value::Int(variant.width.map(i64::from)),
            Value::Int(variant.height.map(i64::from)),
            Value::Int(variant.size.map(count_to_db)),
        ]);
        args.extend(args![variant.sha256.as_deref(), variant.error.as_deref(), OffsetDateTime::now_utc()]);
        execute(&self.db, "set_variant", sql, args).await?;
        Ok(())
    }

    async fn get_upload(&self, id: Uuid) -> Result<Option<UploadRecord>, Unavailable> {
        let sql = concat!("SELECT ", upload_columns!(), " FROM uploads WHERE id = $1");
        let row = optional(&self.db, "get_upload", sql, args![id]).await?;
        row.as_ref().map(upload_from_row).transpose()
    }

    async fn delete_upload(&self, id: Uuid) -> Result<(), Unavailable> {
        execute(&self.db, "delete_upload", "DELETE FROM uploads WHERE id = $1", args![id]).await?;
        Ok(())
    }

    async fn count_uploads(&self, owner: &str) -> Result<u64, Unavailable> {
        // The owner is the leading column of `uploads_owner_created_at_idx`, so this reads only that owner's
        // rows. The statuses that count are listed (rather than `<> 'failed'`) so that a status added later stays
        // out of the quota until someone decides otherwise.
        let sql = "SELECT count(*) AS n FROM uploads WHERE owner = $1 AND status IN ('receiving', 'stored')";
        let row = one(&self.db, "count_uploads", sql, args![owner]).await?;
        Fields::new(&row, "upload count").count("n")
    }

    async fn reserve_file(&self, owner: &str, max_files: u32) -> Result<bool, Unavailable> {
        if max_files == 0 {
            return Ok(false);
        }
        // One statement: the upsert takes the owner's row lock (Postgres) or the write lock (SQLite), so
        // concurrent reservations are serialised and each sees the count the previous one left. The `WHERE` of
        // `DO UPDATE` leaves a full quota untouched, and then nothing is returned.
        let sql = "INSERT INTO upload_quotas (owner, used) VALUES ($1, 1) ON CONFLICT (owner) DO UPDATE \
                   SET used = upload_quotas.used + 1 WHERE upload_quotas.used < $2 RETURNING used";
        let row = optional(&self.db, "reserve_file", sql, args![owner, i64::from(max_files)]).await?;
        Ok(row.is_some())
    }

    async fn release_file(&self, owner: &str) -> Result<(), Unavailable> {
        let sql = "UPDATE upload_quotas SET used = used - 1 WHERE owner = $1 AND used > 0";
        execute(&self.db, "release_file", sql, args![owner]).await?;
        Ok(())
    }

    async fn stale_uploads(
        &self,
        started_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<UploadRecord>, Unavailable> {
        // The status is a literal, not a bound parameter: SQLite uses the partial index of
        // `migrations/sqlite/0005_uploads_stale.sql` only when the query spells its predicate, and a generic
        // Postgres plan can then still use `migrations/postgres/0004_uploads_stale.sql`. SQLite's fixed-width
        // timestamp text makes `<` and `ORDER BY` time order; ties fall back to the id (v7, also time-ordered).
        let sql = concat!(
            "SELECT ",
            upload_columns!(),
            " FROM uploads WHERE status = 'receiving' AND created_at < $1 ORDER BY created_at, id LIMIT $2"
        );
        let rows = all(&self.db, "stale_uploads", sql, args![started_before, i64::from(limit)]).await?;
        rows.iter().map(upload_from_row).collect()
    }

    async fn update_upload_enqueueing(&self, upload: &UploadRecord, job: &NewJob) -> Result<bool, Unavailable> {
        let failed = |e: sqlx::Error| unavailable(backend::<D>(), "update_upload_enqueueing", &e);
        let mut tx = self.db.begin().await.map_err(failed)?;
        let (sql, args) = update_statement(upload);
        if tx.execute(sql, args).await.map_err(failed)? == 0 {
            // Ended already (or unknown): its end brought its own follow-up, if any.
            return Ok(false);
        }
        // A duplicate (the same job id enqueued twice) is already there: nothing is lost.
        let enqueued = super::jobs::enqueue_on(&mut tx, job).await.map_err(failed)?;
        D::commit(tx).await.map_err(failed)?;
        self.due.enqueued(job, enqueued != Enqueued::Duplicate);
        Ok(true)
    }

    async fn delete_upload_enqueueing(&self, id: Uuid, job: &NewJob) -> Result<(), Unavailable> {
        let failed = |e: sqlx::Error| unavailable(backend::<D>(), "delete_upload_enqueueing", &e);
        let mut tx = self.db.begin().await.map_err(failed)?;
        tx.execute("DELETE FROM uploads WHERE id = $1", args![id]).await.map_err(failed)?;
        let enqueued = super::jobs::enqueue_on(&mut tx, job).await.map_err(failed)?;
        D::commit(tx).await.map_err(failed)?;
        self.due.enqueued(job, enqueued != Enqueued::Duplicate);
        Ok(())
    }
}

/// The statement recording an upload's end: the id, owner, object key and start time are fixed when it is
/// created (the owner decides access, so an update must not move the upload to someone else), and only a
/// `receiving` upload ends — the first end wins (the instance storing it, or the sweep failing it as
/// abandoned), so a stored record never points at bytes a removal job deletes. An unknown id updates nothing,
/// as the port has no `NotFound` to report.
fn update_statement(upload: &UploadRecord) -> (&'static str, Vec<Value>) {
    let sql = "UPDATE uploads SET filename = $2, content_type = $3, size = $4, sha256 = $5, status = $6, \
               error = $7 WHERE id = $1 AND status = 'receiving'";
    let args = args![
        upload.id,
        upload.filename.as_deref(),
        &upload.content_type,
        count_to_db(upload.size),
        &upload.sha256,
        upload.status.as_str(),
        upload.error.as_deref(),
    ];
    (sql, args)
}

/// Reads a variant from a row selected with [`variant_columns!`].
fn variant_from_row<R: SqlRow>(row: &R) -> Result<VariantRecord, Unavailable> {
    let f = Fields::new(row, "upload variant");
    let dimension =
        |column| -> Result<Option<u32>, Unavailable> { Ok(f.opt_int(column)?.and_then(|v| u32::try_from(v).ok())) };
    Ok(VariantRecord {
        name: f.text("name")?,
        state: f.parse("state", VariantState::parse)?,
        content_type: f.opt_text("content_type")?,
        width: dimension("width")?,
        height: dimension("height")?,
        size: f.opt_count("size")?,
        sha256: f.opt_text("sha256")?,
        error: f.opt_text("error")?,
    })
}

/// Reads an upload from a row selected with [`upload_columns!`].
fn upload_from_row<R: SqlRow>(row: &R) -> Result<UploadRecord, Unavailable> {
    let f = Fields::new(row, "upload");
    Ok(UploadRecord {
        id: f.uuid("id")?,
        owner: f.text("owner")?,
        object_key: f.text("object_key")?,
        filename: f.opt_text("filename")?,
        content_type: f.text("content_type")?,
        size: f.count("size")?,
        sha256: f.text("sha256")?,
        status: f.parse("status", UploadStatus::parse)?,
        error: f.opt_text("error")?,
        created_at: f.time("created_at")?,
        received_by: f.opt_uuid("received_by")?,
    })
}
