//! Security groups and their rules (Neutron), and the
//! [`SecurityGroupStore`] trait the network service uses.
//!
//! The store owns the three rules that must hold under concurrency, each
//! decided inside one serialized write transaction:
//! - **one default group per project**: [`SecurityGroupStore::ensure_default_group`]
//!   returns the project's default group, inserting the one it is given
//!   only when there is none (a partial unique index backs it up), so two
//!   concurrent first requests end with one group and the loser learns it
//!   lost (and gives back what it reserved);
//! - **no duplicate rules in a group**: every rule carries a `match_key`,
//!   Neutron's comparison of two rules already normalized by the service
//!   (protocol by number, `0.0.0.0/0` as "any", ...), unique per group; a
//!   duplicate is refused with the typed [`RuleExists`] naming the rule
//!   already there;
//! - **nothing half-created**: a group and its initial rules are one
//!   insert; deleting a group deletes its rules and the rules of other
//!   groups that name it as their remote group (Neutron's cascade), and
//!   says which, so the service can give their quota back.
//!
//! Validation and Neutron's normalization live in the network service;
//! the store keeps records as given. Groups and rules are few per
//! project, so lists come back whole and the service filters and pages
//! them in memory, as flavors and images do.

use crate::StoreResult;

/// A security group rule as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityGroupRule {
    /// UUID.
    pub id: String,
    /// Owner: always the owner of its group.
    pub project_id: String,
    /// The group the rule belongs to.
    pub security_group_id: String,
    /// `ingress` or `egress`.
    pub direction: String,
    /// `IPv4` or `IPv6`.
    pub ethertype: String,
    /// As the user gave it, lower-cased: a name (`tcp`) or a number
    /// (`"6"`); `None` is any protocol.
    pub protocol: Option<String>,
    /// Lowest port, or the ICMP type.
    pub port_range_min: Option<i64>,
    /// Highest port, or the ICMP code.
    pub port_range_max: Option<i64>,
    /// The peer CIDR, as given with its mask made explicit.
    pub remote_ip_prefix: Option<String>,
    /// The peer group: traffic from (or to) its members' addresses.
    pub remote_group_id: Option<String>,
    /// Free text.
    pub description: String,
    /// Neutron's rule identity for duplicate detection, computed by the
    /// service; unique within the group.
    pub match_key: String,
    /// Bumped by every update.
    pub revision_number: i64,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
    /// Last update time, µs since the epoch.
    pub updated_at: i64,
}

/// A security group as stored, with its rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityGroup {
    /// UUID.
    pub id: String,
    /// Owner.
    pub project_id: String,
    /// Display name; `default` only for the default group.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Stateful (conntrack) or stateless filtering.
    pub stateful: bool,
    /// The project's default group (one per project).
    pub is_default: bool,
    /// Bumped by every update of the group and every rule added or removed.
    pub revision_number: i64,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
    /// Last update time, µs since the epoch.
    pub updated_at: i64,
    /// When a port last joined or left the group or changed its addresses
    /// (µs; 0 never): what moves the host generation of the groups that
    /// name this one as remote group.
    pub members_changed_at: i64,
    /// Its rules, oldest first.
    pub rules: Vec<SecurityGroupRule>,
}

/// The fields an update may change (`None`: unchanged).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupUpdate {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New statefulness.
    pub stateful: Option<bool>,
}

/// What deleting a group removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletedGroup {
    /// The group as it was, with its own rules.
    pub group: SecurityGroup,
    /// Rules of other groups that named it as their remote group and went
    /// with it.
    pub remote_rules: Vec<SecurityGroupRule>,
}

/// A rule equal to an existing one (Neutron's `SecurityGroupRuleExists`),
/// returned inside [`crate::StoreError::Refused`].
#[derive(Debug, thiserror::Error)]
#[error("security group rule already exists: rule id is {rule_id}")]
pub struct RuleExists {
    /// The rule already there.
    pub rule_id: String,
}

/// Stored security groups and rules.
pub trait SecurityGroupStore: Send + Sync {
    /// Insert `group` with its `rules` in one transaction. A `match_key`
    /// repeated among them is refused with [`RuleExists`].
    fn create_group(&self, group: &SecurityGroup) -> StoreResult<SecurityGroup>;
    /// The project's default group, inserting `group` (marked default,
    /// with its rules) only if the project has none. `true` when this call
    /// created it.
    fn ensure_default_group(&self, group: &SecurityGroup) -> StoreResult<(SecurityGroup, bool)>;
    /// The project's default group, if it has one yet.
    fn default_group(&self, project_id: &str) -> StoreResult<Option<SecurityGroup>>;
    /// One group with its rules; `NotFound` if absent.
    fn get_group(&self, id: &str) -> StoreResult<SecurityGroup>;
    /// Groups with their rules, oldest first: one project's, or all.
    fn list_groups(&self, project_id: Option<&str>) -> StoreResult<Vec<SecurityGroup>>;
    /// The groups of `ids` that exist, with their rules (for the host
    /// translation: a port's groups and their remote groups).
    fn groups_by_id(&self, ids: &[String]) -> StoreResult<Vec<SecurityGroup>>;
    /// Apply `update` at `now`, bumping the revision; `NotFound` if absent.
    fn update_group(&self, id: &str, update: &GroupUpdate, now: i64) -> StoreResult<SecurityGroup>;
    /// Delete a group, its rules and the rules naming it as remote group
    /// (whose groups change at `now`).
    fn delete_group(&self, id: &str, now: i64) -> StoreResult<DeletedGroup>;
    /// Insert a rule into its group (which must exist: `NotFound`), bumping
    /// the group's revision; a rule with the same `match_key` in the group
    /// is refused with [`RuleExists`].
    fn create_rule(&self, rule: &SecurityGroupRule) -> StoreResult<SecurityGroupRule>;
    /// One rule; `NotFound` if absent.
    fn get_rule(&self, id: &str) -> StoreResult<SecurityGroupRule>;
    /// Rules, oldest first: one project's, or all.
    fn list_rules(&self, project_id: Option<&str>) -> StoreResult<Vec<SecurityGroupRule>>;
    /// Change a rule's description at `now`; `NotFound` if absent.
    fn update_rule(&self, id: &str, description: &str, now: i64) -> StoreResult<SecurityGroupRule>;
    /// Delete a rule, bumping its group's revision at `now`; returns it.
    fn delete_rule(&self, id: &str, now: i64) -> StoreResult<SecurityGroupRule>;
    /// Note that the membership of `group_ids` changed at `now` (a port
    /// joined, left, or changed its addresses). The ports code calls this,
    /// or writes the same column in its own transaction.
    fn note_membership_change(&self, group_ids: &[String], now: i64) -> StoreResult<()>;
}
