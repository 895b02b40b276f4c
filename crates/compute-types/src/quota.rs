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
//!
//! The update bodies are types here too ([`UpdateQuotaSetBody`],
//! [`UpdateQuotaClassSetBody`]): strict as Nova's schemas (see
//! [`crate::body::exactly`]), limits read by [`limit`].

use crate::body::{self, python_repr, BodyError, Resource, Wrapped};
use crate::ApiVersion;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
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

/// The largest quota limit Nova's schema takes (`db.MAX_INT`, 2^31-1).
pub const MAX_LIMIT: i64 = i32::MAX as i64;

/// `PUT /os-quota-sets/{project_id}`: `{"quota_set": {...}}`.
pub type UpdateQuotaSetBody = Wrapped<QuotaSetUpdate>;

/// `PUT /os-quota-class-sets/{id}`: `{"quota_class_set": {...}}`.
pub type UpdateQuotaClassSetBody = Wrapped<QuotaClassSetUpdate>;

/// The `quota_set` object of an update: limits by quota name, and
/// `force`. Which names exist is the quota registry's to say, so the
/// checks take it as `known`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct QuotaSetUpdate(pub Map<String, Value>);

impl Resource for QuotaSetUpdate {
    const KEY: &'static str = "quota_set";
}

/// The `quota_class_set` object of an update: limits by quota name.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct QuotaClassSetUpdate(pub Map<String, Value>);

impl Resource for QuotaClassSetUpdate {
    const KEY: &'static str = "quota_class_set";
}

impl UpdateQuotaSetBody {
    /// The new limits and the `force` flag, checked as Nova's schema for
    /// `v`: strict wrapper, only `force` and quotas `known` and shown at
    /// `v` ([`quota_set_shows`]), then each value in key order.
    pub fn checked(
        &self,
        v: ApiVersion,
        known: impl Fn(&str) -> bool,
    ) -> Result<(BTreeMap<String, i64>, bool), BodyError> {
        let (_, set) = self.strict()?;
        body::only_allowed("quota_set", set, |k| {
            k == "force" || known(k) && quota_set_shows(v, k)
        })?;
        let mut force = false;
        let mut changes = BTreeMap::new();
        for (key, value) in set {
            if key == "force" {
                force = body::boolean(key, value)?;
            } else {
                changes.insert(key.clone(), limit(key, value)?);
            }
        }
        Ok((changes, force))
    }
}

impl UpdateQuotaClassSetBody {
    /// The new limits, checked as Nova's schema for `v`: strict wrapper,
    /// only quotas `known` and accepted at `v` ([`quota_class_accepts`];
    /// no `force`), then each value in key order.
    pub fn checked(
        &self,
        v: ApiVersion,
        known: impl Fn(&str) -> bool,
    ) -> Result<BTreeMap<String, i64>, BodyError> {
        let (_, set) = self.strict()?;
        body::only_allowed("quota_class_set", set, |k| {
            known(k) && quota_class_accepts(v, k)
        })?;
        set.iter()
            .map(|(k, value)| Ok((k.clone(), limit(k, value)?)))
            .collect()
    }
}

/// A quota limit as Nova's schema takes it: an integer, or a string of
/// one, from -1 to [`MAX_LIMIT`].
pub fn limit(field: &str, value: &Value) -> Result<i64, BodyError> {
    let parsed = match value {
        Value::Number(n) => n.as_i64().ok_or_else(|| {
            BodyError::invalid(
                field,
                value,
                &format!("{n} is not of type 'integer', 'string'"),
            )
        })?,
        Value::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(BodyError::invalid(
                    field,
                    value,
                    &format!("'{s}' does not match '^-?[0-9]+$'"),
                ));
            }
            s.parse::<i64>().map_err(|_| {
                BodyError::invalid(
                    field,
                    value,
                    &format!("{s} is greater than the maximum of {MAX_LIMIT}"),
                )
            })?
        }
        other => {
            return Err(BodyError::invalid(
                field,
                value,
                &format!("{} is not of type 'integer', 'string'", python_repr(other)),
            ))
        }
    };
    crate::body::in_range(field, value, parsed, -1, MAX_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(minor: u32) -> ApiVersion {
        ApiVersion::new(2, minor)
    }

    fn known(k: &str) -> bool {
        ["cores", "ram", "instances", "server_groups", "floating_ips"].contains(&k)
    }

    #[test]
    fn limits_accept_integers_and_integer_strings() {
        assert_eq!(limit("cores", &json!(30)), Ok(30));
        assert_eq!(limit("cores", &json!("30")), Ok(30));
        assert_eq!(limit("cores", &json!(-1)), Ok(-1));
        assert_eq!(limit("cores", &json!("-1")), Ok(-1));
    }

    #[test]
    fn bad_limits_say_why_in_novas_words() {
        let message = |value: Value| limit("cores", &value).unwrap_err().to_string();
        assert_eq!(
            message(json!("lots")),
            "Invalid input for field/attribute cores. Value: 'lots'. 'lots' does not match '^-?[0-9]+$'"
        );
        assert!(message(json!(-2)).ends_with("-2 is less than the minimum of -1"));
        assert!(message(json!(1.5)).ends_with("1.5 is not of type 'integer', 'string'"));
        assert!(message(json!(true)).ends_with("True is not of type 'integer', 'string'"));
        assert!(
            message(json!(2147483648_i64)).ends_with("is greater than the maximum of 2147483647")
        );
        assert!(message(json!("99999999999999999999"))
            .ends_with("is greater than the maximum of 2147483647"));
        assert!(limit("cores", &json!("")).is_err());
        assert!(limit("cores", &json!("-")).is_err());
    }

    #[test]
    fn a_quota_set_update_takes_known_shown_quotas_and_force() {
        let update = |minor, set: Value| {
            UpdateQuotaSetBody::new(json!({ "quota_set": set }))
                .checked(v(minor), known)
                .map_err(|e| e.to_string())
        };
        let (changes, force) = update(1, json!({"cores": "4", "force": "true"})).unwrap();
        assert_eq!((changes["cores"], force), (4, true));
        assert!(update(36, json!({"floating_ips": 1}))
            .unwrap_err()
            .ends_with("('floating_ips' was unexpected)"));
        assert!(update(35, json!({"floating_ips": 1})).is_ok());
        assert_eq!(
            update(1, json!({"cores": 1, "bogus": 2, "gpus": 3})).unwrap_err(),
            "Invalid input for field/attribute quota_set. Value: {'bogus': 2, 'cores': 1, 'gpus': 3}. Additional properties are not allowed ('bogus', 'gpus' were unexpected)"
        );
        assert!(update(1, json!({"force": "maybe"})).is_err());
        assert_eq!(
            UpdateQuotaSetBody::new(json!({}))
                .checked(v(1), known)
                .unwrap_err()
                .to_string(),
            "'quota_set' is a required property"
        );
    }

    #[test]
    fn a_class_update_has_no_force_and_follows_2_50() {
        let update = |minor, set: Value| {
            UpdateQuotaClassSetBody::new(json!({ "quota_class_set": set }))
                .checked(v(minor), known)
                .map_err(|e| e.to_string())
        };
        assert!(update(1, json!({"server_groups": 3})).is_ok());
        assert!(update(50, json!({"server_groups": 3})).is_ok());
        assert!(update(49, json!({"floating_ips": 3})).is_ok());
        assert!(update(50, json!({"floating_ips": 3})).is_err());
        assert!(update(1, json!({"force": true}))
            .unwrap_err()
            .ends_with("('force' was unexpected)"));
        assert_eq!(update(1, json!({"ram": "-1"})).unwrap()["ram"], -1);
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
