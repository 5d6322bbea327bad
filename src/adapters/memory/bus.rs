//! The in-process `Bus` of the local profile.

// The bus of a single instance: a Tokio broadcast channel. Every subscriber sees every event published after it
// subscribed. `broadcast` drops the oldest messages for a subscriber that falls more than `capacity` behind and
// reports it as `RecvError::Lagged`; read with [`next_signal`], which turns that into `BusSignal::Resync`.

use async_trait::async_trait;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::bus::{Bus, BusError, BusSignal, Event};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::adapters::bus::seal;

/// The in-process [`Bus`]: events reach the subscribers of this instance only.
#[derive(Debug, Clone)]
pub struct MemoryBus {
    /// This instance's id, the `origin` of everything it publishes.
    instance_id: Uuid,
    /// The channel every subscription is cut from.
    tx: broadcast::Sender<BusSignal>,
    /// The channel of the job runners' wake-ups ([`Bus::subscribe_wakeups`]).
    wakeups: broadcast::Sender<BusSignal>,
}

impl MemoryBus {
    /// A bus whose subscribers may fall up to `capacity` messages behind before they get a resync
    /// (a `capacity` of 0 is taken as 1, which `broadcast` requires).
    #[must_use]
    pub fn new(instance_id: Uuid, capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        let (wakeups, _) = broadcast::channel(capacity.max(1));
        // In-process: connected for as long as the process runs.
        metrics::gauge!("gantry_bus_connected", "backend" => "memory").set(1.0);
        Self { instance_id, tx, wakeups }
    }
}

#[async_trait]
impl Bus for MemoryBus {
    async fn publish(&self, event: Event) -> Result<(), BusError> {
        // With nobody subscribed the event goes nowhere, like a fanout exchange without queues: not an error.
        let to = if event.is_job_wakeup() { &self.wakeups } else { &self.tx };
        let _ = to.send(BusSignal::Message(seal(self.instance_id, event)));
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<BusSignal> {
        self.tx.subscribe()
    }

    fn subscribe_wakeups(&self) -> broadcast::Receiver<BusSignal> {
        self.wakeups.subscribe()
    }

    fn instance_id(&self) -> Uuid {
        self.instance_id
    }

    async fn health(&self) -> Result<(), Unavailable> {
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn close(&self) {
        // Nothing runs in the background; receivers end when the last `MemoryBus` clone is dropped.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::bus::next_signal;

    fn started(version: &str) -> Event {
        Event::InstanceStarted { version: version.to_owned() }
    }

    /// A subscriber that falls more than `capacity` behind gets a `lagged` resync, then the newest messages.
    #[tokio::test]
    async fn lagging_subscriber_gets_resync() {
        let bus = MemoryBus::new(Uuid::now_v7(), 2);
        let mut slow = bus.subscribe();

        for i in 0..5 {
            bus.publish(started(&i.to_string())).await.expect("memory publish cannot fail");
        }

        assert_eq!(next_signal(&mut slow).await, Some(BusSignal::Resync { reason: "lagged" }));
        match next_signal(&mut slow).await {
            Some(BusSignal::Message(envelope)) => assert_eq!(envelope.event, started("3")),
            other => panic!("expected the oldest retained message, got {other:?}"),
        }
    }

    /// Once every handle to the bus is gone, a subscription ends instead of waiting forever.
    #[tokio::test]
    async fn subscription_ends_when_bus_is_dropped() {
        let bus = MemoryBus::new(Uuid::now_v7(), 4);
        let mut rx = bus.subscribe();
        drop(bus);
        assert_eq!(next_signal(&mut rx).await, None);
    }
}

// ---- MemoryCache ----
//
