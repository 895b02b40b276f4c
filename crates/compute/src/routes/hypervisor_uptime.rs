//! A hypervisor's uptime, as Nova's libvirt driver reports it: the output
//! of the host's `uptime` command.
//!
//! The agent reports when its host booted (`booted_at` in the service's
//! capabilities, read from `/proc/uptime` once at start; a boot time does
//! not change while the agent runs), and the controller writes the line
//! `uptime` would print at the moment it is asked: the time of day (UTC),
//! then `up`, the days and the hours and minutes in procps' layout, e.g.
//! ` 04:05:12 up 3 days,  2:01`. The logged-in users and load averages
//! that follow in `uptime`'s own output are left out rather than made up:
//! the agent does not report them, and nothing reads them from this API.

use chrono::{TimeZone, Timelike};
use ferrostack_store::server::ComputeService;
use serde_json::Value;

/// When the host booted (µs since the epoch), as its agent reported.
pub fn booted_at(s: &ComputeService) -> Option<i64> {
    s.capabilities.get("booted_at").and_then(Value::as_i64)
}

/// `uptime`'s line for a host that booted at `booted` (µs), at `now` (µs).
pub fn uptime_line(booted: i64, now: i64) -> String {
    let clock = chrono::Utc
        .timestamp_micros(now)
        .single()
        .unwrap_or_default();
    let up_secs = (now - booted).max(0) / 1_000_000;
    let days = up_secs / 86_400;
    let hours = up_secs / 3600 % 24;
    let minutes = up_secs / 60 % 60;
    let mut line = format!(
        " {:02}:{:02}:{:02} up ",
        clock.hour(),
        clock.minute(),
        clock.second()
    );
    if days > 0 {
        let plural = if days == 1 { "" } else { "s" };
        line.push_str(&format!("{days} day{plural}, "));
    }
    if hours > 0 {
        line.push_str(&format!("{hours:2}:{minutes:02}"));
    } else {
        line.push_str(&format!("{minutes} min"));
    }
    line
}

/// The uptime of `s` at `now`, when its agent reported a boot time.
pub fn uptime(s: &ComputeService, now: i64) -> Option<String> {
    booted_at(s).map(|b| uptime_line(b, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;
    /// 2026-12-08 04:05:12 UTC.
    const NOW: i64 = 1_796_702_712 * S;

    #[test]
    fn lines_follow_procps_layout() {
        let at = |up: i64| uptime_line(NOW - up * S, NOW);
        assert_eq!(at(3 * 86_400 + 2 * 3600 + 60), " 04:05:12 up 3 days,  2:01");
        assert_eq!(at(86_400 + 7 * 60), " 04:05:12 up 1 day, 7 min");
        assert_eq!(at(15 * 3600 + 5 * 60), " 04:05:12 up 15:05");
        assert_eq!(at(59), " 04:05:12 up 0 min");
    }

    #[test]
    fn a_boot_time_in_the_future_reads_as_just_booted() {
        assert_eq!(uptime_line(NOW + 10 * S, NOW), " 04:05:12 up 0 min");
    }
}
