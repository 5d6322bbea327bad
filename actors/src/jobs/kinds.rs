//! The generic job kinds the runner knows: their names, queues, attempts, backoff, timeouts, periods, and what
//! each does. Start-up builds the table ([`standard`], the domains' own kinds such as
//! `uploads::jobs::kinds`, plus [`drills`] in chaos builds) from the settings.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::runner::{Backoff, JobFailure, JobHandler, KindSpec};
use crate::ports::accounts::{AccountStore, RevocationNotice, RevocationScope};
use crate::ports::jobs::{Job, JobStore, NewJob};
use crate::ports::sessions::{EndedBy, SessionStore};

/// The queue of housekeeping kinds (sweeps and pruning), so they never wait behind user work.
pub const MAINTENANCE_QUEUE: &str = "maintenance";

/// Prunes finished jobs (periodic).
pub const PRUNE_JOBS: &str = "jobs.prune";
/// Prunes ended sessions and per-user revocation epochs that can no longer reject anything (periodic, every
/// `jobs.prune_every_secs`).
pub const PRUNE_SESSIONS: &str = "sessions.prune";

/// Completes the evidence of a revoke-all: counts the sessions it affected into its notice's
/// `active_sessions` (enqueued in the same transaction as the revocation).
pub const REVOKE_ALL: &str = "sessions.revoke_all";
/// The same for one user's sessions.
pub const REVOKE_USER: &str = "sessions.revoke_user";
/// The revocation evidence kinds' attempts and backoff: a second, doubling to 30 s (the rotation waits for the
/// count).
const EVIDENCE_ATTEMPTS: u32 = 5;
const EVIDENCE_BACKOFF: Backoff = Backoff { base: Duration::from_secs(1), max: Duration::from_secs(30) };

/// The runner job completing `notice`'s evidence: the notice's id (so `GET /admin/jobs/{id}` follows it), its
/// requester as owner, on the default queue.
#[must_use]
pub fn revocation_evidence_job(notice: &RevocationNotice) -> NewJob {
    let kind = if notice.user_id.is_some() { REVOKE_USER } else { REVOKE_ALL };
    let args = serde_json::json!({
        "notice_id": notice.id,
        "user_id": notice.user_id,
        "not_before_ms": notice.not_before_ms,
    });
    NewJob {
        id: notice.id,
        owner: Some(notice.requested_by.clone()),
        max_attempts: EVIDENCE_ATTEMPTS,
        ..NewJob::new(kind, crate::ports::jobs::DEFAULT_QUEUE, args)
    }
}

/// What the standard kinds need.
#[derive(Clone)]
pub struct KindDeps {
    /// The job store (pruning).
    pub jobs: Arc<dyn JobStore>,
    /// Finished jobs older than this are pruned.
    pub keep_finished: Duration,
    /// How often finished jobs are pruned.
    pub prune_every: Duration,
    /// Sessions (pruning).
    pub sessions: Arc<dyn SessionStore>,
    /// Users and their epochs (pruning).
    pub accounts: Arc<dyn AccountStore>,
    /// The longest a session's tokens can be accepted after it was created (absolute lifetime plus one
    /// access token's lifetime): an epoch older than this rejects nothing more.
    pub session_lifetime: Duration,
    /// How long an individual revocation stays known past the session's end
    /// ([`TokenSettings::revocation_horizon`](crate::sessions::TokenSettings::revocation_horizon)).
    pub revocation_horizon: Duration,
}

/// Housekeeping backoff: a few seconds, then up to a minute.
pub const HOUSEKEEPING_BACKOFF: Backoff = Backoff { base: Duration::from_secs(5), max: Duration::from_secs(60) };

/// The kinds every instance runs.
#[must_use]
pub fn standard(deps: &KindDeps) -> Vec<KindSpec> {
    let mut kinds = vec![
        KindSpec {
            kind: PRUNE_JOBS,
            queue: MAINTENANCE_QUEUE,
            max_attempts: 3,
            backoff: HOUSEKEEPING_BACKOFF,
            timeout: Duration::from_secs(120),
            every: Some(deps.prune_every),
            handler: Arc::new(PruneJobs { jobs: Arc::clone(&deps.jobs), keep: deps.keep_finished }),
        },
        KindSpec {
            kind: PRUNE_SESSIONS,
            queue: MAINTENANCE_QUEUE,
            max_attempts: 3,
            backoff: HOUSEKEEPING_BACKOFF,
            timeout: Duration::from_secs(120),
            every: Some(deps.prune_every),
            handler: Arc::new(PruneSessions {
                sessions: Arc::clone(&deps.sessions),
                accounts: Arc::clone(&deps.accounts),
                lifetime: deps.session_lifetime,
                revocation_horizon: deps.revocation_horizon,
            }),
        },
    ];
    for kind in [REVOKE_ALL, REVOKE_USER] {
        kinds.push(KindSpec {
            kind,
            queue: crate::ports::jobs::DEFAULT_QUEUE,
            max_attempts: EVIDENCE_ATTEMPTS,
            backoff: EVIDENCE_BACKOFF,
            timeout: Duration::from_secs(60),
            every: None,
            handler: Arc::new(RevocationEvidence {
                sessions: Arc::clone(&deps.sessions),
                accounts: Arc::clone(&deps.accounts),
            }),
        });
    }
    kinds
}

/// The kinds as the runner's table.
#[must_use]
pub fn table(kinds: Vec<KindSpec>) -> HashMap<&'static str, KindSpec> {
    kinds.into_iter().map(|k| (k.kind, k)).collect()
}

/// `jobs.prune`: deletes finished jobs older than the retention.
struct PruneJobs {
    jobs: Arc<dyn JobStore>,
    keep: Duration,
}

#[async_trait]
impl JobHandler for PruneJobs {
    async fn run(&self, _job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
        let before = OffsetDateTime::now_utc() - self.keep;
        let pruned = self.jobs.prune_finished(before).await.map_err(|e| JobFailure::Retry(e.to_string()))?;
        Ok(Some(serde_json::json!({ "pruned": pruned })))
    }
}

/// `sessions.prune`: deletes ended sessions (and their revocation entries) and the per-user epochs older
/// than a session's whole life.
struct PruneSessions {
    sessions: Arc<dyn SessionStore>,
    accounts: Arc<dyn AccountStore>,
    lifetime: Duration,
    revocation_horizon: Duration,
}

#[async_trait]
impl JobHandler for PruneSessions {
    async fn run(&self, _job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
        let now = OffsetDateTime::now_utc();
        let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let horizon_ms = i64::try_from(self.revocation_horizon.as_millis()).unwrap_or(i64::MAX);
        let sessions =
            self.sessions.prune_expired(now_ms, horizon_ms).await.map_err(|e| JobFailure::Retry(e.to_string()))?;
        let lifetime_ms = i64::try_from(self.lifetime.as_millis()).unwrap_or(i64::MAX);
        let epochs = self
            .accounts
            .prune_epochs(now_ms.saturating_sub(lifetime_ms))
            .await
            .map_err(|e| JobFailure::Retry(e.to_string()))?;
        Ok(Some(serde_json::json!({ "sessions": sessions, "epochs": epochs })))
    }
}

/// `sessions.revoke_all` / `sessions.revoke_user`: counts the sessions the revocation ended (the user's, or
/// all) into its notice — see [`EndedBy::ended`]: a session an earlier revocation (global or the user's),
/// a logout or its expiry had already ended is not counted again, nor a login since.
struct RevocationEvidence {
    sessions: Arc<dyn SessionStore>,
    accounts: Arc<dyn AccountStore>,
}

/// How many notices are read for the epochs in force before a revocation (the newest first; the notice of
/// the revocation itself is among them).
const EARLIER_NOTICES: u32 = 100;

impl RevocationEvidence {
    /// The revocation at `not_before_ms` (of `user`, or of all) as the sessions it ended: the epochs in force
    /// before it are the newest older ones among the recorded notices (every global epoch and every operator's
    /// per-user revocation has one) and the per-user epochs stored now that are older than it (a user's
    /// `logout all` records no notice; one raised again since has hidden its earlier value).
    async fn ended_by(&self, not_before_ms: i64, user: Option<uuid::Uuid>) -> Result<EndedBy, JobFailure> {
        let retry =
            |e: crate::ports::accounts::AccountStoreError| JobFailure::Retry(format!("epochs unavailable: {e}"));
        let notices = self.accounts.revocations(EARLIER_NOTICES).await.map_err(retry)?;
        let epochs = self.accounts.epochs().await.map_err(retry)?;
        let older = |n: &&RevocationNotice| n.not_before_ms < not_before_ms;
        let mut earlier_global_ms = notices
            .iter()
            .filter(older)
            .filter(|n| n.scope == RevocationScope::All)
            .map(|n| n.not_before_ms)
            .max()
            .unwrap_or(0);
        if epochs.global_ms < not_before_ms {
            earlier_global_ms = earlier_global_ms.max(epochs.global_ms);
        }
        let mut earlier_user_ms: HashMap<uuid::Uuid, i64> =
            epochs.users.into_iter().filter(|(_, epoch)| *epoch < not_before_ms).collect();
        for notice in notices.iter().filter(older).filter(|n| n.scope == RevocationScope::User) {
            if let Some(id) = notice.user_id {
                let epoch = earlier_user_ms.entry(id).or_insert(0);
                *epoch = (*epoch).max(notice.not_before_ms);
            }
        }
        earlier_user_ms.retain(|id, epoch| *epoch > earlier_global_ms && user.is_none_or(|u| u == *id));
        Ok(EndedBy { not_before_ms, earlier_global_ms, earlier_user_ms })
    }
}

#[async_trait]
impl JobHandler for RevocationEvidence {
    async fn run(&self, job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
        let notice = job.args["notice_id"]
            .as_str()
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
            .ok_or_else(|| JobFailure::Discard("the job names no revocation notice".to_owned()))?;
        let user = job.args["user_id"].as_str().and_then(|id| uuid::Uuid::parse_str(id).ok());
        let now_ms = i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let before_ms = job.args["not_before_ms"].as_i64().unwrap_or(now_ms);
        let ended = self.ended_by(before_ms, user).await?;
        let count = match user {
            // A user's sessions revoked or expired since the revocation are not listed: a per-user count is
            // a lower bound by what happened in the moment before the count.
            Some(user) => self
                .sessions
                .list_for_user(user, now_ms)
                .await
                .map(|v| v.iter().filter(|s| ended.ended(s)).count() as u64),
            None => self.sessions.count_ended_by(&ended).await,
        }
        .map_err(|e| JobFailure::Retry(format!("count unavailable: {e}")))?;
        self.accounts.set_revocation_count(notice, count).await.map_err(|e| JobFailure::Retry(e.to_string()))?;
        let not_before = job.args["not_before_ms"]
            .as_i64()
            .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok());
        Ok(Some(serde_json::json!({ "not_before": not_before, "active_sessions": count })))
    }
}

/// Drill kinds for tests and benchmarks; compiled only with the `chaos` feature (never in a release binary
/// unless asked for), so nothing outside a drill can enqueue work that sleeps or fails on purpose.
#[cfg(any(test, feature = "chaos"))]
pub mod drill {
    use super::{Arc, Backoff, Duration, Job, JobFailure, JobHandler, KindSpec, async_trait};

    /// Does nothing (benchmarks).
    pub const NOOP: &str = "drill.noop";
    /// Sleeps `args.ms`, then appends the job id to the file `args.marker` (the effect a test counts).
    pub const SLEEP: &str = "drill.sleep";
    /// Fails while `attempt <= args.fail_times`, then succeeds (retries, backoff, discard).
    pub const FAIL: &str = "drill.fail";

    /// The drill kinds: 3 attempts, 200 ms doubling backoff capped at 1 s, 30 s timeout.
    #[must_use]
    pub fn kinds() -> Vec<KindSpec> {
        let spec = |kind, handler: Arc<dyn JobHandler>| KindSpec {
            kind,
            queue: crate::ports::jobs::DEFAULT_QUEUE,
            max_attempts: 3,
            backoff: Backoff { base: Duration::from_millis(200), max: Duration::from_secs(1) },
            timeout: Duration::from_secs(30),
            every: None,
            handler,
        };
        vec![spec(NOOP, Arc::new(Noop)), spec(SLEEP, Arc::new(Sleep)), spec(FAIL, Arc::new(Fail))]
    }

    struct Noop;

    #[async_trait]
    impl JobHandler for Noop {
        async fn run(&self, _job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
            Ok(None)
        }
    }

    struct Sleep;

    #[async_trait]
    impl JobHandler for Sleep {
        async fn run(&self, job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
            let ms = job.args["ms"].as_u64().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            if let Some(marker) = job.args["marker"].as_str() {
                use tokio::io::AsyncWriteExt;
                let mut file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(marker)
                    .await
                    .map_err(|e| JobFailure::Retry(format!("marker: {}", e.kind())))?;
                file.write_all(format!("{}\n", job.id).as_bytes())
                    .await
                    .map_err(|e| JobFailure::Retry(format!("marker: {}", e.kind())))?;
            }
            Ok(Some(serde_json::json!({ "slept_ms": ms })))
        }
    }

    struct Fail;

    #[async_trait]
    impl JobHandler for Fail {
        async fn run(&self, job: &Job) -> Result<Option<serde_json::Value>, JobFailure> {
            let fail_times = job.args["fail_times"].as_u64().unwrap_or(u64::MAX);
            if u64::from(job.attempt) <= fail_times {
                return Err(JobFailure::Retry(format!("drill failure on attempt {}", job.attempt)));
            }
            Ok(None)
        }
    }
}

/// The drill kinds in a chaos build; none otherwise.
#[must_use]
pub fn drills() -> Vec<KindSpec> {
    #[cfg(any(test, feature = "chaos"))]
    {
        drill::kinds()
    }
    #[cfg(not(any(test, feature = "chaos")))]
    {
        Vec::new()
    }
}
