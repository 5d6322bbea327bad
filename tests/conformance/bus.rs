//! The `Bus` contract, run against the in-process bus (always) and RabbitMQ (a fresh exchange per test, when
//! `GANTRY_TEST_AMQP_URL` is set): every subscriber of every instance receives every event, stamped with its
//! publisher's instance id, in publish order. Each case gets two instances of one fleet; the in-process bus
//! serves a single instance, so both are the same bus there. What only one adapter does (the in-process bus's
//! `lagged` resync and end on drop, RabbitMQ's reconnect and `close`) is tested next to it:
//! `src/adapters/memory/bus.rs` and `tests/backends/rabbitmq.rs`.

use std::future::Future;
use std::sync::Arc;

use gantry::adapters::amqp::AmqpBus;
use gantry::adapters::bus::next_signal;
use gantry::adapters::memory::MemoryBus;
use gantry_actors::ports::bus::{Bus, BusSignal, Envelope, Event};
use tokio::sync::broadcast;
use tokio::time::timeout;
use uuid::Uuid;

use crate::amqp::{DEADLINE, delete_exchange, event, settings, unique_exchange, version_of, wait_healthy};

/// The next `count` messages. A `reconnected` resync before the first message (RabbitMQ's initial connect)
/// is skipped; any other resync means messages may have been lost and fails the test.
async fn collect_messages(rx: &mut broadcast::Receiver<BusSignal>, count: usize) -> Vec<Envelope> {
    let mut messages = Vec::with_capacity(count);
    while messages.len() < count {
        let signal = timeout(DEADLINE, next_signal(rx))
            .await
            .expect("no bus signal before the deadline")
            .expect("bus closed while a test was reading it");
        match signal {
            BusSignal::Message(envelope) => messages.push(envelope),
            BusSignal::Resync { reason: "reconnected" } if messages.is_empty() => {}
            BusSignal::Resync { reason } => {
                panic!("resync ({reason}) after {} of {count} messages", messages.len())
            }
        }
    }
    messages
}

/// A published event reaches every subscriber, stamped with the publisher's instance id.
pub async fn published_event_reaches_every_subscriber_with_origin(a: Arc<dyn Bus>, _b: Arc<dyn Bus>) {
    let mut first = a.subscribe();
    let mut second = a.subscribe();

    a.publish(event("1.2.3")).await.expect("publish");

    for rx in [&mut first, &mut second] {
        let received = collect_messages(rx, 1).await;
        assert_eq!(received[0].origin, a.instance_id());
        assert_eq!(received[0].event, event("1.2.3"));
    }
}

/// Every instance receives every event of a 200-event burst, its own and the other's, in publish order.
pub async fn burst_reaches_every_instance_in_publish_order(a: Arc<dyn Bus>, b: Arc<dyn Bus>) {
    let mut a_rx = a.subscribe();
    let mut b_rx = b.subscribe();

    // Alternate publishers; each publish waits for its confirm, so the order is well defined.
    for i in 0..200 {
        let publisher = if i % 2 == 0 { &a } else { &b };
        publisher.publish(event(&format!("burst-{i}"))).await.expect("publish is confirmed");
    }

    for (who, rx) in [("a", &mut a_rx), ("b", &mut b_rx)] {
        let received = collect_messages(rx, 200).await;
        for (i, envelope) in received.iter().enumerate() {
            assert_eq!(version_of(envelope), format!("burst-{i}"), "order seen by {who}");
            let origin = if i % 2 == 0 { a.instance_id() } else { b.instance_id() };
            assert_eq!(envelope.origin, origin, "origin of message {i} seen by {who}");
        }
    }
}

/// The job runners' wake-ups travel on a subscription of their own (issue 24: at hundreds a second they would
/// crowd every other subscriber's channel): a plain subscriber never sees them, and the wake-up subscription
/// sees nothing else.
pub async fn job_wakeups_reach_only_the_wakeup_subscription(a: Arc<dyn Bus>, b: Arc<dyn Bus>) {
    let mut plain = b.subscribe();
    let mut wakeups = b.subscribe_wakeups();
    let wakeup = Event::JobsEnqueued { queue: "default".to_owned() };

    a.publish(wakeup.clone()).await.expect("publish");
    a.publish(event("after the wake-up")).await.expect("publish");

    let received = collect_messages(&mut plain, 1).await;
    assert_eq!(received[0].event, event("after the wake-up"), "the plain subscriber skips the wake-up");
    let received = collect_messages(&mut wakeups, 1).await;
    assert_eq!((received[0].event.clone(), received[0].origin), (wakeup, a.instance_id()));
    // Both were delivered in publish order by one consumer: had the other event reached this subscription, it
    // would be here by now.
    let rest: Vec<BusSignal> = std::iter::from_fn(|| wakeups.try_recv().ok()).collect();
    assert!(rest.is_empty(), "the wake-up subscription got more: {rest:?}");
}

/// Runs `case` on one in-process bus, handed over as both instances.
async fn on_memory<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Bus>, Arc<dyn Bus>) -> Fut,
    Fut: Future<Output = ()>,
{
    let bus = Arc::new(MemoryBus::new(Uuid::now_v7(), 1024));
    bus.health().await.expect("the in-process bus is always healthy");
    assert_eq!(bus.backend(), "memory");
    case(bus.clone(), bus).await;
}

/// Runs `case` on two RabbitMQ buses (two instances) sharing a fresh exchange, once both are consuming; then
/// closes them and deletes the exchange. Skips loudly without `GANTRY_TEST_AMQP_URL`.
async fn on_rabbitmq<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Bus>, Arc<dyn Bus>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(url) = crate::support::backend_env("GANTRY_TEST_AMQP_URL", "rabbitmq") else { return };
    let exchange = unique_exchange();
    let a = Arc::new(AmqpBus::start(settings(&url, &exchange), Uuid::now_v7()));
    let b = Arc::new(AmqpBus::start(settings(&url, &exchange), Uuid::now_v7()));
    wait_healthy(&a).await;
    wait_healthy(&b).await;
    assert_eq!(a.backend(), "amqp");
    case(a.clone(), b.clone()).await;
    a.close().await;
    b.close().await;
    delete_exchange(&url, &exchange).await;
}

/// Declares, for each case, `bus::memory::<case>` and `bus::rabbitmq::<case>`.
macro_rules! bus_cases {
    ($($case:ident),+ $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $case() {
                    super::on_memory(super::$case).await;
                }
            )+
        }
        mod rabbitmq {
            $(
                #[tokio::test]
                async fn $case() {
                    super::on_rabbitmq(super::$case).await;
                }
            )+
        }
    };
}

bus_cases!(
    published_event_reaches_every_subscriber_with_origin,
    burst_reaches_every_instance_in_publish_order,
    job_wakeups_reach_only_the_wakeup_subscription,
);
