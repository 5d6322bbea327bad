//! The command line: `gantry [--profile P] [serve|migrate|secrets check [--json]]`.

use clap::{Parser, Subcommand};

use crate::config::Profile;

/// Gantry: an actor-based job-and-gateway service.
#[derive(Debug, Parser)]
#[command(name = "gantry", version, about, long_about = None)]
pub struct Cli {
    /// Which backends to run on (default: `GANTRY_PROFILE`, else `local`).
    #[arg(long, global = true, value_enum)]
    pub profile: Option<Profile>,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the public and admin listeners (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Secret management.
    Secrets {
        /// What to do with secrets.
        #[command(subcommand)]
        action: SecretsCommand,
    },
}

/// `gantry secrets …`.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Validate the secrets in the environment/files against the runbook rules without starting anything.
    /// Exit code 0 when valid, 1 otherwise. Never prints values.
    Check {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}
