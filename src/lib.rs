//! Gantry: a hyper gateway in front of supervised ractor actors.
//!
//! - [`cli`]: command-line definitions.
//! - [`config`]: settings (defaults, files, environment) and the runbook's secrets.
//! - [`startup`]: builds backends, the actor tree and listeners; runs until stopped.
//! - [`gateway`]: the HTTP server, router, handlers and problem+json errors.
//! - [`adapters`]: port implementations, one file per backend.
//! - [`commands`]: the subcommand dispatch and the non-serving subcommands (`migrate`, `users add`, …).
//! - [`admin_client`]: the CLI's HTTP client for a running instance's admin listener.
//! - [`smoke`]: `gantry smoke`, the runbook's smoke tests against any deployment.
//! - [`telemetry`]: logs and the Prometheus recorder.
//! - [`signals`]: the SIGTERM, Ctrl-C and SIGHUP handlers.
//! - [`private_files`]: owner-only files and folders of the local profile (0600/0700).
//!
//! The actors and their domain rules live in the `gantry-actors` crate.

pub mod adapters;
pub mod admin_client;
pub mod cli;
pub mod commands;
pub mod config;
pub mod gateway;
pub mod private_files;
pub mod signals;
pub mod smoke;
pub mod startup;
pub mod telemetry;
