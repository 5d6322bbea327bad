//! Account rules for registration and login, free of I/O: the email normal form, the password policy and argon2id
//! hashing, and the failed-login limiter. Storage and HTTP live elsewhere; these are the decisions they apply.

pub mod email;
pub mod limiter;
pub mod password;
