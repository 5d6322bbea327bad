//! The thin router: method + path pattern (matchit) to a [`Route`]. Paths that exist with another method
//! answer 405 with `Allow`; unknown paths 404. Route templates (not raw paths) label metrics, so label
//! values stay bounded.
//!
//! Every route declares who may call it ([`Route::access`], an exhaustive match: a new route does not compile
//! until it says). The server checks that once per request, before the handler (`access::check`). [`table`] is
//! the one list of routes: the matchers are built from it, the OpenAPI check and the access test iterate it.

use std::collections::BTreeMap;

use hyper::Method;
use hyper::http::uri::PathAndQuery;

use super::ctx::{MAX_PARAMS, Params};

/// Every endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz` (both listeners).
    Healthz,
    /// `GET /readyz`.
    Readyz,
    /// `GET /openapi.json` on the public listener.
    PublicOpenApi,
    /// `GET /.well-known/jwks.json`: the published key set.
    Jwks,
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
    /// `GET /admin/jobs/counts`: jobs per queue, kind and state.
    AdminJobCounts,
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
    /// `POST /admin/users` (the operator's account creation: not counted against any address).
    AdminCreateUser,
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
    /// `POST /admin/options` (an operator's create; the only way to create a category).
    AdminCreateOption,
    /// `GET /admin/options/audit`.
    AdminOptionsAudit,
    /// `GET /admin/options/duplicates`: near-duplicate groups around the newest options (review).
    AdminOptionDuplicates,
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
    /// `PUT /admin/options/{id}/translations/{locale}`.
    AdminSetTranslation,
    /// `DELETE /admin/options/{id}/translations/{locale}`.
    AdminRemoveTranslation,
    /// `GET /admin/fleet`: every live instance, its report, and whether the fleet agrees on its keys.
    AdminFleet,
    /// `GET /admin/forms/v1/templates/{category_id}`: the public form, for the console's form preview.
    AdminFormTemplate,
    /// `POST /admin/forms/v1/templates/{category_id}/evaluate`: the public evaluate, for the form preview.
    AdminFormEvaluate,
    /// `GET /admin/forms/v1/options/{kind}`: the public option lists, for the form preview.
    AdminFormOptions,
    /// `GET /admin/forms/v1/options/{kind}/{id}`: the public option look-up, for the form preview.
    AdminFormOption,
    /// `GET /console` (to `/console/`).
    ConsoleRedirect,
    /// `GET /console/`: the operators' console.
    ConsoleIndex,
    /// `GET /console/{page}`: a deep link into it (the same page).
    ConsolePage,
    /// `GET /console/assets/{file}`.
    ConsoleAsset,
}

/// Who may call a route; checked once per request before its handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: the gate looks at no credential (a handler may still use a valid access token to show its
    /// owner more, as the catalog shows a creator's pending options).
    Public,
    /// Anyone, but a credential that is sent (access token or upload token) must be valid (401 otherwise);
    /// the handler gets the caller, if any, and shows only what is theirs (a missing credential is a caller
    /// who owns nothing: 404, not 401, so probing learns nothing).
    OptionalCaller,
    /// A user's access token (`Authorization: Bearer`): 401 without one.
    User,
    /// A user's access token or a guest's upload token (`X-Upload-Token`): 401 without either.
    Guest,
    /// The admin token (`Authorization: Bearer`): 401 `unauthorized` when missing or wrong.
    Admin,
}

impl Route {
    /// Who may call the route.
    #[must_use]
    pub fn access(self) -> Access {
        match self {
            // Probes, scraping and the documents: the admin listener is private, and these answer to any caller
            // there (orchestrators and Prometheus hold no token).
            Self::Healthz | Self::Readyz | Self::PublicOpenApi | Self::AdminOpenApi | Self::Metrics => Access::Public,
            // The key set is public by definition: every verifier of the marketplace fetches it.
            Self::Jwks => Access::Public,
            Self::Register | Self::Login | Self::Refresh | Self::GuestToken => Access::Public,
            Self::ListOptions | Self::GetOption | Self::SuggestOptions => Access::Public,
            Self::GetTemplate | Self::EvaluateTemplate | Self::SubmitTemplate => Access::Public,
            // The console's static files hold nothing secret: the page asks for the admin token and sends it
            // with every API call it makes. (Admin listener only.)
            Self::ConsoleRedirect | Self::ConsoleIndex | Self::ConsolePage | Self::ConsoleAsset => Access::Public,
            Self::GetJob => Access::OptionalCaller,
            Self::Logout | Self::ChangePassword | Self::Me | Self::Sessions | Self::DeleteSession => Access::User,
            Self::CreateOption => Access::User,
            Self::Upload | Self::UploadMetadata | Self::UploadContent | Self::DeleteUpload => Access::Guest,
            Self::AdminSecrets
            | Self::AdminValidateSecrets
            | Self::AdminGetJob
            | Self::AdminListJobs
            | Self::AdminJobCounts
            | Self::AdminRetryJob
            | Self::AdminCancelJob
            | Self::AdminRevokeAll
            | Self::AdminRevokeUser
            | Self::AdminRevocations
            | Self::AdminTemplates
            | Self::AdminReloadSecrets
            | Self::AdminRotate
            | Self::AdminRollback
            | Self::AdminRotations
            | Self::AdminRotation
            | Self::AdminImportTemplates
            | Self::AdminCreateUser
            | Self::AdminFindUser
            | Self::AdminDeleteUser
            | Self::AdminDisableUser
            | Self::AdminEnableUser
            | Self::AdminRecentOptions
            | Self::AdminCreateOption
            | Self::AdminOptionsAudit
            | Self::AdminOptionDuplicates
            | Self::AdminPatchOption
            | Self::AdminMergeOption
            | Self::AdminHideOption
            | Self::AdminUnhideOption
            | Self::AdminApproveOption
            | Self::AdminSetTranslation
            | Self::AdminRemoveTranslation
            | Self::AdminFleet
            | Self::AdminFormTemplate
            | Self::AdminFormEvaluate
            | Self::AdminFormOptions
            | Self::AdminFormOption => Access::Admin,
        }
    }

    /// Whether load shedding may refuse it (liveness, scraping and the key set, answered from memory, must
    /// answer under overload: a verifier refused its key set refuses every token it has not cached keys for).
    #[must_use]
    pub fn sheddable(self) -> bool {
        !matches!(self, Self::Healthz | Self::Metrics | Self::Jwks)
    }

    /// Whether the route hashes a password (login, registration, password change): it runs on the password
    /// lane (`lane.rs`) and may take the places in flight kept for password routes
    /// (`http.in_flight_reserved_for_passwords`).
    #[must_use]
    pub fn hashes_passwords(self) -> bool {
        matches!(self, Self::Login | Self::Register | Self::ChangePassword)
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
}

/// One row of the route table.
#[derive(Debug)]
pub struct RouteSpec {
    /// The listener that serves it.
    pub listener: Listener,
    /// The method (`HEAD` is served by the `GET` route).
    pub method: Method,
    /// The path template (`{name}` for a parameter).
    pub template: &'static str,
    /// The endpoint.
    pub route: Route,
}

impl RouteSpec {
    /// A concrete path the route answers: each `{parameter}` of the template filled with a well-formed value
    /// (an id that names nothing, the `make` kind).
    #[must_use]
    pub fn sample_path(&self) -> String {
        self.template
            .split('/')
            .map(|segment| match segment {
                "{kind}" => "make",
                "{page}" => "fleet",
                "{file}" => "app.js",
                s if s.starts_with('{') => "0190c0de-0000-7000-8000-000000000000",
                s => s,
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Every route of both listeners: what the matchers are built from (so this list and the router cannot
/// disagree), and what the OpenAPI and access tests iterate.
#[must_use]
pub fn table() -> &'static [RouteSpec] {
    &TABLE
}

/// A row of [`TABLE`].
const fn row(listener: Listener, method: Method, template: &'static str, route: Route) -> RouteSpec {
    RouteSpec { listener, method, template, route }
}

const P: Listener = Listener::Public;
const A: Listener = Listener::Admin;

static TABLE: [RouteSpec; 71] = [
    row(P, Method::GET, "/healthz", Route::Healthz),
    row(P, Method::GET, "/.well-known/jwks.json", Route::Jwks),
    row(P, Method::GET, "/readyz", Route::Readyz),
    row(P, Method::GET, "/openapi.json", Route::PublicOpenApi),
    row(P, Method::GET, "/v1/jobs/{id}", Route::GetJob),
    row(P, Method::POST, "/v1/auth/register", Route::Register),
    row(P, Method::POST, "/v1/auth/login", Route::Login),
    row(P, Method::POST, "/v1/auth/refresh", Route::Refresh),
    row(P, Method::POST, "/v1/auth/logout", Route::Logout),
    row(P, Method::POST, "/v1/auth/password", Route::ChangePassword),
    row(P, Method::GET, "/v1/auth/me", Route::Me),
    row(P, Method::GET, "/v1/auth/sessions", Route::Sessions),
    row(P, Method::DELETE, "/v1/auth/sessions/{id}", Route::DeleteSession),
    row(P, Method::POST, "/v1/uploads/guest-token", Route::GuestToken),
    row(P, Method::POST, "/v1/uploads", Route::Upload),
    row(P, Method::GET, "/v1/uploads/{id}", Route::UploadMetadata),
    row(P, Method::DELETE, "/v1/uploads/{id}", Route::DeleteUpload),
    row(P, Method::GET, "/v1/uploads/{id}/content", Route::UploadContent),
    row(P, Method::GET, "/v1/options/{kind}", Route::ListOptions),
    row(P, Method::POST, "/v1/options/{kind}", Route::CreateOption),
    row(P, Method::GET, "/v1/options/{kind}/suggestions", Route::SuggestOptions),
    row(P, Method::GET, "/v1/options/{kind}/{id}", Route::GetOption),
    row(P, Method::GET, "/v1/templates/{category_id}", Route::GetTemplate),
    row(P, Method::POST, "/v1/templates/{category_id}/evaluate", Route::EvaluateTemplate),
    row(P, Method::POST, "/v1/templates/{category_id}/submit", Route::SubmitTemplate),
    row(A, Method::GET, "/healthz", Route::Healthz),
    row(A, Method::GET, "/metrics", Route::Metrics),
    row(A, Method::GET, "/openapi.json", Route::AdminOpenApi),
    row(A, Method::GET, "/admin/secrets", Route::AdminSecrets),
    row(A, Method::POST, "/admin/secrets/validate", Route::AdminValidateSecrets),
    row(A, Method::GET, "/admin/jobs", Route::AdminListJobs),
    row(A, Method::GET, "/admin/jobs/{id}", Route::AdminGetJob),
    row(A, Method::GET, "/admin/jobs/counts", Route::AdminJobCounts),
    row(A, Method::POST, "/admin/jobs/{id}/retry", Route::AdminRetryJob),
    row(A, Method::POST, "/admin/jobs/{id}/cancel", Route::AdminCancelJob),
    row(A, Method::GET, "/readyz", Route::Readyz),
    row(A, Method::POST, "/admin/sessions/revoke-all", Route::AdminRevokeAll),
    row(A, Method::POST, "/admin/users/{id}/revoke-sessions", Route::AdminRevokeUser),
    row(A, Method::GET, "/admin/sessions/revocations", Route::AdminRevocations),
    row(A, Method::GET, "/admin/templates", Route::AdminTemplates),
    row(A, Method::POST, "/admin/secrets/reload", Route::AdminReloadSecrets),
    row(A, Method::POST, "/admin/secrets/rotate", Route::AdminRotate),
    row(A, Method::POST, "/admin/secrets/rollback", Route::AdminRollback),
    row(A, Method::GET, "/admin/rotations", Route::AdminRotations),
    row(A, Method::GET, "/admin/rotations/{id}", Route::AdminRotation),
    row(A, Method::POST, "/admin/templates", Route::AdminImportTemplates),
    row(A, Method::POST, "/admin/users", Route::AdminCreateUser),
    row(A, Method::GET, "/admin/users", Route::AdminFindUser),
    row(A, Method::DELETE, "/admin/users/{id}", Route::AdminDeleteUser),
    row(A, Method::POST, "/admin/users/{id}/disable", Route::AdminDisableUser),
    row(A, Method::POST, "/admin/users/{id}/enable", Route::AdminEnableUser),
    row(A, Method::GET, "/admin/options", Route::AdminRecentOptions),
    row(A, Method::POST, "/admin/options", Route::AdminCreateOption),
    row(A, Method::GET, "/admin/options/audit", Route::AdminOptionsAudit),
    row(A, Method::GET, "/admin/options/duplicates", Route::AdminOptionDuplicates),
    row(A, Method::PATCH, "/admin/options/{id}", Route::AdminPatchOption),
    row(A, Method::POST, "/admin/options/{id}/merge", Route::AdminMergeOption),
    row(A, Method::POST, "/admin/options/{id}/hide", Route::AdminHideOption),
    row(A, Method::POST, "/admin/options/{id}/unhide", Route::AdminUnhideOption),
    row(A, Method::POST, "/admin/options/{id}/approve", Route::AdminApproveOption),
    row(A, Method::PUT, "/admin/options/{id}/translations/{locale}", Route::AdminSetTranslation),
    row(A, Method::DELETE, "/admin/options/{id}/translations/{locale}", Route::AdminRemoveTranslation),
    row(A, Method::GET, "/admin/fleet", Route::AdminFleet),
    // The public routes the console's form preview needs, behind the admin token: the console is served by
    // this listener and its CSP lets it call nothing else (the answers are the public ones, byte for byte).
    row(A, Method::GET, "/admin/forms/v1/templates/{category_id}", Route::AdminFormTemplate),
    row(A, Method::POST, "/admin/forms/v1/templates/{category_id}/evaluate", Route::AdminFormEvaluate),
    row(A, Method::GET, "/admin/forms/v1/options/{kind}", Route::AdminFormOptions),
    row(A, Method::GET, "/admin/forms/v1/options/{kind}/{id}", Route::AdminFormOption),
    row(A, Method::GET, "/console", Route::ConsoleRedirect),
    row(A, Method::GET, "/console/", Route::ConsoleIndex),
    row(A, Method::GET, "/console/{page}", Route::ConsolePage),
    row(A, Method::GET, "/console/assets/{file}", Route::ConsoleAsset),
];

struct Entry {
    template: &'static str,
    /// The names of its parameters (`{kind}` is `kind`, `{*file}` is `file`), from the template.
    names: Vec<&'static str>,
    methods: Vec<(Method, Route)>,
    allow: String,
}

/// The parameter names of `template`, in order: `{kind}` is `kind`, `{*file}` is `file` (`{{` and `}}` are
/// literal braces, not parameters).
fn param_names(template: &'static str) -> Vec<&'static str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if rest[open + 1..].starts_with('{') {
            rest = &rest[open + 2..];
            continue;
        }
        let Some(close) = rest[open..].find('}') else { break };
        names.push(rest[open + 1..open + close].trim_start_matches('*'));
        rest = &rest[open + close + 1..];
    }
    names
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
        params: Params,
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
        for spec in table().iter().filter(|spec| spec.listener == listener) {
            grouped.entry(spec.template).or_default().push((spec.method.clone(), spec.route));
        }
        let mut router = matchit::Router::new();
        for (template, methods) in grouped {
            let mut names: Vec<&str> = methods.iter().map(|(m, _)| m.as_str()).collect();
            if names.contains(&"GET") {
                names.push("HEAD");
            }
            let allow = names.join(", ");
            let names = param_names(template);
            assert!(names.len() <= MAX_PARAMS, "{template}: more than {MAX_PARAMS} parameters");
            router.insert(template, Entry { template, names, methods, allow }).expect("route patterns do not conflict");
        }
        Self { router }
    }

    /// Routes `method target`. `HEAD` is served by the `GET` route.
    #[must_use]
    pub fn lookup(&self, method: &Method, target: &PathAndQuery) -> Match {
        let Ok(found) = self.router.at(target.path()) else { return Match::NotFound };
        let entry = found.value;
        let wanted = if method == Method::HEAD { &Method::GET } else { method };
        match entry.methods.iter().find(|(m, _)| m == wanted) {
            Some((_, route)) => Match::Found {
                route: *route,
                template: entry.template,
                params: Params::of(
                    target,
                    found.params.iter().filter_map(|(k, v)| Some((*entry.names.iter().find(|n| **n == k)?, v))),
                ),
            },
            None => Match::MethodNotAllowed { template: entry.template, allow: entry.allow.clone() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> PathAndQuery {
        path.parse().expect("a request target")
    }

    /// Both tables build (no conflicting patterns) and route what they list.
    #[test]
    fn tables_route_known_paths_with_params() {
        let table = Table::new(Listener::Public);
        match table.lookup(&Method::GET, &target("/v1/jobs/0190abcd?x=1")) {
            Match::Found { route, template, params } => {
                assert_eq!(route, Route::GetJob);
                assert_eq!(template, "/v1/jobs/{id}");
                assert_eq!((params.get("id"), params.get("kind")), (Some("0190abcd"), None));
            }
            other => panic!("unexpected {other:?}"),
        }
        match table.lookup(&Method::GET, &target("/v1/options/model/0190abcd-x")) {
            Match::Found { params, .. } => {
                assert_eq!((params.get("kind"), params.get("id")), (Some("model"), Some("0190abcd-x")));
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
            table.lookup(&Method::DELETE, &target("/admin/secrets")),
            Match::MethodNotAllowed { template: "/admin/secrets", allow: "GET, HEAD".into() }
        );
        assert_eq!(table.lookup(&Method::GET, &target("/nope")), Match::NotFound);
        assert_eq!(Table::new(Listener::Public).lookup(&Method::GET, &target("/metrics")), Match::NotFound);
    }

    /// Each row's sample path reaches that row's route on its listener (the access test relies on it), and
    /// no route is listed twice on one listener.
    #[test]
    fn every_sample_path_routes_to_its_own_route() {
        let tables = [(Listener::Public, Table::new(Listener::Public)), (Listener::Admin, Table::new(Listener::Admin))];
        let mut seen = std::collections::BTreeSet::new();
        for spec in table() {
            let (_, routes) = tables.iter().find(|(l, _)| *l == spec.listener).expect("both listeners");
            match routes.lookup(&spec.method, &target(&spec.sample_path())) {
                Match::Found { route, template, .. } => {
                    assert_eq!((route, template), (spec.route, spec.template), "{} {}", spec.method, spec.template);
                }
                other => panic!("{} {} routes to {other:?}", spec.method, spec.sample_path()),
            }
            assert!(
                seen.insert((spec.listener.as_str(), format!("{:?}", spec.route))),
                "{:?} listed twice",
                spec.route
            );
        }
    }

    /// A template's parameter names, catch-alls and escaped braces included.
    #[test]
    fn parameter_names_come_from_the_template() {
        assert_eq!(param_names("/v1/options/{kind}/{id}"), ["kind", "id"]);
        assert_eq!(param_names("/console/{*file}"), ["file"]);
        assert_eq!(param_names("/a/{{literal}}/{id}"), ["id"]);
        assert!(param_names("/healthz").is_empty());
    }
}
