//! Reading the port elements back from `nft -j list table` output: which
//! elements belong to which tap (bridge sets by their key's tap, inet map
//! elements by their comment) and which profiles exist. The port driver
//! reads this once after a start, so a restarted agent knows what is
//! there instead of writing it all again; `net show` reads it too.

use super::{profile_of_chain, Element, BRIDGE_SETS, INET_MAPS};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What the tables hold for ports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owned {
    /// Tap -> its elements, sorted.
    pub by_tap: BTreeMap<String, Vec<Element>>,
    /// The profiles whose chains exist (by name).
    pub profiles: BTreeSet<String>,
    /// Chain -> how many rules it holds (both tables).
    pub rule_counts: BTreeMap<String, usize>,
}

impl Owned {
    /// The profiles port `tap`'s map elements jump to.
    pub fn profiles_of(&self, tap: &str) -> BTreeSet<String> {
        self.by_tap
            .get(tap)
            .into_iter()
            .flatten()
            .filter_map(|e| e.verdict.as_deref().and_then(profile_of_chain))
            .map(str::to_owned)
            .collect()
    }
}

fn items(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.into_iter()
        .filter_map(|v| v.get("nftables")?.as_array())
        .flatten()
}

/// `"text"` for a plain value, `addr/len` for a prefix.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(_) => {
            let p = v.get("prefix")?;
            Some(format!(
                "{}/{}",
                p.get("addr")?.as_str()?,
                p.get("len")?.as_u64()?
            ))
        }
        _ => None,
    }
}

/// (the key's parts, the element's comment) of one set or map key.
fn key_parts(v: &Value) -> Option<(Vec<String>, Option<String>)> {
    let (val, comment) = match v.get("elem") {
        Some(e) => (
            e.get("val")?,
            e.get("comment").and_then(Value::as_str).map(str::to_owned),
        ),
        None => (v, None),
    };
    let parts = match val.get("concat").and_then(Value::as_array) {
        Some(list) => list.iter().map(scalar).collect::<Option<Vec<_>>>()?,
        None => vec![scalar(val)?],
    };
    Some((parts, comment))
}

/// The port elements and profiles in `bridge` and `inet` (the two tables'
/// `nft -j list table` output; `None` for a table that does not exist).
pub fn parse_tables(bridge: Option<&Value>, inet: Option<&Value>) -> Owned {
    let mut out = Owned::default();
    for it in items(bridge).chain(items(inet)) {
        if let Some(name) = it.get("chain").and_then(|c| c.get("name")?.as_str()) {
            out.rule_counts.entry(name.to_owned()).or_insert(0);
            if let Some(p) = profile_of_chain(name) {
                out.profiles.insert(p.to_owned());
            }
        }
        if let Some(chain) = it.get("rule").and_then(|r| r.get("chain")?.as_str()) {
            *out.rule_counts.entry(chain.to_owned()).or_insert(0) += 1;
        }
    }
    for it in items(bridge) {
        let Some(set) = it.get("set") else { continue };
        let Some(name) = set.get("name").and_then(Value::as_str) else {
            continue;
        };
        if !BRIDGE_SETS.contains(&name) {
            continue;
        }
        for e in set
            .get("elem")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some((parts, _)) = key_parts(e) else {
                continue;
            };
            let key = match parts.as_slice() {
                [tap] => format!("\"{tap}\""),
                [tap, x] => format!("\"{tap}\" . {x}"),
                _ => continue,
            };
            out.by_tap
                .entry(parts[0].clone())
                .or_default()
                .push(Element {
                    set: name.to_owned(),
                    key,
                    verdict: None,
                });
        }
    }
    for it in items(inet) {
        let Some(map) = it.get("map") else { continue };
        let Some(name) = map.get("name").and_then(Value::as_str) else {
            continue;
        };
        if !INET_MAPS.contains(&name) {
            continue;
        }
        for e in map
            .get("elem")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(pair) = e.as_array() else { continue };
            let (Some((parts, Some(tap))), Some(target)) = (
                pair.first().and_then(key_parts),
                pair.get(1)
                    .and_then(|v| v.get("jump")?.get("target")?.as_str()),
            ) else {
                continue;
            };
            let [bridge, addr] = parts.as_slice() else {
                continue;
            };
            out.by_tap.entry(tap).or_default().push(Element {
                set: name.to_owned(),
                key: format!("\"{bridge}\" . {addr}"),
                verdict: Some(target.to_owned()),
            });
        }
    }
    for v in out.by_tap.values_mut() {
        v.sort();
        v.dedup();
    }
    out
}
