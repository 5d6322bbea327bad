//! The typed front door of an actor: a slot holding the current `ActorRef` (the supervisor swaps it on
//! restart), the mailbox bound, and calls with timeouts. Handles are cheap to clone and are what the gateway
//! holds; it never looks actors up by name.
//!
//! Mailbox accounting happens here, once per message: every message travels in an [`Envelope`] that says
//! whether its sender reserved a mailbox place (calls and casts through the slot) or not (timers and the
//! actor's own messages), and an actor's `handle` opens the envelope once, before it matches on the message.
//! No arm can forget to free its place.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use ractor::rpc::CallResult;
use ractor::{ActorRef, Message, RpcReplyPort};

use crate::telemetry::{HandlingGuard, Mailbox};

/// A message on its way to an actor, with the one fact the mailbox accounting needs: whether its sender
/// reserved a mailbox place for it. Every actor behind an [`ActorSlot`] has `type Msg = Envelope<…>`.
#[derive(Debug)]
pub struct Envelope<M> {
    /// The message itself.
    msg: M,
    /// Whether a place was reserved (sent through the slot); timers and the actor's own messages hold none.
    reserved: bool,
}

impl<M> Envelope<M> {
    /// A message the actor sends itself (a timer, a finished background task, a forwarded bus event): it holds
    /// no mailbox place, so opening it frees none.
    #[must_use]
    pub fn internal(msg: M) -> Self {
        Self { msg, reserved: false }
    }

    /// A message sent through the slot, which reserved its place.
    fn reserved(msg: M) -> Self {
        Self { msg, reserved: true }
    }

    /// Opens the envelope as the actor starts handling it: frees its mailbox place (if it held one) and starts
    /// the handling clock; the guard counts the message and records its handling time when it drops (also
    /// when the handler panics). Call it once, first thing in `handle`.
    #[must_use]
    pub fn open(self, mailbox: &Mailbox) -> (M, HandlingGuard) {
        let guard = if self.reserved { mailbox.begin_handling() } else { mailbox.begin_internal() };
        (self.msg, guard)
    }
}

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
    current: ArcSwapOption<ActorRef<Envelope<M>>>,
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

    /// How long a call waits for its answer.
    #[must_use]
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// The actor's label.
    #[must_use]
    pub fn actor(&self) -> &'static str {
        self.mailbox.actor()
    }

    /// Points the slot at a (re)started actor.
    pub fn set(&self, actor: ActorRef<Envelope<M>>) {
        self.current.store(Some(Arc::new(actor)));
    }

    /// Empties the slot (the actor stopped or failed).
    pub fn clear(&self) {
        self.current.store(None);
    }

    /// The actor's current reference, if it runs.
    #[must_use]
    pub fn current(&self) -> Option<ActorRef<Envelope<M>>> {
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
        actor.cast(Envelope::reserved(msg)).map_err(|_| {
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
        match actor.call(|reply| Envelope::reserved(build(reply)), Some(self.call_timeout)).await {
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
        A: ractor::Actor<Msg = Envelope<M>> + Default,
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

    /// [`Self::child_spec`], the actor spawned on the runtime of `runtime` (its task, and what it spawns,
    /// run there) instead of the supervisor's.
    #[must_use]
    pub fn child_spec_on<A>(
        self: &Arc<Self>,
        args: A::Arguments,
        runtime: tokio::runtime::Handle,
    ) -> crate::supervisor::ChildSpec
    where
        A: ractor::Actor<Msg = Envelope<M>> + Default,
        A::Arguments: Clone + Sync,
    {
        let spec = self.child_spec::<A>(args);
        let start = Arc::clone(&spec.start);
        crate::supervisor::ChildSpec {
            start: Arc::new(move |supervisor| {
                let started = runtime.spawn(start(supervisor));
                Box::pin(async move {
                    started
                        .await
                        .map_err(|e| ractor::SpawnErr::StartupFailed(format!("spawning on its runtime: {e}").into()))?
                })
            }),
            ..spec
        }
    }
}

#[cfg(test)]
mod tests {
    use ractor::Actor;

    use super::*;

    /// A tiny actor that answers how many messages wait in its mailbox while it handles one.
    #[derive(Default)]
    struct Echo;

    enum EchoMsg {
        Depth(RpcReplyPort<usize>),
    }

    impl Actor for Echo {
        type Msg = Envelope<EchoMsg>;
        type State = Arc<Mailbox>;
        type Arguments = Arc<Mailbox>;

        async fn pre_start(
            &self,
            _myself: ActorRef<Self::Msg>,
            mailbox: Self::Arguments,
        ) -> Result<Self::State, ractor::ActorProcessingErr> {
            Ok(mailbox)
        }

        async fn handle(
            &self,
            _myself: ActorRef<Self::Msg>,
            envelope: Self::Msg,
            mailbox: &mut Self::State,
        ) -> Result<(), ractor::ActorProcessingErr> {
            let (message, _handling) = envelope.open(mailbox);
            match message {
                EchoMsg::Depth(reply) => {
                    let _ = reply.send(mailbox.depth());
                }
            }
            Ok(())
        }
    }

    /// Opening a message the slot sent frees its place; the actor's own messages hold none and free none.
    #[test]
    fn opening_frees_only_a_reserved_place() {
        let mailbox = Mailbox::new("envelope_test", 4);
        assert!(mailbox.try_reserve());
        assert!(mailbox.try_reserve());
        let (_, handling) = Envelope::internal(()).open(&mailbox);
        drop(handling);
        assert_eq!(mailbox.depth(), 2, "an internal message frees no place");
        let (_, handling) = Envelope::reserved(()).open(&mailbox);
        drop(handling);
        assert_eq!(mailbox.depth(), 1, "a reserved message frees its own place");
    }

    /// Calls and casts through the slot leave the mailbox empty once handled: no arm has to account for itself.
    #[tokio::test]
    async fn calls_and_casts_through_the_slot_give_their_places_back() {
        let slot: Arc<ActorSlot<EchoMsg>> = ActorSlot::new("envelope_echo", 2, Duration::from_secs(2));
        let (actor, handle) = Actor::spawn(None, Echo, slot.mailbox()).await.expect("spawn");
        slot.set(actor.clone());
        for _ in 0..10 {
            let during = slot.call(EchoMsg::Depth).await.expect("answered");
            assert_eq!(during, 0, "the place is freed when handling starts");
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let port: RpcReplyPort<usize> = tx.into();
        slot.cast(EchoMsg::Depth(port)).expect("cast");
        assert_eq!(rx.await.expect("answered"), 0);
        assert_eq!(slot.mailbox().depth(), 0, "nothing is left reserved after ten calls and a cast");
        actor.stop(None);
        handle.await.expect("stopped");
    }
}
