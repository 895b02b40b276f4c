//! `net show`'s routers: per router namespace of this host, its links
//! (gateway and interfaces, with their bridge ends), routes, forwarding,
//! the gateway's SNAT address and the NAT of each floating IP, all read
//! from the kernel (`ip -json` in the namespace, the router's nft table).

use super::text::esc;
use crate::kernel::Kernel;
use crate::{error_chain, names, HostNetConfig, RouterDriver};
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write;
use std::sync::Arc;

/// One router.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RouterView {
    /// The router id (from the namespace's name).
    pub id: String,
    /// Its namespace.
    pub namespace: String,
    /// IPv4 forwarding on.
    pub forwarding: Option<bool>,
    /// Its gateway link (`qg-…`) and interfaces (`qr-…`).
    pub ports: Vec<RouterPortView>,
    /// Its routes (`ip route` lines).
    pub routes: Vec<String>,
    /// The address traffic leaving through the gateway is SNATed to.
    pub snat: Option<String>,
    /// (floating, fixed) of each floating IP's DNAT and SNAT.
    pub floating_ips: Vec<(String, String)>,
    /// The links the table records (what the namespace should hold).
    pub recorded_ports: Vec<String>,
    /// Rules in its table (`None`: no table).
    pub nft_rules: Option<usize>,
}

/// One router link.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RouterPortView {
    /// The link in the namespace.
    pub device: String,
    /// Its MAC.
    pub mac: Option<String>,
    /// Administratively up.
    pub admin_up: bool,
    /// Its addresses (floating IPs as /32 on the gateway).
    pub addresses: Vec<String>,
    /// Its veth end in a bridge, and that bridge.
    pub bridge_end: Option<(String, Option<String>)>,
}

/// The routers of this host.
pub async fn read_routers(
    cfg: &HostNetConfig,
    namespaces: &[String],
    host_links: &[crate::kernel::Link],
    notes: &mut Vec<String>,
) -> Vec<RouterView> {
    let driver = RouterDriver::new(Arc::new(cfg.clone()));
    let mut out = Vec::new();
    for ns in namespaces {
        let Some(id) = ns.strip_prefix(cfg.router_netns_prefix.as_str()) else {
            continue;
        };
        if names::check_token(id).is_err() {
            continue;
        }
        let ours = cfg.state_dir.join("routers").join(id).exists()
            || host_links.iter().any(|l| l.ifalias.as_deref() == Some(id));
        if !ours {
            continue;
        }
        let mut r = RouterView {
            id: id.to_owned(),
            namespace: ns.clone(),
            ..RouterView::default()
        };
        match driver.read_table(ns).await {
            Ok(Some(t)) => {
                r.snat = t.snat_to;
                r.floating_ips = t.fips;
                r.recorded_ports = t.ports;
                r.nft_rules = Some(t.rules);
            }
            Ok(None) => notes.push(format!("router {id}: no nft table")),
            Err(e) => notes.push(format!("router {id}: {}", error_chain(&e))),
        }
        r.forwarding = crate::router::sys::forwarding(ns).await.ok();
        let inner = Kernel::new(Some(ns.clone()));
        match inner.ip(&["-json", "addr", "show"]).await {
            Ok(text) => {
                let v: Value = serde_json::from_str(&text).unwrap_or_default();
                r.ports = ports(&v, host_links);
            }
            Err(e) => notes.push(format!("addresses in {ns}: {}", error_chain(&e))),
        }
        for family in ["-4", "-6"] {
            match inner.ip(&[family, "-json", "route", "show"]).await {
                Ok(text) => {
                    let v: Value = serde_json::from_str(&text).unwrap_or_default();
                    r.routes.extend(routes(&v));
                }
                Err(e) => notes.push(format!("routes in {ns}: {}", error_chain(&e))),
            }
        }
        out.push(r);
    }
    out
}

/// The `qg-`/`qr-` links of `ip -json addr show`, with their bridge ends.
pub fn ports(v: &Value, host_links: &[crate::kernel::Link]) -> Vec<RouterPortView> {
    let mut out = Vec::new();
    for l in v.as_array().into_iter().flatten() {
        let Some(name) = l["ifname"].as_str() else {
            continue;
        };
        let Some(outer) = names::router_outer(name) else {
            continue;
        };
        let addresses = l["addr_info"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["scope"] != "link")
            .filter_map(|a| {
                Some(format!(
                    "{}/{}",
                    a["local"].as_str()?,
                    a["prefixlen"].as_u64()?
                ))
            })
            .collect();
        let bridge_end = host_links
            .iter()
            .find(|h| h.ifname == outer)
            .map(|h| (h.ifname.clone(), h.master.clone()));
        out.push(RouterPortView {
            device: name.to_owned(),
            mac: l["address"].as_str().map(str::to_owned),
            admin_up: l["flags"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x == "UP")),
            addresses,
            bridge_end,
        });
    }
    out
}

/// `ip -json route show`'s routes as `dst [via gw] dev d`.
pub fn routes(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let mut s = r["dst"].as_str()?.to_owned();
            if let Some(gw) = r["gateway"].as_str() {
                let _ = write!(s, " via {gw}");
            }
            if let Some(dev) = r["dev"].as_str() {
                let _ = write!(s, " dev {dev}");
            }
            Some(s)
        })
        .collect()
}

/// The routers' part of `net show`'s text.
pub fn render(out: &mut String, routers: &[RouterView]) {
    for r in routers {
        let _ = writeln!(out, "    Router {}", esc(&r.id));
        let _ = writeln!(out, "        namespace: {}", esc(&r.namespace));
        let fwd = match r.forwarding {
            Some(true) => "on",
            Some(false) => "OFF",
            None => "unknown",
        };
        let _ = writeln!(out, "        forwarding: {fwd}");
        for p in &r.ports {
            let role = if p.device.starts_with("qg-") {
                "Gateway"
            } else {
                "Interface"
            };
            let up = if p.admin_up { "up" } else { "down" };
            let _ = writeln!(
                out,
                "        {role} {} (mac {}, {up})",
                esc(&p.device),
                p.mac.as_deref().map_or("-".into(), esc)
            );
            let addrs: Vec<String> = p.addresses.iter().map(|a| esc(a)).collect();
            let _ = writeln!(out, "            addresses: [{}]", addrs.join(", "));
            let end = match &p.bridge_end {
                Some((veth, Some(br))) => format!("{} in {}", esc(veth), esc(br)),
                Some((veth, None)) => format!("{} in NO bridge", esc(veth)),
                None => "MISSING".into(),
            };
            let _ = writeln!(out, "            bridge end: {end}");
        }
        for rt in &r.routes {
            // Its parts come from the kernel: control characters escaped.
            let _ = writeln!(out, "        route: {}", rt.escape_default());
        }
        match (&r.nft_rules, &r.snat) {
            (None, _) => out.push_str("        nat: NO TABLE\n"),
            (Some(n), Some(s)) => {
                let _ = writeln!(out, "        nat: {n} rules, SNAT to {}", esc(s));
            }
            (Some(n), None) => {
                let _ = writeln!(out, "        nat: {n} rules, no SNAT");
            }
        }
        for (f, x) in &r.floating_ips {
            let _ = writeln!(
                out,
                "        floating ip {}: DNAT to {}, SNAT from it",
                esc(f),
                esc(x)
            );
        }
        let missing: Vec<&String> = r
            .recorded_ports
            .iter()
            .filter(|p| !r.ports.iter().any(|x| &x.device == *p))
            .collect();
        for m in missing {
            let _ = writeln!(out, "        MISSING link {}", esc(m));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_routes_and_nat_render() {
        let addr = serde_json::json!([
            {"ifname": "lo", "flags": ["UP"], "addr_info": []},
            {"ifname": "qg-0123456789a", "address": "fa:16:3e:0e:00:01", "flags": ["UP"],
             "addr_info": [{"local": "172.24.4.2", "prefixlen": 24, "scope": "global"},
                           {"local": "172.24.4.20", "prefixlen": 32, "scope": "global"},
                           {"local": "fe80::1", "prefixlen": 64, "scope": "link"}]}
        ]);
        let p = ports(&addr, &[]);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].addresses, ["172.24.4.2/24", "172.24.4.20/32"]);
        let rt = routes(&serde_json::json!([
            {"dst": "default", "gateway": "172.24.4.1", "dev": "qg-0123456789a"},
            {"dst": "172.24.4.0/24", "dev": "qg-0123456789a"}
        ]));
        assert_eq!(rt[0], "default via 172.24.4.1 dev qg-0123456789a");
        let view = RouterView {
            id: "r1".into(),
            namespace: "qrouter-r1".into(),
            forwarding: Some(true),
            ports: p,
            routes: rt,
            snat: Some("172.24.4.2".into()),
            floating_ips: vec![("172.24.4.20".into(), "10.0.0.5".into())],
            recorded_ports: vec!["qg-0123456789a".into(), "qr-gone0000000".into()],
            nft_rules: Some(6),
        };
        let mut out = String::new();
        render(&mut out, &[view]);
        for want in [
            "Router r1",
            "Gateway qg-0123456789a (mac fa:16:3e:0e:00:01, up)",
            "bridge end: MISSING",
            "nat: 6 rules, SNAT to 172.24.4.2",
            "floating ip 172.24.4.20: DNAT to 10.0.0.5",
            "MISSING link qr-gone0000000",
        ] {
            assert!(out.contains(want), "{want} not in:\n{out}");
        }
    }
}
