//! The controllers as Nova's `nova-scheduler` and `nova-conductor`
//! services.
//!
//! Nova lists, besides one `nova-compute` per host, the scheduler and
//! conductor processes, in the `internal` zone, up while they report in.
//! In ferrostack every controller schedules and conducts, so each row of
//! the `controllers` table (issue 14: id, host name, heartbeat lease) is
//! shown as both services, up while its lease holds (the database decides
//! that, so controllers with skewed clocks agree) and down from the
//! moment it runs out.
//!
//! They are derived when read rather than stored as service rows: the
//! lease is already the one record of whether a controller is alive, and a
//! second heartbeat kept in step with it could only disagree. Their ids
//! are therefore derived too, stable across restarts: the uuid is a
//! name-based (SHA-1) uuid of the controller id and the binary, and the
//! numeric id (before 2.53) is that uuid's first 32 bits above 2^40, out
//! of the range the service table's sequence gives compute services.
//!
//! Nova refuses to update any service but `nova-compute` (400, kept in
//! `services::update`); deleting one is refused with 409 here, since the
//! service is the running controller, not a record it would recreate.

use crate::error::ComputeResult;
use crate::ComputeState;
use ferrostack_common::time::now_micros;
use ferrostack_store::controller::Controller;
use ferrostack_store::server::ComputeService;
use sha1::{Digest, Sha1};

/// The binaries each controller appears as.
pub const CONTROLLER_BINARIES: [&str; 2] = ["nova-conductor", "nova-scheduler"];

/// Where derived numeric ids start (above any sequence value a service gets).
const NUMERIC_ID_BASE: i64 = 1 << 40;

fn derived_uuid(controller_id: &str, binary: &str) -> uuid::Uuid {
    let digest = Sha1::digest(format!("ferrostack-controller:{controller_id}:{binary}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// Controller `c` as the service `binary`, seen at `now`.
fn service(c: &Controller, binary: &str, now: i64) -> ComputeService {
    let uuid = derived_uuid(&c.id, binary);
    let first = u32::from_be_bytes(uuid.as_bytes()[..4].try_into().unwrap_or_default());
    // Live: it reported within the lease. Gone: down at once, so its last
    // report is placed at least two down times back (one would not do:
    // the view judges with its own, slightly earlier, `now`).
    let heartbeat_at = if c.live {
        now
    } else {
        c.lease_until
            .min(now - 2 * super::services::DOWN_AFTER_MICROS)
    };
    ComputeService {
        id: NUMERIC_ID_BASE + i64::from(first),
        uuid: uuid.to_string(),
        host: c.host.clone(),
        binary: binary.to_string(),
        zone: "internal".into(),
        disabled: false,
        disabled_reason: None,
        forced_down: false,
        capabilities: serde_json::json!({}),
        heartbeat_at,
        created_at: c.started_at,
        updated_at: heartbeat_at,
    }
}

/// Every controller as its two services, by host then binary.
pub fn controller_services(state: &ComputeState) -> ComputeResult<Vec<ComputeService>> {
    let now = now_micros();
    let mut controllers = state.controllers.controllers()?;
    controllers.sort_by(|a, b| (&a.host, &a.id).cmp(&(&b.host, &b.id)));
    Ok(controllers
        .iter()
        .flat_map(|c| CONTROLLER_BINARIES.map(|b| service(c, b, now)))
        .collect())
}

/// Whether `s` is one of [`controller_services`].
pub fn is_controller_service(s: &ComputeService) -> bool {
    CONTROLLER_BINARIES.contains(&s.binary.as_str()) && s.id >= NUMERIC_ID_BASE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::services::is_up;

    fn controller(live: bool) -> Controller {
        Controller {
            id: "c1".into(),
            incarnation: "i".into(),
            host: "ctl-1".into(),
            started_at: 1,
            lease_until: 1_000_000_000,
            live,
            peer_url: None,
            volume_dir: None,
        }
    }

    #[test]
    fn a_live_controller_is_two_up_internal_services_with_stable_ids() {
        let now = 1_000_000_000;
        let a = service(&controller(true), "nova-scheduler", now);
        let b = service(&controller(true), "nova-conductor", now);
        assert!(is_up(&a, now) && is_up(&b, now));
        assert_eq!((a.zone.as_str(), a.host.as_str()), ("internal", "ctl-1"));
        assert_ne!(a.uuid, b.uuid);
        assert_ne!(a.id, b.id);
        assert!(a.id >= NUMERIC_ID_BASE && is_controller_service(&a));
        let again = service(&controller(true), "nova-scheduler", now + 5);
        assert_eq!((again.id, again.uuid), (a.id, a.uuid.clone()));
        assert!(uuid::Uuid::parse_str(&a.uuid).is_ok());
    }

    #[test]
    fn a_controller_whose_lease_ran_out_is_down_at_once() {
        let now = 1_000_000_500;
        let s = service(&controller(false), "nova-conductor", now);
        assert!(!is_up(&s, now));
    }
}
