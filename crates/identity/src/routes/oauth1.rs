//! `/v3/OS-OAUTH1/consumers`: the applications Keystone's OAuth 1.0a
//! delegation knows.
//!
//! Consumers are registered by an admin; create returns the generated
//! secret once, as Keystone does, and the store keeps it sealed with the
//! credential keys (it must be read back to check request signatures, so a
//! hash would not do). The delegation flow that uses them (request token,
//! authorize, access token, a user's access tokens) is not served, like
//! federation: those paths answer 404, as on a Keystone without the
//! extension (docs/compatibility.md).

use crate::error::{IdResult, IdentityError, Json};
use crate::service::Identity;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use ferrostack_common::ids::new_hex_id;
use ferrostack_identity_types::catalog_extras::ConsumerBody;
use ferrostack_store::oauth1::Consumer;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

fn view(base: &str, c: &Consumer) -> Value {
    let mut v = serde_json::Map::new();
    for (k, x) in &c.extra {
        v.insert(k.clone(), x.clone());
    }
    v.insert("id".into(), json!(c.id));
    v.insert("description".into(), json!(c.description));
    v.insert(
        "links".into(),
        json!({"self": format!("{base}/v3/OS-OAUTH1/consumers/{}", c.id)}),
    );
    Value::Object(v)
}

/// `POST /v3/OS-OAUTH1/consumers`: the answer carries the secret, the
/// only time it is shown.
pub async fn create(
    State(id): State<Arc<Identity>>,
    Json(body): Json<ConsumerBody>,
) -> IdResult<impl IntoResponse> {
    let f = body.consumer;
    let consumer_id = new_hex_id();
    let secret = format!("{}{}", new_hex_id(), new_hex_id());
    let c = Consumer {
        sealed_secret: id.seal_credential_blob(&consumer_id, &secret)?,
        id: consumer_id,
        description: f.description.flatten(),
        extra: f.extra.into_iter().collect(),
    };
    id.store.create_consumer(&c)?;
    tracing::info!(consumer_id = %c.id, "OAuth1 consumer created");
    let mut shown = view(&id.config.public_url, &c);
    shown["secret"] = json!(secret);
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "consumer": shown })),
    ))
}

/// `GET /v3/OS-OAUTH1/consumers`.
pub async fn list(State(id): State<Arc<Identity>>) -> IdResult<axum::Json<Value>> {
    let base = &id.config.public_url;
    let consumers: Vec<Value> = id
        .store
        .list_consumers()?
        .iter()
        .map(|c| view(base, c))
        .collect();
    Ok(axum::Json(json!({
        "consumers": consumers,
        "links": crate::views::collection_links(base, "/v3/OS-OAUTH1/consumers"),
    })))
}

/// `GET /v3/OS-OAUTH1/consumers/{consumer_id}` (no secret).
pub async fn show(
    State(id): State<Arc<Identity>>,
    Path(consumer_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    let c = id.store.get_consumer(&consumer_id)?;
    Ok(axum::Json(
        json!({ "consumer": view(&id.config.public_url, &c) }),
    ))
}

/// `PATCH /v3/OS-OAUTH1/consumers/{consumer_id}`: the description and
/// extra attributes change; the secret cannot.
pub async fn update(
    State(id): State<Arc<Identity>>,
    Path(consumer_id): Path<String>,
    Json(body): Json<ConsumerBody>,
) -> IdResult<axum::Json<Value>> {
    let f = body.consumer;
    if f.secret.is_some() {
        return Err(IdentityError::BadRequest(
            "Invalid input for field 'secret': Cannot change consumer secret.".into(),
        ));
    }
    if f.id.as_ref().is_some_and(|i| *i != consumer_id) {
        return Err(IdentityError::BadRequest(
            "Invalid input for field 'id': it cannot be changed.".into(),
        ));
    }
    let mut c = id.store.get_consumer(&consumer_id)?;
    if let Some(description) = f.description {
        c.description = description;
    }
    c.extra.extend(f.extra);
    id.store.update_consumer(&c)?;
    Ok(axum::Json(
        json!({ "consumer": view(&id.config.public_url, &c) }),
    ))
}

/// `DELETE /v3/OS-OAUTH1/consumers/{consumer_id}`.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Path(consumer_id): Path<String>,
) -> IdResult<StatusCode> {
    id.store.delete_consumer(&consumer_id)?;
    tracing::info!(consumer_id, "OAuth1 consumer deleted");
    Ok(StatusCode::NO_CONTENT)
}
