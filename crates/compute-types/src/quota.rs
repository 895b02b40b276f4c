//! Quota-set, quota-class-set and limits bodies, and which quota fields
//! each microversion shows.
//!
//! Nova dropped fields from these APIs twice: at 2.36 the proxies for
//! nova-network went, taking `fixed_ips`, `floating_ips`,
//! `security_groups` and `security_group_rules` with them; at 2.57 file
//! injection went, taking the three `injected_file*` quotas. Quota classes
//! lagged: they kept the network fields until 2.50, which is also where
//! they first showed the server-group quotas. Limits follow 2.36 and 2.57
//! too, and lose `maxImageMeta` at 2.39.

use crate::ApiVersion;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Quotas that mirrored nova-network; gone from quota sets and limits at 2.36.
pub const NETWORK_QUOTAS: &[&str] = &[
    "fixed_ips",
    "floating_ips",
    "security_groups",
    "security_group_rules",
];

/// File-injection quotas; gone at 2.57.
pub const PERSONALITY_QUOTAS: &[&str] = &[
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
];

/// Server-group quotas, missing from quota classes before 2.50.
pub const SERVER_GROUP_QUOTAS: &[&str] = &["server_groups", "server_group_members"];

/// Does a quota set (show, detail, defaults, update) at `v` carry `name`?
pub fn quota_set_shows(v: ApiVersion, name: &str) -> bool {
    !(v.at_least(36) && NETWORK_QUOTAS.contains(&name)
        || v.at_least(57) && PERSONALITY_QUOTAS.contains(&name))
}

/// Does a quota class set response at `v` carry `name`?
pub fn quota_class_shows(v: ApiVersion, name: &str) -> bool {
    if !v.at_least(50) {
        return !SERVER_GROUP_QUOTAS.contains(&name);
    }
    !(NETWORK_QUOTAS.contains(&name) || v.at_least(57) && PERSONALITY_QUOTAS.contains(&name))
}

/// May a quota class update at `v` name `name`? (Before 2.50 every quota,
/// server groups included, is accepted, though not shown.)
pub fn quota_class_accepts(v: ApiVersion, name: &str) -> bool {
    !v.at_least(50) || quota_class_shows(v, name)
}

/// `{"quota_set": {...}}`: limits by name (integers), or detail entries,
/// plus `id` on show, detail and defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuotaSetBody {
    /// The quota set.
    pub quota_set: BTreeMap<String, Value>,
}

/// `{"quota_class_set": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuotaClassSetBody {
    /// The quota class set.
    pub quota_class_set: BTreeMap<String, Value>,
}

/// One resource of a detailed quota set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaDetailEntry {
    /// Amount in use.
    pub in_use: i64,
    /// Limit; `-1` is unlimited.
    pub limit: i64,
    /// Amount reserved.
    pub reserved: i64,
}

/// `{"limits": {"absolute": {...}, "rate": []}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LimitsBody {
    /// The limits.
    pub limits: Limits,
}

/// Absolute and rate limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// `maxTotalCores`, `totalCoresUsed`, ...
    pub absolute: BTreeMap<String, i64>,
    /// Always empty in v2.1 (rate limiting left Nova in Liberty).
    pub rate: Vec<Value>,
}

/// Quota name to the absolute-limit names it feeds.
const LIMIT_NAMES: &[(&str, &[&str])] = &[
    ("ram", &["maxTotalRAMSize"]),
    ("instances", &["maxTotalInstances"]),
    ("cores", &["maxTotalCores"]),
    ("key_pairs", &["maxTotalKeypairs"]),
    ("floating_ips", &["maxTotalFloatingIps"]),
    ("metadata_items", &["maxServerMeta", "maxImageMeta"]),
    ("injected_files", &["maxPersonality"]),
    ("injected_file_content_bytes", &["maxPersonalitySize"]),
    ("security_groups", &["maxSecurityGroups"]),
    ("security_group_rules", &["maxSecurityGroupRules"]),
    ("server_groups", &["maxServerGroups"]),
    ("server_group_members", &["maxServerGroupMembers"]),
];

/// Quota name to the usage name it feeds.
const USED_NAMES: &[(&str, &str)] = &[
    ("ram", "totalRAMUsed"),
    ("cores", "totalCoresUsed"),
    ("instances", "totalInstancesUsed"),
    ("floating_ips", "totalFloatingIpsUsed"),
    ("security_groups", "totalSecurityGroupsUsed"),
    ("server_groups", "totalServerGroupsUsed"),
];

/// Limits hidden by a microversion, by quota name.
fn limit_hidden(v: ApiVersion, quota: &str) -> bool {
    let network = ["floating_ips", "security_groups", "security_group_rules"];
    let personality = ["injected_files", "injected_file_content_bytes"];
    v.at_least(36) && network.contains(&quota) || v.at_least(57) && personality.contains(&quota)
}

/// The `absolute` map of `GET /limits` at `v`, from effective limits and
/// usage keyed by quota name.
pub fn absolute_limits(
    v: ApiVersion,
    limits: &BTreeMap<String, i64>,
    usage: &BTreeMap<String, i64>,
) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for (quota, names) in LIMIT_NAMES {
        let Some(&limit) = limits.get(*quota) else {
            continue;
        };
        if limit_hidden(v, quota) {
            continue;
        }
        for name in *names {
            if *name == "maxImageMeta" && v.at_least(39) {
                continue;
            }
            out.insert((*name).to_string(), limit);
        }
    }
    for (quota, name) in USED_NAMES {
        if limit_hidden(v, quota) {
            continue;
        }
        out.insert((*name).to_string(), usage.get(*quota).copied().unwrap_or(0));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(minor: u32) -> ApiVersion {
        ApiVersion::new(2, minor)
    }

    #[test]
    fn quota_sets_lose_network_fields_at_2_36_and_personality_at_2_57() {
        assert!(quota_set_shows(v(35), "floating_ips"));
        assert!(!quota_set_shows(v(36), "floating_ips"));
        assert!(quota_set_shows(v(56), "injected_files"));
        assert!(!quota_set_shows(v(57), "injected_files"));
        assert!(quota_set_shows(v(96), "cores"));
    }

    #[test]
    fn quota_classes_gain_server_groups_and_lose_network_fields_at_2_50() {
        assert!(!quota_class_shows(v(49), "server_groups"));
        assert!(quota_class_shows(v(49), "fixed_ips"));
        assert!(quota_class_accepts(v(49), "server_groups"));
        assert!(quota_class_shows(v(50), "server_groups"));
        assert!(!quota_class_shows(v(50), "fixed_ips"));
        assert!(!quota_class_accepts(v(50), "fixed_ips"));
        assert!(quota_class_shows(v(56), "injected_files"));
        assert!(!quota_class_shows(v(57), "injected_files"));
    }

    #[test]
    fn absolute_limits_follow_the_microversion() {
        let limits: BTreeMap<String, i64> = [
            ("ram", 51200),
            ("cores", 20),
            ("instances", 10),
            ("key_pairs", 100),
            ("floating_ips", 10),
            ("metadata_items", 128),
            ("injected_files", 5),
            ("injected_file_content_bytes", 10240),
            ("injected_file_path_bytes", 255),
            ("security_groups", 10),
            ("security_group_rules", 20),
            ("server_groups", 10),
            ("server_group_members", 10),
            ("fixed_ips", -1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let usage = BTreeMap::from([("cores".to_string(), 3)]);
        let at21 = absolute_limits(v(1), &limits, &usage);
        assert_eq!(at21.len(), 19);
        assert_eq!(at21["maxImageMeta"], 128);
        assert_eq!(at21["totalCoresUsed"], 3);
        let at36 = absolute_limits(v(36), &limits, &usage);
        assert_eq!(at36.len(), 14);
        assert!(!at36.contains_key("maxTotalFloatingIps"));
        assert!(!at36.contains_key("totalSecurityGroupsUsed"));
        let at39 = absolute_limits(v(39), &limits, &usage);
        assert_eq!(at39.len(), 13);
        let at57 = absolute_limits(v(57), &limits, &usage);
        assert_eq!(at57.len(), 11);
        assert!(!at57.contains_key("maxPersonality"));
    }
}
