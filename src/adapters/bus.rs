//! What every bus adapter shares, so envelopes and lag handling look the same whatever the backend: sealing an
//! event into its wire [`Envelope`], and reading a subscription with lag turned into a resync.

use std::time::{SystemTime, UNIX_EPOCH};

use gantry_actors::ports::bus::{BusSignal, Envelope, Event};
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

/// The next signal of a bus subscription, with lag mapped to a resync.
///
/// Bus receivers are plain `broadcast::Receiver`s; a receiver that fell behind gets `RecvError::Lagged`, which
/// means messages were lost. Read subscriptions through this function (or treat `Lagged` the same way) so lost
/// messages always become [`BusSignal::Resync`] with reason `lagged`. Returns `None` once the bus is gone.
pub async fn next_signal(rx: &mut broadcast::Receiver<BusSignal>) -> Option<BusSignal> {
    match rx.recv().await {
        Ok(signal) => Some(signal),
        Err(RecvError::Lagged(_)) => Some(BusSignal::Resync { reason: "lagged" }),
        Err(RecvError::Closed) => None,
    }
}

/// Wraps `event` for the wire: a fresh time-ordered id, the publishing instance and the current time. Shared by
/// every bus adapter so envelopes look the same whatever the backend.
pub(crate) fn seal(origin: Uuid, event: Event) -> Envelope {
    // A clock before 1970 or past the year 292 million is not worth an error: it only shows up in logs.
    let sent_at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX));
    Envelope { id: Uuid::now_v7(), origin, sent_at_ms, event }
}
