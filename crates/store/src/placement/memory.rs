//! [`MemoryPlacement`]: a working in-memory [`PlacementStore`] for tests,
//! benchmarks and the fake hypervisor's scale runs. One mutex makes every
//! claim check-and-insert atomic, as the SQLite write transaction does.

use super::{check_claims, Allocation, ClaimConflict, Inventory, PlacementStore, ProviderSummary};
use crate::{StoreError, StoreResult};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
struct State {
    providers: BTreeMap<String, ProviderSummary>,
    // consumer -> provider -> resources
    allocations: BTreeMap<String, BTreeMap<String, super::Resources>>,
}

/// In-memory placement state. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct MemoryPlacement {
    state: Mutex<State>,
}

impl MemoryPlacement {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl PlacementStore for MemoryPlacement {
    fn put_provider(
        &self,
        name: &str,
        inventories: &BTreeMap<String, Inventory>,
        expected_generation: Option<u64>,
    ) -> StoreResult<u64> {
        let mut state = self.lock();
        let current = state.providers.get(name).map(|p| p.generation).unwrap_or(0);
        if let Some(expected) = expected_generation {
            if expected != current {
                return Err(StoreError::Conflict(format!(
                    "resource provider {name} is at generation {current}, not {expected}"
                )));
            }
        }
        let provider = state
            .providers
            .entry(name.to_string())
            .or_insert_with(|| ProviderSummary {
                name: name.to_string(),
                generation: 0,
                inventories: BTreeMap::new(),
                usages: BTreeMap::new(),
            });
        provider.inventories = inventories.clone();
        provider.generation += 1;
        Ok(provider.generation)
    }

    fn delete_provider(&self, name: &str) -> StoreResult<()> {
        let mut state = self.lock();
        let provider = state
            .providers
            .get(name)
            .ok_or_else(|| StoreError::not_found("resource provider", name))?;
        if provider.usages.values().any(|&u| u > 0) {
            return Err(StoreError::Conflict(format!(
                "resource provider {name} still has allocations"
            )));
        }
        state.providers.remove(name);
        Ok(())
    }

    fn provider_summaries(&self) -> StoreResult<Vec<ProviderSummary>> {
        Ok(self.lock().providers.values().cloned().collect())
    }

    fn provider_summary(&self, name: &str) -> StoreResult<ProviderSummary> {
        self.lock()
            .providers
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::not_found("resource provider", name))
    }

    fn claim(&self, allocations: &[Allocation]) -> StoreResult<Result<(), ClaimConflict>> {
        let mut state = self.lock();
        for a in allocations {
            if state.allocations.contains_key(&a.consumer) {
                return Err(StoreError::Conflict(format!(
                    "consumer {} already holds allocations",
                    a.consumer
                )));
            }
        }
        if let Err(conflict) = check_claims(allocations, &state.providers) {
            return Ok(Err(conflict));
        }
        for a in allocations
            .iter()
            .filter(|a| a.resources.values().any(|&n| n > 0))
        {
            let held = state
                .allocations
                .entry(a.consumer.clone())
                .or_default()
                .entry(a.provider.clone())
                .or_default();
            for (rc, &amount) in a.resources.iter().filter(|(_, &n)| n > 0) {
                *held.entry(rc.clone()).or_insert(0) += amount;
            }
            if let Some(p) = state.providers.get_mut(&a.provider) {
                for (rc, &amount) in &a.resources {
                    *p.usages.entry(rc.clone()).or_insert(0) += amount;
                }
                p.generation += 1;
            }
        }
        Ok(Ok(()))
    }

    fn release(&self, consumer: &str) -> StoreResult<()> {
        let mut state = self.lock();
        let Some(held) = state.allocations.remove(consumer) else {
            return Ok(());
        };
        for (provider, resources) in held {
            if let Some(p) = state.providers.get_mut(&provider) {
                for (rc, amount) in resources {
                    let used = p.usages.entry(rc).or_insert(0);
                    *used = used.saturating_sub(amount);
                }
                p.generation += 1;
            }
        }
        Ok(())
    }

    fn allocations(&self, consumer: &str) -> StoreResult<Vec<Allocation>> {
        Ok(self
            .lock()
            .allocations
            .get(consumer)
            .map(|held| {
                held.iter()
                    .map(|(provider, resources)| Allocation {
                        consumer: consumer.to_string(),
                        provider: provider.clone(),
                        resources: resources.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::super::conformance;
    use super::MemoryPlacement;

    #[test]
    fn claims_and_releases() {
        conformance::claims_and_releases(&MemoryPlacement::new());
    }

    #[test]
    fn generations_compare_and_swap() {
        conformance::generations_compare_and_swap(&MemoryPlacement::new());
    }

    #[test]
    fn concurrent_claims_never_overcommit() {
        conformance::concurrent_claims_never_overcommit(
            std::sync::Arc::new(MemoryPlacement::new()),
        );
    }
}
