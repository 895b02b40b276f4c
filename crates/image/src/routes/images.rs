//! `/v2/images` and `/v2/images/{image_id}`: list, create, show, update
//! (JSON patch) and delete.

use super::{load_owned, load_visible, patch, Caller, QueryPairs};
use crate::error::{ImageError, ImageResult};
use crate::model::{self, is_owner, set_attribute, view, Op};
use crate::{ImageState, Json};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_common::page::{CountSyntax, LinkQuery, Paging};
use ferrostack_common::time::now_micros;
use ferrostack_policy::AuthContext;
use ferrostack_store::image::Image;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub use ferrostack_image_types::PATCH_MEDIA_TYPE;

/// How Glance reads `limit`: any non-negative integer, 25 by default, at
/// most 1000.
const PAGING: Paging = Paging {
    syntax: CountSyntax::NonNegative,
    default_limit: 25,
    max_limit: 1000,
};
/// How Glance writes its `next` link: the request's filters, then the new
/// `marker` and `limit`.
const NEXT_LINK: LinkQuery = LinkQuery {
    keep_limit: false,
    unreserved: b"-_.~:",
};
const SORT_KEYS: &[&str] = &[
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "id",
    "created_at",
    "updated_at",
    "visibility",
    "owner",
    "min_disk",
    "min_ram",
    "virtual_size",
];
/// Query parameters that are not property filters.
const KNOWN_PARAMS: &[&str] = &[
    "limit",
    "marker",
    "sort_key",
    "sort_dir",
    "sort",
    "name",
    "status",
    "visibility",
    "owner",
    "tag",
    "disk_format",
    "container_format",
    "member_status",
    "size_min",
    "size_max",
    "protected",
    "os_hidden",
    "id",
    "checksum",
    "os_hash_value",
];

fn sort_value(image: &Image, key: &str) -> Value {
    match key {
        "name" => json!(image.name),
        "status" => json!(image.status),
        "container_format" => json!(image.container_format),
        "disk_format" => json!(image.disk_format),
        "size" => json!(image.size),
        "id" => json!(image.id),
        "created_at" => json!(image.created_at),
        "updated_at" => json!(image.updated_at),
        "visibility" => json!(image.visibility),
        "owner" => json!(image.owner),
        "min_disk" => json!(image.min_disk),
        "min_ram" => json!(image.min_ram),
        "virtual_size" => json!(image.virtual_size),
        _ => Value::Null,
    }
}

fn cmp_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        // Nulls first, as SQL sorts them ascending.
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// Sort keys and directions from `sort_key`/`sort_dir` or `sort=k:dir,...`.
fn sort_spec(q: &QueryPairs) -> ImageResult<Vec<(String, bool)>> {
    let check_key = |k: &str| {
        if SORT_KEYS.contains(&k) {
            Ok(())
        } else {
            Err(ImageError::BadRequest(format!("Invalid sort key: {k}.")))
        }
    };
    let check_dir = |d: &str| match d {
        "asc" => Ok(true),
        "desc" => Ok(false),
        _ => Err(ImageError::BadRequest(format!(
            "Invalid sort direction: {d}."
        ))),
    };
    let mut spec = Vec::new();
    if let Some(sort) = q.get("sort") {
        if q.get("sort_key").is_some() || q.get("sort_dir").is_some() {
            return Err(ImageError::BadRequest(
                "The 'sort' parameter cannot be combined with 'sort_key' or 'sort_dir'.".into(),
            ));
        }
        for part in sort.split(',') {
            let (k, d) = part.split_once(':').unwrap_or((part, "desc"));
            let k = k.trim();
            check_key(k)?;
            spec.push((k.to_string(), check_dir(d.trim())?));
        }
    } else {
        let keys = q.all("sort_key");
        let dirs = q.all("sort_dir");
        if dirs.len() > 1 && dirs.len() != keys.len() {
            return Err(ImageError::BadRequest(
                "Number of sort dirs does not match the number of sort keys.".into(),
            ));
        }
        let keys = if keys.is_empty() {
            vec!["created_at"]
        } else {
            keys
        };
        for (i, k) in keys.iter().enumerate() {
            check_key(k)?;
            let d = dirs.get(i).or(dirs.first()).copied().unwrap_or("desc");
            spec.push((k.to_string(), check_dir(d)?));
        }
    }
    // Ties are broken by id, descending, so pages are stable.
    if !spec.iter().any(|(k, _)| k == "id") {
        spec.push(("id".into(), false));
    }
    Ok(spec)
}

fn parse_bool(name: &str, v: &str) -> ImageResult<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ImageError::BadRequest(format!(
            "Invalid value '{v}' for '{name}': expected a boolean."
        ))),
    }
}

fn parse_size(name: &str, v: Option<&str>) -> ImageResult<Option<i64>> {
    v.map(|v| {
        v.parse::<i64>().map_err(|_| {
            ImageError::BadRequest(format!(
                "Invalid value '{v}' for '{name}': expected an integer."
            ))
        })
    })
    .transpose()
}

/// `GET /v2/images`.
pub async fn list(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    q: QueryPairs,
) -> ImageResult<Response> {
    let paging = PAGING.read(q.get("limit"), q.get("marker"), |_| {
        ImageError::BadRequest("limit param must be positive".into())
    })?;
    let spec = sort_spec(&q)?;
    let visibility = q.get("visibility");
    if let Some(v) = visibility {
        if !model::VISIBILITIES.contains(&v) && v != "all" {
            return Err(ImageError::BadRequest(format!(
                "Invalid visibility value: {v}"
            )));
        }
    }
    let member_status = q.get("member_status").unwrap_or("accepted");
    if !["pending", "accepted", "rejected", "all"].contains(&member_status) {
        return Err(ImageError::BadRequest(format!(
            "Invalid status value: {member_status}"
        )));
    }
    let protected = q
        .get("protected")
        .map(|v| parse_bool("protected", v))
        .transpose()?;
    let os_hidden = q
        .get("os_hidden")
        .map(|v| parse_bool("os_hidden", v))
        .transpose()?
        .unwrap_or(false);
    let size_min = parse_size("size_min", q.get("size_min"))?;
    let size_max = parse_size("size_max", q.get("size_max"))?;
    let tags = q.all("tag");
    let property_filters: Vec<(&str, &str)> =
        q.0.iter()
            .filter(|(k, _)| !KNOWN_PARAMS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();

    let memberships: HashMap<String, String> = match caller.project_id() {
        Some(p) => state
            .images
            .memberships(p)?
            .into_iter()
            .map(|m| (m.image_id, m.status))
            .collect(),
        None => HashMap::new(),
    };
    let eq = |want: Option<&str>, have: Option<&str>| {
        want.is_none_or(|w| match w.strip_prefix("in:") {
            Some(list) => have.is_some_and(|h| in_list(list).iter().any(|v| v == h)),
            None => Some(w) == have,
        })
    };
    let mut found: Vec<Image> = state
        .images
        .list_images()?
        .into_iter()
        .filter(|i| listed_for(&caller, i, visibility, member_status, &memberships))
        .filter(|i| eq(q.get("name"), i.name.as_deref()))
        .filter(|i| eq(q.get("id"), Some(&i.id)))
        .filter(|i| eq(q.get("status"), Some(&i.status)))
        .filter(|i| eq(q.get("owner"), i.owner.as_deref()))
        .filter(|i| eq(q.get("disk_format"), i.disk_format.as_deref()))
        .filter(|i| eq(q.get("container_format"), i.container_format.as_deref()))
        .filter(|i| eq(q.get("checksum"), i.checksum.as_deref()))
        .filter(|i| eq(q.get("os_hash_value"), i.os_hash_value.as_deref()))
        .filter(|i| protected.is_none_or(|p| p == i.protected))
        .filter(|i| i.os_hidden == os_hidden)
        .filter(|i| size_min.is_none_or(|m| i.size.is_some_and(|s| s >= m)))
        .filter(|i| size_max.is_none_or(|m| i.size.is_some_and(|s| s <= m)))
        .filter(|i| tags.iter().all(|t| i.tags.iter().any(|have| have == t)))
        .filter(|i| {
            property_filters
                .iter()
                .all(|(k, v)| i.properties.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    found.sort_by(|a, b| {
        for (key, asc) in &spec {
            let o = cmp_values(&sort_value(a, key), &sort_value(b, key));
            let o = if *asc { o } else { o.reverse() };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    let page = paging.apply(
        found,
        |i, marker| i.id == marker,
        |marker| {
            ImageError::BadRequest(format!(
                "Invalid marker. Image {marker} could not be found."
            ))
        },
    )?;
    let mut body = json!({
        "images": page.items.iter().map(view).collect::<Vec<_>>(),
        "schema": "/v2/schemas/images",
        "first": "/v2/images",
    });
    if let Some(last) = page.items.last().filter(|_| page.more) {
        let query = NEXT_LINK.next(&q.0, paging.limit, &last.id);
        body["next"] = json!(format!("/v2/images?{query}"));
    }
    Ok(axum::Json(body).into_response())
}

/// The values of an `in:` filter: comma-separated, each optionally in
/// double quotes (so a value may contain a comma), as Glance parses them.
fn in_list(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in list.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    out.push(current);
    out
}

/// Percent-encode a query component.
/// Does `image` belong in the caller's list for the `visibility` filter?
fn listed_for(
    caller: &AuthContext,
    image: &Image,
    visibility: Option<&str>,
    member_status: &str,
    memberships: &HashMap<String, String>,
) -> bool {
    let owner = is_owner(caller, image);
    let member_ok = || {
        image.visibility == "shared"
            && memberships
                .get(&image.id)
                .is_some_and(|s| member_status == "all" || s == member_status)
    };
    match visibility {
        // Admins see everything unless they filter.
        None | Some("all") if caller.is_admin() => true,
        None | Some("all") => {
            owner
                || image.visibility == "public"
                || member_ok()
                || (visibility == Some("all") && image.visibility == "community")
        }
        Some(v) if v != image.visibility => false,
        Some("public") | Some("community") => true,
        Some("private") => caller.is_admin() || owner,
        Some("shared") => caller.is_admin() || owner || member_ok(),
        Some(_) => false,
    }
}

/// `POST /v2/images`.
pub async fn create(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Json(body): Json<Value>,
) -> ImageResult<Response> {
    let Value::Object(body) = body else {
        return Err(ImageError::BadRequest(
            "Body expected in request: an image object.".into(),
        ));
    };
    let now = now_micros();
    let mut image = Image {
        id: ferrostack_common::ids::new_uuid(),
        name: None,
        status: "queued".into(),
        visibility: "shared".into(),
        owner: caller.project_id().map(str::to_owned),
        protected: false,
        os_hidden: false,
        disk_format: None,
        container_format: None,
        size: None,
        virtual_size: None,
        checksum: None,
        os_hash_algo: None,
        os_hash_value: None,
        min_disk: 0,
        min_ram: 0,
        tags: Vec::new(),
        properties: BTreeMap::new(),
        created_at: now,
        updated_at: now,
    };
    // Refusals about what may be named come before value checks, as in Glance.
    for key in body.keys() {
        model::check_settable(key)?;
    }
    for (key, value) in &body {
        set_attribute(&mut image, key, value, Op::Create, &caller)?;
    }
    if let (Some(limit), Some(owner)) = (state.quotas.image_count_total, image.owner.as_deref()) {
        let count = state
            .images
            .list_images()?
            .iter()
            .filter(|i| i.owner.as_deref() == Some(owner))
            .count() as u64;
        if count >= limit {
            return Err(ImageError::Status(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Quota exceeded for image_count_total: limit {limit}, in use {count}."),
            ));
        }
    }
    if !state.images.create_image(&image)? {
        return Err(ImageError::Conflict(format!(
            "An image with identifier {} already exists",
            image.id
        )));
    }
    tracing::debug!(image_id = %image.id, "image created");
    let mut headers = HeaderMap::new();
    if let Ok(v) = format!("{}/v2/images/{}", state.public_url, image.id).parse() {
        headers.insert(http::header::LOCATION, v);
    }
    // How clients (openstacksdk's `use_import`) learn the import methods.
    if let Ok(v) = crate::interop::METHODS.join(",").parse() {
        headers.insert("openstack-image-import-methods", v);
    }
    Ok((StatusCode::CREATED, headers, axum::Json(view(&image))).into_response())
}

/// `GET /v2/images/{image_id}`.
pub async fn show(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ImageResult<Response> {
    let image = load_visible(&state, &caller, &id)?;
    Ok(axum::Json(view(&image)).into_response())
}

/// `PATCH /v2/images/{image_id}` with a JSON-patch body
/// (either of Glance's media types, see [`patch`]). All operations apply
/// or none does.
pub async fn update(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ImageResult<Response> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ImageError::Status(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body is larger than this service accepts.".into(),
            )
        } else {
            ImageError::BadRequest("Could not read the request body.".into())
        }
    })?;
    let draft = match patch::Draft::of(&headers) {
        Ok(draft) => draft,
        Err(unsupported) => return Ok(unsupported.into_response()),
    };
    let ops: Value = serde_json::from_slice(&body).map_err(|e| {
        ImageError::BadRequest(format!(
            "Malformed JSON in request body: {}",
            ferrostack_common::json::redact(&e.to_string())
        ))
    })?;
    let Value::Array(ops) = ops else {
        return Err(ImageError::BadRequest(
            "Request body must be a JSON array of operation objects.".into(),
        ));
    };
    let mut image = load_owned(&state, &caller, &id)?;
    for op in &ops {
        let Value::Object(op) = op else {
            return Err(ImageError::BadRequest(
                "Operations must be JSON objects.".into(),
            ));
        };
        patch::apply(&mut image, op, draft, &caller)?;
    }
    image.updated_at = now_micros();
    if !state.images.update_image(&image)? {
        return Err(super::not_found(&id));
    }
    let image = state
        .images
        .get_image(&id)?
        .ok_or_else(|| super::not_found(&id))?;
    Ok(axum::Json(view(&image)).into_response())
}

/// `DELETE /v2/images/{image_id}`: the record, its members and its data.
pub async fn delete(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ImageResult<StatusCode> {
    let image = load_owned(&state, &caller, &id)?;
    if image.protected {
        return Err(ImageError::Forbidden(format!(
            "Image {id} is protected and cannot be deleted."
        )));
    }
    if !state.images.delete_image(&id)? {
        return Err(super::not_found(&id));
    }
    if let Err(e) = state.data.delete(&id).await {
        // The record is gone; leftover bytes are garbage, not a failure.
        tracing::warn!(image_id = %id, error = %e, "image data not removed");
    }
    if image.status == "uploading" {
        // Staged data and the bytes it reserved (see `crate::interop`).
        if let Ok(path) = state.data.stage_path(&id) {
            let _ = tokio::fs::remove_file(path).await;
        }
        state.size_quota.release(&id);
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ferrostack_policy::{RoleRef, Scope};

    fn caller(project: &str, roles: &[&str]) -> AuthContext {
        AuthContext {
            user_id: "u".into(),
            user_name: "u".into(),
            user_domain_id: "default".into(),
            user_domain_name: "Default".into(),
            scope: Scope::Project {
                id: project.into(),
                name: project.into(),
                domain_id: "default".into(),
                domain_name: "Default".into(),
            },
            roles: roles
                .iter()
                .map(|r| RoleRef {
                    id: (*r).into(),
                    name: (*r).into(),
                })
                .collect(),
            methods: vec![],
            audit_ids: vec![],
            issued_at: 0,
            expires_at: 0,
            application_credential_id: None,
            trust_id: None,
            access_rules: Vec::new(),
        }
    }

    fn image(id: &str, owner: &str, visibility: &str) -> Image {
        Image {
            id: id.into(),
            name: None,
            status: "active".into(),
            visibility: visibility.into(),
            owner: Some(owner.into()),
            protected: false,
            os_hidden: false,
            disk_format: None,
            container_format: None,
            size: None,
            virtual_size: None,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            min_disk: 0,
            min_ram: 0,
            tags: vec![],
            properties: BTreeMap::new(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn default_lists_hold_public_own_and_accepted_shares_only() {
        let me = caller("p1", &["member"]);
        let accepted: HashMap<String, String> = [
            ("s-acc".to_string(), "accepted".to_string()),
            ("s-pend".to_string(), "pending".to_string()),
        ]
        .into();
        let cases = [
            (image("pub", "p2", "public"), true),
            (image("comm", "p2", "community"), false),
            (image("own-comm", "p1", "community"), true),
            (image("priv", "p2", "private"), false),
            (image("own-priv", "p1", "private"), true),
            (image("s-acc", "p2", "shared"), true),
            (image("s-pend", "p2", "shared"), false),
            (image("s-none", "p2", "shared"), false),
        ];
        for (i, expected) in cases {
            assert_eq!(
                listed_for(&me, &i, None, "accepted", &accepted),
                expected,
                "{}",
                i.id
            );
        }
        let pending = image("s-pend", "p2", "shared");
        assert!(listed_for(&me, &pending, None, "pending", &accepted));
        assert!(listed_for(&me, &pending, Some("shared"), "all", &accepted));
        let comm = image("comm", "p2", "community");
        assert!(listed_for(
            &me,
            &comm,
            Some("community"),
            "accepted",
            &accepted
        ));
        let admin = caller("p9", &["admin"]);
        assert!(listed_for(
            &admin,
            &image("priv", "p2", "private"),
            None,
            "accepted",
            &HashMap::new()
        ));
    }

    #[test]
    fn in_filters_split_on_commas_outside_quotes() {
        assert_eq!(in_list("a,b"), ["a", "b"]);
        assert_eq!(in_list("\"x,y\",z"), ["x,y", "z"]);
        assert_eq!(in_list("one"), ["one"]);
    }

    #[test]
    fn sort_specs_come_from_either_syntax_and_end_with_id() {
        let q = |s: &str| {
            QueryPairs(
                s.split('&')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once('=').unwrap();
                        (k.to_string(), v.to_string())
                    })
                    .collect(),
            )
        };
        let spec = |s: &str| sort_spec(&q(s)).unwrap();
        assert_eq!(
            spec(""),
            [("created_at".to_string(), false), ("id".to_string(), false)]
        );
        assert_eq!(
            spec("sort=name:asc,size"),
            [
                ("name".to_string(), true),
                ("size".to_string(), false),
                ("id".to_string(), false)
            ]
        );
        assert_eq!(
            spec("sort_key=name&sort_key=id&sort_dir=asc"),
            [("name".to_string(), true), ("id".to_string(), true)]
        );
        assert!(sort_spec(&q("sort_key=password")).is_err());
        assert!(sort_spec(&q("sort=name:up")).is_err());
        assert!(sort_spec(&q("sort=name&sort_key=id")).is_err());
    }
}
