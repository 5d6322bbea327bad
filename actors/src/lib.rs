//! Gantry's actors, the domain rules they enforce and the ports they talk through. No HTTP, no SQL.
//!
//! - [`accounts`]: account rules (email normal form, password policy and hashing, failed-login limiter) and
//!   the accounts owner every caller goes through.
//! - [`ports`]: capability traits (accounts, bus, cache, catalog, jobs, objects, rotations and fleet, secret
//!   source, sessions, smoke check, uploads) implemented by adapters in `gantry`.
//! - [`secret_value`]: the redacting secret type, secret names and origins (shared by ports and `secrets`).
//! - [`secrets`]: the runbook's rules, the key ring and the secret store actor.
//! - [`sessions`]: tokens, the revocation view and the session registry actor.
//! - [`supervisor`]: the root supervisor with its restart budget.
//! - [`catalog`]: the listing-form catalog: option kinds, names, the seed, templates and the option cache actor.
//! - [`jobs`]: the jobs owner (job reads today; the job runner's home).
//! - [`liveness`]: what this instance saw of the database itself, so that others are not taken for dead after
//!   an outage every instance went through.
//! - [`readiness`]: the readiness owner (backend probes for `/readyz`).
//! - [`handle`]: the typed front door every actor handle is built on (slot, mailbox bound, call timeouts).
//! - [`telemetry`]: per-actor metrics.
//! - [`uploads`]: upload rules (media sniffing, display filenames, byte ranges, announced digests, guest
//!   tokens) and the upload pipeline actor.

pub mod accounts;
pub mod catalog;
pub mod handle;
pub mod jobs;
pub mod liveness;
pub mod ports;
pub mod readiness;
pub mod secret_value;
pub mod secrets;
pub mod sessions;
pub mod supervisor;
pub mod telemetry;
pub mod uploads;

/// Whether this build has the fault-injection hooks (`chaos` feature; test builds enable it): drill job kinds,
/// injected panics, and the rotation pause a crash drill kills an instance in.
pub const CHAOS: bool = cfg!(any(test, feature = "chaos"));
