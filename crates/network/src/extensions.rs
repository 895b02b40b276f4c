//! `GET /v2.0/extensions`: the API extensions served, so clients that
//! probe for `quotas` or `quota_details` before using them find them.

use crate::error::{NetworkError, NetworkResult};
use axum::extract::Path;
use axum::Json;
use http::StatusCode;
use serde_json::{json, Value};

/// (alias, name, description, updated) of every extension served.
const EXTENSIONS: &[(&str, &str, &str, &str)] = &[
    (
        "quotas",
        "Quota management support",
        "Expose functions for quotas management per project",
        "2012-07-29T10:00:00-00:00",
    ),
    (
        "quota_details",
        "Quota details management support",
        "Expose functions for quotas usage statistics per project",
        "2017-02-10T10:00:00-00:00",
    ),
    (
        "quota-check-limit",
        "Quota engine limit check",
        "Support for checking the resource usage before applying a new quota limit",
        "2023-05-09T10:00:00-00:00",
    ),
];

fn view(e: &(&str, &str, &str, &str)) -> Value {
    json!({"alias": e.0, "name": e.1, "description": e.2, "updated": e.3, "links": []})
}

/// `GET /v2.0/extensions`.
pub async fn list() -> Json<Value> {
    Json(json!({"extensions": EXTENSIONS.iter().map(view).collect::<Vec<_>>()}))
}

/// `GET /v2.0/extensions/{alias}`.
pub async fn show(Path(alias): Path<String>) -> NetworkResult<Json<Value>> {
    EXTENSIONS
        .iter()
        .find(|e| e.0 == alias)
        .map(|e| Json(json!({"extension": view(e)})))
        .ok_or_else(|| {
            NetworkError::new(
                StatusCode::NOT_FOUND,
                "HTTPNotFound",
                format!("Extension with alias {alias} does not exist"),
            )
        })
}
