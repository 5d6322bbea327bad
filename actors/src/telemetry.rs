//! Per-actor metrics, labelled `actor="…"`: messages handled, handling time, mailbox depth, restarts, up.
//!
//! ractor has no mailbox-length API, so depth is counted where messages are sent (the handle, which also
//! refuses to send past the mailbox capacity) and where they are handled (the actor).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Metric names, one place, so dashboards and tests agree.
pub mod names {
    /// Counter: messages an actor handled.
    pub const MESSAGES: &str = "gantry_actor_messages_total";
    /// Histogram: seconds spent handling one message.
    pub const HANDLE_SECONDS: &str = "gantry_actor_handle_seconds";
    /// Gauge: messages sent but not yet handled.
    pub const MAILBOX_DEPTH: &str = "gantry_actor_mailbox_depth";
    /// Gauge: the most messages that may wait (`actors.mailbox_capacity`); depth near it means shedding soon.
    pub const MAILBOX_CAPACITY: &str = "gantry_actor_mailbox_capacity";
    /// Counter: restarts after a failure.
    pub const RESTARTS: &str = "gantry_actor_restarts_total";
    /// Gauge: 1 while the actor runs, 0 otherwise.
    pub const UP: &str = "gantry_actor_up";
}

/// The mailbox counter shared by an actor's handle (sender side) and the actor (receiver side).
#[derive(Debug)]
pub struct Mailbox {
    /// The actor's metric label.
    actor: &'static str,
    /// Messages sent and not yet handled.
    depth: AtomicUsize,
    /// The most messages that may wait; senders are refused beyond it.
    capacity: usize,
}

impl Mailbox {
    /// A mailbox counter for `actor` holding at most `capacity` waiting messages.
    #[must_use]
    pub fn new(actor: &'static str, capacity: usize) -> Arc<Self> {
        let mailbox = Arc::new(Self { actor, depth: AtomicUsize::new(0), capacity: capacity.max(1) });
        // Registered at zero now, so dashboards and `rate()` see the actor before its first message.
        metrics::counter!(names::MESSAGES, "actor" => actor).absolute(0);
        let _ = metrics::histogram!(names::HANDLE_SECONDS, "actor" => actor);
        metrics::gauge!(names::MAILBOX_CAPACITY, "actor" => actor).set(mailbox.capacity as f64);
        mailbox.publish();
        mailbox
    }

    /// The actor's label.
    #[must_use]
    pub fn actor(&self) -> &'static str {
        self.actor
    }

    /// Reserves a place for one message; `false` when the mailbox is full (the caller sheds the work).
    pub fn try_reserve(&self) -> bool {
        let reserved = self
            .depth
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| (d < self.capacity).then_some(d + 1))
            .is_ok();
        if reserved {
            self.publish();
        }
        reserved
    }

    /// Gives back a place: the message was handled, or never delivered.
    pub fn release(&self) {
        // Saturating: a message that was never reserved (sent by the runtime) must not wrap the counter.
        let _ = self.depth.fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| Some(d.saturating_sub(1)));
        self.publish();
    }

    /// Forgets waiting messages: a restarted actor starts with an empty mailbox.
    pub fn reset(&self) {
        self.depth.store(0, Ordering::Release);
        self.publish();
    }

    /// Messages waiting now.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.depth.load(Ordering::Acquire)
    }

    fn publish(&self) {
        metrics::gauge!(names::MAILBOX_DEPTH, "actor" => self.actor).set(self.depth() as f64);
    }

    /// Marks the start of handling one message: frees its mailbox place now and, when the returned guard
    /// drops, counts the message and records how long it took.
    #[must_use]
    pub fn begin_handling(&self) -> HandlingGuard {
        self.release();
        HandlingGuard { actor: self.actor, started: Instant::now() }
    }

    /// Like [`Mailbox::begin_handling`] for a message the actor sent itself (timers, bus forwarding): it
    /// never reserved a place, so none is freed.
    #[must_use]
    pub fn begin_internal(&self) -> HandlingGuard {
        HandlingGuard { actor: self.actor, started: Instant::now() }
    }
}

/// Records one handled message when dropped (also when the handler panicked).
#[derive(Debug)]
pub struct HandlingGuard {
    actor: &'static str,
    started: Instant,
}

impl Drop for HandlingGuard {
    fn drop(&mut self) {
        metrics::counter!(names::MESSAGES, "actor" => self.actor).increment(1);
        metrics::histogram!(names::HANDLE_SECONDS, "actor" => self.actor).record(self.started.elapsed().as_secs_f64());
    }
}

/// Sets the `up` gauge of `actor`.
pub fn set_up(actor: &'static str, up: bool) {
    metrics::gauge!(names::UP, "actor" => actor).set(if up { 1.0 } else { 0.0 });
}

/// Counts `n` restarts of `actor` (0 registers the series).
pub fn count_restarts(actor: &'static str, n: u64) {
    metrics::counter!(names::RESTARTS, "actor" => actor).increment(n);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full mailbox refuses more work instead of growing without bound.
    #[test]
    fn mailbox_refuses_beyond_capacity_and_frees_on_handling() {
        let mailbox = Mailbox::new("test", 2);
        assert!(mailbox.try_reserve());
        assert!(mailbox.try_reserve());
        assert!(!mailbox.try_reserve(), "third message must be refused");
        drop(mailbox.begin_handling());
        assert_eq!(mailbox.depth(), 1);
        assert!(mailbox.try_reserve());
    }

    /// Releasing more than was reserved never wraps the counter.
    #[test]
    fn mailbox_release_saturates_at_zero() {
        let mailbox = Mailbox::new("test", 1);
        mailbox.release();
        assert_eq!(mailbox.depth(), 0);
    }
}
