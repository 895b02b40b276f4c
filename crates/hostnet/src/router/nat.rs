//! A router's one nft table (family `ip`, in its namespace): SNAT for
//! the gateway, DNAT and SNAT per floating IP, hairpin, and the rules
//! that cut connections whose translation is no longer desired.
//!
//! ```text
//! prerouting (nat):  iifname != qg-…  mark 1            (from inside: hairpin)
//!                    dnat to ip daddr map @fip_in       (floating -> fixed)
//! postrouting (nat): oifname qg-…  snat to ip saddr map @fip_out  (fixed -> floating)
//!                    mark 1 ct status dnat snat to ip saddr map @fip_out
//!                    mark 1 ct status dnat snat to <gateway>      (hairpin)
//!                    oifname qg-…  snat to <gateway>              (enable_snat)
//! forward (filter):  ct status dnat, (floating . fixed) not in @fip_pairs: drop
//!                    ct status snat, (fixed . floating) not in @snat_pairs
//!                    and not the gateway's address: drop
//! ```
//!
//! Floating IPs are map and set elements under fixed rules, so 200 of
//! them cost a lookup per new connection, not 200 rules. The script
//! replaces the table in one transaction (`table` to make sure it
//! exists, `delete table`, then the whole table): nft applies it
//! atomically, and conntrack entries are not rules, so established
//! connections keep their translation across a re-apply or an agent
//! restart. A NAT binding lives in its conntrack entry until the entry
//! expires, which is why a removed (or moved) floating IP also needs the
//! forward rules: they drop every packet of a connection translated by a
//! mapping that is gone, where Neutron deletes the conntrack entries.
//!
//! The `ports` set records the router's links (`qg-…`, `qr-…`): `list()`
//! and `net show` read it back to know what the namespace should hold.

use std::fmt::Write;
use std::net::Ipv4Addr;

/// The mark of a new connection that entered from inside the router.
pub const FROM_INSIDE: u32 = 1;

/// What a router's table is made of, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatPlan {
    /// The router's links inside its namespace.
    pub ports: Vec<String>,
    /// The gateway's link and its IPv4 address (SNAT and hairpin source).
    pub gateway: Option<(String, Ipv4Addr)>,
    /// SNAT of traffic leaving through the gateway.
    pub enable_snat: bool,
    /// (floating, fixed), one per floating IP, no floating or fixed
    /// address twice.
    pub fips: Vec<(Ipv4Addr, Ipv4Addr)>,
}

fn elements(out: &mut String, items: &[String]) {
    if !items.is_empty() {
        let _ = writeln!(out, "\t\telements = {{ {} }}", items.join(", "));
    }
}

/// The transaction that replaces table `ip <table>` with `plan`'s.
pub fn render(table: &str, plan: &NatPlan) -> String {
    let mut out = format!("table ip {table}\ndelete table ip {table}\ntable ip {table} {{\n");
    out.push_str("\tset ports {\n\t\ttype ifname\n");
    let ports: Vec<String> = plan.ports.iter().map(|p| format!("\"{p}\"")).collect();
    elements(&mut out, &ports);
    out.push_str("\t}\n");
    let (mut fin, mut fout, mut fpairs, mut spairs) = (vec![], vec![], vec![], vec![]);
    for (f, x) in &plan.fips {
        fin.push(format!("{f} : {x}"));
        fout.push(format!("{x} : {f}"));
        fpairs.push(format!("{f} . {x}"));
        spairs.push(format!("{x} . {f}"));
    }
    for (name, ty, items) in [
        ("map fip_in", "ipv4_addr : ipv4_addr", &fin),
        ("map fip_out", "ipv4_addr : ipv4_addr", &fout),
        ("set fip_pairs", "ipv4_addr . ipv4_addr", &fpairs),
        ("set snat_pairs", "ipv4_addr . ipv4_addr", &spairs),
    ] {
        let _ = writeln!(out, "\t{name} {{\n\t\ttype {ty}");
        elements(&mut out, items);
        out.push_str("\t}\n");
    }
    out.push_str(
        "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n",
    );
    if let Some((qg, _)) = &plan.gateway {
        let _ = writeln!(out, "\t\tiifname != \"{qg}\" meta mark set {FROM_INSIDE}");
        out.push_str("\t\tdnat to ip daddr map @fip_in\n");
    }
    out.push_str("\t}\n");
    out.push_str(
        "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n",
    );
    if let Some((qg, gw)) = &plan.gateway {
        let _ = writeln!(out, "\t\toifname \"{qg}\" snat to ip saddr map @fip_out");
        let _ = writeln!(
            out,
            "\t\tmeta mark {FROM_INSIDE} ct status dnat snat to ip saddr map @fip_out"
        );
        let _ = writeln!(
            out,
            "\t\tmeta mark {FROM_INSIDE} ct status dnat snat to {gw}"
        );
        if plan.enable_snat {
            let _ = writeln!(out, "\t\toifname \"{qg}\" snat to {gw}");
        }
    }
    out.push_str("\t}\n");
    out.push_str(
        "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n",
    );
    out.push_str(
        "\t\tct status dnat ct original ip daddr . ct reply ip saddr != @fip_pairs drop\n",
    );
    match (&plan.gateway, plan.enable_snat) {
        (Some((_, gw)), true) => {
            let _ = writeln!(
                out,
                "\t\tct status snat ct reply ip daddr != {gw} ct original ip saddr . ct reply ip daddr != @snat_pairs drop"
            );
        }
        _ => out.push_str(
            "\t\tct status snat ct original ip saddr . ct reply ip daddr != @snat_pairs drop\n",
        ),
    }
    out.push_str("\t}\n}\n");
    out
}

/// What `net show` reads back from the table's `nft -j list table`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatRead {
    /// The `ports` set.
    pub ports: Vec<String>,
    /// The address the gateway's SNAT rule translates to.
    pub snat_to: Option<String>,
    /// (floating, fixed) from the `fip_in` map.
    pub fips: Vec<(String, String)>,
    /// The number of rules in the table.
    pub rules: usize,
}

/// Reads a router table's JSON listing.
pub fn read(v: &serde_json::Value) -> NatRead {
    use serde_json::Value;
    let mut r = NatRead::default();
    let items = v.get("nftables").and_then(Value::as_array);
    for it in items.into_iter().flatten() {
        if let Some(set) = it.get("set").filter(|s| s["name"] == "ports") {
            r.ports = set["elem"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect();
        }
        if let Some(map) = it.get("map").filter(|m| m["name"] == "fip_in") {
            for pair in map["elem"].as_array().into_iter().flatten() {
                if let (Some(f), Some(x)) = (pair[0].as_str(), pair[1].as_str()) {
                    r.fips.push((f.to_owned(), x.to_owned()));
                }
            }
        }
        if let Some(rule) = it.get("rule") {
            r.rules += 1;
            let exprs = rule["expr"].as_array().cloned().unwrap_or_default();
            let out_qg = exprs.iter().any(|e| {
                e["match"]["left"]["meta"]["key"] == "oifname"
                    && e["match"]["op"] == "=="
                    && e["match"]["right"]
                        .as_str()
                        .is_some_and(|s| s.starts_with("qg-"))
            });
            let to = exprs
                .iter()
                .find_map(|e| e["snat"]["addr"].as_str().map(str::to_owned));
            if let (true, Some(to)) = (out_qg, to) {
                r.snat_to = Some(to);
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> NatPlan {
        NatPlan {
            ports: vec!["qg-aaaa".into(), "qr-bbbb".into()],
            gateway: Some(("qg-aaaa".into(), "172.24.4.2".parse().expect("ip"))),
            enable_snat: true,
            fips: vec![(
                "172.24.4.20".parse().expect("ip"),
                "10.0.0.5".parse().expect("ip"),
            )],
        }
    }

    #[test]
    fn the_table_is_replaced_whole_with_fips_as_elements() {
        let s = render("fs", &plan());
        assert!(s.starts_with("table ip fs\ndelete table ip fs\ntable ip fs {\n"));
        assert!(s.contains("elements = { 172.24.4.20 : 10.0.0.5 }"));
        assert!(s.contains("elements = { 10.0.0.5 : 172.24.4.20 }"));
        assert!(s.contains("elements = { \"qg-aaaa\", \"qr-bbbb\" }"));
        assert!(s.contains("oifname \"qg-aaaa\" snat to 172.24.4.2\n"));
        assert!(s.contains("dnat to ip daddr map @fip_in"));
        assert!(!s.contains("flush"), "no flush: conntrack state stays");
        let more: Vec<_> = (0..200u32)
            .map(|i| {
                (
                    Ipv4Addr::from(0xac18_0500 + i),
                    Ipv4Addr::from(0x0a00_0100 + i),
                )
            })
            .collect();
        let big = render(
            "fs",
            &NatPlan {
                fips: more,
                ..plan()
            },
        );
        assert_eq!(
            big.lines()
                .filter(|l| l.contains("snat") || l.contains("dnat"))
                .count(),
            s.lines()
                .filter(|l| l.contains("snat") || l.contains("dnat"))
                .count(),
            "rules do not grow with floating IPs"
        );
    }

    #[test]
    fn without_snat_or_gateway_nothing_is_translated_out() {
        let no_snat = render(
            "fs",
            &NatPlan {
                enable_snat: false,
                ..plan()
            },
        );
        assert!(!no_snat.contains("oifname \"qg-aaaa\" snat to 172.24.4.2"));
        assert!(no_snat.contains("snat to ip saddr map @fip_out"));
        let none = render(
            "fs",
            &NatPlan {
                gateway: None,
                fips: vec![],
                ..plan()
            },
        );
        assert!(!none.contains("snat to") && !none.contains("dnat to"));
    }

    #[test]
    fn the_listing_reads_back_ports_snat_and_fips() {
        let v = serde_json::json!({"nftables": [
            {"table": {"family": "ip", "name": "fs"}},
            {"set": {"family": "ip", "name": "ports", "table": "fs", "type": "ifname",
                     "elem": ["qg-aaaa", "qr-bbbb"]}},
            {"map": {"family": "ip", "name": "fip_in", "table": "fs", "type": "ipv4_addr",
                     "map": "ipv4_addr", "elem": [["172.24.4.20", "10.0.0.5"]]}},
            {"rule": {"family": "ip", "table": "fs", "chain": "postrouting", "expr": [
                {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "qg-aaaa"}},
                {"snat": {"addr": "172.24.4.2"}}]}},
            {"rule": {"family": "ip", "table": "fs", "chain": "postrouting", "expr": [
                {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "qg-aaaa"}},
                {"snat": {"addr": {"map": {"key": {"payload": {}}, "data": "@fip_out"}}}}]}}
        ]});
        let r = read(&v);
        assert_eq!(r.ports, ["qg-aaaa", "qr-bbbb"]);
        assert_eq!(r.snat_to.as_deref(), Some("172.24.4.2"));
        assert_eq!(r.fips, [("172.24.4.20".to_owned(), "10.0.0.5".to_owned())]);
        assert_eq!(r.rules, 2);
    }
}
