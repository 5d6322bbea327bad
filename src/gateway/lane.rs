//! The password lane: the password routes (login, registration, password change) run on a runtime of their
//! own, one thread (`gantry-passwords`) and its blocking pool for the hashes, not on the runtime that serves
//! every connection.
//!
//! Why (issue 24, measured with `bench/login_storm.sh`'s mixed flood): under a flood of cheap requests
//! (an authenticated `GET /v1/auth/me` from thousands of connections) the serving runtime always has hundreds of
//! connection tasks ready. Its local queues overflow into its shared queue, and a task woken from another thread
//! — a login whose account look-up, hash or database write just finished — is queued behind all of them: each
//! such wake-up cost ~150 ms, a login has several, and its hashing slot was held through them. Logins fell to
//! 2 % of their capacity while the cheap flood was served at full speed (the session's creation alone took
//! ~1 s: the session registry actor's every database write came back through that queue). So the password
//! routes and the session registry actor run here: a login's own steps wake a thread that serves nothing else,
//! and the serving runtime sees it twice (its body arriving, its answer leaving). Refreshes and logouts, which
//! go to the registry too, gain the same.
//!
//! The lane's thread only awaits (look-ups, slots, database writes); the hashes run on its blocking pool, bounded
//! by the hashing slots (`sessions.max_concurrent_hashes`), so the lane never blocks. Written here rather than
//! taken from a crate: it is a tokio runtime on a named thread and a spawn.

use std::future::Future;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::problem::ApiError;

/// The password lane (see the module docs). Stops its thread when dropped; work still running then is dropped
/// (answered 503 `overloaded` + `Retry-After`), as at the end of a shutdown's drain.
#[derive(Debug)]
pub struct PasswordLane {
    handle: Handle,
    /// Dropping it ends the lane's runtime.
    _stop: oneshot::Sender<()>,
}

impl PasswordLane {
    /// Starts the lane's thread; its blocking pool holds at most `blocking_threads` threads (the hashes and
    /// the SQLite adapter's blocking calls).
    ///
    /// # Errors
    /// The thread or its runtime could not be created.
    pub fn start(blocking_threads: usize) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("gantry-passwords")
            .max_blocking_threads(blocking_threads.max(1))
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new().name("gantry-passwords".into()).spawn(move || {
            // Returns when the lane is dropped; the runtime is dropped here, outside any async context.
            let _ = runtime.block_on(stopped);
            runtime.shutdown_timeout(Duration::from_secs(1));
        })?;
        tracing::debug!("password lane started");
        Ok(Self { handle, _stop: stop })
    }

    /// The lane's runtime (the session registry actor is spawned on it).
    #[must_use]
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Runs `work` on the lane and waits for its answer.
    ///
    /// # Errors
    /// The lane stopped before `work` finished (a shutdown): 503 `overloaded`.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: Future<Output = Result<T, ApiError>> + Send + 'static,
        T: Send + 'static,
    {
        match self.handle.spawn(work).await {
            Ok(answer) => answer,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(ApiError::Unavailable {
                code: "overloaded",
                reason: "the server is shutting down; retry shortly".into(),
                retry_after: Duration::from_secs(1),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Work runs on the lane's own thread, answers come back, and a panic there reaches the caller as one.
    #[tokio::test]
    async fn work_runs_on_the_lane_thread() {
        let lane = PasswordLane::start(2).unwrap();
        let name = lane.run(async { Ok(std::thread::current().name().map(str::to_owned)) }).await.unwrap();
        assert_eq!(name.as_deref(), Some("gantry-passwords"));
        let hashed = lane
            .run(async { Ok(tokio::task::spawn_blocking(|| std::thread::current().name().map(str::to_owned)).await) })
            .await
            .unwrap()
            .unwrap();
        assert_ne!(hashed.as_deref(), Some("tokio-runtime-worker"), "blocking work runs on the lane's pool");
        let panicked = tokio::spawn(async move { lane.run(async { panic!("boom") as Result<(), ApiError> }).await });
        assert!(panicked.await.unwrap_err().is_panic());
    }
}
