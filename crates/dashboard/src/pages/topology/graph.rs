//! The topology as a graph (nodes in four columns, links between them)
//! built from Neutron's and Nova's JSON, and drawn as inline SVG.
//!
//! Building and drawing are apart so the graph (which node links to
//! which) is tested without reading SVG, and the drawing is a plain
//! function of the graph. The layout is deliberately simple: a column per
//! kind, nodes stacked top to bottom in name order, links as curves from
//! a node's right edge to the next column's left edge. Rejected: a
//! force-directed layout (it needs a script or a solver on the server, and
//! moves nodes between visits, so people cannot learn where things are).

use crate::api_client::{items, s, seg};
use crate::pages::networks::display_name;
use maud::{html, Markup};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};

/// The columns, left to right.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Column {
    /// Networks with `router:external`.
    External = 0,
    /// Routers.
    Routers = 1,
    /// The project's and shared networks.
    Networks = 2,
    /// Instances.
    Instances = 3,
}

/// One box of the picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// `network:<id>`, `router:<id>`, `instance:<id>`: what links name.
    pub key: String,
    /// Where it is drawn.
    pub column: Column,
    /// Its accessible name, e.g. `Router r1`.
    pub label: String,
    /// The first line of its box (the name).
    pub title: String,
    /// Further lines (CIDRs, addresses, floating IPs).
    pub lines: Vec<String>,
    /// Its page.
    pub href: String,
}

/// Everything to draw; `links` are `(left node key, right node key)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    /// Nodes in drawing order (column, then name).
    pub nodes: Vec<Node>,
    /// Links, each once, from the left column's node.
    pub links: BTreeSet<(String, String)>,
}

/// What the graph is built from: the APIs' lists as they answer.
pub struct Inputs<'a> {
    /// `GET /v2.0/networks`.
    pub networks: &'a [Value],
    /// `GET /v2.0/subnets`.
    pub subnets: &'a [Value],
    /// `GET /v2.0/routers`.
    pub routers: &'a [Value],
    /// `GET /v2.0/ports`.
    pub ports: &'a [Value],
    /// `GET /v2.1/servers`.
    pub servers: &'a [Value],
    /// `GET /v2.0/floatingips`.
    pub floating_ips: &'a [Value],
    /// The current project: its own resources and shared or external networks are drawn.
    pub project: &'a str,
}

fn key(kind: &str, id: &str) -> String {
    format!("{kind}:{id}")
}

/// Build the graph.
pub fn build(i: &Inputs) -> Graph {
    let mut nodes = Vec::new();
    let mut links = BTreeSet::new();
    let mut cidrs: HashMap<String, Vec<String>> = HashMap::new();
    for sn in i.subnets {
        cidrs
            .entry(s(sn, "network_id"))
            .or_default()
            .push(s(sn, "cidr"));
    }
    let mut drawn: HashSet<String> = HashSet::new();
    for n in i.networks {
        let (id, external) = (s(n, "id"), n["router:external"].as_bool() == Some(true));
        let visible =
            external || n["shared"].as_bool() == Some(true) || s(n, "project_id") == i.project;
        if !visible {
            continue;
        }
        let name = display_name(&s(n, "name"), &id);
        let lines = cidrs.remove(&id).unwrap_or_default();
        let kind = if external {
            "External network"
        } else {
            "Network"
        };
        let mut label = format!("{kind} {name}");
        if !lines.is_empty() {
            label = format!("{label}, {}", lines.join(", "));
        }
        drawn.insert(key("network", &id));
        nodes.push(Node {
            key: key("network", &id),
            column: if external {
                Column::External
            } else {
                Column::Networks
            },
            label,
            title: name,
            lines,
            href: format!("/networks/{}", seg(&id)),
        });
    }
    let mut link = |a: &str, b: &str, drawn: &HashSet<String>| {
        if drawn.contains(a) && drawn.contains(b) {
            links.insert((a.to_string(), b.to_string()));
        }
    };
    for r in i.routers.iter().filter(|r| s(r, "project_id") == i.project) {
        let id = s(r, "id");
        let name = display_name(&s(r, "name"), &id);
        let rk = key("router", &id);
        drawn.insert(rk.clone());
        let gateway = s(&r["external_gateway_info"], "network_id");
        if !gateway.is_empty() {
            link(&key("network", &gateway), &rk, &drawn);
        }
        let gw_ips: Vec<String> = items(&r["external_gateway_info"], "external_fixed_ips")
            .iter()
            .map(|ip| format!("gw {}", s(ip, "ip_address")))
            .collect();
        nodes.push(Node {
            key: rk,
            column: Column::Routers,
            label: format!("Router {name}"),
            title: name,
            lines: gw_ips,
            href: format!("/routers/{}", seg(&id)),
        });
    }
    // Floating IPs by the port they are on.
    let mut fips: HashMap<String, Vec<String>> = HashMap::new();
    for f in i.floating_ips {
        let port = s(f, "port_id");
        if !port.is_empty() {
            fips.entry(port)
                .or_default()
                .push(s(f, "floating_ip_address"));
        }
    }
    let servers: HashMap<String, String> = i
        .servers
        .iter()
        .map(|v| (s(v, "id"), s(v, "name")))
        .collect();
    drawn.extend(servers.keys().map(|id| key("instance", id)));
    let mut instance_lines: HashMap<String, (Vec<String>, Vec<String>)> = HashMap::new();
    for p in i.ports {
        let (owner, device, net) = (s(p, "device_owner"), s(p, "device_id"), s(p, "network_id"));
        if owner.starts_with("network:router_interface") {
            link(&key("router", &device), &key("network", &net), &drawn);
        } else if owner.starts_with("compute:") && servers.contains_key(&device) {
            let entry = instance_lines.entry(device.clone()).or_default();
            entry
                .0
                .extend(items(p, "fixed_ips").iter().map(|ip| s(ip, "ip_address")));
            entry.1.extend(
                fips.get(&s(p, "id"))
                    .into_iter()
                    .flatten()
                    .map(|a| format!("floating {a}")),
            );
            link(&key("network", &net), &key("instance", &device), &drawn);
        }
    }
    for v in i.servers {
        let id = s(v, "id");
        let name = display_name(&s(v, "name"), &id);
        let (fixed, floating) = instance_lines.remove(&id).unwrap_or_default();
        let mut label = format!("Instance {name}");
        if !floating.is_empty() {
            label = format!("{label}, {}", floating.join(", "));
        }
        nodes.push(Node {
            key: key("instance", &id),
            column: Column::Instances,
            label,
            title: name,
            lines: fixed.into_iter().chain(floating).collect(),
            href: format!("/instances/{}", seg(&id)),
        });
    }
    nodes.sort_by(|a, b| (a.column, &a.title).cmp(&(b.column, &b.title)));
    Graph { nodes, links }
}

const COLUMN_X: [i64; 4] = [16, 266, 516, 766];
const NODE_W: i64 = 200;
const TOP: i64 = 44;
const GAP: i64 = 22;
const LINE_H: i64 = 16;
const HEADINGS: [&str; 4] = ["External networks", "Routers", "Networks", "Instances"];
/// Characters of a line that fit a box.
const FIT: usize = 26;

fn fit(text: &str) -> String {
    if text.chars().count() <= FIT {
        text.to_string()
    } else {
        let cut: String = text.chars().take(FIT - 1).collect();
        format!("{cut}…")
    }
}

fn node_height(n: &Node) -> i64 {
    20 + LINE_H * (1 + n.lines.len() as i64)
}

/// Where each node is: `key -> (x, y, height)`, and the picture's height.
fn place(g: &Graph) -> (HashMap<&str, (i64, i64, i64)>, i64) {
    let mut next_y = [TOP; 4];
    let mut at = HashMap::new();
    for n in &g.nodes {
        let c = n.column as usize;
        let h = node_height(n);
        at.insert(n.key.as_str(), (COLUMN_X[c], next_y[c], h));
        next_y[c] += h + GAP;
    }
    let height = next_y.iter().copied().max().unwrap_or(TOP).max(TOP + 60);
    (at, height)
}

/// The picture: one `<svg>` with a link per node and a curve per link.
pub fn svg(g: &Graph) -> Markup {
    let (at, height) = place(g);
    let width = COLUMN_X[3] + NODE_W + 16;
    html! {
        svg.topology xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {width} {height}"))
            width=(width) height=(height) aria-labelledby="topology-h" {
            @for (c, heading) in HEADINGS.iter().enumerate() {
                text.column-heading x=(COLUMN_X[c]) y="20" aria-hidden="true" { (heading) }
            }
            @for (a, b) in &g.links {
                @if let (Some(&(ax, ay, ah)), Some(&(bx, by, bh))) = (at.get(a.as_str()), at.get(b.as_str())) {
                    @let (x1, y1, x2, y2) = (ax + NODE_W, ay + ah / 2, bx, by + bh / 2);
                    path.link data-from=(a) data-to=(b)
                        d=(format!("M{x1} {y1} C{} {y1} {} {y2} {x2} {y2}", x1 + 50, x2 - 50)) {}
                }
            }
            @for n in &g.nodes {
                @if let Some(&(x, y, h)) = at.get(n.key.as_str()) {
                    a href=(n.href) aria-label=(n.label) data-node=(n.key) {
                        title { (n.label) }
                        rect class=(format!("node {}", kind_class(n.column))) x=(x) y=(y) width=(NODE_W) height=(h) rx="6" {}
                        text.node-title x=(x + 10) y=(y + 22) { (fit(&n.title)) }
                        @for (k, line) in n.lines.iter().enumerate() {
                            text.node-line x=(x + 10) y=(y + 22 + LINE_H * (k as i64 + 1)) { (fit(line)) }
                        }
                    }
                }
            }
        }
    }
}

fn kind_class(c: Column) -> &'static str {
    match c {
        Column::External => "external",
        Column::Routers => "router",
        Column::Networks => "network",
        Column::Instances => "instance",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Graph {
        let networks = [
            json!({"id": "ext", "name": "public", "router:external": true, "project_id": "admin"}),
            json!({"id": "n1", "name": "net1", "project_id": "p"}),
            json!({"id": "other", "name": "theirs", "project_id": "q"}),
        ];
        let subnets = [
            json!({"id": "s0", "network_id": "ext", "cidr": "203.0.113.0/24"}),
            json!({"id": "s1", "network_id": "n1", "cidr": "10.0.0.0/24"}),
        ];
        let routers = [json!({"id": "r", "name": "r1", "project_id": "p",
            "external_gateway_info": {"network_id": "ext",
                "external_fixed_ips": [{"ip_address": "203.0.113.3"}]}})];
        let ports = [
            json!({"id": "ri", "device_owner": "network:router_interface", "device_id": "r", "network_id": "n1"}),
            json!({"id": "vp", "device_owner": "compute:nova", "device_id": "vm", "network_id": "n1",
                "fixed_ips": [{"ip_address": "10.0.0.5"}]}),
        ];
        let servers = [json!({"id": "vm", "name": "vm1"})];
        let fips = [json!({"port_id": "vp", "floating_ip_address": "203.0.113.9"})];
        build(&Inputs {
            networks: &networks,
            subnets: &subnets,
            routers: &routers,
            ports: &ports,
            servers: &servers,
            floating_ips: &fips,
            project: "p",
        })
    }

    #[test]
    fn routers_link_gateway_and_interface_networks_and_instances_their_networks() {
        let g = sample();
        let links: Vec<(&str, &str)> = g
            .links
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        assert_eq!(
            links,
            [
                ("network:ext", "router:r"),
                ("network:n1", "instance:vm"),
                ("router:r", "network:n1"),
            ]
        );
        let labels: Vec<&str> = g.nodes.iter().map(|n| n.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "External network public, 203.0.113.0/24",
                "Router r1",
                "Network net1, 10.0.0.0/24",
                "Instance vm1, floating 203.0.113.9"
            ]
        );
        let vm = &g.nodes[3];
        assert_eq!(vm.lines, ["10.0.0.5", "floating 203.0.113.9"]);
    }

    #[test]
    fn the_picture_has_a_named_link_per_node_and_a_curve_per_link() {
        let markup = svg(&sample()).into_string();
        assert_eq!(markup.matches("<a href=").count(), 4);
        assert!(markup.contains(r#"aria-label="Router r1""#));
        assert!(markup.contains(r#"href="/routers/r""#));
        assert_eq!(markup.matches("<path class=\"link\"").count(), 3);
        assert!(markup.contains(r#"data-from="router:r" data-to="network:n1""#));
    }

    #[test]
    fn names_are_escaped_and_long_ones_shortened() {
        let networks = [
            json!({"id": "n", "name": "<b>a-very-long-network-name-indeed</b>", "project_id": "p"}),
        ];
        let g = build(&Inputs {
            networks: &networks,
            subnets: &[],
            routers: &[],
            ports: &[],
            servers: &[],
            floating_ips: &[],
            project: "p",
        });
        let markup = svg(&g).into_string();
        assert!(!markup.contains("<b>"));
        assert!(markup.contains("&lt;b&gt;a-very-long-network-na…"));
    }
}
