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

/// The `key=value` pairs of a query string in order, not decoded: empty pairs skipped, a key without `=` has
/// the value `""`. Split on bytes (`&` and `=` are ASCII, so every piece is still a `str`): `str::split` with a
/// `char` sets up a searcher per call, which cost ~180 instructions a pair on the option lists' short queries.
pub fn query_pairs(raw: Option<&str>) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = raw.unwrap_or("");
    std::iter::from_fn(move || {
        loop {
            if rest.is_empty() {
                return None;
            }
            let end = memchr::memchr(b'&', rest.as_bytes()).unwrap_or(rest.len());
            let (pair, tail) = rest.split_at(end);
            rest = tail.get(1..).unwrap_or("");
            if pair.is_empty() {
                continue;
            }
            return Some(match memchr::memchr(b'=', pair.as_bytes()) {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, ""),
            });
        }
    })
}

/// Decodes `%XX` and `+` in a query value (UTF-8; invalid sequences are kept as they are). A value without
/// either (`limit=50`, a UUID) is borrowed as it is: nothing to decode, nothing allocated.
pub fn percent_decode(v: &str) -> Cow<'_, str> {
    let bytes = v.as_bytes();
    if memchr::memchr2(b'+', b'%', bytes).is_none() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_split_on_ampersands_and_the_first_equals_sign() {
        let pairs: Vec<_> = query_pairs(Some("limit=50&&q=a=b&lang&parent_id=&=x&")).collect();
        assert_eq!(pairs, [("limit", "50"), ("q", "a=b"), ("lang", ""), ("parent_id", ""), ("", "x")]);
    }

    #[test]
    fn query_pairs_of_no_query_or_an_empty_one_are_none() {
        assert_eq!(query_pairs(None).count(), 0);
        assert_eq!(query_pairs(Some("")).count(), 0);
        assert_eq!(query_pairs(Some("&&")).count(), 0);
    }

    #[test]
    fn query_pairs_keep_non_ascii_text_whole() {
        let pairs: Vec<_> = query_pairs(Some("q=D\u{fc}sseldorf&lang=de")).collect();
        assert_eq!(pairs, [("q", "D\u{fc}sseldorf"), ("lang", "de")]);
    }
}
