//! The byte range a download's `Range` header asks for (RFC 9110 §14).
//!
//! One range is served at most: a request for several (`bytes=0-99,200-299`) gets the first satisfiable one
//! as a plain `206` rather than a `multipart/byteranges` body. RFC 9110 §14.2 lets a server ignore or coalesce
//! ranges, clients cope, and multipart responses are a classic amplification vector for little gain on
//! images and PDFs. A header that does not parse, or names a unit other than `bytes`, is ignored and the
//! whole representation is served, as §14.2 requires. `If-Range` is for the caller to evaluate before this.

/// What to send for a `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOutcome {
    /// `200` with the whole representation: no usable `Range` header.
    Full,
    /// `206` with bytes `start..=end` (both inclusive, `end < size`).
    Partial {
        /// First byte sent.
        start: u64,
        /// Last byte sent.
        end: u64,
    },
    /// `416` with `Content-Range: bytes */<size>`: no requested range overlaps the representation.
    Unsatisfiable,
}

/// One syntactically valid `range-spec`.
#[derive(Debug, Clone, Copy)]
enum Spec {
    /// `first-` or `first-last`.
    From { first: u64, last: Option<u64> },
    /// `-length`: the last `length` bytes.
    Suffix { length: u64 },
}

/// Decides what to serve for the `Range` header value `header` of a representation of `size` bytes. The caller
/// passes [`RangeOutcome::Full`] itself when there is no header.
#[must_use]
pub fn parse_range(header: &str, size: u64) -> RangeOutcome {
    let Some(specs) = parse_specs(header) else {
        return RangeOutcome::Full;
    };
    specs.into_iter().find_map(|spec| satisfy(spec, size)).unwrap_or(RangeOutcome::Unsatisfiable)
}

/// The range specs of a valid `bytes=` header, in order; `None` when any part is invalid.
fn parse_specs(header: &str) -> Option<Vec<Spec>> {
    let (unit, set) = header.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    // `1#range-spec`: comma-separated, optional whitespace around elements, empty elements allowed.
    let specs: Vec<Spec> =
        set.split(',').map(str::trim).filter(|s| !s.is_empty()).map(parse_spec).collect::<Option<_>>()?;
    (!specs.is_empty()).then_some(specs)
}

fn parse_spec(spec: &str) -> Option<Spec> {
    let (first, last) = spec.split_once('-')?;
    if first.is_empty() {
        return Some(Spec::Suffix { length: parse_digits(last)? });
    }
    let first = parse_digits(first)?;
    let last = if last.is_empty() { None } else { Some(parse_digits(last)?) };
    // §14.1.1: a last position below the first makes the whole header invalid.
    if last.is_some_and(|last| last < first) {
        return None;
    }
    Some(Spec::From { first, last })
}

/// `1*DIGIT`, saturating at `u64::MAX`: a position beyond any size is still a position, not a syntax error.
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| n.saturating_mul(10).saturating_add(u64::from(b - b'0'))))
}

/// The part of `spec` inside a representation of `size` bytes, if any.
fn satisfy(spec: Spec, size: u64) -> Option<RangeOutcome> {
    let last_byte = size.checked_sub(1)?;
    match spec {
        Spec::From { first, .. } if first >= size => None,
        Spec::From { first, last } => {
            Some(RangeOutcome::Partial { start: first, end: last.map_or(last_byte, |l| l.min(last_byte)) })
        }
        Spec::Suffix { length: 0 } => None,
        Spec::Suffix { length } => Some(RangeOutcome::Partial { start: size.saturating_sub(length), end: last_byte }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(start: u64, end: u64) -> RangeOutcome {
        RangeOutcome::Partial { start, end }
    }

    /// `bytes=0-0` is the first byte; `bytes=-1` and `bytes=999-999` are the last.
    #[test]
    fn first_and_last_byte() {
        assert_eq!(parse_range("bytes=0-0", 1000), partial(0, 0));
        assert_eq!(parse_range("bytes=-1", 1000), partial(999, 999));
        assert_eq!(parse_range("bytes=999-999", 1000), partial(999, 999));
        assert_eq!(parse_range("bytes=999-", 1000), partial(999, 999));
    }

    /// `bytes=0-` is the whole representation as a range.
    #[test]
    fn open_range_from_zero_is_whole() {
        assert_eq!(parse_range("bytes=0-", 1000), partial(0, 999));
        assert_eq!(parse_range("bytes=100-", 1000), partial(100, 999));
    }

    /// An end past the size is clamped to the last byte, even one too large for `u64`.
    #[test]
    fn end_is_clamped() {
        assert_eq!(parse_range("bytes=10-5000", 1000), partial(10, 999));
        assert_eq!(parse_range("bytes=0-99999999999999999999999", 1000), partial(0, 999));
    }

    /// A suffix longer than the representation is the whole of it; a zero suffix is unsatisfiable.
    #[test]
    fn suffix_edges() {
        assert_eq!(parse_range("bytes=-500", 1000), partial(500, 999));
        assert_eq!(parse_range("bytes=-5000", 1000), partial(0, 999));
        assert_eq!(parse_range("bytes=-0", 1000), RangeOutcome::Unsatisfiable);
    }

    /// A start at or past the end is unsatisfiable.
    #[test]
    fn start_past_end_is_unsatisfiable() {
        assert_eq!(parse_range("bytes=1000-", 1000), RangeOutcome::Unsatisfiable);
        assert_eq!(parse_range("bytes=1000-2000", 1000), RangeOutcome::Unsatisfiable);
        assert_eq!(parse_range("bytes=99999999999999999999999-", 1000), RangeOutcome::Unsatisfiable);
    }

    /// Every range of an empty representation is unsatisfiable, suffixes included.
    #[test]
    fn empty_representation_is_unsatisfiable() {
        for header in ["bytes=0-", "bytes=0-0", "bytes=-1", "bytes=-0"] {
            assert_eq!(parse_range(header, 0), RangeOutcome::Unsatisfiable, "{header}");
        }
    }

    /// Several ranges: only the first satisfiable one is served; none satisfiable is `416`.
    #[test]
    fn multiple_ranges_serve_the_first_satisfiable() {
        assert_eq!(parse_range("bytes=0-99, 200-299", 1000), partial(0, 99));
        assert_eq!(parse_range("bytes=5000-6000,-10", 1000), partial(990, 999));
        assert_eq!(parse_range("bytes=5000-,6000-", 1000), RangeOutcome::Unsatisfiable);
    }

    /// Invalid headers and other units are ignored: the whole representation is served.
    #[test]
    fn invalid_headers_are_ignored() {
        for header in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=abc",
            "bytes=5-1",
            "bytes=1-2-3",
            "bytes=+1-2",
            "bytes= 1 - 2",
            "bytes=0-99,junk",
            "items=0-10",
            "0-10",
        ] {
            assert_eq!(parse_range(header, 1000), RangeOutcome::Full, "{header:?}");
        }
    }

    /// The unit is case-insensitive and whitespace around list elements is allowed.
    #[test]
    fn lenient_where_the_grammar_is() {
        assert_eq!(parse_range("Bytes=0-9", 1000), partial(0, 9));
        assert_eq!(parse_range(" bytes=, 0-9 ,", 1000), partial(0, 9));
    }
}
