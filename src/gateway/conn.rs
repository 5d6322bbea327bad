//! Connection guards of the accept loop: what a client that connects and then sends nothing (or only the
//! HTTP/2 preface) can cost. Each listener caps its connections per client address, and every connection is
//! watched: it must complete its first request head within `http.header_read_timeout_secs` of being accepted
//! (this covers protocol detection, which hyper's own header timeout does not), and an open connection with no
//! request in progress is closed after `http.keep_alive_idle_secs`. HTTP/2 keep-alive pings (set on the hyper
//! builder in `server.rs`) find peers that vanished without closing.
//!
//! The same per-address entry carries the address's requests in flight ([`ClientShare`]): each connection
//! gets the entry's counter when it is accepted (the one lock, per connection), and a request takes its place
//! with one atomic operation on it — no map, no lock and no allocation per request. An address at its share
//! (`http.max_in_flight_per_address`) is refused before its request costs anything, and never reaches the
//! listener's in-flight limit the others share.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Body as _;
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
        })
    }

    /// A request head arrived: the connection is busy until the guard drops.
    pub(crate) fn begin(self: &Arc<Self>) -> RequestGuard {
        self.served.store(true, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        RequestGuard(Arc::clone(self))
    }

    /// Why the connection should be closed now, if it should: `head_timeout` (no request head yet, and
    /// `head` has passed since accept) or `idle` (no request in progress for `idle`).
    fn overdue(&self, now: Instant, head: Duration, idle: Duration) -> Result<(), Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Err(now + idle);
        }
        let due = if self.served.load(Ordering::Relaxed) {
            self.accepted + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + idle
        } else {
            self.accepted + head
        };
        if now >= due { Ok(()) } else { Err(due) }
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
    let mut deadline = activity.accepted + head.min(idle);
    loop {
        tokio::select! {
            out = &mut conn => return Ok(out),
            () = tokio::time::sleep_until(deadline) => {
                let served = activity.served.load(Ordering::Relaxed);
                match activity.overdue(Instant::now(), head, idle) {
                    Ok(()) => return Err(if served { "idle" } else { "head_timeout" }),
                    Err(next) => deadline = next,
                }
            }
        }
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
