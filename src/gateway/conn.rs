//! Connection guards of the accept loop: what a client that connects and then sends nothing (or only the
//! HTTP/2 preface), or sends its heads slowly, can cost. Each listener caps its connections per client address,
//! and every connection is watched: it must complete its first request head within
//! `http.header_read_timeout_secs` of being accepted (this covers protocol detection), every later HTTP/1 head
//! within as long of its first byte ([`Watched`] notes when one starts), and an open connection with no request
//! in progress is closed after `http.keep_alive_idle_secs`. HTTP/2 keep-alive pings (set on the hyper builder in
//! `server.rs`) find peers that vanished without closing.
//!
//! The later heads are timed here rather than by hyper's `header_read_timeout`: hyper arms a boxed timer for every
//! request head and registers it with the runtime's timer wheel (and starts it when the connection goes idle, so
//! it also closed every idle HTTP/1 connection at the head deadline, not `http.keep_alive_idle_secs`). Here a head
//! costs one clock read and two atomic stores; the watcher wakes at most every `header_read_timeout_secs`.
//!
//! The same per-address entry carries the address's requests in flight ([`ClientShare`]): each connection
//! gets the entry's counter when it is accepted (the one lock, per connection), and a request takes its place
//! with one atomic operation on it — no map, no lock and no allocation per request. An address at its share
//! (`http.max_in_flight_per_address`) is refused before its request costs anything, and never reaches the
//! listener's in-flight limit the others share.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Body as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use super::respond::Body;

/// Open connections per client address on one listener, and each address's requests in flight. Only
/// addresses with an open connection have an entry, so the map is bounded by the listener's connection limit.
#[derive(Debug)]
pub(crate) struct AddressCounts {
    counts: Mutex<HashMap<IpAddr, AddressEntry>>,
    /// Most connections per address; 0 = no cap (behind a load balancer every client has its address).
    limit: usize,
    /// Most requests in flight per address; 0 = no share.
    requests_limit: usize,
}

/// One address's entry: its open connections and the counter its requests in flight share.
#[derive(Debug)]
struct AddressEntry {
    connections: usize,
    requests: Arc<AtomicUsize>,
}

/// One connection's place in [`AddressCounts`], given back when dropped.
#[derive(Debug)]
pub(crate) struct AddressSlot {
    counts: Arc<AddressCounts>,
    address: IpAddr,
    share: ClientShare,
}

/// An address's share of the requests in flight, as one of its connections holds it (cloned into the
/// connection's service once; a request borrows it).
#[derive(Debug, Clone)]
pub(crate) struct ClientShare {
    requests: Arc<AtomicUsize>,
    /// 0 = no share (nothing is counted).
    limit: usize,
}

/// A request's place in its address's share, given back when dropped.
#[derive(Debug)]
pub(crate) struct SharePlace<'a>(Option<&'a AtomicUsize>);

impl ClientShare {
    /// A place for one more request of this address, or `None` when the address has its share. One atomic
    /// operation; nothing when there is no share.
    pub(crate) fn try_take(&self) -> Option<SharePlace<'_>> {
        if self.limit == 0 {
            return Some(SharePlace(None));
        }
        self.requests
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.limit).then_some(n + 1))
            .ok()
            .map(|_| SharePlace(Some(&self.requests)))
    }
}

impl Drop for SharePlace<'_> {
    fn drop(&mut self) {
        if let Some(requests) = self.0 {
            requests.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl AddressCounts {
    /// Counts with at most `limit` connections and `requests_limit` requests in flight per address (0 =
    /// unlimited, each).
    pub(crate) fn new(limit: usize, requests_limit: usize) -> Arc<Self> {
        Arc::new(Self { counts: Mutex::new(HashMap::new()), limit, requests_limit })
    }

    /// A place for a connection from `address`, or `None` when that address has its share.
    pub(crate) fn take(self: &Arc<Self>, address: IpAddr) -> Option<AddressSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = counts
            .entry(address)
            .or_insert_with(|| AddressEntry { connections: 0, requests: Arc::new(AtomicUsize::new(0)) });
        if self.limit > 0 && entry.connections >= self.limit {
            if entry.connections == 0 {
                counts.remove(&address);
            }
            return None;
        }
        entry.connections += 1;
        let share = ClientShare { requests: Arc::clone(&entry.requests), limit: self.requests_limit };
        Some(AddressSlot { counts: Arc::clone(self), address, share })
    }
}

impl AddressSlot {
    /// The address's share of the requests in flight, for this connection's requests.
    pub(crate) fn share(&self) -> &ClientShare {
        &self.share
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entry) = counts.get_mut(&self.address) {
            entry.connections = entry.connections.saturating_sub(1);
            if entry.connections == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

/// What a connection is doing, as its requests report it.
#[derive(Debug)]
pub(crate) struct Activity {
    accepted: Instant,
    /// Requests in progress on the connection (HTTP/2: streams).
    in_flight: AtomicUsize,
    /// Whether a request head ever completed.
    served: AtomicBool,
    /// When the last request ended, in milliseconds since `accepted`.
    last_ms: AtomicU64,
    /// When the first byte of the next HTTP/1 request head arrived, in milliseconds since `accepted`, plus one;
    /// 0 = no head started since the last one completed.
    head_started_ms: AtomicU64,
}

/// One request in progress on a connection (see [`Activity::begin`]).
pub(crate) struct RequestGuard(Arc<Activity>);

impl Activity {
    /// A connection accepted now.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            accepted: Instant::now(),
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            last_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(0),
        })
    }

    /// A request head arrived: the connection is busy until the guard drops.
    pub(crate) fn begin(self: &Arc<Self>) -> RequestGuard {
        self.served.store(true, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started_ms.store(0, Ordering::Relaxed);
        RequestGuard(Arc::clone(self))
    }

    /// Bytes arrived on an HTTP/1 connection: with no request in progress they start the next head (the first
    /// head is timed from accept).
    fn bytes_read(&self) {
        if self.served.load(Ordering::Relaxed)
            && self.in_flight.load(Ordering::Acquire) == 0
            && self.head_started_ms.load(Ordering::Relaxed) == 0
        {
            let since = u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
            self.head_started_ms.store(since + 1, Ordering::Relaxed);
        }
    }

    /// Whether the connection should be closed now: `Ok` with the reason, `head_timeout` (the first head not
    /// complete `head` after accept, or a later one `head` after its first byte) or `idle` (no request in
    /// progress for `idle`); else `Err` with when to look again. A later head can start, or a request end, at
    /// any time, so the next look is never more than the shorter of the two away: a head that started since is
    /// then still before its deadline.
    fn overdue(&self, now: Instant, head: Duration, idle: Duration) -> Result<&'static str, Instant> {
        let look_again = now + head.min(idle);
        let (reason, due) = if !self.served.load(Ordering::Relaxed) {
            ("head_timeout", self.accepted + head)
        } else if self.in_flight.load(Ordering::Acquire) > 0 {
            return Err(look_again);
        } else {
            match self.head_started_ms.load(Ordering::Relaxed) {
                0 => ("idle", self.accepted + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + idle),
                started => ("head_timeout", self.accepted + Duration::from_millis(started - 1) + head),
            }
        };
        if now >= due { Ok(reason) } else { Err(due.min(look_again)) }
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let since = u64::try_from(self.0.accepted.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.last_ms.store(since, Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Bodies up to this size are in memory and written at once: their request ends with the handler.
const HELD_BODY_MIN: u64 = 64 * 1024;

/// `body` that keeps `guard` (its request counts as in progress) until the body is fully sent or dropped: a
/// long download is a request in progress, not an idle connection. A small in-memory body (the usual JSON
/// answer) is passed through untouched and the guard ends now, so the common response is not re-wrapped.
pub(crate) fn hold_until_sent(body: Body, guard: RequestGuard) -> Body {
    if body.size_hint().upper().is_some_and(|upper| upper <= HELD_BODY_MIN) {
        drop(guard);
        return body;
    }
    body.map_frame(move |frame| {
        // The closure owns the guard; it drops with the body.
        let _keep = &guard;
        frame
    })
    .boxed_unsync()
}

/// Runs `conn` until it ends, or closes it (by dropping it) when [`Activity::overdue`] says so; `Err` names the
/// reason (`head_timeout`, `idle`).
pub(crate) async fn watch<F: Future>(
    conn: F,
    activity: Arc<Activity>,
    head: Duration,
    idle: Duration,
) -> Result<F::Output, &'static str> {
    tokio::pin!(conn);
    // The first check comes at the earlier of the two deadlines; each later one at the time `overdue` names.
    let sleep = tokio::time::sleep_until(activity.accepted + head.min(idle));
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            out = &mut conn => return Ok(out),
            () = &mut sleep => {
                match activity.overdue(Instant::now(), head, idle) {
                    Ok(reason) => return Err(reason),
                    Err(next) => sleep.as_mut().reset(next),
                }
            }
        }
    }
}

/// A connection's stream as hyper reads it, noting for the watcher when a later HTTP/1 request head starts (the
/// first byte read while the connection has no request in progress). An HTTP/2 connection (its first bytes are
/// the preface) is not noted: its frames (pings, settings) arrive between requests, and its streams are bounded by
/// hyper's HTTP/2 settings.
pub(crate) struct Watched<S> {
    stream: S,
    activity: Arc<Activity>,
    protocol: Protocol,
}

/// What the first bytes of a connection said.
enum Protocol {
    /// Fewer than four bytes so far (these ones).
    Unknown([u8; 4], usize),
    Http1,
    Http2,
}

impl<S> Watched<S> {
    /// `stream`, reporting to `activity`.
    pub(crate) fn new(stream: S, activity: Arc<Activity>) -> Self {
        Self { stream, activity, protocol: Protocol::Unknown([0; 4], 0) }
    }

    fn read(&mut self, bytes: &[u8]) {
        if let Protocol::Unknown(seen, n) = &mut self.protocol {
            let take = bytes.len().min(4 - *n);
            seen[*n..*n + take].copy_from_slice(&bytes[..take]);
            *n += take;
            if *n < 4 {
                return;
            }
            self.protocol = if seen == b"PRI " { Protocol::Http2 } else { Protocol::Http1 };
        }
        if matches!(self.protocol, Protocol::Http1) {
            self.activity.bytes_read();
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let this = &mut *self;
            this.read(&buf.filled()[before..]);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address's connections share one count of requests in flight: at its share the next request is
    /// refused, another address is not affected, and a finished request gives its place back; 0 = no share.
    #[test]
    fn requests_in_flight_are_shared_per_address() {
        let counts = AddressCounts::new(0, 2);
        let (a, b) = (IpAddr::from([127, 0, 0, 2]), IpAddr::from([127, 0, 0, 1]));
        let first = counts.take(a).expect("connection");
        let second = counts.take(a).expect("connection");
        let one = first.share().try_take().expect("room");
        let two = second.share().try_take().expect("room");
        assert!(first.share().try_take().is_none(), "the address has its share, across its connections");
        let other = counts.take(b).expect("connection");
        assert!(other.share().try_take().is_some(), "another address does not notice");
        drop(one);
        let again = second.share().try_take();
        assert!(again.is_some(), "a finished request gives its place back");
        drop((two, again));

        let unlimited = AddressCounts::new(0, 0);
        let slot = unlimited.take(a).expect("connection");
        let places: Vec<_> = (0..1000).map(|_| slot.share().try_take()).collect();
        assert!(places.iter().all(Option::is_some));
    }
}
