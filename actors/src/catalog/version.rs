//! How an instance's idea of the catalog version moves, and when that means its caches must go: the rules
//! the catalog actor follows on a change it hears of, on a list it loads and on its periodic check. Versions
//! are monotonic per catalog, so a version further ahead than the next one means a missed change.

/// What the caches must drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flush {
    /// Nothing.
    Nothing,
    /// Only what the change touched (a list, or the templates).
    Changed,
    /// Everything: at least one change was missed.
    Everything,
}

/// A change announced at `announced` (on the bus, or by this instance's own write) while the instance knew
/// `known`: a gap drops everything, else only what the change touched. Returns the version known after it
/// (never lower than before: messages may arrive out of order).
pub(super) fn on_announced(known: Option<u64>, announced: u64) -> (Flush, u64) {
    let flush = if known.is_some_and(|known| announced > known + 1) { Flush::Everything } else { Flush::Changed };
    (flush, known.map_or(announced, |known| known.max(announced)))
}

/// A list loaded at `read` while the instance knew `known`: a store ahead of what the bus told means a
/// missed message. Returns what to drop and the version to record (`None`: keep the one known).
pub(super) fn on_loaded(known: Option<u64>, read: u64) -> (Flush, Option<u64>) {
    match known {
        Some(known) if read > known => (Flush::Everything, Some(read)),
        None => (Flush::Nothing, Some(read)),
        Some(_) => (Flush::Nothing, None),
    }
}

/// The periodic check read `read` while the instance knew `known`: any difference (ahead or, after a
/// restore, behind) drops everything; the first version learnt drops nothing (the caches started empty).
pub(super) fn on_checked(known: Option<u64>, read: u64) -> (Flush, Option<u64>) {
    match known {
        Some(known) if known == read => (Flush::Nothing, None),
        Some(_) => (Flush::Everything, Some(read)),
        None => (Flush::Nothing, Some(read)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The next version drops only what changed; a skipped version drops everything; an old, late message
    /// drops what it names but never moves the known version back.
    #[test]
    fn announced_versions_drop_the_change_or_everything_after_a_gap() {
        assert_eq!(on_announced(Some(4), 5), (Flush::Changed, 5));
        assert_eq!(on_announced(Some(4), 7), (Flush::Everything, 7));
        assert_eq!(on_announced(Some(9), 7), (Flush::Changed, 9));
        assert_eq!(on_announced(None, 3), (Flush::Changed, 3), "nothing known yet: no gap to see");
    }

    /// A load that read a newer version than the bus announced drops everything; an equal or older one keeps
    /// the caches and the known version; the first load sets it.
    #[test]
    fn a_load_ahead_of_the_bus_drops_everything() {
        assert_eq!(on_loaded(Some(4), 6), (Flush::Everything, Some(6)));
        assert_eq!(on_loaded(Some(4), 4), (Flush::Nothing, None));
        assert_eq!(on_loaded(Some(4), 3), (Flush::Nothing, None));
        assert_eq!(on_loaded(None, 2), (Flush::Nothing, Some(2)));
    }

    /// The periodic check drops everything on any difference, either way, and nothing when it agrees or
    /// learns the first version.
    #[test]
    fn the_version_check_drops_everything_on_any_difference() {
        assert_eq!(on_checked(Some(4), 4), (Flush::Nothing, None));
        assert_eq!(on_checked(Some(4), 5), (Flush::Everything, Some(5)));
        assert_eq!(on_checked(Some(4), 2), (Flush::Everything, Some(2)));
        assert_eq!(on_checked(None, 4), (Flush::Nothing, Some(4)));
    }
}
