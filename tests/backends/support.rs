//! Shared helpers of the backend suites.

/// The value of `var`, or `None` after announcing loudly that `suite` is skipped. With
/// `GANTRY_REQUIRE_BACKENDS=1` a missing variable is a failure instead: CI must not skip silently.
pub fn backend_env(var: &str, suite: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("GANTRY_REQUIRE_BACKENDS").as_deref() != Ok("1"),
                "backend suite `{suite}` is required (GANTRY_REQUIRE_BACKENDS=1) but {var} is not set"
            );
            // Written to stderr directly, not with eprintln!, so the test harness does not capture it: a
            // skipped suite must be visible in every run.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED backend suite `{suite}`: set {var} to run it");
            None
        }
    }
}
