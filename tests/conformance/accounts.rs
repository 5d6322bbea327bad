//! The `AccountStore` contract.

use std::collections::HashMap;
use std::sync::Arc;

use gantry_actors::ports::accounts::{
    AccountStore, AccountStoreError, Epochs, RevocationNotice, RevocationScope, User,
};
use time::OffsetDateTime;
use uuid::Uuid;

/// A user with this email, created now.
fn user(email: &str) -> User {
    User {
        id: Uuid::now_v7(),
        email: email.to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        created_at: OffsetDateTime::now_utc(),
        disabled_at: None,
    }
}

/// A user reads back by email and by id (timestamp at stored precision); registering the same email again
/// is `EmailTaken` (SQLite's unique constraint, Postgres' SQLSTATE 23505 on `users_email_key`) and leaves the
/// first untouched; a deleted user is gone (deleting twice is fine) and its email is free again.
pub async fn users_round_trip_and_duplicate_email_is_taken(accounts: Arc<dyn AccountStore>) {
    let alice = user("alice@example.com");

    accounts.create_user(&alice).await.expect("create");
    let err = accounts.create_user(&user("alice@example.com")).await.expect_err("same email");

    assert!(matches!(err, AccountStoreError::EmailTaken), "{err:?}");
    let by_email = accounts.user_by_email("alice@example.com").await.expect("by email").expect("exists");
    let by_id = accounts.user_by_id(alice.id).await.expect("by id").expect("exists");
    assert_eq!(by_email, by_id);
    assert_eq!(by_id.id, alice.id);
    assert_eq!(by_id.password_hash, alice.password_hash);
    assert_eq!(by_id.created_at.unix_timestamp_nanos() / 1_000, alice.created_at.unix_timestamp_nanos() / 1_000);
    assert!(accounts.user_by_email("bob@example.com").await.expect("by email").is_none());

    accounts.delete_user(alice.id).await.expect("delete");
    accounts.delete_user(alice.id).await.expect("deleting an absent user");
    assert!(accounts.user_by_id(alice.id).await.expect("by id").is_none());
    accounts.create_user(&user("alice@example.com")).await.expect("the email is free again");
}

/// A password hash is replaced for that user only (and reads back by email and by id); an unknown user is
/// `false` and creates nothing.
pub async fn set_password_hash_replaces_only_that_users_hash(accounts: Arc<dyn AccountStore>) {
    let (alice, bob) = (user("alice@example.com"), user("bob@example.com"));
    accounts.create_user(&alice).await.expect("create");
    accounts.create_user(&bob).await.expect("create");
    let new_hash = "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA";

    assert!(accounts.set_password_hash(alice.id, new_hash).await.expect("set"));
    assert!(!accounts.set_password_hash(Uuid::now_v7(), new_hash).await.expect("unknown user"));

    let by_email = accounts.user_by_email("alice@example.com").await.expect("by email").expect("exists");
    assert_eq!(by_email.password_hash, new_hash);
    assert_eq!(accounts.user_by_id(alice.id).await.expect("by id").expect("exists").password_hash, new_hash);
    assert_eq!(accounts.user_by_id(bob.id).await.expect("by id").expect("exists").password_hash, bob.password_hash);
}

/// Raising an epoch never lowers it (a lower value returns the stored higher one), and global and per-user
/// epochs are separate.
pub async fn raise_epoch_is_monotonic_and_per_scope(accounts: Arc<dyn AccountStore>) {
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    assert_eq!(accounts.epochs().await.expect("epochs"), Epochs::default());

    assert_eq!(accounts.raise_epoch(None, 2_000).await.expect("raise"), 2_000);
    assert_eq!(accounts.raise_epoch(None, 1_000).await.expect("lower"), 2_000, "a lower value keeps the higher");
    assert_eq!(accounts.raise_epoch(Some(alice), 5_000).await.expect("raise"), 5_000);
    assert_eq!(accounts.raise_epoch(Some(alice), 7_000).await.expect("raise"), 7_000);
    assert_eq!(accounts.raise_epoch(Some(bob), 100).await.expect("raise"), 100);

    let epochs = accounts.epochs().await.expect("epochs");
    assert_eq!(epochs.global_ms, 2_000);
    assert_eq!(epochs.users, HashMap::from([(alice, 7_000), (bob, 100)]));
    assert_eq!(accounts.raise_epoch(Some(alice), 6_999).await.expect("lower"), 7_000);
}

/// Two tasks raising the same epochs at the same time, each with its own rising sequence, never see the
/// epoch go down: every call returns at least its own value and at least what that task saw before, and the
/// final epochs are the highest values sent.
pub async fn concurrent_epoch_raises_never_lower_it(accounts: Arc<dyn AccountStore>) {
    let alice = Uuid::now_v7();
    const ROUNDS: i64 = 40;

    let raiser = |offset: i64, user: Option<Uuid>| {
        let accounts = Arc::clone(&accounts);
        tokio::spawn(async move {
            let mut seen = 0;
            for i in 0..ROUNDS {
                let value = 1_000 * i + offset;
                let stored = accounts.raise_epoch(user, value).await.expect("raise");
                assert!(stored >= value && stored >= seen, "{stored} < {value} or < {seen}");
                seen = stored;
            }
        })
    };
    let tasks = [raiser(1, None), raiser(2, None), raiser(1, Some(alice)), raiser(2, Some(alice))];
    for task in tasks {
        task.await.expect("raising task");
    }

    let highest = 1_000 * (ROUNDS - 1) + 2;
    let epochs = accounts.epochs().await.expect("epochs");
    assert_eq!(epochs.global_ms, highest);
    assert_eq!(epochs.users.get(&alice), Some(&highest));
    assert_eq!(epochs.users.len(), 1);
    assert_eq!(accounts.raise_epoch(None, 5).await.expect("lower"), highest, "a lower value keeps the higher");
}

/// Notices come back newest first (limited), with every field kept, and a count filled in later shows up.
pub async fn revocation_notices_come_newest_first_with_filled_in_counts(accounts: Arc<dyn AccountStore>) {
    let start = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("valid instant");
    let notice = |i: i64, scope: RevocationScope, requested_by: &str| RevocationNotice {
        id: Uuid::now_v7(),
        scope,
        user_id: (scope == RevocationScope::User).then(Uuid::now_v7),
        reason: format!("incident {i} — naïve ✓"),
        requested_by: requested_by.to_owned(),
        not_before_ms: 1_800_000_000_000 + i,
        active_sessions: None,
        user_message: (i == 2).then(|| "Security update — please log in again. ✓".to_owned()),
        refused_requests: 0,
        created_at: start + time::Duration::seconds(i),
    };
    let (first, second, third) = (
        notice(1, RevocationScope::All, "cli"),
        notice(2, RevocationScope::User, "admin"),
        notice(3, RevocationScope::All, "cli"),
    );
    for n in [&second, &first, &third] {
        accounts.record_revocation(n).await.expect("record");
    }

    accounts.set_revocation_count(second.id, 42).await.expect("count");
    accounts.add_refused_requests(second.id, 3).await.expect("refused");
    accounts.add_refused_requests(second.id, 4).await.expect("refused");
    let newest = accounts.revocations(2).await.expect("list");

    let mut counted = second.clone();
    counted.active_sessions = Some(42);
    counted.refused_requests = 7;
    assert_eq!(newest, vec![third.clone(), counted]);
    let all = accounts.revocations(10).await.expect("list");
    assert_eq!(all.len(), 3);
    assert_eq!(all[2], first);
}

/// A user is created enabled; disabling records the time (disabling again keeps the first time), enabling
/// clears it; only that user changes; an unknown id answers `false`.
pub async fn disabling_and_enabling_a_user_round_trips(accounts: Arc<dyn AccountStore>) {
    let alice = user("disable-alice@example.com");
    let bob = user("disable-bob@example.com");
    accounts.create_user(&alice).await.expect("create");
    accounts.create_user(&bob).await.expect("create");
    let read = |id| {
        let accounts = accounts.clone();
        async move { accounts.user_by_id(id).await.expect("read").expect("user") }
    };
    assert_eq!(read(alice.id).await.disabled_at, None);

    let first = OffsetDateTime::now_utc().replace_nanosecond(123_456_000).expect("valid");
    assert!(accounts.set_disabled(alice.id, Some(first)).await.expect("disable"));
    assert_eq!(read(alice.id).await.disabled_at, Some(first));
    let later = first + time::Duration::seconds(5);
    assert!(accounts.set_disabled(alice.id, Some(later)).await.expect("disable again"));
    assert_eq!(read(alice.id).await.disabled_at, Some(first), "the first time is kept");
    let by_email = accounts.user_by_email("disable-alice@example.com").await.expect("read").expect("user");
    assert_eq!(by_email.disabled_at, Some(first));
    assert_eq!(read(bob.id).await.disabled_at, None, "only that user");

    assert!(accounts.set_disabled(alice.id, None).await.expect("enable"));
    assert_eq!(read(alice.id).await.disabled_at, None);
    assert!(!accounts.set_disabled(Uuid::now_v7(), Some(first)).await.expect("unknown"));
}

/// Pruning epochs removes the per-user epochs strictly older than the cut-off and never the global one, however
/// old; the others keep their values, and pruning again removes nothing.
pub async fn prune_epochs_removes_old_user_epochs_only(accounts: Arc<dyn AccountStore>) {
    let (alice, bob, carol) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    accounts.raise_epoch(None, 1_000).await.expect("raise");
    accounts.raise_epoch(Some(alice), 2_000).await.expect("raise");
    accounts.raise_epoch(Some(bob), 5_000).await.expect("raise");
    accounts.raise_epoch(Some(carol), 9_000).await.expect("raise");

    let pruned = accounts.prune_epochs(5_000).await.expect("prune");
    let again = accounts.prune_epochs(5_000).await.expect("prune again");

    assert_eq!((pruned, again), (1, 0));
    let epochs = accounts.epochs().await.expect("epochs");
    assert_eq!(epochs.global_ms, 1_000, "the global epoch stays");
    assert_eq!(epochs.users, HashMap::from([(bob, 5_000), (carol, 9_000)]));
}

sql_cases!(
    accounts: users_round_trip_and_duplicate_email_is_taken,
    disabling_and_enabling_a_user_round_trips,
    set_password_hash_replaces_only_that_users_hash,
    raise_epoch_is_monotonic_and_per_scope,
    concurrent_epoch_raises_never_lower_it,
    revocation_notices_come_newest_first_with_filled_in_counts,
    prune_epochs_removes_old_user_epochs_only,
);

/// A revocation notice and its evidence runner job are stored in one transaction: the job waits for the runner
/// (`available`, with its kind, owner and attempts), and when its id is taken nothing is stored.
pub async fn revocation_notice_and_its_runner_job_commit_together(ports: gantry::adapters::sql::SqlPorts) {
    use gantry_actors::ports::jobs::{JobState, NewJob};
    let (accounts, jobs) = (ports.accounts, ports.jobs);
    let notice = |id| RevocationNotice {
        id,
        scope: RevocationScope::All,
        user_id: None,
        reason: "incident".to_owned(),
        requested_by: "cli".to_owned(),
        not_before_ms: 1_800_000_000_000,
        active_sessions: None,
        user_message: None,
        refused_requests: 0,
        created_at: time::OffsetDateTime::now_utc(),
    };
    let evidence = |id| NewJob {
        id,
        owner: Some("cli".into()),
        max_attempts: 5,
        ..NewJob::new("sessions.revoke_all", "default", serde_json::json!({ "notice_id": id }))
    };
    let first = notice(uuid::Uuid::now_v7());
    accounts.record_revocation_enqueueing(&first, &evidence(first.id)).await.expect("record");
    let job = jobs.get(first.id).await.expect("get").expect("job stored");
    assert_eq!(
        (job.kind.as_str(), job.state, job.owner.as_deref()),
        ("sessions.revoke_all", JobState::Available, Some("cli"))
    );
    assert_eq!(job.max_attempts, 5);

    let clash = notice(uuid::Uuid::now_v7());
    accounts.record_revocation_enqueueing(&clash, &evidence(first.id)).await.expect_err("the job id is taken");
    let stored = accounts.revocations(10).await.expect("list");
    assert_eq!(stored.iter().map(|n| n.id).collect::<Vec<_>>(), vec![first.id], "no notice without its job");
}

mod together_with_runner_job {
    #[tokio::test]
    async fn sqlite() {
        crate::on_sqlite(super::revocation_notice_and_its_runner_job_commit_together).await;
    }

    #[tokio::test]
    async fn postgres() {
        crate::on_postgres(super::revocation_notice_and_its_runner_job_commit_together).await;
    }
}
