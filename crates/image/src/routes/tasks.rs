//! `/v2/tasks` and `/v2/tasks/{task_id}`: Glance's tasks API, admin-only
//! as Glance's default `tasks_api_access` policy makes it (the route
//! table's rule), and the task schemas.
//!
//! `POST /v2/tasks` (the legacy `import` from `input.import_from`) is
//! checked, then refused with 400 as a Glance refuses an `import_from`
//! that does not pass its URI filtering: this cloud downloads nothing, so
//! no URI passes. Nothing is created. `DELETE` is 405, as in Glance.

use super::QueryPairs;
use crate::error::{ImageError, ImageResult};
use crate::tasks::{full, stub, STATUSES, TYPES};
use crate::{ImageState, Json};
use axum::extract::{Path, State};
use ferrostack_common::page::{CountSyntax, LinkQuery, Paging};
use ferrostack_store::image::ImageTask;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

/// Glance's `limit` for tasks: 25 by default, at most 1000.
const PAGING: Paging = Paging {
    syntax: CountSyntax::NonNegative,
    default_limit: 25,
    max_limit: 1000,
};
const NEXT_LINK: LinkQuery = LinkQuery {
    keep_limit: false,
    unreserved: b"-_.~:",
};
const SORT_KEYS: &[&str] = &["id", "type", "status", "created_at", "updated_at"];

fn bad(message: String) -> ImageError {
    ImageError::BadRequest(message)
}

fn sort_value(task: &ImageTask, key: &str) -> (String, i64) {
    match key {
        "id" => (task.id.clone(), 0),
        "type" => (task.task_type.clone(), 0),
        "status" => (task.status.clone(), 0),
        "updated_at" => (String::new(), task.updated_at),
        _ => (String::new(), task.created_at),
    }
}

/// `GET /v2/tasks`: filters `type` and `status`, `sort_key`/`sort_dir`
/// (`created_at` descending by default), `limit`/`marker`.
pub async fn list(
    State(state): State<Arc<ImageState>>,
    q: QueryPairs,
) -> ImageResult<axum::Json<Value>> {
    let paging = PAGING.read(q.get("limit"), q.get("marker"), |_| {
        bad("limit param must be positive".into())
    })?;
    let key = q.get("sort_key").unwrap_or("created_at");
    if !SORT_KEYS.contains(&key) {
        return Err(bad(format!("Invalid sort key: {key}.")));
    }
    let descending = match q.get("sort_dir").unwrap_or("desc") {
        "desc" => true,
        "asc" => false,
        other => return Err(bad(format!("Invalid sort direction: {other}"))),
    };
    let status = q.get("status");
    if let Some(s) = status.filter(|s| !STATUSES.contains(s)) {
        return Err(bad(format!("Invalid status value: {s}")));
    }
    let kind = q.get("type");
    if let Some(t) = kind.filter(|t| !TYPES.contains(t)) {
        return Err(bad(format!("Invalid type value: {t}")));
    }
    let mut found: Vec<ImageTask> = state
        .images
        .list_tasks()?
        .into_iter()
        .filter(|t| status.is_none_or(|s| t.status == s))
        .filter(|t| kind.is_none_or(|k| t.task_type == k))
        .collect();
    found.sort_by(|a, b| {
        let o = sort_value(a, key)
            .cmp(&sort_value(b, key))
            .then_with(|| a.id.cmp(&b.id));
        if descending {
            o.reverse()
        } else {
            o
        }
    });
    let page = paging.apply(
        found,
        |t, marker| t.id == marker,
        |marker| bad(format!("Invalid marker. Task {marker} could not be found.")),
    )?;
    let mut body = json!({
        "tasks": page.items.iter().map(stub).collect::<Vec<_>>(),
        "schema": "/v2/schemas/tasks",
        "first": "/v2/tasks",
    });
    if let Some(last) = page.items.last().filter(|_| page.more) {
        let query = NEXT_LINK.next(&q.0, paging.limit, &last.id);
        body["next"] = json!(format!("/v2/tasks?{query}"));
    }
    Ok(axum::Json(body))
}

/// `GET /v2/tasks/{task_id}`.
pub async fn show(
    State(state): State<Arc<ImageState>>,
    Path(id): Path<String>,
) -> ImageResult<axum::Json<Value>> {
    let task = state
        .images
        .get_task(&id)?
        .ok_or_else(|| ImageError::NotFound(format!("Failed to find task {id}")))?;
    Ok(axum::Json(full(&task)))
}

/// `POST /v2/tasks`: checked, then refused (nothing is downloaded here).
pub async fn create(Json(body): Json<Value>) -> ImageResult<StatusCode> {
    let Some(body) = body.as_object() else {
        return Err(bad("Body expected in request: a task object.".into()));
    };
    let kind = body.get("type").and_then(Value::as_str).unwrap_or("");
    if kind != "import" {
        return Err(bad(format!("Invalid type value: {kind}")));
    }
    let Some(input) = body.get("input").and_then(Value::as_object) else {
        return Err(bad("Task input is required: an object.".into()));
    };
    for field in ["import_from", "import_from_format", "image_properties"] {
        if !input.contains_key(field) {
            return Err(bad(format!("Input does not contain '{field}' field")));
        }
    }
    Err(bad(
        "URI for import does not pass filtering: this cloud does not download image data \
         from URLs; stage the data and import it with 'glance-direct' instead."
            .into(),
    ))
}

/// `DELETE /v2/tasks/{task_id}`: 405, as Glance answers.
pub async fn delete() -> ImageError {
    ImageError::Status(
        StatusCode::METHOD_NOT_ALLOWED,
        "This operation is currently not permitted on Glance Tasks.".into(),
    )
}

/// `GET /v2/schemas/task`.
pub async fn task_schema() -> axum::Json<Value> {
    axum::Json(crate::tasks::task_schema())
}

/// `GET /v2/schemas/tasks`.
pub async fn tasks_schema() -> axum::Json<Value> {
    axum::Json(crate::tasks::tasks_schema())
}
