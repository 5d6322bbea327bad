//! An open-loop HTTP/1.1 load generator for the latency benchmarks: `C` keep-alive connections send at a
//! fixed total rate for a duration, and latency is measured from each request's *scheduled* send time
//! (so a stalled server is not hidden by fewer requests: no coordinated omission). wrk measures maximum
//! throughput; this measures tail latency at a given load.
//!
//! tokio's timer has a 1 ms resolution, so each send sleeps to within 2 ms of its time and then yields until
//! the time has come: sends are spread as scheduled rather than released in 1 ms bursts, and the timer's
//! rounding is not counted as the server's latency. The generator keeps its CPU busy while it waits (on the
//! benchmarks' pinned runs it has a CPU of its own); a thread per connection sleeping on the OS's timer
//! measured worse on the 2-core VM here (a sleeping CPU sometimes took milliseconds to wake).
//!
//! `cargo run --release --example loadgen -- URL RATE_PER_SEC SECONDS CONNECTIONS [HEADER: VALUE]`
//! prints `rps=… p50_us=… p90_us=… p99_us=… p999_us=… max_us=… errors=…`. `rps` counts the successful
//! responses over the time from the first scheduled send to the last response, so it falls below RATE when
//! the generator or the server could not keep the schedule (each connection has one request in flight:
//! RATE / CONNECTIONS per connection needs responses faster than CONNECTIONS / RATE seconds).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() >= 5, "usage: loadgen URL RATE SECONDS CONNECTIONS [HEADER: VALUE]");
    let uri: Uri = args[1].parse()?;
    let rate: f64 = args[2].parse()?;
    let secs: u64 = args[3].parse()?;
    let conns: usize = args[4].parse()?;
    let header = args.get(5).and_then(|h| h.split_once(": ")).map(|(k, v)| (k.to_owned(), v.to_owned()));
    let per_conn_interval = Duration::from_secs_f64(conns as f64 / rate);
    let start = Instant::now() + Duration::from_millis(200);
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for i in 0..conns {
        let uri = uri.clone();
        let header = header.clone();
        // Spread connections' schedules evenly over one interval.
        let offset = per_conn_interval.mul_f64(i as f64 / conns as f64);
        tasks.push(tokio::spawn(async move {
            let host = uri.host().unwrap_or("127.0.0.1").to_owned();
            let port = uri.port_u16().unwrap_or(80);
            let stream = TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut last_response = start;
            let mut scheduled = start + offset;
            while scheduled < end {
                wait_until(scheduled).await;
                let mut req = Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
                    .header(hyper::header::HOST, format!("{host}:{port}"));
                if let Some((k, v)) = &header {
                    req = req.header(k.as_str(), v.as_str());
                }
                let req = req.body(Empty::<Bytes>::new())?;
                sender.ready().await?;
                match sender.send_request(req).await {
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        let _ = resp.into_body().collect().await;
                        if ok {
                            latencies.push(u32::try_from(scheduled.elapsed().as_micros()).unwrap_or(u32::MAX));
                        } else {
                            errors += 1;
                        }
                    }
                    Err(_) => errors += 1,
                }
                last_response = Instant::now();
                scheduled += per_conn_interval;
            }
            anyhow::Ok((latencies, errors, last_response))
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut last_response = start;
    for t in tasks {
        let (l, e, last) = t.await??;
        all.extend(l);
        errors += e;
        last_response = last_response.max(last);
    }
    all.sort_unstable();
    let pct =
        |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0);
    println!(
        "rps={:.0} p50_us={} p90_us={} p99_us={} p999_us={} max_us={} errors={}",
        all.len() as f64 / last_response.duration_since(start).as_secs_f64().max(secs as f64),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(0.999),
        all.last().copied().unwrap_or(0),
        errors
    );
    Ok(())
}

/// Waits until `at`, to within microseconds while its CPU is free: tokio's timer (1 ms resolution, rounded up)
/// brings the task to within 2 ms of it, then the task yields to the others until the time has come.
async fn wait_until(at: Instant) {
    if let Some(coarse) = at.checked_sub(Duration::from_millis(2))
        && coarse > Instant::now()
    {
        tokio::time::sleep_until(coarse.into()).await;
    }
    while Instant::now() < at {
        tokio::task::yield_now().await;
    }
}
