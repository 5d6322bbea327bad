//! The command line: the arguments ([`args`], re-exported here), the subcommands ([`commands`]), and the
//! typed admin-API client they call a running instance with ([`admin_client`]: a method per admin route,
//! `Result<T, Problem>`). The commands import the arguments from `args`, never from here, so nothing below
//! imports this file. `gantry smoke` runs the runbook's smoke tests through the adapter the rotation uses
//! ([`crate::adapters::smoke`]).

pub mod admin_client;
mod args;
pub mod commands;

pub use args::*;
pub use commands::run;
