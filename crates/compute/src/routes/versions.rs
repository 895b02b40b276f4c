//! Version discovery: `GET /` lists the v2.0 and v2.1 APIs, `GET /v2.1`
//! describes v2.1 with the microversion range clients negotiate from.

use crate::microversion::{MAX, MIN};
use crate::ComputeState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

fn v21(base: &str) -> Value {
    json!({
        "id": "v2.1",
        "status": "CURRENT",
        "version": MAX.to_string(),
        "min_version": MIN.to_string(),
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": format!("{base}/v2.1/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}],
    })
}

/// `GET /`.
pub async fn root(State(state): State<Arc<ComputeState>>) -> Json<Value> {
    let base = state.public_url.as_str();
    let v2 = json!({"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
        "updated": "2011-01-21T11:33:21Z", "links": [{"rel": "self", "href": format!("{base}/v2/")}]});
    Json(json!({"versions": [v2, v21(base)]}))
}

/// `GET /v2.1` and `GET /v2.1/`.
pub async fn v2_1(State(state): State<Arc<ComputeState>>) -> Json<Value> {
    Json(json!({"version": v21(&state.public_url)}))
}
