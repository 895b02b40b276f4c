//! Compute API microversions (`2.1` ... `2.96`).
//!
//! A version is `Major.Minor` with no leading zeros (`2.01` is invalid),
//! exactly the format Nova's `APIVersionRequest` accepts; ordering is
//! numeric, so `2.10 > 2.9`.

use std::fmt;
use std::str::FromStr;

/// A microversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    /// Major version (always 2 for the v2.1 API).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

/// A version string that is not `Major.Minor`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseVersionError(pub String);

impl fmt::Display for ParseVersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "API Version String {} is of invalid format. Must be of format MajorNum.MinorNum.",
            self.0
        )
    }
}

impl std::error::Error for ParseVersionError {}

impl ApiVersion {
    /// `major.minor`.
    pub const fn new(major: u32, minor: u32) -> Self {
        ApiVersion { major, minor }
    }

    /// True when this version is `2.minor` or later.
    pub fn at_least(self, minor: u32) -> bool {
        self >= ApiVersion::new(2, minor)
    }
}

fn number(part: &str) -> Option<u32> {
    let well_formed = !part.is_empty()
        && part.bytes().all(|b| b.is_ascii_digit())
        && (part == "0" || !part.starts_with('0'));
    if well_formed {
        part.parse().ok()
    } else {
        None
    }
}

impl FromStr for ApiVersion {
    type Err = ParseVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ParseVersionError(s.to_string());
        let (major, minor) = s.split_once('.').ok_or_else(bad)?;
        let major = number(major).filter(|m| *m > 0).ok_or_else(bad)?;
        let minor = number(minor).ok_or_else(bad)?;
        Ok(ApiVersion { major, minor })
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_versions_parse_and_order_numerically() {
        let v: ApiVersion = "2.10".parse().unwrap();
        assert_eq!(v, ApiVersion::new(2, 10));
        assert!(v > "2.9".parse().unwrap());
        assert_eq!("2.0".parse::<ApiVersion>().unwrap().to_string(), "2.0");
        assert!(v.at_least(10) && !v.at_least(11));
    }

    #[test]
    fn malformed_versions_are_refused() {
        for bad in [
            "", "2", "2.", ".1", "2.01", "02.1", "0.1", "2.1.1", "a.b", "2.x", " 2.1", "2.-1",
        ] {
            assert!(bad.parse::<ApiVersion>().is_err(), "{bad:?} parsed");
        }
    }
}
