//! The command line's arguments (clap): `gantry [--profile P] [serve|migrate|seed|secrets …|users …|…]`.

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
    /// Load the bundled seed catalog (idempotent) and exit.
    Seed,
    /// Secret management.
    Secrets {
        /// What to do with secrets.
        #[command(subcommand)]
        action: SecretsCommand,
    },
    /// User accounts (written directly to the profile's database).
    Users {
        /// What to do with users.
        #[command(subcommand)]
        action: UsersCommand,
    },
    /// The runbook's smoke tests (login, refresh, logout, upload flow) against a deployment; exit 1 on any
    /// failure. Without `--email`, an ephemeral account is created through the admin listener for the run (not
    /// counted against the registration limit) and deleted at its end.
    Smoke {
        /// The deployment's public base URL, e.g. `https://api.staging.example.com`.
        #[arg(long)]
        base_url: String,
        /// An existing smoke-test account.
        #[arg(long, requires = "password_file")]
        email: Option<String>,
        /// The file holding that account's password.
        #[arg(long)]
        password_file: Option<std::path::PathBuf>,
        /// Print the result as JSON (to store as evidence).
        #[arg(long)]
        json: bool,
        /// Admin URL of an instance of the same deployment: the ephemeral account is created and deleted through
        /// it (default: `GANTRY_ADMIN_URL`, else the configured admin address, as the other admin commands).
        #[arg(long, env = "GANTRY_ADMIN_URL")]
        admin_url: Option<String>,
    },
    /// Sessions of a running instance (through its admin listener).
    Sessions {
        /// What to do with sessions.
        #[command(subcommand)]
        action: SessionsCommand,
    },
    /// Rotation evidence (through a running instance's admin listener).
    Rotations {
        /// What to show.
        #[command(subcommand)]
        action: RotationsCommand,
    },
    /// Jobs (through a running instance's admin listener).
    Jobs {
        /// What to do with jobs.
        #[command(subcommand)]
        action: JobsCommand,
    },
    /// Listing-form templates.
    Templates {
        /// What to do with templates.
        #[command(subcommand)]
        action: TemplatesCommand,
    },
    /// Catalog moderation (through a running instance's admin listener): review, create (categories), rename,
    /// merge, hide, approve, engine flags, audit. Every change reaches every instance and is recorded (who, what, when).
    Options {
        /// What to do.
        #[command(subcommand)]
        action: OptionsCommand,
        /// Admin URL of a running instance (default: `GANTRY_ADMIN_URL`, else http://<admin_addr>).
        #[arg(long, env = "GANTRY_ADMIN_URL", global = true)]
        admin_url: Option<String>,
        /// Who asks, recorded in the audit table (default: `cli`); `--requested-by` is the same flag, named as
        /// the admin API's `requested_by`.
        #[arg(long, global = true, default_value = "cli", visible_alias = "requested-by")]
        by: String,
    },
}

/// `gantry options …`.
#[derive(Debug, Subcommand)]
pub enum OptionsCommand {
    /// Recently created options, newest first (hidden and pending included), for review.
    Recent {
        /// Only those created by this account (a user id).
        #[arg(long)]
        created_by: Option<String>,
        /// Only those created since this RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// At most this many (1–1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// The moderation records, newest first.
    Audit {
        /// At most this many (1–1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Rename an option (refused when another option under the same parent has the name: merge instead).
    Rename {
        /// The option's id.
        #[arg(long)]
        id: String,
        /// The new name.
        #[arg(long)]
        name: String,
    },
    /// Merge an option into another of its kind: its id and name resolve to the other from now on, its
    /// children move there.
    Merge {
        /// The option that goes.
        #[arg(long)]
        id: String,
        /// The option that stays.
        #[arg(long)]
        into: String,
    },
    /// Hide an option: not listed nor accepted in new forms; its id still resolves.
    Hide {
        /// The option's id.
        #[arg(long)]
        id: String,
    },
    /// Show a hidden option again.
    Unhide {
        /// The option's id.
        #[arg(long)]
        id: String,
    },
    /// Approve an option created by a new account: everyone sees it from now on.
    Approve {
        /// The option's id.
        #[arg(long)]
        id: String,
    },
    /// Set whether listings of a category have an engine. Refused (listing the forms it would take fields
    /// from, with the fields) unless `--force`, which applies it, flags those forms and records them in the
    /// audit.
    SetEngine {
        /// The category's id.
        #[arg(long)]
        id: String,
        /// `true` or `false`.
        #[arg(long, action = clap::ArgAction::Set)]
        has_engine: bool,
        /// Apply even when forms lose fields (they are flagged; a form that fails its checks is served
        /// degraded).
        #[arg(long)]
        force: bool,
    },
    /// Set an option's name in one of `catalog.locales` (categories, subcategories, countries and cities):
    /// answers in that language show it, search and identity match it. Refused when another option under the
    /// same parent has the name in any language.
    Translate {
        /// The option's id.
        #[arg(long)]
        id: String,
        /// The locale (`de`, `pl`, `de-AT`, …; not the default locale, which is the option's own name).
        #[arg(long)]
        locale: String,
        /// The name in that locale.
        #[arg(long)]
        name: String,
    },
    /// Remove an option's name in one locale.
    Untranslate {
        /// The option's id.
        #[arg(long)]
        id: String,
        /// The locale.
        #[arg(long)]
        locale: String,
    },
    /// Create an option as the operator: public at once and audited. Categories are created only this way.
    Create {
        /// The kind: category, subcategory, brand, model, country or city.
        #[arg(long)]
        kind: String,
        /// The name.
        #[arg(long)]
        name: String,
        /// The parent's id (subcategories, models and cities).
        #[arg(long)]
        parent_id: Option<String>,
        /// Categories: `true` or `false` (default `false`).
        #[arg(long, action = clap::ArgAction::Set)]
        has_engine: Option<bool>,
    },
}

/// `gantry templates …`.
#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// Check a template file offline (shape, JsonLogic conditions, references, cascades, cycles) with the bundled
    /// set under it; exit 1 listing every problem.
    Check {
        /// The template set (JSON).
        file: std::path::PathBuf,
    },
    /// Send a template file to a running instance, which checks it against its catalog, stores it and makes
    /// every instance drop its templates. Merged over the set in use unless `--replace`.
    Import {
        /// The template set (JSON).
        file: std::path::PathBuf,
        /// Replace the whole stored set instead of merging templates and shared blocks into it.
        #[arg(long)]
        replace: bool,
        /// Admin URL of a running instance (default: `GANTRY_ADMIN_URL`, else http://<admin_addr>).
        #[arg(long, env = "GANTRY_ADMIN_URL")]
        admin_url: Option<String>,
    },
}

/// `gantry users …`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create an account (operators, smoke-test accounts). The password is read from `--password-file`, or
    /// from the first line of standard input.
    Add {
        /// The account's email.
        #[arg(long)]
        email: String,
        /// A file holding the password (one trailing newline is dropped).
        #[arg(long)]
        password_file: Option<std::path::PathBuf>,
    },
    /// Find an account by email (through a running instance's admin listener); exit 1 when there is none.
    Find {
        /// The email (normalised as at registration).
        #[arg(long)]
        email: String,
        /// Admin URL of a running instance (default: `GANTRY_ADMIN_URL`, else http://<admin_addr>).
        #[arg(long, env = "GANTRY_ADMIN_URL")]
        admin_url: Option<String>,
    },
    /// Delete an account: its sessions are revoked on every instance first (through a running instance).
    Delete {
        /// The account's id (`gantry users find` prints it).
        #[arg(long)]
        id: String,
        /// Admin URL of a running instance (default: `GANTRY_ADMIN_URL`, else http://<admin_addr>).
        #[arg(long, env = "GANTRY_ADMIN_URL")]
        admin_url: Option<String>,
    },
    /// Force one user to log in again, on every instance (through a running instance). Prints the job id and
    /// `not_before`.
    RevokeSessions {
        /// The account's id (`gantry users find` prints it).
        #[arg(long)]
        id: String,
        #[command(flatten)]
        revocation: Revocation,
        /// Admin URL of a running instance (default: `GANTRY_ADMIN_URL`, else http://<admin_addr>).
        #[arg(long, env = "GANTRY_ADMIN_URL")]
        admin_url: Option<String>,
    },
    /// Disable an account: it can no longer log in, and its sessions are revoked on every instance (through a
    /// running instance).
    Disable {
        /// The account's id (`gantry users find` prints it).
        #[arg(long)]
        id: String,
        /// Admin URL of a running instance (default: `GANTRY_ADMIN_URL`, else http://<admin_addr>).
        #[arg(long, env = "GANTRY_ADMIN_URL")]
        admin_url: Option<String>,
    },
    /// Enable a disabled account again (through a running instance); its user logs in again.
    Enable {
        /// The account's id (`gantry users find` prints it).
        #[arg(long)]
        id: String,
        /// Admin URL of a running instance (default: `GANTRY_ADMIN_URL`, else http://<admin_addr>).
        #[arg(long, env = "GANTRY_ADMIN_URL")]
        admin_url: Option<String>,
    },
}

/// `gantry sessions …`.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Force every user to log in again, on every instance (O(1)). Prints the job id and `not_before`.
    RevokeAll {
        #[command(flatten)]
        revocation: Revocation,
        /// Admin URL of a running instance (default: `GANTRY_ADMIN_URL`, else http://<admin_addr>).
        #[arg(long, env = "GANTRY_ADMIN_URL")]
        admin_url: Option<String>,
    },
}

/// What a revocation (`sessions revoke-all`, `users revoke-sessions`) records: the body of its admin route.
#[derive(Debug, Clone, clap::Args)]
pub struct Revocation {
    /// Why (recorded in the revocation notice, the runbook's evidence).
    #[arg(long)]
    pub reason: String,
    /// Shown to every user it logs out, in their 401 `session_revoked` (`notice.message`).
    #[arg(long)]
    pub user_message: Option<String>,
    /// Who asks, recorded in the notice (`requested_by`).
    #[arg(long, default_value = "cli")]
    pub requested_by: String,
}

/// What a rotation or rollback records beside what it does (`secrets rotate|rollback`): the body of its admin
/// route but `invalidate_sessions`, which each command documents itself.
#[derive(Debug, Clone, clap::Args)]
pub struct RotationEvidence {
    /// The deployment this belongs to (evidence).
    #[arg(long)]
    pub deployment_id: Option<String>,
    /// The commit deployed (evidence).
    #[arg(long)]
    pub commit_sha: Option<String>,
    /// Who asks, recorded in the evidence (the notice of its invalidation says `rotation:<requested_by>`).
    #[arg(long, default_value = "cli")]
    pub requested_by: String,
    /// With invalidation: shown to every user it logs out, in their 401 `session_revoked` (`notice.message`).
    #[arg(long)]
    pub user_message: Option<String>,
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
    /// Rotate secrets on every instance (through a running instance's admin listener): validate the values
    /// now in the secret files, stage, smoke-test, promote, force re-login (JWT_SECRET), record evidence.
    /// Follows the job, printing each step; exit 0 when it succeeded, 1 when it failed (and was rolled back).
    Rotate {
        #[command(flatten)]
        evidence: RotationEvidence,
        /// Force every user to log in again (default: when JWT_SECRET changes).
        #[arg(long)]
        invalidate_sessions: Option<bool>,
        /// Admin URL of a running instance (default: `GANTRY_ADMIN_URL`, else http://<admin_addr>).
        #[arg(long, env = "GANTRY_ADMIN_URL")]
        admin_url: Option<String>,
    },
    /// The runbook's rollback: make the previous versions current again on every instance. Follows the job.
    Rollback {
        #[command(flatten)]
        evidence: RotationEvidence,
        /// Force every user to log in again (default: when JWT_SECRET has a previous version).
        #[arg(long)]
        invalidate_sessions: Option<bool>,
        /// Admin URL of a running instance (default: `GANTRY_ADMIN_URL`, else http://<admin_addr>).
        #[arg(long, env = "GANTRY_ADMIN_URL")]
        admin_url: Option<String>,
    },
}

/// `gantry rotations …`.
#[derive(Debug, Subcommand)]
pub enum RotationsCommand {
    /// The newest rotations and rollbacks: id, kind, outcome, failed step, deployment, start time.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Admin URL of a running instance (default: `GANTRY_ADMIN_URL`, else http://<admin_addr>).
        #[arg(long, env = "GANTRY_ADMIN_URL")]
        admin_url: Option<String>,
    },
    /// One record: steps, version changes (fingerprints), smoke results, session notice, outcome.
    Show {
        /// The rotation (job) id.
        id: String,
        /// Print the raw JSON record.
        #[arg(long)]
        json: bool,
        /// Admin URL of a running instance (default: `GANTRY_ADMIN_URL`, else http://<admin_addr>).
        #[arg(long, env = "GANTRY_ADMIN_URL")]
        admin_url: Option<String>,
    },
}

/// `gantry jobs …`.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// The newest jobs: id, kind, queue, state, attempts, creation time, last error.
    List {
        /// Only jobs in this state (scheduled, available, running, retryable, completed, discarded, cancelled).
        #[arg(long)]
        state: Option<String>,
        /// Only jobs of this kind.
        #[arg(long)]
        kind: Option<String>,
        /// At most this many (1–500).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Admin URL of a running instance (default: `GANTRY_ADMIN_URL`, else http://<admin_addr>).
        #[arg(long, env = "GANTRY_ADMIN_URL")]
        admin_url: Option<String>,
    },
    /// One job with its attempts (instance, timings, outcome, error).
    Show {
        /// The job id.
        id: String,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
        /// Admin URL of a running instance (default: `GANTRY_ADMIN_URL`, else http://<admin_addr>).
        #[arg(long, env = "GANTRY_ADMIN_URL")]
        admin_url: Option<String>,
    },
    /// Makes a discarded, cancelled or retryable job due now.
    Retry {
        /// The job id.
        id: String,
        /// Admin URL of a running instance (default: `GANTRY_ADMIN_URL`, else http://<admin_addr>).
        #[arg(long, env = "GANTRY_ADMIN_URL")]
        admin_url: Option<String>,
    },
    /// Cancels a job that has not finished.
    Cancel {
        /// The job id.
        id: String,
        /// Admin URL of a running instance (default: `GANTRY_ADMIN_URL`, else http://<admin_addr>).
        #[arg(long, env = "GANTRY_ADMIN_URL")]
        admin_url: Option<String>,
    },
}

#[cfg(test)]
mod tests;
