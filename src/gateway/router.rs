//! The thin router: method + path pattern (matchit) to a [`Route`]. Paths that exist with another method
//! answer 405 with `Allow`; unknown paths 404. Route templates (not raw paths) label metrics, so label
//! values stay bounded.

use std::collections::BTreeMap;

use hyper::Method;

/// Every endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz` (both listeners).
    Healthz,
    /// `GET /readyz`.
    Readyz,
    /// `GET /openapi.json` on the public listener.
    PublicOpenApi,
    /// `GET /openapi.json` on the admin listener.
    AdminOpenApi,
    /// `GET /v1/jobs/{id}`.
    GetJob,
    /// `GET /metrics` (admin listener).
    Metrics,
    /// `GET /admin/secrets`.
    AdminSecrets,
    /// `POST /admin/secrets/validate`.
    AdminValidateSecrets,
    /// `GET /admin/jobs/{id}`.
    AdminGetJob,
    /// `GET /admin/jobs?state=&kind=`.
    AdminListJobs,
    /// `POST /admin/jobs/{id}/retry`.
    AdminRetryJob,
    /// `POST /admin/jobs/{id}/cancel`.
    AdminCancelJob,
    /// `POST /v1/auth/register`.
    Register,
    /// `POST /v1/auth/login`.
    Login,
    /// `POST /v1/auth/refresh`.
    Refresh,
    /// `POST /v1/auth/logout`.
    Logout,
    /// `POST /v1/auth/password`.
    ChangePassword,
    /// `GET /v1/auth/me`.
    Me,
    /// `GET /v1/auth/sessions`.
    Sessions,
    /// `DELETE /v1/auth/sessions/{id}`.
    DeleteSession,
    /// `POST /admin/sessions/revoke-all`.
    AdminRevokeAll,
    /// `POST /admin/users/{id}/revoke-sessions`.
    AdminRevokeUser,
    /// `GET /admin/sessions/revocations`.
    AdminRevocations,
    /// `POST /v1/uploads/guest-token`.
    GuestToken,
    /// `POST /v1/uploads`.
    Upload,
    /// `GET /v1/uploads/{id}`.
    UploadMetadata,
    /// `GET /v1/uploads/{id}/content`.
    UploadContent,
    /// `DELETE /v1/uploads/{id}`.
    DeleteUpload,
    /// `GET /v1/options/{kind}`.
    ListOptions,
    /// `POST /v1/options/{kind}`.
    CreateOption,
    /// `GET /v1/templates/{category_id}`.
    GetTemplate,
    /// `POST /v1/templates/{category_id}/evaluate`.
    EvaluateTemplate,
    /// `POST /v1/templates/{category_id}/submit`.
    SubmitTemplate,
    /// `GET /admin/templates`.
    AdminTemplates,
    /// `POST /admin/secrets/reload`.
    AdminReloadSecrets,
    /// `POST /admin/secrets/rotate`.
    AdminRotate,
    /// `POST /admin/secrets/rollback`.
    AdminRollback,
    /// `GET /admin/rotations`.
    AdminRotations,
    /// `GET /admin/rotations/{id}`.
    AdminRotation,
    /// `POST /admin/templates`.
    AdminImportTemplates,
    /// `GET /admin/users?email=`.
    AdminFindUser,
    /// `DELETE /admin/users/{id}`.
    AdminDeleteUser,
    /// `POST /admin/users/{id}/disable`.
    AdminDisableUser,
    /// `POST /admin/users/{id}/enable`.
    AdminEnableUser,
    /// `GET /v1/options/{kind}/{id}` (a merged id resolves to the option it was merged into).
    GetOption,
    /// `GET /v1/options/{kind}/suggestions?name=&parent_id=`.
    SuggestOptions,
    /// `GET /admin/options` (recently created, for review).
    AdminRecentOptions,
    /// `GET /admin/options/audit`.
    AdminOptionsAudit,
    /// `PATCH /admin/options/{id}`.
    AdminPatchOption,
    /// `POST /admin/options/{id}/merge`.
    AdminMergeOption,
    /// `POST /admin/options/{id}/hide`.
    AdminHideOption,
    /// `POST /admin/options/{id}/unhide`.
    AdminUnhideOption,
    /// `POST /admin/options/{id}/approve`.
    AdminApproveOption,
}

impl Route {
    /// Whether load shedding may refuse it (liveness and scraping must answer under overload).
    #[must_use]
    pub fn sheddable(self) -> bool {
        !matches!(self, Self::Healthz | Self::Metrics)
    }

    /// Whether the route streams bodies (uploads, downloads) and so gets the long upload deadline.
    #[must_use]
    pub fn streams(self) -> bool {
        matches!(self, Self::Upload | Self::UploadContent)
    }
}

/// The listeners, each with its own table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Listener {
    /// The public API.
    Public,
    /// The private admin API.
    Admin,
}

impl Listener {
    /// Metric label.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Admin => "admin",
        }
    }

    /// The listener's routes: method, path template, route.
    pub(crate) fn routes(self) -> &'static [(Method, &'static str, Route)] {
        match self {
            Self::Public => &PUBLIC,
            Self::Admin => &ADMIN,
        }
    }
}

static PUBLIC: [(Method, &str, Route); 24] = [
    (Method::GET, "/healthz", Route::Healthz),
    (Method::GET, "/readyz", Route::Readyz),
    (Method::GET, "/openapi.json", Route::PublicOpenApi),
    (Method::GET, "/v1/jobs/{id}", Route::GetJob),
    (Method::POST, "/v1/auth/register", Route::Register),
    (Method::POST, "/v1/auth/login", Route::Login),
    (Method::POST, "/v1/auth/refresh", Route::Refresh),
    (Method::POST, "/v1/auth/logout", Route::Logout),
    (Method::POST, "/v1/auth/password", Route::ChangePassword),
    (Method::GET, "/v1/auth/me", Route::Me),
    (Method::GET, "/v1/auth/sessions", Route::Sessions),
    (Method::DELETE, "/v1/auth/sessions/{id}", Route::DeleteSession),
    (Method::POST, "/v1/uploads/guest-token", Route::GuestToken),
    (Method::POST, "/v1/uploads", Route::Upload),
    (Method::GET, "/v1/uploads/{id}", Route::UploadMetadata),
    (Method::DELETE, "/v1/uploads/{id}", Route::DeleteUpload),
    (Method::GET, "/v1/uploads/{id}/content", Route::UploadContent),
    (Method::GET, "/v1/options/{kind}", Route::ListOptions),
    (Method::POST, "/v1/options/{kind}", Route::CreateOption),
    (Method::GET, "/v1/options/{kind}/suggestions", Route::SuggestOptions),
    (Method::GET, "/v1/options/{kind}/{id}", Route::GetOption),
    (Method::GET, "/v1/templates/{category_id}", Route::GetTemplate),
    (Method::POST, "/v1/templates/{category_id}/evaluate", Route::EvaluateTemplate),
    (Method::POST, "/v1/templates/{category_id}/submit", Route::SubmitTemplate),
];

static ADMIN: [(Method, &str, Route); 31] = [
    (Method::GET, "/healthz", Route::Healthz),
    (Method::GET, "/metrics", Route::Metrics),
    (Method::GET, "/openapi.json", Route::AdminOpenApi),
    (Method::GET, "/admin/secrets", Route::AdminSecrets),
    (Method::POST, "/admin/secrets/validate", Route::AdminValidateSecrets),
    (Method::GET, "/admin/jobs", Route::AdminListJobs),
    (Method::GET, "/admin/jobs/{id}", Route::AdminGetJob),
    (Method::POST, "/admin/jobs/{id}/retry", Route::AdminRetryJob),
    (Method::POST, "/admin/jobs/{id}/cancel", Route::AdminCancelJob),
    (Method::GET, "/readyz", Route::Readyz),
    (Method::POST, "/admin/sessions/revoke-all", Route::AdminRevokeAll),
    (Method::POST, "/admin/users/{id}/revoke-sessions", Route::AdminRevokeUser),
    (Method::GET, "/admin/sessions/revocations", Route::AdminRevocations),
    (Method::GET, "/admin/templates", Route::AdminTemplates),
    (Method::POST, "/admin/secrets/reload", Route::AdminReloadSecrets),
    (Method::POST, "/admin/secrets/rotate", Route::AdminRotate),
    (Method::POST, "/admin/secrets/rollback", Route::AdminRollback),
    (Method::GET, "/admin/rotations", Route::AdminRotations),
    (Method::GET, "/admin/rotations/{id}", Route::AdminRotation),
    (Method::POST, "/admin/templates", Route::AdminImportTemplates),
    (Method::GET, "/admin/users", Route::AdminFindUser),
    (Method::DELETE, "/admin/users/{id}", Route::AdminDeleteUser),
    (Method::POST, "/admin/users/{id}/disable", Route::AdminDisableUser),
    (Method::POST, "/admin/users/{id}/enable", Route::AdminEnableUser),
    (Method::GET, "/admin/options", Route::AdminRecentOptions),
    (Method::GET, "/admin/options/audit", Route::AdminOptionsAudit),
    (Method::PATCH, "/admin/options/{id}", Route::AdminPatchOption),
    (Method::POST, "/admin/options/{id}/merge", Route::AdminMergeOption),
    (Method::POST, "/admin/options/{id}/hide", Route::AdminHideOption),
    (Method::POST, "/admin/options/{id}/unhide", Route::AdminUnhideOption),
    (Method::POST, "/admin/options/{id}/approve", Route::AdminApproveOption),
];

struct Entry {
    template: &'static str,
    methods: Vec<(Method, Route)>,
    allow: String,
}

/// A listener's routing table.
pub struct Table {
    router: matchit::Router<Entry>,
}

/// The outcome of routing one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Match {
    /// A route, its template and the path parameters.
    Found {
        /// The endpoint.
        route: Route,
        /// The path template (metric label).
        template: &'static str,
        /// Path parameters by name.
        params: BTreeMap<String, String>,
    },
    /// The path exists with other methods.
    MethodNotAllowed {
        /// The path template.
        template: &'static str,
        /// The `Allow` header value.
        allow: String,
    },
    /// No such path.
    NotFound,
}

impl Table {
    /// The table of `listener`.
    ///
    /// # Panics
    /// On a conflicting route pattern (a bug caught by the tests).
    #[must_use]
    pub fn new(listener: Listener) -> Self {
        let mut grouped: BTreeMap<&'static str, Vec<(Method, Route)>> = BTreeMap::new();
        for (method, path, route) in listener.routes() {
            grouped.entry(path).or_default().push((method.clone(), *route));
        }
        let mut router = matchit::Router::new();
        for (template, methods) in grouped {
            let mut names: Vec<&str> = methods.iter().map(|(m, _)| m.as_str()).collect();
            if names.contains(&"GET") {
                names.push("HEAD");
            }
            let allow = names.join(", ");
            router.insert(template, Entry { template, methods, allow }).expect("route patterns do not conflict");
        }
        Self { router }
    }

    /// Routes `method path`. `HEAD` is served by the `GET` route.
    #[must_use]
    pub fn lookup(&self, method: &Method, path: &str) -> Match {
        let Ok(found) = self.router.at(path) else { return Match::NotFound };
        let entry = found.value;
        let wanted = if method == Method::HEAD { &Method::GET } else { method };
        match entry.methods.iter().find(|(m, _)| m == wanted) {
            Some((_, route)) => Match::Found {
                route: *route,
                template: entry.template,
                params: found.params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            },
            None => Match::MethodNotAllowed { template: entry.template, allow: entry.allow.clone() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both tables build (no conflicting patterns) and route what they list.
    #[test]
    fn tables_route_known_paths_with_params() {
        let table = Table::new(Listener::Public);
        match table.lookup(&Method::GET, "/v1/jobs/0190abcd") {
            Match::Found { route, template, params } => {
                assert_eq!(route, Route::GetJob);
                assert_eq!(template, "/v1/jobs/{id}");
                assert_eq!(params.get("id").map(String::as_str), Some("0190abcd"));
            }
            other => panic!("unexpected {other:?}"),
        }
        let _ = Table::new(Listener::Admin);
    }

    /// A known path with the wrong method is 405 with the allowed methods; unknown paths are 404.
    #[test]
    fn wrong_method_and_unknown_path() {
        let table = Table::new(Listener::Admin);
        assert_eq!(
            table.lookup(&Method::DELETE, "/admin/secrets"),
            Match::MethodNotAllowed { template: "/admin/secrets", allow: "GET, HEAD".into() }
        );
        assert_eq!(table.lookup(&Method::GET, "/nope"), Match::NotFound);
        assert_eq!(Table::new(Listener::Public).lookup(&Method::GET, "/metrics"), Match::NotFound);
    }
}
