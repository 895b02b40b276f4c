//! One list mechanism for every Neutron collection: filters, `fields=`,
//! sorting, and limit/marker paging with `<collection>_links`.
//!
//! Neutron's lists all read the same query parameters, so every list
//! handler here does the same three steps:
//!
//! ```text
//! let q = ListQuery::parse(&pairs, &NETWORKS)?;   // 400s for bad input
//! let views: Vec<Value> = ...;                     // the caller's visible items, as JSON views
//! Ok(Json(q.render(views, &state.public_url, "/v2.0/networks")?))
//! ```
//!
//! It works over the JSON views in memory rather than in SQL: the views
//! are what the client sees (admin-only attributes already removed), so a
//! filter or sort key means exactly what it means in the response, and at
//! this scale (a project's networks and ports) a pass over a `Vec` costs
//! less than building SQL per attribute. Rejected: a SQL `WHERE` builder
//! per resource, which would have to know every view's derived attribute
//! (`mtu`, `binding:vif_type`, `fixed_ips`) twice.
//!
//! Neutron's rules, kept here (from its `api_common` and `v2/base`):
//! - `attr=v1&attr=v2` matches any of the values; empty values are
//!   dropped; booleans are read as Neutron reads them (`true/t/yes/y/on/1`,
//!   `false/f/no/n/off/0`, any case); an unreadable boolean or integer is
//!   a 400 `InvalidInput`.
//! - A filter on an attribute the collection does not have is a 400
//!   (`['colour'] is invalid attribute for filtering`), as Neutron answers
//!   with its filter-validation extension on (the default). The paging and
//!   projection parameters, and the tag filters, are always accepted.
//! - A filter on a list of objects (`fixed_ips=ip_address=10.0.0.5`,
//!   `fixed_ips=subnet_id=...`) matches when an element has that key and
//!   value; several keys must all match, each by any of its values. A list
//!   of strings matches when it contains any of the values.
//! - `tags` (all of), `tags-any`, `not-tags`, `not-tags-any`, each a
//!   comma-separated list, over the `tags` attribute.
//! - `fields=a&fields=b` (commas also split) keeps only those attributes.
//!   Neutron adds the attributes its policy, sorting and paging need
//!   (`id`, `tenant_id`, sort keys) to the query and strips them again
//!   when not asked for, so they are not kept here either; paging still
//!   uses the full items.
//! - `sort_key`/`sort_dir` come in pairs: as many directions as keys, each
//!   `asc` or `desc`, keys among the collection's attributes, or a 400;
//!   `id` is always the last key so paging is stable. Without a sort,
//!   items come in `id` order.
//! - `limit` (0 = no limit; malformed -> 400 `BadRequest`), `marker` (an
//!   id; unknown -> 404, as Neutron's marker lookup answers),
//!   `page_reverse=True` (only `true`, any case: the page before the
//!   marker). Links, as Neutron's `get_pagination_links` makes them when
//!   `limit` is given: `next` unless a forward page came back short,
//!   `previous` unless a reversed page came back short; each is this
//!   request's query, in its order, without `marker` and `page_reverse`,
//!   then `marker` (the last item for next, the first for previous), then
//!   `page_reverse=True` for previous.

use crate::error::{NetworkError, NetworkResult};
use axum::extract::{FromRequestParts, Query};
use http::request::Parts;
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::cmp::Ordering;

/// How an attribute's filter values are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Compared as text (ids, names, addresses, `null` never matches).
    Str,
    /// Read as Neutron reads a boolean; a bad value is a 400.
    Bool,
    /// Read as an integer; a bad value is a 400.
    Int,
    /// A list: of strings (contains any value) or of objects (`key=value`).
    List,
}

/// An attribute a client may filter and sort by.
#[derive(Clone, Copy, Debug)]
pub struct Attr {
    /// The attribute's name in the view (`name`, `router:external`).
    pub name: &'static str,
    /// How its filter values are read.
    pub kind: Kind,
}

/// A collection's list description: its name and filterable attributes.
#[derive(Clone, Copy, Debug)]
pub struct Collection {
    /// The plural (`networks`): the list's key and `<name>_links`.
    pub name: &'static str,
    /// Neutron's name of one item, for the marker's 404 (`Network`).
    pub singular_title: &'static str,
    /// Attributes a client may filter and sort by.
    pub attributes: &'static [Attr],
}

/// Shorthand for a text attribute in a [`Collection`] table.
pub const fn text(name: &'static str) -> Attr {
    Attr {
        name,
        kind: Kind::Str,
    }
}

/// Shorthand for a boolean attribute.
pub const fn boolean(name: &'static str) -> Attr {
    Attr {
        name,
        kind: Kind::Bool,
    }
}

/// Shorthand for an integer attribute.
pub const fn int(name: &'static str) -> Attr {
    Attr {
        name,
        kind: Kind::Int,
    }
}

/// Shorthand for a list attribute.
pub const fn list(name: &'static str) -> Attr {
    Attr {
        name,
        kind: Kind::List,
    }
}

/// Parameters that are never filters.
const CONTROL: &[&str] = &[
    "fields",
    "sort_key",
    "sort_dir",
    "limit",
    "marker",
    "page_reverse",
    "tags",
    "tags-any",
    "not-tags",
    "not-tags-any",
];

/// Every query parameter of a request, in order, repeats kept.
#[derive(Clone, Debug, Default)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = NetworkError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|Query(pairs)| QueryPairs(pairs))
            .map_err(|_| NetworkError::bad_request("Malformed query string."))
    }
}

impl QueryPairs {
    /// The last value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// `fields=` projection, also accepted by `GET` of one item.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields(pub Vec<String>);

impl Fields {
    /// Read every `fields` parameter (commas split too).
    pub fn parse(pairs: &QueryPairs) -> Fields {
        Fields(
            pairs
                .all("fields")
                .iter()
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    /// Keep only the asked attributes of `item` (all when none were asked).
    pub fn project(&self, item: Value) -> Value {
        if self.0.is_empty() {
            return item;
        }
        match item {
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .filter(|(k, _)| self.0.iter().any(|f| f == k))
                    .collect::<Map<_, _>>(),
            ),
            other => other,
        }
    }
}

/// Parse a boolean as Neutron does (oslo's strict `bool_from_string`).
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}

/// One attribute filter: its attribute and accepted values.
#[derive(Clone, Debug)]
struct Filter {
    attr: Attr,
    values: Vec<String>,
}

/// A parsed list request.
#[derive(Clone, Debug)]
pub struct ListQuery {
    collection: Collection,
    filters: Vec<Filter>,
    tags_all: Vec<String>,
    tags_any: Vec<String>,
    not_tags_all: Vec<String>,
    not_tags_any: Vec<String>,
    /// The `fields=` projection.
    pub fields: Fields,
    sorts: Vec<(String, bool)>,
    limit: Option<usize>,
    marker: Option<String>,
    page_reverse: bool,
    pairs: Vec<(String, String)>,
}

fn tag_list(pairs: &QueryPairs, name: &str) -> Vec<String> {
    pairs
        .all(name)
        .iter()
        .flat_map(|v| v.split(','))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

impl ListQuery {
    /// Read a list request's parameters for `collection`; malformed ones
    /// answer Neutron's 400.
    pub fn parse(pairs: &QueryPairs, collection: &Collection) -> NetworkResult<ListQuery> {
        let mut filters: Vec<Filter> = Vec::new();
        let mut invalid: Vec<&str> = Vec::new();
        for (key, value) in &pairs.0 {
            if CONTROL.contains(&key.as_str()) {
                continue;
            }
            let Some(attr) = collection.attributes.iter().find(|a| a.name == key) else {
                if !invalid.contains(&key.as_str()) {
                    invalid.push(key);
                }
                continue;
            };
            // Neutron drops empty values (no `empty-string-filtering`).
            if value.is_empty() {
                continue;
            }
            match attr.kind {
                Kind::Bool if parse_bool(value).is_none() => {
                    return Err(NetworkError::invalid_operation(format!(
                        "'{value}' cannot be converted to boolean"
                    )))
                }
                Kind::Int if value.trim().parse::<i64>().is_err() => {
                    return Err(NetworkError::invalid_operation(format!(
                        "'{value}' is not an integer"
                    )))
                }
                _ => {}
            }
            match filters.iter_mut().find(|f| f.attr.name == key) {
                Some(f) => f.values.push(value.clone()),
                None => filters.push(Filter {
                    attr: *attr,
                    values: vec![value.clone()],
                }),
            }
        }
        if !invalid.is_empty() {
            return Err(NetworkError::bad_request(format!(
                "{} is invalid attribute for filtering",
                py_list(&invalid)
            )));
        }

        let keys: Vec<&str> = pairs
            .all("sort_key")
            .into_iter()
            .filter(|k| !k.is_empty())
            .collect();
        let dirs: Vec<&str> = pairs
            .all("sort_dir")
            .into_iter()
            .filter(|d| !d.is_empty())
            .collect();
        if keys.len() != dirs.len() {
            return Err(NetworkError::bad_request(
                "The number of sort_keys and sort_dirs must be same",
            ));
        }
        let absent: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| *k != "id" && !collection.attributes.iter().any(|a| a.name == *k))
            .collect();
        if !absent.is_empty() {
            return Err(NetworkError::bad_request(format!(
                "{} is invalid attribute for sort_keys",
                py_list(&absent)
            )));
        }
        let bad_dirs: Vec<&str> = dirs
            .iter()
            .copied()
            .filter(|d| *d != "asc" && *d != "desc")
            .collect();
        if !bad_dirs.is_empty() {
            return Err(NetworkError::bad_request(format!(
                "{} is invalid value for sort_dirs, valid value is 'asc' and 'desc'",
                py_list(&bad_dirs)
            )));
        }
        let mut sorts: Vec<(String, bool)> = keys
            .iter()
            .zip(&dirs)
            .map(|(k, d)| (k.to_string(), *d == "asc"))
            .collect();
        if !sorts.iter().any(|(k, _)| k == "id") {
            sorts.push(("id".into(), true));
        }

        let limit = match pairs.get("limit") {
            None => None,
            Some(raw) => match raw.trim().parse::<i64>() {
                Ok(n) if n >= 0 => {
                    Some(usize::try_from(n).unwrap_or(usize::MAX)).filter(|n| *n > 0)
                }
                _ => {
                    return Err(NetworkError::new(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        format!(
                        "Bad limit request: Limit must be an integer 0 or greater and not '{raw}'."
                    ),
                    ))
                }
            },
        };
        // As Neutron: only `true` (any case) reverses; anything else does not.
        let page_reverse = pairs
            .get("page_reverse")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));

        Ok(ListQuery {
            collection: *collection,
            filters,
            tags_all: tag_list(pairs, "tags"),
            tags_any: tag_list(pairs, "tags-any"),
            not_tags_all: tag_list(pairs, "not-tags"),
            not_tags_any: tag_list(pairs, "not-tags-any"),
            fields: Fields::parse(pairs),
            sorts,
            limit,
            marker: pairs.get("marker").map(str::to_string),
            page_reverse,
            pairs: pairs.0.clone(),
        })
    }

    /// Does `item` pass every filter (attributes and tags)?
    pub fn matches(&self, item: &Value) -> bool {
        self.filters.iter().all(|f| filter_matches(f, item)) && self.tags_match(item)
    }

    fn tags_match(&self, item: &Value) -> bool {
        let tags: Vec<&str> = item
            .get("tags")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let has = |t: &String| tags.contains(&t.as_str());
        (self.tags_all.is_empty() || self.tags_all.iter().all(has))
            && (self.tags_any.is_empty() || self.tags_any.iter().any(has))
            && (self.not_tags_all.is_empty() || !self.not_tags_all.iter().all(has))
            && (self.not_tags_any.is_empty() || !self.not_tags_any.iter().any(has))
    }

    fn compare(&self, a: &Value, b: &Value) -> Ordering {
        for (key, ascending) in &self.sorts {
            let ord = compare_values(a.get(key), b.get(key));
            let ord = if *ascending { ord } else { ord.reverse() };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }

    /// Filter, sort and page `items` (the caller's visible views) and
    /// project them: the list body, `{"<collection>": [...]}` with
    /// `<collection>_links` when paged. `base_url` is the listener's
    /// public URL and `path` the collection's path (`/v2.0/networks`).
    pub fn render(&self, items: Vec<Value>, base_url: &str, path: &str) -> NetworkResult<Value> {
        let mut items: Vec<Value> = items.into_iter().filter(|i| self.matches(i)).collect();
        items.sort_by(|a, b| self.compare(a, b));

        if let Some(marker) = &self.marker {
            let at = items
                .iter()
                .position(|i| i.get("id").and_then(Value::as_str) == Some(marker))
                .ok_or_else(|| {
                    NetworkError::new(
                        StatusCode::NOT_FOUND,
                        "HTTPNotFound",
                        format!(
                            "{} {marker} could not be found.",
                            self.collection.singular_title
                        ),
                    )
                })?;
            if self.page_reverse {
                items.truncate(at);
            } else {
                items.drain(..=at);
            }
        }
        if let Some(limit) = self.limit {
            if self.page_reverse {
                let start = items.len().saturating_sub(limit);
                items.drain(..start);
            } else {
                items.truncate(limit);
            }
        }

        let mut body = Map::new();
        if let Some(limit) = self.limit {
            // Neutron's `get_pagination_links`: a short page ends the
            // direction it was read in, and only that one.
            let short = items.len() < limit;
            let id_of = |i: Option<&Value>| {
                i.and_then(|i| i.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            let mut links = Vec::new();
            if !short || self.page_reverse {
                let href = self.link(base_url, path, id_of(items.last()), false);
                links.push(json!({"rel": "next", "href": href}));
            }
            if !short || !self.page_reverse {
                let href = self.link(base_url, path, id_of(items.first()), true);
                links.push(json!({"rel": "previous", "href": href}));
            }
            body.insert(
                format!("{}_links", self.collection.name),
                Value::Array(links),
            );
        }
        let items: Vec<Value> = items.into_iter().map(|i| self.fields.project(i)).collect();
        body.insert(self.collection.name.to_string(), Value::Array(items));
        Ok(Value::Object(body))
    }

    /// This request's query with the marker replaced (and, for the
    /// previous page, `page_reverse=True` last), as Neutron writes links.
    fn link(&self, base_url: &str, path: &str, marker: Option<String>, previous: bool) -> String {
        let mut query: Vec<String> = self
            .pairs
            .iter()
            .filter(|(k, _)| k != "marker" && k != "page_reverse")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        if let Some(m) = marker {
            query.push(format!("marker={}", encode(&m)));
        }
        if previous {
            query.push("page_reverse=True".into());
        }
        format!("{base_url}{path}?{}", query.join("&"))
    }
}

/// Python's repr of a list of strings, as Neutron's messages print it.
fn py_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("[{}]", quoted.join(", "))
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn scalar_matches(kind: Kind, value: &Value, wanted: &str) -> bool {
    match (kind, value) {
        (_, Value::Null) => false,
        (Kind::Bool, Value::Bool(b)) => parse_bool(wanted) == Some(*b),
        (_, Value::Number(n)) => wanted.trim().parse::<f64>().ok() == n.as_f64(),
        (_, Value::String(s)) => s == wanted,
        (_, Value::Bool(b)) => parse_bool(wanted) == Some(*b),
        _ => false,
    }
}

fn filter_matches(filter: &Filter, item: &Value) -> bool {
    let Some(value) = item.get(filter.attr.name) else {
        return false;
    };
    match value {
        Value::Array(elements) => {
            // `key=value` filters over a list of objects: every key given
            // must be met by some element, by any of its values.
            let mut by_key: Vec<(&str, Vec<&str>)> = Vec::new();
            let mut plain: Vec<&str> = Vec::new();
            for v in &filter.values {
                match v.split_once('=') {
                    Some((k, val)) if elements.iter().any(Value::is_object) => {
                        match by_key.iter_mut().find(|(key, _)| *key == k) {
                            Some((_, vals)) => vals.push(val),
                            None => by_key.push((k, vec![val])),
                        }
                    }
                    _ => plain.push(v),
                }
            }
            let keyed = by_key.iter().all(|(k, vals)| {
                elements.iter().any(|e| {
                    e.get(*k)
                        .is_some_and(|x| vals.iter().any(|v| scalar_matches(Kind::Str, x, v)))
                })
            });
            let plain_ok = plain.is_empty()
                || elements
                    .iter()
                    .any(|e| plain.iter().any(|v| scalar_matches(Kind::Str, e, v)));
            keyed && plain_ok && (!by_key.is_empty() || !plain.is_empty())
        }
        scalar => filter
            .values
            .iter()
            .any(|v| scalar_matches(filter.attr.kind, scalar, v)),
    }
}

fn rank(v: Option<&Value>) -> u8 {
    match v {
        None | Some(Value::Null) => 0,
        Some(Value::Bool(_)) => 1,
        Some(Value::Number(_)) => 2,
        Some(Value::String(_)) => 3,
        _ => 4,
    }
}

fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
