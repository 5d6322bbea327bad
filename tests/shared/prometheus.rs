//! The one reader of Prometheus exposition text in the test suites (included by each with `#[path]`): the
//! value of a series, the sum of a metric's series, and the names a page types and describes.

use std::collections::BTreeSet;

/// The value of `series` (name and labels exactly as rendered, e.g. `gantry_x_total{kind="a"}`), if the page
/// has it.
pub fn value(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The value of `series`, 0 when the page does not have it (a counter never incremented).
pub fn value_or_zero(page: &str, series: &str) -> f64 {
    value(page, series).unwrap_or(0.0)
}

/// The sum of every series of the metric `name`, whatever its labels.
pub fn sum(page: &str, name: &str) -> f64 {
    page.lines()
        .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with(['{', ' '])))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The metric names of the page's `# TYPE` lines and of its `# HELP` lines.
pub fn typed_and_described(page: &str) -> (BTreeSet<&str>, BTreeSet<&str>) {
    let names = |prefix: &str| -> BTreeSet<&str> {
        page.lines().filter_map(|l| l.strip_prefix(prefix)).filter_map(|l| l.split_whitespace().next()).collect()
    };
    (names("# TYPE "), names("# HELP "))
}
