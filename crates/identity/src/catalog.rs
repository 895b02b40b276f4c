//! The service catalog as tokens carry it, cached on the catalog's own
//! generation ([`Dataset::Catalog`]: services, endpoints, regions), so only
//! a catalog change rebuilds it.

use crate::error::IdResult;
use crate::service::Identity;
use ferrostack_store::identity::ListFilter;
use ferrostack_store::Dataset;
use serde_json::{json, Value};
use std::sync::Arc;

impl Identity {
    /// The catalog (enabled services with their enabled endpoints).
    pub fn catalog(&self) -> IdResult<Arc<Value>> {
        let generation = self.store.generation(Dataset::Catalog);
        if let Some((g, c)) = self
            .catalog_cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            if *g == generation {
                return Ok(c.clone());
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
        *self
            .catalog_cache
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some((generation, catalog.clone()));
        Ok(catalog)
    }
}
