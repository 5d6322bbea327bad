//! `MultipartLedger` on either database, written once: the S3 multipart uploads under way, so the periodic
//! `uploads.abort_incomplete` job can abort those a crash left behind.

use async_trait::async_trait;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::objects::{MultipartLedger, PendingMultipart};
use time::OffsetDateTime;

use super::exec::{SqlDb, all, execute};
use super::rows::{Fields, SqlRow};
use super::values::args;

/// `MultipartLedger` on the database `D`.
#[derive(Debug, Clone)]
pub struct SqlMultiparts<D> {
    /// The database.
    db: D,
}

impl<D: SqlDb> SqlMultiparts<D> {
    /// The ledger on `db`.
    pub fn new(db: D) -> Self {
        Self { db }
    }
}

#[async_trait]
impl<D: SqlDb> MultipartLedger for SqlMultiparts<D> {
    async fn record(&self, pending: &PendingMultipart) -> Result<(), Unavailable> {
        let sql = "INSERT INTO object_multiparts (upload_id, object_key, started_at) VALUES ($1, $2, $3) \
                   ON CONFLICT DO NOTHING";
        execute(&self.db, "record_multipart", sql, args![&pending.upload_id, &pending.key, pending.started_at]).await?;
        Ok(())
    }

    async fn forget(&self, upload_id: &str) -> Result<(), Unavailable> {
        let sql = "DELETE FROM object_multiparts WHERE upload_id = $1";
        execute(&self.db, "forget_multipart", sql, args![upload_id]).await?;
        Ok(())
    }

    async fn started_before(&self, before: OffsetDateTime, limit: u32) -> Result<Vec<PendingMultipart>, Unavailable> {
        let sql = "SELECT upload_id, object_key, started_at FROM object_multiparts WHERE started_at < $1 \
                   ORDER BY started_at, upload_id LIMIT $2";
        let rows = all(&self.db, "stale_multiparts", sql, args![before, i64::from(limit)]).await?;
        rows.iter().map(pending_from_row).collect()
    }

    async fn of_key(&self, key: &str) -> Result<Vec<PendingMultipart>, Unavailable> {
        let sql = "SELECT upload_id, object_key, started_at FROM object_multiparts WHERE object_key = $1 \
                   ORDER BY started_at, upload_id";
        let rows = all(&self.db, "multiparts_of_key", sql, args![key]).await?;
        rows.iter().map(pending_from_row).collect()
    }
}

/// Reads a pending upload.
fn pending_from_row<R: SqlRow>(row: &R) -> Result<PendingMultipart, Unavailable> {
    let f = Fields::new(row, "multipart upload");
    Ok(PendingMultipart {
        key: f.text("object_key")?,
        upload_id: f.text("upload_id")?,
        started_at: f.time("started_at")?,
    })
}
