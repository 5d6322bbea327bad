//! The job runners' wake-up: when a committed write made jobs due (the stores tell it through
//! [`DueSignal`](crate::ports::jobs::DueSignal), after the commit, never inside it), this instance's runner is
//! nudged and every other instance hears [`Event::JobsEnqueued`] on the bus and nudges its own. A nudged runner
//! claims the queue at once if it has room (and right after a place frees up if it has none).
//!
//! Nothing here can slow or fail the write that enqueued: [`JobsDue::due`] only marks the queue in a small set
//! and wakes a task. The tasks coalesce: each queue is nudged, and announced on the bus, at most once per
//! `coalesce` period by this instance, however many jobs were enqueued meanwhile, so a burst costs a bounded
//! number of mailbox and bus messages. A failed or lost announcement is logged and counted; the runners' poll
//! (`jobs.poll_ms`) stays the fallback, and it alone covers jobs scheduled for later (`run_at` in the future)
//! and leases rescued after their instance died.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::runner::JobRunnerHandle;
use crate::ports::bus::{Bus, BusSignal, Event, forward_from};
use crate::ports::jobs::JobsDue;

/// Queues waiting to be acted on by one of the wake-up's tasks.
#[derive(Default)]
struct Pending {
    /// The queues marked since the task last took them (each once; queue names come from the kinds, a few).
    queues: Mutex<Vec<String>>,
    /// Wakes the task (a permit is kept when it is busy, so no mark is missed).
    notify: Notify,
}

impl Pending {
    fn mark(&self, queue: &str) {
        {
            // A std mutex: held for a push, never across an await.
            let mut queues = self.queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if queues.iter().any(|q| q == queue) {
                return;
            }
            queues.push(queue.to_owned());
        }
        self.notify.notify_one();
    }

    /// Waits until a queue is marked; returns (and clears) every marked queue.
    async fn take(&self) -> Vec<String> {
        loop {
            {
                let mut queues = self.queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if !queues.is_empty() {
                    return std::mem::take(&mut *queues);
                }
            }
            self.notify.notified().await;
        }
    }
}

struct Inner {
    /// Queues to nudge this instance's runner for.
    local: Pending,
    /// Queues to announce to the other instances.
    remote: Pending,
}

/// The wake-up of this instance (a [`JobsDue`]), shared by the stores' signal and its tasks.
#[derive(Clone)]
pub struct JobWaker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for JobWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobWaker").finish_non_exhaustive()
    }
}

impl Default for JobWaker {
    fn default() -> Self {
        Self::new()
    }
}

impl JobsDue for JobWaker {
    fn due(&self, queue: &str) {
        self.inner.local.mark(queue);
        self.inner.remote.mark(queue);
    }
}

/// The wake-up's tasks: stopped by [`WakerTasks::stop`] or when dropped.
#[derive(Debug, Default)]
pub struct WakerTasks {
    tasks: Vec<JoinHandle<()>>,
}

impl WakerTasks {
    /// Stops every task (marks made afterwards are left to the poll).
    pub fn stop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for WakerTasks {
    fn drop(&mut self) {
        self.stop();
    }
}

impl JobWaker {
    /// A wake-up that marks queues until [`Self::start`] runs its tasks.
    #[must_use]
    pub fn new() -> Self {
        Self { inner: Arc::new(Inner { local: Pending::default(), remote: Pending::default() }) }
    }

    /// Starts the tasks: announcing this instance's due queues on `bus`, and — when this process has a
    /// `runner` — nudging it for its own due queues and for those other instances announce. Each queue is
    /// acted on at most once per `coalesce` per task.
    #[must_use]
    pub fn start(&self, bus: Arc<dyn Bus>, runner: Option<JobRunnerHandle>, coalesce: Duration) -> WakerTasks {
        let mut tasks = Vec::new();
        let inner = Arc::clone(&self.inner);
        let announcer = Arc::clone(&bus);
        tasks.push(tokio::spawn(async move {
            // Logged when announcing starts failing and when it works again, counted every time.
            let mut failing = false;
            loop {
                let queues = inner.remote.take().await;
                // The next round may start `coalesce` after this one started (the broker's confirm counts).
                let next = tokio::time::Instant::now() + coalesce;
                for queue in queues {
                    failing = announce(announcer.as_ref(), queue, failing).await;
                }
                tokio::time::sleep_until(next).await;
            }
        }));
        if let Some(runner) = runner {
            let inner = Arc::clone(&self.inner);
            tasks.push(tokio::spawn(async move {
                loop {
                    let queues = inner.local.take().await;
                    let next = tokio::time::Instant::now() + coalesce;
                    for queue in queues {
                        runner.nudge(&queue);
                    }
                    tokio::time::sleep_until(next).await;
                }
            }));
            let inner = Arc::clone(&self.inner);
            let me = bus.instance_id();
            // The wake-ups' own subscription: the bus's other subscribers never see them.
            tasks.push(forward_from(bus.subscribe_wakeups(), move |signal| {
                if let BusSignal::Message(envelope) = signal
                    && let Event::JobsEnqueued { queue } = envelope.event
                    && envelope.origin != me
                {
                    metrics::counter!("gantry_jobs_wake_received_total").increment(1);
                    inner.local.mark(&queue);
                }
                true
            }));
        }
        WakerTasks { tasks }
    }
}

/// Announces that jobs of `queue` are due; a failure is counted, and logged when it is the first since the
/// last success (`failing`: the previous announcement failed) — the other instances' poll finds the jobs
/// instead. Returns whether this one failed.
async fn announce(bus: &dyn Bus, queue: String, failing: bool) -> bool {
    match bus.publish(Event::JobsEnqueued { queue: queue.clone() }).await {
        Ok(()) => {
            metrics::counter!("gantry_jobs_wake_published_total").increment(1);
            if failing {
                tracing::info!(queue, "announcing due jobs on the bus works again");
            }
            false
        }
        Err(err) => {
            metrics::counter!("gantry_jobs_wake_publish_errors_total").increment(1);
            if !failing {
                tracing::warn!(queue, error = %err,
                    "announcing due jobs on the bus failed; other instances find them at their next poll \
                     (further failures are counted in gantry_jobs_wake_publish_errors_total until it works again)");
            }
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of marks of one queue is taken once; marks made while the task is busy are not lost.
    #[tokio::test]
    async fn marks_coalesce_and_none_is_lost() {
        let pending = Pending::default();
        for _ in 0..100 {
            pending.mark("default");
        }
        pending.mark("media");
        assert_eq!(pending.take().await, ["default", "media"]);
        pending.mark("default");
        let taken = tokio::time::timeout(Duration::from_secs(5), pending.take()).await;
        assert_eq!(taken.expect("a mark made after a take wakes the next take"), ["default"]);
    }
}
