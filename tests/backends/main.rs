//! Backend suites: the adapters against the real services. Each suite runs when its URL is set and
//! otherwise prints that it was skipped (and fails when `GANTRY_REQUIRE_BACKENDS=1`, as `.ci/run` sets).
//!
//! | suite | variable |
//! |---|---|
//! | postgres | `GANTRY_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`) |
//! | redis | `GANTRY_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379`) |
//! | rabbitmq | `GANTRY_TEST_AMQP_URL` (e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`) |
//! | s3 | `GANTRY_TEST_S3_ENDPOINT`, `GANTRY_TEST_S3_ACCESS_KEY_ID`, `GANTRY_TEST_S3_SECRET_ACCESS_KEY` |

// Test crates: helpers are `pub` for their sibling modules, and a panic (`unwrap`) is the failure report.
#![allow(unreachable_pub, clippy::unwrap_used)]

#[path = "../shared/amqp.rs"]
mod amqp;
#[path = "../shared/eventually.rs"]
mod eventually;
#[path = "../shared/sessions.rs"]
mod fixtures;
// Shared with the api suite, which uses all of it.
#[allow(dead_code)]
#[path = "../shared/prometheus.rs"]
mod prometheus;
#[path = "../shared/backends.rs"]
mod support;
#[path = "../shared/photos.rs"]
mod test_photos;
#[path = "../shared/verifiers.rs"]
mod verifiers;

mod fleet;
mod job_wakeup;
mod jobs;
mod outage;
mod postgres;
mod production;
mod rabbitmq;
mod redis;
mod refresh_cut;
mod revocation_jobs;
mod rotation;
mod rotation_crash;
mod rotation_fleet;
mod s3;
mod signing_key_load;
mod signing_key_rotation;
mod upload_jobs;
