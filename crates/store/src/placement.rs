//! Placement records (resource providers, inventories, allocations) and the
//! [`PlacementStore`] trait the scheduler claims resources through.
//!
//! This is OpenStack placement's data model reduced to what scheduling
//! needs: a resource provider (one per compute host, named after it) has an
//! inventory per resource class (`VCPU`, `MEMORY_MB`, `DISK_GB`) with
//! `total`, `reserved`, `allocation_ratio` and unit rules; a consumer (an
//! instance uuid) holds allocations against providers; usage is the sum of
//! allocations, counted, never cached. Every change to a provider's
//! inventory or allocations bumps its generation, so a writer that read the
//! provider can compare-and-swap against it.
//!
//! The rule that keeps hosts from being double-booked lives in one place,
//! [`check_claims`]: both implementations gather the providers a claim
//! touches and call it inside their critical section (the SQLite one inside
//! a serialized `BEGIN IMMEDIATE` transaction, the in-memory one under its
//! mutex), then insert. A batch of allocations (a multi-create) is checked
//! as a whole and recorded all or nothing.
//!
//! Rejected: checking capacity with provider generations alone (placement's
//! way across processes). Two schedulers picking the same roomy host would
//! then conflict needlessly; a capacity check in the write transaction lets
//! both succeed while there is room and refuses exactly when there is none.

#[cfg(test)]
mod conformance;
mod memory;
mod sqlite;

pub use memory::MemoryPlacement;

use crate::StoreResult;
use std::collections::BTreeMap;

/// Resource class of virtual CPUs.
pub const VCPU: &str = "VCPU";
/// Resource class of memory, in MiB.
pub const MEMORY_MB: &str = "MEMORY_MB";
/// Resource class of local disk, in GiB.
pub const DISK_GB: &str = "DISK_GB";

/// Amounts by resource class.
pub type Resources = BTreeMap<String, u64>;

/// One resource class of a provider's inventory.
#[derive(Clone, Debug, PartialEq)]
pub struct Inventory {
    /// Physical amount.
    pub total: u64,
    /// Amount kept for the host itself, never allocated.
    pub reserved: u64,
    /// Smallest amount one allocation may take.
    pub min_unit: u64,
    /// Largest amount one allocation may take.
    pub max_unit: u64,
    /// Allocations must be a multiple of this.
    pub step_size: u64,
    /// Overcommit factor applied to `total - reserved`.
    pub allocation_ratio: f64,
}

impl Inventory {
    /// An inventory with placement's default unit rules (`min_unit` 1,
    /// `max_unit` = `total`, `step_size` 1).
    pub fn new(total: u64, reserved: u64, allocation_ratio: f64) -> Self {
        Inventory {
            total,
            reserved,
            min_unit: 1,
            max_unit: total.max(1),
            step_size: 1,
            allocation_ratio,
        }
    }

    /// What may be allocated in all: `(total - reserved) * allocation_ratio`,
    /// rounded down as placement does.
    pub fn capacity(&self) -> u64 {
        let usable = self.total.saturating_sub(self.reserved) as f64;
        (usable * self.allocation_ratio).floor().max(0.0) as u64
    }

    /// Whether one more allocation of `amount` fits on top of `used`.
    pub fn check(&self, used: u64, amount: u64) -> Result<(), Refusal> {
        if amount < self.min_unit {
            return Err(Refusal::BelowMinUnit {
                min_unit: self.min_unit,
            });
        }
        if amount > self.max_unit {
            return Err(Refusal::AboveMaxUnit {
                max_unit: self.max_unit,
            });
        }
        if self.step_size > 1 && !amount.is_multiple_of(self.step_size) {
            return Err(Refusal::NotStepMultiple {
                step_size: self.step_size,
            });
        }
        let capacity = self.capacity();
        if used.saturating_add(amount) > capacity {
            return Err(Refusal::Exhausted { capacity, used });
        }
        Ok(())
    }
}

/// Why an amount of a resource class cannot be allocated on a provider.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The provider does not exist.
    #[error("no such resource provider")]
    NoProvider,
    /// The provider has no inventory of the class.
    #[error("no inventory of this resource class")]
    NoInventory,
    /// Smaller than the inventory's `min_unit`.
    #[error("below min_unit {min_unit}")]
    BelowMinUnit {
        /// The inventory's minimum.
        min_unit: u64,
    },
    /// Larger than the inventory's `max_unit`.
    #[error("above max_unit {max_unit}")]
    AboveMaxUnit {
        /// The inventory's maximum.
        max_unit: u64,
    },
    /// Not a multiple of the inventory's `step_size`.
    #[error("not a multiple of step_size {step_size}")]
    NotStepMultiple {
        /// The inventory's step.
        step_size: u64,
    },
    /// Capacity (after reserved and allocation ratio) would be exceeded.
    #[error("capacity {capacity} exhausted ({used} used)")]
    Exhausted {
        /// `(total - reserved) * allocation_ratio`.
        capacity: u64,
        /// Already allocated, including earlier parts of the same claim.
        used: u64,
    },
}

/// A provider with its inventories and current usage, as read at `generation`.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderSummary {
    /// Provider name: the compute host's name.
    pub name: String,
    /// Bumped by every inventory or allocation change.
    pub generation: u64,
    /// Inventory by resource class.
    pub inventories: BTreeMap<String, Inventory>,
    /// Sum of allocations by resource class.
    pub usages: Resources,
}

impl ProviderSummary {
    /// Amount of `resource_class` in use.
    pub fn used(&self, resource_class: &str) -> u64 {
        self.usages.get(resource_class).copied().unwrap_or(0)
    }

    /// Whether `amount` of `resource_class` fits now. A zero amount always fits.
    pub fn check(&self, resource_class: &str, amount: u64) -> Result<(), Refusal> {
        if amount == 0 {
            return Ok(());
        }
        self.inventories
            .get(resource_class)
            .ok_or(Refusal::NoInventory)?
            .check(self.used(resource_class), amount)
    }
}

/// Resources one consumer takes from one provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    /// The consumer: an instance uuid.
    pub consumer: String,
    /// The provider's name.
    pub provider: String,
    /// Amounts by resource class (zero amounts are not recorded).
    pub resources: Resources,
}

/// A claim that did not fit; nothing of it was recorded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot allocate {requested} {resource_class} for {consumer} on {provider}")]
pub struct ClaimConflict {
    /// The consumer whose allocation did not fit.
    pub consumer: String,
    /// The provider it did not fit on.
    pub provider: String,
    /// The resource class that ran out.
    pub resource_class: String,
    /// The amount asked for.
    pub requested: u64,
    /// Why it did not fit.
    #[source]
    pub reason: Refusal,
}

/// Check a batch of allocations against the providers it touches, counting
/// earlier allocations of the batch as used by later ones. `providers` must
/// hold a current summary of every provider the batch names (a missing one
/// is refused as [`Refusal::NoProvider`]).
pub fn check_claims(
    allocations: &[Allocation],
    providers: &BTreeMap<String, ProviderSummary>,
) -> Result<(), ClaimConflict> {
    let mut pending: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for a in allocations {
        for (rc, &amount) in &a.resources {
            if amount == 0 {
                continue;
            }
            let conflict = |reason| ClaimConflict {
                consumer: a.consumer.clone(),
                provider: a.provider.clone(),
                resource_class: rc.clone(),
                requested: amount,
                reason,
            };
            let provider = providers
                .get(&a.provider)
                .ok_or_else(|| conflict(Refusal::NoProvider))?;
            let inventory = provider
                .inventories
                .get(rc)
                .ok_or_else(|| conflict(Refusal::NoInventory))?;
            let already = pending.entry((&a.provider, rc)).or_insert(0);
            inventory
                .check(provider.used(rc) + *already, amount)
                .map_err(conflict)?;
            *already += amount;
        }
    }
    Ok(())
}

/// Stored placement state: providers, inventories and allocations.
pub trait PlacementStore: Send + Sync {
    /// Create the provider `name` or replace its inventories. With
    /// `expected_generation`, refuse with [`crate::StoreError::Conflict`]
    /// unless the provider is at that generation (`0` = must not exist yet).
    /// Shrinking an inventory below current usage is allowed (it only
    /// blocks new claims), unlike placement, so a host that lost memory can
    /// still report it. Returns the new generation.
    fn put_provider(
        &self,
        name: &str,
        inventories: &BTreeMap<String, Inventory>,
        expected_generation: Option<u64>,
    ) -> StoreResult<u64>;
    /// Delete a provider; [`crate::StoreError::Conflict`] while it holds allocations.
    fn delete_provider(&self, name: &str) -> StoreResult<()>;
    /// Every provider with inventories and usage, ordered by name.
    fn provider_summaries(&self) -> StoreResult<Vec<ProviderSummary>>;
    /// One provider; [`crate::StoreError::NotFound`] if absent.
    fn provider_summary(&self, name: &str) -> StoreResult<ProviderSummary>;
    /// Atomically check and record `allocations` (all or none). A consumer
    /// that already holds allocations is a [`crate::StoreError::Conflict`];
    /// capacity running out is the inner `Err`, and records nothing.
    fn claim(&self, allocations: &[Allocation]) -> StoreResult<Result<(), ClaimConflict>>;
    /// Drop everything `consumer` holds. Releasing nothing is not an error.
    fn release(&self, consumer: &str) -> StoreResult<()>;
    /// What `consumer` holds, one entry per provider.
    fn allocations(&self, consumer: &str) -> StoreResult<Vec<Allocation>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(name: &str, vcpu_total: u64, used: u64) -> ProviderSummary {
        ProviderSummary {
            name: name.into(),
            generation: 1,
            inventories: [(VCPU.to_string(), Inventory::new(vcpu_total, 0, 1.0))].into(),
            usages: [(VCPU.to_string(), used)].into(),
        }
    }

    fn alloc(consumer: &str, provider: &str, vcpus: u64) -> Allocation {
        Allocation {
            consumer: consumer.into(),
            provider: provider.into(),
            resources: [(VCPU.to_string(), vcpus)].into(),
        }
    }

    #[test]
    fn capacity_applies_reserved_then_ratio() {
        assert_eq!(Inventory::new(8, 0, 4.0).capacity(), 32);
        assert_eq!(Inventory::new(4096, 512, 1.0).capacity(), 3584);
        assert_eq!(Inventory::new(10, 3, 1.5).capacity(), 10);
        assert_eq!(Inventory::new(1, 4, 2.0).capacity(), 0);
    }

    #[test]
    fn unit_rules_are_enforced() {
        let mut inv = Inventory::new(16, 0, 1.0);
        inv.max_unit = 8;
        inv.step_size = 2;
        assert!(matches!(inv.check(0, 9), Err(Refusal::AboveMaxUnit { .. })));
        assert!(matches!(
            inv.check(0, 3),
            Err(Refusal::NotStepMultiple { .. })
        ));
        assert!(inv.check(8, 8).is_ok());
        assert!(matches!(
            inv.check(10, 8),
            Err(Refusal::Exhausted { capacity: 16, .. })
        ));
    }

    #[test]
    fn a_batch_counts_its_own_earlier_allocations() {
        let providers = [("h1".to_string(), summary("h1", 4, 1))].into();
        assert!(check_claims(&[alloc("a", "h1", 3)], &providers).is_ok());
        let err = check_claims(&[alloc("a", "h1", 2), alloc("b", "h1", 2)], &providers)
            .expect_err("second allocation exceeds");
        assert_eq!(err.consumer, "b");
        assert_eq!(
            err.reason,
            Refusal::Exhausted {
                capacity: 4,
                used: 3
            }
        );
    }

    #[test]
    fn unknown_provider_and_class_are_refused() {
        let providers = [("h1".to_string(), summary("h1", 4, 0))].into();
        let err = check_claims(&[alloc("a", "h2", 1)], &providers).unwrap_err();
        assert_eq!(err.reason, Refusal::NoProvider);
        let mut a = alloc("a", "h1", 1);
        a.resources.insert(DISK_GB.into(), 1);
        let err = check_claims(&[a], &providers).unwrap_err();
        assert_eq!(err.reason, Refusal::NoInventory);
    }
}
