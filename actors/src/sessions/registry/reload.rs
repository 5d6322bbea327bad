//! The registry's side of the view upkeep that needs the stores: rebuilding the view from them (the source
//! of truth), the session store's continuity check that turns a lost store into a mass invalidation, and
//! flushing the refusals the users' notices counted to the revocations' evidence.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{RegistryState, SessionError, metric, millis, now_ms};
use crate::ports::accounts::{RevocationNotice, RevocationScope};

impl RegistryState {
    /// Adds the refusals each notice carried since the last call to its evidence (the revocation notice's
    /// `refused_requests`); what cannot be written is kept for the next call.
    pub(super) async fn flush_notice_counts(&self) {
        for notice in self.upkeep.notices() {
            let n = notice.take_refused();
            if n > 0
                && let Err(err) = self.deps.accounts.add_refused_requests(notice.id, n).await
            {
                notice.give_back(n);
                tracing::warn!(error = %err, notice_id = %notice.id, "could not record refused requests");
            }
        }
    }

    /// Rebuilds the view from the stores (the source of truth).
    pub(super) async fn reload(&mut self) -> Result<(), SessionError> {
        let epochs = self.deps.accounts.epochs().await?;
        // Individually revoked sessions matter while their access tokens can live.
        let horizon = now_ms() - millis(self.deps.settings.revocation_horizon());
        let revoked = self.deps.sessions.revoked_since(horizon).await?;
        // Checked after the read: if the marker is still the one last seen, the revoked ids just read came
        // from the same data; if it is not, the store lost its data (revoked ids included) and everything is
        // invalidated before the view drops a single revoked id.
        let lost_at = self.check_continuity().await?;
        // The notices are a courtesy: an unreadable record keeps the ones known rather than fail the reload.
        let recorded = self.deps.accounts.revocations(100).await.ok();
        self.upkeep.rebuild(epochs, revoked, lost_at, recorded.as_deref());
        Ok(())
    }

    /// Compares the session store's continuity marker with the one last seen. A marker written just now, or
    /// another than the last seen (another instance noticed first), means the store lost its data — the
    /// revoked ids among it — so this is a mass invalidation at the moment the loss was noticed (the marker's
    /// time): the global epoch is raised to it (idempotent across instances), the instance that wrote the
    /// marker records the notice, and it is logged and counted. Returns the raised epoch.
    pub(super) async fn check_continuity(&mut self) -> Result<Option<i64>, SessionError> {
        let marker = self.deps.sessions.ensure_marker().await?;
        let known = self.deps.store_marker.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let lost = marker.created_now || known.as_ref().is_some_and(|k| *k != marker.id);
        if !lost {
            *self.deps.store_marker.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(marker.id);
            return Ok(None);
        }
        let noticed_at = if marker.created_at_ms > 0 { marker.created_at_ms } else { now_ms() };
        let raised = match self.raise_epoch(None, noticed_at, None).await {
            Ok(raised) => raised,
            Err(err) => {
                // Keep a marker that cannot match, so the next reload tries again.
                *self.deps.store_marker.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(String::new());
                return Err(err);
            }
        };
        *self.deps.store_marker.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(marker.id.clone());
        metrics::counter!(metric::STORE_DATA_LOSS).increment(1);
        metrics::counter!(metric::REVOCATIONS, "scope" => "all").increment(1);
        tracing::error!(
            event = "session_store_data_loss",
            backend = self.deps.sessions.backend(),
            not_before_ms = raised,
            wrote_marker = marker.created_now,
            "the session store lost its data; every session from before now is invalidated"
        );
        if marker.created_now {
            let notice = RevocationNotice {
                id: Uuid::now_v7(),
                scope: RevocationScope::All,
                user_id: None,
                reason: format!(
                    "session store data loss noticed (continuity marker missing; new marker {})",
                    marker.id
                ),
                requested_by: "session_store".into(),
                not_before_ms: raised,
                active_sessions: None,
                user_message: None,
                refused_requests: 0,
                created_at: OffsetDateTime::now_utc(),
            };
            if let Err(err) = self.deps.accounts.record_revocation(&notice).await {
                tracing::warn!(error = %err, "could not record the data-loss revocation notice");
            }
        }
        Ok(Some(raised))
    }
}
