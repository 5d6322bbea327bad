//! The baseline for gateway benchmarks: a bare hyper 1 server (same runtime, same hyper-util auto
//! builder as Gantry) answering `ok\n` to every request. `bench/compare.sh` loads it and Gantry's
//! routes with the same tool in the same run and reports the ratios.
//!
//! With `floor` after the address it also does the least that every Gantry response must do with the last
//! round's protections on, each in its cheapest form, and nothing else (no routing, no handler, no body):
//! - admission: an in-flight permit (`try_acquire` on a semaphore) held until the answer is made;
//! - a request id: a client's `x-request-id` kept, else a fresh UUID v7;
//! - the response headers: `content-type`, `x-content-type-options: nosniff`, `x-request-id`;
//! - the request metrics: a counter and a latency histogram, on Gantry's own recorder (`gantry::telemetry`),
//!   through handles made once (Gantry looks its handles up per route and status).
//!
//! It is the ceiling of any ratio to bare hyper that keeps those protections: whatever Gantry does beyond it
//! (routing, the handler, the per-address share, the connection watcher) can only cost more.
//!
//! Without `floor`, `GET /bytes/{n}` answers `n` bytes (up to 64 KiB) instead of `ok\n`: bare hyper sending a
//! body as large as a route's (an option list's ~3 KiB), so the cost of moving those bytes through the kernel and
//! the load tool is measured apart from Gantry's own work. A `POST` is read whole and parsed as JSON first (into
//! `serde_json::Value`), then answered the same way: what any JSON endpoint does before and after its own work
//! (`evaluate` of a form, whose body and answer sizes `bench/compare.sh` gives it).
//!
//! Run: `cargo run --release --example hello_hyper -- 127.0.0.1:8090 [floor]`

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue, X_CONTENT_TYPE_OPTIONS};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the `floor` mode shares between requests.
struct Floor {
    in_flight: Semaphore,
    requests: metrics::Counter,
    duration: metrics::Histogram,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8090".into());
    let floor = (args.next().as_deref() == Some("floor")).then(|| {
        let _ = gantry::telemetry::metrics_handle();
        Arc::new(Floor {
            in_flight: Semaphore::new(4096),
            requests: metrics::counter!("gantry_http_requests_total", "route" => "/healthz", "status" => "200"),
            duration: metrics::histogram!("gantry_http_request_duration_seconds", "route" => "/healthz"),
        })
    });
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("hello_hyper listening on {}{}", listener.local_addr()?, if floor.is_some() { " (floor)" } else { "" });
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let floor = floor.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let floor = floor.clone();
                async move {
                    Ok::<_, Infallible>(match floor {
                        None if req.method() == Method::POST => {
                            let answer = bare_body(req.uri().path());
                            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            std::hint::black_box(serde_json::from_slice::<serde_json::Value>(&body).ok());
                            Response::new(Full::new(answer))
                        }
                        None => Response::new(Full::new(bare_body(req.uri().path()))),
                        Some(floor) => floored(&floor, &req),
                    })
                }
            });
            let _ = auto::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// The largest body `GET /bytes/{n}` sends.
const MAX_BODY: usize = 64 * 1024;

/// `ok\n`, or `n` bytes for `/bytes/{n}`.
fn bare_body(path: &str) -> Bytes {
    static FILL: [u8; MAX_BODY] = [b'x'; MAX_BODY];
    match path.strip_prefix("/bytes/").and_then(|n| n.parse::<usize>().ok()) {
        Some(n) => Bytes::from_static(&FILL[..n.min(MAX_BODY)]),
        None => Bytes::from_static(b"ok\n"),
    }
}

fn floored(floor: &Floor, req: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let Ok(permit) = floor.in_flight.try_acquire() else {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        return response;
    };
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.as_bytes().iter().all(u8::is_ascii_graphic))
        .cloned()
        .unwrap_or_else(new_id);
    let mut response = Response::new(Full::new(Bytes::from_static(b"ok\n")));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REQUEST_ID.clone(), id);
    drop(permit);
    floor.requests.increment(1);
    floor.duration.record(started.elapsed().as_secs_f64());
    response
}

/// A UUID v7 from the clock and a per-thread counter (unique within the process, all a benchmark needs).
fn new_id() -> HeaderValue {
    thread_local! {
        static NEXT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let millis = u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX);
    let n = NEXT.with(|next| {
        next.set(next.get().wrapping_add(0x9e37_79b9_7f4a_7c15));
        next.get()
    });
    let mut bytes = [0u8; 10];
    bytes[2..].copy_from_slice(&n.to_be_bytes());
    let id = uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid();
    let mut buf = uuid::Uuid::encode_buffer();
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut buf)).expect("a hyphenated UUID is a header value")
}
