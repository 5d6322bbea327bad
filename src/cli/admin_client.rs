//! The typed client of a running instance's admin listener, for the CLI's admin-API commands: one method per
//! admin route they call, each answering `Result<T, Problem>` — `T` the route's answer ([`types`]), and
//! [`Problem`] the refusal (status, problem+json document, body) or the failure to get an answer at all.
//! Commands that print an answer as the instance sent it (`--json`, the moderation and template routes) get
//! the bytes beside the typed value ([`Answer::body`]), or as the answer itself where the CLI reads nothing
//! of it. The exchange itself is [`transport`] (plain HTTP/1.1: the admin listener is private).

mod transport;
pub mod types;

use hyper::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use types::{
    Accepted, CreateOption, Job, JobDetail, JobList, JobQuery, MergeOption, ProblemDocument, RecentOptions,
    RenameOption, RequestedBy, RevokeAccepted, RevokeRequest, RotateRequest, RotationList, RotationRecord, SetEngine,
    SetTranslation, UserCreated, UserDeleted, UserFound,
};

/// An answer read as the route's type, with the body exactly as the instance sent it.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    /// The body, typed.
    pub value: T,
    /// The body as sent (what `--json` prints).
    pub body: String,
}

/// Why a call to the admin listener brought no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// The instance refused: an error status (or, where a route has one success status, another one).
    #[error("the instance answered {status}: {body}")]
    Refused {
        /// The status.
        status: StatusCode,
        /// The problem+json document, when the body is one (boxed: it is rarely read and large).
        document: Option<Box<ProblemDocument>>,
        /// The body as sent.
        body: String,
    },
    /// No answer: the admin URL is malformed, the listener cannot be reached or did not answer in time, or
    /// the request could not be encoded.
    #[error("{0:#}")]
    Transport(anyhow::Error),
    /// A success whose body is not the route's answer.
    #[error(transparent)]
    Unreadable(serde_json::Error),
}

impl Problem {
    /// A refusal with `status` and `body`, its problem+json document read when there is one.
    fn refused(status: StatusCode, body: String) -> Self {
        let document = serde_json::from_str(&body).ok();
        Self::Refused { status, document, body }
    }

    /// The status the instance refused with.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Refused { status, .. } => Some(*status),
            Self::Transport(_) | Self::Unreadable(_) => None,
        }
    }

    /// The problem+json document the instance refused with.
    #[must_use]
    pub fn document(&self) -> Option<&ProblemDocument> {
        match self {
            Self::Refused { document, .. } => document.as_deref(),
            Self::Transport(_) | Self::Unreadable(_) => None,
        }
    }
}

/// Which answers a route counts as success.
#[derive(Debug, Clone, Copy)]
enum Success {
    /// Any 2xx.
    Any,
    /// Exactly this status.
    Only(StatusCode),
}

/// A running instance's admin listener: its base URL and the admin token.
#[derive(Debug, Clone)]
pub struct AdminClient {
    /// `http://host:port`, without a trailing slash.
    base: String,
    /// The admin token, sent as `Authorization: Bearer`.
    token: String,
}

impl AdminClient {
    /// A client of the admin listener at `base` (`http://host:port`; a trailing slash is dropped).
    #[must_use]
    pub fn new(base: &str, token: String) -> Self {
        Self { base: base.trim_end_matches('/').to_owned(), token }
    }

    /// The base URL.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `POST /admin/secrets/rotate` → 202 with the rotation's job.
    ///
    /// # Errors
    /// 409 `rotation_in_progress`, another refusal, or no answer.
    pub async fn rotate(&self, request: &RotateRequest) -> Result<Accepted, Problem> {
        let body = encode_given(request)?;
        Ok(self.typed(Method::POST, "/admin/secrets/rotate", body, Success::Only(StatusCode::ACCEPTED)).await?.value)
    }

    /// `POST /admin/secrets/rollback` → 202 with the rollback's job.
    ///
    /// # Errors
    /// As [`Self::rotate`].
    pub async fn rollback(&self, request: &RotateRequest) -> Result<Accepted, Problem> {
        let body = encode_given(request)?;
        Ok(self.typed(Method::POST, "/admin/secrets/rollback", body, Success::Only(StatusCode::ACCEPTED)).await?.value)
    }

    /// `GET /admin/rotations`: the newest evidence records.
    ///
    /// # Errors
    /// A refusal, or no answer.
    pub async fn rotations(&self) -> Result<Answer<RotationList>, Problem> {
        self.typed(Method::GET, "/admin/rotations", String::new(), Success::Any).await
    }

    /// `GET /admin/rotations/{id}`: one evidence record (the instance checks the id).
    ///
    /// # Errors
    /// 404 `rotation_not_found`, another refusal, or no answer.
    pub async fn rotation(&self, id: &str) -> Result<Answer<RotationRecord>, Problem> {
        self.typed(Method::GET, &format!("/admin/rotations/{id}"), String::new(), Success::Any).await
    }

    /// `GET /admin/jobs?limit=&state=&kind=`: the newest jobs.
    ///
    /// # Errors
    /// 422 for an unknown state or a bad limit, another refusal, or no answer.
    pub async fn jobs(&self, query: &JobQuery<'_>) -> Result<Answer<JobList>, Problem> {
        let mut path = format!("/admin/jobs?limit={}", query.limit);
        for (key, value) in [("state", query.state), ("kind", query.kind)] {
            if let Some(value) = value {
                path.push_str(&format!("&{key}={}", percent_encode(value)));
            }
        }
        self.typed(Method::GET, &path, String::new(), Success::Any).await
    }

    /// `GET /admin/jobs/{id}`: one job with its attempts.
    ///
    /// # Errors
    /// 404 `job_not_found`, another refusal, or no answer.
    pub async fn job(&self, id: Uuid) -> Result<Answer<JobDetail>, Problem> {
        self.typed(Method::GET, &format!("/admin/jobs/{id}"), String::new(), Success::Any).await
    }

    /// `POST /admin/jobs/{id}/retry`: the job, due now.
    ///
    /// # Errors
    /// 404 `job_not_found`, 409 `job_not_retryable` or `job_key_taken`, another refusal, or no answer.
    pub async fn retry_job(&self, id: Uuid) -> Result<Answer<Job>, Problem> {
        self.typed(Method::POST, &format!("/admin/jobs/{id}/retry"), "{}".into(), Success::Any).await
    }

    /// `POST /admin/jobs/{id}/cancel`: the job, cancelled.
    ///
    /// # Errors
    /// 404 `job_not_found`, 409 `job_not_cancellable`, another refusal, or no answer.
    pub async fn cancel_job(&self, id: Uuid) -> Result<Answer<Job>, Problem> {
        self.typed(Method::POST, &format!("/admin/jobs/{id}/cancel"), "{}".into(), Success::Any).await
    }

    /// `GET /admin/users?email=`: the account registered with `email`.
    ///
    /// # Errors
    /// 404 `user_not_found`, another refusal, or no answer.
    pub async fn find_user(&self, email: &str) -> Result<Answer<UserFound>, Problem> {
        let path = format!("/admin/users?email={}", percent_encode(email));
        self.typed(Method::GET, &path, String::new(), Success::Any).await
    }

    /// `POST /admin/users`: an account created as the operator's (not counted against any registration limit).
    ///
    /// # Errors
    /// 409 `email_taken`, 422 for a broken email or password, another refusal, or no answer.
    pub async fn create_user(&self, email: &str, password: &str) -> Result<Answer<UserCreated>, Problem> {
        let body = serde_json::json!({ "email": email, "password": password }).to_string();
        self.typed(Method::POST, "/admin/users", body, Success::Any).await
    }

    /// `DELETE /admin/users/{id}`: its sessions revoked everywhere, then the account deleted.
    ///
    /// # Errors
    /// 404 `user_not_found`, another refusal, or no answer.
    pub async fn delete_user(&self, id: Uuid) -> Result<Answer<UserDeleted>, Problem> {
        self.typed(Method::DELETE, &format!("/admin/users/{id}"), String::new(), Success::Any).await
    }

    /// `POST /admin/users/{id}/disable` (204): no more logins, its sessions revoked everywhere.
    ///
    /// # Errors
    /// 404 `user_not_found`, another refusal, or no answer.
    pub async fn disable_user(&self, id: Uuid) -> Result<(), Problem> {
        self.verbatim(Method::POST, &format!("/admin/users/{id}/disable"), String::new(), Success::Any).await?;
        Ok(())
    }

    /// `POST /admin/users/{id}/enable` (204).
    ///
    /// # Errors
    /// 404 `user_not_found`, another refusal, or no answer.
    pub async fn enable_user(&self, id: Uuid) -> Result<(), Problem> {
        self.verbatim(Method::POST, &format!("/admin/users/{id}/enable"), String::new(), Success::Any).await?;
        Ok(())
    }

    /// `POST /admin/sessions/revoke-all`: every session revoked on every instance.
    ///
    /// # Errors
    /// 422 without a reason, another refusal, or no answer.
    pub async fn revoke_all(&self, request: &RevokeRequest<'_>) -> Result<Answer<RevokeAccepted>, Problem> {
        self.typed(Method::POST, "/admin/sessions/revoke-all", encode(request)?, Success::Any).await
    }

    /// `POST /admin/users/{id}/revoke-sessions`: the user's sessions revoked on every instance.
    ///
    /// # Errors
    /// 404 `user_not_found`, 422 without a reason, another refusal, or no answer.
    pub async fn revoke_user(&self, id: Uuid, request: &RevokeRequest<'_>) -> Result<Answer<RevokeAccepted>, Problem> {
        let path = format!("/admin/users/{id}/revoke-sessions");
        self.typed(Method::POST, &path, encode(request)?, Success::Any).await
    }

    /// `GET /admin/options?limit=&created_by=&since=`: recently created options, as sent (the CLI prints it).
    ///
    /// # Errors
    /// A refusal, or no answer.
    pub async fn recent_options(&self, query: &RecentOptions<'_>) -> Result<String, Problem> {
        let mut path = format!("/admin/options?limit={}", query.limit);
        if let Some(user) = query.created_by {
            path.push_str(&format!("&created_by={user}"));
        }
        if let Some(since) = query.since {
            path.push_str(&format!("&since={}", percent_encode(since)));
        }
        self.verbatim(Method::GET, &path, String::new(), Success::Any).await
    }

    /// `GET /admin/options/audit?limit=`: the moderation records, as sent.
    ///
    /// # Errors
    /// A refusal, or no answer.
    pub async fn option_audit(&self, limit: u32) -> Result<String, Problem> {
        self.verbatim(Method::GET, &format!("/admin/options/audit?limit={limit}"), String::new(), Success::Any).await
    }

    /// `PATCH /admin/options/{id}` with a new name: the option, as sent.
    ///
    /// # Errors
    /// 404 `option_not_found`, 409 for a taken name, another refusal, or no answer.
    pub async fn rename_option(&self, id: Uuid, request: &RenameOption<'_>) -> Result<String, Problem> {
        self.verbatim(Method::PATCH, &format!("/admin/options/{id}"), encode(request)?, Success::Any).await
    }

    /// `POST /admin/options/{id}/merge`: what moved, as sent.
    ///
    /// # Errors
    /// 404 `option_not_found`, 409 for another kind, another refusal, or no answer.
    pub async fn merge_option(&self, id: Uuid, request: &MergeOption<'_>) -> Result<String, Problem> {
        self.verbatim(Method::POST, &format!("/admin/options/{id}/merge"), encode(request)?, Success::Any).await
    }

    /// `POST /admin/options/{id}/hide`: the option, as sent.
    ///
    /// # Errors
    /// 404 `option_not_found`, another refusal, or no answer.
    pub async fn hide_option(&self, id: Uuid, request: &RequestedBy<'_>) -> Result<String, Problem> {
        self.verbatim(Method::POST, &format!("/admin/options/{id}/hide"), encode(request)?, Success::Any).await
    }

    /// `POST /admin/options/{id}/unhide`: the option, as sent.
    ///
    /// # Errors
    /// 404 `option_not_found`, another refusal, or no answer.
    pub async fn unhide_option(&self, id: Uuid, request: &RequestedBy<'_>) -> Result<String, Problem> {
        self.verbatim(Method::POST, &format!("/admin/options/{id}/unhide"), encode(request)?, Success::Any).await
    }

    /// `POST /admin/options/{id}/approve`: the option, as sent.
    ///
    /// # Errors
    /// 404 `option_not_found`, another refusal, or no answer.
    pub async fn approve_option(&self, id: Uuid, request: &RequestedBy<'_>) -> Result<String, Problem> {
        self.verbatim(Method::POST, &format!("/admin/options/{id}/approve"), encode(request)?, Success::Any).await
    }

    /// `PUT /admin/options/{id}/translations/{locale}`: the option with its name in `locale`, as sent.
    /// `locale` is a canonical tag (`de`, `pt-BR`; the caller parsed it, so it needs no escaping).
    ///
    /// # Errors
    /// 404 `option_not_found`, 409 `name_taken`, 422 for a bad name or locale or a brand or model, another
    /// refusal, or no answer.
    pub async fn set_translation(
        &self,
        id: Uuid,
        locale: &str,
        request: &SetTranslation<'_>,
    ) -> Result<String, Problem> {
        let path = format!("/admin/options/{id}/translations/{locale}");
        self.verbatim(Method::PUT, &path, encode(request)?, Success::Any).await
    }

    /// `DELETE /admin/options/{id}/translations/{locale}`: the option without its name in `locale`, as sent.
    ///
    /// # Errors
    /// 404 `option_not_found`, 422 for a bad locale or a brand or model, another refusal, or no answer.
    pub async fn remove_translation(
        &self,
        id: Uuid,
        locale: &str,
        request: &RequestedBy<'_>,
    ) -> Result<String, Problem> {
        let path = format!("/admin/options/{id}/translations/{locale}");
        self.verbatim(Method::DELETE, &path, encode(request)?, Success::Any).await
    }

    /// `POST /admin/options`: the option created, as sent.
    ///
    /// # Errors
    /// 409 `name_taken`, 422 for a bad kind, name or parent, another refusal, or no answer.
    pub async fn create_option(&self, request: &CreateOption<'_>) -> Result<String, Problem> {
        self.verbatim(Method::POST, "/admin/options", encode(request)?, Success::Any).await
    }

    /// `PATCH /admin/options/{id}` with `has_engine`: the category, as sent.
    ///
    /// # Errors
    /// 409 listing the forms it would take fields from, with the fields (without `force`), another refusal,
    /// or no answer.
    pub async fn set_engine(&self, id: Uuid, request: &SetEngine<'_>) -> Result<String, Problem> {
        self.verbatim(Method::PATCH, &format!("/admin/options/{id}"), encode(request)?, Success::Any).await
    }

    /// `POST /admin/templates[?replace=true]`: the instance checks and stores `set`; what it stored, as sent.
    ///
    /// # Errors
    /// 422 `template_invalid` with every problem ([`ProblemDocument::problems`]), another refusal, or no
    /// answer.
    pub async fn import_templates(
        &self,
        set: &gantry_actors::catalog::templates::TemplateSet,
        replace: bool,
    ) -> Result<String, Problem> {
        let path = format!("/admin/templates{}", if replace { "?replace=true" } else { "" });
        self.verbatim(Method::POST, &path, encode(set)?, Success::Any).await
    }

    /// One call whose answer is read as `T`.
    async fn typed<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: String,
        success: Success,
    ) -> Result<Answer<T>, Problem> {
        let body = self.verbatim(method, path, body, success).await?;
        let value = serde_json::from_str(&body).map_err(Problem::Unreadable)?;
        Ok(Answer { value, body })
    }

    /// One call; the answer's body as sent, or the refusal.
    async fn verbatim(&self, method: Method, path: &str, body: String, success: Success) -> Result<String, Problem> {
        let url = format!("{}{path}", self.base);
        let (status, text) = transport::send(method, &url, &self.token, body).await.map_err(Problem::Transport)?;
        let succeeded = match success {
            Success::Any => status.is_success(),
            Success::Only(expected) => status == expected,
        };
        if succeeded { Ok(text) } else { Err(Problem::refused(status, text)) }
    }
}

/// A request body as JSON.
fn encode<B: Serialize>(body: &B) -> Result<String, Problem> {
    serde_json::to_string(body).map_err(|e| Problem::Transport(e.into()))
}

/// A request body as JSON without its `null` members: what the command was not given is left out, as a
/// client writing the body by hand would (the server's own `RotateRequest` writes every member).
fn encode_given<B: Serialize>(body: &B) -> Result<String, Problem> {
    let mut value = serde_json::to_value(body).map_err(|e| Problem::Transport(e.into()))?;
    if let Some(members) = value.as_object_mut() {
        members.retain(|_, member| !member.is_null());
    }
    encode(&value)
}

/// `value` percent-encoded for a query string (everything but RFC 3986's unreserved characters).
fn percent_encode(value: &str) -> String {
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

#[cfg(test)]
mod tests;
