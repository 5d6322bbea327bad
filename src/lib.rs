//! Gantry: a hyper gateway in front of supervised ractor actors.
//!
//! - [`cli`]: the command line: arguments, subcommands, the admin-API client and `gantry smoke`.
//! - [`config`]: settings (defaults, files, environment) and the runbook's secrets.
//! - [`startup`]: builds backends, the actor tree and listeners; runs until stopped.
//! - [`gateway`]: the HTTP server, router, handlers and problem+json errors.
//! - [`adapters`]: port implementations, one file per backend.
//! - [`telemetry`]: logs and the Prometheus recorder.
//! - [`signals`]: the SIGTERM, Ctrl-C and SIGHUP handlers.
//! - [`private_files`]: owner-only files and folders of the local profile (0600/0700).
//!
//! The actors and their domain rules live in the `gantry-actors` crate.

pub mod adapters;
pub mod cli;
pub mod config;
pub mod gateway;
pub mod private_files;
pub mod signals;
pub mod startup;
pub mod telemetry;
