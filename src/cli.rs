//! The command line: the arguments ([`args`], re-exported here), the subcommands ([`commands`]), the
//! admin-API client they call a running instance with ([`admin_client`]) and the runbook's smoke test
//! ([`smoke`], also the rotation's smoke check over HTTP).

pub mod admin_client;
mod args;
pub mod commands;
pub mod smoke;

pub use args::*;
pub use commands::run;
