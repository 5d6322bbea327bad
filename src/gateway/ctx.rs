//! [`Ctx`]: what a handler gets besides the request. Below every handler and the server; imports none of them.

use std::collections::BTreeMap;
use std::net::SocketAddr;

/// What a handler gets besides the request.
pub struct Ctx {
    /// Path parameters.
    pub params: BTreeMap<String, String>,
    /// The request id.
    pub request_id: String,
    /// The client's address.
    pub peer: SocketAddr,
}
