//! Controllers sharing one database, and named leases for the jobs only
//! one of them may run at a time ([`ControllerStore`]).
//!
//! Several controllers may serve one cloud from one PostgreSQL database.
//! Each still does work no request waits for: finishing operations a
//! crash interrupted, pruning revocation events. Done by every controller
//! at once, that work is wrong, not just wasteful: a controller starting
//! today would "recover" a server create another live controller is
//! running right now and undo it under its feet. So:
//!
//! - Each controller has a stable id (kept in its data directory) and, per
//!   process start, a fresh random *incarnation*. Its row in `controllers`
//!   holds the current incarnation and a `lease_until` its heartbeat moves
//!   forward every few seconds. An incarnation is *live* while its row
//!   names it and the lease has not run out.
//! - Work in flight names the incarnation that owns it (operation records,
//!   [`crate::operation::Operation::owner`]). Recovery takes only work whose
//!   owner is not live, and takes it with one conditional `UPDATE` that
//!   makes it the new owner ([`crate::operation::OperationStore::claim_operation`]),
//!   so two survivors sweeping at once never both finish the same record.
//! - A restarted controller registers its new incarnation over its old
//!   one, so its own leftovers are no longer live and are recovered at
//!   once, without waiting for a lease to lapse.
//! - Jobs that must run on one controller at a time take a named lease
//!   ([`ControllerStore::try_acquire_lease`]): one statement that inserts
//!   it, renews it for its holder or takes it over once expired.
//!
//! Every time in these tables is the *database's* clock
//! ([`crate::sql::Dialect::now_micros`]), in the statement itself:
//! controllers with skewed clocks then agree on who is live. With SQLite
//! there is one controller and the database's clock is its own.
//!
//! Rejected: PostgreSQL advisory locks (held by a connection, which the
//! pool may drop or reuse; SQLite has none, and a lease that outlives a
//! connection hiccup is what is wanted); a lease per operation (one
//! heartbeat per controller renews everything it owns at once); trusting
//! each process's clock (a controller a few seconds ahead would see its
//! peers' leases expire while they are alive).

use crate::StoreResult;
use std::time::Duration;

/// One controller as registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Controller {
    /// Its stable id (from its data directory).
    pub id: String,
    /// The current process's incarnation.
    pub incarnation: String,
    /// Its host name, for operators.
    pub host: String,
    /// When this incarnation registered (µs, database clock).
    pub started_at: i64,
    /// Until when its lease holds (µs, database clock).
    pub lease_until: i64,
    /// Whether the lease had not run out when this was read.
    pub live: bool,
    /// Where other controllers reach it (its controller-to-controller
    /// endpoint, e.g. `https://10.0.0.2:8779`), once it said.
    pub peer_url: Option<String>,
    /// The directory of its local volume backend's volume files (what a
    /// connection to one of its volumes names), once it said.
    pub volume_dir: Option<String>,
}

/// Controller membership and named leases.
pub trait ControllerStore: Send + Sync {
    /// Register `incarnation` as controller `id`'s current one, replacing
    /// any earlier incarnation (whose work is then no longer live), with a
    /// lease of `ttl`. Operation records this handle writes from now on
    /// are owned by `incarnation`.
    fn register_controller(
        &self,
        id: &str,
        incarnation: &str,
        host: &str,
        ttl: Duration,
    ) -> StoreResult<()>;
    /// Move the lease of `incarnation` to now + `ttl`. False when the row
    /// no longer names it (another process registered the same id).
    fn renew_controller(&self, id: &str, incarnation: &str, ttl: Duration) -> StoreResult<bool>;
    /// End the lease of `incarnation` now (a clean stop): what it leaves
    /// unfinished is recovered by the others at their next sweep.
    fn retire_controller(&self, id: &str, incarnation: &str) -> StoreResult<()>;
    /// Record where peers reach incarnation `incarnation` of controller
    /// `id` and where its volume files are. False when the row no longer
    /// names that incarnation.
    fn set_controller_peer(
        &self,
        id: &str,
        incarnation: &str,
        peer_url: &str,
        volume_dir: &str,
    ) -> StoreResult<bool>;
    /// Every registered controller, by id.
    fn controllers(&self) -> StoreResult<Vec<Controller>>;
    /// Take, renew or keep the lease `name` for `holder` for `ttl`, in one
    /// statement: it is granted when nobody holds it, when `holder` holds
    /// it already, or when its holder let it expire. True when granted.
    fn try_acquire_lease(&self, name: &str, holder: &str, ttl: Duration) -> StoreResult<bool>;
    /// Give the lease `name` up, if `holder` holds it.
    fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()>;
}
