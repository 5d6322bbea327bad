//! The normal form of an account's email address: what is stored, looked up and rate-limited on.
//!
//! The address is trimmed and lower-cased (Unicode-aware) before it is validated, so `" Volvo@Example.COM "` and
//! `"volvo@example.com"` are one account. Lower-casing the local part is stricter than RFC 5321 allows in theory,
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
    /// Whitespace or a control character inside the address.
    #[error("the email address must not contain spaces or control characters")]
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

/// Returns the normal form of `raw`: trimmed, lower-cased, and checked to look like a deliverable address.
///
/// # Errors
/// [`EmailError`] naming the first rule the normalised address breaks.
pub fn normalize_email(raw: &str) -> Result<String, EmailError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(EmailError::Empty);
    }
    // Lengths are checked on the normalised form: lower-casing can change the byte length of non-ASCII text.
    if email.len() > MAX_EMAIL_LEN {
        return Err(EmailError::TooLong);
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
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
