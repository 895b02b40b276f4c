//! Hearing other controllers' writes: one connection per controller
//! LISTENs on [`CHANNEL`], where every committed write that changed a
//! cached table sent its dataset mask ([`super::write_once`]), and moves
//! this process's generations by it. So a role removed through one
//! controller stops a token cached by another as soon as the notification
//! arrives (PostgreSQL delivers it at the writer's COMMIT), not at a
//! timer.
//!
//! This controller's own writes moved its counters already, after their
//! COMMIT; their notifications (recognised by the sending backend's PID,
//! one of this pool's connections) are skipped, so a write moves each
//! counter once. While the listening connection is down, changes go
//! unheard: after it is back every counter moves once (every cache is
//! rebuilt), since nothing says what was missed.
//!
//! A thread of its own rather than a task: the `postgres` client blocks,
//! and this way the listener needs no runtime from its caller. It holds
//! the generations weakly and ends within a second of the `Db` going.

use super::CHANNEL;
use crate::generations::Generations;
use crate::StoreResult;
use postgres::fallible_iterator::FallibleIterator as _;
use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How long a wait for a notification lasts before the listener checks
/// that its `Db` still exists.
const WAKE: Duration = Duration::from_millis(500);
/// The pause before connecting again after the connection failed.
const RECONNECT: Duration = Duration::from_secs(1);

/// Start listening now (so no write committed after `open` returns is
/// missed), then hand the connection to a thread that moves
/// `generations` by what other connections than `own_pids` commit.
pub(super) fn start(
    config: &postgres::Config,
    own_pids: HashSet<i32>,
    generations: &Arc<Generations>,
) -> StoreResult<()> {
    let client = listen(config)?;
    let config = config.clone();
    let generations = Arc::downgrade(generations);
    std::thread::Builder::new()
        .name("pg-generations".into())
        .spawn(move || run(client, &config, &own_pids, &generations))
        .map_err(|e| crate::StoreError::Invalid(format!("cannot start the listener: {e}")))?;
    Ok(())
}

fn listen(config: &postgres::Config) -> StoreResult<postgres::Client> {
    let mut client = config.connect(postgres::NoTls)?;
    client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    Ok(client)
}

fn run(
    mut client: postgres::Client,
    config: &postgres::Config,
    own_pids: &HashSet<i32>,
    generations: &Weak<Generations>,
) {
    loop {
        hear(&mut client, own_pids, generations);
        // The connection failed (or the Db is gone).
        loop {
            if generations.strong_count() == 0 {
                return;
            }
            std::thread::sleep(RECONNECT);
            match listen(config) {
                Ok(c) => {
                    client = c;
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for other controllers' changes; retrying")
                }
            }
        }
        let Some(g) = generations.upgrade() else {
            return;
        };
        g.bump(u32::MAX);
        tracing::info!("listening for other controllers' changes again; every cache is rebuilt");
    }
}

/// Moves the generations by each notification until the connection fails
/// or the `Db` is gone.
fn hear(client: &mut postgres::Client, own_pids: &HashSet<i32>, generations: &Weak<Generations>) {
    loop {
        let next = client.notifications().timeout_iter(WAKE).next();
        let Some(g) = generations.upgrade() else {
            return;
        };
        match next {
            Ok(Some(note)) if !own_pids.contains(&note.process_id()) => {
                match note.payload().parse::<u32>() {
                    Ok(mask) => g.bump(mask),
                    // Not ours to parse: move everything rather than miss it.
                    Err(_) => g.bump(u32::MAX),
                }
            }
            Ok(_) if client.is_closed() => return,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "lost the connection that hears other controllers' changes");
                return;
            }
        }
    }
}
