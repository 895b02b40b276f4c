//! [`Scheduler`]: snapshot → filters → weighers → atomic claim, retried
//! when a claim loses a race.
//!
//! ```text
//!  schedule(spec, hosts)
//!    loop attempt in 1..=max_claim_attempts
//!      snapshot = placement.provider_summaries() ⋈ hosts (by name)
//!      for each instance of the request:
//!         placement check → filters → weighers → best (or random in top
//!         host_subset_size) → consume it in the snapshot
//!         none left → NoValidHost (with per-filter counts), claim nothing
//!      placement.claim(all instances)      (one serialized write)
//!         ok        → selections
//!         conflict  → someone took the room since the snapshot: re-read, again
//!    → ClaimRetriesExhausted
//! ```
//!
//! Multi-create claims every instance in one batch, so it lands whole or
//! not at all; a failure leaves no allocation behind.

use crate::filters::{default_filters, placement_filters, Filter, FilterContext};
use crate::host::{HostInfo, HostState};
use crate::request::RequestSpec;
use crate::weighers::{default_weighers, weigh_hosts, Weigher};
use ferrostack_store::placement::{Allocation, PlacementStore, ProviderSummary, Resources};
use ferrostack_store::StoreError;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// How many hosts one filter let through, for the `NoValidHost` log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterResult {
    /// Filter name.
    pub name: &'static str,
    /// Hosts it was given.
    pub start: usize,
    /// Hosts it passed.
    pub end: usize,
}

impl FilterResult {
    /// Hosts the filter removed.
    pub fn removed(&self) -> usize {
        self.start - self.end
    }
}

impl fmt::Display for FilterResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: (start: {}, end: {})",
            self.name, self.start, self.end
        )
    }
}

/// No host can take the request. The message is Nova's fault message;
/// [`NoValidHost::filter_summary`] is what goes to the log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("No valid host was found. {reason}")]
pub struct NoValidHost {
    /// The instance that found no host (the first of the request that failed).
    pub instance_uuid: String,
    /// Why, for the user (`There are not enough hosts available.`).
    pub reason: String,
    /// Each filter run, in order, up to the one that removed the last host.
    pub filter_results: Vec<FilterResult>,
}

impl NoValidHost {
    /// Nova's log form: `['ComputeFilter: (start: 5, end: 3)', ...]`.
    pub fn filter_summary(&self) -> String {
        let parts: Vec<String> = self
            .filter_results
            .iter()
            .map(|r| format!("'{r}'"))
            .collect();
        format!("[{}]", parts.join(", "))
    }
}

/// Why scheduling failed.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// No host passes (the user's fault message).
    #[error(transparent)]
    NoValidHost(#[from] NoValidHost),
    /// Every attempt found a host but lost the claim to a concurrent
    /// request; the caller may try again.
    #[error("scheduling lost {attempts} claim races in a row")]
    ClaimRetriesExhausted {
        /// Attempts made.
        attempts: usize,
    },
    /// The request is malformed (no instances).
    #[error("{0}")]
    InvalidRequest(String),
    /// The placement store failed.
    #[error("placement store failed")]
    Store(#[from] StoreError),
}

/// Where one instance goes, and what it holds there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// The instance.
    pub instance_uuid: String,
    /// The chosen host.
    pub host: String,
    /// Resources claimed on it.
    pub allocation: Resources,
}

/// Scheduler settings; defaults are Nova's.
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// Pick randomly among the best N hosts (Nova's `host_subset_size`, 1:
    /// always the best, ties broken by host name).
    pub host_subset_size: usize,
    /// Snapshots taken before giving up when claims keep losing races.
    pub max_claim_attempts: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            host_subset_size: 1,
            max_claim_attempts: 8,
        }
    }
}

/// The source of "now" (a trait so tests can move time).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The filter scheduler.
pub struct Scheduler {
    placement: Arc<dyn PlacementStore>,
    placement_filters: Vec<Box<dyn Filter>>,
    filters: Vec<Box<dyn Filter>>,
    weighers: Vec<Box<dyn Weigher>>,
    config: SchedulerConfig,
    clock: Clock,
}

impl Scheduler {
    /// A scheduler with Nova's default filters and weighers.
    pub fn new(placement: Arc<dyn PlacementStore>, config: SchedulerConfig) -> Self {
        Scheduler {
            placement,
            placement_filters: placement_filters(),
            filters: default_filters(),
            weighers: default_weighers(),
            config,
            clock: Arc::new(SystemTime::now),
        }
    }

    /// Replace the enabled filters (the placement check always runs).
    pub fn with_filters(mut self, filters: Vec<Box<dyn Filter>>) -> Self {
        self.filters = filters;
        self
    }

    /// Replace the weighers.
    pub fn with_weighers(mut self, weighers: Vec<Box<dyn Weigher>>) -> Self {
        self.weighers = weighers;
        self
    }

    /// Replace the clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The placement store claims go to.
    pub fn placement(&self) -> &Arc<dyn PlacementStore> {
        &self.placement
    }

    /// Choose a host for every instance of `spec` among `hosts` and claim
    /// their resources, all or none.
    pub fn schedule(
        &self,
        spec: &RequestSpec,
        hosts: &[HostInfo],
    ) -> Result<Vec<Selection>, ScheduleError> {
        if spec.instance_uuids.is_empty() {
            return Err(ScheduleError::InvalidRequest(
                "a request must name at least one instance".into(),
            ));
        }
        let attempts = self.config.max_claim_attempts.max(1);
        for attempt in 1..=attempts {
            let snapshot = self.snapshot(hosts)?;
            let selections = self.select(spec, snapshot)?;
            let allocations: Vec<Allocation> = selections
                .iter()
                .map(|s| Allocation {
                    consumer: s.instance_uuid.clone(),
                    provider: s.host.clone(),
                    resources: s.allocation.clone(),
                })
                .collect();
            match self.placement.claim(&allocations)? {
                Ok(()) => {
                    tracing::debug!(
                        instance = %spec.instance_uuids[0],
                        hosts = ?selections.iter().map(|s| &s.host).collect::<Vec<_>>(),
                        "claimed"
                    );
                    return Ok(selections);
                }
                Err(conflict) => {
                    tracing::debug!(attempt, error = %conflict, "claim lost a race; rescheduling");
                }
            }
        }
        tracing::warn!(
            instance = %spec.instance_uuids[0],
            attempts,
            "claims kept losing races"
        );
        Err(ScheduleError::ClaimRetriesExhausted { attempts })
    }

    /// Free everything `instance_uuid` holds (delete, failed build, or undo
    /// of a later boot step).
    pub fn release(&self, instance_uuid: &str) -> Result<(), ScheduleError> {
        Ok(self.placement.release(instance_uuid)?)
    }

    /// Join the hosts with their providers; a host without a provider has
    /// reported no inventory and cannot be chosen.
    fn snapshot(&self, hosts: &[HostInfo]) -> Result<Vec<HostState>, ScheduleError> {
        let mut providers: BTreeMap<String, ProviderSummary> = self
            .placement
            .provider_summaries()?
            .into_iter()
            .map(|p| (p.name.clone(), p))
            .collect();
        Ok(hosts
            .iter()
            .filter_map(|info| {
                let resources = providers.remove(&info.name)?;
                Some(HostState {
                    info: info.clone(),
                    resources,
                })
            })
            .collect())
    }

    /// Pick a host per instance in the snapshot, consuming as it goes.
    pub(crate) fn select(
        &self,
        spec: &RequestSpec,
        mut hosts: Vec<HostState>,
    ) -> Result<Vec<Selection>, NoValidHost> {
        let mut pre = Vec::new();
        if !spec.ignore_hosts.is_empty() {
            let start = hosts.len();
            hosts.retain(|h| !spec.ignore_hosts.iter().any(|n| n == h.name()));
            pre.push(FilterResult {
                name: "ignore_hosts",
                start,
                end: hosts.len(),
            });
        }
        let forced = !spec.force_hosts.is_empty();
        if forced {
            let start = hosts.len();
            hosts.retain(|h| spec.force_hosts.iter().any(|n| n == h.name()));
            pre.push(FilterResult {
                name: "force_hosts",
                start,
                end: hosts.len(),
            });
        }
        let mut ctx = FilterContext {
            now: (self.clock)(),
            group_hosts: hosts
                .iter()
                .filter(|h| spec.group_members_in(&h.info.instances) > 0)
                .map(|h| h.name().to_string())
                .collect::<BTreeSet<_>>(),
        };
        let resources = spec.flavor.resources();
        let mut selections = Vec::with_capacity(spec.num_instances());
        for uuid in &spec.instance_uuids {
            let mut results = pre.clone();
            let mut candidates: Vec<usize> = (0..hosts.len()).collect();
            let filters = self
                .placement_filters
                .iter()
                .chain(self.filters.iter().filter(|_| !forced));
            for filter in filters {
                let start = candidates.len();
                candidates.retain(|&i| filter.host_passes(&hosts[i], spec, &ctx));
                tracing::trace!(filter = filter.name(), start, end = candidates.len());
                results.push(FilterResult {
                    name: filter.name(),
                    start,
                    end: candidates.len(),
                });
                if candidates.is_empty() {
                    break;
                }
            }
            if candidates.is_empty() {
                let err = NoValidHost {
                    instance_uuid: uuid.clone(),
                    reason: "There are not enough hosts available.".into(),
                    filter_results: results,
                };
                tracing::warn!(
                    instance = %uuid,
                    filter_results = %err.filter_summary(),
                    "filtering removed all hosts for the request"
                );
                return Err(err);
            }
            let chosen = self.choose(&hosts, &candidates, spec, &ctx);
            let host = &mut hosts[chosen];
            host.consume(uuid, &resources);
            if spec.server_group.is_some() {
                ctx.group_hosts.insert(host.name().to_string());
            }
            selections.push(Selection {
                instance_uuid: uuid.clone(),
                host: host.name().to_string(),
                allocation: resources.clone(),
            });
        }
        Ok(selections)
    }

    /// Weigh the candidates and pick the best (or one of the best N).
    fn choose(
        &self,
        hosts: &[HostState],
        candidates: &[usize],
        spec: &RequestSpec,
        ctx: &FilterContext,
    ) -> usize {
        let refs: Vec<&HostState> = candidates.iter().map(|&i| &hosts[i]).collect();
        let weights = weigh_hosts(&self.weighers, &refs, spec, ctx);
        // Best first: higher weight, then host name for a deterministic tie-break.
        let better = |a: usize, b: usize| {
            weights[b]
                .total_cmp(&weights[a])
                .then_with(|| refs[a].name().cmp(refs[b].name()))
        };
        let subset = self.config.host_subset_size.clamp(1, candidates.len());
        if subset == 1 {
            // The common case needs the best host only, not a sorted list.
            let best = (0..candidates.len())
                .min_by(|&a, &b| better(a, b))
                .unwrap_or(0);
            return candidates[best];
        }
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        order.sort_by(|&a, &b| better(a, b));
        candidates[order[rand::thread_rng().gen_range(0..subset)]]
    }
}

#[cfg(test)]
mod tests;
