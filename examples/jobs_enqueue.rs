//! The enqueue side of `bench/jobs.sh`'s latency run: enqueues no-op drill jobs at a fixed rate through the
//! same path an instance's own enqueues take — the profile's job store (`Storage::connect`) with the runners'
//! wake-up attached (`JobWaker`), which announces each due queue on the bus after the commit (coalesced per
//! `jobs.wake_coalesce_ms`). It runs no job runner itself, so every start it causes is a remote wake-up over
//! the bus: the harder of the two paths (an instance's own enqueues also nudge its runner in-process).
//!
//! Settings come from the environment exactly as `gantry serve` reads them (`GANTRY_PROFILE=production`,
//! `GANTRY_DATABASE_URL`, `GANTRY_AMQP_URL`, `GANTRY_BUS__EXCHANGE`, …).
//!
//! `cargo run --release --example jobs_enqueue -- RATE_PER_SEC SECONDS TAG` enqueues `RATE × SECONDS` jobs of
//! kind `drill.noop` on the `default` queue with `{"tag": TAG}`, open loop (each at its scheduled time, at most
//! 64 enqueues in flight), and prints `enqueued=… late=… errors=…` (`late`: enqueues that started more than
//! 5 ms after their scheduled time, i.e. the generator itself fell behind). With `WARMUP_SECS=N` the first N
//! seconds' jobs (at the same rate, in the same run) are tagged `warmup` instead: the generator's own first
//! connections and statements, and the runners' first wake-ups, are then not in the tagged jobs' figures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use gantry::adapters::amqp::{AmqpBus, AmqpSettings};
use gantry::config::Settings;
use gantry::startup::Storage;
use gantry_actors::jobs::waker::JobWaker;
use gantry_actors::ports::bus::Bus;
use gantry_actors::ports::jobs::{DEFAULT_QUEUE, NewJob};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() == 4, "usage: jobs_enqueue RATE_PER_SEC SECONDS TAG");
    let rate: f64 = args[1].parse().context("RATE_PER_SEC")?;
    let secs: f64 = args[2].parse().context("SECONDS")?;
    let tag = args[3].clone();
    let warmup: f64 = std::env::var("WARMUP_SECS").map_or(Ok(0.0), |v| v.parse()).context("WARMUP_SECS")?;
    let settings = Settings::load(None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let storage = Storage::connect(&settings).await?;
    let amqp_url = settings.amqp_url.as_ref().context("GANTRY_AMQP_URL is not set")?;
    let bus: Arc<dyn Bus> = Arc::new(AmqpBus::start(
        AmqpSettings {
            url: SecretString::from(amqp_url.expose_secret().to_owned()),
            exchange: settings.bus.exchange.clone(),
            connect_timeout: Duration::from_secs(settings.bus.connect_timeout_secs),
            publish_timeout: Duration::from_secs(settings.bus.publish_timeout_secs),
            capacity: settings.bus.capacity,
        },
        uuid::Uuid::now_v7(),
    ));
    for _ in 0..100 {
        if bus.health().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bus.health().await.map_err(|e| anyhow::anyhow!("the bus did not come up: {e}"))?;
    let waker = JobWaker::new();
    storage.ports.due.attach(Box::new(waker.clone()));
    let mut tasks = waker.start(Arc::clone(&bus), None, Duration::from_millis(settings.jobs.wake_coalesce_ms));

    // Truncation is intended: a whole number of jobs.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (warm, total) = ((rate * warmup).round() as u64, (rate * (warmup + secs)).round() as u64);
    let every = Duration::from_secs_f64(1.0 / rate);
    let in_flight = Arc::new(Semaphore::new(64));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut late = 0u64;
    let start = Instant::now() + Duration::from_millis(100);
    for i in 0..total {
        let due = start + every.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        if due.elapsed() > Duration::from_millis(5) {
            late += 1;
        }
        let permit = Arc::clone(&in_flight).acquire_owned().await?;
        let jobs = Arc::clone(&storage.ports.jobs);
        let errors = Arc::clone(&errors);
        let tag = if i < warm { "warmup" } else { tag.as_str() };
        let job = NewJob::new("drill.noop", DEFAULT_QUEUE, serde_json::json!({ "tag": tag }));
        tokio::spawn(async move {
            if jobs.enqueue(&job).await.is_err() {
                errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            drop(permit);
        });
    }
    // Every enqueue has ended once all permits are back; then the last announcements go out.
    let _all = in_flight.acquire_many(64).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    tasks.stop();
    bus.close().await;
    storage.database.close().await;
    let errors = errors.load(std::sync::atomic::Ordering::Relaxed);
    println!("enqueued={} warmup={warm} late={late} errors={errors}", total - warm);
    Ok(())
}
