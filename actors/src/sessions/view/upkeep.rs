//! The upkeep of this instance's revocation view: the session registry's working copy, changed by its own
//! writes and by other instances' announcements, rebuilt from what the stores hold, and published (swapped
//! into the [`SharedView`] the request path reads) after every change. No I/O: the registry reads the stores
//! and hands the results over.

use std::collections::HashMap;
use std::sync::Arc;

use time::OffsetDateTime;
use uuid::Uuid;

use super::{RevocationView, SharedView, UserNotice};
use crate::ports::accounts::{Epochs, RevocationNotice};
use crate::ports::bus::{Envelope, Event, NoticeWire};

/// The counters and gauges of the view.
mod metric {
    pub(super) const EPOCH: &str = "gantry_sessions_epoch_seconds";
    pub(super) const LAG: &str = "gantry_bus_propagation_seconds";
}

/// The registry's copy of the view and where it is published.
pub(crate) struct ViewUpkeep {
    /// The working copy; published after every change.
    view: RevocationView,
    /// What the request path reads.
    shared: SharedView,
}

impl ViewUpkeep {
    /// Resumes from the view last published to `shared` (it outlives actor restarts).
    pub(crate) fn resume(shared: SharedView) -> Self {
        Self { view: (**shared.load()).clone(), shared }
    }

    /// The current view.
    pub(crate) fn view(&self) -> &RevocationView {
        &self.view
    }

    fn publish(&self) {
        self.shared.store(Arc::new(self.view.clone()));
        metrics::gauge!(metric::EPOCH).set(self.view.global_ms as f64 / 1000.0);
    }

    /// Raises `user`'s (or the global) epoch to `not_before_ms`; an epoch is never lowered.
    pub(crate) fn apply_epoch(&mut self, user: Option<Uuid>, not_before_ms: i64) {
        match user {
            None => self.view.global_ms = self.view.global_ms.max(not_before_ms),
            Some(u) => {
                let e = self.view.users.entry(u).or_insert(0);
                *e = (*e).max(not_before_ms);
            }
        }
        self.publish();
    }

    /// Attaches the users' notice of the revocation that raised `user`'s (or the global) epoch.
    /// The same notice again (this instance's own announcement coming back over the bus) keeps the one in the
    /// view with the refusals it counted meanwhile; a notice of an epoch already passed changes nothing.
    pub(crate) fn apply_notice(&mut self, user: Option<Uuid>, not_before_ms: i64, wire: &NoticeWire) {
        let (current, known) = match user {
            None => (self.view.global_ms, self.view.global_notice.as_ref()),
            Some(u) => (self.view.users.get(&u).copied().unwrap_or(0), self.view.user_notices.get(&u)),
        };
        if not_before_ms < current || known.is_some_and(|k| k.id == wire.id && k.not_before_ms == not_before_ms) {
            return;
        }
        let time = ms_to_time(wire.at_ms);
        let notice = Arc::new(UserNotice::new(wire.id, wire.message.clone(), time, not_before_ms));
        match user {
            None => self.view.global_notice = Some(notice),
            Some(u) => {
                self.view.user_notices.insert(u, notice);
            }
        }
        self.publish();
    }

    /// Adds individually revoked sessions.
    pub(crate) fn apply_revoked(&mut self, ids: &[Uuid]) {
        self.view.revoked.extend(ids.iter().copied());
        self.publish();
    }

    /// Applies another instance's (or this one's) announcement received at `now_ms`; other events are not
    /// the view's.
    pub(crate) fn apply_announcement(&mut self, envelope: Envelope, now_ms: i64) {
        let lag = (now_ms - envelope.sent_at_ms).max(0);
        match envelope.event {
            Event::SessionsRevoked { user_id, not_before_ms, notice } => {
                self.apply_epoch(user_id, not_before_ms);
                if let Some(wire) = &notice {
                    self.apply_notice(user_id, not_before_ms, wire);
                }
                metrics::histogram!(metric::LAG, "event" => "sessions_revoked").record(lag as f64 / 1000.0);
            }
            Event::SessionRevoked { session_ids } => {
                self.apply_revoked(&session_ids);
                metrics::histogram!(metric::LAG, "event" => "session_revoked").record(lag as f64 / 1000.0);
            }
            Event::InstanceStarted { .. }
            | Event::OptionChanged { .. }
            | Event::TemplatesChanged { .. }
            | Event::SecretsCommand { .. }
            | Event::SecretsAck { .. }
            | Event::JobsEnqueued { .. } => {}
        }
    }

    /// The users' notices in the view (their refusal counts go to the evidence).
    pub(crate) fn notices(&self) -> impl Iterator<Item = &Arc<UserNotice>> {
        self.view.global_notice.iter().chain(self.view.user_notices.values())
    }

    /// Replaces the view with what the stores hold: the `epochs`, the sessions `revoked` recently enough to
    /// matter, and the `recorded` revocations (newest first; `None` when they could not be read: the known
    /// notices are kept, they are a courtesy). The global epoch never goes below the one known here, and a
    /// store data loss noticed at `lost_at` raises it to that moment.
    pub(crate) fn rebuild(
        &mut self,
        epochs: Epochs,
        revoked: Vec<Uuid>,
        lost_at: Option<i64>,
        recorded: Option<&[RevocationNotice]>,
    ) {
        let global_ms = epochs.global_ms.max(self.view.global_ms).max(lost_at.unwrap_or(i64::MIN));
        let (global_notice, user_notices) = match recorded {
            Some(recorded) => self.notices_from(recorded, global_ms, &epochs.users),
            None => (self.view.global_notice.clone(), self.view.user_notices.clone()),
        };
        self.view = RevocationView {
            global_ms,
            users: epochs.users,
            revoked: revoked.into_iter().collect(),
            global_notice,
            user_notices,
        };
        self.publish();
    }

    /// The users' notices of the current epochs, from the recorded revocations; a notice already in the view
    /// is kept as it is (with its uncounted refusals).
    fn notices_from(
        &self,
        recorded: &[RevocationNotice],
        global_ms: i64,
        users: &HashMap<Uuid, i64>,
    ) -> (Option<Arc<UserNotice>>, HashMap<Uuid, Arc<UserNotice>>) {
        let reuse = |n: &RevocationNotice, message: &str| {
            let existing = match n.user_id {
                None => self.view.global_notice.as_ref(),
                Some(u) => self.view.user_notices.get(&u),
            };
            existing
                .filter(|e| e.id == n.id)
                .cloned()
                .unwrap_or_else(|| Arc::new(UserNotice::new(n.id, message.to_owned(), n.created_at, n.not_before_ms)))
        };
        let mut global = None;
        let mut per_user = HashMap::new();
        // Newest first: the first notice found for an epoch is the one that set it.
        for n in recorded {
            let Some(message) = n.user_message.as_deref() else { continue };
            match n.user_id {
                None if global.is_none() && n.not_before_ms == global_ms => global = Some(reuse(n, message)),
                Some(u) if !per_user.contains_key(&u) && users.get(&u) == Some(&n.not_before_ms) => {
                    per_user.insert(u, reuse(n, message));
                }
                _ => {}
            }
        }
        (global, per_user)
    }
}

fn ms_to_time(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests;
