//! RabbitMQ bus fixtures shared by the `Bus` conformance suite and the RabbitMQ-only backend tests (included by
//! both with `#[path]`): settings on a test exchange of its own, waiting for health, deleting the exchange, and
//! the one kind of event the tests publish.

use std::time::Duration;

use gantry::adapters::amqp::{AmqpBus, AmqpSettings};
use gantry_actors::ports::bus::{Bus, Envelope, Event};
use lapin::options::ExchangeDeleteOptions;
use lapin::{Connection, ConnectionProperties};
use secrecy::SecretString;
use tokio::time::timeout;
use uuid::Uuid;

use crate::eventually::{Deadline, eventually};

/// Upper bound for anything a bus test waits for.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Bus settings for the broker at `url`, publishing to `exchange`.
pub fn settings(url: &str, exchange: &str) -> AmqpSettings {
    AmqpSettings {
        url: SecretString::from(url.to_owned()),
        exchange: exchange.to_owned(),
        connect_timeout: Duration::from_secs(5),
        publish_timeout: Duration::from_secs(5),
        capacity: 1024,
    }
}

/// An exchange name no other test or run uses.
pub fn unique_exchange() -> String {
    format!("gantry.events.test-{}", Uuid::new_v4())
}

/// Polls `health` until it is `Ok`, failing with the last reason after the deadline.
pub async fn wait_healthy(bus: &AmqpBus) {
    let health = async || bus.health().await.map_err(|reason| reason.to_string());
    let _healthy = eventually(
        "bus never became healthy",
        Deadline::new(DEADLINE, Duration::from_millis(20)),
        health,
        Result::is_ok,
    )
    .await;
}

/// Deletes a test exchange (the adapter declares it durable, so it would outlive the test).
pub async fn delete_exchange(url: &str, exchange: &str) {
    let cleanup = async {
        let connection = Connection::connect(url, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        channel.exchange_delete(exchange.into(), ExchangeDeleteOptions::default()).await?;
        connection.close(200, "test done".into()).await
    };
    match timeout(Duration::from_secs(5), cleanup).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => eprintln!("could not delete test exchange {exchange}: {error}"),
        Err(_) => eprintln!("could not delete test exchange {exchange}: timed out"),
    }
}

/// The event the bus tests publish, told apart by `version`.
pub fn event(version: &str) -> Event {
    Event::InstanceStarted { version: version.to_owned() }
}

/// The `version` of an event made by [`event`].
pub fn version_of(envelope: &Envelope) -> &str {
    match &envelope.event {
        Event::InstanceStarted { version } => version,
        other => panic!("only instance_started is published here, got {other:?}"),
    }
}
