//! A small QMP client: the QEMU Machine Protocol over a unix socket.
//!
//! QMP is line-delimited JSON. The server speaks first with a greeting
//! (`{"QMP": {...}}`), refuses everything until `qmp_capabilities`, and
//! then answers each `{"execute": ...}` with `{"return": ...}` or
//! `{"error": {"class", "desc"}}`, interleaving asynchronous events
//! (`{"event": ...}`) anywhere, which this client keeps for
//! [`QmpClient::wait_event`] (a device unplug ends with `DEVICE_DELETED`,
//! which may arrive before or after `device_del`'s answer). One connection
//! runs one command at a time; the driver opens a connection per
//! operation (QEMU serves one QMP client per `-qmp` socket at a time, and a
//! short-lived connection cannot be left half-read by a cancelled future).
//!
//! Every call is bounded by the timeout given to [`QmpClient::connect`].
//! Message parsing ([`parse_message`], [`RunState::parse`]) is pure so it
//! is tested without QEMU.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

/// Why a QMP exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    /// The socket could not be connected (QEMU not running, or gone).
    #[error("cannot connect to {}: {source}", path.display())]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing the socket failed.
    #[error("QMP socket I/O: {0}")]
    Io(#[from] std::io::Error),
    /// QEMU closed the connection (it is exiting).
    #[error("QMP connection closed")]
    Closed,
    /// No answer within the timeout.
    #[error("no QMP answer within {0:?}")]
    Timeout(Duration),
    /// QEMU sent something that is not QMP.
    #[error("QMP protocol error: {0}")]
    Protocol(String),
    /// QEMU refused the command.
    #[error("QMP {command} failed: {class}: {desc}")]
    Command {
        /// The command.
        command: String,
        /// The error class (`GenericError`, `CommandNotFound`, ...).
        class: String,
        /// QEMU's description.
        desc: String,
    },
}

/// One message from the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// The greeting, with QEMU's version object.
    Greeting(Value),
    /// A command's success, with its return value.
    Return(Value),
    /// A command's failure.
    Error {
        /// The error class.
        class: String,
        /// The description.
        desc: String,
    },
    /// An asynchronous event.
    Event {
        /// The event name (`SHUTDOWN`, `STOP`, `RESUME`, ...).
        name: String,
        /// Its data, `null` when absent.
        data: Value,
    },
}

/// Parses one line from a QMP server.
pub fn parse_message(line: &str) -> Result<Message, QmpError> {
    let v: Value = serde_json::from_str(line)
        .map_err(|e| QmpError::Protocol(format!("not JSON ({e}): {:.200}", line)))?;
    let obj = v
        .as_object()
        .ok_or_else(|| QmpError::Protocol(format!("not an object: {:.200}", line)))?;
    if let Some(g) = obj.get("QMP") {
        return Ok(Message::Greeting(g.clone()));
    }
    if let Some(r) = obj.get("return") {
        return Ok(Message::Return(r.clone()));
    }
    if let Some(e) = obj.get("error") {
        let field = |k: &str| {
            e.get(k)
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string()
        };
        return Ok(Message::Error {
            class: field("class"),
            desc: field("desc"),
        });
    }
    if let Some(name) = obj.get("event").and_then(|n| n.as_str()) {
        return Ok(Message::Event {
            name: name.to_string(),
            data: obj.get("data").cloned().unwrap_or(Value::Null),
        });
    }
    Err(QmpError::Protocol(format!(
        "unknown message: {:.200}",
        line
    )))
}

/// QEMU's run state, from `query-status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// `running`.
    Running,
    /// `paused` (by `stop`).
    Paused,
    /// `prelaunch` (started with `-S`, before `cont`).
    Prelaunch,
    /// `guest-panicked`.
    GuestPanicked,
    /// `shutdown` (the guest powered off; QEMU is exiting or runs with
    /// `-no-shutdown`).
    Shutdown,
    /// `suspended` (guest-initiated ACPI S3).
    Suspended,
    /// `internal-error` or `io-error`: QEMU stopped the VM itself.
    Error(String),
    /// Any other state (migration, debug, ...), as QEMU names it.
    Other(String),
}

impl RunState {
    /// Maps QEMU's `status` string.
    pub fn parse(status: &str) -> RunState {
        match status {
            "running" => RunState::Running,
            "paused" => RunState::Paused,
            "prelaunch" => RunState::Prelaunch,
            "guest-panicked" => RunState::GuestPanicked,
            "shutdown" => RunState::Shutdown,
            "suspended" => RunState::Suspended,
            "internal-error" | "io-error" => RunState::Error(status.to_string()),
            other => RunState::Other(other.to_string()),
        }
    }
}

/// The answer to `query-status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Whether vCPUs are running.
    pub running: bool,
    /// The run state.
    pub state: RunState,
}

/// Parses the return value of `query-status`
/// (`{"running": true, "singlestep": false, "status": "running"}`).
pub fn parse_status(v: &Value) -> Result<Status, QmpError> {
    let running = v
        .get("running")
        .and_then(|r| r.as_bool())
        .ok_or_else(|| QmpError::Protocol(format!("query-status without running: {v}")))?;
    let status = v
        .get("status")
        .and_then(|s| s.as_str())
        .ok_or_else(|| QmpError::Protocol(format!("query-status without status: {v}")))?;
    Ok(Status {
        running,
        state: RunState::parse(status),
    })
}

/// A negotiated QMP connection.
#[derive(Debug)]
pub struct QmpClient {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    timeout: Duration,
    /// Events read while waiting for answers, oldest first.
    events: Vec<(String, Value)>,
    /// QEMU's version object from the greeting.
    pub version: Value,
}

impl QmpClient {
    /// Connects, reads the greeting and negotiates capabilities, all within
    /// `timeout`; later commands get the same timeout each.
    pub async fn connect(path: &Path, timeout: Duration) -> Result<QmpClient, QmpError> {
        let fut = async {
            let stream = UnixStream::connect(path)
                .await
                .map_err(|source| QmpError::Connect {
                    path: path.to_path_buf(),
                    source,
                })?;
            let (r, w) = stream.into_split();
            let mut client = QmpClient {
                reader: BufReader::new(r),
                writer: w,
                timeout,
                events: Vec::new(),
                version: Value::Null,
            };
            match client.read_message().await? {
                Message::Greeting(g) => {
                    client.version = g.get("version").cloned().unwrap_or(Value::Null)
                }
                other => {
                    return Err(QmpError::Protocol(format!(
                        "expected the greeting, got {other:?}"
                    )))
                }
            }
            client.exchange("qmp_capabilities", None).await?;
            Ok(client)
        };
        tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| QmpError::Timeout(timeout))?
    }

    /// Runs one command and returns its `return` value.
    pub async fn execute(
        &mut self,
        command: &str,
        arguments: Option<Value>,
    ) -> Result<Value, QmpError> {
        let timeout = self.timeout;
        tokio::time::timeout(timeout, self.exchange(command, arguments))
            .await
            .map_err(|_| QmpError::Timeout(timeout))?
    }

    /// `query-status`.
    pub async fn query_status(&mut self) -> Result<Status, QmpError> {
        let v = self.execute("query-status", None).await?;
        parse_status(&v)
    }

    async fn exchange(
        &mut self,
        command: &str,
        arguments: Option<Value>,
    ) -> Result<Value, QmpError> {
        let mut msg = json!({ "execute": command });
        if let Some(args) = arguments {
            msg["arguments"] = args;
        }
        let mut line = msg.to_string();
        line.push('\n');
        self.writer.write_all(line.as_bytes()).await?;
        loop {
            match self.read_message().await? {
                Message::Return(v) => return Ok(v),
                Message::Error { class, desc } => {
                    return Err(QmpError::Command {
                        command: command.to_string(),
                        class,
                        desc,
                    })
                }
                Message::Event { name, data } => {
                    tracing::trace!(event = %name, "QMP event");
                    self.keep_event(name, data);
                }
                Message::Greeting(_) => return Err(QmpError::Protocol("a second greeting".into())),
            }
        }
    }

    /// Keeps an event for [`wait_event`](Self::wait_event); a connection
    /// lives for one operation, but a bound keeps a chatty guest from
    /// growing it.
    fn keep_event(&mut self, name: String, data: Value) {
        const KEEP: usize = 256;
        if self.events.len() == KEEP {
            self.events.remove(0);
        }
        self.events.push((name, data));
    }

    /// Waits up to `limit` for an event named `name` whose data satisfies
    /// `matches`, counting events that arrived since the connection was
    /// made; returns its data.
    pub async fn wait_event(
        &mut self,
        name: &str,
        matches: impl Fn(&Value) -> bool,
        limit: Duration,
    ) -> Result<Value, QmpError> {
        if let Some(i) = self
            .events
            .iter()
            .position(|(n, d)| n == name && matches(d))
        {
            return Ok(self.events.remove(i).1);
        }
        let wait = async {
            loop {
                match self.read_message().await? {
                    Message::Event { name: n, data } if n == name && matches(&data) => {
                        return Ok(data)
                    }
                    Message::Event { name, data } => self.keep_event(name, data),
                    other => {
                        return Err(QmpError::Protocol(format!(
                            "unexpected message while waiting for {name}: {other:?}"
                        )))
                    }
                }
            }
        };
        tokio::time::timeout(limit, wait)
            .await
            .map_err(|_| QmpError::Timeout(limit))?
    }

    async fn read_message(&mut self) -> Result<Message, QmpError> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line).await? == 0 {
                return Err(QmpError::Closed);
            }
            if !line.trim().is_empty() {
                return parse_message(line.trim());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixListener;

    #[test]
    fn parses_every_kind_of_message() {
        let g = parse_message(
            r#"{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "x"}, "capabilities": ["oob"]}}"#,
        )
        .expect("greeting");
        assert!(matches!(g, Message::Greeting(v) if v["version"]["qemu"]["major"] == 7));
        assert_eq!(
            parse_message(r#"{"return": {}}"#).expect("return"),
            Message::Return(json!({}))
        );
        assert_eq!(
            parse_message(r#"{"error": {"class": "GenericError", "desc": "nope"}}"#).expect("err"),
            Message::Error {
                class: "GenericError".into(),
                desc: "nope".into()
            }
        );
        assert_eq!(
            parse_message(
                r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "SHUTDOWN", "data": {"guest": true}}"#
            )
            .expect("event"),
            Message::Event {
                name: "SHUTDOWN".into(),
                data: json!({"guest": true})
            }
        );
        assert!(matches!(parse_message("[1]"), Err(QmpError::Protocol(_))));
        assert!(matches!(parse_message("{"), Err(QmpError::Protocol(_))));
        assert!(matches!(
            parse_message(r#"{"x": 1}"#),
            Err(QmpError::Protocol(_))
        ));
    }

    #[test]
    fn parses_query_status() {
        let s = parse_status(&json!({"running": true, "singlestep": false, "status": "running"}))
            .expect("status");
        assert_eq!(
            s,
            Status {
                running: true,
                state: RunState::Running
            }
        );
        let s = parse_status(&json!({"running": false, "status": "guest-panicked"})).expect("p");
        assert_eq!(s.state, RunState::GuestPanicked);
        assert_eq!(
            RunState::parse("io-error"),
            RunState::Error("io-error".into())
        );
        assert_eq!(
            RunState::parse("inmigrate"),
            RunState::Other("inmigrate".into())
        );
        assert!(parse_status(&json!({"status": "running"})).is_err());
    }

    /// A scripted QMP server: greets, checks each request, answers.
    async fn serve(listener: UnixListener, script: Vec<(&'static str, &'static str)>) {
        let (stream, _) = listener.accept().await.expect("accept");
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        w.write_all(
            b"{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7}}, \"capabilities\": []}}\r\n",
        )
        .await
        .expect("greet");
        for (expect, reply) in script {
            let mut line = String::new();
            if r.read_line(&mut line).await.expect("read") == 0 {
                return;
            }
            let req: Value = serde_json::from_str(&line).expect("request JSON");
            assert_eq!(req["execute"], expect);
            w.write_all(reply.as_bytes()).await.expect("reply");
        }
        // Hold the connection open without answering.
        let mut rest = String::new();
        while r.read_line(&mut rest).await.unwrap_or(0) > 0 {}
    }

    #[tokio::test]
    async fn waits_for_events_before_and_after_the_answer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("qmp.sock");
        let listener = UnixListener::bind(&sock).expect("bind");
        let deleted = |dev: &str| {
            format!("{{\"event\": \"DEVICE_DELETED\", \"data\": {{\"device\": \"{dev}\"}}, \"timestamp\": {{}}}}\r\n")
        };
        let before: &'static str =
            Box::leak(format!("{}{{\"return\": {{}}}}\r\n", deleted("nic-a")).into_boxed_str());
        let after: &'static str =
            Box::leak(format!("{{\"return\": {{}}}}\r\n{}", deleted("nic-b")).into_boxed_str());
        let server = tokio::spawn(serve(
            listener,
            vec![
                ("qmp_capabilities", "{\"return\": {}}\r\n"),
                ("device_del", before),
                ("device_del", after),
            ],
        ));
        let mut c = QmpClient::connect(&sock, Duration::from_secs(5))
            .await
            .expect("connect");
        let is = |dev: &'static str| move |d: &Value| d["device"] == dev;
        let limit = Duration::from_secs(5);
        c.execute("device_del", None).await.expect("first");
        c.execute("device_del", None).await.expect("second");
        c.wait_event("DEVICE_DELETED", is("nic-b"), limit)
            .await
            .expect("event after the answer");
        c.wait_event("DEVICE_DELETED", is("nic-a"), limit)
            .await
            .expect("event before the answer, kept");
        assert!(matches!(
            c.wait_event("DEVICE_DELETED", is("nic-a"), Duration::from_millis(100))
                .await,
            Err(QmpError::Timeout(_))
        ));
        drop(c);
        server.await.expect("server");
    }

    #[tokio::test]
    async fn talks_to_a_server() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("qmp.sock");
        let listener = UnixListener::bind(&sock).expect("bind");
        let server = tokio::spawn(serve(
            listener,
            vec![
                ("qmp_capabilities", "{\"return\": {}}\r\n"),
                (
                    "query-status",
                    "{\"event\": \"RESUME\", \"timestamp\": {}}\r\n{\"return\": {\"running\": false, \"status\": \"paused\"}}\r\n",
                ),
                (
                    "bogus",
                    "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command bogus has not been found\"}}\r\n",
                ),
            ],
        ));
        let mut c = QmpClient::connect(&sock, Duration::from_secs(5))
            .await
            .expect("connect");
        assert_eq!(c.version["qemu"]["major"], 7);
        let st = c.query_status().await.expect("status");
        assert_eq!(st.state, RunState::Paused);
        match c.execute("bogus", None).await {
            Err(QmpError::Command { class, .. }) => assert_eq!(class, "CommandNotFound"),
            other => panic!("{other:?}"),
        }
        c.timeout = Duration::from_millis(100);
        assert!(matches!(
            c.execute("query-status", None).await,
            Err(QmpError::Timeout(_))
        ));
        drop(c);
        server.await.expect("server");
        assert!(matches!(
            QmpClient::connect(&dir.path().join("none.sock"), Duration::from_secs(1)).await,
            Err(QmpError::Connect { .. })
        ));
    }
}
