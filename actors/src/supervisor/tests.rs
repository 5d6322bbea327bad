use std::collections::BTreeMap;

use super::*;
use crate::secrets::keyring::{SecretOrigin, SecretVersion, Versions};
use crate::secrets::store::SecretStoreHandle;
use crate::secrets::{KeyRing, SecretName, SecretValue};

/// The rotation ports the secret store needs; supervision tests never rotate.
mod ports {
    use std::sync::Arc;

    use async_trait::async_trait;
    use tokio::sync::broadcast;
    use uuid::Uuid;

    use crate::ports::Unavailable;
    use crate::ports::bus::{Bus, BusError, BusSignal, Event};
    use crate::ports::objects::{
        ByteRange, ByteStream, ObjectBody, ObjectKey, ObjectStore, ObjectStoreError, StoredObject,
    };
    use crate::ports::secrets::{SecretSet, SecretSource};

    pub(super) struct NoSource;
    impl SecretSource for NoSource {
        fn read(&self) -> Result<SecretSet, Vec<String>> {
            Err(vec!["no secret source in this test".into()])
        }
    }

    pub(super) struct SilentBus(broadcast::Sender<BusSignal>);
    #[async_trait]
    impl Bus for SilentBus {
        async fn publish(&self, _event: Event) -> Result<(), BusError> {
            Ok(())
        }
        fn subscribe(&self) -> broadcast::Receiver<BusSignal> {
            self.0.subscribe()
        }
        fn subscribe_wakeups(&self) -> broadcast::Receiver<BusSignal> {
            self.0.subscribe()
        }
        fn instance_id(&self) -> Uuid {
            Uuid::nil()
        }
        async fn health(&self) -> Result<(), Unavailable> {
            Ok(())
        }
        fn backend(&self) -> &'static str {
            "silent"
        }
        async fn close(&self) {}
    }

    pub(super) struct NoObjects;
    #[async_trait]
    impl ObjectStore for NoObjects {
        async fn put(
            &self,
            _: &ObjectKey,
            _: ByteStream,
            _: Option<u64>,
            _: &str,
        ) -> Result<StoredObject, ObjectStoreError> {
            Err(ObjectStoreError::CredentialsRejected)
        }
        async fn get(&self, _: &ObjectKey, _: Option<ByteRange>) -> Result<ObjectBody, ObjectStoreError> {
            Err(ObjectStoreError::NotFound)
        }
        async fn delete(&self, _: &ObjectKey) -> Result<(), ObjectStoreError> {
            Ok(())
        }
        async fn health(&self) -> Result<(), ObjectStoreError> {
            Ok(())
        }
        fn backend(&self) -> &'static str {
            "none"
        }
    }

    pub(super) fn spec(handle: &super::SecretStoreHandle) -> crate::supervisor::ChildSpec {
        handle.child_spec(Arc::new(NoSource), Arc::new(NoObjects), Arc::new(SilentBus(broadcast::channel(4).0)))
    }
}

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
    let args = SupervisorArgs { children: vec![ports::spec(handle)], budget, fatal };
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
    sup.call(|reply| SupervisorMsg::Shutdown { within: Duration::from_secs(5), reply }, Some(Duration::from_secs(5)))
        .await
        .expect("shutdown answered");
    assert!(matches!(handle.status().await, Err(crate::handle::CallError::NotRunning(_))));
    assert!(fatal.borrow().is_none(), "a requested shutdown is not a failure");
}
