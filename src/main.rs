//! The `gantry` binary: parse the command line, load settings, run the subcommand.

use std::process::ExitCode;

use clap::Parser;
use gantry::cli::{Cli, Command, SecretsCommand};
use gantry::config::{LogFormat, Settings};
use gantry::telemetry;

/// mimalloc for the whole process: measured with `bench/memory.sh`, glibc's malloc kept argon2's 19 MiB hashing
/// buffers in per-thread arenas (peak 818 MiB, 780 MiB still resident when idle after 1,000 failed logins and
/// 1,000 registrations); mimalloc returns them to the OS. Built without transparent huge pages (`no_thp`): with
/// them, mimalloc advises 2 MiB pages over its whole arena and each huge page touched at all stays resident in
/// full (20 MiB of huge pages at start-up, mostly unused). `bench/memory.sh`: idle 71 → 35 MiB, peak under 1,000
/// failed logins 167 → 133–138 MiB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `secrets check` runs in the secret manager's pipeline, where no backend exists yet: it does not need
    // the production profile's backend URLs (everything else is still checked).
    let loaded = if matches!(cli.command, Some(Command::Secrets { action: SecretsCommand::Check { .. } })) {
        Settings::load_for_secrets_check(cli.profile)
    } else {
        Settings::load(cli.profile)
    };
    let settings = match loaded {
        Ok(settings) => settings,
        Err(err) => {
            telemetry::init_tracing(LogFormat::Text);
            tracing::error!(event = "config_invalid", problems = err.problems.join("; "), "invalid configuration");
            eprintln!("gantry: {err}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init_tracing(settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("gantry: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    gantry::cli::run(cli.command.unwrap_or(Command::Serve), settings, &runtime)
}
