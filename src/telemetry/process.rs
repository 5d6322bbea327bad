//! The standard `process_*` metrics (the names every Prometheus client library exports), read from
//! `/proc/self` at scrape time and rendered as exposition text after the recorder's own. Written here rather
//! than through the `metrics` facade because `process_cpu_seconds_total` is a fractional counter, which the
//! facade's integer counters cannot carry. On systems without `/proc` nothing is rendered.

use std::fmt::Write as _;
use std::sync::OnceLock;

/// Clock ticks per second for `/proc/self/stat` CPU times. Linux reports `USER_HZ`, 100 on every
/// architecture Gantry is built for.
const TICKS_PER_SECOND: f64 = 100.0;

/// A snapshot of this process's resource use.
#[derive(Debug, Default, PartialEq)]
struct Snapshot {
    cpu_seconds: Option<f64>,
    resident_bytes: Option<f64>,
    virtual_bytes: Option<f64>,
    threads: Option<f64>,
    start_time_seconds: Option<f64>,
    open_fds: Option<f64>,
    max_fds: Option<f64>,
}

/// Parses `/proc/self/stat`: the fields after the command name (which may contain spaces and parentheses).
fn parse_stat(stat: &str, page_size: f64, boot_time: Option<f64>) -> Snapshot {
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { return Snapshot::default() };
    // `rest` starts at field 3 (state); field n is at index n - 3.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    let cpu = field(14).zip(field(15)).map(|(u, s)| (u + s) / TICKS_PER_SECOND);
    let start = field(22).zip(boot_time).map(|(ticks, boot)| boot + ticks / TICKS_PER_SECOND);
    Snapshot {
        cpu_seconds: cpu,
        threads: field(20),
        virtual_bytes: field(23),
        resident_bytes: field(24).map(|pages| pages * page_size),
        start_time_seconds: start,
        ..Snapshot::default()
    }
}

/// The soft limit on open files from `/proc/self/limits`.
fn parse_max_fds(limits: &str) -> Option<f64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

/// `VmRSS` (reported in kB) from `/proc/self/status`, in bytes.
fn parse_vm_rss(status: &str) -> Option<f64> {
    let kb: f64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024.0)
}

/// Boot time (Unix seconds) from `/proc/stat`; read once, it does not change.
fn boot_time() -> Option<f64> {
    static BOOT: OnceLock<Option<f64>> = OnceLock::new();
    *BOOT.get_or_init(|| {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        stat.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()
    })
}

fn read() -> Snapshot {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return Snapshot::default() };
    // 4 KiB pages as a fallback only: `VmRSS` in `/proc/self/status` is exact whatever the page size.
    let mut snapshot = parse_stat(&stat, 4096.0, boot_time());
    if let Some(rss) = std::fs::read_to_string("/proc/self/status").ok().as_deref().and_then(parse_vm_rss) {
        snapshot.resident_bytes = Some(rss);
    }
    snapshot.open_fds = std::fs::read_dir("/proc/self/fd").ok().map(|dir| dir.count() as f64);
    snapshot.max_fds = std::fs::read_to_string("/proc/self/limits").ok().as_deref().and_then(parse_max_fds);
    snapshot
}

/// The `process_*` metrics as Prometheus exposition text (empty without `/proc`).
#[must_use]
pub fn render() -> String {
    let s = read();
    let mut out = String::new();
    let mut put = |name: &str, kind: &str, help: &str, value: Option<f64>| {
        if let Some(value) = value {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n");
        }
    };
    put("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", s.cpu_seconds);
    put("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", s.resident_bytes);
    put("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", s.virtual_bytes);
    put("process_threads", "gauge", "Number of OS threads in the process.", s.threads);
    put(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        s.start_time_seconds,
    );
    put("process_open_fds", "gauge", "Number of open file descriptors.", s.open_fds);
    put("process_max_fds", "gauge", "Maximum number of open file descriptors.", s.max_fds);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command name with spaces and parentheses does not shift the fields.
    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        let stat = "42 (gan try) (x)) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 1000 123456789 300 \
                    18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let s = parse_stat(stat, 4096.0, Some(1_000.0));
        assert_eq!(s.cpu_seconds, Some(3.0));
        assert_eq!(s.threads, Some(7.0));
        assert_eq!(s.start_time_seconds, Some(1_010.0));
        assert_eq!(s.virtual_bytes, Some(123_456_789.0));
        assert_eq!(s.resident_bytes, Some(300.0 * 4096.0));
    }

    /// The soft limit is the first number on the line.
    #[test]
    fn max_fds_is_the_soft_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(parse_max_fds(limits), Some(1024.0));
    }
}
