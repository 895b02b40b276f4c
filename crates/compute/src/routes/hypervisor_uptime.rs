//! A hypervisor's uptime, as Nova's libvirt driver reports it: the output
//! of the host's `uptime` command.
//!
//! The agent reports when its host booted (`booted_at` in the service's
//! capabilities, read from `/proc/uptime` once at start; a boot time does
//! not change while the agent runs) and, at each heartbeat, the logged-in
//! users and load averages (`users`, `load_average`). The controller
//! writes the line `uptime` would print at the moment it is asked, in
//! procps' layout: the time of day (UTC), the days, hours and minutes up,
//! then the users and load averages of the last heartbeat (at most a
//! heartbeat old), e.g.
//! ` 04:05:12 up 3 days,  2:01,  1 user,  load average: 0.33, 0.36, 0.34`,
//! which is what `openstack hypervisor show` parses. An agent that
//! reports no load (an older one) gets the line up to the minutes rather
//! than made-up numbers.

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

/// `, N users,  load average: a, b, c` as procps appends it.
pub fn load_tail(users: u64, load_average: &str) -> String {
    let plural = if users == 1 { "" } else { "s" };
    let averages = load_average
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(", ");
    format!(", {users:2} user{plural},  load average: {averages}")
}

/// The uptime of `s` at `now`, when its agent reported a boot time.
pub fn uptime(s: &ComputeService, now: i64) -> Option<String> {
    let mut line = uptime_line(booted_at(s)?, now);
    let users = s.capabilities.get("users").and_then(Value::as_u64);
    let load = s.capabilities.get("load_average").and_then(Value::as_str);
    if let (Some(users), Some(load)) = (users, load) {
        line.push_str(&load_tail(users, load));
    }
    Some(line)
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
    fn users_and_load_follow_as_procps_writes_them() {
        let mut line = uptime_line(NOW - (2 * 3600 + 33 * 60) * S, NOW);
        line.push_str(&load_tail(3, "0.33 0.36 0.34"));
        assert_eq!(
            line,
            " 04:05:12 up  2:33,  3 users,  load average: 0.33, 0.36, 0.34"
        );
        assert_eq!(
            load_tail(1, "1.00 0.50 0.25"),
            ",  1 user,  load average: 1.00, 0.50, 0.25"
        );
    }

    #[test]
    fn a_boot_time_in_the_future_reads_as_just_booted() {
        assert_eq!(uptime_line(NOW + 10 * S, NOW), " 04:05:12 up 0 min");
    }
}
