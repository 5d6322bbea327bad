//! Where the admin-API commands send their calls (the admin URL and token), and the argument encoding they
//! share.

use crate::config::Settings;
use crate::config::secrets::{self, SecretEnv};

/// The admin base URL (`--admin-url`, else the configured admin address) and the admin token.
pub(super) fn admin_target(settings: &Settings, admin_url: Option<&str>) -> anyhow::Result<(String, String)> {
    use anyhow::Context;
    let token = secrets::admin_token(settings, &SecretEnv::from_process())
        .context("no admin token: set GANTRY_ADMIN_TOKEN or GANTRY_ADMIN_TOKEN_FILE")?;
    let base = match admin_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let mut addr = settings.admin_addr;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{addr}")
        }
    };
    Ok((base, token))
}

/// An id argument, checked before anything is sent.
pub(super) fn id_arg(flag: &str, value: &str) -> anyhow::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(value.trim()).map_err(|_| anyhow::anyhow!("--{flag} must be an id (a UUID)"))
}

/// `value` percent-encoded for a query string.
pub(super) fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
