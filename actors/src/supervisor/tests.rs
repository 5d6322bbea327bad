use std::collections::BTreeMap;

use super::*;
use crate::secrets::keyring::{SecretOrigin, SecretVersion, Versions};
use crate::secrets::store::SecretStoreHandle;
use crate::secrets::{KeyRing, SecretName, SecretValue};

fn store() -> SecretStoreHandle {
    let mut secrets = BTreeMap::new();
    secrets.insert(
        SecretName::JwtSecret,
        Versions::only(SecretVersion::first(SecretValue::new("q7R2vX9kLm4PzT8wN3bH6yC1dF5gJ0sA"), SecretOrigin::Env)),
    );
    SecretStoreHandle::new(KeyRing::new(secrets), 16, Duration::from_secs(1))
}

async fn start(
    handle: &SecretStoreHandle,
    budget: RestartBudget,
) -> (ActorRef<SupervisorMsg>, watch::Receiver<Option<String>>) {
    let (fatal, fatal_rx) = watch::channel(None);
    let args = SupervisorArgs { children: vec![handle.child_spec()], budget, fatal };
    let (sup, _join) = Actor::spawn(None, RootSupervisor, args).await.expect("supervisor starts");
    (sup, fatal_rx)
}

async fn status_eventually(handle: &SecretStoreHandle) -> usize {
    for _ in 0..100 {
        if let Ok(status) = handle.status().await {
            return status.len();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("secret store never answered again");
}

/// A child that panics is restarted and answers again, with the same key ring.
#[tokio::test]
async fn panicking_child_is_restarted_and_serves_again() {
    let handle = store();
    let (sup, fatal) = start(&handle, RestartBudget::default()).await;
    assert_eq!(status_eventually(&handle).await, 1);

    handle.inject_panic().expect("message accepted");

    assert_eq!(status_eventually(&handle).await, 1);
    assert!(fatal.borrow().is_none(), "one restart is within budget");
    sup.stop(None);
}

/// Failures beyond the budget make the supervisor give up and tell the process to exit.
#[tokio::test]
async fn restart_budget_exhaustion_is_fatal() {
    let handle = store();
    let budget = RestartBudget { max_restarts: 2, window: Duration::from_secs(60) };
    let (_sup, mut fatal) = start(&handle, budget).await;
    for _ in 0..3 {
        status_eventually(&handle).await;
        handle.inject_panic().expect("message accepted");
        // wait until the slot is refilled or the supervisor gave up
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::timeout(Duration::from_secs(5), fatal.wait_for(Option::is_some))
        .await
        .expect("fatal signalled in time")
        .expect("sender alive");
    assert!(fatal.borrow().as_deref().is_some_and(|r| r.contains("secret_store")));
}

/// Shutdown stops children and leaves their handles answering "not running" (503), not hanging.
#[tokio::test]
async fn shutdown_stops_children() {
    let handle = store();
    let (sup, fatal) = start(&handle, RestartBudget::default()).await;
    status_eventually(&handle).await;
    sup.call(SupervisorMsg::Shutdown, Some(Duration::from_secs(5))).await.expect("shutdown answered");
    assert!(matches!(handle.status().await, Err(crate::handle::CallError::NotRunning(_))));
    assert!(fatal.borrow().is_none(), "a requested shutdown is not a failure");
}
