//! The secret store actor: the single writer of the key ring. The request path reads the published
//! [`SharedKeyRing`]; operators read versions through [`SecretStoreHandle::status`]. Rotation (stage,
//! promote, roll back) will add messages here.
//!
//! The key ring outlives the actor: after a restart the new actor adopts the last published snapshot, so a
//! crash never changes which keys verify tokens.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::keyring::VersionStatus;
use super::{KeyRing, SharedKeyRing};
use crate::handle::{ActorSlot, CallError};
use crate::supervisor::ChildSpec;
use crate::telemetry::Mailbox;

/// The actor's label in metrics and logs.
pub const NAME: &str = "secret_store";

/// Messages of the secret store.
pub enum SecretStoreMsg {
    /// Every version of every secret, without values.
    Status(RpcReplyPort<Vec<VersionStatus>>),
    /// Fault injection for supervision tests and chaos drills: the actor panics while handling it.
    InjectPanic,
}

/// The secret store actor (holds nothing; its state is built in `pre_start`).
#[derive(Debug, Default)]
pub struct SecretStore;

/// Start-up arguments (also used on every restart).
#[derive(Clone)]
pub struct SecretStoreArgs {
    /// The published key ring.
    pub keyring: SharedKeyRing,
    /// The mailbox counter shared with the handle.
    pub mailbox: Arc<Mailbox>,
}

/// The actor's state.
pub struct SecretStoreState {
    keyring: SharedKeyRing,
    mailbox: Arc<Mailbox>,
}

impl Actor for SecretStore {
    type Msg = SecretStoreMsg;
    type State = SecretStoreState;
    type Arguments = SecretStoreArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        args.mailbox.reset();
        Ok(SecretStoreState { keyring: args.keyring, mailbox: args.mailbox })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let _handling = state.mailbox.begin_handling();
        match message {
            SecretStoreMsg::Status(reply) => {
                let _ = reply.send(state.keyring.load().status());
            }
            SecretStoreMsg::InjectPanic => panic!("fault injected into {NAME}"),
        }
        Ok(())
    }
}

/// The typed handle the gateway holds.
#[derive(Clone, Debug)]
pub struct SecretStoreHandle {
    slot: Arc<ActorSlot<SecretStoreMsg>>,
    keyring: SharedKeyRing,
}

impl SecretStoreHandle {
    /// A handle over `keyring`; the actor is started by the supervisor from [`Self::child_spec`].
    #[must_use]
    pub fn new(keyring: KeyRing, mailbox_capacity: usize, call_timeout: Duration) -> Self {
        Self { slot: ActorSlot::new(NAME, mailbox_capacity, call_timeout), keyring: keyring.shared() }
    }

    /// The shared key ring itself, for other actors that sign or verify with it.
    #[must_use]
    pub fn shared_keyring(&self) -> SharedKeyRing {
        Arc::clone(&self.keyring)
    }

    /// The current key ring, read without a round-trip (request path).
    #[must_use]
    pub fn keyring(&self) -> Arc<KeyRing> {
        self.keyring.load_full()
    }

    /// Every version of every secret, without values.
    ///
    /// # Errors
    /// The actor is not running, overloaded or too slow.
    pub async fn status(&self) -> Result<Vec<VersionStatus>, CallError> {
        self.slot.call(SecretStoreMsg::Status).await
    }

    /// Makes the actor panic (supervision tests, chaos drills).
    ///
    /// # Errors
    /// The actor is not running or overloaded.
    pub fn inject_panic(&self) -> Result<(), CallError> {
        self.slot.cast(SecretStoreMsg::InjectPanic)
    }

    /// How the supervisor starts (and restarts) the actor.
    #[must_use]
    pub fn child_spec(&self) -> ChildSpec {
        let args = SecretStoreArgs { keyring: Arc::clone(&self.keyring), mailbox: self.slot.mailbox() };
        self.slot.child_spec::<SecretStore>(args)
    }
}
