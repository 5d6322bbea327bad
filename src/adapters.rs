//! Adapters: one file per backend, each implementing ports from `gantry_actors::ports`.
//!
//! | file | implements |
//! |---|---|
//! | `sqlite.rs` | `JobStore`, `AccountStore`, `SessionStore` on a SQLite file (local profile) |
//! | `postgres.rs` | `JobStore`, `AccountStore` on PostgreSQL (production) |
//! | `memory.rs` | `Cache` and `Bus` in process (local profile) |
//! | `redis.rs` | `Cache` and `SessionStore` on Redis (production) |
//! | `fs.rs` | `ObjectStore` on a local folder (local profile) |
//! | `s3.rs` | `ObjectStore` on an S3-compatible bucket (production) |
//! | `amqp.rs` | `Bus` on RabbitMQ (production) |

pub mod amqp;
pub mod fs;
pub mod memory;
pub mod postgres;
pub mod redis;
pub mod s3;
pub mod sqlite;
