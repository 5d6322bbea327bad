//! Ports: the capability traits the actors talk through. Adapters (SQLite, Postgres, Redis, S3, the local
//! folder, RabbitMQ, in-process) implement them in the `gantry` crate's `adapters` module; nothing here knows
//! about SQL, HTTP or a wire protocol.

pub mod accounts;
pub mod breached;
pub mod bus;
pub mod cache;
pub mod catalog;
pub mod jobs;
pub mod objects;
pub mod rotations;
pub mod secrets;
pub mod sessions;
pub mod smoke;
pub mod uploads;

/// Why a backing component is not usable right now. The text is safe to show operators: adapters never put
/// credentials, URLs with passwords or SQL into it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

impl Unavailable {
    /// Builds the reason from anything printable that is known not to carry secrets.
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}
