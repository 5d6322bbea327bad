//! Adapters: a folder per backend and a file per port, each implementing ports from `gantry_actors::ports`.
//! Shared helpers live in neutral modules (`sql.rs`, `bus.rs`); no adapter imports another.
//!
//! | file | implements |
//! |---|---|
//! | `sql.rs` + `sql/{jobs,accounts,sessions,uploads,catalog,rotations,multiparts}.rs` | neutral: each database port's logic, written once over [`sql::exec::SqlDb`], and [`sql::SqlPorts`]; what they share below them in `sql/{errors,values,rows,exec}.rs` (`DbError`, safe error mapping, bound values, row reading) |
//! | `sqlite.rs` | the SQLite file (local profile): open, migrate, close, value encoding |
//! | `sqlite/jobs.rs`, `sqlite/uploads.rs` | `JobStore`, `UploadStore` on SQLite |
//! | `sqlite/accounts.rs` | `AccountStore` on SQLite |
//! | `sqlite/sessions.rs` | `SessionStore` on SQLite |
//! | `sqlite/catalog.rs` | `CatalogStore` on SQLite |
//! | `sqlite/rotations.rs` | `RotationStore`, `Fleet` on SQLite |
//! | `postgres.rs` | the PostgreSQL database (production): connect, migrate, close, value encoding |
//! | `postgres/{jobs,uploads,accounts,sessions,catalog,rotations}.rs` | the same ports on Postgres |
//! | `redis.rs`, `redis/pool.rs` | the Redis pool every Redis port shares and its safe error mapping (production) |
//! | `redis/cache.rs` | `Cache` on Redis |
//! | `redis/sessions.rs` | `SessionStore` on Redis |
//! | `memory.rs` + `memory/bus.rs`, `memory/cache.rs` | `Bus` and `Cache` in process (local profile) |
//! | `bus.rs` | neutral: sealing events into envelopes, reading subscriptions (every `Bus` adapter) |
//! | `fs.rs` | `ObjectStore` on a local folder (local profile) |
//! | `s3.rs` | `ObjectStore` on an S3-compatible bucket (production) |
//! | `amqp.rs` | `Bus` on RabbitMQ (production) |
//! | `smoke.rs` | `SmokeCheck` over HTTP against a public listener (the rotation's smoke step, `gantry smoke`) |
//! | `breached_range.rs` | `BreachedRange` over HTTP (a Pwned Passwords-style range API; optional) |

pub mod amqp;
pub mod breached_range;
pub mod bus;
pub mod fs;
pub mod memory;
pub mod postgres;
pub mod redis;
pub mod s3;
pub mod smoke;
pub mod sql;
pub mod sqlite;
