//! The RabbitMQ bus against a real broker, beyond the `Bus` contract (`tests/conformance/bus.rs`): health
//! before and after `close`, and recovery after the broker closes the bus's connections. Each test uses its own
//! exchange, deleted at the end.
//!
//! The recovery test closes connections from the server side with `rabbitmqctl` (it must run on the broker's
//! machine), finding them by the connection name the adapter sets (`gantry-bus-consumer <instance id>`).

use std::process::Command;

use gantry::adapters::amqp::AmqpBus;
use gantry::adapters::bus::next_signal;
use gantry_actors::ports::bus::{Bus, BusSignal, Envelope};
use tokio::sync::broadcast;
use tokio::time::timeout;
use uuid::Uuid;

use crate::amqp::{DEADLINE, delete_exchange, event, settings, unique_exchange, version_of, wait_healthy};
use crate::support::backend_env;

/// The next signal, failing after the deadline or when the bus is gone.
async fn next(rx: &mut broadcast::Receiver<BusSignal>) -> BusSignal {
    timeout(DEADLINE, next_signal(rx))
        .await
        .expect("no bus signal before the deadline")
        .expect("bus closed while a test was reading it")
}

/// The next `count` messages. Resyncs before the first message (the initial connect) are skipped; a resync
/// after it means messages may have been lost and fails the test.
async fn collect_messages(rx: &mut broadcast::Receiver<BusSignal>, count: usize) -> Vec<Envelope> {
    let mut messages = Vec::with_capacity(count);
    while messages.len() < count {
        match next(rx).await {
            BusSignal::Message(envelope) => messages.push(envelope),
            BusSignal::Resync { .. } if messages.is_empty() => {}
            BusSignal::Resync { reason } => {
                panic!("resync ({reason}) after {} of {count} messages", messages.len())
            }
        }
    }
    messages
}

/// Runs `rabbitmqctl` with `args` and returns its standard output.
fn rabbitmqctl(args: &[&str]) -> String {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("the recovery test needs `rabbitmqctl` on the broker's machine");
    assert!(output.status.success(), "rabbitmqctl {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Closes, from the broker's side, every connection whose client-provided name contains `fragment`; returns
/// how many it closed.
pub(crate) fn close_connections_named(fragment: &str) -> usize {
    // One line per connection: the pid, a tab, then the client properties as an Erlang term. (The JSON formatter
    // prints pids as `#PID<…>`, which `close_connection` does not accept.)
    let listing = rabbitmqctl(&["-s", "list_connections", "pid", "client_properties"]);
    let mut closed = 0;
    for line in listing.lines().filter(|line| line.contains(fragment)) {
        let (pid, _) = line.split_once('\t').expect("a pid, a tab, then the properties");
        rabbitmqctl(&["-q", "close_connection", pid, "gantry backend test"]);
        closed += 1;
    }
    closed
}

/// `health` turns `Ok` once the consumer is connected and consuming, and reports closed after `close`.
#[tokio::test]
async fn health_turns_ok_after_start() {
    let Some(url) = backend_env("GANTRY_TEST_AMQP_URL", "rabbitmq") else {
        return;
    };
    let exchange = unique_exchange();
    let bus = AmqpBus::start(settings(&url, &exchange), Uuid::now_v7());

    wait_healthy(&bus).await;
    assert_eq!(bus.backend(), "amqp");

    bus.close().await;
    let after_close = bus.health().await.expect_err("a closed bus is not healthy");
    assert_eq!(after_close.to_string(), "not connected to broker: bus closed");
    delete_exchange(&url, &exchange).await;
}

/// When the broker closes the bus's connections, subscribers get a `reconnected` resync and events published
/// afterwards are received again.
#[tokio::test]
async fn broker_side_close_triggers_resync_and_delivery_resumes() {
    let Some(url) = backend_env("GANTRY_TEST_AMQP_URL", "rabbitmq") else {
        return;
    };
    let exchange = unique_exchange();
    let id = Uuid::now_v7();
    let bus = AmqpBus::start(settings(&url, &exchange), id);
    let mut rx = bus.subscribe();
    wait_healthy(&bus).await;
    bus.publish(event("before")).await.expect("publish is confirmed");
    let before = collect_messages(&mut rx, 1).await;
    assert_eq!(version_of(&before[0]), "before");

    // Both the consumer and the publisher connection carry the instance id in their names.
    let closed = close_connections_named(&id.to_string());
    assert_eq!(closed, 2, "the consumer and publisher connections are closed");

    assert_eq!(next(&mut rx).await, BusSignal::Resync { reason: "reconnected" });
    wait_healthy(&bus).await;
    bus.publish(event("after")).await.expect("the publisher reconnects");
    match next(&mut rx).await {
        BusSignal::Message(envelope) => {
            assert_eq!(version_of(&envelope), "after");
            assert_eq!(envelope.origin, id);
        }
        other => panic!("expected the event published after the reconnect, got {other:?}"),
    }
    bus.close().await;
    delete_exchange(&url, &exchange).await;
}
