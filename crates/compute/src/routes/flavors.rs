//! `/v2.1/flavors`: list (brief and detail), show, create, update
//! (description, 2.55+) and delete.
//!
//! Visibility follows Nova: admins see every flavor; others see public
//! flavors and private ones their project was given access to, and any
//! other flavor is "not found". Lists are filtered, sorted and paged in
//! memory (a cloud has tens of flavors) with Nova's keyset paging: the
//! marker is a flavor id, and the page is what sorts after it.

use super::{next_link, paging, python_repr, Caller, QueryPairs};
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::ComputeState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_compute_types::flavor::{shows_description, shows_extra_specs, swap_is_integer};
use ferrostack_compute_types::flavor_body::{CreateFlavorBody, UpdateFlavorBody};
use ferrostack_compute_types::ApiVersion;
use ferrostack_policy::AuthContext;
use ferrostack_store::compute::{Flavor, FlavorClash};
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::cmp::Ordering;
use std::sync::Arc;

const SORT_KEYS: &[&str] = &[
    "created_at",
    "description",
    "disabled",
    "ephemeral_gb",
    "flavorid",
    "id",
    "is_public",
    "memory_mb",
    "name",
    "root_gb",
    "rxtx_factor",
    "swap",
    "updated_at",
    "vcpus",
];
const LIST_QUERY: &[&str] = &[
    "limit",
    "marker",
    "is_public",
    "minRam",
    "minDisk",
    "sort_key",
    "sort_dir",
];

/// Nova's words for a flavor the caller cannot see.
pub fn not_found(id: &str) -> ComputeError {
    ComputeError::NotFound(format!("Flavor {id} could not be found."))
}

/// May `caller` see `flavor`?
pub fn visible(flavor: &Flavor, caller: &AuthContext) -> bool {
    caller.is_admin()
        || flavor.is_public
        || caller
            .project_id()
            .is_some_and(|p| flavor.projects.iter().any(|q| q == p))
}

/// The flavor `id` if `caller` may see it, else 404.
pub fn find_visible(state: &ComputeState, caller: &AuthContext, id: &str) -> ComputeResult<Flavor> {
    match state.compute.get_flavor(id)? {
        Some(f) if visible(&f, caller) => Ok(f),
        _ => Err(not_found(id)),
    }
}

/// Escape what cannot appear raw in a URL path segment.
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn links(state: &ComputeState, id: &str) -> Value {
    let id = path_segment(id);
    json!([
        {"href": format!("{}/v2.1/flavors/{id}", state.public_url), "rel": "self"},
        {"href": format!("{}/flavors/{id}", state.public_url), "rel": "bookmark"},
    ])
}

/// The brief view of `GET /flavors`.
fn brief(state: &ComputeState, v: ApiVersion, f: &Flavor) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(f.id));
    m.insert("name".into(), json!(f.name));
    m.insert("links".into(), links(state, &f.id));
    if shows_description(v) {
        m.insert("description".into(), json!(f.description));
    }
    Value::Object(m)
}

/// The detail view (list detail, show, create, update).
pub fn detail(state: &ComputeState, v: ApiVersion, f: &Flavor) -> Value {
    let swap = if f.swap == 0 && !swap_is_integer(v) {
        json!("")
    } else {
        json!(f.swap)
    };
    let mut m = Map::new();
    m.insert("id".into(), json!(f.id));
    m.insert("name".into(), json!(f.name));
    m.insert("ram".into(), json!(f.memory_mb));
    m.insert("disk".into(), json!(f.root_gb));
    m.insert("vcpus".into(), json!(f.vcpus));
    m.insert("swap".into(), swap);
    m.insert("OS-FLV-EXT-DATA:ephemeral".into(), json!(f.ephemeral_gb));
    m.insert("OS-FLV-DISABLED:disabled".into(), json!(f.disabled));
    m.insert("rxtx_factor".into(), json!(f.rxtx_factor));
    m.insert("os-flavor-access:is_public".into(), json!(f.is_public));
    m.insert("links".into(), links(state, &f.id));
    if shows_description(v) {
        m.insert("description".into(), json!(f.description));
    }
    if shows_extra_specs(v) {
        m.insert("extra_specs".into(), json!(f.extra_specs));
    }
    Value::Object(m)
}

fn compare(key: &str, a: &Flavor, b: &Flavor) -> Ordering {
    let primary = match key {
        "created_at" => a.created_at.cmp(&b.created_at),
        "description" => a.description.cmp(&b.description),
        "disabled" => a.disabled.cmp(&b.disabled),
        "ephemeral_gb" => a.ephemeral_gb.cmp(&b.ephemeral_gb),
        "flavorid" => a.id.cmp(&b.id),
        "is_public" => a.is_public.cmp(&b.is_public),
        "memory_mb" => a.memory_mb.cmp(&b.memory_mb),
        "name" => a.name.cmp(&b.name),
        "root_gb" => a.root_gb.cmp(&b.root_gb),
        "rxtx_factor" => a.rxtx_factor.total_cmp(&b.rxtx_factor),
        "swap" => a.swap.cmp(&b.swap),
        "updated_at" => a.updated_at.cmp(&b.updated_at),
        "vcpus" => a.vcpus.cmp(&b.vcpus),
        _ => Ordering::Equal,
    };
    // Nova pages on (sort_key, id), both in the one direction.
    primary.then(a.pk.cmp(&b.pk))
}

fn min_filter(q: &QueryPairs, name: &str) -> ComputeResult<Option<i64>> {
    q.get(name)
        .map(|raw| {
            raw.trim()
                .parse::<i64>()
                .map_err(|_| ComputeError::BadRequest(format!("Invalid {name} filter [{raw}]")))
        })
        .transpose()
}

/// The flavors a list request selects, in order, and the page size.
fn select(
    state: &ComputeState,
    caller: &AuthContext,
    v: ApiVersion,
    q: &QueryPairs,
) -> ComputeResult<(Vec<Flavor>, usize)> {
    q.check_known(v, LIST_QUERY)?;
    let sort_key = q
        .get("sort_key")
        .filter(|s| !s.is_empty())
        .unwrap_or("flavorid");
    if !SORT_KEYS.contains(&sort_key) {
        return Err(ComputeError::BadRequest(format!(
            "Invalid input for query parameters sort_key. Value: {sort_key}. '{sort_key}' is not one of {}",
            python_repr(&json!(SORT_KEYS))
        )));
    }
    let descending = match q.get("sort_dir").filter(|s| !s.is_empty()).unwrap_or("asc") {
        "asc" => false,
        "desc" => true,
        other => {
            return Err(ComputeError::BadRequest(format!(
                "Invalid input for query parameters sort_dir. Value: {other}. '{other}' is not one of ['asc', 'desc']"
            )))
        }
    };
    let page = paging(q)?;
    // Admins choose with is_public (absent: public ones, "None": all);
    // everyone else sees public flavors and those shared with their project.
    let is_public = if caller.is_admin() {
        match q.get("is_public") {
            None => Some(true),
            Some(s) if s.eq_ignore_ascii_case("none") => None,
            // oslo's strict bool_from_string, as Nova reads the filter.
            Some(s) => match s.trim().to_ascii_lowercase().as_str() {
                "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
                "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
                _ => {
                    return Err(ComputeError::BadRequest(format!(
                        "Invalid is_public filter [{s}]"
                    )))
                }
            },
        }
    } else {
        Some(true)
    };
    let min_ram = min_filter(q, "minRam")?;
    let min_disk = min_filter(q, "minDisk")?;
    let project = caller.project_id();
    let mut flavors: Vec<Flavor> = state
        .compute
        .list_flavors()?
        .into_iter()
        .filter(|f| match is_public {
            None => true,
            Some(true) => f.is_public || project.is_some_and(|p| f.projects.iter().any(|q| q == p)),
            Some(false) => !f.is_public,
        })
        .filter(|f| caller.is_admin() || !f.disabled)
        .filter(|f| min_ram.is_none_or(|m| f.memory_mb >= m))
        .filter(|f| min_disk.is_none_or(|m| f.root_gb >= m))
        .collect();
    let order = |a: &Flavor, b: &Flavor| {
        let o = compare(sort_key, a, b);
        if descending {
            o.reverse()
        } else {
            o
        }
    };
    flavors.sort_by(order);
    // Keyset paging: the marker need not be in this list, only visible.
    if let Some(marker) = &page.marker {
        let m = match state.compute.get_flavor(marker)? {
            Some(m) if visible(&m, caller) => m,
            _ => {
                return Err(ComputeError::BadRequest(format!(
                    "marker [{marker}] not found"
                )))
            }
        };
        flavors.retain(|f| order(f, &m) == Ordering::Greater);
    }
    flavors.truncate(page.limit);
    Ok((flavors, page.limit))
}

fn list_body(
    state: &ComputeState,
    q: &QueryPairs,
    path: &str,
    flavors: &[Flavor],
    limit: usize,
    view: impl Fn(&Flavor) -> Value,
) -> Value {
    let mut body = Map::new();
    body.insert(
        "flavors".into(),
        Value::Array(flavors.iter().map(view).collect()),
    );
    if let Some(last) = flavors.last().filter(|_| flavors.len() == limit) {
        body.insert(
            "flavors_links".into(),
            next_link(state, path, q, limit, &last.id),
        );
    }
    Value::Object(body)
}

/// `GET /v2.1/flavors`.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    let (flavors, limit) = select(&state, &caller, v, &q)?;
    Ok(axum::Json(list_body(
        &state,
        &q,
        "flavors",
        &flavors,
        limit,
        |f| brief(&state, v, f),
    )))
}

/// `GET /v2.1/flavors/detail`.
pub async fn list_detail(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    let (flavors, limit) = select(&state, &caller, v, &q)?;
    Ok(axum::Json(list_body(
        &state,
        &q,
        "flavors/detail",
        &flavors,
        limit,
        |f| detail(&state, v, f),
    )))
}

/// `GET /v2.1/flavors/{flavor_id}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    let flavor = find_visible(&state, &caller, &id)?;
    Ok(axum::Json(json!({"flavor": detail(&state, v, &flavor)})))
}

/// A new flavor from a create body, checked as Nova's schema for `v`
/// (see [`CreateFlavorBody::checked`]); an id is made when none is asked for.
pub fn parse_create(v: ApiVersion, body: &CreateFlavorBody) -> ComputeResult<Flavor> {
    let new = body.checked(v)?;
    Ok(Flavor {
        pk: 0,
        name: new.name,
        id: new.id.unwrap_or_else(ferrostack_common::ids::new_uuid),
        memory_mb: new.memory_mb,
        vcpus: new.vcpus,
        root_gb: new.root_gb,
        ephemeral_gb: new.ephemeral_gb,
        swap: new.swap,
        rxtx_factor: new.rxtx_factor,
        is_public: new.is_public,
        disabled: false,
        description: new.description,
        extra_specs: Default::default(),
        projects: vec![],
        created_at: ferrostack_common::time::now_micros(),
        updated_at: None,
    })
}

/// `POST /v2.1/flavors` (admin).
pub async fn create(
    State(state): State<Arc<ComputeState>>,
    Version(v): Version,
    Json(body): Json<CreateFlavorBody>,
) -> ComputeResult<axum::Json<Value>> {
    let new = parse_create(v, &body)?;
    match state.compute.create_flavor(&new)? {
        Ok(flavor) => {
            tracing::info!(flavor_id = flavor.id, name = flavor.name, "flavor created");
            Ok(axum::Json(json!({"flavor": detail(&state, v, &flavor)})))
        }
        Err(FlavorClash::Id) => Err(ComputeError::Conflict(format!(
            "Flavor with ID {} already exists.",
            new.id
        ))),
        Err(FlavorClash::Name) => Err(ComputeError::Conflict(format!(
            "Flavor with name {} already exists.",
            new.name
        ))),
    }
}

/// `PUT /v2.1/flavors/{flavor_id}` (admin, 2.55+): change the description.
pub async fn update(
    State(state): State<Arc<ComputeState>>,
    Version(v): Version,
    Path(id): Path<String>,
    Json(body): Json<UpdateFlavorBody>,
) -> ComputeResult<axum::Json<Value>> {
    if !v.at_least(55) {
        return Err(ComputeError::NotFound(
            "The resource could not be found.".into(),
        ));
    }
    let text = body.description()?;
    if !state.compute.set_flavor_description(&id, text.as_deref())? {
        return Err(not_found(&id));
    }
    let flavor = state
        .compute
        .get_flavor(&id)?
        .ok_or_else(|| not_found(&id))?;
    Ok(axum::Json(json!({"flavor": detail(&state, v, &flavor)})))
}

/// `DELETE /v2.1/flavors/{flavor_id}` (admin): 202.
pub async fn delete(
    State(state): State<Arc<ComputeState>>,
    Path(id): Path<String>,
) -> ComputeResult<Response> {
    if !state.compute.delete_flavor(&id)? {
        return Err(not_found(&id));
    }
    tracing::info!(flavor_id = id, "flavor deleted");
    Ok(StatusCode::ACCEPTED.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(minor: u32) -> ApiVersion {
        ApiVersion::new(2, minor)
    }

    fn parse(v: ApiVersion, body: &Value) -> ComputeResult<Flavor> {
        parse_create(v, &CreateFlavorBody::new(body.clone()))
    }

    fn message(e: ComputeError) -> String {
        match e {
            ComputeError::BadRequest(m) => m,
            other => panic!("expected 400, got {other:?}"),
        }
    }

    #[test]
    fn create_takes_strings_of_digits_and_defaults_the_rest() {
        let f = parse(
            v(1),
            &json!({"flavor": {"name": "m1.tiny", "ram": "512", "vcpus": 1, "disk": 0, "id": "auto"}}),
        )
        .unwrap();
        assert_eq!((f.memory_mb, f.vcpus, f.root_gb, f.swap), (512, 1, 0, 0));
        assert!(ferrostack_common::ids::is_uuid(&f.id), "{}", f.id);
        assert!(f.is_public);
        assert_eq!(f.rxtx_factor, 1.0);
    }

    #[test]
    fn create_refuses_what_novas_schema_refuses() {
        let base = json!({"name": "x", "ram": 512, "vcpus": 1, "disk": 1});
        let with = |k: &str, val: Value| {
            let mut b = base.clone();
            b[k] = val;
            json!({ "flavor": b })
        };
        for body in [
            with("ram", json!(0)),
            with("ram", json!("lots")),
            with("vcpus", json!(1.5)),
            with("disk", json!(-1)),
            with("swap", json!("")),
            with("name", json!(" padded")),
            with("name", json!("")),
            with("id", json!("a/b")),
            with("rxtx_factor", json!(0)),
            with("os-flavor-access:is_public", json!("maybe")),
            with("bogus", json!(1)),
            with("ram", json!(2147483648_i64)),
        ] {
            assert!(parse(v(1), &body).is_err(), "{body}");
        }
        let no_ram = json!({"flavor": {"name": "x", "vcpus": 1, "disk": 1}});
        assert!(
            message(parse(v(1), &no_ram).unwrap_err()).ends_with("'ram' is a required property")
        );
    }

    #[test]
    fn description_is_taken_from_2_55() {
        let body =
            json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "description": "d"}});
        assert!(parse(v(54), &body).is_err());
        assert_eq!(
            parse(v(55), &body).unwrap().description.as_deref(),
            Some("d")
        );
    }
}
