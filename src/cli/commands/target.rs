//! Where the admin-API commands send their calls (the admin URL and token, as an [`AdminClient`]), and the
//! id arguments they check before sending anything.

use crate::cli::admin_client::AdminClient;
use crate::config::Settings;
use crate::config::secrets::{self, SecretEnv};

/// The client of the admin listener at `--admin-url` (else the configured admin address), with the admin token.
pub(super) fn admin_client(settings: &Settings, admin_url: Option<&str>) -> anyhow::Result<AdminClient> {
    use anyhow::Context;
    let token = secrets::admin_token(settings, &SecretEnv::from_process())
        .context("no admin token: set GANTRY_ADMIN_TOKEN or GANTRY_ADMIN_TOKEN_FILE")?;
    let base = match admin_url {
        Some(url) => url.to_owned(),
        None => {
            let mut addr = settings.admin_addr;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{addr}")
        }
    };
    Ok(AdminClient::new(&base, token))
}

/// An id argument, checked before anything is sent.
pub(super) fn id_arg(flag: &str, value: &str) -> anyhow::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(value.trim()).map_err(|_| anyhow::anyhow!("--{flag} must be an id (a UUID)"))
}
