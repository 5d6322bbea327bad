//! [`Ctx`]: what a handler gets besides the request, and query-string decoding. Below every handler and the
//! server; imports none of them.

use std::borrow::Cow;
use std::net::SocketAddr;

/// What a handler gets besides the request.
pub struct Ctx {
    /// Path parameters.
    pub params: Params,
    /// The request id.
    pub request_id: String,
    /// The client's address.
    pub peer: SocketAddr,
}

/// A route's path parameters (`{id}`, `{kind}`: one or two per route), by name. A list, not a map: a look-up
/// among two names costs less than building a tree on every request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// The parameters, in the template's order.
    #[must_use]
    pub fn new(params: Vec<(String, String)>) -> Self {
        Self(params)
    }

    /// The value of the parameter `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&String> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }
}

/// Decodes `%XX` and `+` in a query value (UTF-8; invalid sequences are kept as they are). A value without
/// either (`limit=50`, a UUID) is borrowed as it is: nothing to decode, nothing allocated.
pub fn percent_decode(v: &str) -> Cow<'_, str> {
    let bytes = v.as_bytes();
    if !bytes.iter().any(|&b| b == b'+' || b == b'%') {
        return Cow::Borrowed(v);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}
