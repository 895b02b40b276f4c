//! Nova's host aggregates, as stored: a named set of compute hosts with
//! metadata, one of whose keys, `availability_zone`, makes the set an
//! availability zone (the zone its hosts are in, instead of the default).
//!
//! One row per aggregate: the integer id Nova's API shows, a unique name
//! column (the database keeps names unique, so two racing creates cannot
//! both win), and the rest as a JSON body. Every change goes through
//! [`AggregateStore::change_aggregate`], which hands the caller the row
//! and every other aggregate inside one transaction: the rules that span
//! aggregates (a host in two zones) are checked against what is written,
//! not against an earlier read.

use crate::{StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The metadata key that names an aggregate's availability zone.
pub const ZONE_KEY: &str = "availability_zone";

/// One aggregate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregate {
    /// Nova's integer id (assigned by the store).
    pub id: i64,
    /// The uuid shown from 2.41.
    pub uuid: String,
    /// Unique among aggregates.
    pub name: String,
    /// The hosts, in the order they were added.
    pub hosts: Vec<String>,
    /// Metadata, `availability_zone` included when set.
    pub metadata: BTreeMap<String, String>,
    /// µs since the epoch.
    pub created_at: i64,
    /// µs since the epoch; 0 = never updated.
    pub updated_at: i64,
}

impl Aggregate {
    /// The zone this aggregate makes of its hosts, if any.
    pub fn zone(&self) -> Option<&str> {
        self.metadata.get(ZONE_KEY).map(String::as_str)
    }
}

/// A change of one aggregate: given the row and every other aggregate,
/// the row to keep (`None` deletes it), or an error that writes nothing.
pub type AggregateChange<'a> =
    dyn FnMut(Aggregate, &[Aggregate]) -> Result<Option<Aggregate>, StoreError> + 'a;

/// Stored aggregates.
pub trait AggregateStore: Send + Sync {
    /// Creates `a` (its `id` is assigned); a taken name is `Conflict`.
    fn create_aggregate(&self, a: Aggregate) -> StoreResult<Aggregate>;

    /// The aggregate `id`.
    fn get_aggregate(&self, id: i64) -> StoreResult<Option<Aggregate>>;

    /// Every aggregate, by id.
    fn list_aggregates(&self) -> StoreResult<Vec<Aggregate>>;

    /// Changes aggregate `id` in one transaction (see [`AggregateChange`]);
    /// a missing id is `NotFound`, a name another aggregate has is
    /// `Conflict`. Returns the row after (`None` once deleted).
    fn change_aggregate(
        &self,
        id: i64,
        f: &mut AggregateChange<'_>,
    ) -> StoreResult<Option<Aggregate>>;
}
