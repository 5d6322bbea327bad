//! The readiness owner: it holds the probes of the backing components (database, cache, object store, bus)
//! and answers how each is doing, every probe bounded by [`CHECK_TIMEOUT`]. `/readyz` asks it, and asks the
//! actors' handles whether they run; it never reaches a backend itself.

use std::sync::Arc;
use std::time::Duration;

use crate::ports::Unavailable;
use crate::ports::bus::Bus;
use crate::ports::cache::Cache;
use crate::ports::jobs::JobStore;
use crate::ports::objects::ObjectStore;

/// Each probe gets this long.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One backend's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Which implementation answered (`sqlite`, `postgres`, `redis`, …).
    pub backend: &'static str,
    /// `Err` with the reason (safe to show operators) when it is down.
    pub outcome: Result<(), String>,
}

/// The backends' answers, probed together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendHealth {
    /// The database (probed through the job store).
    pub database: Probe,
    /// The shared cache.
    pub cache: Probe,
    /// The object store.
    pub objects: Probe,
    /// The event bus.
    pub bus: Probe,
}

/// The readiness owner. Cheap to clone.
#[derive(Clone)]
pub struct Readiness {
    /// The database probe (every SQL port shares one pool; the job store stands for it).
    database: Arc<dyn JobStore>,
    /// The shared cache.
    cache: Arc<dyn Cache>,
    /// The object store.
    objects: Arc<dyn ObjectStore>,
    /// The event bus.
    bus: Arc<dyn Bus>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness").finish_non_exhaustive()
    }
}

async fn probe<F>(backend: &'static str, fut: F) -> Probe
where
    F: Future<Output = Result<(), Unavailable>>,
{
    let outcome = match tokio::time::timeout(CHECK_TIMEOUT, fut).await {
        Ok(result) => result.map_err(|e| e.0),
        Err(_) => Err(format!("no answer within {}s", CHECK_TIMEOUT.as_secs())),
    };
    Probe { backend, outcome }
}

impl Readiness {
    /// Probes over these backends.
    #[must_use]
    pub fn new(
        database: Arc<dyn JobStore>,
        cache: Arc<dyn Cache>,
        objects: Arc<dyn ObjectStore>,
        bus: Arc<dyn Bus>,
    ) -> Self {
        Self { database, cache, objects, bus }
    }

    /// Probes every backend at once.
    pub async fn check(&self) -> BackendHealth {
        let (database, cache, objects, bus) = tokio::join!(
            probe(self.database.backend(), self.database.health()),
            probe(self.cache.backend(), self.cache.health()),
            probe(self.objects.backend(), async {
                self.objects.health().await.map_err(|e| Unavailable::new(e.to_string()))
            }),
            probe(self.bus.backend(), self.bus.health()),
        );
        BackendHealth { database, cache, objects, bus }
    }
}
