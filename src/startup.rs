//! Builds the application: backends for the profile, the actor tree under the root supervisor, and both
//! listeners. The only place that creates pools, clients and actors; it hands typed handles to the gateway.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use gantry_actors::accounts::{AccountSettings, Accounts};
use gantry_actors::catalog::actor::{self as catalog_actor, CatalogDeps};
use gantry_actors::catalog::forms::empty_templates;
use gantry_actors::catalog::handle::CatalogHandle;
use gantry_actors::catalog::lists::empty_entries;
use gantry_actors::jobs::Jobs;
use gantry_actors::jobs::kinds::{self as job_kinds, KindDeps};
use gantry_actors::jobs::runner::{
    self as job_runner, JobRunnerHandle, RunnerDeps, RunnerSettings as JobRunnerSettings,
};
use gantry_actors::jobs::waker::{JobWaker, WakerTasks};
use gantry_actors::liveness::Continuity;
use gantry_actors::ports::accounts::AccountStore;
use gantry_actors::ports::bus::{Bus, Event};
use gantry_actors::ports::cache::Cache;
use gantry_actors::ports::catalog::CatalogStore;
use gantry_actors::ports::jobs::{DueSignal, JobStore};
use gantry_actors::ports::objects::ObjectStore;
use gantry_actors::ports::rotations::{Fleet, InstanceReport, ReportedSecret, RotationStore};
use gantry_actors::ports::secrets::SecretSource;
use gantry_actors::ports::sessions::SessionStore;
use gantry_actors::ports::uploads::UploadStore;
use gantry_actors::readiness::Readiness;
use gantry_actors::secrets::store::SecretStoreHandle;
use gantry_actors::secrets::{KeyRing, SecretName};
use gantry_actors::sessions::registry::{self as session_registry, RegistryDeps};
use gantry_actors::sessions::{RevocationView, SessionRegistryHandle};
use gantry_actors::supervisor::{RestartBudget, RootSupervisor, SupervisorArgs, SupervisorMsg};
use gantry_actors::telemetry::Mailbox;
use gantry_actors::uploads::handle::UploadPipelineHandle;
use gantry_actors::uploads::jobs::{self as upload_jobs, UploadKindDeps};
use gantry_actors::uploads::pipeline::{self as upload_pipeline, PipelineDeps};
use ractor::{Actor, ActorRef};
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio::sync::watch;
use uuid::Uuid;

use hyper::header::HeaderValue;

use crate::adapters::amqp::{AmqpBus, AmqpSettings};
use crate::adapters::fs::FsObjectStore;
use crate::adapters::memory::{MemoryBus, MemoryCache};
use crate::adapters::postgres::PostgresDb;
use crate::adapters::redis::{RedisCache, RedisSessionStore};
use crate::adapters::s3::{S3ObjectStore, S3Settings};
use crate::adapters::sql::{Database, SqlPorts};
use crate::adapters::sqlite::SqliteDb;
use crate::config::secrets::{EnvSource, SecretEnv};
use crate::config::{Profile, Settings};
use crate::gateway::lane::PasswordLane;
use crate::gateway::language::Languages;
use crate::gateway::router::Listener;
use crate::gateway::server;
use crate::gateway::state::{AppState, Shared};
use crate::telemetry;
use gantry_actors::secrets::rotation::{self, RotationDeps, RotationSettings, Rotations};

/// The backends of one profile, behind their ports. Handed to the owners at start-up; the gateway never
/// sees them (tests reach them through [`Application::backends`] to arrange scenarios).
#[derive(Clone)]
pub struct Backends {
    /// Jobs (SQLite or Postgres).
    pub jobs: Arc<dyn JobStore>,
    /// Users, epochs, revocation notices (SQLite or Postgres).
    pub accounts: Arc<dyn AccountStore>,
    /// Sessions (SQLite or Redis).
    pub sessions: Arc<dyn SessionStore>,
    /// Upload metadata (SQLite or Postgres).
    pub uploads: Arc<dyn UploadStore>,
    /// The listing-form catalog (SQLite or Postgres).
    pub catalog: Arc<dyn CatalogStore>,
    /// Cache (in-process or Redis).
    pub cache: Arc<dyn Cache>,
    /// Objects (folder or S3).
    pub objects: Arc<dyn ObjectStore>,
    /// Bus (in-process or RabbitMQ).
    pub bus: Arc<dyn Bus>,
    /// Where rotation re-reads secrets (the process environment and the files it names).
    pub secret_source: Arc<dyn SecretSource>,
    /// Rotation evidence.
    pub rotations: Arc<dyn RotationStore>,
    /// Instance heartbeats.
    pub fleet: Arc<dyn Fleet>,
    /// The database every database port above shares: closed once, at shutdown, after the actors stopped.
    pub database: Arc<dyn Database>,
    /// What the stores that enqueue jobs tell after the commit (the runners' wake-up is attached to it).
    pub due: Arc<DueSignal>,
}

/// The profile's database and the ports on it: the one place that picks SQLite or Postgres. `serve` opens it
/// through [`Backends::connect`]; every CLI command that touches storage (`migrate`, `users add`, `seed`)
/// opens it directly, so the CLI and the server always agree on which database a profile means.
pub struct Storage {
    /// The database ports (one handle each, sharing the database's pool).
    pub ports: SqlPorts,
    /// The database itself: closed once, after every port is done with it.
    pub database: Arc<dyn Database>,
}

impl Storage {
    /// Opens the database of `settings.profile` and applies its migrations.
    ///
    /// # Errors
    /// The database cannot be opened, reached or migrated (the reason names no credentials).
    pub async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        let storage = Self::open(settings).await?;
        // The data step SQL migrations cannot do: option identity keys computed by
        // `catalog::names::identity_key` (idempotent, recorded in `catalog_meta.identity_version`, done once
        // in one transaction even when instances start together).
        match storage.ports.catalog.upgrade_identity().await {
            Ok(Some(report)) => tracing::info!(
                event = "catalog_identity_upgraded",
                merged = report.merged.len(),
                rekeyed = report.rekeyed,
                version = report.version,
                "option identity keys recomputed; duplicates merged (their ids resolve to the survivors)"
            ),
            Ok(None) => {}
            Err(e) => anyhow::bail!("upgrading the catalog's option identity: {e}"),
        }
        Ok(storage)
    }

    async fn open(settings: &Settings) -> anyhow::Result<Self> {
        match settings.profile {
            Profile::Local => {
                let path = settings.sqlite_path();
                let db = SqliteDb::open(&path)
                    .await
                    .with_context(|| format!("opening the SQLite database {}", path.display()))?;
                Ok(Self { ports: db.ports(), database: Arc::new(db) })
            }
            Profile::Production => {
                let url = settings.database_url.as_ref().context("GANTRY_DATABASE_URL is not set")?;
                let db = PostgresDb::connect(url, settings.database.max_connections)
                    .await
                    .context("connecting to Postgres and running migrations")?;
                Ok(Self { ports: db.ports(), database: Arc::new(db) })
            }
        }
    }
}

impl Backends {
    /// Connects the backends of `settings.profile`: the database through [`Storage::connect`] (it must be
    /// reachable; migrations run), then the cache, object store and bus, which may come up later and are
    /// reported by `/readyz` meanwhile.
    ///
    /// # Errors
    /// The database cannot be opened or migrated, or a client cannot be built.
    pub async fn connect(settings: &Settings, keyring: &KeyRing, instance_id: Uuid) -> anyhow::Result<Self> {
        // The recorder first: adapters record from their constructors (the bus's `gantry_bus_connected`), and
        // whatever is recorded before a recorder exists is lost.
        let _ = telemetry::metrics_handle();
        let Storage { ports, database } = Storage::connect(settings).await?;
        let secret_source: Arc<dyn SecretSource> =
            Arc::new(EnvSource::new(settings.clone(), SecretEnv::from_process()));
        match settings.profile {
            Profile::Local => {
                let objects = FsObjectStore::open(settings.objects_dir())
                    .await
                    .with_context(|| format!("opening the object folder {}", settings.objects_dir().display()))?;
                if settings.catalog.seed_on_first_start
                    && ports.catalog.catalog_version().await.map_err(|e| anyhow::anyhow!("{e}"))? == 0
                {
                    let report = gantry_actors::catalog::seed::seed(ports.catalog.as_ref())
                        .await
                        .map_err(|e| anyhow::anyhow!("seeding the catalog: {e}"))?;
                    tracing::info!(event = "catalog_seeded", created = report.created, "loaded the seed catalog");
                }
                Ok(Self {
                    rotations: ports.rotations,
                    fleet: ports.fleet,
                    jobs: ports.jobs,
                    due: ports.due,
                    accounts: ports.accounts,
                    uploads: ports.uploads,
                    catalog: ports.catalog,
                    sessions: ports.sessions,
                    database,
                    cache: Arc::new(MemoryCache::new(settings.cache.max_entries)),
                    objects: Arc::new(objects),
                    bus: Arc::new(MemoryBus::new(instance_id, settings.bus.capacity)),
                    secret_source,
                })
            }
            Profile::Production => {
                let redis_url = settings.redis_url.as_ref().context("GANTRY_REDIS_URL is not set")?;
                let cache = RedisCache::connect(
                    redis_url,
                    settings.cache.pool_size,
                    Duration::from_millis(settings.cache.timeout_ms),
                )
                .context("building the Redis pool")?;
                let secret = |name: SecretName| {
                    keyring.current(name).map(|v| v.expose().to_owned()).with_context(|| format!("{name} is not set"))
                };
                let objects = S3ObjectStore::connect(S3Settings {
                    endpoint: settings.s3_endpoint.clone().context("GANTRY_S3_ENDPOINT is not set")?,
                    bucket: settings.s3_bucket.clone(),
                    region: settings.s3_region.clone(),
                    access_key_id: secret(SecretName::S3AccessKeyId)?,
                    secret_access_key: SecretString::from(secret(SecretName::S3SecretAccessKey)?),
                    part_size: settings.s3.part_size,
                    create_bucket: settings.s3.create_bucket,
                })
                .await
                .context("building the S3 client")?
                .with_ledger(Arc::clone(&ports.multiparts));
                let amqp_url = settings.amqp_url.as_ref().context("GANTRY_AMQP_URL is not set")?;
                let bus = AmqpBus::start(
                    AmqpSettings {
                        url: SecretString::from(amqp_url.expose_secret().to_owned()),
                        exchange: settings.bus.exchange.clone(),
                        connect_timeout: Duration::from_secs(settings.bus.connect_timeout_secs),
                        publish_timeout: Duration::from_secs(settings.bus.publish_timeout_secs),
                        capacity: settings.bus.capacity,
                    },
                    instance_id,
                );
                // Sessions stay in Redis in production (shared, expiring with the session); the database's
                // own session store is not used.
                let sessions = RedisSessionStore::new(&cache);
                Ok(Self {
                    rotations: ports.rotations,
                    fleet: ports.fleet,
                    jobs: ports.jobs,
                    due: ports.due,
                    uploads: ports.uploads,
                    catalog: ports.catalog,
                    accounts: ports.accounts,
                    database,
                    sessions: Arc::new(sessions),
                    cache: Arc::new(cache),
                    objects: Arc::new(objects),
                    bus: Arc::new(bus),
                    secret_source,
                })
            }
        }
    }

    /// Closes every backend once, in order: the bus (nothing more to announce or receive), the cache, then
    /// the database every database port shares. Called after the actors stopped.
    pub async fn close(&self) {
        self.bus.close().await;
        self.cache.close().await;
        self.database.close().await;
    }
}

/// A built application: listeners bound, actors running, not yet serving.
pub struct Application {
    http: TcpListener,
    admin: TcpListener,
    state: AppState,
    /// The ports, kept for the start announcement, closing at shutdown and tests; never handed to the gateway.
    backends: Backends,
    supervisor: ActorRef<SupervisorMsg>,
    fatal: watch::Receiver<Option<String>>,
    /// The job runner, drained at shutdown before the actor tree stops.
    runner: JobRunnerHandle,
    /// The runners' wake-up (stopped at shutdown, before the bus closes).
    waker: WakerTasks,
}

impl Application {
    /// Builds everything for `settings` with the validated `keyring`. Port 0 binds a free port (tests).
    ///
    /// # Errors
    /// A backend or listener cannot be set up.
    pub async fn build(settings: Settings, keyring: KeyRing) -> anyhow::Result<Self> {
        Self::build_with_secrets(settings, keyring, SecretEnv::from_process()).await
    }

    /// Like [`Application::build`], re-reading secrets during rotation from `env` (and the files it names)
    /// instead of the process environment.
    ///
    /// # Errors
    /// A backend or listener cannot be set up.
    pub async fn build_with_secrets(settings: Settings, keyring: KeyRing, env: SecretEnv) -> anyhow::Result<Self> {
        let instance_id = settings.instance_id.unwrap_or_else(Uuid::now_v7);
        let mut backends = Backends::connect(&settings, &keyring, instance_id).await?;
        backends.secret_source = Arc::new(EnvSource::new(settings.clone(), env));
        Self::build_with(settings, keyring, instance_id, backends).await
    }

    /// Like [`Application::build`] with backends built by the caller.
    ///
    /// # Errors
    /// A listener cannot be bound or the actors cannot start.
    pub async fn build_with(
        settings: Settings,
        keyring: KeyRing,
        instance_id: Uuid,
        backends: Backends,
    ) -> anyhow::Result<Self> {
        let metrics = telemetry::metrics_handle();
        telemetry::registry::register_known_series(telemetry::registry::BackendNames {
            bus: backends.bus.backend(),
            cache: backends.cache.backend(),
            objects: backends.objects.backend(),
            sessions: backends.sessions.backend(),
        });
        let call_timeout = Duration::from_millis(settings.actors.call_timeout_ms);
        let keyring = adopt_signing_keys(keyring, backends.rotations.as_ref(), &settings.sessions.tokens()).await?;
        let secrets = SecretStoreHandle::new(keyring, settings.actors.mailbox_capacity, call_timeout);
        let sessions = SessionRegistryHandle::new(
            RegistryDeps {
                accounts: Arc::clone(&backends.accounts),
                sessions: Arc::clone(&backends.sessions),
                bus: Arc::clone(&backends.bus),
                keyring: secrets.shared_keyring(),
                view: RevocationView::default().shared(),
                settings: Arc::new(settings.sessions.tokens()),
                reload_every: Duration::from_secs(settings.sessions.view_reload_secs),
                mailbox: Mailbox::new(session_registry::NAME, settings.actors.mailbox_capacity),
                store_marker: Arc::default(),
            },
            settings.actors.mailbox_capacity,
            call_timeout,
        );

        let (fatal_tx, fatal) = watch::channel(None);
        let budget = RestartBudget {
            max_restarts: settings.actors.max_restarts,
            window: Duration::from_secs(settings.actors.restart_window_secs),
        };
        // What this instance sees of the database: judging others dead waits until it has answered for a while.
        let continuity = Arc::new(Continuity::new());
        let pipeline = UploadPipelineHandle::new(
            PipelineDeps {
                uploads: Arc::clone(&backends.uploads),
                jobs: Arc::clone(&backends.jobs),
                objects: Arc::clone(&backends.objects),
                abandon_after: Duration::from_secs(settings.uploads.abandon_after_secs),
                fleet: Arc::clone(&backends.fleet),
                instance: instance_id,
                live_within: Duration::from_secs(settings.rotation.live_within_secs),
                continuity: Arc::clone(&continuity),
                tidy_every: Duration::from_secs(settings.rotation.heartbeat_secs),
                max_in_flight_per_client: settings.uploads.max_in_flight_per_client,
                body_idle_timeout: Duration::from_secs(settings.uploads.body_idle_timeout_secs),
                min_rate: settings.uploads.min_rate(),
                photos: Arc::new(settings.photos.photos()),
                // PDF checks are CPU-bound: one per core at most.
                pdf: Arc::new(gantry_actors::uploads::pdf::PdfInspector::new(
                    gantry_actors::uploads::pdf::PdfLimits::for_max_bytes(settings.uploads.pdf_max_bytes),
                    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
                )),
                mailbox: Mailbox::new(upload_pipeline::NAME, settings.actors.mailbox_capacity),
            },
            settings.uploads.max_in_flight,
            settings.uploads.guest_tokens_per_address_per_hour,
            settings.actors.mailbox_capacity,
            call_timeout,
        )
        .with_guest_pixel_budget(settings.uploads.guest_pixels_per_hour);
        let catalog = CatalogHandle::new(
            CatalogDeps {
                store: Arc::clone(&backends.catalog),
                bus: Arc::clone(&backends.bus),
                // The local profile's cache is in this process already: only a cache other instances share
                // (Redis) is worth a second tier.
                shared: (settings.profile == Profile::Production).then(|| Arc::clone(&backends.cache)),
                entries: empty_entries(),
                templates: empty_templates(),
                check_every: Duration::from_secs(settings.catalog.version_check_secs),
                mailbox: Mailbox::new(catalog_actor::NAME, settings.actors.mailbox_capacity),
                // Replaced by `CatalogHandle::new` (three quarters of the call timeout).
                io_timeout: call_timeout,
                default_locale: settings.catalog.default_locale.clone(),
            },
            settings.catalog.creates_per_user_per_hour,
            settings.actors.mailbox_capacity,
            call_timeout,
        );
        // The listeners are bound before the actors start (the rotation job's smoke test needs the public
        // address); nothing is served until `run_until_stopped`.
        let http = TcpListener::bind(settings.http_addr)
            .await
            .with_context(|| format!("binding the public listener on {}", settings.http_addr))?;
        let admin = TcpListener::bind(settings.admin_addr)
            .await
            .with_context(|| format!("binding the admin listener on {}", settings.admin_addr))?;
        let rotations = Rotations::new(RotationDeps {
            instance_id,
            smoke: Arc::new(crate::adapters::smoke::HttpSmokeCheck::new(&format!(
                "http://{}",
                loopback(http.local_addr().context("public listener address")?)
            ))),
            secrets: secrets.clone(),
            source: Arc::clone(&backends.secret_source),
            sessions: sessions.clone(),
            accounts: Arc::clone(&backends.accounts),
            jobs: Arc::clone(&backends.jobs),
            store: Arc::clone(&backends.rotations),
            fleet: Arc::clone(&backends.fleet),
            bus: Arc::clone(&backends.bus),
            objects: Arc::clone(&backends.objects),
            smoke_account: smoke_account(&settings),
            settings: RotationSettings {
                ack_timeout: Duration::from_secs(settings.rotation.ack_timeout_secs),
                live_within: Duration::from_secs(settings.rotation.live_within_secs),
                tokens: settings.sessions.tokens(),
                guest: settings.uploads.guest(),
                chaos_pause: settings.chaos_rotation_pause.clone(),
            },
            continuity: Arc::clone(&continuity),
        });
        let runner =
            job_runner_handle(&settings, instance_id, &backends, (&pipeline, &rotations), &continuity, call_timeout);
        // The wake-up: every store that enqueues tells it after the commit; it nudges this runner and
        // announces the queue on the bus for the others (the poll stays the fallback).
        let job_waker = JobWaker::new();
        backends.due.attach(Box::new(job_waker.clone()));
        let waker = job_waker.start(
            Arc::clone(&backends.bus),
            Some(runner.clone()),
            Duration::from_millis(settings.jobs.wake_coalesce_ms),
        );
        // Start order: the secret store (keys) before the session registry (which signs with them); then the
        // upload pipeline and the option cache; the job runner last (its kinds call the others). Stopped in
        // reverse.
        // The password routes and the session registry run on a runtime of their own (`gateway/lane.rs`); its
        // blocking pool runs the hashes (bounded by the hashing slots; one more thread for anything else).
        let passwords =
            PasswordLane::start(settings.sessions.max_concurrent_hashes + 1).context("starting the password lane")?;
        let children = vec![
            secrets.child_spec(
                Arc::clone(&backends.secret_source),
                Arc::clone(&backends.objects),
                Arc::clone(&backends.bus),
            ),
            sessions.child_spec_on(passwords.handle()),
            pipeline.child_spec(),
            catalog.child_spec(),
            runner.child_spec(),
        ];
        let args = SupervisorArgs { children, budget, fatal: fatal_tx };
        let (supervisor, _join) = Actor::spawn(None, RootSupervisor, args).await.context("starting the actor tree")?;

        let mut accounts = Accounts::new(Arc::clone(&backends.accounts), &account_settings(&settings));
        if !settings.sessions.breached_range_url.trim().is_empty() {
            let range = crate::adapters::breached_range::HttpBreachedRange::new(
                &settings.sessions.breached_range_url,
                Duration::from_millis(settings.sessions.breached_range_timeout_ms),
            )
            .context("building the breached-password range client")?;
            accounts =
                accounts.with_breached_range(gantry_actors::accounts::breached_range::RangeCheck::new(Arc::new(range)));
        }
        let readiness = Readiness::new(
            Arc::clone(&backends.jobs),
            Arc::clone(&backends.cache),
            Arc::clone(&backends.objects),
            Arc::clone(&backends.bus),
        );
        let heartbeat_every = Duration::from_secs(settings.rotation.heartbeat_secs);
        let languages = Languages::new(&settings.catalog);
        let list_cache_control =
            HeaderValue::from_str(&format!("public, max-age={}", settings.catalog.list_max_age_secs))
                .expect("a number is a valid header value");
        let hsts = (settings.http.hsts_max_age_secs > 0).then(|| {
            HeaderValue::from_str(&format!("max-age={}", settings.http.hsts_max_age_secs))
                .expect("a number is a valid header value")
        });
        let state = AppState::new(Shared {
            settings: Arc::new(settings),
            instance_id,
            secrets,
            sessions,
            rotations,
            accounts,
            passwords,
            jobs: Jobs::new(Arc::clone(&backends.jobs)),
            pipeline,
            catalog,
            readiness,
            metrics,
            languages,
            list_cache_control,
            hsts,
        });
        state.rotations.start_heartbeat(heartbeat_every, heartbeat_report(&state));
        Ok(Self { http, admin, state, backends, supervisor, fatal, runner, waker })
    }

    /// The bound public address.
    ///
    /// # Panics
    /// Never in practice: a bound listener has an address.
    #[must_use]
    pub fn http_addr(&self) -> SocketAddr {
        self.http.local_addr().expect("bound listener has an address")
    }

    /// The bound admin address.
    ///
    /// # Panics
    /// Never in practice: a bound listener has an address.
    #[must_use]
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.local_addr().expect("bound listener has an address")
    }

    /// The handles the gateway holds (tests reach actors through it).
    #[must_use]
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The backends behind the owners (tests arrange scenarios through them; the gateway never sees them).
    #[must_use]
    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// Serves until `shutdown` completes or the actor tree gives up, then shuts down in order within ONE
    /// budget (`http.shutdown_grace_secs`): stop accepting and drain both listeners (together, until
    /// [`LISTENER_SHARE`] of the budget), let running jobs (a rotation too) finish, stop the actors in reverse start
    /// order (with what is left), then close the bus, cache and database.
    ///
    /// # Errors
    /// The restart budget was exhausted (the process should exit non-zero).
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self { http, admin, state, backends, supervisor, mut fatal, runner, mut waker } = self;
        let (stop_tx, stop_rx) = watch::channel(None);
        let public = tokio::spawn(server::serve(http, Listener::Public, state.clone(), stop_rx.clone()));
        let private = tokio::spawn(server::serve(admin, Listener::Admin, state.clone(), stop_rx));

        tracing::info!(
            event = "started",
            profile = state.settings.profile.as_str(),
            instance_id = %state.instance_id,
            version = env!("CARGO_PKG_VERSION"),
            "gantry is serving"
        );
        let bus = Arc::clone(&backends.bus);
        let announce = tokio::spawn(async move {
            let event = Event::InstanceStarted { version: env!("CARGO_PKG_VERSION").into() };
            if let Err(err) = bus.publish(event).await {
                tracing::warn!(error = %err, "could not announce start on the bus");
            }
        });

        let failure = tokio::select! {
            () = shutdown => None,
            changed = fatal.wait_for(Option::is_some) => Some(match changed {
                Ok(reason) => reason.clone().unwrap_or_default(),
                // The sender lives in the supervisor's state: it is gone only if the supervisor died.
                Err(_) => "the root supervisor stopped unexpectedly".to_owned(),
            }),
        };
        tracing::info!(event = "shutting_down", "stopping listeners and draining requests");
        announce.abort();
        let budget = Duration::from_secs(state.settings.http.shutdown_grace_secs);
        let started = tokio::time::Instant::now();
        let deadline = started + budget;
        let _ = stop_tx.send(Some(started + budget.mul_f64(LISTENER_SHARE)));
        let _ = tokio::join!(public, private);
        let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
        // Running jobs get most of what is left to finish; the rest are given back to other instances.
        match runner.drain(left().mul_f64(JOBS_SHARE)).await {
            Ok(0) => {}
            Ok(released) => tracing::info!(released, "running jobs given back to the fleet"),
            Err(err) => tracing::warn!(error = %err, "the job runner did not drain; its leases expire instead"),
        }
        if failure.is_none() {
            let within = left();
            // The call itself may take a moment longer than the children's share: answering is quick.
            let call = supervisor.call(|reply| SupervisorMsg::Shutdown { within, reply }, Some(within + CALL_SLACK));
            if let Err(err) = call.await {
                metrics::counter!("gantry_shutdown_budget_exhausted_total", "stage" => "actors").increment(1);
                tracing::warn!(error = %err, "actor tree did not acknowledge shutdown within the budget");
            }
        }
        supervisor.stop(None);
        waker.stop();
        state.rotations.leave().await;
        backends.close().await;
        tracing::info!(event = "stopped", "gantry stopped");
        match failure {
            Some(reason) => Err(anyhow::anyhow!(reason)),
            None => Ok(()),
        }
    }
}

/// The part of the shutdown budget the listeners get to drain in-flight requests; the rest is for a running
/// rotation and the actor tree, so a slow client cannot take the actors' time to stop cleanly.
pub const LISTENER_SHARE: f64 = 0.75;

/// The part of what is left of the shutdown budget (after the listeners and a rotation) that running jobs
/// get to finish; the actor tree stops in the rest.
pub const JOBS_SHARE: f64 = 0.7;

/// The job runner of this instance: the standard kinds (and the drill kinds of a chaos build) with the
/// `jobs.*` settings.
fn job_runner_handle(
    settings: &Settings,
    instance_id: Uuid,
    backends: &Backends,
    (pipeline, rotations): (&UploadPipelineHandle, &Arc<Rotations>),
    continuity: &Arc<Continuity>,
    call_timeout: Duration,
) -> JobRunnerHandle {
    let jobs = &settings.jobs;
    let mut kinds = job_kinds::standard(&KindDeps {
        jobs: Arc::clone(&backends.jobs),
        keep_finished: Duration::from_secs(jobs.keep_finished_secs),
        prune_every: Duration::from_secs(jobs.prune_every_secs),
        sessions: Arc::clone(&backends.sessions),
        accounts: Arc::clone(&backends.accounts),
        session_lifetime: Duration::from_secs(settings.sessions.absolute_ttl_days * 24 * 3600)
            + Duration::from_secs(settings.sessions.access_ttl_secs),
        revocation_horizon: settings.sessions.tokens().revocation_horizon(),
    });
    kinds.extend(upload_jobs::kinds(&UploadKindDeps {
        pipeline: pipeline.clone(),
        sweep_every: Duration::from_secs(settings.uploads.sweep_secs),
        photo: gantry_actors::uploads::photo_job::PhotoDeps {
            uploads: Arc::clone(&backends.uploads),
            objects: Arc::clone(&backends.objects),
            settings: Arc::new(settings.photos.photos()),
        },
    }));
    kinds.extend(rotation::kinds(rotations));
    kinds.extend(job_kinds::drills());
    telemetry::registry::register_job_series(kinds.iter().map(|k| (k.kind, k.queue)));
    JobRunnerHandle::new(
        RunnerDeps {
            store: Arc::clone(&backends.jobs),
            kinds: Arc::new(job_kinds::table(kinds)),
            settings: JobRunnerSettings {
                instance: instance_id,
                lease: Duration::from_secs(jobs.lease_secs),
                poll_every: Duration::from_millis(jobs.poll_ms),
                maintain_every: Duration::from_millis(jobs.maintain_ms),
                queues: vec![
                    (gantry_actors::ports::jobs::DEFAULT_QUEUE.to_owned(), jobs.default_concurrency),
                    (job_kinds::MAINTENANCE_QUEUE.to_owned(), jobs.maintenance_concurrency),
                    // One rotation or rollback at a time (the fleet lock allows one anyway).
                    (rotation::QUEUE.to_owned(), 1),
                    (gantry_actors::uploads::photo::QUEUE.to_owned(), settings.photos.concurrency),
                ],
            },
            mailbox: Mailbox::new(job_runner::NAME, settings.actors.mailbox_capacity),
            continuity: Arc::clone(continuity),
        },
        settings.actors.mailbox_capacity,
        call_timeout,
    )
}

/// How much longer than the actors' share the shutdown call may take to be answered.
const CALL_SLACK: Duration = Duration::from_secs(1);

/// `addr` with an unspecified IP replaced by loopback (where this process reaches its own listener).
fn loopback(mut addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    addr
}

/// Checks this instance's signing keys against the fleet's record, records the ones it publishes, and adopts
/// the recorded ones it does not hold that still verify: an instance (re)started in the middle of a rotation
/// verifies the previous key's tokens, and publishes it, like its peers. A configured key that an emergency
/// rotation revoked (stale key files) is a start-up error, before anything is recorded: the instance would
/// publish and sign with the leaked key again, and its peers would adopt it back.
///
/// # Errors
/// A configured signing key is revoked; the database refused the record or the read.
async fn adopt_signing_keys(
    keyring: KeyRing,
    store: &dyn RotationStore,
    tokens: &gantry_actors::sessions::TokenSettings,
) -> anyhow::Result<KeyRing> {
    use gantry_actors::sessions::key_set;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let records = store.signing_keys().await.map_err(|e| anyhow::anyhow!("reading the public signing keys: {e}"))?;
    let revoked = key_set::revoked_in_use(&keyring, &records);
    if !revoked.is_empty() {
        for key in &revoked {
            tracing::error!(event = "signing_key_revoked", variable = %key.variable, kid = %key.kid,
                fingerprint = key.fingerprint.as_str(), revoked_at = key.revoked_at,
                "a configured signing key was revoked by an emergency rotation: refusing to start");
        }
        let problems: Vec<String> = revoked.iter().map(ToString::to_string).collect();
        anyhow::bail!("secret validation failed: {}", problems.join("; "));
    }
    let own = gantry_actors::sessions::tokens::published_keys(&keyring, tokens, now);
    store
        .record_signing_keys(&key_set::key_records(&own))
        .await
        .map_err(|e| anyhow::anyhow!("recording the public signing keys: {e}"))?;
    let keyring = key_set::adopt_recorded_keys(keyring, records, tokens, now);
    let adopted: Vec<&str> = keyring.adopted_keys().iter().map(|a| a.key.kid.as_str()).collect();
    if !adopted.is_empty() {
        tracing::info!(event = "signing_keys_adopted", kids = ?adopted,
            "verifying and publishing the fleet's recorded signing keys this instance does not hold");
    }
    Ok(keyring)
}

/// The smoke-test account of rotations: `smoke_email` (`GANTRY_SMOKE_EMAIL`) with `smoke_password`
/// (`GANTRY_SMOKE_PASSWORD`) or `smoke_password_file` (`GANTRY_SMOKE_PASSWORD_FILE`); `None` (an ephemeral
/// account per rotation) when not configured.
fn smoke_account(settings: &Settings) -> Option<(String, SecretString)> {
    let email = settings.smoke_email.clone().filter(|e| !e.is_empty())?;
    if let Some(password) = &settings.smoke_password {
        return Some((email, password.clone()));
    }
    let path = settings.smoke_password_file.as_ref()?;
    match crate::config::secrets::read_file(path) {
        Ok(p) => Some((email, SecretString::from(p))),
        Err(e) => {
            tracing::warn!(event = "smoke_account_unreadable", path = %path.display(), error = e,
                "rotations use an ephemeral account");
            None
        }
    }
}

/// The accounts owner's limits, from the session settings.
#[must_use]
pub fn account_settings(settings: &Settings) -> AccountSettings {
    AccountSettings {
        max_failures_per_account_address: settings.sessions.login_max_failures_per_account_address,
        max_failures_per_account: settings.sessions.login_max_failures_per_account,
        max_failures_per_address: settings.sessions.login_max_failures_per_address,
        failure_window: Duration::from_secs(settings.sessions.login_failure_window_secs),
        max_concurrent_hashes: settings.sessions.max_concurrent_hashes,
        max_hash_wait: Duration::from_millis(settings.sessions.max_hash_wait_ms),
        max_registrations_per_address: settings.sessions.registrations_per_address,
        registration_window: Duration::from_secs(settings.sessions.registration_window_secs),
    }
}

/// `gantry serve` (and no subcommand): validates the secrets, builds the application, reloads secrets on
/// SIGHUP and serves until SIGTERM/Ctrl-C or a fatal failure of the actor tree.
pub async fn serve(settings: Settings) -> std::process::ExitCode {
    use std::process::ExitCode;
    let (keyring, report) = crate::config::secrets::load(&settings, &SecretEnv::from_process(), true);
    let Some(keyring) = keyring else {
        report.log_failure();
        eprintln!("gantry: secret validation failed:");
        for line in report.lines() {
            eprintln!("  - {line}");
        }
        return ExitCode::FAILURE;
    };
    let app = match Application::build(settings, keyring).await {
        Ok(app) => app,
        Err(err) => {
            tracing::error!(event = "startup_failed", error = format!("{err:#}"), "gantry could not start");
            return ExitCode::FAILURE;
        }
    };
    // Handlers first, then "listening": whoever waits for that line may signal at once.
    let reloads = crate::signals::reload_on_hangup(app.state().secrets.clone());
    let shutdown = crate::signals::shutdown_signal();
    tracing::info!(http = %app.http_addr(), admin = %app.admin_addr(), "listening");
    let outcome = app.run_until_stopped(shutdown).await;
    reloads.abort();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(event = "fatal", error = format!("{err:#}"), "gantry is exiting after a fatal failure");
            ExitCode::FAILURE
        }
    }
}

/// What this instance reports with each heartbeat (`GET /admin/fleet`): its version and start, its readiness
/// as `/readyz` composes it (probed at each beat), and the fingerprints of every secret version it holds.
fn heartbeat_report(state: &AppState) -> gantry_actors::secrets::rotation::Reporter {
    let started_at = time::OffsetDateTime::now_utc();
    let state = state.clone();
    Arc::new(move || {
        let state = state.clone();
        Box::pin(async move {
            let (status, components) = crate::gateway::health::check(&state).await;
            let secrets = state
                .secrets
                .keyring()
                .status()
                .into_iter()
                .map(|v| ReportedSecret {
                    name: v.name.to_string(),
                    state: v.state.to_owned(),
                    version: v.version,
                    fingerprint: v.fingerprint.to_string(),
                })
                .collect();
            InstanceReport {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                started_at,
                status: status.to_owned(),
                components: components.into_iter().map(|(name, c)| (name.to_owned(), c.status.to_owned())).collect(),
                secrets,
            }
        })
    })
}
