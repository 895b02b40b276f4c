//! Version discovery: `GET /` (300 Multiple Choices) and `GET /v3`.

use crate::service::Identity;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

fn v3(base: &str) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{base}/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

/// `GET /`: the versions served.
pub async fn versions(State(id): State<Arc<Identity>>) -> Response {
    let base = &id.config.public_url;
    (
        StatusCode::MULTIPLE_CHOICES,
        Json(json!({"versions": {"values": [v3(base)]}})),
    )
        .into_response()
}

/// `GET /v3`: this version.
pub async fn version_v3(State(id): State<Arc<Identity>>) -> Json<Value> {
    Json(json!({ "version": v3(&id.config.public_url) }))
}
