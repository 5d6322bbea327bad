//! An open-loop HTTP/1.1 load generator for the latency benchmarks: `C` keep-alive connections send at a
//! fixed total rate for a duration, and latency is measured from each request's *scheduled* send time
//! (so a stalled server is not hidden by fewer requests: no coordinated omission). wrk measures maximum
//! throughput; this measures tail latency at a given load.
//!
//! `cargo run --release --example loadgen -- URL RATE_PER_SEC SECONDS CONNECTIONS [HEADER: VALUE]`
//! prints `rps=… p50_us=… p90_us=… p99_us=… p999_us=… errors=…`.

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
            let mut scheduled = start + offset;
            while scheduled < end {
                tokio::time::sleep_until(scheduled.into()).await;
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
                scheduled += per_conn_interval;
            }
            anyhow::Ok((latencies, errors))
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await??;
        all.extend(l);
        errors += e;
    }
    all.sort_unstable();
    let pct =
        |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0);
    println!(
        "rps={:.0} p50_us={} p90_us={} p99_us={} p999_us={} errors={}",
        all.len() as f64 / secs as f64,
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(0.999),
        errors
    );
    Ok(())
}
