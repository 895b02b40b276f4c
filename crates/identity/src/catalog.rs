//! The service catalog as tokens carry it, cached on the catalog's own
//! generation ([`Dataset::Catalog`]: services, endpoints, regions, and the
//! OS-EP-FILTER associations), so only a catalog change rebuilds it. It is
//! kept serialized too: every token issued or validated carries it, and
//! cloning then serializing the tree on each of them was most of a
//! validation's cost (docs/benchmarks.md).
//!
//! Project endpoint filtering (OS-EP-FILTER): a project associated with
//! endpoints, directly or through endpoint groups, gets a catalog of those
//! endpoints only in its project-scoped tokens; a project with no
//! association, and every other scope, gets the whole catalog (Keystone's
//! behaviour). The allowed endpoints of every filtered project are worked
//! out once per catalog generation, so a token pays a map lookup.

use crate::error::IdResult;
use crate::service::Identity;
use ferrostack_store::endpoint_filter::EndpointGroup;
use ferrostack_store::identity::{Endpoint, ListFilter};
use ferrostack_store::Dataset;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Project id to the endpoint ids its catalog is limited to.
pub(crate) type EndpointFilters = HashMap<String, BTreeSet<String>>;

impl Identity {
    /// The catalog (enabled services with their enabled endpoints).
    pub fn catalog(&self) -> IdResult<Arc<Value>> {
        Ok(self.cached_catalog()?.0)
    }

    /// The catalog, serialized once per catalog change.
    pub fn catalog_json(&self) -> IdResult<Arc<RawValue>> {
        Ok(self.cached_catalog()?.1)
    }

    fn cached_catalog(&self) -> IdResult<(Arc<Value>, Arc<RawValue>)> {
        let generation = self.store.generation(Dataset::Catalog);
        if let Some((g, c, raw)) = self
            .catalog_cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            if *g == generation {
                return Ok((c.clone(), raw.clone()));
            }
        }
        let endpoints = self.store.list_endpoints()?;
        let mut out = Vec::new();
        for s in self.store.list_services(&ListFilter::default())? {
            if !s.enabled {
                continue;
            }
            let eps: Vec<Value> = endpoints
                .iter()
                .filter(|e| e.service_id == s.id && e.enabled)
                .map(|e| {
                    json!({
                        "id": e.id,
                        "interface": e.interface,
                        "region": e.region_id,
                        "region_id": e.region_id,
                        "url": e.url,
                    })
                })
                .collect();
            out.push(json!({"id": s.id, "type": s.service_type, "name": s.name, "endpoints": eps}));
        }
        let catalog = Arc::new(Value::Array(out));
        let raw: Arc<RawValue> = serde_json::value::to_raw_value(&*catalog)
            .map_err(|e| crate::error::IdentityError::internal(&e))?
            .into();
        *self
            .catalog_cache
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some((generation, catalog.clone(), raw.clone()));
        Ok((catalog, raw))
    }

    /// The catalog a token scoped to `project_id` carries: filtered when
    /// the project has endpoint associations.
    pub fn catalog_for(&self, project_id: Option<&str>) -> IdResult<Arc<Value>> {
        let full = self.catalog()?;
        let Some(project_id) = project_id else {
            return Ok(full);
        };
        let filters = self.endpoint_filters()?;
        let Some(allowed) = filters.get(project_id) else {
            return Ok(full);
        };
        let services = full.as_array().cloned().unwrap_or_default();
        let filtered: Vec<Value> = services
            .into_iter()
            .filter_map(|mut s| {
                let eps: Vec<Value> = s["endpoints"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|e| e["id"].as_str().is_some_and(|i| allowed.contains(i)))
                    .collect();
                if eps.is_empty() {
                    return None;
                }
                s["endpoints"] = Value::Array(eps);
                Some(s)
            })
            .collect();
        Ok(Arc::new(Value::Array(filtered)))
    }

    /// [`Identity::catalog_for`] serialized: the cached text unless the
    /// project's catalog is filtered.
    pub fn catalog_json_for(&self, project_id: Option<&str>) -> IdResult<Arc<RawValue>> {
        let filtered = match project_id {
            Some(p) => self.endpoint_filters()?.contains_key(p),
            None => false,
        };
        if !filtered {
            return self.catalog_json();
        }
        let catalog = self.catalog_for(project_id)?;
        Ok(serde_json::value::to_raw_value(&*catalog)
            .map_err(|e| crate::error::IdentityError::internal(&e))?
            .into())
    }

    /// Every filtered project's allowed endpoints, cached on the catalog generation.
    pub(crate) fn endpoint_filters(&self) -> IdResult<Arc<EndpointFilters>> {
        let generation = self.store.generation(Dataset::Catalog);
        if let Some((g, f)) = self
            .endpoint_filter_cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            if *g == generation {
                return Ok(f.clone());
            }
        }
        let endpoints = self.store.list_endpoints()?;
        let groups: HashMap<String, EndpointGroup> = self
            .store
            .list_endpoint_groups()?
            .into_iter()
            .map(|g| (g.id.clone(), g))
            .collect();
        let mut out = EndpointFilters::new();
        for (project, endpoint) in self.store.list_project_endpoints()? {
            out.entry(project).or_default().insert(endpoint);
        }
        for (project, group) in self.store.list_project_endpoint_groups()? {
            let entry = out.entry(project).or_default();
            if let Some(g) = groups.get(&group) {
                entry.extend(
                    endpoints
                        .iter()
                        .filter(|e| group_matches(g, e))
                        .map(|e| e.id.clone()),
                );
            }
        }
        let out = Arc::new(out);
        *self
            .endpoint_filter_cache
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some((generation, out.clone()));
        Ok(out)
    }
}

/// Does the endpoint have every attribute value the group's filter names?
/// (Keystone matches `service_id`, `region_id` and `interface`.)
pub fn group_matches(g: &EndpointGroup, e: &Endpoint) -> bool {
    g.filters.iter().all(|(k, v)| {
        let want = v.as_str();
        match k.as_str() {
            "service_id" => want == Some(e.service_id.as_str()),
            "region_id" => want == e.region_id.as_deref(),
            "interface" => want == Some(e.interface.as_str()),
            _ => false,
        }
    })
}
