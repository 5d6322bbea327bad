//! Accounts: the rules for registration and login (the email normal form, the password policy and argon2id
//! hashing, the failed-login limiter, the [`device`] tokens that exempt a known device from the per-account
//! limit) and [`owner`], the one owner through which the gateway and the CLI reach
//! accounts. HTTP and SQL live elsewhere.

pub mod breached_range;
pub mod device;
pub mod email;
pub mod hashing;
pub mod limiter;
pub mod owner;
pub mod password;

pub use owner::{AccountError, AccountSettings, Accounts};
