//! Running `qemu-img` under a deadline, with errors that carry argv,
//! exit status and stderr.

use crate::backend::BackendError;
use std::ffi::OsStr;
use std::time::Duration;

/// A `qemu-img` (or `qemu-io`) run that failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The program could not be started.
    #[error("{argv}: cannot start: {source}")]
    Spawn {
        /// The command line.
        argv: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It ran past its deadline and was killed.
    #[error("{argv}: no answer within {deadline:?}")]
    Timeout {
        /// The command line.
        argv: String,
        /// The deadline.
        deadline: Duration,
    },
    /// It exited with a failure.
    #[error("{argv}: {status}: {stderr}")]
    Exit {
        /// The command line.
        argv: String,
        /// The exit status.
        status: std::process::ExitStatus,
        /// Its standard error, trimmed.
        stderr: String,
    },
}

impl From<CommandError> for BackendError {
    fn from(e: CommandError) -> Self {
        let msg = e.to_string();
        match &e {
            CommandError::Exit { stderr, .. } if stderr.contains("No space left") => {
                BackendError::NoSpace(msg)
            }
            _ => BackendError::Failed(msg),
        }
    }
}

/// Runs `program args...`, killed after `deadline`; returns its stdout.
pub(crate) async fn run(
    program: &str,
    args: &[&OsStr],
    deadline: Duration,
) -> Result<Vec<u8>, CommandError> {
    let argv = std::iter::once(program.to_string())
        .chain(args.iter().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        // Dropping the future at the deadline kills the process.
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| CommandError::Spawn {
            argv: argv.clone(),
            source,
        })?;
    let out = match tokio::time::timeout(deadline, child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(source)) => return Err(CommandError::Spawn { argv, source }),
        Err(_) => return Err(CommandError::Timeout { argv, deadline }),
    };
    if !out.status.success() {
        return Err(CommandError::Exit {
            argv,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}
