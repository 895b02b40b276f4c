//! Glance tasks as the API shows them: the views of `/v2/tasks`,
//! `/v2/tasks/{id}` and `/v2/images/{id}/tasks`, and the task schemas.
//!
//! Tasks are made by imports ([`crate::interop`]); the legacy
//! `POST /v2/tasks` import from a URL is refused (400) because this cloud
//! downloads nothing ([`crate::routes::tasks`]).

use ferrostack_common::time::iso_seconds;
use ferrostack_store::image::ImageTask;
use serde_json::{json, Value};

/// Task statuses.
pub const STATUSES: &[&str] = &["pending", "processing", "success", "failure"];
/// Task types.
pub const TYPES: &[&str] = &["import", "api_image_import"];

/// A task as in a list: no input, result or message.
pub fn stub(task: &ImageTask) -> Value {
    let mut v = json!({
        "id": task.id,
        "type": task.task_type,
        "status": task.status,
        "owner": task.owner,
        "created_at": iso_seconds(task.created_at),
        "updated_at": iso_seconds(task.updated_at),
        "self": format!("/v2/tasks/{}", task.id),
        "schema": "/v2/schemas/task",
    });
    if let Some(at) = task.expires_at {
        v["expires_at"] = json!(iso_seconds(at));
    }
    v
}

/// A task in full.
pub fn full(task: &ImageTask) -> Value {
    let mut v = stub(task);
    v["input"] = task.input.clone();
    v["result"] = task.result.clone().unwrap_or(Value::Null);
    v["message"] = json!(task.message);
    v["image_id"] = json!(task.image_id);
    v["request_id"] = json!(task.request_id);
    v["user_id"] = json!(task.user_id);
    v
}

/// `/v2/schemas/task`.
pub fn task_schema() -> Value {
    json!({
        "name": "task",
        "properties": {
            "id": {"type": "string", "description": "An identifier for the task",
                "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"},
            "type": {"type": "string", "description": "The type of task represented by this content", "enum": ["import"]},
            "status": {"type": "string", "description": "The current status of this task", "enum": STATUSES},
            "input": {"type": ["null", "object"], "description": "The parameters required by task, JSON blob"},
            "result": {"type": ["null", "object"], "description": "The result of current task, JSON blob"},
            "owner": {"type": ["null", "string"], "description": "An identifier for the owner of this task"},
            "message": {"type": "string", "description": "Human-readable informative message only included when appropriate (usually on failure)"},
            "image_id": {"type": "string", "description": "Image associated with the task"},
            "request_id": {"type": "string", "description": "Human-readable informative request-id"},
            "user_id": {"type": "string", "description": "User associated with the task"},
            "expires_at": {"type": ["null", "string"], "description": "Datetime when this resource would be subject to removal"},
            "created_at": {"type": "string", "description": "Datetime when this resource was created"},
            "updated_at": {"type": "string", "description": "Datetime when this resource was updated"},
            "self": {"type": "string"},
            "schema": {"type": "string"}
        }
    })
}

/// `/v2/schemas/tasks`.
pub fn tasks_schema() -> Value {
    let mut item = task_schema();
    if let Some(props) = item["properties"].as_object_mut() {
        for hidden in ["input", "result", "message"] {
            props.remove(hidden);
        }
    }
    json!({
        "name": "tasks",
        "properties": {
            "tasks": {"type": "array", "items": item},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"}
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"}
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_hide_what_only_the_full_view_shows() {
        let task = ImageTask {
            id: "t".into(),
            task_type: "api_image_import".into(),
            status: "success".into(),
            owner: Some("p".into()),
            image_id: Some("i".into()),
            request_id: Some("req-1".into()),
            user_id: Some("u".into()),
            input: json!({"image_id": "i"}),
            result: Some(json!({"image_id": "i"})),
            message: String::new(),
            expires_at: Some(0),
            created_at: 0,
            updated_at: 0,
        };
        let s = stub(&task);
        assert!(s.get("input").is_none() && s.get("result").is_none());
        assert_eq!(s["expires_at"], "1970-01-01T00:00:00Z");
        let f = full(&task);
        assert_eq!(f["request_id"], "req-1");
        assert_eq!(f["result"]["image_id"], "i");
    }
}
