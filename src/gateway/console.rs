//! The operators' console (issue 21) on the admin listener: a static page and its assets, compiled into the
//! binary (`console/` in the repository, `include_bytes!`), served with a strict CSP. The page is a client of
//! the documented admin API and holds no privilege of its own: these routes need no token (the admin token is
//! typed into the page and sent by it with each API call).
//!
//! | route | what |
//! |---|---|
//! | `GET /console` | 308 to `/console/` |
//! | `GET /console/`, `GET /console/{page}` | the page (`fleet`, `rotation`, `sessions`, `jobs`, `catalog`, `templates`: deep links) |
//! | `GET /console/assets/{file}` | a script or the style sheet |
//!
//! Never routed on the public listener (`router.rs` lists these on the admin table only).

use hyper::StatusCode;
use hyper::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderValue, LOCATION, REFERRER_POLICY};

use super::ctx::Ctx;
use super::problem::ApiError;
use super::respond::{Response, full, status_only};

/// Only this origin's scripts, styles, images and API; nothing inline, no frames, no plugins, no `<base>`.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
                       frame-ancestors 'none'";

/// The page's deep links: each answers the same page, which shows that section.
pub const PAGES: [&str; 7] = ["fleet", "rotation", "sessions", "jobs", "catalog", "templates", "forms"];

/// The page.
const INDEX: &[u8] = include_bytes!("../../console/index.html");

/// The assets by file name: bytes and content type.
const ASSETS: &[(&str, &[u8], &str)] = &[
    ("console.css", include_bytes!("../../console/console.css"), "text/css; charset=utf-8"),
    ("app.js", include_bytes!("../../console/app.js"), JS),
    ("api.js", include_bytes!("../../console/api.js"), JS),
    ("dom.js", include_bytes!("../../console/dom.js"), JS),
    ("format.js", include_bytes!("../../console/format.js"), JS),
    ("fingerprints.js", include_bytes!("../../console/fingerprints.js"), JS),
    ("metrics.js", include_bytes!("../../console/metrics.js"), JS),
    ("fleet.js", include_bytes!("../../console/fleet.js"), JS),
    ("rotation.js", include_bytes!("../../console/rotation.js"), JS),
    ("sessions.js", include_bytes!("../../console/sessions.js"), JS),
    ("jobs.js", include_bytes!("../../console/jobs.js"), JS),
    ("catalog.js", include_bytes!("../../console/catalog.js"), JS),
    ("templates.js", include_bytes!("../../console/templates.js"), JS),
    ("ui.js", include_bytes!("../../console/ui.js"), JS),
    ("review.js", include_bytes!("../../console/review.js"), JS),
    ("forms.js", include_bytes!("../../console/forms.js"), JS),
    ("forms-compare.js", include_bytes!("../../console/forms-compare.js"), JS),
    // The form preview runs the browser runtime itself (clients/js, `@gantry/forms/runtime`, its modules under
    // their own names so their imports resolve) over json-logic-js's browser build, vendored with its licence.
    ("browser.js", include_bytes!("../../clients/js/src/browser.js"), JS),
    ("client.js", include_bytes!("../../clients/js/src/client.js"), JS),
    ("session.js", include_bytes!("../../clients/js/src/session.js"), JS),
    ("runtime.js", include_bytes!("../../clients/js/src/runtime.js"), JS),
    ("conditions.js", include_bytes!("../../clients/js/src/conditions.js"), JS),
    ("pattern.js", include_bytes!("../../clients/js/src/pattern.js"), JS),
    ("rust.js", include_bytes!("../../clients/js/src/rust.js"), JS),
    ("json-logic.js", include_bytes!("../../console/vendor/json-logic-js/logic.js"), JS),
    ("json-logic-LICENSE.txt", include_bytes!("../../console/vendor/json-logic-js/LICENSE"), TEXT),
];

const JS: &str = "text/javascript; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// `GET /console`: to the page's canonical address (relative asset paths resolve under `/console/`).
#[must_use]
pub fn redirect() -> Response {
    let mut response = status_only(StatusCode::PERMANENT_REDIRECT);
    response.headers_mut().insert(LOCATION, HeaderValue::from_static("/console/"));
    harden(&mut response);
    response
}

/// `GET /console/` and `GET /console/{page}`: the page, for every known section.
///
/// # Errors
/// 404 for a page that does not exist.
pub fn page(ctx: &Ctx) -> Result<Response, ApiError> {
    if let Some(name) = ctx.params.get("page")
        && !PAGES.contains(&name)
    {
        return Err(ApiError::NotFound);
    }
    Ok(serve(INDEX, "text/html; charset=utf-8"))
}

/// `GET /console/assets/{file}`.
///
/// # Errors
/// 404 for a file that is not one of the console's.
pub fn asset(ctx: &Ctx) -> Result<Response, ApiError> {
    let file = ctx.params.get("file").unwrap_or_default();
    let (_, bytes, content_type) = ASSETS.iter().find(|(name, _, _)| *name == file).ok_or(ApiError::NotFound)?;
    Ok(serve(bytes, content_type))
}

/// Bytes the console's assets add to the binary (the budget is 1 MiB).
#[must_use]
pub fn embedded_bytes() -> usize {
    INDEX.len() + ASSETS.iter().map(|(_, bytes, _)| bytes.len()).sum::<usize>()
}

fn serve(bytes: &'static [u8], content_type: &'static str) -> Response {
    let mut response = hyper::Response::new(full(bytes));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Revalidated each time: a new binary's console is never mixed with an old one's cached scripts.
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    harden(&mut response);
    response
}

/// The console's own headers (`nosniff` is added to every response by `respond::harden`).
fn harden(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The assets stay under the 1 MiB budget.
    #[test]
    fn assets_are_smaller_than_one_mebibyte() {
        assert!(embedded_bytes() < 1024 * 1024, "{} bytes", embedded_bytes());
    }

    /// Every script the console has in the repository is served (a new file not listed here would 404).
    #[test]
    fn every_console_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        for entry in std::fs::read_dir(dir).expect("the console folder") {
            let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
            if name == "index.html" || !(name.ends_with(".js") || name.ends_with(".css")) {
                continue;
            }
            assert!(ASSETS.iter().any(|(file, _, _)| *file == name), "console/{name} is not in ASSETS");
        }
    }
}
