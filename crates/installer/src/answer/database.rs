//! The answer file's database: where the cloud's state lives when it is
//! not the controller's SQLite file, which is what lets several
//! controllers (CONFIG_CONTROLLER_HOSTS) serve one cloud.
//!
//! The URL (CONFIG_DATABASE_URL) never holds the password: the answer
//! file's copies on every host are redacted by key (`*_PW`), so the
//! password lives in CONFIG_DATABASE_PW and is joined to the URL only in
//! the controllers' 0600 database file. A URL with a password in it is
//! refused, with that fix.

use super::values::{Host, Parsed, ValueError};
use serde::Serialize;
use std::fmt;

/// The port PostgreSQL listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 5432;
/// The role and database deploy creates on CONFIG_DATABASE_HOST by default.
pub const DEFAULT_NAME: &str = "ferrostack";

/// A PostgreSQL URL without its password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatabaseUrl {
    /// The role.
    pub user: String,
    /// The server's host name or address.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The database.
    pub name: String,
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "postgresql://{}@{}:{}/{}",
            self.user,
            bracketed(&self.host),
            self.port,
            self.name
        )
    }
}

impl DatabaseUrl {
    /// The URL with `password` (percent-encoded), what `--database` takes.
    pub fn with_password(&self, password: &str) -> String {
        if password.is_empty() {
            return self.to_string();
        }
        format!(
            "postgresql://{}:{}@{}:{}/{}",
            self.user,
            percent_encode(password),
            bracketed(&self.host),
            self.port,
            self.name
        )
    }
}

fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Every byte but unreserved URL characters as `%XX`.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The database settings of an answer file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Database {
    /// CONFIG_DATABASE_HOST: where deploy installs PostgreSQL.
    pub host: Option<Host>,
    /// CONFIG_DATABASE_URL.
    pub url: Option<DatabaseUrl>,
    /// CONFIG_DATABASE_PW.
    #[serde(skip)]
    pub password: String,
}

impl Database {
    /// The database the controllers use: CONFIG_DATABASE_URL, or the
    /// default one on CONFIG_DATABASE_HOST; None: SQLite.
    pub fn effective_url(&self) -> Option<DatabaseUrl> {
        self.url.clone().or_else(|| {
            self.host.as_ref().map(|h| DatabaseUrl {
                user: DEFAULT_NAME.into(),
                host: h.to_string(),
                port: DEFAULT_PORT,
                name: DEFAULT_NAME.into(),
            })
        })
    }

    /// The URL with the password, for the controllers' database file.
    pub fn connect_url(&self) -> Option<String> {
        self.effective_url()
            .map(|u| u.with_password(&self.password))
    }
}

/// CONFIG_DATABASE_URL: empty, or `postgresql://USER@HOST[:PORT]/DB`.
pub(crate) fn database_url(value: &str) -> Parsed<Option<DatabaseUrl>> {
    if value.is_empty() {
        return Ok(None);
    }
    let shape = "postgresql://USER@HOST:PORT/DATABASE";
    let Some(rest) = value
        .strip_prefix("postgresql://")
        .or_else(|| value.strip_prefix("postgres://"))
    else {
        return Err(vec![ValueError::at(0, "not a PostgreSQL URL").help(shape)]);
    };
    let off = value.len() - rest.len();
    let Some((user, rest)) = rest.split_once('@') else {
        return Err(vec![
            ValueError::at(off, "the URL names no user").help(shape)
        ]);
    };
    if user.contains(':') {
        return Err(vec![ValueError::at(
            off + user.find(':').unwrap_or(0),
            "the URL holds a password",
        )
        .help(
            "put it in CONFIG_DATABASE_PW (answer file copies on the hosts leave out *_PW values)",
        )]);
    }
    let host_off = off + user.len() + 1;
    let Some((hostport, name)) = rest.split_once('/') else {
        return Err(vec![
            ValueError::at(host_off, "the URL names no database").help(shape)
        ]);
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && !p.contains(']') => {
            let port = p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                vec![ValueError::at(
                    host_off + h.len() + 1,
                    format!("\"{p}\" is not a port"),
                )]
            })?;
            (h, port)
        }
        _ => (hostport, DEFAULT_PORT),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if user.is_empty() || host.is_empty() || name.is_empty() || name.contains(['?', '/']) {
        return Err(vec![ValueError::at(off, "incomplete URL").help(shape)]);
    }
    Ok(Some(DatabaseUrl {
        user: user.into(),
        host: host.into(),
        port,
        name: name.into(),
    }))
}

/// Whether `s` can be written into SQL and shell text as it is: the
/// role and database names deploy creates.
fn plain_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The script deploy runs as root on CONFIG_DATABASE_HOST (the password
/// on its standard input, never in its text): install Debian's
/// `postgresql` when missing (and its `main` cluster when the binaries are
/// there without one), listen on every address at the URL's port,
/// let `clients` (the controllers) log in as the URL's user with a
/// password, and create that role and database when missing. A re-run
/// restarts nothing unless a setting changed (a cluster found stopped is
/// started); it prints what changed, or `unchanged`.
pub fn setup_script(url: &DatabaseUrl, clients: &[Host]) -> Result<String, String> {
    if !plain_name(&url.user) || !plain_name(&url.name) {
        return Err(format!(
            "deploy creates only plain names (letters, digits, _): not {} / {}",
            url.user, url.name
        ));
    }
    let (user, db, port) = (&url.user, &url.name, url.port);
    let mut hba = String::new();
    for c in clients {
        let address = match c {
            Host::Ip(std::net::IpAddr::V4(ip)) => format!("{ip}/32"),
            Host::Ip(std::net::IpAddr::V6(ip)) => format!("{ip}/128"),
            Host::Name(n) => n.clone(),
        };
        hba.push_str(&format!(" 'host {db} {user} {address} scram-sha-256'"));
    }
    Ok(format!(
        r#"set -eu
pw=$(cat)
changed=
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
  changed=installed
fi
ver=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
conf=/etc/postgresql/$ver/main
if [ ! -d "$conf" ]; then
  pg_createcluster "$ver" main >/dev/null
  changed="$changed cluster"
fi
want="listen_addresses = '*'
port = {port}"
if [ "$(cat "$conf/conf.d/ferrostack.conf" 2>/dev/null)" != "$want" ]; then
  printf '%s
' "$want" > "$conf/conf.d/ferrostack.conf"
  changed="$changed listen"
fi
clients=
for line in{hba}; do
  if ! grep -qxF "$line" "$conf/pg_hba.conf"; then
    printf '%s
' "$line" >> "$conf/pg_hba.conf"
    clients=" clients"
  fi
done
changed="$changed$clients"
if [ -n "$changed" ]; then
  if [ -d /run/systemd/system ]; then systemctl restart postgresql
  else pg_ctlcluster "$ver" main restart 2>/dev/null || pg_ctlcluster "$ver" main start
  fi
elif ! pg_ctlcluster "$ver" main status >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then systemctl start "postgresql@$ver-main"
  else pg_ctlcluster "$ver" main start
  fi
  changed=started
fi
export FERROSTACK_DB_PW="$pw"
runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p {port} -d postgres <<'SQL'
\getenv pw FERROSTACK_DB_PW
SELECT 'CREATE ROLE "{user}" LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{user}') \gexec
ALTER ROLE "{user}" PASSWORD :'pw';
SELECT 'CREATE DATABASE "{db}" OWNER "{user}"' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{db}') \gexec
SQL
echo "${{changed:-unchanged}}"
"#
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_without_a_password_and_print_with_one_encoded() {
        let u = database_url("postgresql://fs@db.example/cloud")
            .expect("valid")
            .expect("set");
        assert_eq!(u.to_string(), "postgresql://fs@db.example:5432/cloud");
        assert_eq!(
            u.with_password("p@ss:w/rd"),
            "postgresql://fs:p%40ss%3Aw%2Frd@db.example:5432/cloud"
        );
        let u = database_url("postgres://fs@10.0.0.9:6543/x")
            .expect("valid")
            .expect("set");
        assert_eq!((u.host.as_str(), u.port), ("10.0.0.9", 6543));
        assert_eq!(database_url("").expect("empty is fine"), None);
    }

    #[test]
    fn a_password_in_the_url_or_a_wrong_shape_is_refused() {
        let e = database_url("postgresql://fs:secret@db/cloud").expect_err("password");
        assert!(e[0]
            .help
            .as_deref()
            .unwrap_or("")
            .contains("CONFIG_DATABASE_PW"));
        assert!(database_url("mysql://fs@db/cloud").is_err());
        assert!(database_url("postgresql://db/cloud").is_err());
        assert!(database_url("postgresql://fs@db").is_err());
        assert!(database_url("postgresql://fs@db:x/cloud").is_err());
    }

    #[test]
    fn the_setup_script_lets_the_controllers_in_and_holds_no_password() {
        let d = Database {
            host: Some(Host::Name("db".into())),
            url: None,
            password: "pw-not-in-script".into(),
        };
        let url = d.effective_url().expect("url");
        let clients = [
            Host::Ip("10.0.0.1".parse().expect("ip")),
            Host::Name("ctl2.example".into()),
        ];
        let script = setup_script(&url, &clients).expect("script");
        assert!(!script.contains("pw-not-in-script"));
        // Binaries without a cluster get one; a cluster found stopped is started.
        assert!(script.contains("pg_createcluster \"$ver\" main"));
        assert!(script.contains("pg_ctlcluster \"$ver\" main start\n  fi\n  changed=started"));
        assert!(script.contains("'host ferrostack ferrostack 10.0.0.1/32 scram-sha-256'"));
        assert!(script.contains("'host ferrostack ferrostack ctl2.example scram-sha-256'"));
        assert!(script.contains("apt-get install -y -q postgresql"));
        assert!(script.contains("port = 5432"));
        let odd = DatabaseUrl {
            user: "x\"; DROP".into(),
            ..url
        };
        assert!(setup_script(&odd, &clients).is_err());
    }

    #[test]
    fn the_database_host_implies_the_default_url() {
        let d = Database {
            host: Some(Host::Name("db".into())),
            url: None,
            password: "pw".into(),
        };
        assert_eq!(
            d.connect_url().as_deref(),
            Some("postgresql://ferrostack:pw@db:5432/ferrostack")
        );
        assert_eq!(Database::default().connect_url(), None);
    }
}
