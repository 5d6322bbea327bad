//! Sessions: access and refresh tokens, the revocation view every request is checked against, and the
//! session registry actor that alone writes both.
//!
//! - [`tokens`]: HS256 access tokens (`kid` = the JWT secret's fingerprint) and opaque refresh tokens.
//! - [`view`]: the read-optimised revocation view (epochs, revoked sessions) published for the hot path.
//! - [`registry`]: the actor: logins, rotation with reuse detection, logout, mass invalidation.

pub mod registry;
pub mod tokens;
pub mod view;

pub use registry::{SessionError, SessionRegistryHandle};
pub use tokens::{AccessClaims, TokenError, TokenSettings};
pub use view::{RevocationView, SharedView};
