//! Sessions: access and refresh tokens, the revocation view every request is checked against, and the
//! session registry actor that writes them (the `sessions.prune` job also deletes ended sessions).
//!
//! - [`tokens`]: access tokens (HS256 with `JWT_SECRET`, EdDSA / ES256 with `JWT_SIGNING_KEY`) and opaque
//!   refresh tokens.
//! - [`key_set`]: the published key set (`/.well-known/jwks.json`), rendered once per key ring.
//! - [`view`]: the read-optimised revocation view (epochs, revoked sessions) published for the hot path, and
//!   its upkeep (applying changes and announcements, rebuilding it from what the stores hold).
//! - [`authenticator`]: the request path: verifies an access token and checks it against the view.
//! - [`verified_cache`]: the bounded cache of verified tokens the authenticator skips signature checks with.
//! - `refresh`: the refresh decision (rotate, replay within the grace, reuse detected, refuse), a pure function.
//! - [`registry`]: the actor: logins, rotation with reuse detection, logout, mass invalidation.

pub mod authenticator;
pub mod key_set;
mod refresh;
pub mod registry;
pub mod tokens;
pub mod verified_cache;
pub mod view;

pub use authenticator::{AuthError, Authenticator};
pub use registry::SessionError;
pub use registry::handle::SessionRegistryHandle;
pub use tokens::{AccessClaims, TokenError, TokenSettings};
pub use view::{RevocationView, SharedView};
