//! `/v2.1/os-quota-class-sets/{id}`: the `default` class is the default
//! quota of every project; other classes are kept (as Nova keeps them) but
//! apply to no project.

use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::ComputeState;
use axum::extract::{Path, State};
use ferrostack_compute_types::quota::{quota_class_shows, UpdateQuotaClassSetBody};
use ferrostack_compute_types::ApiVersion;
use ferrostack_quota::{ResourceMap, COMPUTE};
use serde_json::{json, Map, Value};
use std::sync::Arc;

fn view(v: ApiVersion, id: Option<&str>, limits: ResourceMap) -> Value {
    let mut body = Map::new();
    if let Some(id) = id {
        body.insert("id".into(), json!(id));
    }
    body.extend(
        limits
            .into_iter()
            .filter(|(name, _)| quota_class_shows(v, name))
            .map(|(k, n)| (k, json!(n))),
    );
    json!({ "quota_class_set": body })
}

fn check_class_name(id: &str) -> ComputeResult<()> {
    let len = id.chars().count();
    if (1..=255).contains(&len) {
        Ok(())
    } else {
        Err(ComputeError::BadRequest(format!(
            "quota_class_name has {len} characters; it must have 1 to 255."
        )))
    }
}

/// `GET /v2.1/os-quota-class-sets/{id}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    let limits = state.quotas.class_limits(&COMPUTE, &id)?;
    Ok(axum::Json(view(v, Some(&id), limits)))
}

/// `PUT /v2.1/os-quota-class-sets/{id}`.
pub async fn update(
    State(state): State<Arc<ComputeState>>,
    Version(v): Version,
    Path(id): Path<String>,
    Json(body): Json<UpdateQuotaClassSetBody>,
) -> ComputeResult<axum::Json<Value>> {
    check_class_name(&id)?;
    let changes = body.checked(v, |k| COMPUTE.has(k))?;
    let limits = state.quotas.set_class(&COMPUTE, &id, &changes)?;
    Ok(axum::Json(view(v, None, limits)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The update body read against compute's own quota registry.
    fn parse_update(v: ApiVersion, body: &Value) -> ComputeResult<ResourceMap> {
        Ok(UpdateQuotaClassSetBody::new(body.clone()).checked(v, |k| COMPUTE.has(k))?)
    }

    #[test]
    fn server_groups_are_accepted_before_2_50_and_network_fields_after_are_not() {
        let sg = json!({"quota_class_set": {"server_groups": 3}});
        assert!(parse_update(ApiVersion::new(2, 1), &sg).is_ok());
        assert!(parse_update(ApiVersion::new(2, 50), &sg).is_ok());
        let fip = json!({"quota_class_set": {"floating_ips": 3}});
        assert!(parse_update(ApiVersion::new(2, 49), &fip).is_ok());
        assert!(parse_update(ApiVersion::new(2, 50), &fip).is_err());
    }

    #[test]
    fn force_is_not_a_class_field() {
        let body = json!({"quota_class_set": {"force": true}});
        assert!(parse_update(ApiVersion::new(2, 1), &body).is_err());
    }
}
