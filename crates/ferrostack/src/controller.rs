//! This process as one controller among several sharing a database: its
//! identity, its heartbeat, and the periodic jobs it runs only while it
//! holds their lease.
//!
//! Several controllers may serve one cloud from one PostgreSQL database
//! (with SQLite there is one, and all of this is cheap bookkeeping). The
//! rules, whose storage is `ferrostack_store::controller`:
//!
//! - the controller's id is stable (`DATA/controller-id`, made on first
//!   start); each process start is a new random *incarnation*, registered
//!   over the previous one *before* any recovery, so this controller's own
//!   leftovers are recovered at once at start-up;
//! - a heartbeat moves the incarnation's lease every [`Timings::heartbeat`];
//!   work in flight (operation records, image uploads) names its owner
//!   incarnation, and only work whose owner's lease ran out (or whose
//!   owner was replaced) is recovered, each record claimed by one write;
//! - the recovery sweep (every [`Timings::sweep`]) and housekeeping
//!   (pruning revocation events) run on one controller at a time, under a
//!   named lease. The lease saves work; the per-record claim is what
//!   guarantees that two controllers never finish the same operation, so a
//!   sweep that outlives its lease is still safe.
//!
//! ```text
//!   start ─▶ register(id, new incarnation) ─▶ recover own leftovers ─▶ serve
//!              │ every 2 s: renew lease (10 s)
//!              │ every 2 s: lease "recovery-sweep"? ─▶ recover orphans of dead controllers
//!              │ hourly:    lease "prune-revocations"? ─▶ prune
//!   stop ──▶ retire (lease ends now: the others recover what is left)
//! ```
//!
//! A kill -9'd controller's lease runs out within [`Timings::lease`]; a
//! survivor's next sweep (within [`Timings::sweep`], or the sweep lease's
//! time if the dead one held it) finishes its server creates: about 12 s.

use anyhow::Context;
use ferrostack_store::controller::ControllerStore;
use ferrostack_store::SqliteStore;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often and for how long. Defaults for production; tests shorten them.
#[derive(Clone, Copy, Debug)]
pub struct Timings {
    /// Between heartbeats.
    pub heartbeat: Duration,
    /// How long an incarnation stays live without a heartbeat.
    pub lease: Duration,
    /// Between recovery sweeps.
    pub sweep: Duration,
    /// How long the sweep lease holds: a sweeper that died is replaced
    /// after this.
    pub sweep_lease: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            heartbeat: Duration::from_secs(2),
            lease: Duration::from_secs(10),
            sweep: Duration::from_secs(2),
            sweep_lease: Duration::from_secs(5),
        }
    }
}

/// This process as a registered controller.
#[derive(Clone)]
pub struct Membership {
    store: SqliteStore,
    /// The stable id.
    pub id: String,
    /// This process's incarnation.
    pub incarnation: String,
    /// The timings in force.
    pub timings: Timings,
}

/// The controller id kept in `data_dir`, made on first start.
pub fn controller_id(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("controller-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let id = ferrostack_common::ids::new_uuid();
    std::fs::write(&path, format!("{id}\n"))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}

impl Membership {
    /// Register a new incarnation of controller `id` (replacing the last
    /// one) and start its heartbeat, which ends when `stop` turns true.
    pub async fn join(
        store: SqliteStore,
        id: String,
        host: String,
        timings: Timings,
        stop: watch::Receiver<bool>,
    ) -> anyhow::Result<Self> {
        let incarnation = ferrostack_common::ids::new_uuid();
        let me = Membership {
            store,
            id,
            incarnation,
            timings,
        };
        let (s, id, inc, lease) = me.parts();
        tokio::task::spawn_blocking(move || s.register_controller(&id, &inc, &host, lease))
            .await?
            .context("cannot register this controller in the database")?;
        tracing::info!(controller = %me.id, incarnation = %me.incarnation, "controller registered");
        me.spawn_heartbeat(stop);
        Ok(me)
    }

    fn parts(&self) -> (SqliteStore, String, String, Duration) {
        (
            self.store.clone(),
            self.id.clone(),
            self.incarnation.clone(),
            self.timings.lease,
        )
    }

    fn spawn_heartbeat(&self, mut stop: watch::Receiver<bool>) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(me.timings.heartbeat);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    changed = stop.changed() => {
                        if changed.is_err() || *stop.borrow() {
                            break;
                        }
                        continue;
                    }
                }
                let (s, id, inc, lease) = me.parts();
                let renewed =
                    tokio::task::spawn_blocking(move || s.renew_controller(&id, &inc, lease)).await;
                match renewed {
                    Ok(Ok(true)) => {}
                    Ok(Ok(false)) => tracing::error!(controller = %me.id,
                        "another process registered this controller id: two controllers share a data directory's id"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "controller heartbeat not written"),
                    Err(e) => tracing::warn!(error = %e, "controller heartbeat task failed"),
                }
            }
        });
    }

    /// End this incarnation's lease now (a clean stop).
    pub async fn retire(&self) {
        let (s, id, inc, _) = self.parts();
        match tokio::task::spawn_blocking(move || s.retire_controller(&id, &inc)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not retire this controller"),
            Err(e) => tracing::warn!(error = %e, "retiring task failed"),
        }
    }

    /// Every `every`, run `job` (a blocking function) if this controller
    /// takes or keeps the lease `name` for `ttl`; until `stop`. With `ttl`
    /// longer than `every` one controller keeps the job while it lives; with
    /// `ttl` shorter, whoever comes first after it lapses runs it once.
    pub fn spawn_singleton(
        &self,
        name: &'static str,
        every: Duration,
        ttl: Duration,
        job: Arc<dyn Fn() -> anyhow::Result<()> + Send + Sync>,
        mut stop: watch::Receiver<bool>,
    ) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    changed = stop.changed() => {
                        if changed.is_err() || *stop.borrow() {
                            break;
                        }
                        continue;
                    }
                }
                let (s, inc, job) = (me.store.clone(), me.incarnation.clone(), job.clone());
                let ran = tokio::task::spawn_blocking(move || {
                    if !s.try_acquire_lease(name, &inc, ttl)? {
                        return Ok(false);
                    }
                    job().map(|()| true)
                })
                .await;
                match ran {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(job = name, error = format!("{e:#}"), "periodic job failed")
                    }
                    Err(e) => tracing::warn!(job = name, error = %e, "periodic job task failed"),
                }
            }
        });
    }
}
