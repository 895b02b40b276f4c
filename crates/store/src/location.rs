//! Where a cloud's state lives, as an operator names it: a SQLite file
//! (the default, beside the rest of the controller's data) or a
//! PostgreSQL URL (`--database postgresql://user:pass@host:port/db`),
//! which several controllers can share.
//!
//! The URL's password is a secret: [`Location`]'s `Display` leaves it out,
//! so the location can be logged and shown in errors.

use crate::{Db, StoreResult};
use std::fmt;
use std::path::PathBuf;

/// A database to open.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgresql://` or `postgres://`).
    Postgres(String),
}

impl Location {
    /// Read `--database`: a `postgresql://` or `postgres://` URL, a
    /// `sqlite://` URL (`sqlite:///abs/path`) or a plain file path.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with("postgresql://") || text.starts_with("postgres://") {
            let rest = text.split_once("://").map(|(_, r)| r).unwrap_or_default();
            if rest.is_empty() || rest.starts_with('/') && !rest.contains("host=") {
                return Err(format!(
                    "{}: name the server, e.g. postgresql://ferrostack:PASSWORD@db.example:5432/ferrostack",
                    redact(text)
                ));
            }
            Ok(Location::Postgres(text.to_owned()))
        } else if let Some(path) = text.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(
                    "sqlite:// needs a file path, e.g. sqlite:///var/lib/ferrostack/ferrostack.db"
                        .into(),
                );
            }
            Ok(Location::Sqlite(PathBuf::from(path)))
        } else if text.contains("://") {
            Err(format!(
                "{}: the database must be postgresql://..., sqlite://... or a file path",
                redact(text)
            ))
        } else if text.is_empty() {
            Err("the database location is empty".into())
        } else {
            Ok(Location::Sqlite(PathBuf::from(text)))
        }
    }

    /// Open it, creating and migrating the schema as needed.
    pub fn open(&self) -> StoreResult<Db> {
        match self {
            Location::Sqlite(path) => Db::open(path),
            Location::Postgres(url) => Db::open_postgres(url),
        }
    }
}

/// `url` with its password (between `user:` and `@`) replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut out = format!("{scheme}://");
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            out.push_str(&format!("{user}{hidden}@{host}"));
        }
        None => out.push_str(authority),
    }
    // A password can also be a query parameter.
    match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            out.push_str(&format!("{path}?{}", params.join("&")));
        }
        None => out.push_str(tail),
    }
    out
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths_are_told_apart() {
        assert_eq!(
            Location::parse("/var/lib/f/ferrostack.db").unwrap(),
            Location::Sqlite("/var/lib/f/ferrostack.db".into())
        );
        assert_eq!(
            Location::parse("sqlite:///tmp/x.db").unwrap(),
            Location::Sqlite("/tmp/x.db".into())
        );
        assert!(matches!(
            Location::parse("postgresql://u:p@127.0.0.1:5432/db").unwrap(),
            Location::Postgres(_)
        ));
        assert!(Location::parse("mysql://u:p@h/db")
            .unwrap_err()
            .contains("postgresql://"));
        assert!(Location::parse("").is_err());
        assert!(Location::parse("postgresql://").is_err());
    }

    #[test]
    fn the_password_never_shows() {
        for url in [
            "postgresql://ferro:s3cret@db:5432/ferrostack",
            "postgres://ferro:s3cret@db/ferrostack?sslmode=disable",
            "postgresql://ferro@db/ferrostack?password=s3cret&sslmode=disable",
        ] {
            let location = Location::parse(url).unwrap();
            for shown in [location.to_string(), format!("{location:?}")] {
                assert!(!shown.contains("s3cret"), "{shown}");
                assert!(shown.contains("ferro") && shown.contains("db"), "{shown}");
            }
        }
        let e = Location::parse("mysql://u:s3cret@h/db").unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
    }
}
