//! What the SQLite and Postgres adapters share, written once. Each port's logic lives once in a submodule
//! (`sql/jobs.rs`, …) as `impl<D: …> Port for SqlPort<D>`; the backend folders (`sqlite/`, `postgres/`) only
//! add what really differs (dialect SQL, constraint detection). Every query uses `$N` placeholders, which
//! sqlx-sqlite also understands (`$N` binds argument N, and a number used twice binds once), so one SQL text
//! serves both backends.
//!
//! | file | owns |
//! |---|---|
//! | `sql/errors.rs` | the start-up error [`DbError`](errors::DbError), `sqlx` errors as safe [`Unavailable`](gantry_actors::ports::Unavailable) reasons |
//! | `sql/values.rs` | the [`Value`](values::Value)s port code binds, the `args!` list of them |
//! | `sql/rows.rs` | the [`SqlRow`](rows::SqlRow) getters each backend implements, [`Fields`](rows::Fields) reading a record's columns |
//! | `sql/exec.rs` | the [`Exec`](exec::Exec)/[`SqlDb`](exec::SqlDb) seams each backend implements, the pool helpers |
//! | `sql/{jobs,accounts,sessions,uploads,catalog,rotations,multiparts}.rs` | one port each |
//! | this file | [`SqlPorts`] (one handle per port on a database) and the [`Database`] handle start-up closes |
//!
//! The port files import the four shared files (and `jobs.rs`, whose enqueue they share), never this file.

pub mod accounts;
pub mod catalog;
pub mod errors;
pub mod exec;
pub mod jobs;
pub mod multiparts;
pub mod rotations;
pub mod rows;
pub mod sessions;
pub mod uploads;
pub mod values;

use std::sync::Arc;

use async_trait::async_trait;
use gantry_actors::ports::accounts::AccountStore;
use gantry_actors::ports::catalog::CatalogStore;
use gantry_actors::ports::jobs::{DueSignal, JobStore};
use gantry_actors::ports::objects::MultipartLedger;
use gantry_actors::ports::rotations::{Fleet, RotationStore};
use gantry_actors::ports::sessions::SessionStore;
use gantry_actors::ports::uploads::UploadStore;

/// One handle per port on one database. Every handle shares the database's pool; none of them closes it
/// (the database handle does, once, at shutdown).
#[derive(Clone)]
pub struct SqlPorts {
    /// Jobs.
    pub jobs: Arc<dyn JobStore>,
    /// Users, epochs, revocation notices.
    pub accounts: Arc<dyn AccountStore>,
    /// Sessions (production keeps them in Redis; the SQL store serves the local profile and tests).
    pub sessions: Arc<dyn SessionStore>,
    /// Upload metadata.
    pub uploads: Arc<dyn UploadStore>,
    /// The listing-form catalog.
    pub catalog: Arc<dyn CatalogStore>,
    /// Rotation evidence.
    pub rotations: Arc<dyn RotationStore>,
    /// Instance heartbeats.
    pub fleet: Arc<dyn Fleet>,
    /// S3 multipart uploads under way (the production object store's ledger).
    pub multiparts: Arc<dyn MultipartLedger>,
    /// What the stores that enqueue jobs tell after a commit that made jobs due (start-up attaches the
    /// runners' wake-up).
    pub due: Arc<DueSignal>,
}

impl SqlPorts {
    /// The ports of `db`.
    pub fn new<D>(db: &D) -> Self
    where
        D: accounts::AccountsDialect
            + sessions::SessionsDialect
            + catalog::CatalogDialect
            + rotations::FleetDialect
            + jobs::JobsDialect,
    {
        // One signal for every store that enqueues: start-up attaches the runners' wake-up to it.
        let due = Arc::new(DueSignal::default());
        Self {
            jobs: Arc::new(jobs::SqlJobs::new(db.clone()).with_due(Arc::clone(&due))),
            accounts: Arc::new(accounts::SqlAccounts::new(db.clone()).with_due(Arc::clone(&due))),
            sessions: Arc::new(sessions::SqlSessions::new(db.clone())),
            uploads: Arc::new(uploads::SqlUploads::new(db.clone()).with_due(Arc::clone(&due))),
            catalog: Arc::new(catalog::SqlCatalog::new(db.clone())),
            rotations: Arc::new(rotations::SqlRotations::new(db.clone()).with_due(Arc::clone(&due))),
            fleet: Arc::new(rotations::SqlFleet::new(db.clone())),
            multiparts: Arc::new(multiparts::SqlMultiparts::new(db.clone())),
            due,
        }
    }
}

/// A database handle as start-up holds it: closed once, at shutdown, after every port is done with it.
#[async_trait]
pub trait Database: Send + Sync + 'static {
    /// Closes the pool (waits for checked-out connections to come back).
    async fn close(&self);
}
