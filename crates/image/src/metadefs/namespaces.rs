//! `/v2/metadefs/namespaces[/{namespace}]`: list (Glance's filters,
//! sorting and paging), create (with embedded parts, in one transaction),
//! show (with its parts), update and delete.

use super::validate::{self, NAME_MAX};
use super::{can_see, change, from_store, load, namespace_not_found, namespace_view};
use crate::error::{ImageError, ImageResult};
use crate::routes::{Caller, QueryPairs};
use crate::{ImageState, Json};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_common::time::now_micros;
use ferrostack_store::metadefs::{MetaTag, Namespace, NamespaceBody};
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const SORT_KEYS: &[&str] = &["created_at", "updated_at", "namespace", "display_name"];

fn sort_value(ns: &Namespace, key: &str) -> (String, i64) {
    match key {
        "updated_at" => (String::new(), ns.updated_at),
        "namespace" => (ns.namespace.clone(), 0),
        "display_name" => (ns.body.display_name.clone().unwrap_or_default(), 0),
        _ => (String::new(), ns.created_at),
    }
}

/// `GET /v2/metadefs/namespaces`: filters `visibility`, `resource_types`
/// (comma-separated, any of them); `sort_key`, `sort_dir` (default
/// `created_at` `desc`); `limit` (25 by default, at most 1000) and `marker`
/// (a namespace name).
pub async fn list(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    query: QueryPairs,
) -> ImageResult<axum::Json<Value>> {
    let visibility = query.get("visibility");
    if let Some(v) = visibility {
        if v != "public" && v != "private" {
            return Err(ImageError::BadRequest(format!(
                "Invalid visibility value: {v}"
            )));
        }
    }
    let sort_key = query.get("sort_key").unwrap_or("created_at");
    if !SORT_KEYS.contains(&sort_key) {
        return Err(ImageError::BadRequest(format!(
            "Invalid sort key: {sort_key}. It must be one of the following: {}.",
            SORT_KEYS.join(", ")
        )));
    }
    let sort_dir = query.get("sort_dir").unwrap_or("desc");
    if sort_dir != "asc" && sort_dir != "desc" {
        return Err(ImageError::BadRequest(format!(
            "Invalid sort direction: {sort_dir}"
        )));
    }
    let limit = match query.get("limit") {
        None => 25,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n >= 0 => n.min(1000) as usize,
            Ok(_) => {
                return Err(ImageError::BadRequest(
                    "limit param must be positive".into(),
                ))
            }
            Err(_) => {
                return Err(ImageError::BadRequest(
                    "limit param must be an integer".into(),
                ))
            }
        },
    };
    let types: Vec<&str> = query
        .get("resource_types")
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut all: Vec<Namespace> = state
        .metadefs
        .list_namespaces()?
        .into_iter()
        .filter(|ns| can_see(&caller, ns))
        .filter(|ns| visibility.is_none_or(|v| ns.visibility == v))
        .filter(|ns| {
            types.is_empty()
                || ns
                    .body
                    .resource_type_associations
                    .iter()
                    .any(|a| types.contains(&a.name.as_str()))
        })
        .collect();
    all.sort_by(|a, b| {
        let order = sort_value(a, sort_key)
            .cmp(&sort_value(b, sort_key))
            .then_with(|| a.namespace.cmp(&b.namespace));
        if sort_dir == "desc" {
            order.reverse()
        } else {
            order
        }
    });
    let start = match query.get("marker") {
        None => 0,
        Some(marker) => {
            all.iter()
                .position(|ns| ns.namespace == marker)
                .ok_or_else(|| namespace_not_found(marker))?
                + 1
        }
    };
    let page: Vec<&Namespace> = all.iter().skip(start).take(limit).collect();
    let params: Vec<(String, String)> = query
        .0
        .iter()
        .filter(|(k, _)| k != "marker")
        .cloned()
        .collect();
    let encode = |pairs: &[(String, String)]| -> String {
        pairs
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&")
    };
    let mut first = "/v2/metadefs/namespaces".to_string();
    if !params.is_empty() {
        first = format!("{first}?{}", encode(&params));
    }
    let mut body = json!({
        "namespaces": page.iter().map(|ns| namespace_view(ns, false)).collect::<Vec<_>>(),
        "first": first,
        "schema": "/v2/schemas/metadefs/namespaces",
    });
    if limit > 0 && page.len() == limit {
        if let Some(last) = page.last() {
            let mut next = params.clone();
            next.push(("marker".into(), last.namespace.clone()));
            body["next"] = json!(format!("/v2/metadefs/namespaces?{}", encode(&next)));
        }
    }
    Ok(axum::Json(body))
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The namespace a create body describes, with its embedded parts;
/// duplicates among the parts are 409 (as Glance's would be).
pub(crate) fn from_body(
    map: &Map<String, Value>,
    owner: Option<String>,
    now: i64,
) -> ImageResult<Namespace> {
    let name = validate::string(map, "namespace", NAME_MAX)?;
    let mut body = NamespaceBody {
        display_name: validate::opt_string(map, "display_name", NAME_MAX)?,
        description: validate::opt_string(map, "description", 500)?,
        properties: validate::properties(map.get("properties"))?,
        ..Default::default()
    };
    for a in validate::array(map, "resource_type_associations")? {
        let a = validate::association(a, now)?;
        if body
            .resource_type_associations
            .iter()
            .any(|b| b.name == a.name)
        {
            return Err(ImageError::Conflict(format!(
                "The metadata definition resource-type association of resource-type={} to namespace={name} already exists.",
                a.name
            )));
        }
        body.resource_type_associations.push(a);
    }
    for o in validate::array(map, "objects")? {
        let o = validate::object(o, now)?;
        if body.objects.iter().any(|b| b.name == o.name) {
            return Err(ImageError::Conflict(format!(
                "A metadata definition object with name={} already exists in namespace={name}.",
                o.name
            )));
        }
        body.objects.push(o);
    }
    for t in validate::array(map, "tags")? {
        let tag = validate::tag_name(t)?;
        super::tags::push_unique(
            &mut body.tags,
            &name,
            MetaTag {
                name: tag,
                created_at: now,
                updated_at: now,
            },
        )?;
    }
    Ok(Namespace {
        namespace: name,
        visibility: validate::visibility(map)?.unwrap_or_else(|| "private".into()),
        protected: validate::opt_bool(map, "protected")?.unwrap_or(false),
        owner: validate::opt_string(map, "owner", 255)?.or(owner),
        created_at: now,
        updated_at: now,
        body,
    })
}

/// `POST /v2/metadefs/namespaces` (admin): 201 with the namespace and the
/// parts it was created with.
pub async fn create(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Json(body): Json<Value>,
) -> ImageResult<Response> {
    let map = validate::object_body(&body)?;
    let ns = from_body(map, caller.project_id().map(str::to_string), now_micros())?;
    if !state.metadefs.create_namespace(&ns)? {
        return Err(ImageError::Conflict(format!(
            "The metadata definition namespace={} already exists.",
            ns.namespace
        )));
    }
    let location = format!("/v2/metadefs/namespaces/{}", ns.namespace);
    Ok((
        StatusCode::CREATED,
        [(http::header::LOCATION, location)],
        axum::Json(namespace_view(&ns, true)),
    )
        .into_response())
}

/// `GET /v2/metadefs/namespaces/{namespace}`: with its parts; with
/// `resource_type`, property names carry that association's prefix.
pub async fn show(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    query: QueryPairs,
) -> ImageResult<axum::Json<Value>> {
    let mut ns = load(&state, &caller, &name)?;
    if let Some(rt) = query.get("resource_type") {
        let prefix = ns
            .body
            .resource_type_associations
            .iter()
            .find(|a| a.name == rt)
            .and_then(|a| a.prefix.clone());
        if let Some(prefix) = prefix.filter(|p| !p.is_empty()) {
            let add = |m: &mut std::collections::BTreeMap<String, Value>| {
                *m = std::mem::take(m)
                    .into_iter()
                    .map(|(k, v)| (format!("{prefix}{k}"), v))
                    .collect();
            };
            add(&mut ns.body.properties);
            for o in &mut ns.body.objects {
                add(&mut o.properties);
                for r in &mut o.required {
                    *r = format!("{prefix}{r}");
                }
            }
        }
    }
    Ok(axum::Json(namespace_view(&ns, true)))
}

/// `PUT /v2/metadefs/namespaces/{namespace}` (admin): replaces the
/// namespace's own attributes (a new `namespace` renames it; absent
/// `visibility`, `protected` and `owner` fall back to `private`, `false`
/// and the caller's project, as in Glance).
pub async fn update(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(name): Path<String>,
    Json(body): Json<Value>,
) -> ImageResult<axum::Json<Value>> {
    let map = validate::object_body(&body)?;
    let new_name = validate::string(map, "namespace", NAME_MAX)?;
    let display_name = validate::opt_string(map, "display_name", NAME_MAX)?;
    let description = validate::opt_string(map, "description", 500)?;
    let visibility = validate::visibility(map)?.unwrap_or_else(|| "private".into());
    let protected = validate::opt_bool(map, "protected")?.unwrap_or(false);
    let owner = validate::opt_string(map, "owner", 255)?
        .or_else(|| caller.project_id().map(str::to_string));
    let ns = change(&state, &caller, &name, |ns| {
        ns.namespace = new_name.clone();
        ns.body.display_name = display_name.clone();
        ns.body.description = description.clone();
        ns.visibility = visibility.clone();
        ns.protected = protected;
        ns.owner = owner.clone();
        Ok(())
    })?;
    Ok(axum::Json(namespace_view(&ns, false)))
}

/// `DELETE /v2/metadefs/namespaces/{namespace}` (admin): 204; a protected
/// namespace is 403.
pub async fn delete(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> ImageResult<StatusCode> {
    let deleted = state
        .metadefs
        .delete_namespace(&name, &mut |ns| {
            if !can_see(&caller, ns) {
                return Err(Box::new(namespace_not_found(&name)));
            }
            if ns.protected {
                return Err(Box::new(super::protected("namespace", &name)));
            }
            Ok(())
        })
        .map_err(from_store)?;
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(namespace_not_found(&name))
    }
}

/// Remove every part of one kind (`DELETE .../objects`, `.../properties`,
/// `.../tags`; admin): 204; a protected namespace is 403.
pub fn clear_parts(
    state: &ImageState,
    caller: &ferrostack_policy::AuthContext,
    name: &str,
    clear: impl Fn(&mut NamespaceBody),
) -> ImageResult<StatusCode> {
    change(state, caller, name, |ns| {
        if ns.protected {
            return Err(super::protected("namespace", name));
        }
        clear(&mut ns.body);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}
