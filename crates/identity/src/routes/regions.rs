//! `/v3/regions`: the catalog's regions.
//!
//! A region's id is its name (`RegionOne`) and is chosen by the operator:
//! `POST` takes it from the body (or generates one), `PUT /v3/regions/{id}`
//! creates with the id in the path. Regions form a tree through
//! `parent_region_id`; an update that would make a region its own ancestor
//! is refused, so walking up the tree always ends.

use crate::error::{IdResult, IdentityError, Json};
use crate::service::Identity;
use crate::views;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use ferrostack_common::ids::new_hex_id;
use ferrostack_identity_types::resources::{RegionBody, RegionFields};
use ferrostack_store::identity::{ListFilter, Region};
use ferrostack_store::StoreError;
use http::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

fn region_json(id: &Identity, r: &Region) -> axum::Json<Value> {
    axum::Json(json!({ "region": views::region(&id.config.public_url, r) }))
}

pub(super) fn check_region_id(region_id: &str) -> IdResult<()> {
    if region_id.is_empty() || region_id.chars().count() > 255 || region_id.contains('/') {
        return Err(IdentityError::BadRequest(
            "Invalid input for field 'id': a region id is 1-255 characters without '/'.".into(),
        ));
    }
    Ok(())
}

/// The parent must exist and must not have `region_id` among its ancestors
/// (or be it).
fn check_parent(id: &Identity, region_id: &str, parent: &str) -> IdResult<()> {
    let mut cursor = Some(parent.to_string());
    let mut hops = 0;
    while let Some(current) = cursor {
        if current == region_id {
            return Err(IdentityError::BadRequest(format!(
                "Region {region_id} cannot have {parent} as parent: that would make a cycle."
            )));
        }
        cursor = id.store.get_region(&current)?.parent_region_id;
        hops += 1;
        if hops > 64 {
            return Err(IdentityError::BadRequest(
                "The region hierarchy is too deep.".into(),
            ));
        }
    }
    Ok(())
}

fn insert(id: &Identity, region_id: String, f: RegionFields) -> IdResult<Region> {
    check_region_id(&region_id)?;
    let parent_region_id = f.parent_region_id.flatten();
    if let Some(parent) = &parent_region_id {
        check_parent(id, &region_id, parent)?;
    }
    let region = Region {
        id: region_id,
        description: f.description.unwrap_or_default(),
        parent_region_id,
        extra: f.extra,
    };
    id.store.create_region(&region)?;
    tracing::info!(region_id = %region.id, "region created");
    Ok(region)
}

/// `POST /v3/regions`: the id comes from the body or is generated.
pub async fn create(
    State(id): State<Arc<Identity>>,
    Json(body): Json<RegionBody>,
) -> IdResult<impl IntoResponse> {
    let mut f = body.region;
    let region_id = f.id.take().unwrap_or_else(new_hex_id);
    let region = insert(&id, region_id, f)?;
    Ok((StatusCode::CREATED, region_json(&id, &region)))
}

/// `PUT /v3/regions/{region_id}`: create a region with this id.
pub async fn create_with_id(
    State(id): State<Arc<Identity>>,
    Path(region_id): Path<String>,
    Json(body): Json<RegionBody>,
) -> IdResult<impl IntoResponse> {
    let mut f = body.region;
    if f.id.take().is_some_and(|b| b != region_id) {
        return Err(IdentityError::BadRequest(
            "The region id in the body differs from the one in the URL.".into(),
        ));
    }
    let region = insert(&id, region_id, f)?;
    Ok((StatusCode::CREATED, region_json(&id, &region)))
}

/// `GET /v3/regions` with the `parent_region_id` filter.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Query(q): Query<HashMap<String, String>>,
) -> IdResult<axum::Json<Value>> {
    let regions = id.store.list_regions(&ListFilter {
        parent_id: q.get("parent_region_id").cloned(),
        ..Default::default()
    })?;
    let base = &id.config.public_url;
    Ok(axum::Json(json!({
        "regions": regions.iter().map(|r| views::region(base, r)).collect::<Vec<_>>(),
        "links": views::collection_links(base, "/v3/regions"),
    })))
}

/// `GET /v3/regions/{region_id}`.
pub async fn show(
    State(id): State<Arc<Identity>>,
    Path(region_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    Ok(region_json(&id, &id.store.get_region(&region_id)?))
}

/// `PATCH /v3/regions/{region_id}`.
pub async fn update(
    State(id): State<Arc<Identity>>,
    Path(region_id): Path<String>,
    Json(body): Json<RegionBody>,
) -> IdResult<axum::Json<Value>> {
    let f = body.region;
    let mut region = id.store.get_region(&region_id)?;
    if f.id.as_ref().is_some_and(|b| *b != region_id) {
        return Err(IdentityError::BadRequest(
            "A region's id cannot change.".into(),
        ));
    }
    if let Some(d) = f.description {
        region.description = d;
    }
    if let Some(parent) = f.parent_region_id {
        if let Some(p) = &parent {
            check_parent(&id, &region_id, p)?;
        }
        region.parent_region_id = parent;
    }
    for (k, v) in f.extra {
        region.extra.insert(k, v);
    }
    id.store.update_region(&region)?;
    Ok(region_json(&id, &region))
}

/// `DELETE /v3/regions/{region_id}`: refused while endpoints or child regions use it.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Path(region_id): Path<String>,
) -> IdResult<StatusCode> {
    id.store.delete_region(&region_id).map_err(|e| match e {
        StoreError::Invalid(m) => IdentityError::Conflict(m),
        other => other.into(),
    })?;
    tracing::info!(region_id, "region deleted");
    Ok(StatusCode::NO_CONTENT)
}
