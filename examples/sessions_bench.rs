//! Session benchmarks for the closing notes (not run by CI):
//!
//! - `revoke-scale local|production N…`: a Gantry (in process, real adapters) with N sessions stored, then
//!   `POST /admin/sessions/revoke-all` five times; prints the median time to the 202 and the time until the
//!   job (which counts the active sessions afterwards) succeeded. The 202 must stay flat as N grows.
//! - `bus-lag N [sessions|options]`: two RabbitMQ bus clients; one publishes N `sessions_revoked` (or
//!   `option_changed`) events, each confirmed, the other receives them; prints p50/p99 of publish → receive.
//!
//! `cargo run --release --example sessions_bench -- revoke-scale production 10000 100000 1000000`
//! Production mode needs `BENCH_POSTGRES_URL` (a server URL; a database `gantry_bench` is recreated),
//! `BENCH_REDIS_URL` (use a spare DB index: it is flushed, e.g. `redis://127.0.0.1:6379/9`),
//! `BENCH_AMQP_URL`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Format, Toml};
use gantry::config::secrets::{self, SecretEnv};
use gantry::config::{Profile, Settings};
use gantry::startup::Application;
use gantry_actors::ports::bus::{Bus, BusSignal, Event};
use gantry_actors::ports::sessions::{SessionRecord, SessionStore};

const ADMIN: &str = "Hn4Bv7Cx2Zl9Kj5Mg8Df3Sa6Qw1Er0Ty";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("revoke-scale") => {
            let profile = args.get(1).context("profile")?;
            for n in &args[2..] {
                revoke_scale(profile, n.parse()?).await?;
            }
            Ok(())
        }
        Some("bus-lag") => bus_lag(args.get(1).map_or(Ok(1000), |n| n.parse())?, args.get(2).map(String::as_str)).await,
        _ => anyhow::bail!("usage: sessions_bench revoke-scale local|production N… | bus-lag N"),
    }
}

fn record(i: u64, now: i64) -> SessionRecord {
    SessionRecord {
        id: uuid::Uuid::now_v7(),
        user_id: uuid::Uuid::from_u64_pair(0, i % 50_000),
        created_at_ms: now,
        last_used_at_ms: now,
        refresh_expires_at_ms: now + 3_600_000,
        absolute_expires_at_ms: now + 7_200_000,
        user_agent: Some("bench".into()),
        address: Some("127.0.0.1".into()),
        refresh_hash: format!("{i:064x}"),
        generation: 0,
        last_rotation: None,
        revoked_at_ms: None,
        refresh_mac_key: None,
    }
}

async fn fill(store: Arc<dyn SessionStore>, n: u64) -> anyhow::Result<()> {
    let now = i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)?;
    let workers = 64u64;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < n {
                store.insert(&record(i, now)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                i += workers;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

async fn revoke_scale(profile: &str, n: u64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let toml = match profile {
        "local" => format!("data_dir = {:?}\n", dir.path().display().to_string()),
        "production" => {
            let pg = std::env::var("BENCH_POSTGRES_URL").context("BENCH_POSTGRES_URL")?;
            let admin = sqlx::PgPool::connect(&pg).await?;
            sqlx::query("DROP DATABASE IF EXISTS gantry_bench WITH (FORCE)").execute(&admin).await?;
            sqlx::query("CREATE DATABASE gantry_bench").execute(&admin).await?;
            let base = pg.rsplit_once('/').map_or(pg.as_str(), |(b, _)| b).to_owned();
            let redis = std::env::var("BENCH_REDIS_URL").context("BENCH_REDIS_URL")?;
            let client = deadpool_redis::redis::Client::open(redis.as_str())?;
            let mut conn = client.get_multiplexed_async_connection().await?;
            let () = deadpool_redis::redis::cmd("FLUSHDB").query_async(&mut conn).await?;
            format!(
                "database_url = \"{base}/gantry_bench\"\nredis_url = {redis:?}\namqp_url = {:?}\n\
                 s3_endpoint = \"http://127.0.0.1:1\"\n[s3]\ncreate_bucket = false\n",
                std::env::var("BENCH_AMQP_URL").context("BENCH_AMQP_URL")?
            )
        }
        other => anyhow::bail!("unknown profile {other}"),
    };
    let toml = format!("http_addr = \"127.0.0.1:0\"\nadmin_addr = \"127.0.0.1:0\"\nlog_format = \"text\"\n{toml}");
    let profile = if profile == "local" { Profile::Local } else { Profile::Production };
    let settings = Settings::load_from(Some(profile), Figment::new().merge(Toml::string(&toml)))?;
    let env = SecretEnv::from_pairs(
        [
            ("JWT_SECRET", "q7R2vX9kLm4PzT8wN3bH6yC1dF5gJ0sA"),
            ("UPLOAD_GUEST_TOKEN_SECRET", "Zt5Kp2Wq9Lx7Mv3Bn8Rc4Hd6Jf1Gs0Ya"),
            ("GANTRY_ADMIN_TOKEN", ADMIN),
            ("S3_ACCESS_KEY_ID", "bench"),
            ("S3_SECRET_ACCESS_KEY", "Vw8Qe3Rt6Yu1Io4Pa7Sd2Fg9xx"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let (keyring, report) = secrets::load(&settings, &env, true);
    let keyring = keyring.with_context(|| format!("{:?}", report.lines()))?;
    let app = Application::build(settings, keyring).await?;
    let admin = format!("http://{}", app.admin_addr());
    let store: Arc<dyn SessionStore> = match profile {
        Profile::Local => {
            gantry::adapters::sqlite::SqliteDb::open(&dir.path().join("gantry.sqlite3")).await?.ports().sessions
        }
        Profile::Production => {
            let url = secrecy::SecretString::from(std::env::var("BENCH_REDIS_URL")?);
            let cache = gantry::adapters::redis::RedisCache::connect(&url, 64, Duration::from_secs(5))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Arc::new(gantry::adapters::redis::RedisSessionStore::new(&cache))
        }
    };
    let filled = Instant::now();
    fill(store, n).await?;
    let fill_time = filled.elapsed();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    let client = reqwest::Client::new();
    let mut accepted = Vec::new();
    let mut completed = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let response = client
            .post(format!("{admin}/admin/sessions/revoke-all"))
            .bearer_auth(ADMIN)
            .json(&serde_json::json!({"reason": "bench"}))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 202, "status {}", response.status());
        accepted.push(started.elapsed());
        let body: serde_json::Value = response.json().await?;
        let job = body["job_id"].as_str().context("job id")?.to_owned();
        loop {
            let job: serde_json::Value =
                client.get(format!("{admin}/admin/jobs/{job}")).bearer_auth(ADMIN).send().await?.json().await?;
            if job["state"] == "succeeded" {
                completed.push(started.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    accepted.sort();
    completed.sort();
    println!(
        "{profile:?} sessions={n}: revoke-all 202 median {:.2} ms (min {:.2}, max {:.2}); job done median {:.2} ms; fill {:.1} s",
        accepted[2].as_secs_f64() * 1000.0,
        accepted[0].as_secs_f64() * 1000.0,
        accepted[4].as_secs_f64() * 1000.0,
        completed[2].as_secs_f64() * 1000.0,
        fill_time.as_secs_f64()
    );
    let _ = tx.send(());
    running.await??;
    Ok(())
}

/// `kind`: `sessions` (default: `sessions_revoked` events) or `options` (`option_changed`).
async fn bus_lag(n: usize, kind: Option<&str>) -> anyhow::Result<()> {
    let options = kind == Some("options");
    use gantry::adapters::amqp::{AmqpBus, AmqpSettings};
    let url = std::env::var("BENCH_AMQP_URL").context("BENCH_AMQP_URL")?;
    let exchange = format!("gantry.events.bench-{}", uuid::Uuid::new_v4().simple());
    let settings = |_| AmqpSettings {
        url: secrecy::SecretString::from(url.clone()),
        exchange: exchange.clone(),
        connect_timeout: Duration::from_secs(5),
        publish_timeout: Duration::from_secs(5),
        capacity: 4096,
    };
    let a = AmqpBus::start(settings(()), uuid::Uuid::now_v7());
    let b = AmqpBus::start(settings(()), uuid::Uuid::now_v7());
    let mut rx = b.subscribe();
    for bus in [&a, &b] {
        while bus.health().await.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut sent = vec![Instant::now(); n];
    let receiver = tokio::spawn(async move {
        let mut got = vec![None; n];
        let mut count = 0;
        while count < n {
            match rx.recv().await {
                Ok(BusSignal::Message(env)) => {
                    let seq = match env.event {
                        Event::SessionsRevoked { not_before_ms, .. } => usize::try_from(not_before_ms).ok(),
                        Event::OptionChanged { version, .. } => usize::try_from(version).ok(),
                        _ => None,
                    };
                    if let Some(i) = seq {
                        got[i] = Some(Instant::now());
                        count += 1;
                    }
                }
                Ok(BusSignal::Resync { .. }) => {}
                Err(e) => anyhow::bail!("receiver: {e}"),
            }
        }
        anyhow::Ok(got)
    });
    for (i, slot) in sent.iter_mut().enumerate() {
        *slot = Instant::now();
        let event = if options {
            Event::OptionChanged {
                kind: gantry_actors::catalog::OptionKind::Model,
                parent_id: Some(uuid::Uuid::now_v7()),
                version: u64::try_from(i)?,
            }
        } else {
            Event::SessionsRevoked { user_id: None, not_before_ms: i64::try_from(i)?, notice: None }
        };
        a.publish(event).await?;
    }
    let got = receiver.await??;
    let mut lags: Vec<f64> =
        got.iter().zip(&sent).filter_map(|(g, s)| g.map(|g| g.duration_since(*s).as_secs_f64() * 1e6)).collect();
    lags.sort_by(f64::total_cmp);
    let pct = |p: f64| lags[((lags.len() as f64 * p) as usize).min(lags.len() - 1)];
    println!(
        "bus lag over {} events (publish with confirm → received by the other instance): p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        lags.len(),
        pct(0.5),
        pct(0.99),
        lags[lags.len() - 1]
    );
    a.close().await;
    b.close().await;
    Ok(())
}
