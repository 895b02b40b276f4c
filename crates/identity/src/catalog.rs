//! The service catalog as tokens carry it, cached on the catalog's own
//! generation ([`Dataset::Catalog`]: services, endpoints, regions), so only
//! a catalog change rebuilds it. It is kept serialized too: every token
//! issued or validated carries it, and cloning then serializing the tree
//! on each of them was most of a validation's cost (docs/benchmarks.md).

use crate::error::IdResult;
use crate::service::Identity;
use ferrostack_store::identity::ListFilter;
use ferrostack_store::Dataset;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::sync::Arc;

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
}
