//! Cinder's list parameters: filters, `sort` (or `sort_key` + `sort_dir`),
//! `limit`, `marker` and `offset` through the shared
//! [`ferrostack_common::page`], `with_count` from 3.45, `all_tenants` for
//! admins.
//!
//! A next link keeps the form of the request's path: with the project id
//! after `/v3` when the client put it there (cinderclient, from a catalog
//! URL ending in the project), without it otherwise (openstacksdk), so a
//! client following the link stays on the URL it was configured with.
//!
//! Lists are sorted and filtered in memory over the stored records (a
//! project's volumes are few), keyed by the records' own JSON, so a sort
//! key is a field name and one comparison serves volumes and snapshots.

use crate::error::{VolumeError, VolumeResult};
use crate::microversion::Version;
use crate::service::Caller;
use ferrostack_common::page::{CountSyntax, LinkQuery, Page, Paging};
use serde::Serialize;
use serde_json::{json, Value};
use std::cmp::Ordering;
use std::collections::BTreeMap;

const PAGING: Paging = Paging {
    syntax: CountSyntax::NonNegative,
    default_limit: 1000,
    max_limit: 1000,
};

const LINKS: LinkQuery = LinkQuery {
    keep_limit: true,
    unreserved: b"-_.~",
};

/// Keys that are not filters.
const CONTROL: &[&str] = &[
    "limit",
    "marker",
    "sort",
    "sort_key",
    "sort_dir",
    "with_count",
    "all_tenants",
    "offset",
];

/// One request's list parameters.
pub struct ListParams {
    pairs: Vec<(String, String)>,
    page: Page,
    offset: usize,
    sort: Vec<(String, bool)>,
    /// Add `count` (3.45+).
    pub with_count: bool,
    /// Every project's (admin with `all_tenants`); else `None`.
    pub project: Option<String>,
    /// Other parameters, as filters.
    pub filters: BTreeMap<String, String>,
}

fn truthy(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "y" | "on"
    )
}

impl ListParams {
    /// Read the query; `sort_keys` are the record fields a client may
    /// sort on (wire name to record field).
    pub fn read(
        pairs: Vec<(String, String)>,
        caller: &Caller,
        version: Version,
        sort_keys: &[(&str, &str)],
    ) -> VolumeResult<ListParams> {
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let page = PAGING.read(get("limit"), get("marker"), |raw| {
            VolumeError::BadRequest(format!(
                "Invalid input received: limit must be an integer and >= 0, not {raw}"
            ))
        })?;
        let offset = match get("offset") {
            None => 0,
            Some(raw) => raw.trim().parse::<usize>().map_err(|_| {
                VolumeError::BadRequest(format!(
                    "Invalid input received: offset must be an integer and >= 0, not {raw}"
                ))
            })?,
        };
        let mut sort = Vec::new();
        let wanted: Vec<(String, String)> = match (get("sort"), get("sort_key")) {
            (Some(s), _) => s
                .split(',')
                .map(|item| {
                    let (k, d) = item.split_once(':').unwrap_or((item, "desc"));
                    (k.trim().to_string(), d.trim().to_string())
                })
                .collect(),
            (None, Some(k)) => vec![(k.to_string(), get("sort_dir").unwrap_or("desc").to_string())],
            _ => vec![("created_at".into(), "desc".into())],
        };
        for (k, d) in wanted {
            let field = sort_keys
                .iter()
                .find(|(w, _)| *w == k)
                .map(|(_, f)| f.to_string())
                .ok_or_else(|| {
                    VolumeError::BadRequest(format!("Invalid input received: Invalid sort key {k}"))
                })?;
            let desc = match d.to_ascii_lowercase().as_str() {
                "desc" => true,
                "asc" => false,
                _ => {
                    return Err(VolumeError::BadRequest(format!(
                        "Invalid input received: Unknown sort direction, must be 'desc' or 'asc', not {d}"
                    )))
                }
            };
            sort.push((field, desc));
        }
        sort.push(("id".into(), true));
        let all = caller.is_admin && get("all_tenants").is_some_and(truthy);
        let project = match (all, get("project_id")) {
            (true, Some(p)) => Some(p.to_string()),
            (true, None) => None,
            (false, _) => Some(caller.project_id.clone()),
        };
        let filters = pairs
            .iter()
            .filter(|(k, _)| !CONTROL.contains(&k.as_str()) && k != "project_id")
            .cloned()
            .collect();
        Ok(ListParams {
            with_count: version.at_least(45) && get("with_count").is_some_and(truthy),
            pairs,
            page,
            offset,
            sort,
            project,
            filters,
        })
    }

    /// Sort, page and count `items` (after the caller filtered them):
    /// past the marker, `offset` more are skipped (as Cinder's query does);
    /// returns the page, the next link (whenever the page is full) and the
    /// count of all matches.
    pub fn apply<T: Serialize>(
        &self,
        items: Vec<T>,
        id: impl Fn(&T) -> &str,
        link_base: &str,
    ) -> VolumeResult<(Vec<T>, Option<Value>, usize)> {
        let mut keyed: Vec<(Value, T)> = items
            .into_iter()
            .map(|t| (serde_json::to_value(&t).unwrap_or(Value::Null), t))
            .collect();
        keyed.sort_by(|(a, _), (b, _)| {
            for (field, desc) in &self.sort {
                let o = compare(&a[field], &b[field]);
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        let count = keyed.len();
        let mut items: Vec<T> = keyed.into_iter().map(|(_, t)| t).collect();
        self.page.skip_past_marker(
            &mut items,
            |t, m| id(t) == m,
            |m| VolumeError::NotFound(format!("Marker {m} could not be found.")),
        )?;
        items.drain(..self.offset.min(items.len()));
        let paged = Page {
            marker: None,
            ..self.page.clone()
        }
        .apply(
            items,
            |_, _| false,
            |_| VolumeError::Internal(String::new()),
        )?;
        let next = match paged.items.last() {
            // Cinder offers the next page whenever this one is full, even
            // when it turns out empty (Tempest checks both ways).
            Some(last) if self.page.is_full(paged.items.len()) => {
                let q = LINKS.next(&self.pairs, self.page.limit, id(last));
                Some(json!([{"rel": "next", "href": format!("{link_base}?{q}")}]))
            }
            _ => None,
        };
        Ok((paged.items, next, count))
    }
}

/// Whether the request named its project after `/v3` (set by the
/// router's rewrite, [`crate::strip_project`]); absent is `false`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProjectInPath(pub bool);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ProjectInPath {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ProjectInPath>()
            .copied()
            .unwrap_or_default())
    }
}

/// The URL of a collection (`volumes/detail`...) for next links, in the
/// request's own form (see the module doc).
pub fn collection_url(
    public_url: &str,
    caller: &Caller,
    form: ProjectInPath,
    path: &str,
) -> String {
    if form.0 {
        format!("{public_url}/v3/{}/{path}", caller.project_id)
    } else {
        format!("{public_url}/v3/{path}")
    }
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// The `metadata` filter: a JSON object (or the Python dict text
/// cinderclient sends) whose every pair the record's metadata holds.
pub fn metadata_matches(filter: &str, metadata: &BTreeMap<String, String>) -> VolumeResult<bool> {
    let parsed: Value = serde_json::from_str(filter)
        .or_else(|_| serde_json::from_str(&filter.replace('\'', "\"")))
        .map_err(|_| {
            VolumeError::BadRequest(format!(
                "Invalid input received: metadata filter {filter} is not a JSON object"
            ))
        })?;
    let Value::Object(wanted) = parsed else {
        return Err(VolumeError::BadRequest(
            "Invalid input received: metadata filter must be an object".into(),
        ));
    };
    Ok(wanted.iter().all(|(k, v)| {
        let v = v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        metadata.get(k) == Some(&v)
    }))
}
