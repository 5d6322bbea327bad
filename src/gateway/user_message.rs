//! The users' message of a mass invalidation (`revoke-all`, `revoke-sessions`, a rotation that invalidates
//! sessions): shown in every 401 `session_revoked` it causes. One rule for every admin handler that takes one;
//! below the handlers, imports only `problem`.

use super::problem::ApiError;

/// Longest message kept, in characters.
const MAX_CHARS: usize = 500;

/// Trimmed, at most 500 characters, no control characters; empty is none.
///
/// # Errors
/// 422 `invalid_user_message` for control characters.
pub(crate) fn parse(raw: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let message: String = raw.trim().chars().take(MAX_CHARS).collect();
    if message.chars().any(char::is_control) {
        return Err(ApiError::field("user_message", "invalid_user_message", "plain text without control characters"));
    }
    Ok((!message.is_empty()).then_some(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message is trimmed and cut at 500 characters; a blank one is none; a control character is refused.
    #[test]
    fn trims_cuts_and_refuses_control_characters() {
        assert_eq!(parse(None).expect("none"), None);
        assert_eq!(parse(Some("  ".into())).expect("blank"), None);
        assert_eq!(parse(Some(" back soon ".into())).expect("trimmed").as_deref(), Some("back soon"));
        assert_eq!(parse(Some("é".repeat(600))).expect("cut").map(|m| m.chars().count()), Some(500));
        assert!(parse(Some("line\nbreak".into())).is_err());
    }
}
