//! The typed front door of an actor: a slot holding the current `ActorRef` (the supervisor swaps it on
//! restart), the mailbox bound, and calls with timeouts. Handles are cheap to clone and are what the gateway
//! holds; it never looks actors up by name.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use ractor::rpc::CallResult;
use ractor::{ActorRef, Message, RpcReplyPort};

use crate::telemetry::Mailbox;

/// Why a message could not be delivered or answered. Callers map all three to 503 + `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The actor is not running (starting, restarting or stopped).
    #[error("actor {0} is not running")]
    NotRunning(&'static str),
    /// The actor's mailbox is full.
    #[error("actor {0} is overloaded")]
    Overloaded(&'static str),
    /// The actor did not answer in time.
    #[error("actor {0} did not answer in time")]
    Timeout(&'static str),
}

/// Where an actor can be reached. Shared by the actor's handle and the supervisor that (re)starts it.
pub struct ActorSlot<M: Message> {
    current: ArcSwapOption<ActorRef<M>>,
    mailbox: Arc<Mailbox>,
    call_timeout: Duration,
}

impl<M: Message> std::fmt::Debug for ActorSlot<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorSlot")
            .field("actor", &self.mailbox.actor())
            .field("running", &self.current.load().is_some())
            .finish_non_exhaustive()
    }
}

impl<M: Message> ActorSlot<M> {
    /// An empty slot for `actor` with a mailbox of `capacity` and calls that time out after `call_timeout`.
    #[must_use]
    pub fn new(actor: &'static str, capacity: usize, call_timeout: Duration) -> Arc<Self> {
        Arc::new(Self { current: ArcSwapOption::empty(), mailbox: Mailbox::new(actor, capacity), call_timeout })
    }

    /// The mailbox counter (the actor releases places as it handles messages).
    #[must_use]
    pub fn mailbox(&self) -> Arc<Mailbox> {
        Arc::clone(&self.mailbox)
    }

    /// The actor's label.
    #[must_use]
    pub fn actor(&self) -> &'static str {
        self.mailbox.actor()
    }

    /// Points the slot at a (re)started actor.
    pub fn set(&self, actor: ActorRef<M>) {
        self.current.store(Some(Arc::new(actor)));
    }

    /// Empties the slot (the actor stopped or failed).
    pub fn clear(&self) {
        self.current.store(None);
    }

    /// The actor's current reference, if it runs.
    #[must_use]
    pub fn current(&self) -> Option<ActorRef<M>> {
        self.current.load_full().map(|a| (*a).clone())
    }

    /// Sends a message without waiting for an answer.
    ///
    /// # Errors
    /// [`CallError::NotRunning`] or [`CallError::Overloaded`].
    pub fn cast(&self, msg: M) -> Result<(), CallError> {
        let actor = self.current().ok_or(CallError::NotRunning(self.actor()))?;
        if !self.mailbox.try_reserve() {
            return Err(CallError::Overloaded(self.actor()));
        }
        actor.cast(msg).map_err(|_| {
            self.mailbox.release();
            CallError::NotRunning(self.actor())
        })
    }

    /// Sends a request built by `build` and waits (at most the call timeout) for its answer.
    ///
    /// # Errors
    /// [`CallError`] when the actor is not running, overloaded, or too slow.
    pub async fn call<R, F>(&self, build: F) -> Result<R, CallError>
    where
        R: Send + 'static,
        F: FnOnce(RpcReplyPort<R>) -> M,
    {
        let actor = self.current().ok_or(CallError::NotRunning(self.actor()))?;
        if !self.mailbox.try_reserve() {
            return Err(CallError::Overloaded(self.actor()));
        }
        match actor.call(build, Some(self.call_timeout)).await {
            Ok(CallResult::Success(reply)) => Ok(reply),
            Ok(CallResult::Timeout) => Err(CallError::Timeout(self.actor())),
            // The reply port was dropped: the actor failed while handling our message.
            Ok(CallResult::SenderError) => Err(CallError::NotRunning(self.actor())),
            Err(_) => {
                self.mailbox.release();
                Err(CallError::NotRunning(self.actor()))
            }
        }
    }
}

impl<M: Message> ActorSlot<M> {
    /// How the supervisor starts (and restarts) actor `A` with `args` behind this slot: each start spawns a
    /// fresh `A` linked to the supervisor and points the slot at it; going down empties the slot.
    #[must_use]
    pub fn child_spec<A>(self: &Arc<Self>, args: A::Arguments) -> crate::supervisor::ChildSpec
    where
        A: ractor::Actor<Msg = M> + Default,
        A::Arguments: Clone + Sync,
    {
        let start_slot = Arc::clone(self);
        let down_slot = Arc::clone(self);
        crate::supervisor::ChildSpec {
            name: self.actor(),
            start: Arc::new(move |supervisor| {
                let args = args.clone();
                let slot = Arc::clone(&start_slot);
                Box::pin(async move {
                    let (actor, _join) = ractor::Actor::spawn_linked(None, A::default(), args, supervisor).await?;
                    slot.set(actor.clone());
                    Ok(actor.get_cell())
                })
            }),
            on_down: Arc::new(move || down_slot.clear()),
        }
    }
}
