//! `/v2.0/availability_zones`: the one zone networks live in, so that
//! `availability_zone_hints` can be checked as Neutron checks them (a hint
//! naming no zone is `AvailabilityZoneNotFound`) and clients that list
//! zones before creating a network find it.
//!
//! One zone because one data plane serves every network; Neutron's
//! default zone name is kept so clients' defaults match.

use crate::error::{NetworkError, NetworkResult};
use crate::query::{text as t, Collection, ListQuery, QueryPairs};
use crate::NetworkState;
use axum::extract::State;
use serde_json::{json, Value};
use std::sync::Arc;

/// The zone every network is in.
pub const ZONE: &str = "nova";

/// The collection for [`ListQuery`].
pub const COLLECTION: Collection = Collection {
    name: "availability_zones",
    singular_title: "AvailabilityZone",
    attributes: &[t("name"), t("resource"), t("state")],
};

/// Check `availability_zone_hints` name zones that exist.
pub fn check_hints(hints: &[String]) -> NetworkResult<()> {
    match hints.iter().find(|h| h.as_str() != ZONE) {
        Some(h) => Err(NetworkError::not_found(
            "AvailabilityZoneNotFound",
            format!("AvailabilityZone {h} could not be found."),
        )),
        None => Ok(()),
    }
}

/// `GET /v2.0/availability_zones`.
pub async fn list(
    State(state): State<Arc<NetworkState>>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    let q = ListQuery::parse(&pairs, &COLLECTION)?;
    let zones = vec![json!({"name": ZONE, "resource": "network", "state": "available"})];
    Ok(axum::Json(q.render(
        zones,
        &state.public_url,
        "/v2.0/availability_zones",
    )?))
}
