//! Files and folders only the service's own user may read: the local profile's data folder, SQLite database,
//! generated secrets, object folder and objects are created `0700` (folders) and `0600` (files), whatever the
//! process's umask. Existing ones are left as the operator made them. Elsewhere than Unix these are the plain
//! `std`/`tokio` calls.

use std::io;
use std::path::Path;

/// Creates `path` and every missing parent as owner-only folders (`0700`).
///
/// # Errors
/// A folder cannot be created.
pub async fn create_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(path).await
}

/// [`create_dir_all`] for synchronous callers (start-up code that runs before the runtime matters).
///
/// # Errors
/// A folder cannot be created.
pub fn create_dir_all_sync(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Options that create a file owner-only (`0600`); the caller adds `write`, `create`/`create_new`.
#[must_use]
pub fn file_options() -> tokio::fs::OpenOptions {
    let mut options = tokio::fs::OpenOptions::new();
    #[cfg(unix)]
    options.mode(0o600);
    options
}

/// [`file_options`] for synchronous callers.
#[must_use]
pub fn file_options_sync() -> std::fs::OpenOptions {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}
