//! The HTTP server: one accept loop per listener and the per-request pipeline.
//!
//! Pipeline, in order, and why:
//! 1. request id — taken from `X-Request-Id` when sane, else generated; echoed on every response so a
//!    client can quote it;
//! 2. routing — 404/405 cost nothing and are not shed;
//! 3. load shedding — first the client address's share (`http.max_in_flight_per_address`; beyond it 429
//!    `too_many_in_flight`, so one address cannot fill the listener's limit), then a bounded number of
//!    requests in flight; beyond it 503 `overloaded` with `Retry-After` (liveness and `/metrics` are exempt
//!    so overload does not look like death);
//! 4. deadline — the handler runs under the request timeout (503 `timeout`); a request with a body also
//!    carries its [`BodyPolicy`] (the JSON body deadline and the minimum body rate, 408), which `body.rs`
//!    enforces while reading, so a stalled body gives back its places long before the request timeout;
//! 5. errors → problem+json (in `problem.rs`), metrics by route template and status, a debug access log.
//!
//! Connections are bounded per listener; on shutdown the loop stops accepting and in-flight requests get
//! the grace period to finish. Which handler answers a route is `dispatch.rs`'s business; this file knows
//! no handler.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use super::body::BodyPolicy;
use super::conn::{self, Activity, AddressCounts, ClientShare};
use super::ctx::Ctx;
use super::dispatch::dispatch;
use super::problem::ApiError;
use super::respond::Response;
use super::router::{Listener, Match, Route, Table};
use super::state::AppState;

/// The target routed when a request has none of its own (`*`, an authority): no route has parameters there.
static ROOT: hyper::http::uri::PathAndQuery = hyper::http::uri::PathAndQuery::from_static("/");
static PUBLIC_TABLE: LazyLock<Table> = LazyLock::new(|| Table::new(Listener::Public));
static ADMIN_TABLE: LazyLock<Table> = LazyLock::new(|| Table::new(Listener::Admin));

/// The request id header (a `HeaderName`, not a `&str`: a string key is parsed again on every look-up and insert).
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Serves `listener` until `shutdown` carries a deadline, then stops accepting and drains connections until
/// that deadline (the listeners' share of the one shutdown budget, set by `startup`).
pub async fn serve(
    listener: TcpListener,
    kind: Listener,
    state: AppState,
    mut shutdown: watch::Receiver<Option<tokio::time::Instant>>,
) {
    let settings = Arc::clone(&state.settings);
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(settings.http.max_connections));
    // Per listener, so public overload never locks operators out of the admin API.
    let in_flight = Arc::new(Semaphore::new(settings.http.max_in_flight));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // HTTP/1 heads are timed by the connection's watcher (`conn.rs`), not by hyper's per-request timer.
    builder.http1().header_read_timeout(None);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(settings.http.http2_max_concurrent_streams)
        .keep_alive_interval(Some(Duration::from_secs(settings.http.http2_keep_alive_interval_secs)))
        .keep_alive_timeout(Duration::from_secs(settings.http.http2_keep_alive_timeout_secs));
    let per_address =
        AddressCounts::new(settings.http.max_connections_per_address, settings.http.max_in_flight_per_address);
    let head_timeout = Duration::from_secs(settings.http.header_read_timeout_secs);
    let idle_timeout = Duration::from_secs(settings.http.keep_alive_idle_secs);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        // Usually EMFILE: back off instead of spinning.
                        tracing::warn!(listener = kind.as_str(), error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // The address's share first, so one address at its share cannot use up the listener's limit.
                let Some(address_slot) = per_address.take(peer.ip()) else {
                    metrics::counter!("gantry_http_connections_refused_per_address_total", "listener" => kind.as_str())
                        .increment(1);
                    drop(stream);
                    continue;
                };
                let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
                    metrics::counter!("gantry_http_connections_refused_total", "listener" => kind.as_str()).increment(1);
                    drop(stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let in_flight = Arc::clone(&in_flight);
                let activity = Activity::new();
                let requests = Arc::clone(&activity);
                let share = address_slot.share().clone();
                let service = hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    let in_flight = Arc::clone(&in_flight);
                    let share = share.clone();
                    let busy = requests.begin();
                    async move {
                        let limits = Limits { in_flight: &in_flight, share: &share };
                        let response = handle(state, kind, peer, limits, req).await;
                        Ok::<_, Infallible>(response.map(|body| conn::hold_until_sent(body, busy)))
                    }
                });
                let stream = conn::Watched::new(stream, Arc::clone(&activity));
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    match conn::watch(conn, activity, head_timeout, idle_timeout).await {
                        Ok(Ok(())) => {}
                        Ok(Err(err)) => tracing::debug!(error = %err, "connection ended with an error"),
                        Err(reason) => {
                            metrics::counter!("gantry_http_connections_closed_total", "listener" => kind.as_str(),
                                "reason" => reason)
                            .increment(1);
                            tracing::debug!(%peer, reason, "connection closed by its guard");
                        }
                    }
                    drop(permit);
                    drop(address_slot);
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    // A sender dropped without a deadline (not how startup stops us) drains for the whole budget.
    let deadline = shutdown
        .borrow()
        .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(settings.http.shutdown_grace_secs));
    if tokio::time::timeout_at(deadline, graceful.shutdown()).await.is_err() {
        metrics::counter!("gantry_shutdown_budget_exhausted_total", "stage" => kind.as_str()).increment(1);
        tracing::warn!(listener = kind.as_str(), "shutdown budget ran out; closing remaining connections");
    } else {
        tracing::info!(listener = kind.as_str(), "connections drained");
    }
}

/// The request's id, as the header every answer carries: the client's `X-Request-Id` when sane (a share of the
/// request's own bytes), else a fresh one. Never `String` first: that was a second copy of every id.
fn request_id(req: &Request<Incoming>) -> HeaderValue {
    req.headers()
        .get(&REQUEST_ID)
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.as_bytes().iter().all(u8::is_ascii_graphic))
        .cloned()
        .unwrap_or_else(new_request_id)
}

/// A fresh request id: a UUID v7 (RFC 9562), hyphenated, written straight into its string. The 48-bit Unix
/// time in milliseconds, then 12 bits of the sub-millisecond time (the RFC's "increased clock precision"), then
/// 62 bits from a per-thread SplitMix64 seeded from the OS. A request id names a request in the logs and is no
/// secret (a client may choose its own), so it needs to be unique, not unpredictable: uuid's `now_v7` (a shared
/// monotonic context and ChaCha) cost ~830 instructions of every request, this ~150.
fn new_request_id() -> HeaderValue {
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new(rand::random());
    }
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let millis = u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX);
    // 0..4096 within the millisecond.
    let fraction = u16::try_from(u64::from(since_epoch.subsec_nanos() % 1_000_000) * 4096 / 1_000_000).unwrap_or(0);
    let random = STATE.with(|state| {
        let next = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(next);
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    });
    let mut bytes = [0u8; 10];
    bytes[..2].copy_from_slice(&fraction.to_be_bytes());
    bytes[2..].copy_from_slice(&random.to_be_bytes());
    let id = uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid();
    let mut buf = uuid::Uuid::encode_buffer();
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut buf)).expect("a hyphenated UUID is a header value")
}

/// The in-flight limits a request is admitted under: its listener's, and its client address's share.
#[derive(Clone, Copy)]
pub(crate) struct Limits<'a> {
    in_flight: &'a Semaphore,
    share: &'a ClientShare,
}

/// Handles one request through the pipeline described at the top of this file.
#[allow(clippy::manual_async_fn)] // The parameters held once (see `dispatch.rs`'s documentation).
pub(crate) fn handle(
    state: AppState,
    kind: Listener,
    peer: SocketAddr,
    limits: Limits<'_>,
    req: Request<Incoming>,
) -> impl Future<Output = Response> {
    async move {
        let started = Instant::now();
        let request_id = request_id(&req);
        // Graphic ASCII by construction, so always text.
        let id = request_id.to_str().ok();
        let method = req.method().clone();
        let table = match kind {
            Listener::Public => &*PUBLIC_TABLE,
            Listener::Admin => &*ADMIN_TABLE,
        };
        let (template, result) = match table.lookup(&method, req.uri().path_and_query().unwrap_or(&ROOT)) {
            Match::NotFound => ("unmatched", Err(ApiError::NotFound)),
            Match::MethodNotAllowed { template, allow } => (template, Err(ApiError::MethodNotAllowed { allow })),
            Match::Found { route, template, params } => {
                let ctx = Ctx { params, peer };
                (template, run(&state, limits, route, ctx, req, id).await)
            }
        };
        // Refusals for overload are paced: sent after `http.overload_delay_ms`, once the request holds nothing (its
        // in-flight permit went with `run`), so a client retrying at once waits instead of spinning.
        let paced =
            matches!(&result, Err(ApiError::Unavailable { code: "overloaded", .. } | ApiError::TooManyInFlight));
        let mut response = result.unwrap_or_else(|err| err.into_response(id));
        super::respond::harden(&mut response);
        if let Some(hsts) = &state.hsts {
            response.headers_mut().insert(hyper::header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
        let status = response.status();
        request_metrics(kind, template, method_label(&method), status_label(status), started.elapsed().as_secs_f64());
        // A 503 was logged with its cause where it became problem+json (and shed requests only at debug level,
        // so an overload does not also flood the log).
        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(request_id = id, %method, route = template, status = status.as_u16(), "request failed");
        } else {
            tracing::debug!(request_id = id, %method, route = template, status = status.as_u16(), "request");
        }
        response.headers_mut().insert(REQUEST_ID.clone(), request_id);
        if paced {
            tokio::time::sleep(state.settings.overload_delay()).await;
        }
        response
    }
}

/// A request metric's labels by where they are (address and length): every label is a static string the server
/// chose (a route template, a method, a status), never a client's text, so that identifies it (two copies of one
/// text are two keys for the same handles), and hashing a few words costs less than hashing the text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct MetricKey(Listener, [(usize, usize); 3]);

impl MetricKey {
    fn of(kind: Listener, labels: [&'static str; 3]) -> Self {
        Self(kind, labels.map(|label| (label.as_ptr() as usize, label.len())))
    }
}

/// Counts one request of `route` with `status` and records its duration, through handles each worker thread
/// registers once per label set (bounded: route templates, known methods and statuses) and then looks up among
/// its own: no lock shared between threads and no handle cloned per request (a shared map behind a lock cost
/// two atomic updates for the lock and four for the handles' reference counts, on lines both threads write).
/// Never inlined: `bench/icount.sh` counts requests by its calls.
#[inline(never)]
fn request_metrics(kind: Listener, route: &'static str, method: &'static str, status: &'static str, seconds: f64) {
    type Handles = HashMap<MetricKey, (metrics::Counter, metrics::Histogram), foldhash::fast::RandomState>;
    thread_local! {
        static HANDLES: std::cell::RefCell<Handles> = std::cell::RefCell::default();
    }
    let key = MetricKey::of(kind, [route, method, status]);
    HANDLES.with_borrow_mut(|handles| {
        if let Some((requests, duration)) = handles.get(&key) {
            requests.increment(1);
            duration.record(seconds);
            return;
        }
        let (requests, duration) = handles.entry(key).or_insert_with(|| {
            (
                metrics::counter!(
                    "gantry_http_requests_total",
                    "listener" => kind.as_str(),
                    "route" => route,
                    "method" => method,
                    "status" => status,
                ),
                metrics::histogram!(
                    "gantry_http_request_duration_seconds",
                    "listener" => kind.as_str(),
                    "route" => route,
                    "status_class" => status_class(status),
                ),
            )
        });
        requests.increment(1);
        duration.record(seconds);
    });
}

/// The status class label of the duration histogram (`2xx` … `5xx`): latency per route and outcome without a
/// bucket set per status code.
fn status_class(status: &str) -> &'static str {
    match status.as_bytes().first() {
        Some(b'1') => "1xx",
        Some(b'2') => "2xx",
        Some(b'3') => "3xx",
        Some(b'4') => "4xx",
        _ => "5xx",
    }
}

/// The status as a static label (no allocation per request for the statuses Gantry answers).
fn status_label(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200 => "200",
        201 => "201",
        202 => "202",
        204 => "204",
        206 => "206",
        302 => "302",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        409 => "409",
        413 => "413",
        415 => "415",
        416 => "416",
        422 => "422",
        429 => "429",
        500 => "500",
        503 => "503",
        s if s < 300 => "2xx",
        s if s < 400 => "3xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    }
}

/// Bounded label values: unknown methods collapse into one.
fn method_label(method: &hyper::Method) -> &'static str {
    use hyper::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[allow(clippy::manual_async_fn)] // The parameters held once (see `dispatch.rs`'s documentation).
fn run(
    state: &AppState,
    limits: Limits<'_>,
    route: Route,
    ctx: Ctx,
    mut req: Request<Incoming>,
    request_id: Option<&str>,
) -> impl Future<Output = Result<Response, ApiError>> {
    async move {
        // The address's share first: a client at its share is refused before it takes a place others need.
        let _share = if route.sheddable() {
            Some(limits.share.try_take().ok_or_else(|| {
                refusal("in_flight_per_address");
                tracing::debug!(peer = %ctx.peer, request_id, "client at its share of requests in flight");
                ApiError::TooManyInFlight
            })?)
        } else {
            None
        };
        let _permit = if route.sheddable() {
            Some(limits.in_flight.try_acquire().map_err(|_| {
                metrics::counter!("gantry_http_shed_total").increment(1);
                ApiError::Unavailable {
                    code: "overloaded",
                    reason: "too many requests in flight; retry shortly".into(),
                    retry_after: Duration::from_secs(1),
                }
            })?)
        } else {
            None
        };
        let deadline = if route.streams() {
            Duration::from_secs(state.settings.uploads.timeout_secs)
        } else {
            // A body is held to its own deadline and rate while it is read (not an upload's: the pipeline holds
            // those to `uploads.min_bytes_per_sec`). Only requests with a body pay for the extension.
            if !hyper::body::Body::is_end_stream(req.body()) {
                req.extensions_mut().insert(BodyPolicy::of(&state.settings.http));
            }
            state.settings.request_timeout()
        };
        // Polled once before its deadline is armed: a handler that answers on its first poll (health, cached reads,
        // a verified token) then never reads the clock or builds a timer for it.
        let mut work = std::pin::pin!(dispatch(state, route, ctx, req));
        if let std::task::Poll::Ready(answer) = futures::poll!(work.as_mut()) {
            return answer;
        }
        tokio::time::timeout(deadline, work).await.unwrap_or_else(|_| {
            Err(ApiError::Unavailable {
                code: "timeout",
                reason: format!("the request did not complete within {}s", deadline.as_secs()),
                retry_after: Duration::from_secs(1),
            })
        })
    }
}

/// Counts a refusal at the edge (`gantry_http_refusals_total{reason}`; `body.rs` counts the 408s under the same
/// name).
fn refusal(reason: &'static str) {
    metrics::counter!("gantry_http_refusals_total", "reason" => reason).increment(1);
}

#[cfg(test)]
mod tests {
    use super::new_request_id;

    /// Fresh request ids are UUID v7 (version and variant set, the time in front, so they sort by time across
    /// milliseconds) and distinct, within a thread and across threads.
    #[test]
    fn fresh_request_ids_are_distinct_uuid_v7() {
        let text = || new_request_id().to_str().expect("text").to_owned();
        let mut ids: Vec<String> = (0..10_000).map(|_| text()).collect();
        let others = std::thread::spawn(move || (0..10_000).map(|_| text()).collect::<Vec<_>>());
        ids.extend(others.join().expect("thread"));
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(parsed.get_version(), Some(uuid::Version::SortRand), "{id}");
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122, "{id}");
            assert_eq!(id, &parsed.hyphenated().to_string(), "lowercase, hyphenated");
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis();
        let (seconds, _) = uuid::Uuid::parse_str(&ids[0]).expect("UUID").get_timestamp().expect("v7").to_unix();
        assert!(u128::from(seconds).abs_diff(now / 1000) <= 1, "the id carries the time");
        let later = {
            std::thread::sleep(std::time::Duration::from_millis(2));
            text()
        };
        assert!(later > ids[0], "a later id sorts after an earlier one");
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "no id repeats");
    }
}
