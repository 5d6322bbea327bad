//! `SessionStore` on either database, written once; [`SessionsDialect`] holds what differs (how a list of
//! ids is matched). Instants are integer milliseconds, as the port carries them.
//!
//! A session counts as expired once either its refresh token or its absolute lifetime has run out (nothing
//! can use it any more); rows stay until their absolute expiry, like the Redis keys, and `prune_expired`
//! (the fleet-wide periodic `sessions.prune` job) deletes those past it — a revoked one only once the
//! revocation horizon has passed too, since its row is the revocation entry the views reload.

use async_trait::async_trait;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::sessions::{EndedBy, RefreshMacKey, Rotation, SessionRecord, SessionStore, StoreMarker};
use uuid::Uuid;

use super::exec::{SqlDb, all, backend, execute, one, optional};
use super::rows::{Fields, SqlRow};
use super::values::{Value, args};

/// The columns [`session_from_row`] reads (static SQL, see `jobs.rs`).
macro_rules! session_columns {
    () => {
        "id, user_id, created_at_ms, last_used_at_ms, refresh_expires_at_ms, absolute_expires_at_ms, \
         user_agent, address, refresh_hash, generation, last_rotation, revoked_at_ms, refresh_mac_key"
    };
}

/// The constant continuity marker of a database-backed session store.
pub const DURABLE_MARKER: &str = "durable";

/// What the session store's SQL says differently per backend.
pub trait SessionsDialect: SqlDb {
    /// Sets `revoked_at_ms = $1` on the sessions whose id is in `$2` (a [`Value::Uuids`]) and that are not
    /// revoked yet (a session keeps its first revocation time).
    const REVOKE: &'static str;
}

/// `SessionStore` on the database `D`; failures are also counted in `gantry_session_store_errors_total`,
/// as the Redis session store counts its own.
#[derive(Debug, Clone)]
pub struct SqlSessions<D> {
    /// The database.
    db: D,
}

impl<D: SqlDb> SqlSessions<D> {
    /// The session store on `db`.
    pub fn new(db: D) -> Self {
        Self { db }
    }
}

/// Counts a failure of `op` in `gantry_session_store_errors_total`.
fn counted<D: SqlDb>(op: &'static str) -> impl FnOnce(Unavailable) -> Unavailable {
    move |err| {
        metrics::counter!("gantry_session_store_errors_total", "backend" => backend::<D>(), "op" => op).increment(1);
        err
    }
}

/// The arguments `$1`…`$13` of a session row, in [`session_columns!`] order.
fn session_args(session: &SessionRecord) -> Vec<Value> {
    let mut args = args![
        session.id,
        session.user_id,
        session.created_at_ms,
        session.last_used_at_ms,
        session.refresh_expires_at_ms,
        session.absolute_expires_at_ms,
        session.user_agent.as_deref(),
        session.address.as_deref(),
        &session.refresh_hash,
        i64::from(session.generation),
    ];
    args.push(Value::Json(
        session
            .last_rotation
            .as_ref()
            .map(|r| serde_json::to_string(r).expect("a Rotation (strings, integers, a UUID) always serialises")),
    ));
    args.push(Value::from(session.revoked_at_ms));
    let mac_key = session.refresh_mac_key.as_ref().map(RefreshMacKey::to_hex);
    args.push(Value::from(mac_key.as_deref()));
    args
}

#[async_trait]
impl<D: SessionsDialect> SessionStore for SqlSessions<D> {
    async fn insert(&self, session: &SessionRecord) -> Result<(), Unavailable> {
        let sql = concat!(
            "INSERT INTO sessions (",
            session_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        execute(&self.db, "insert", sql, session_args(session)).await.map_err(counted::<D>("insert"))?;
        Ok(())
    }

    async fn get(&self, id: Uuid) -> Result<Option<SessionRecord>, Unavailable> {
        let sql = concat!("SELECT ", session_columns!(), " FROM sessions WHERE id = $1");
        let row = optional(&self.db, "get", sql, args![id]).await.map_err(counted::<D>("get"))?;
        row.as_ref().map(session_from_row).transpose().map_err(counted::<D>("read"))
    }

    async fn replace_if(&self, session: &SessionRecord, expected_generation: u32) -> Result<bool, Unavailable> {
        // The WHERE clause is the compare, the UPDATE the swap, in one statement. A revoked row is only
        // replaced by a revoked record: a rotation that read the session before a revocation must not undo it.
        let sql = "UPDATE sessions SET user_id = $2, created_at_ms = $3, last_used_at_ms = $4, \
                   refresh_expires_at_ms = $5, absolute_expires_at_ms = $6, user_agent = $7, address = $8, \
                   refresh_hash = $9, generation = $10, last_rotation = $11, revoked_at_ms = $12, \
                   refresh_mac_key = $13 WHERE id = $1 AND generation = $14 AND (revoked_at_ms IS NULL OR $12 IS NOT NULL)";
        let mut args = session_args(session);
        args.push(Value::from(i64::from(expected_generation)));
        let replaced = execute(&self.db, "replace_if", sql, args).await.map_err(counted::<D>("replace_if"))?;
        Ok(replaced == 1)
    }

    async fn list_for_user(&self, user_id: Uuid, now_ms: i64) -> Result<Vec<SessionRecord>, Unavailable> {
        let sql = concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE user_id = $1 AND revoked_at_ms IS NULL \
              AND refresh_expires_at_ms > $2 AND absolute_expires_at_ms > $2 ORDER BY created_at_ms, id"
        );
        let rows =
            all(&self.db, "list_for_user", sql, args![user_id, now_ms]).await.map_err(counted::<D>("list_for_user"))?;
        rows.iter().map(session_from_row).collect::<Result<_, _>>().map_err(counted::<D>("read"))
    }

    async fn revoke(&self, ids: &[Uuid], at_ms: i64) -> Result<(), Unavailable> {
        if ids.is_empty() {
            return Ok(());
        }
        let args = vec![Value::from(at_ms), Value::Uuids(ids.to_vec())];
        execute(&self.db, "revoke", D::REVOKE, args).await.map_err(counted::<D>("revoke"))?;
        Ok(())
    }

    async fn revoked_since(&self, since_ms: i64) -> Result<Vec<Uuid>, Unavailable> {
        let sql = "SELECT id FROM sessions WHERE revoked_at_ms >= $1 ORDER BY revoked_at_ms, id";
        let rows = all(&self.db, "revoked_since", sql, args![since_ms]).await.map_err(counted::<D>("revoked_since"))?;
        rows.iter()
            .map(|row| Fields::new(row, "session").uuid("id"))
            .collect::<Result<_, _>>()
            .map_err(counted::<D>("read"))
    }

    async fn count_active(&self, now_ms: i64) -> Result<u64, Unavailable> {
        let sql = "SELECT count(*) AS n FROM sessions WHERE revoked_at_ms IS NULL \
                   AND refresh_expires_at_ms > $1 AND absolute_expires_at_ms > $1";
        let row = one(&self.db, "count_active", sql, args![now_ms]).await.map_err(counted::<D>("count_active"))?;
        Fields::new(&row, "session count").count("n").map_err(counted::<D>("read"))
    }

    async fn count_ended_by(&self, ended: &EndedBy) -> Result<u64, Unavailable> {
        // Sessions created between the earlier global epoch and this one, not revoked before this one and live
        // at it; then those among them that an earlier per-user epoch had ended are taken off (only sessions
        // created before the newest such epoch are read).
        macro_rules! window {
            () => {
                " FROM sessions WHERE created_at_ms >= $1 AND created_at_ms < $2 \
                  AND (revoked_at_ms IS NULL OR revoked_at_ms >= $2) \
                  AND refresh_expires_at_ms > $2 AND absolute_expires_at_ms > $2"
            };
        }
        let (from, to) = (ended.earlier_global_ms, ended.not_before_ms);
        let count = concat!("SELECT count(*) AS n", window!());
        let row =
            one(&self.db, "count_ended_by", count, args![from, to]).await.map_err(counted::<D>("count_ended_by"))?;
        let total = Fields::new(&row, "session count").count("n").map_err(counted::<D>("read"))?;
        let Some(newest_user_epoch) = ended.earlier_user_ms.values().copied().max().filter(|&e| e > from) else {
            return Ok(total);
        };
        let earlier = concat!("SELECT user_id, created_at_ms", window!(), " AND created_at_ms < $3");
        let rows = all(&self.db, "count_ended_by", earlier, args![from, to, newest_user_epoch])
            .await
            .map_err(counted::<D>("count_ended_by"))?;
        let mut already = 0u64;
        for row in &rows {
            let f = Fields::new(row, "session");
            let user = f.uuid("user_id").map_err(counted::<D>("read"))?;
            let created = f.int("created_at_ms").map_err(counted::<D>("read"))?;
            if created < ended.earlier_epoch_for(user) {
                already += 1;
            }
        }
        Ok(total.saturating_sub(already))
    }

    async fn prune_expired(&self, now_ms: i64, revocation_horizon_ms: i64) -> Result<u64, Unavailable> {
        // Rows past their absolute expiry are useless (Redis drops them by itself), except a revoked session's:
        // it is the revocation entry `revoked_since` reads, and an access token the session issued just before
        // its end is accepted for up to the horizon after it — deleting the row at the expiry would let the
        // next view reload forget the revocation and accept that token again. The index on
        // absolute_expires_at_ms keeps this O(log n + pruned).
        let prune = "DELETE FROM sessions WHERE absolute_expires_at_ms <= $1 \
                     AND (revoked_at_ms IS NULL OR absolute_expires_at_ms <= $2)";
        let revocations_before = now_ms.saturating_sub(revocation_horizon_ms.max(0));
        execute(&self.db, "prune_expired", prune, args![now_ms, revocations_before])
            .await
            .map_err(counted::<D>("prune_expired"))
    }

    async fn ensure_marker(&self) -> Result<StoreMarker, Unavailable> {
        // A database does not lose its rows on its own, and if it did the accounts (and their epochs) would be
        // gone with them: the marker is constant.
        Ok(StoreMarker { id: DURABLE_MARKER.to_owned(), created_at_ms: 0, created_now: false })
    }

    async fn health(&self) -> Result<(), Unavailable> {
        execute(&self.db, "health", "SELECT 1", Vec::new()).await.map_err(counted::<D>("health"))?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        backend::<D>()
    }
}

/// Reads a session from a row selected with [`session_columns!`].
fn session_from_row<R: SqlRow>(row: &R) -> Result<SessionRecord, Unavailable> {
    let f = Fields::new(row, "session");
    let corrupt = |column| super::errors::corrupt(R::BACKEND, "session", column);
    let last_rotation: Option<Rotation> = f
        .opt_json("last_rotation")?
        .map(|json| serde_json::from_value(json).map_err(|_| corrupt("last_rotation")))
        .transpose()?;
    Ok(SessionRecord {
        id: f.uuid("id")?,
        user_id: f.uuid("user_id")?,
        created_at_ms: f.int("created_at_ms")?,
        last_used_at_ms: f.int("last_used_at_ms")?,
        refresh_expires_at_ms: f.int("refresh_expires_at_ms")?,
        absolute_expires_at_ms: f.int("absolute_expires_at_ms")?,
        user_agent: f.opt_text("user_agent")?,
        address: f.opt_text("address")?,
        refresh_hash: f.text("refresh_hash")?,
        generation: u32::try_from(f.int("generation")?).map_err(|_| corrupt("generation"))?,
        last_rotation,
        revoked_at_ms: f.opt_int("revoked_at_ms")?,
        refresh_mac_key: f
            .opt_text("refresh_mac_key")?
            .map(|hex| RefreshMacKey::parse_hex(&hex).ok_or_else(|| corrupt("refresh_mac_key")))
            .transpose()?,
    })
}
