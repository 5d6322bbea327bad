//! End-to-end tests of the gateway on the embedded (local) profile: a real server on port 0, a fresh data
//! folder per test, requests over real HTTP. Also the `gantry` binary's start-up and CLI behaviour.

// Test crates: helpers are `pub` for their sibling modules, and a panic (`unwrap`) is the failure report.
#![allow(unreachable_pub, clippy::unwrap_used)]

#[path = "../shared/eventually.rs"]
mod eventually;
mod helpers;
#[path = "../shared/prometheus.rs"]
mod prometheus;
#[path = "../shared/photos.rs"]
mod test_photos;
#[path = "../shared/verifiers.rs"]
mod verifiers;

mod admin;
mod admin_users;
mod auth;
mod breached_range;
mod caching;
mod cli;
mod config_errors;
mod connections;
mod console;
mod edge;
mod errors;
mod fair_media;
mod health;
mod i18n;
mod jobs;
mod key_set;
mod look_alikes;
mod metrics;
mod moderation;
mod openapi;
mod options;
mod overload;
mod pdf_corpus;
mod photos;
mod revocation_notice;
mod rotation;
mod route_access;
mod shutdown;
mod supervision;
mod templates;
mod token_cache;
mod uploads;
mod verify_token_example;
