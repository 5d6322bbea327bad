//! The accounts owner: the one way to reach accounts. Registration rules, password hashing on bounded slots,
//! the failed-login limiters (per account, per client address), credential checks, the user-id → email cache,
//! and the user look-ups of `/me` and the admin API. The gateway and `gantry users add` both come here; neither
//! touches the account store.
//!
//! A plain owner object, not a ractor mailbox actor, on purpose: password hashing must run concurrently on up to
//! `max_concurrent_hashes` blocking threads, and a single mailbox would serialise every login behind one hash.
//! Its state (limiters, email cache, hashing slots) is synchronised internally and never locked across `.await`.
//!
//! Hashing goes through [`HashingSlots`]: a request is admitted only if it can expect a slot within
//! `max_hash_wait`, and is refused at once otherwise ([`AccountError::Overloaded`], so callers answer 503
//! before the account is even looked up). A login holds its slot from the account look-up to the end of the
//! verification. Unknown emails verify a dummy hash so they take as long as wrong passwords.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::breached_range::RangeCheck;
use super::email::normalize_email;
use super::hashing::{HashingSlots, Refusal, Slot};
use super::limiter::FailureLimiter;
use super::password;
use crate::ports::accounts::{AccountStore, AccountStoreError, RevocationNotice, User};

/// Most cached emails; the cache is cleared when full (cheap, and rare).
const EMAIL_CACHE_MAX: usize = 100_000;
/// Most keys each login limiter tracks.
const LIMITER_KEYS: usize = 100_000;

/// How the owner limits logins and hashing.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// Login attempts not followed by a success allowed per (account, client address) pair within
    /// `failure_window`: the tight limit.
    pub max_failures_per_account_address: u32,
    /// Failed logins allowed per account (normalised email) across all addresses within `failure_window`: the
    /// loose limit (a third party cannot lock a user out with a handful of failures from elsewhere).
    pub max_failures_per_account: u32,
    /// Failed logins allowed per client address within `failure_window`.
    pub max_failures_per_address: u32,
    /// The failure window.
    pub failure_window: Duration,
    /// Password hashes (or verifications) running at once.
    pub max_concurrent_hashes: usize,
    /// Longest expected wait for a hashing slot a request is admitted for; beyond it, refused at once.
    pub max_hash_wait: Duration,
    /// Registrations that reach hashing allowed per client address within `registration_window`.
    pub max_registrations_per_address: u32,
    /// The registration window.
    pub registration_window: Duration,
}

/// One broken registration rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleViolation {
    /// The field it concerns (`email` or `password`).
    pub field: &'static str,
    /// Stable code.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

/// Why an accounts operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The registration breaks rules; every violation is listed.
    #[error("validation failed: {}", .0.iter().map(|v| format!("{} {}", v.field, v.code)).collect::<Vec<_>>().join(", "))]
    Invalid(Vec<RuleViolation>),
    /// An account with this email exists.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Wrong email or password (the two are not told apart).
    #[error("wrong email or password")]
    InvalidCredentials,
    /// The password is right but an operator disabled the account. Only told to a caller who knows the
    /// password, so it reveals no more than a successful login would.
    #[error("this account is disabled")]
    Disabled,
    /// Too many failed logins for this account or address.
    #[error("too many failed logins; retry in {}s", .retry_after.as_secs())]
    TooManyAttempts {
        /// When the window closes.
        retry_after: Duration,
    },
    /// No hashing slot could be expected within `max_hash_wait` (or none freed up in that time).
    #[error("too many logins at once; retry shortly")]
    Overloaded,
    /// The account store is unreachable.
    #[error("account store unavailable: {0}")]
    Unavailable(String),
    /// Hashing itself failed (the OS random source, or the blocking task died): a bug or a broken host.
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

impl From<AccountStoreError> for AccountError {
    fn from(err: AccountStoreError) -> Self {
        match err {
            AccountStoreError::EmailTaken => Self::EmailTaken,
            AccountStoreError::Unavailable(reason) => Self::Unavailable(reason.to_string()),
        }
    }
}

/// Validates a registration and returns the normalised email; every broken rule at once.
///
/// # Errors
/// [`AccountError::Invalid`] with one entry per broken rule.
pub fn validate_registration(raw_email: &str, password_text: &str) -> Result<String, AccountError> {
    let mut violations = Vec::new();
    let email = match normalize_email(raw_email) {
        Ok(email) => Some(email),
        Err(e) => {
            violations.push(RuleViolation { field: "email", code: e.code(), message: e.message() });
            None
        }
    };
    for problem in password::check_policy(password_text, email.as_deref().unwrap_or(raw_email)) {
        violations.push(RuleViolation { field: "password", code: problem.code(), message: problem.message() });
    }
    match email {
        Some(email) if violations.is_empty() => Ok(email),
        _ => Err(AccountError::Invalid(violations)),
    }
}

fn count_login(outcome: &'static str) {
    metrics::counter!("gantry_auth_logins_total", "outcome" => outcome).increment(1);
}

/// The accounts owner (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct Accounts(Arc<Inner>);

struct Inner {
    /// Users, epochs, revocation notices.
    store: Arc<dyn AccountStore>,
    /// Failed logins per (account, address) pair: tight.
    by_pair: FailureLimiter,
    /// Failed logins per account (normalised email) across addresses: loose.
    by_account: FailureLimiter,
    /// Failed logins per client address.
    by_address: FailureLimiter,
    /// Registrations per client address (every one that reaches hashing counts, whatever its outcome).
    registrations: FailureLimiter,
    /// How long a registration waits for its share of the slots.
    max_hash_wait: Duration,
    /// Password hashing slots, with admission.
    hashing: HashingSlots,
    /// The share of `hashing` registrations may hold (half, at least one): however many addresses a
    /// registration flood comes from, logins always find slots of their own.
    registering: Semaphore,
    /// user id → email, for `/me` without a database round-trip (emails never change). A std lock: held only
    /// for a map operation, never across `.await`.
    emails: RwLock<HashMap<Uuid, String>>,
    /// The online breached-password check (`sessions.breached_range_url`), when configured.
    breached_range: Option<RangeCheck>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").field("hashing_slots", &self.0.hashing.available()).finish_non_exhaustive()
    }
}

impl Accounts {
    /// The owner of the accounts in `store`, limited by `settings`.
    ///
    /// # Panics
    /// If a limit in `settings` is zero (settings validation refuses that at start-up).
    #[must_use]
    pub fn new(store: Arc<dyn AccountStore>, settings: &AccountSettings) -> Self {
        Self(Arc::new(Inner {
            store,
            by_pair: FailureLimiter::new(
                settings.max_failures_per_account_address,
                settings.failure_window,
                LIMITER_KEYS,
            ),
            by_account: FailureLimiter::new(settings.max_failures_per_account, settings.failure_window, LIMITER_KEYS),
            by_address: FailureLimiter::new(settings.max_failures_per_address, settings.failure_window, LIMITER_KEYS),
            registrations: FailureLimiter::new(
                settings.max_registrations_per_address,
                settings.registration_window,
                LIMITER_KEYS,
            ),
            max_hash_wait: settings.max_hash_wait,
            hashing: HashingSlots::new(settings.max_concurrent_hashes, settings.max_hash_wait),
            registering: Semaphore::new((settings.max_concurrent_hashes / 2).max(1)),
            emails: RwLock::new(HashMap::new()),
            breached_range: None,
        }))
    }

    /// This owner, also refusing new passwords the range service `check` knows as breached.
    ///
    /// # Panics
    /// If the owner was shared (cloned) already: call it right after [`Self::new`].
    #[must_use]
    pub fn with_breached_range(mut self, check: RangeCheck) -> Self {
        Arc::get_mut(&mut self.0).expect("called right after new, before the owner is shared").breached_range =
            Some(check);
        self
    }

    /// Refuses a new password (in `field`) the range service knows as breached; a service that fails leaves
    /// the verdict to the bundled list, already applied.
    async fn check_breached(&self, password: &str, field: &'static str) -> Result<(), AccountError> {
        let Some(check) = &self.0.breached_range else { return Ok(()) };
        match check.times_breached(password).await {
            Some(times) if times > 0 => Err(AccountError::Invalid(vec![RuleViolation {
                field,
                code: "breached_password",
                message: "this password appears in known data breaches; choose another".into(),
            }])),
            _ => Ok(()),
        }
    }

    /// A hashing slot, or [`AccountError::Overloaded`] (counted by reason) when none can be expected in time.
    async fn slot(&self) -> Result<Slot, AccountError> {
        self.0.hashing.acquire().await.map_err(|refusal| {
            let reason = match refusal {
                Refusal::Shed => "shed",
                Refusal::TimedOut => "timed_out",
            };
            metrics::counter!("gantry_auth_hashing_refused_total", "reason" => reason).increment(1);
            AccountError::Overloaded
        })
    }

    /// Runs a password hash operation on the blocking pool in `slot`, which is freed on the blocking thread
    /// the moment the work is done (not when this task is next polled: under a storm that can be much later).
    async fn hash_in<T: Send + 'static>(
        slot: Slot,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AccountError> {
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(slot);
            out
        })
        .await
        .map_err(|e| AccountError::Hashing(e.to_string()))
    }

    /// Runs a password hash operation in a slot of its own.
    async fn hashing<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, AccountError> {
        let slot = self.slot().await?;
        Self::hash_in(slot, work).await
    }

    fn remember_email(&self, id: Uuid, email: &str) {
        let mut map = self.0.emails.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= EMAIL_CACHE_MAX {
            map.clear();
        }
        map.insert(id, email.to_owned());
    }

    fn cached_email(&self, id: Uuid) -> Option<String> {
        self.0.emails.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&id).cloned()
    }

    /// Whether `address` may register now: a cheap look at its registration window, so a flood past the limit
    /// is refused before its body is even read. [`Self::register`] still counts (and re-checks) atomically.
    ///
    /// # Errors
    /// [`AccountError::TooManyAttempts`] while the address's window is full.
    pub fn registration_allowed(&self, address: &str) -> Result<(), AccountError> {
        self.0.registrations.check(address, Instant::now()).map_err(|retry_after| {
            metrics::counter!("gantry_auth_registrations_rate_limited_total").increment(1);
            AccountError::TooManyAttempts { retry_after }
        })
    }

    /// Registers a user: validates, counts the registration against `address` (HTTP clients; `None` for the
    /// operator's CLI), hashes the password on the registrations' share of the slots, stores the account.
    ///
    /// # Errors
    /// [`AccountError::Invalid`], [`AccountError::TooManyAttempts`], [`AccountError::EmailTaken`],
    /// [`AccountError::Overloaded`], [`AccountError::Unavailable`] or [`AccountError::Hashing`].
    pub async fn register(
        &self,
        raw_email: &str,
        password_text: String,
        address: Option<&str>,
    ) -> Result<User, AccountError> {
        let email = validate_registration(raw_email, &password_text)?;
        if let Some(address) = address
            && let Err(retry_after) = self.0.registrations.try_acquire(address, Instant::now())
        {
            metrics::counter!("gantry_auth_registrations_rate_limited_total").increment(1);
            return Err(AccountError::TooManyAttempts { retry_after });
        }
        // After the per-address limit, so nobody uses this instance to query the range service in bulk.
        self.check_breached(&password_text, "password").await?;
        let share = tokio::time::timeout(self.0.max_hash_wait, self.0.registering.acquire())
            .await
            .map_err(|_| AccountError::Overloaded)?
            // The semaphore is never closed.
            .map_err(|_| AccountError::Overloaded)?;
        let phc = self
            .hashing(move || password::hash_password(&password_text))
            .await?
            .map_err(|e| AccountError::Hashing(e.to_string()))?;
        drop(share);
        let user = User {
            id: Uuid::now_v7(),
            email,
            password_hash: phc,
            created_at: OffsetDateTime::now_utc(),
            disabled_at: None,
        };
        self.0.store.create_user(&user).await?;
        metrics::counter!("gantry_auth_registrations_total").increment(1);
        self.remember_email(user.id, &user.email);
        Ok(user)
    }

    /// Checks a login from `address`. The attempt is counted in the three limiters — per (account, address)
    /// pair, per account, per address — *before* the password is verified, so simultaneous attempts cannot all
    /// pass a check none of them has counted yet: per window at most the configured number of verifications
    /// run. A wrong password (or an unknown email, which costs as much) keeps its count; a success clears the
    /// pair and gives its attempt back to the account and address; an attempt that never got verified
    /// (overload, store down) is given back everywhere.
    ///
    /// `known_device` says, given the account (its normalised email), whether the login comes from a device that
    /// logged in to it before (a valid device token, [`super::device`]) or from the logged-in user themself: such
    /// a login counts against the account's limit under a key of its own, so the failures strangers pile up on
    /// the account (from many addresses) do not hold it; the pair and address limits apply as to anyone.
    ///
    /// A disabled account is refused only after its password verified ([`AccountError::Disabled`]); the
    /// attempt keeps its count, as a failure does, so a disabled account gives no more tries than a wrong
    /// password.
    ///
    /// # Errors
    /// [`AccountError::TooManyAttempts`], [`AccountError::InvalidCredentials`], [`AccountError::Disabled`],
    /// [`AccountError::Overloaded`], [`AccountError::Unavailable`] or [`AccountError::Hashing`].
    pub async fn check_credentials(
        &self,
        raw_email: &str,
        password_text: String,
        address: &str,
        known_device: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<User, AccountError> {
        // An unparseable email cannot match an account; it is limited and answered like any wrong login.
        let account_key = normalize_email(raw_email).unwrap_or_else(|_| raw_email.trim().to_lowercase());
        // NUL cannot occur in a normalised email: the pair key is unambiguous.
        let pair_key = format!("{account_key}\u{0}{address}");
        let account_limit_key =
            if known_device(&account_key) { format!("{account_key}\u{0}known") } else { account_key.clone() };
        let limiters = [
            (&self.0.by_pair, pair_key.as_str()),
            (&self.0.by_account, account_limit_key.as_str()),
            (&self.0.by_address, address),
        ];
        let now = Instant::now();
        for (i, (limiter, key)) in limiters.iter().enumerate() {
            if let Err(retry_after) = limiter.try_acquire(key, now) {
                for (taken, taken_key) in &limiters[..i] {
                    taken.release(taken_key);
                }
                count_login("rate_limited");
                return Err(AccountError::TooManyAttempts { retry_after });
            }
        }
        match self.verify(&account_key, password_text).await {
            Ok(Some(user)) if user.disabled_at.is_some() => {
                count_login("disabled");
                Err(AccountError::Disabled)
            }
            Ok(Some(user)) => {
                self.0.by_pair.reset(&pair_key);
                self.0.by_account.release(&account_limit_key);
                self.0.by_address.release(address);
                self.remember_email(user.id, &user.email);
                Ok(user)
            }
            Ok(None) => {
                count_login("invalid_credentials");
                Err(AccountError::InvalidCredentials)
            }
            Err(err) => {
                for (limiter, key) in limiters {
                    limiter.release(key);
                }
                Err(err)
            }
        }
    }

    /// The user whose email is `account_key` if `password_text` is theirs; an unknown email verifies a dummy
    /// hash, so it takes as long. The hashing slot is taken first and held through the account look-up, so a
    /// refused login costs neither a database round-trip nor a hash. Counted in
    /// `gantry_auth_password_verifications_total`. A hash from before NFKC normalisation that verifies is
    /// replaced by one of the normal form, computed in the same slot; storing it is best effort (on failure
    /// the old hash keeps working and the next login tries again).
    async fn verify(&self, account_key: &str, password_text: String) -> Result<Option<User>, AccountError> {
        let slot = self.slot().await?;
        let user = self.0.store.user_by_email(account_key).await?;
        let Some(user) = user else {
            Self::hash_in(slot, move || password::verify_dummy(&password_text)).await?;
            metrics::counter!("gantry_auth_password_verifications_total").increment(1);
            return Ok(None);
        };
        let phc = user.password_hash.clone();
        let (verification, rehashed) = Self::hash_in(slot, move || {
            let verification = password::verify_password(&password_text, &phc);
            let rehashed = (verification == password::Verification::MatchNeedsRehash)
                .then(|| password::hash_password(&password_text));
            (verification, rehashed)
        })
        .await?;
        metrics::counter!("gantry_auth_password_verifications_total").increment(1);
        if let Some(rehashed) = rehashed {
            let stored = match rehashed {
                Ok(phc) => self.0.store.set_password_hash(user.id, &phc).await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match stored {
                Ok(()) => metrics::counter!("gantry_auth_password_rehashes_total").increment(1),
                Err(error) => {
                    tracing::warn!(event = "password_rehash_failed", user_id = %user.id, %error, "keeping the old hash")
                }
            }
        }
        Ok(verification.matched().then_some(user))
    }

    /// Changes user `user_id`'s password. The current password is checked exactly like a login from
    /// `address` (same limiters: a wrong one is a failed login, counted as the logged-in user's own, so others'
    /// failures on the account never block it), then the new one against the policy
    /// (violations on the field `new_password`), then it is hashed and stored. Ending the user's other sessions
    /// is the caller's (the session registry's) part.
    ///
    /// # Errors
    /// [`AccountError::InvalidCredentials`] (wrong current password, or the user is gone),
    /// [`AccountError::TooManyAttempts`], [`AccountError::Invalid`], [`AccountError::Overloaded`],
    /// [`AccountError::Unavailable`] or [`AccountError::Hashing`].
    pub async fn change_password(
        &self,
        user_id: Uuid,
        current_password: String,
        new_password: String,
        address: &str,
    ) -> Result<(), AccountError> {
        let email = self.email_of(user_id).await?.ok_or(AccountError::InvalidCredentials)?;
        let user = self.check_credentials(&email, current_password, address, &|_| true).await?;
        if user.id != user_id {
            return Err(AccountError::InvalidCredentials);
        }
        let violations: Vec<RuleViolation> = password::check_policy(&new_password, &email)
            .into_iter()
            .map(|p| RuleViolation { field: "new_password", code: p.code(), message: p.message() })
            .collect();
        if !violations.is_empty() {
            return Err(AccountError::Invalid(violations));
        }
        self.check_breached(&new_password, "new_password").await?;
        let phc = self
            .hashing(move || password::hash_password(&new_password))
            .await?
            .map_err(|e| AccountError::Hashing(e.to_string()))?;
        if !self.0.store.set_password_hash(user_id, &phc).await? {
            return Err(AccountError::InvalidCredentials);
        }
        metrics::counter!("gantry_auth_password_changes_total").increment(1);
        Ok(())
    }

    /// Counts a login that went all the way (credentials checked and a session issued).
    pub fn count_login_success(&self) {
        count_login("success");
    }

    /// The email of user `id`: from the cache, else the store (`None` for an unknown user).
    ///
    /// # Errors
    /// [`AccountError::Unavailable`].
    pub async fn email_of(&self, id: Uuid) -> Result<Option<String>, AccountError> {
        if let Some(email) = self.cached_email(id) {
            return Ok(Some(email));
        }
        let user = self.0.store.user_by_id(id).await?;
        if let Some(user) = &user {
            self.remember_email(user.id, &user.email);
        }
        Ok(user.map(|u| u.email))
    }

    /// Whether user `id` exists (always asks the store).
    ///
    /// # Errors
    /// [`AccountError::Unavailable`].
    pub async fn exists(&self, id: Uuid) -> Result<bool, AccountError> {
        Ok(self.0.store.user_by_id(id).await?.is_some())
    }

    /// The user registered with `raw_email` (normalised as at registration); `None` for an unknown or malformed
    /// email.
    ///
    /// # Errors
    /// [`AccountError::Unavailable`].
    pub async fn find_by_email(&self, raw_email: &str) -> Result<Option<User>, AccountError> {
        let Ok(email) = normalize_email(raw_email) else { return Ok(None) };
        Ok(self.0.store.user_by_email(&email).await?)
    }

    /// Disables user `id` (`disabled = true`, keeping the first time if it is disabled already) or enables it;
    /// returns whether the user exists. A disabled account cannot log in; ending its sessions is the caller's
    /// (the session registry's) part, done after this so no login can slip in between.
    ///
    /// # Errors
    /// [`AccountError::Unavailable`].
    pub async fn set_disabled(&self, id: Uuid, disabled: bool) -> Result<bool, AccountError> {
        let at = disabled.then(OffsetDateTime::now_utc);
        Ok(self.0.store.set_disabled(id, at).await?)
    }

    /// Whether user `id` is disabled now (always asks the store; an unknown user is not).
    ///
    /// # Errors
    /// [`AccountError::Unavailable`].
    pub async fn is_disabled(&self, id: Uuid) -> Result<bool, AccountError> {
        Ok(self.0.store.user_by_id(id).await?.is_some_and(|u| u.disabled_at.is_some()))
    }

    /// Deletes user `id`. Its sessions are not touched here: the caller revokes them first (through the
    /// session registry, which owns them), so no token of a deleted account stays usable.
    ///
    /// # Errors
    /// [`AccountError::Unavailable`].
    pub async fn delete(&self, id: Uuid) -> Result<(), AccountError> {
        self.0.store.delete_user(id).await?;
        self.0.emails.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id);
        Ok(())
    }

    /// The newest `limit` revocation notices (evidence of forced re-logins).
    ///
    /// # Errors
    /// [`AccountError::Unavailable`].
    pub async fn revocations(&self, limit: u32) -> Result<Vec<RevocationNotice>, AccountError> {
        Ok(self.0.store.revocations(limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every broken rule is reported at once, each with its field.
    #[test]
    fn registration_lists_every_violation() {
        let Err(AccountError::Invalid(violations)) = validate_registration("not-an-email", "short") else {
            panic!("invalid registration accepted");
        };
        assert!(violations.iter().any(|v| v.field == "email"));
        assert!(violations.iter().any(|v| v.field == "password"));
        assert_eq!(
            validate_registration(" Ops@Example.COM ", "harvest-tractor-blue-42").expect("valid"),
            "ops@example.com"
        );
    }
}
