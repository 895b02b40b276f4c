//! `/v2.1/images` (to 2.35; 404 from 2.36, as Nova): the images proxy.
//!
//! Nova serves these by calling Glance with the caller's own token, and
//! so does this file: every request becomes a Glance v2 request to the
//! image service's URL carrying the same `X-Auth-Token`. The image
//! service's rules (what the caller may see, protected images, property
//! limits, reserved properties) are then the ones that apply, and a
//! delete removes the image's data as an image-service delete does;
//! reading the image store directly was rejected for those reasons.
//!
//! Nova's view of an image: `status` in capitals with `queued` as
//! `SAVING` and `killed` as `ERROR`, `progress`, `minRam`/`minDisk`, the
//! size as `OS-EXT-IMG-SIZE:size`, the custom properties as `metadata`,
//! and the server a snapshot was taken of (`instance_uuid`) as `server`.
//! Lists are filtered, ordered (newest first) and paged here, over every
//! image Glance shows the caller: Glance v2 has no filter for most of
//! Nova's (`server`, `type`, `minRam`, `minDisk`, `changes-since`).

use super::{Caller, QueryPairs};
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::ComputeState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_compute_types::body::{self, python_repr};
use http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// Glance's own image fields; every other key is a custom property,
/// which Nova shows as `metadata`.
const CORE: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "owner",
    "protected",
    "os_hidden",
    "disk_format",
    "container_format",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "min_disk",
    "min_ram",
    "tags",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "locations",
    "direct_url",
    "stores",
];

/// Nova's `metadata_items` quota default, which it applies to images.
const MAX_METADATA: usize = 128;

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new)
}

fn image_not_found() -> ComputeError {
    ComputeError::NotFound("Image not found.".into())
}

/// One Glance request with the caller's token: the status and JSON body.
async fn glance(
    state: &ComputeState,
    headers: &HeaderMap,
    method: Method,
    path: &str,
    patch: Option<Value>,
) -> ComputeResult<(StatusCode, Value)> {
    let token = headers
        .get("x-auth-token")
        .and_then(|t| t.to_str().ok())
        .unwrap_or_default();
    let url = format!("{}{path}", state.image_url().trim_end_matches('/'));
    let mut req = client().request(method, &url).header("X-Auth-Token", token);
    if let Some(p) = patch {
        req = req
            .header(
                "Content-Type",
                "application/openstack-images-v2.1-json-patch",
            )
            .body(p.to_string());
    }
    let resp = req
        .send()
        .await
        .map_err(|e| ComputeError::Internal(format!("image service unreachable: {e}")))?;
    let status = resp.status();
    let body = resp.bytes().await.unwrap_or_default();
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Ok((status, value))
}

/// Glance's refusal in Nova's words.
fn refused(status: StatusCode, body: &Value) -> ComputeError {
    match status {
        StatusCode::NOT_FOUND => image_not_found(),
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => {
            ComputeError::Forbidden("Not authorized for image.".into())
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            ComputeError::Forbidden("Quota exceeded for metadata items of the image.".into())
        }
        StatusCode::BAD_REQUEST | StatusCode::CONFLICT => ComputeError::BadRequest(format!(
            "The image service refused the change: {}",
            glance_message(body)
        )),
        other => ComputeError::Internal(format!(
            "the image service answered {other}: {}",
            glance_message(body)
        )),
    }
}

fn glance_message(body: &Value) -> String {
    body.get("message")
        .or_else(|| body.pointer("/error/message"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

async fn get_image(state: &ComputeState, h: &HeaderMap, id: &str) -> ComputeResult<Value> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(image_not_found());
    }
    match glance(state, h, Method::GET, &format!("/v2/images/{id}"), None).await? {
        (StatusCode::OK, img) => Ok(img),
        (s, b) => Err(refused(s, &b)),
    }
}

/// Every image Glance shows the caller, following its paging.
async fn all_images(state: &ComputeState, h: &HeaderMap) -> ComputeResult<Vec<Value>> {
    let mut out = Vec::new();
    let mut path = "/v2/images?limit=1000".to_string();
    loop {
        let (s, b) = glance(state, h, Method::GET, &path, None).await?;
        if s != StatusCode::OK {
            return Err(refused(s, &b));
        }
        let page = b["images"].as_array().cloned().unwrap_or_default();
        let done = page.is_empty();
        out.extend(page);
        match b.get("next").and_then(Value::as_str) {
            Some(next) if !done => path = next.to_string(),
            _ => return Ok(out),
        }
    }
}

fn properties(img: &Value) -> Map<String, Value> {
    img.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !CORE.contains(&k.as_str()))
                .map(|(k, v)| {
                    let s = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    (k.clone(), json!(s))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn links(state: &ComputeState, kind: &str, id: &str) -> Value {
    let base = &state.public_url;
    json!([
        {"rel": "self", "href": format!("{base}/v2.1/{kind}/{id}")},
        {"rel": "bookmark", "href": format!("{base}/{kind}/{id}")},
    ])
}

fn view(state: &ComputeState, img: &Value, detailed: bool) -> Value {
    let id = img["id"].as_str().unwrap_or_default();
    let mut l = links(state, "images", id);
    if let Value::Array(a) = &mut l {
        a.push(json!({
            "rel": "alternate",
            "type": "application/vnd.openstack.image",
            "href": format!("{}/images/{id}", state.image_url().trim_end_matches('/')),
        }));
    }
    if !detailed {
        return json!({"id": id, "name": img["name"], "links": l});
    }
    let glance_status = img["status"].as_str().unwrap_or_default();
    let (status, progress) = match glance_status {
        "active" => ("ACTIVE", 100),
        "queued" => ("SAVING", 25),
        "saving" => ("SAVING", 50),
        "importing" | "uploading" => ("SAVING", 50),
        "killed" => ("ERROR", 0),
        "deleted" | "pending_delete" => ("DELETED", 0),
        _ => ("UNKNOWN", 0),
    };
    let metadata = properties(img);
    let mut m = json!({
        "id": id,
        "name": img["name"],
        "status": status,
        "progress": progress,
        "minRam": img["min_ram"].as_i64().unwrap_or(0),
        "minDisk": img["min_disk"].as_i64().unwrap_or(0),
        "metadata": metadata,
        "created": img["created_at"],
        "updated": img["updated_at"],
        "OS-EXT-IMG-SIZE:size": img["size"],
        "links": l,
    });
    if let Some(server) = metadata.get("instance_uuid").and_then(Value::as_str) {
        m["server"] = json!({"id": server, "links": links(state, "servers", server)});
    }
    m
}

/// Whether `img` passes Nova's list filters in `q`.
fn passes(img: &Value, q: &QueryPairs) -> bool {
    let props = properties(img);
    let prop = |k: &str| {
        props
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let at_least = |field: &str, param: &str| {
        q.get(param)
            .and_then(|v| v.parse::<i64>().ok())
            .is_none_or(|min| img[field].as_i64().unwrap_or(0) >= min)
    };
    q.get("name")
        .is_none_or(|n| img["name"].as_str() == Some(n))
        && q.get("status")
            .is_none_or(|s| img["status"].as_str().unwrap_or("").eq_ignore_ascii_case(s))
        && q.get("server").is_none_or(|s| {
            prop("instance_uuid") == s.trim_end_matches('/').rsplit('/').next().unwrap_or(s)
        })
        && q.get("type").is_none_or(|t| prop("image_type") == t)
        && at_least("min_ram", "minRam")
        && at_least("min_disk", "minDisk")
        && q.get("changes-since").is_none_or(|since| {
            img["updated_at"].as_str().unwrap_or("") >= since_iso(since).as_str()
        })
}

/// `changes-since` as comparable with Glance's `...Z` times.
fn since_iso(raw: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        })
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f")
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        })
        .unwrap_or_else(|_| raw.to_string())
}

async fn list_impl(
    state: &ComputeState,
    h: &HeaderMap,
    q: &QueryPairs,
    detailed: bool,
) -> ComputeResult<axum::Json<Value>> {
    let page = super::paging(q)?;
    let mut images: Vec<Value> = all_images(state, h)
        .await?
        .into_iter()
        .filter(|i| passes(i, q))
        .collect();
    images.sort_by(|a, b| {
        b["created_at"]
            .as_str()
            .cmp(&a["created_at"].as_str())
            .then_with(|| b["id"].as_str().cmp(&a["id"].as_str()))
    });
    let start = match &page.marker {
        None => 0,
        Some(m) => {
            images
                .iter()
                .position(|i| i["id"].as_str() == Some(m.as_str()))
                .ok_or_else(|| ComputeError::BadRequest(format!("marker [{m}] not found")))?
                + 1
        }
    };
    let chosen: Vec<&Value> = images.iter().skip(start).take(page.limit).collect();
    let items: Vec<Value> = chosen.iter().map(|i| view(state, i, detailed)).collect();
    let mut out = json!({ "images": items });
    if chosen.len() == page.limit && start + page.limit < images.len() {
        if let Some(last) = chosen.last().and_then(|i| i["id"].as_str()) {
            let path = if detailed { "images/detail" } else { "images" };
            out["images_links"] = super::next_link(state, path, q, page.limit, last);
        }
    }
    Ok(axum::Json(out))
}

/// `GET /v2.1/images`.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    headers: HeaderMap,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    list_impl(&state, &headers, &q, false).await
}

/// `GET /v2.1/images/detail`.
pub async fn list_detail(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    headers: HeaderMap,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    list_impl(&state, &headers, &q, true).await
}

/// `GET /v2.1/images/{image_id}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let img = get_image(&state, &headers, &id).await?;
    Ok(axum::Json(json!({ "image": view(&state, &img, true) })))
}

/// `DELETE /v2.1/images/{image_id}`: 204.
pub async fn delete(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ComputeResult<Response> {
    super::removed_at(v, 36)?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(image_not_found());
    }
    let path = format!("/v2/images/{id}");
    match glance(&state, &headers, Method::DELETE, &path, None).await? {
        (s, _) if s.is_success() => Ok(StatusCode::NO_CONTENT.into_response()),
        (s, b) => Err(refused(s, &b)),
    }
}

/// Nova's metadata body: `{"<key>": {k: string}}`, keys 1-255 characters,
/// values at most 255.
fn read_metadata(sent: &Value, key: &str) -> ComputeResult<BTreeMap<String, String>> {
    let inner = body::exactly(sent, key)?;
    let mut out = BTreeMap::new();
    for (k, v) in inner {
        let n = k.chars().count();
        if n == 0 || n > 255 {
            return Err(ComputeError::BadRequest(format!(
                "Invalid input for field/attribute {key}. Value: {}. Additional properties are not allowed",
                python_repr(&Value::Object(inner.clone()))
            )));
        }
        let s = body::string(&format!("{key}/{k}"), Some(v), 255)?.unwrap_or_default();
        out.insert(k.clone(), s);
    }
    Ok(out)
}

/// Sets the image's custom properties to `after` (one Glance patch).
async fn write_properties(
    state: &ComputeState,
    h: &HeaderMap,
    id: &str,
    before: &Map<String, Value>,
    after: &BTreeMap<String, String>,
) -> ComputeResult<BTreeMap<String, String>> {
    if after.len() > MAX_METADATA {
        return Err(ComputeError::Forbidden(
            "Quota exceeded for metadata items of the image.".into(),
        ));
    }
    let mut ops = Vec::new();
    for k in before.keys().filter(|k| !after.contains_key(*k)) {
        ops.push(json!({"op": "remove", "path": format!("/{}", pointer(k))}));
    }
    for (k, v) in after {
        if before.get(k).and_then(Value::as_str) != Some(v.as_str()) {
            let op = if before.contains_key(k) {
                "replace"
            } else {
                "add"
            };
            ops.push(json!({"op": op, "path": format!("/{}", pointer(k)), "value": v}));
        }
    }
    if !ops.is_empty() {
        let path = format!("/v2/images/{id}");
        let (s, b) = glance(state, h, Method::PATCH, &path, Some(Value::Array(ops))).await?;
        if !s.is_success() {
            return Err(refused(s, &b));
        }
    }
    Ok(after.clone())
}

/// A key as a JSON pointer segment.
fn pointer(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

fn current(props: &Map<String, Value>) -> BTreeMap<String, String> {
    props
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

/// `GET /v2.1/images/{image_id}/metadata`.
pub async fn metadata_list(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let img = get_image(&state, &headers, &id).await?;
    Ok(axum::Json(json!({ "metadata": properties(&img) })))
}

/// `PUT /v2.1/images/{image_id}/metadata`: replaces every custom property.
pub async fn metadata_replace(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(sent): Json<Value>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let new = read_metadata(&sent, "metadata")?;
    let img = get_image(&state, &headers, &id).await?;
    let out = write_properties(&state, &headers, &id, &properties(&img), &new).await?;
    Ok(axum::Json(json!({ "metadata": out })))
}

/// `POST /v2.1/images/{image_id}/metadata`: merges into the properties.
pub async fn metadata_merge(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(sent): Json<Value>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let new = read_metadata(&sent, "metadata")?;
    let img = get_image(&state, &headers, &id).await?;
    let before = properties(&img);
    let mut after = current(&before);
    after.extend(new);
    let out = write_properties(&state, &headers, &id, &before, &after).await?;
    Ok(axum::Json(json!({ "metadata": out })))
}

/// `GET /v2.1/images/{image_id}/metadata/{key}`.
pub async fn metadata_show(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let img = get_image(&state, &headers, &id).await?;
    let props = properties(&img);
    let value = props
        .get(&key)
        .ok_or_else(|| ComputeError::NotFound("Image metadata item not found.".into()))?;
    Ok(axum::Json(json!({ "meta": { key: value } })))
}

/// `PUT /v2.1/images/{image_id}/metadata/{key}`: `{"meta": {key: value}}`.
pub async fn metadata_put(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
    Json(sent): Json<Value>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let meta = read_metadata(&sent, "meta")?;
    if meta.len() > 1 {
        return Err(ComputeError::BadRequest(
            "Request body contains too many items".into(),
        ));
    }
    let Some(value) = meta.get(&key) else {
        return Err(ComputeError::BadRequest(
            "Request body and URI mismatch".into(),
        ));
    };
    let img = get_image(&state, &headers, &id).await?;
    let before = properties(&img);
    let mut after = current(&before);
    after.insert(key.clone(), value.clone());
    write_properties(&state, &headers, &id, &before, &after).await?;
    Ok(axum::Json(json!({ "meta": { key: value } })))
}

/// `DELETE /v2.1/images/{image_id}/metadata/{key}`: 204.
pub async fn metadata_delete(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    headers: HeaderMap,
    Path((id, key)): Path<(String, String)>,
) -> ComputeResult<Response> {
    super::removed_at(v, 36)?;
    let img = get_image(&state, &headers, &id).await?;
    let before = properties(&img);
    if !before.contains_key(&key) {
        return Err(ComputeError::NotFound(
            "Image metadata item not found.".into(),
        ));
    }
    let mut after = current(&before);
    after.remove(&key);
    write_properties(&state, &headers, &id, &before, &after).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_properties_are_the_non_core_keys() {
        let img = json!({"id": "x", "name": "n", "min_ram": 0, "os_distro": "cirros", "hw_x": 1});
        let p = properties(&img);
        assert_eq!(p.len(), 2);
        assert_eq!(p["hw_x"], json!("1"));
    }

    #[test]
    fn keys_become_json_pointer_segments() {
        assert_eq!(pointer("a/b~c"), "a~1b~0c");
    }
}
