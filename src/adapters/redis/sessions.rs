//! `SessionStore` on Redis (production, shared by every instance), on the pool of a `RedisCache`.
//!
//! Session layout, under a prefix `<p>` (default [`DEFAULT_SESSION_PREFIX`]):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `<p>session:<id>` | string | the `SessionRecord` as JSON; `PEXPIREAT` its absolute expiry |
//! | `<p>user_sessions:<user_id>` | set | the user's session ids; expires with the longest-lived of them |
//! | `<p>sessions:active` | sorted set | unrevoked session ids, scored by when they end (refresh or absolute expiry, whichever is first) |
//! | `<p>sessions:revoked` | sorted set | ids revoked in the last [`REVOKED_RETENTION_MS`], scored by revocation time |
//! | `<p>sessions:marker` | string | the continuity marker `<uuid>:<ms>`, no expiry: if it is gone, the store lost its data |
//!
//! Every write that touches more than one key is a Lua script, so it is atomic across instances. The scripts
//! go out with `EVAL` (the server caches them by hash): the `script` feature of `redis`, which would provide
//! `EVALSHA` with a fallback, is not enabled by deadpool-redis.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use deadpool_redis::Pool;
use deadpool_redis::redis;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::sessions::{EndedBy, SessionRecord, SessionStore, StoreMarker};
use uuid::Uuid;

use super::cache::RedisCache;
use super::pool::run;

/// The key prefix of [`RedisSessionStore::new`].
pub const DEFAULT_SESSION_PREFIX: &str = "gantry:";

/// How long a revoked id stays in `<p>sessions:revoked` for [`SessionStore::revoked_since`]. Instances
/// reload their revocation views far more often than this; an older revocation is still on the record itself.
pub const REVOKED_RETENTION_MS: i64 = 60 * 60 * 1_000;

/// Returns the continuity marker, writing `ARGV[1]:<now ms>` (the server's clock) when there is none.
///
/// KEYS: marker. ARGV: a fresh id. Returns `{value, 1}` when written now, `{value, 0}` otherwise.
const MARKER_SCRIPT: &str = r"
local value = redis.call('GET', KEYS[1])
if value then
  return {value, 0}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
value = ARGV[1] .. ':' .. string.format('%d', now)
redis.call('SET', KEYS[1], value)
return {value, 1}
";

/// Sessions marked per script run in `revoke`: a script blocks the server while it runs, so a mass
/// revocation goes out in slices.
const REVOKE_BATCH: usize = 256;

/// Session records read per `MGET` when a revocation's evidence is counted.
const COUNT_BATCH: usize = 500;

/// Stores a new session (`SET NX`, so an existing id is refused), indexes it under its user (extending the
/// index's expiry to cover it) and in the active or revoked set.
///
/// KEYS: session, user index, active, revoked. ARGV: JSON, absolute expiry (ms), id, end (ms), revoked at
/// (ms, or empty). Returns 1, or 0 when the id exists.
const INSERT_SCRIPT: &str = r"
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PXAT', ARGV[2]) then
  return 0
end
redis.call('SADD', KEYS[2], ARGV[3])
local ttl = redis.call('PTTL', KEYS[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if ttl < 0 or now + ttl < tonumber(ARGV[2]) then
  redis.call('PEXPIREAT', KEYS[2], ARGV[2])
end
if ARGV[5] == '' then
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
else
  redis.call('ZADD', KEYS[4], ARGV[5], ARGV[3])
end
return 1
";

/// The compare-and-swap of `replace_if`: replaces the session only if its stored `generation` is the
/// expected one and the replacement does not clear a revocation (a rotation that read the session before it
/// was revoked must not undo that), then moves it between the active and revoked sets as needed.
///
/// KEYS: session, active, revoked. ARGV: JSON, expected generation, absolute expiry (ms), id, end (ms),
/// revoked at (ms, or empty). Returns 1 when replaced, else 0 (also when the session is gone).
const REPLACE_SCRIPT: &str = r"
local stored = redis.call('GET', KEYS[1])
if not stored then
  return 0
end
local record = cjson.decode(stored)
if record.generation ~= tonumber(ARGV[2]) then
  return 0
end
local was_revoked = record.revoked_at_ms ~= nil and record.revoked_at_ms ~= cjson.null
if was_revoked and ARGV[6] == '' then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[3])
if ARGV[6] == '' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
else
  redis.call('ZREM', KEYS[2], ARGV[4])
  if not was_revoked then
    redis.call('ZADD', KEYS[3], ARGV[6], ARGV[4])
  end
end
return 1
";

/// Marks sessions revoked (keeping the first revocation time of those already revoked), moves them from the
/// active to the revoked set, and prunes revoked entries older than the retention.
///
/// The record is edited as text, not re-encoded: Redis' cjson writes numbers with 14 significant digits,
/// which would corrupt larger integers. serde_json writes the field as `"revoked_at_ms":null` exactly, and
/// that text cannot occur inside a JSON string (its quotes would be escaped).
///
/// KEYS: active, revoked, then one session key per id. ARGV: revoked at (ms), prune before (ms), then the
/// ids in the order of their keys. Returns how many were marked.
const REVOKE_SCRIPT: &str = r#"
local marked = 0
for i = 3, #KEYS do
  local stored = redis.call('GET', KEYS[i])
  if stored then
    local record = cjson.decode(stored)
    if record.revoked_at_ms == cjson.null then
      local from, to = string.find(stored, '"revoked_at_ms":null', 1, true)
      if not from then
        return redis.error_reply('session record has an unexpected layout')
      end
      local updated = string.sub(stored, 1, from - 1) .. '"revoked_at_ms":' .. ARGV[1] .. string.sub(stored, to + 1)
      redis.call('SET', KEYS[i], updated, 'KEEPTTL')
      redis.call('ZREM', KEYS[1], ARGV[i])
      redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
      marked = marked + 1
    end
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2])
return marked
"#;

/// Drops the active entries that ended at or before now (O(log n + dropped)), then counts the rest.
///
/// KEYS: active. ARGV: now (ms).
const COUNT_ACTIVE_SCRIPT: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZCARD', KEYS[1])
";

/// `SessionStore` on Redis, sharing the pool of a [`RedisCache`]. See the file header for the key layout.
#[derive(Clone)]
pub struct RedisSessionStore {
    /// The cache's pool (same server, same limits and timeouts).
    pool: Pool,
    /// Put in front of every key, so stores (or test runs) sharing a server do not see each other.
    prefix: Arc<str>,
}

impl fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The pool's client holds the URL: only its counters are shown.
        let status = self.pool.status();
        f.debug_struct("RedisSessionStore")
            .field("prefix", &self.prefix)
            .field("size", &status.size)
            .field("available", &status.available)
            .finish()
    }
}

impl RedisSessionStore {
    /// A session store on `cache`'s server and pool, with keys under [`DEFAULT_SESSION_PREFIX`].
    #[must_use]
    pub fn new(cache: &RedisCache) -> Self {
        Self::with_prefix(cache, DEFAULT_SESSION_PREFIX)
    }

    /// A session store on `cache`'s server and pool, with keys under `prefix` (tests give each run its own).
    #[must_use]
    pub fn with_prefix(cache: &RedisCache, prefix: &str) -> Self {
        Self { pool: cache.pool.clone(), prefix: Arc::from(prefix) }
    }

    /// `<p>session:<id>`.
    fn session_key(&self, id: Uuid) -> String {
        format!("{}session:{}", self.prefix, id.hyphenated())
    }

    /// `<p>user_sessions:<user_id>`.
    fn user_key(&self, user_id: Uuid) -> String {
        format!("{}user_sessions:{}", self.prefix, user_id.hyphenated())
    }

    /// `<p>sessions:active`.
    fn active_key(&self) -> String {
        format!("{}sessions:active", self.prefix)
    }

    /// `<p>sessions:revoked`.
    fn revoked_key(&self) -> String {
        format!("{}sessions:revoked", self.prefix)
    }

    /// `<p>sessions:marker`.
    fn marker_key(&self) -> String {
        format!("{}sessions:marker", self.prefix)
    }

    /// Runs `cmd` on a pooled connection, mapping and counting failures under `op`.
    async fn query<T: redis::FromRedisValue>(&self, op: &'static str, cmd: &redis::Cmd) -> Result<T, Unavailable> {
        run(&self.pool, "session store", op, cmd).await.map_err(|e| count_session_error(op, e))
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn insert(&self, session: &SessionRecord) -> Result<(), Unavailable> {
        let json = encode_session("insert", session)?;
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(INSERT_SCRIPT)
            .arg(4)
            .arg(self.session_key(session.id))
            .arg(self.user_key(session.user_id))
            .arg(self.active_key())
            .arg(self.revoked_key())
            .arg(json)
            .arg(expire_at(session))
            .arg(session.id.hyphenated().to_string())
            .arg(ends_at(session))
            .arg(session.revoked_at_ms.map(|at| at.to_string()).unwrap_or_default());
        let inserted: i64 = self.query("insert", &cmd).await?;
        if inserted == 1 {
            Ok(())
        } else {
            // Ids are v7 UUIDs: a clash is a caller bug, reported like SQLite's primary key violation.
            Err(count_session_error("insert", Unavailable::new("session store refused a duplicate session id")))
        }
    }

    async fn get(&self, id: Uuid) -> Result<Option<SessionRecord>, Unavailable> {
        let json: Option<String> = self.query("get", redis::cmd("GET").arg(self.session_key(id))).await?;
        json.map(|json| decode_session("get", &json)).transpose()
    }

    async fn replace_if(&self, session: &SessionRecord, expected_generation: u32) -> Result<bool, Unavailable> {
        let json = encode_session("replace_if", session)?;
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(REPLACE_SCRIPT)
            .arg(3)
            .arg(self.session_key(session.id))
            .arg(self.active_key())
            .arg(self.revoked_key())
            .arg(json)
            .arg(expected_generation)
            .arg(expire_at(session))
            .arg(session.id.hyphenated().to_string())
            .arg(ends_at(session))
            .arg(session.revoked_at_ms.map(|at| at.to_string()).unwrap_or_default());
        let replaced: i64 = self.query("replace_if", &cmd).await?;
        Ok(replaced == 1)
    }

    async fn list_for_user(&self, user_id: Uuid, now_ms: i64) -> Result<Vec<SessionRecord>, Unavailable> {
        let user_key = self.user_key(user_id);
        let ids: Vec<String> = self.query("list_for_user", redis::cmd("SMEMBERS").arg(&user_key)).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| format!("{}session:{id}", self.prefix)).collect();
        let records: Vec<Option<String>> = self.query("list_for_user", redis::cmd("MGET").arg(&keys)).await?;
        let mut gone = Vec::new();
        let mut sessions = Vec::with_capacity(records.len());
        for (id, json) in ids.into_iter().zip(records) {
            match json {
                None => gone.push(id),
                Some(json) => {
                    let session = decode_session("list_for_user", &json)?;
                    if session.revoked_at_ms.is_none() && ends_at(&session) > now_ms {
                        sessions.push(session);
                    }
                }
            }
        }
        if !gone.is_empty() {
            // Their keys expired: forget them so the index does not grow with every login.
            self.query::<()>("list_for_user", redis::cmd("SREM").arg(&user_key).arg(&gone)).await?;
        }
        sessions.sort_by_key(|s| (s.created_at_ms, s.id));
        Ok(sessions)
    }

    async fn revoke(&self, ids: &[Uuid], at_ms: i64) -> Result<(), Unavailable> {
        let (active, revoked) = (self.active_key(), self.revoked_key());
        let prune_before = at_ms.saturating_sub(REVOKED_RETENTION_MS);
        for batch in ids.chunks(REVOKE_BATCH) {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(REVOKE_SCRIPT).arg(batch.len() + 2).arg(&active).arg(&revoked);
            for id in batch {
                cmd.arg(self.session_key(*id));
            }
            cmd.arg(at_ms).arg(prune_before);
            for id in batch {
                cmd.arg(id.hyphenated().to_string());
            }
            self.query::<i64>("revoke", &cmd).await?;
        }
        Ok(())
    }

    async fn revoked_since(&self, since_ms: i64) -> Result<Vec<Uuid>, Unavailable> {
        let ids: Vec<String> = self
            .query("revoked_since", redis::cmd("ZRANGEBYSCORE").arg(self.revoked_key()).arg(since_ms).arg("+inf"))
            .await?;
        ids.iter()
            .map(|id| {
                Uuid::parse_str(id).map_err(|_| {
                    count_session_error("revoked_since", Unavailable::new("stored revoked session id is unreadable"))
                })
            })
            .collect()
    }

    async fn prune_expired(&self, now_ms: i64, revocation_horizon_ms: i64) -> Result<u64, Unavailable> {
        // Session keys and user indexes expire by their TTLs; only the revoked set has no TTL of its own (the
        // revoke script trims it, but only when something is revoked). Its entries are kept at least the
        // horizon (`sessions.access_ttl_secs` is at most 3000 s, so the hour's retention covers it).
        let before = now_ms.saturating_sub(REVOKED_RETENTION_MS.max(revocation_horizon_ms));
        let mut trim = redis::cmd("ZREMRANGEBYSCORE");
        trim.arg(self.revoked_key()).arg("-inf").arg(format!("({before}"));
        self.query("prune_expired", &trim).await
    }

    async fn count_active(&self, now_ms: i64) -> Result<u64, Unavailable> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(COUNT_ACTIVE_SCRIPT).arg(1).arg(self.active_key()).arg(now_ms);
        self.query("count_active", &cmd).await
    }

    async fn count_ended_by(&self, ended: &EndedBy) -> Result<u64, Unavailable> {
        // Nothing indexes creation times: the candidates are the sessions still live at the revocation
        // (active ones ending after it, and ones revoked at or after it), whose records are read in slices.
        // An active entry that ended between the revocation and the count may already have been dropped by
        // `count_active` (the gauge): such a session is missed.
        let at = ended.not_before_ms;
        let active: Vec<String> = self
            .query(
                "count_ended_by",
                redis::cmd("ZRANGEBYSCORE").arg(self.active_key()).arg(format!("({at}")).arg("+inf"),
            )
            .await?;
        let revoked: Vec<String> = self
            .query("count_ended_by", redis::cmd("ZRANGEBYSCORE").arg(self.revoked_key()).arg(at).arg("+inf"))
            .await?;
        let mut count = 0u64;
        // An id is in one set or the other; a set of both guards against counting one twice all the same.
        let ids: Vec<&String> =
            active.iter().chain(&revoked).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        for slice in ids.chunks(COUNT_BATCH) {
            let keys: Vec<String> = slice.iter().map(|id| format!("{}session:{id}", self.prefix)).collect();
            let records: Vec<Option<String>> = self.query("count_ended_by", redis::cmd("MGET").arg(&keys)).await?;
            for json in records.into_iter().flatten() {
                if ended.ended(&decode_session("count_ended_by", &json)?) {
                    count += 1;
                }
            }
        }
        Ok(count)
    }

    async fn ensure_marker(&self) -> Result<StoreMarker, Unavailable> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(MARKER_SCRIPT).arg(1).arg(self.marker_key()).arg(Uuid::new_v4().simple().to_string());
        let (value, created): (String, i64) = self.query("ensure_marker", &cmd).await?;
        let created_at_ms = value.rsplit_once(':').and_then(|(_, ms)| ms.parse().ok()).ok_or_else(|| {
            count_session_error("ensure_marker", Unavailable::new("session store marker is malformed"))
        })?;
        Ok(StoreMarker { id: value, created_at_ms, created_now: created == 1 })
    }

    async fn health(&self) -> Result<(), Unavailable> {
        let pong: String = self.query("health", &redis::cmd("PING")).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(count_session_error("health", Unavailable::new("session store answered PING unexpectedly")))
        }
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}

/// When a session stops being usable: its refresh token or its absolute lifetime runs out, whichever is
/// first (the score in `<p>sessions:active`).
fn ends_at(session: &SessionRecord) -> i64 {
    session.refresh_expires_at_ms.min(session.absolute_expires_at_ms)
}

/// The record's `PXAT`: its absolute expiry, at least 1 (Redis refuses a non-positive time; a time in the past
/// deletes the key at once, which is what an expired session deserves).
fn expire_at(session: &SessionRecord) -> i64 {
    session.absolute_expires_at_ms.max(1)
}

/// The stored JSON of a session.
fn encode_session(op: &'static str, session: &SessionRecord) -> Result<String, Unavailable> {
    serde_json::to_string(session)
        .map_err(|_| count_session_error(op, Unavailable::new("session could not be encoded")))
}

/// A session from its stored JSON.
fn decode_session(op: &'static str, json: &str) -> Result<SessionRecord, Unavailable> {
    serde_json::from_str(json).map_err(|e| {
        tracing::debug!(backend = "redis", op, error = %e, "stored session is unreadable");
        count_session_error(op, Unavailable::new("stored session is unreadable"))
    })
}

/// Counts a session store failure (`gantry_session_store_errors_total`) and passes it on.
fn count_session_error(op: &'static str, err: Unavailable) -> Unavailable {
    metrics::counter!("gantry_session_store_errors_total", "backend" => "redis", "op" => op).increment(1);
    err
}
