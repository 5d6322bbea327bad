//! The RabbitMQ [`Bus`] (production profile), on lapin 4, with an explicit reconnect loop.
//!
//! Topology: one durable fanout exchange (`gantry.events` by default) and, per instance, one fresh
//! server-named, exclusive, auto-delete queue bound to it. Each instance uses two connections:
//!
//! - **consumer**, owned by a background task: connect, declare the exchange, declare a fresh queue, bind,
//!   consume, and only then send [`BusSignal::Resync`] (`reconnected`) — the new queue is bound at that point,
//!   so nothing published afterwards can fall between the old queue and the new one. Deliveries are forwarded
//!   until the stream errors or ends or the connection stops being connected; then back off with jitter
//!   (250 ms doubling to 5 s, reset after a healthy period) and start over. lapin's own auto-recovery is not
//!   used: it re-declares the old `amq.gen-` queue, which the broker refuses, and the consumer then silently
//!   receives nothing (see `shared/DEPENDENCIES.md`).
//! - **publisher**, opened lazily with publisher confirms and re-opened when it is no longer connected.
//!
//! Deliveries are consumed with `no_ack`. The queue is exclusive and auto-deleted with its connection, so
//! unacknowledged messages would die with it anyway: acks would buy no redelivery, only a frame per message and
//! a prefetch window to tune. Loss is handled by resync, as the port prescribes.
//!
//! Every lapin future runs under `tokio::time::timeout`: connect can hang on a peer that accepts TCP but never
//! speaks AMQP, and a confirm can wait until the heartbeat gives up. The URL's password never reaches logs,
//! `Debug` output or health reasons.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::bus::{Bus, BusError, BusSignal, Envelope, Event};
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::protocol::constants::REPLY_SUCCESS;
use lapin::types::{FieldTable, ShortString};
use lapin::uri::AMQPUri;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ConnectionStatus, Consumer, ExchangeKind,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, sleep, timeout};
use uuid::Uuid;

use super::bus::seal;

/// Heartbeat (seconds) asked for when the URL does not set one: a frozen broker is noticed within ~20 s.
const DEFAULT_HEARTBEAT_SECS: u16 = 10;
/// First reconnect delay (before jitter).
const BACKOFF_MIN: Duration = Duration::from_millis(250);
/// Largest reconnect delay (before jitter).
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A consumer link that stayed up this long counts as healthy: the next failure starts again at `BACKOFF_MIN`.
const HEALTHY_PERIOD: Duration = Duration::from_secs(30);
/// How often the consumer checks that its connection and channel are still connected. The stream alone is not
/// enough: after some failures lapin leaves a consumer waiting forever.
const LINK_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// How long a graceful close (connection close handshake, background task exit) may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Delivery mode 2: persistent. The queues are transient, but a durable queue added later keeps the messages.
const PERSISTENT: u8 = 2;

/// Settings of the RabbitMQ bus.
#[derive(Clone)]
pub struct AmqpSettings {
    /// Broker URL, `amqp://user:password@host:port/vhost`; `?heartbeat=10` is added when it sets none.
    pub url: SecretString,
    /// Name of the fanout exchange every instance publishes to (`gantry.events`).
    pub exchange: String,
    /// Limit for connecting and for each topology step (channel, declarations, bind, consume).
    pub connect_timeout: Duration,
    /// Limit for a whole publish: opening the publisher link if needed, sending, and the broker's confirm.
    pub publish_timeout: Duration,
    /// How far a subscriber may fall behind before it gets a resync.
    pub capacity: usize,
}

impl fmt::Debug for AmqpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpSettings")
            .field("url", &redact_url(self.url.expose_secret()))
            .field("exchange", &self.exchange)
            .field("connect_timeout", &self.connect_timeout)
            .field("publish_timeout", &self.publish_timeout)
            .field("capacity", &self.capacity)
            .finish()
    }
}

/// The RabbitMQ [`Bus`]. Create it with [`AmqpBus::start`]; stop it with [`Bus::close`] (dropping it also
/// stops the background task, without the graceful close handshake).
pub struct AmqpBus {
    /// What the consumer task and `publish` share.
    shared: Arc<Shared>,
    /// The publisher link; `None` until the first publish and after a failed one.
    publisher: Mutex<Option<Arc<PublisherLink>>>,
    /// Set to `true` by `close`. Dropping the sender (with the bus) stops the consumer task as well.
    stop: watch::Sender<bool>,
    /// The consumer task, taken by `close` to wait for it.
    task: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for AmqpBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpBus")
            .field("instance_id", &self.shared.instance_id)
            .field("link", &self.shared.health())
            .finish_non_exhaustive()
    }
}

/// State shared between the bus handle and its consumer task.
struct Shared {
    /// This instance's id: the `origin` of what it publishes, and part of the connection names.
    instance_id: Uuid,
    /// Where to connect, or why the settings are unusable (a text without secrets).
    target: Result<Target, String>,
    /// See [`AmqpSettings::connect_timeout`].
    connect_timeout: Duration,
    /// See [`AmqpSettings::publish_timeout`].
    publish_timeout: Duration,
    /// The subscribers' channel.
    tx: broadcast::Sender<BusSignal>,
    /// The job runners' wake-ups' channel ([`Bus::subscribe_wakeups`]).
    wakeups: broadcast::Sender<BusSignal>,
    /// The consumer link as `health` reports it. A std mutex: it is only held to copy or replace the value.
    link: Mutex<Link>,
}

/// The validated broker address and exchange.
struct Target {
    /// Parsed URL with the heartbeat default applied. Holds the password: never `Debug` or log it.
    uri: AMQPUri,
    /// The exchange name, checked to fit an AMQP short string.
    exchange: ShortString,
}

/// The consumer link, as `health` sees it.
enum Link {
    /// Not consuming, and why.
    Down(String),
    /// Consuming on the connection with this status (checked live, so a dead connection shows before the
    /// task notices it).
    Up(ConnectionStatus),
}

/// What ended a consumer session.
enum SessionEnd {
    /// `close` was called, or the bus was dropped.
    Stopped,
    /// The link broke, and why.
    Lost(String),
}

/// A consuming connection.
struct ConsumerLink {
    /// Kept to close it and to check it is still connected.
    connection: Connection,
    /// Kept to check it is still open (the broker can close a channel alone).
    channel: Channel,
    /// The delivery stream.
    consumer: Consumer,
    /// The server-named queue, for logs.
    queue: ShortString,
}

/// A publishing connection, with publisher confirms on its channel.
struct PublisherLink {
    /// Kept to close it and to check it is still connected.
    connection: Connection,
    /// The confirm-mode channel.
    channel: Channel,
}

impl PublisherLink {
    /// Whether the link can still be used, as far as lapin knows.
    fn usable(&self) -> bool {
        self.connection.status().connected() && self.channel.status().connected()
    }
}

/// A publish that did not get an ack.
struct PublishFailure {
    /// The publisher link is still sound (the broker answered with a nack) and should be kept.
    keep_link: bool,
    /// What happened, without secrets.
    reason: String,
}

impl AmqpBus {
    /// Starts the bus and returns at once; the consumer connects in a background task. Until it consumes,
    /// [`Bus::health`] reports why not. Invalid settings (unparsable URL, exchange name over 255 bytes) do not
    /// panic: `health` and `publish` report them.
    ///
    /// # Panics
    /// When called outside a Tokio runtime.
    #[must_use]
    pub fn start(settings: AmqpSettings, instance_id: Uuid) -> Self {
        let (tx, _) = broadcast::channel(settings.capacity.max(1));
        let (wakeups, _) = broadcast::channel(settings.capacity.max(1));
        let target = parse_target(&settings);
        let link = Link::Down(match &target {
            Ok(_) => "connecting".to_owned(),
            Err(problem) => problem.clone(),
        });
        metrics::gauge!("gantry_bus_connected", "backend" => "amqp").set(0.0);
        let shared = Arc::new(Shared {
            instance_id,
            target,
            connect_timeout: settings.connect_timeout,
            publish_timeout: settings.publish_timeout,
            tx,
            wakeups,
            link: Mutex::new(link),
        });
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run_consumer(Arc::clone(&shared), stop_rx));
        Self { shared, publisher: Mutex::new(None), stop, task: Mutex::new(Some(task)) }
    }

    /// The current publisher link, opening a new one when there is none or it is no longer connected.
    async fn publisher(&self) -> Result<Arc<PublisherLink>, String> {
        if let Some(link) = lock(&self.publisher).as_ref().filter(|link| link.usable()) {
            return Ok(Arc::clone(link));
        }
        let target = self.shared.target.as_ref().map_err(Clone::clone)?;
        // Opened without holding the lock: two publishers racing here may both connect; the loser's link is
        // dropped, which closes it.
        let fresh = Arc::new(open_publisher(&self.shared, target).await?);
        let mut slot = lock(&self.publisher);
        match slot.as_ref().filter(|link| link.usable()) {
            Some(existing) => Ok(Arc::clone(existing)),
            None => {
                *slot = Some(Arc::clone(&fresh));
                Ok(fresh)
            }
        }
    }

    /// Publishes `payload` and waits for the broker's confirm (the caller bounds the time).
    async fn publish_confirmed(&self, payload: &[u8]) -> Result<(), PublishFailure> {
        let broken = |reason: String| PublishFailure { keep_link: false, reason };
        let link = self.publisher().await.map_err(broken)?;
        let exchange = &self.shared.target.as_ref().map_err(|p| broken(p.clone()))?.exchange;
        let properties =
            BasicProperties::default().with_delivery_mode(PERSISTENT).with_content_type("application/json".into());
        let confirm = link
            .channel
            .basic_publish(
                exchange.clone(),
                ShortString::default(),
                BasicPublishOptions::default(),
                payload,
                properties,
            )
            .await
            .map_err(|e| broken(format!("basic.publish: {e}")))?;
        match confirm.await {
            Ok(Confirmation::Ack(_)) => Ok(()),
            Ok(Confirmation::Nack(_)) => {
                Err(PublishFailure { keep_link: true, reason: "the broker refused the message (nack)".to_owned() })
            }
            Ok(Confirmation::NotRequested) => {
                Err(broken("publisher confirms are not enabled on the channel".to_owned()))
            }
            Err(e) => Err(broken(format!("waiting for the confirm: {e}"))),
        }
    }
}

#[async_trait]
impl Bus for AmqpBus {
    async fn publish(&self, event: Event) -> Result<(), BusError> {
        if *self.stop.borrow() {
            return Err(Unavailable::new("bus closed").into());
        }
        let envelope: Envelope = seal(self.shared.instance_id, event);
        let payload = serde_json::to_vec(&envelope).map_err(|e| BusError::Encode(e.to_string()))?;
        let limit = self.shared.publish_timeout;
        let failure = match timeout(limit, self.publish_confirmed(&payload)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(failure)) => failure,
            Err(_) => PublishFailure {
                // A link that let a publish time out is suspect (frozen broker, half-open TCP): start afresh.
                keep_link: false,
                reason: format!("no confirm within {} ms", limit.as_millis()),
            },
        };
        if !failure.keep_link {
            // Taken out under the lock, dropped (which closes it) after the lock is released.
            let stale = lock(&self.publisher).take();
            drop(stale);
        }
        metrics::counter!("gantry_bus_publish_errors_total", "backend" => "amqp").increment(1);
        let reason = self.shared.scrub(&failure.reason);
        Err(Unavailable::new(format!("publish failed: {reason}")).into())
    }

    fn subscribe(&self) -> broadcast::Receiver<BusSignal> {
        self.shared.tx.subscribe()
    }

    fn subscribe_wakeups(&self) -> broadcast::Receiver<BusSignal> {
        self.shared.wakeups.subscribe()
    }

    fn instance_id(&self) -> Uuid {
        self.shared.instance_id
    }

    async fn health(&self) -> Result<(), Unavailable> {
        self.shared.health().map_err(|reason| Unavailable::new(format!("not connected to broker: {reason}")))
    }

    fn backend(&self) -> &'static str {
        "amqp"
    }

    async fn close(&self) {
        self.stop.send_replace(true);
        let task = lock(&self.task).take();
        if let Some(mut task) = task
            && timeout(CLOSE_TIMEOUT, &mut task).await.is_err()
        {
            task.abort();
        }
        let publisher = lock(&self.publisher).take();
        if let Some(link) = publisher {
            close_connection(&link.connection).await;
        }
    }
}

impl Shared {
    /// `Ok` while consuming on a connection lapin still sees as connected; otherwise why not.
    fn health(&self) -> Result<(), String> {
        match &*lock(&self.link) {
            Link::Up(status) if status.connected() => Ok(()),
            Link::Up(_) => Err("connection lost".to_owned()),
            Link::Down(reason) => Err(reason.clone()),
        }
    }

    fn set_link(&self, link: Link) {
        let up = matches!(link, Link::Up(_));
        metrics::gauge!("gantry_bus_connected", "backend" => "amqp").set(if up { 1.0 } else { 0.0 });
        *lock(&self.link) = link;
    }

    /// `text` with the URL's password masked: lapin's error texts are not ours to trust.
    fn scrub(&self, text: &str) -> String {
        match &self.target {
            Ok(target) if !target.uri.authority.userinfo.password.is_empty() => {
                text.replace(target.uri.authority.userinfo.password.as_str(), "***")
            }
            _ => text.to_owned(),
        }
    }

    /// Decodes one delivery and hands it to the subscribers.
    fn deliver(&self, data: &[u8]) {
        match serde_json::from_slice::<Envelope>(data) {
            Ok(envelope) => {
                metrics::counter!("gantry_bus_messages_received_total", "backend" => "amqp").increment(1);
                // No subscriber is not an error: nobody is interested right now.
                let to = if envelope.event.is_job_wakeup() { &self.wakeups } else { &self.tx };
                let _ = to.send(BusSignal::Message(envelope));
            }
            // Most likely a newer instance publishing an event this version does not know; dropping it is the
            // only option, and subscribers cannot act on it anyway.
            Err(error) => tracing::warn!(
                event = "bus_undecodable_message",
                backend = "amqp",
                %error,
                "dropped a bus message that is not a known envelope"
            ),
        }
    }
}

/// The consumer task: one session per connection, with backoff in between, until `stop`.
async fn run_consumer(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let target = match &shared.target {
        Ok(target) => target,
        Err(problem) => {
            tracing::error!(event = "bus_misconfigured", backend = "amqp", %problem, "bus cannot start");
            return;
        }
    };
    let mut delay = BACKOFF_MIN;
    let mut attempt: u32 = 0;
    loop {
        let opened = tokio::select! {
            () = stopped(&mut stop) => break,
            opened = open_consumer(&shared, target) => opened,
        };
        let reason = match opened {
            Ok(mut link) => {
                shared.set_link(Link::Up(link.connection.status().clone()));
                // Only now: the new queue is bound, so every later message reaches it.
                let _ = shared.tx.send(BusSignal::Resync { reason: "reconnected" });
                let _ = shared.wakeups.send(BusSignal::Resync { reason: "reconnected" });
                tracing::info!(event = "bus_connected", backend = "amqp", queue = %link.queue, "bus consuming");
                let since = Instant::now();
                match forward(&shared, &mut link, &mut stop).await {
                    SessionEnd::Stopped => {
                        close_connection(&link.connection).await;
                        break;
                    }
                    SessionEnd::Lost(reason) => {
                        if since.elapsed() >= HEALTHY_PERIOD {
                            delay = BACKOFF_MIN;
                            attempt = 0;
                        }
                        reason
                    }
                }
            }
            Err(reason) => reason,
        };
        let reason = shared.scrub(&reason);
        shared.set_link(Link::Down(reason.clone()));
        attempt = attempt.saturating_add(1);
        let wait = jittered(delay);
        tracing::warn!(
            event = "bus_reconnect",
            backend = "amqp",
            attempt,
            %reason,
            retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "bus consumer link down; reconnecting"
        );
        metrics::counter!("gantry_bus_reconnects_total", "backend" => "amqp").increment(1);
        tokio::select! {
            () = stopped(&mut stop) => break,
            () = sleep(wait) => {}
        }
        delay = (delay * 2).min(BACKOFF_MAX);
    }
    shared.set_link(Link::Down("bus closed".to_owned()));
}

/// Forwards deliveries until the link breaks or `stop`.
async fn forward(shared: &Shared, link: &mut ConsumerLink, stop: &mut watch::Receiver<bool>) -> SessionEnd {
    let mut check = tokio::time::interval(LINK_CHECK_INTERVAL);
    check.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            () = stopped(stop) => return SessionEnd::Stopped,
            next = link.consumer.next() => match next {
                Some(Ok(delivery)) => shared.deliver(&delivery.data),
                Some(Err(error)) => return SessionEnd::Lost(format!("consumer failed: {error}")),
                None => return SessionEnd::Lost("consumer cancelled by the broker".to_owned()),
            },
            _ = check.tick() => {
                if !link.connection.status().connected() {
                    return SessionEnd::Lost("connection no longer connected".to_owned());
                }
                if !link.channel.status().connected() {
                    return SessionEnd::Lost("channel closed".to_owned());
                }
            }
        }
    }
}

/// Resolves once `close` was called or the bus was dropped.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // `Err` means the sender is gone with the bus: stop as well.
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Connects, declares the exchange and a fresh queue, binds it and starts consuming.
async fn open_consumer(shared: &Shared, target: &Target) -> Result<ConsumerLink, String> {
    let limit = shared.connect_timeout;
    let name = format!("gantry-bus-consumer {}", shared.instance_id);
    let connection = connect(target, name, limit).await?;
    let channel = bounded("open channel", limit, connection.create_channel()).await?;
    declare_exchange(&channel, &target.exchange, limit).await?;
    let queue = bounded(
        "declare queue",
        limit,
        channel.queue_declare(
            ShortString::default(),
            QueueDeclareOptions { exclusive: true, auto_delete: true, ..QueueDeclareOptions::default() },
            FieldTable::default(),
        ),
    )
    .await?;
    let queue = queue.name().clone();
    bounded(
        "bind queue",
        limit,
        channel.queue_bind(
            queue.clone(),
            target.exchange.clone(),
            ShortString::default(),
            QueueBindOptions::default(),
            FieldTable::default(),
        ),
    )
    .await?;
    let consumer = bounded(
        "start consuming",
        limit,
        channel.basic_consume(
            queue.clone(),
            ShortString::default(),
            BasicConsumeOptions { no_ack: true, exclusive: true, ..BasicConsumeOptions::default() },
            FieldTable::default(),
        ),
    )
    .await?;
    Ok(ConsumerLink { connection, channel, consumer, queue })
}

/// Connects a publisher: confirm mode on, and the exchange declared so publishing cannot close the channel
/// with "no exchange" before the consumer has declared it.
async fn open_publisher(shared: &Shared, target: &Target) -> Result<PublisherLink, String> {
    let limit = shared.connect_timeout;
    let name = format!("gantry-bus-publisher {}", shared.instance_id);
    let connection = connect(target, name, limit).await?;
    let channel = bounded("open channel", limit, connection.create_channel()).await?;
    bounded("enable publisher confirms", limit, channel.confirm_select(ConfirmSelectOptions::default())).await?;
    declare_exchange(&channel, &target.exchange, limit).await?;
    Ok(PublisherLink { connection, channel })
}

/// Opens a connection named `name` (shown by `rabbitmqctl list_connections client_properties`).
async fn connect(target: &Target, name: String, limit: Duration) -> Result<Connection, String> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    bounded("connect", limit, Connection::connect_uri(target.uri.clone(), properties)).await
}

async fn declare_exchange(channel: &Channel, exchange: &ShortString, limit: Duration) -> Result<(), String> {
    bounded(
        "declare exchange",
        limit,
        channel.exchange_declare(
            exchange.clone(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() },
            FieldTable::default(),
        ),
    )
    .await
}

/// Closes `connection` politely if it is still open, without waiting long.
async fn close_connection(connection: &Connection) {
    if connection.status().connected() {
        let _ = timeout(CLOSE_TIMEOUT, connection.close(REPLY_SUCCESS, "bus closed".into())).await;
    }
}

/// Runs a lapin step under `limit`, turning both failures into a short text naming the step.
async fn bounded<T>(step: &str, limit: Duration, future: impl Future<Output = lapin::Result<T>>) -> Result<T, String> {
    match timeout(limit, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(format!("{step}: {error}")),
        Err(_) => Err(format!("{step}: no answer within {} ms", limit.as_millis())),
    }
}

/// Validates the settings into a connect target; the error text carries no secret.
fn parse_target(settings: &AmqpSettings) -> Result<Target, String> {
    let exchange = ShortString::try_new(settings.exchange.as_str())
        .map_err(|_| "exchange name longer than 255 bytes".to_owned())?;
    let url = settings.url.expose_secret();
    // The parser's own error repeats the whole URL, password included: replace it.
    let mut uri: AMQPUri =
        url.parse().map_err(|_| "invalid AMQP URL (expected amqp://user:password@host:port/vhost)".to_owned())?;
    // amq-protocol-uri takes the host from `Url::domain()`, which is `None` for an IP address, and then falls
    // back to `localhost`: `amqp://10.0.0.5` would quietly connect to this machine. Put the address back.
    if let Some(ip) = ip_host(url) {
        uri.authority.host = ip.to_string();
    }
    uri.query.heartbeat.get_or_insert(DEFAULT_HEARTBEAT_SECS);
    Ok(Target { uri, exchange })
}

/// The URL's authority part (`user:password@host:port`), or `None` when it has no `scheme://`.
fn authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The URL's host when it is a literal IP address (`[…]` brackets removed for IPv6).
fn ip_host(url: &str) -> Option<IpAddr> {
    let authority = authority(url)?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = match host_port.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']')?.0,
        None => host_port.split(':').next()?,
    };
    host.parse().ok()
}

/// `url` with the password replaced by `***`, for `Debug`.
fn redact_url(url: &str) -> String {
    let Some(authority) = authority(url) else {
        return "<not a URL>".to_owned();
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let (scheme, rest) = url.split_once("://").unwrap_or_default();
            let tail = &rest[authority.len()..];
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

/// `delay` with "equal jitter": between half and all of it, so instances that lost the broker together do not
/// come back in lockstep.
fn jittered(delay: Duration) -> Duration {
    let half = delay / 2;
    half + half.mul_f64(rand::random_range(0.0..=1.0))
}

/// Locks `mutex`, recovering from poisoning: every value kept behind these locks is valid at all times.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> AmqpSettings {
        AmqpSettings {
            url: SecretString::from(url.to_owned()),
            exchange: "gantry.events".to_owned(),
            connect_timeout: Duration::from_secs(2),
            publish_timeout: Duration::from_secs(2),
            capacity: 16,
        }
    }

    /// `Debug` of the settings shows user and host but never the password.
    #[test]
    fn debug_hides_password() {
        let shown = format!("{:?}", settings("amqp://gantry:s3cr3t@mq.internal:5672/%2f"));
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("amqp://gantry:***@mq.internal:5672/%2f"), "{shown}");
    }

    /// An IP host is kept (the URI parser alone would turn it into `localhost`) and a heartbeat is added.
    #[test]
    fn target_keeps_ip_host_and_adds_heartbeat() {
        let target = parse_target(&settings("amqp://u:p@10.1.2.3:5673/%2f")).expect("valid URL");
        assert_eq!(target.uri.authority.host, "10.1.2.3");
        assert_eq!(target.uri.authority.port, 5673);
        assert_eq!(target.uri.query.heartbeat, Some(DEFAULT_HEARTBEAT_SECS));

        let target = parse_target(&settings("amqp://u:p@[::1]:5672/%2f?heartbeat=30")).expect("valid URL");
        assert_eq!(target.uri.authority.host, "::1");
        assert_eq!(target.uri.query.heartbeat, Some(30));
    }

    /// An invalid URL is reported without repeating it.
    #[test]
    fn invalid_url_is_reported_without_secret() {
        let Err(problem) = parse_target(&settings("not a url with s3cr3t")) else {
            panic!("an invalid URL must be rejected");
        };
        assert!(!problem.contains("s3cr3t"), "{problem}");
    }

    /// With no broker listening, health and publish report unavailability quickly, without the password.
    #[tokio::test]
    async fn unreachable_broker_is_unavailable_without_password() {
        let bus = AmqpBus::start(settings("amqp://gantry:s3cr3t@127.0.0.1:1/%2f"), Uuid::now_v7());

        let health = bus.health().await.expect_err("nothing listens on port 1");
        assert!(health.0.starts_with("not connected to broker: "), "{health}");
        let published = bus.publish(Event::InstanceStarted { version: "test".to_owned() }).await;
        match published {
            Err(BusError::Unavailable(reason)) => assert!(!reason.0.contains("s3cr3t"), "{reason}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }

        bus.close().await;
        assert_eq!(bus.health().await, Err(Unavailable::new("not connected to broker: bus closed")));
    }

    /// Jitter stays within half and all of the delay.
    #[test]
    fn jitter_stays_in_bounds() {
        for _ in 0..100 {
            let wait = jittered(Duration::from_millis(400));
            assert!((Duration::from_millis(200)..=Duration::from_millis(400)).contains(&wait));
        }
    }
}
