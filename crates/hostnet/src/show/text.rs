//! `net show`'s text: a tree per bridge, as `ovs-vsctl show` prints,
//! every name and alias escaped (they come from the kernel, where anyone
//! with CAP_NET_ADMIN may have written control characters into them).

use super::view::{DhcpView, HostView, PortView, UplinkView};
use std::fmt::Write;

/// `s` as printed: itself when made of plain characters, else quoted with
/// escapes (aliases and names come from the kernel, where anyone with
/// CAP_NET_ADMIN may have put control characters).
pub fn esc(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@+".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("\"{}\"", s.escape_default())
    }
}

fn opt(s: &Option<String>) -> String {
    s.as_deref().map(esc).unwrap_or_else(|| "-".into())
}

fn list(v: &[String]) -> String {
    let v: Vec<String> = v.iter().map(|s| esc(s)).collect();
    format!("[{}]", v.join(", "))
}

fn updown(up: bool) -> &'static str {
    if up {
        "up"
    } else {
        "down"
    }
}

fn render_port(out: &mut String, p: &PortView, indent: &str) {
    let _ = writeln!(out, "{indent}Port {}", esc(&p.tap));
    let _ = writeln!(out, "{indent}    port_id: {}", opt(&p.port_id));
    let instance = p
        .instance_id
        .as_ref()
        .map_or("unknown".to_owned(), |i| esc(i));
    let _ = writeln!(out, "{indent}    instance: {instance}");
    let _ = writeln!(
        out,
        "{indent}    admin {}, state {}, tap mac {}",
        updown(p.admin_up),
        esc(&p.state),
        opt(&p.mac)
    );
    if !p.port_macs.is_empty() || !p.addresses.is_empty() {
        // With chains these are what the port may send from; without,
        // what the bridge saw behind the tap (nothing is enforced).
        let what = if p.chains.is_empty() {
            "seen behind the tap"
        } else {
            "sends from"
        };
        let _ = writeln!(
            out,
            "{indent}    {what}: mac {} ip {}",
            list(&p.port_macs),
            list(&p.addresses)
        );
    }
    if p.chains.is_empty() {
        let _ = writeln!(
            out,
            "{indent}    chains: none (port security off, or rules lost)"
        );
    }
    for c in &p.chains {
        let _ = writeln!(
            out,
            "{indent}    chain {} {}: {} rules",
            c.family,
            esc(&c.name),
            c.rules
        );
    }
}

fn render_dhcp(out: &mut String, d: &DhcpView, indent: &str) {
    let _ = writeln!(out, "{indent}DHCP {}", esc(&d.namespace));
    if !d.present {
        let _ = writeln!(out, "{indent}    namespace missing");
    }
    let dnsmasq = match (d.dnsmasq_pid, d.dnsmasq_alive) {
        (Some(pid), true) => format!("pid {pid} running"),
        (Some(pid), false) => format!("pid {pid} DEAD"),
        (None, _) => "not running (no pid file)".into(),
    };
    let _ = writeln!(out, "{indent}    dnsmasq: {dnsmasq}");
    let _ = writeln!(out, "{indent}    veth: {}", opt(&d.veth));
    let _ = writeln!(out, "{indent}    addresses: {}", list(&d.addresses));
    let _ = writeln!(out, "{indent}    files: {}", opt(&d.files));
    let hosts = d
        .hosts
        .map_or("unknown (hosts file not found)".into(), |n| n.to_string());
    let _ = writeln!(
        out,
        "{indent}    hosts: {hosts}, metadata book: {} instances",
        d.instances.len()
    );
}

/// The tree `ovs-vsctl show` would print, for this data plane.
pub fn render_text(h: &HostView) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "host {} (nft table {}, DHCP state dir {})",
        h.netns.as_deref().map_or("(this namespace)".into(), esc),
        esc(&h.nft_table),
        esc(&h.state_dir)
    );
    if h.networks.is_empty() {
        out.push_str("    no network bridges\n");
    }
    for n in &h.networks {
        let _ = writeln!(out, "    Bridge {}", esc(&n.bridge));
        let _ = writeln!(out, "        network: {}", opt(&n.network_id));
        let _ = writeln!(
            out,
            "        mtu {}, admin {}, state {}",
            n.mtu,
            updown(n.admin_up),
            esc(&n.state)
        );
        if n.uplinks.is_empty() {
            out.push_str("        Uplink: none (this host only)\n");
        }
        for u in &n.uplinks {
            match u {
                UplinkView::Vxlan {
                    device,
                    vni,
                    local,
                    underlay,
                    udp_port,
                    group,
                    peers,
                } => {
                    let _ = writeln!(out, "        Uplink {}", esc(device));
                    let _ = writeln!(
                        out,
                        "            type: vxlan, vni: {}, local: {}, dev: {}, port: {}",
                        vni.map_or("-".into(), |v| v.to_string()),
                        opt(local),
                        opt(underlay),
                        udp_port.map_or("-".into(), |v| v.to_string())
                    );
                    match group {
                        Some(g) => {
                            let _ = writeln!(out, "            group: {}", esc(g));
                        }
                        None => {
                            let _ = writeln!(out, "            peers: {}", list(peers));
                        }
                    }
                }
                UplinkView::Vlan {
                    device,
                    vid,
                    parent,
                } => {
                    let _ = writeln!(out, "        Uplink {}", esc(device));
                    let _ = writeln!(
                        out,
                        "            type: vlan, vid: {}, on: {}",
                        vid.map_or("-".into(), |v| v.to_string()),
                        opt(parent)
                    );
                }
                UplinkView::Flat { device, kind } => {
                    let _ = writeln!(out, "        Uplink {}", esc(device));
                    let kind = kind.as_deref().map_or("interface".into(), esc);
                    let _ = writeln!(out, "            type: flat ({kind})");
                }
            }
        }
        for p in &n.ports {
            render_port(&mut out, p, "        ");
        }
        for (veth, router) in &n.router_ports {
            let _ = writeln!(
                out,
                "        Router port {} (router {})",
                esc(veth),
                opt(router)
            );
        }
        match &n.dhcp {
            Some(d) => render_dhcp(&mut out, d, "        "),
            None => out.push_str("        DHCP: none on this host\n"),
        }
    }
    if !h.unattached_ports.is_empty() {
        out.push_str("    Taps in no network bridge\n");
        for p in &h.unattached_ports {
            render_port(&mut out, p, "        ");
        }
    }
    if !h.orphan_dhcp.is_empty() {
        out.push_str("    DHCP namespaces without a bridge\n");
        for d in &h.orphan_dhcp {
            render_dhcp(&mut out, d, "        ");
        }
    }
    super::router::render(&mut out, &h.routers);
    for n in &h.notes {
        let _ = writeln!(out, "    note: {}", n.escape_default());
    }
    out
}
