//! The normal form of an account's email address: what is stored, looked up and rate-limited on.
//!
//! The address is trimmed, NFKC-normalised and case-folded (NFKC, lower-case, NFKC again) before it is validated,
//! so `" Volvo@Example.COM "`, `"volvo@example.com"` and the full-width `"ｖｏｌｖｏ＠ｅｘａｍｐｌｅ．ｃｏｍ"` are one
//! account: compatibility forms of an existing address cannot register as a second account that displays the
//! same. Control, format and bidirectional-control characters (U+0000–U+001F, U+200B zero-width space, U+202E
//! right-to-left override, U+FEFF, …) are refused outright: they are invisible or reorder what is displayed.
//! (Look-alike letters of other scripts, e.g. Cyrillic "а", are distinct code points NFKC does not unify; they are
//! not caught here.) Lower-casing the local part is stricter than RFC 5321 allows in theory,
//! but no real mailbox provider distinguishes case and treating them apart invites look-alike accounts.
//! Validation is deliberately structural (lengths, one `@`, a dotted domain); whether the mailbox exists is for a
//! confirmation mail to find out, not a grammar.

/// Longest address accepted, in bytes (RFC 5321: a 256-octet path minus the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;

/// Longest local part (before the `@`) accepted, in bytes (RFC 5321).
pub const MAX_LOCAL_PART_LEN: usize = 64;

/// Why an address was refused. Every variant has the same [`code`](EmailError::code): clients show the message and
/// need not branch on the detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing left after trimming.
    #[error("enter an email address")]
    Empty,
    /// More than [`MAX_EMAIL_LEN`] bytes.
    #[error("the email address is longer than 254 characters")]
    TooLong,
    /// Whitespace, a control, format or bidirectional-control character inside the address.
    #[error("the email address must not contain spaces, control or invisible formatting characters")]
    ForbiddenCharacter,
    /// No `@`, or more than one.
    #[error("the email address must contain exactly one '@'")]
    AtSign,
    /// Empty local part, or one longer than [`MAX_LOCAL_PART_LEN`] bytes.
    #[error("the part before '@' must be between 1 and 64 characters")]
    LocalPart,
    /// The domain has no dot, or an empty label (a leading, trailing or doubled dot).
    #[error("the part after '@' must be a domain name such as example.com")]
    Domain,
}

impl EmailError {
    /// Stable machine-readable code for API responses.
    #[must_use]
    pub fn code(&self) -> &'static str {
        "invalid_email"
    }

    /// Human-readable explanation, safe to show to the person who typed the address.
    #[must_use]
    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// Whether `c` is a format character (Unicode general category Cf, Unicode 15.1): zero-width characters,
/// bidirectional controls (U+200E/F, U+202A–E, U+2066–9, U+061C), the BOM, tag characters. Invisible in display,
/// so refused in addresses.
#[must_use]
pub fn is_format_char(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB
        | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001
        | 0xE0020..=0xE007F)
}

/// Returns the normal form of `raw`: trimmed, NFKC-normalised and case-folded, and checked to look like a
/// deliverable address.
///
/// # Errors
/// [`EmailError`] naming the first rule the normalised address breaks.
pub fn normalize_email(raw: &str) -> Result<String, EmailError> {
    use unicode_normalization::UnicodeNormalization;
    let trimmed = raw.trim();
    // Checked on the text as sent too: normalisation must not be what makes a hidden character disappear.
    if trimmed.chars().any(|c| c.is_whitespace() || c.is_control() || is_format_char(c)) {
        return Err(EmailError::ForbiddenCharacter);
    }
    let folded: String = trimmed.nfkc().collect::<String>().to_lowercase();
    let email: String = folded.nfkc().collect();
    if email.is_empty() {
        return Err(EmailError::Empty);
    }
    // Lengths are checked on the normalised form: normalising can change the byte length of non-ASCII text.
    if email.len() > MAX_EMAIL_LEN {
        return Err(EmailError::TooLong);
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control() || is_format_char(c)) {
        return Err(EmailError::ForbiddenCharacter);
    }
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(EmailError::AtSign);
    };
    if local.is_empty() || local.len() > MAX_LOCAL_PART_LEN {
        return Err(EmailError::LocalPart);
    }
    if !domain.contains('.') || domain.split('.').any(str::is_empty) {
        return Err(EmailError::Domain);
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Surrounding spaces go and upper case folds, so one mailbox is one account.
    #[test]
    fn normalize_trims_and_lowercases() {
        assert_eq!(normalize_email(" Volvo@Example.COM "), Ok("volvo@example.com".to_owned()));
    }

    /// Lower-casing is Unicode-aware, not ASCII-only.
    #[test]
    fn normalize_lowercases_non_ascii() {
        assert_eq!(normalize_email("ÅSA@Bygg.SE"), Ok("åsa@bygg.se".to_owned()));
    }

    /// Full-width and other compatibility forms fold to the same account as the plain address.
    #[test]
    fn normalize_folds_compatibility_forms() {
        assert_eq!(normalize_email("ｖｏｌｖｏ＠ｅｘａｍｐｌｅ．ｃｏｍ"), Ok("volvo@example.com".to_owned()));
        assert_eq!(normalize_email("\u{FB01}le@example.com"), Ok("file@example.com".to_owned()));
        assert_eq!(normalize_email("ＶＯＬＶＯ@example.com"), Ok("volvo@example.com".to_owned()));
    }

    /// Ordinary addresses, with plus tags and subdomains, pass unchanged.
    #[test]
    fn normalize_accepts_ordinary_addresses() {
        for ok in ["a@b.co", "first.last+tag@mail.example.org", "x_y-z@sub.domain.example"] {
            assert_eq!(normalize_email(ok).as_deref(), Ok(ok), "{ok}");
        }
    }

    /// Each structural rule rejects the address with the variant that names it.
    #[test]
    fn normalize_rejects_malformed_addresses() {
        let cases = [
            ("", EmailError::Empty),
            ("   ", EmailError::Empty),
            ("volvo.example.com", EmailError::AtSign),
            ("a@b@example.com", EmailError::AtSign),
            ("@example.com", EmailError::LocalPart),
            ("volvo@", EmailError::Domain),
            ("volvo@localhost", EmailError::Domain),
            ("volvo@.example.com", EmailError::Domain),
            ("volvo@example.com.", EmailError::Domain),
            ("volvo@example..com", EmailError::Domain),
            ("vol vo@example.com", EmailError::ForbiddenCharacter),
            ("volvo@exa\tmple.com", EmailError::ForbiddenCharacter),
            ("volvo\u{0}@example.com", EmailError::ForbiddenCharacter),
            ("vol\u{200B}vo@example.com", EmailError::ForbiddenCharacter),
            ("volvo@\u{202E}moc.elpmaxe", EmailError::ForbiddenCharacter),
            ("volvo@exa\u{2066}mple.com", EmailError::ForbiddenCharacter),
            ("\u{FEFF}volvo@example.com", EmailError::ForbiddenCharacter),
            ("volvo\u{AD}@example.com", EmailError::ForbiddenCharacter),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalize_email(raw), Err(expected), "{raw:?}");
        }
    }

    /// The local part may be 64 bytes but not 65; the whole address 254 but not 255.
    #[test]
    fn normalize_enforces_length_limits() {
        let local_64 = "a".repeat(64);
        assert!(normalize_email(&format!("{local_64}@example.com")).is_ok());
        assert_eq!(normalize_email(&format!("{local_64}a@example.com")), Err(EmailError::LocalPart));

        // 1 + 1 + 248 + 4 = 254 bytes.
        let at_limit = format!("a@{}.com", "b".repeat(248));
        assert_eq!(at_limit.len(), MAX_EMAIL_LEN);
        assert!(normalize_email(&at_limit).is_ok());
        assert_eq!(normalize_email(&format!("a{at_limit}")), Err(EmailError::TooLong));
    }

    /// Every rejection carries the one stable code and a non-empty message.
    #[test]
    fn errors_share_the_invalid_email_code() {
        let error = normalize_email("nope").expect_err("no '@'");
        assert_eq!(error.code(), "invalid_email");
        assert!(!error.message().is_empty());
    }
}
