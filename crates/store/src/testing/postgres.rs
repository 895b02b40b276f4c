//! A private PostgreSQL for tests: Debian's server binaries, started by the
//! test process on a directory of its own, one fresh database per test.
//!
//! One cluster per test process, started on first use (`initdb` with
//! fsync off, about a second) and shared by every test of that process;
//! each test gets its own database (`CREATE DATABASE t_N`, a few
//! milliseconds), so tests stay isolated and still run in parallel.
//!
//! The server listens on a unix socket in its own directory only (no TCP:
//! nothing to collide with other test processes or helpers on this machine,
//! nothing reachable from outside). PostgreSQL refuses to run as root; as
//! root the server runs as the `postgres` system user (Debian's package
//! creates it), else as `nobody`.
//!
//! Stopping: the cluster lives in a `static`, whose destructor never runs,
//! and a test process may also die by a signal. So the server is started by
//! a small shell watchdog whose standard input is a pipe from the test
//! process: when the test process ends, however it ends, the pipe closes,
//! and the watchdog stops the server by its PID (fast shutdown) and deletes
//! the directory. Rejected: a `Drop` on the cluster (never runs for a
//! static); `PR_SET_PDEATHSIG` (needs `unsafe` and a libc binding, and
//! fires on the death of the spawning *thread*, not the process).
//!
//! Without PostgreSQL installed, [`database`] returns `None` after printing
//! a loud SKIPPED line, unless `CI=true`: then it panics, so a CI machine
//! without the package fails instead of passing on skipped tests.

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The superuser of the test cluster (`initdb -U`), trusted on the socket.
const SUPERUSER: &str = "postgres";
/// Names the socket file (`.s.PGSQL.<port>`) in the cluster's directory;
/// nothing listens on TCP.
const PORT: u16 = 5432;

/// A database of its own for one test, on the process's test cluster.
/// Dropped, it is dropped from the cluster too (with its connections).
pub struct TestDatabase {
    name: String,
    socket_dir: PathBuf,
}

impl TestDatabase {
    /// The database's name (`t_N`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connection settings for this database.
    pub fn config(&self) -> postgres::Config {
        config(&self.socket_dir, &self.name)
    }

    /// A `postgresql://` URL for this database, as an operator would give
    /// `--database` (the socket directory percent-encoded as the host).
    pub fn url(&self) -> String {
        let host: String = self
            .socket_dir
            .to_string_lossy()
            .chars()
            .map(|c| match c {
                '/' => "%2F".to_string(),
                c => c.to_string(),
            })
            .collect();
        format!("postgresql://{SUPERUSER}@{host}:{PORT}/{}", self.name)
    }

    /// A new connection to this database.
    pub fn connect(&self) -> postgres::Client {
        self.config()
            .connect(postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to test database {}: {e}", self.name))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = config(&self.socket_dir, "postgres").connect(postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A fresh database on this process's test cluster (started on first
/// use), or `None` when PostgreSQL is not installed and this is not CI
/// (a SKIPPED line is printed then).
///
/// # Panics
/// When PostgreSQL is missing and `CI=true`, or the cluster fails to start.
pub fn database() -> Option<TestDatabase> {
    static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let cluster = CLUSTER.get_or_init(Cluster::start).as_ref()?;
    let name = format!("t_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let mut admin = cluster.admin();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    Some(TestDatabase {
        name,
        socket_dir: cluster.dir.clone(),
    })
}

/// A running test cluster. The watchdog's stdin is the pipe whose closing
/// (at the end of the test process) stops the server.
struct Cluster {
    dir: PathBuf,
    _watchdog: Mutex<Child>,
}

impl Cluster {
    /// Start the cluster, or `None` (after a loud SKIPPED) when the server
    /// binaries are not installed.
    fn start() -> Option<Cluster> {
        let Some(bin) = server_binaries() else {
            let msg = "PostgreSQL server binaries not found (Debian: apt-get install postgresql; \
                       or set FERROSTACK_PG_BINDIR): the PostgreSQL tests cannot run";
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true and {msg}");
            }
            eprintln!("\n*** SKIPPED: {msg} ***\n");
            return None;
        };
        let owner = server_user();
        // Under /tmp when the server runs as another user: TMPDIR may be
        // a directory that user cannot enter (root's own).
        let base = match owner {
            Some(_) => PathBuf::from("/tmp"),
            None => std::env::temp_dir(),
        };
        let dir = base.join(format!(
            "ferrostack-pg-{}-{}",
            std::process::id(),
            nanos_now()
        ));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", dir.display()));
        }
        let data = dir.join("data");

        let mut initdb = Command::new(bin.join("initdb"));
        initdb.arg("-D").arg(&data).args([
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]);
        as_user(&mut initdb, owner);
        let out = initdb
            .output()
            .unwrap_or_else(|e| panic!("running {}/initdb: {e}", bin.display()));
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            panic!(
                "initdb -D {} failed ({}): {}",
                data.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }

        // The watchdog: starts the server, waits for its stdin to close
        // (the test process ended), stops the server by its PID and removes
        // the directory. It ignores the terminal's signals so that a ^C
        // still reaches the cleanup (the server handles its own).
        let script = r#"
trap '' INT TERM HUP
dir=$1; shift
"$@" >"$dir/postgres.log" 2>&1 </dev/null &
pid=$!
cat >/dev/null
kill -INT "$pid" 2>/dev/null
wait "$pid"
rm -rf "$dir"
"#;
        let mut watchdog = Command::new("sh");
        watchdog
            .args(["-c", script, "ferrostack-pg-watchdog"])
            .arg(&dir)
            .arg(bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(&dir)
            .args([
                "-p",
                &PORT.to_string(),
                "-c",
                "listen_addresses=",
                // Test data need not survive a crash of the machine.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        as_user(&mut watchdog, owner);
        let mut child = watchdog
            .spawn()
            .unwrap_or_else(|e| panic!("starting the PostgreSQL watchdog: {e}"));
        // Keep the write end open for as long as the process lives.
        if let Some(stdin) = child.stdin.as_mut() {
            let _ = stdin.flush();
        }
        let cluster = Cluster {
            dir,
            _watchdog: Mutex::new(child),
        };
        cluster.wait_until_ready();
        eprintln!("test PostgreSQL cluster on {}", cluster.dir.display());
        Some(cluster)
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match config(&self.dir, "postgres").connect(postgres::NoTls) {
                Ok(_) => return,
                Err(e) if Instant::now() > deadline => {
                    let log =
                        std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
                    panic!("the test PostgreSQL did not start in 30 s: {e}\n{log}");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn admin(&self) -> postgres::Client {
        config(&self.dir, "postgres")
            .connect(postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to the test PostgreSQL: {e}"))
    }
}

fn config(socket_dir: &Path, dbname: &str) -> postgres::Config {
    let mut config = postgres::Config::new();
    config
        .host_path(socket_dir)
        .port(PORT)
        .user(SUPERUSER)
        .dbname(dbname)
        .connect_timeout(Duration::from_secs(5));
    config
}

/// Where `initdb` and `postgres` are: `FERROSTACK_PG_BINDIR`, else the
/// newest `/usr/lib/postgresql/N/bin` (Debian's layout; the server
/// binaries are not on PATH there).
fn server_binaries() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("FERROSTACK_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        return dir.join("initdb").exists().then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The (uid, gid) to run the server as: none when not root; as root, the
/// `postgres` system user, else `nobody`.
fn server_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let lookup = |name: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() > 3 && fields[0] == name)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
    };
    if !running_as_root() {
        return None;
    }
    Some(
        lookup("postgres")
            .or_else(|| lookup("nobody"))
            .unwrap_or((65534, 65534)),
    )
}

fn running_as_root() -> bool {
    // /proc/self belongs to the process's effective uid.
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

fn as_user(cmd: &mut Command, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        // std drops the supplementary groups too when switching from root.
        cmd.uid(uid).gid(gid);
    }
}

/// With the PID, tells apart the directories of two runs.
fn nanos_now() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_test_gets_a_fresh_database_of_its_own() {
        let Some(a) = database() else { return };
        let Some(b) = database() else { return };
        assert_ne!(a.name(), b.name());
        let mut ca = a.connect();
        ca.batch_execute("CREATE TABLE t (x BIGINT); INSERT INTO t VALUES (1)")
            .unwrap();
        let mut cb = b.connect();
        let n: i64 = cb
            .query_one("SELECT count(*) FROM pg_tables WHERE tablename = 't'", &[])
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "b sees nothing of a");
        let url = a.url();
        assert!(url.starts_with("postgresql://postgres@%2F"), "{url}");
        let mut by_url = url
            .parse::<postgres::Config>()
            .unwrap()
            .connect(postgres::NoTls)
            .unwrap();
        let x: i64 = by_url.query_one("SELECT x FROM t", &[]).unwrap().get(0);
        assert_eq!(x, 1);
    }
}
