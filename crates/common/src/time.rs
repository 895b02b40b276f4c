//! Timestamps in the formats OpenStack clients parse.
//!
//! Keystone writes token times with microseconds and a `Z`
//! (`2026-11-25T17:53:14.123456Z`); resource timestamps elsewhere use
//! seconds (`2026-11-25T17:53:14Z` or without the zone). Internally time is
//! kept as microseconds since the Unix epoch so comparisons (token issued
//! before a revocation) are exact.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

/// Render microseconds since the epoch as Keystone does: `...T..:..:..ffffffZ`.
pub fn keystone_time(micros: i64) -> String {
    to_datetime(micros).to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Render microseconds since the epoch with whole seconds and a `Z`.
pub fn iso_seconds(micros: i64) -> String {
    to_datetime(micros).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Render with microseconds and no zone, as Nova's quota and server views do.
pub fn nova_time(micros: i64) -> String {
    to_datetime(micros)
        .naive_utc()
        .format("%Y-%m-%dT%H:%M:%S.%6f")
        .to_string()
}

fn to_datetime(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystone_time_has_microseconds_and_zulu() {
        assert_eq!(
            keystone_time(1_700_000_000_123_456),
            "2023-11-14T22:13:20.123456Z"
        );
    }

    #[test]
    fn seconds_form_drops_fraction() {
        assert_eq!(iso_seconds(1_700_000_000_999_999), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn nova_time_has_no_zone() {
        assert_eq!(
            nova_time(1_700_000_000_000_000),
            "2023-11-14T22:13:20.000000"
        );
    }
}
