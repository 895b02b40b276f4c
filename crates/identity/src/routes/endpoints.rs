//! `/v3/endpoints`: where each service answers, per interface and region.
//!
//! Every write is checked against the rest of the catalog before it is
//! stored (known interface, existing service and region, a URL with a
//! scheme), because a bad endpoint does not fail here: it fails later, in
//! every client that reads the catalog. Checks answer 400, as Keystone's
//! do. One exception, kept from Keystone for clients written against v2
//! (Tempest among them): a region named with the legacy `region` field and
//! no `region_id` is created when it does not exist yet, once every other
//! check has passed.

use super::parse_bool;
use crate::error::{IdResult, IdentityError, Json};
use crate::service::Identity;
use crate::views;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use ferrostack_common::ids::new_hex_id;
use ferrostack_identity_types::resources::{EndpointBody, EndpointFields};
use ferrostack_store::identity::{Endpoint, Region};
use http::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The interfaces an endpoint may have.
pub const INTERFACES: &[&str] = &["public", "internal", "admin"];

fn endpoint_json(id: &Identity, e: &Endpoint) -> axum::Json<Value> {
    axum::Json(json!({ "endpoint": views::endpoint(&id.config.public_url, e) }))
}

fn bad(field: &str, why: &str) -> IdentityError {
    IdentityError::BadRequest(format!("Invalid input for field '{field}': {why}"))
}

/// `scheme:rest`, as Keystone's schema demands of endpoint URLs.
fn url_is_valid(url: &str) -> bool {
    match url.split_once(':') {
        Some((scheme, rest)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
                && !rest.is_empty()
        }
        None => false,
    }
}

fn check(id: &Identity, e: &Endpoint) -> IdResult<()> {
    if !INTERFACES.contains(&e.interface.as_str()) {
        return Err(bad(
            "interface",
            "must be one of public, internal or admin.",
        ));
    }
    if e.url.trim().is_empty() || e.url.len() > 2048 || !url_is_valid(&e.url) {
        return Err(bad("url", "a URL with a scheme is required."));
    }
    if id.store.get_service(&e.service_id).is_err() {
        return Err(bad(
            "service_id",
            &format!("service {} does not exist.", e.service_id),
        ));
    }
    if let Some(r) = &e.region_id {
        if id.store.get_region(r).is_err() {
            return Err(bad("region_id", &format!("region {r} does not exist.")));
        }
    }
    Ok(())
}

/// `region_id` wins over the legacy `region` when both are sent.
fn region_of(f: &EndpointFields) -> Option<Option<String>> {
    f.region_id.clone().or_else(|| f.region.clone())
}

/// The region to create for `f`: one named by the legacy `region` alone
/// that does not exist yet.
fn region_to_create(id: &Identity, f: &EndpointFields) -> IdResult<Option<String>> {
    let Some(Some(region)) = f.region.as_ref().filter(|_| f.region_id.is_none()) else {
        return Ok(None);
    };
    if id.store.get_region(region).is_ok() {
        return Ok(None);
    }
    super::regions::check_region_id(region)?;
    Ok(Some(region.clone()))
}

/// Check `endpoint` (its region aside when it is to be created), then
/// create that region.
fn check_and_create_region(
    id: &Identity,
    endpoint: &Endpoint,
    new_region: Option<String>,
) -> IdResult<()> {
    let mut probe = endpoint.clone();
    if new_region.is_some() {
        probe.region_id = None;
    }
    check(id, &probe)?;
    if let Some(region_id) = new_region {
        id.store.create_region(&Region {
            id: region_id.clone(),
            description: String::new(),
            parent_region_id: None,
            extra: Default::default(),
        })?;
        tracing::info!(%region_id, "region created for an endpoint's legacy `region`");
    }
    Ok(())
}

/// `POST /v3/endpoints`.
pub async fn create(
    State(id): State<Arc<Identity>>,
    Json(body): Json<EndpointBody>,
) -> IdResult<impl IntoResponse> {
    let f = body.endpoint;
    let new_region = region_to_create(&id, &f)?;
    let region_id = region_of(&f).flatten();
    let endpoint = Endpoint {
        id: new_hex_id(),
        service_id: f.service_id.ok_or_else(|| bad("service_id", "required."))?,
        interface: f.interface.ok_or_else(|| bad("interface", "required."))?,
        region_id,
        url: f.url.ok_or_else(|| bad("url", "required."))?,
        enabled: f.enabled.unwrap_or(true),
        extra: f.extra,
    };
    check_and_create_region(&id, &endpoint, new_region)?;
    id.store.create_endpoint(&endpoint)?;
    tracing::info!(endpoint_id = %endpoint.id, url = %endpoint.url, "endpoint created");
    Ok((StatusCode::CREATED, endpoint_json(&id, &endpoint)))
}

/// `GET /v3/endpoints` with `interface`, `service_id`, `region_id` and `enabled` filters.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Query(q): Query<HashMap<String, String>>,
) -> IdResult<axum::Json<Value>> {
    let enabled = q
        .get("enabled")
        .map(|v| parse_bool("enabled", v))
        .transpose()?;
    let matches =
        |key: &str, value: Option<&str>| q.get(key).is_none_or(|f| Some(f.as_str()) == value);
    let endpoints: Vec<Endpoint> = id
        .store
        .list_endpoints()?
        .into_iter()
        .filter(|e| matches("interface", Some(&e.interface)))
        .filter(|e| matches("service_id", Some(&e.service_id)))
        .filter(|e| matches("region_id", e.region_id.as_deref()))
        .filter(|e| enabled.is_none_or(|x| x == e.enabled))
        .collect();
    let base = &id.config.public_url;
    Ok(axum::Json(json!({
        "endpoints": endpoints.iter().map(|e| views::endpoint(base, e)).collect::<Vec<_>>(),
        "links": views::collection_links(base, "/v3/endpoints"),
    })))
}

/// `GET /v3/endpoints/{endpoint_id}`.
pub async fn show(
    State(id): State<Arc<Identity>>,
    Path(endpoint_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    Ok(endpoint_json(&id, &id.store.get_endpoint(&endpoint_id)?))
}

/// `PATCH /v3/endpoints/{endpoint_id}`.
pub async fn update(
    State(id): State<Arc<Identity>>,
    Path(endpoint_id): Path<String>,
    Json(body): Json<EndpointBody>,
) -> IdResult<axum::Json<Value>> {
    let f = body.endpoint;
    let mut endpoint = id.store.get_endpoint(&endpoint_id)?;
    let new_region = region_to_create(&id, &f)?;
    if let Some(r) = region_of(&f) {
        endpoint.region_id = r;
    }
    if let Some(s) = f.service_id {
        endpoint.service_id = s;
    }
    if let Some(i) = f.interface {
        endpoint.interface = i;
    }
    if let Some(u) = f.url {
        endpoint.url = u;
    }
    if let Some(e) = f.enabled {
        endpoint.enabled = e;
    }
    for (k, v) in f.extra {
        endpoint.extra.insert(k, v);
    }
    check_and_create_region(&id, &endpoint, new_region)?;
    id.store.update_endpoint(&endpoint)?;
    Ok(endpoint_json(&id, &endpoint))
}

/// `DELETE /v3/endpoints/{endpoint_id}`.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Path(endpoint_id): Path<String>,
) -> IdResult<StatusCode> {
    id.store.delete_endpoint(&endpoint_id)?;
    tracing::info!(endpoint_id, "endpoint deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::url_is_valid;

    #[test]
    fn urls_need_a_scheme_and_a_rest() {
        assert!(url_is_valid("http://10.0.0.1:8774/v2.1"));
        assert!(url_is_valid("https://cloud.example/identity/v3"));
        assert!(!url_is_valid(""));
        assert!(!url_is_valid("10.0.0.1"));
        assert!(!url_is_valid("http:"));
        assert!(!url_is_valid(":8774/v2.1"));
        assert!(!url_is_valid("ht tp://x"));
    }
}
