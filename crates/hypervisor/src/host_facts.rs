//! What `uptime` prints about a host besides how long it has been up:
//! the logged-in users and the load averages, reported by the agent with
//! its capabilities and read again at every heartbeat (they change; the
//! boot time does not, see `qemu::probe`).
//!
//! Users are counted as `uptime` counts them: the `USER_PROCESS` records
//! of utmp. A host without a utmp file has no login sessions to count.

use ferrostack_host_contract::{Capabilities, HostLoad};

/// Where glibc keeps the login records.
const UTMP: &str = "/var/run/utmp";

/// The size of one utmp record on Linux (glibc's `struct utmp`).
const UTMP_RECORD: usize = 384;

/// `ut_type` of a user's login session.
const USER_PROCESS: i16 = 7;

/// This host's users and load averages, when `/proc/loadavg` is readable.
pub fn host_load() -> Option<HostLoad> {
    let loadavg = std::fs::read_to_string("/proc/loadavg").ok()?;
    let utmp = std::fs::read(UTMP).unwrap_or_default();
    Some(HostLoad {
        users: count_users(&utmp),
        load_average: parse_loadavg(&loadavg)?,
    })
}

/// Read the load again into `caps`, for a host that reported it at start
/// (a fake host reports none and keeps none).
pub fn refresh_load(caps: &mut Capabilities) {
    if caps.load.is_some() {
        caps.load = host_load();
    }
}

/// The three averages of `/proc/loadavg` ("0.33 0.36 0.34 1/123 4567").
fn parse_loadavg(text: &str) -> Option<String> {
    let fields: Vec<&str> = text.split_whitespace().take(3).collect();
    let numeric = fields.iter().all(|f| f.parse::<f64>().is_ok());
    (fields.len() == 3 && numeric).then(|| fields.join(" "))
}

/// The `USER_PROCESS` records of a utmp file's bytes.
fn count_users(utmp: &[u8]) -> u32 {
    let sessions = utmp
        .chunks_exact(UTMP_RECORD)
        .filter(|r| i16::from_ne_bytes([r[0], r[1]]) == USER_PROCESS)
        .count();
    u32::try_from(sessions).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: i16) -> Vec<u8> {
        let mut r = vec![0u8; UTMP_RECORD];
        r[..2].copy_from_slice(&kind.to_ne_bytes());
        r
    }

    #[test]
    fn users_are_the_login_sessions_of_utmp() {
        let mut utmp = record(2); // BOOT_TIME
        utmp.extend(record(USER_PROCESS));
        utmp.extend(record(8)); // DEAD_PROCESS
        utmp.extend(record(USER_PROCESS));
        assert_eq!(count_users(&utmp), 2);
        assert_eq!(count_users(&[]), 0);
    }

    #[test]
    fn loadavg_gives_its_three_averages() {
        assert_eq!(
            parse_loadavg("0.33 0.36 0.34 1/123 4567\n").as_deref(),
            Some("0.33 0.36 0.34")
        );
        assert_eq!(parse_loadavg("0.33 x 0.34"), None);
        assert_eq!(parse_loadavg(""), None);
    }

    #[test]
    fn this_host_reports_its_load() {
        let load = host_load().expect("/proc/loadavg is readable on Linux");
        assert_eq!(load.load_average.split(' ').count(), 3);
    }
}
