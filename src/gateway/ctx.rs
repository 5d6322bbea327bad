//! [`Ctx`]: what a handler gets besides the request, and query-string decoding. Below every handler and the
//! server; imports none of them.

use std::borrow::Cow;
use std::net::SocketAddr;

use hyper::http::uri::PathAndQuery;

/// What a handler gets besides the request.
pub struct Ctx {
    /// Path parameters.
    pub params: Params,
    /// The client's address.
    pub peer: SocketAddr,
}

/// Most path parameters a route template may have (the routing table refuses more).
pub const MAX_PARAMS: usize = 2;

/// A route's path parameters (`{id}`, `{kind}`: one or two per route), by name, made without allocating: each
/// name is the route template's, each value a range of the request target, which the parameters keep (a
/// shared copy: the request's own bytes, not a new string). Three allocations per routed request before this.
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// The request target the values are ranges of (`None` without parameters).
    target: Option<PathAndQuery>,
    /// The parameters found, in the template's order: name and range of the target.
    found: [(&'static str, u16, u16); MAX_PARAMS],
    len: u8,
}

impl Params {
    /// Parameters of `target`: each `(name, value)` of `found` whose value is a part of `target`'s path (the
    /// router's values always are; another would be dropped, not copied). At most [`MAX_PARAMS`].
    #[must_use]
    pub fn of<'p>(target: &PathAndQuery, found: impl IntoIterator<Item = (&'static str, &'p str)>) -> Self {
        let mut params = Self::default();
        let path = target.path();
        let base = path.as_ptr() as usize;
        for (name, value) in found {
            let Some(start) = (value.as_ptr() as usize).checked_sub(base) else { continue };
            let end = start + value.len();
            let inside = path.get(start..end).is_some_and(|part| std::ptr::eq(part, value));
            let (Ok(start), Ok(end)) = (u16::try_from(start), u16::try_from(end)) else { continue };
            if inside && usize::from(params.len) < MAX_PARAMS {
                params.found[usize::from(params.len)] = (name, start, end);
                params.len += 1;
            }
        }
        if params.len > 0 {
            params.target = Some(target.clone());
        }
        params
    }

    /// The value of the parameter `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        let target = self.target.as_ref()?;
        let (_, start, end) = self.found[..usize::from(self.len)].iter().find(|(n, _, _)| *n == name)?;
        target.path().get(usize::from(*start)..usize::from(*end))
    }
}

impl PartialEq for Params {
    fn eq(&self, other: &Self) -> bool {
        fn pairs(p: &Params) -> Vec<(&'static str, Option<&str>)> {
            p.found[..usize::from(p.len)].iter().map(|(name, _, _)| (*name, p.get(name))).collect()
        }
        pairs(self) == pairs(other)
    }
}

impl Eq for Params {}

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

    /// Path parameters are parts of the request target, found by name; a value that is not a part of it (no
    /// router gives one) is not taken, and there are at most `MAX_PARAMS`.
    #[test]
    fn params_are_parts_of_the_target() {
        let target: PathAndQuery = "/v1/options/model/abc?lang=de".parse().expect("target");
        let path = target.path();
        let params = Params::of(&target, [("kind", &path[12..17]), ("id", &path[18..21]), ("more", &path[1..3])]);
        assert_eq!((params.get("kind"), params.get("id"), params.get("more")), (Some("model"), Some("abc"), None));
        let foreign = Params::of(&target, [("kind", "model")]);
        assert_eq!(foreign.get("kind"), None);
        assert_eq!(Params::default().get("kind"), None);
    }
}
