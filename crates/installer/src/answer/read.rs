//! The reader: INI text in, an [`AnswerFile`] and every diagnostic out.
//!
//! It never stops at the first problem. Each line is scanned for
//! full-width punctuation first (reported, then replaced by the ASCII
//! character meant, so the rest of the line is still checked); then the
//! `KEY=VALUE` shape, the key (unknown, duplicated), each value (by the
//! key's [`Kind`]) and finally the relations between keys (tenant types
//! among the type drivers, mapped bridges among the bridge interfaces,
//! distinct ports). A value that fails keeps its default, so the
//! returned [`AnswerFile`] is always complete: `check` can still look at
//! the host with it while reporting the file's errors.
//!
//! Comment lines (`#` or `;` first) are not scanned: Chinese comments
//! are fine, only keys and values must be ASCII punctuation.

use super::keys::{self, Kind};
use super::model::AnswerFile;
use super::values::{self as v, Host, NetworkType, ValueError};
use crate::diag::{did_you_mean, Diagnostic, Severity};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

/// What reading an answer file gave.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The settings; values with errors hold their defaults.
    pub answers: AnswerFile,
    /// Errors and notes, in line order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    /// True when there is no error (notes are fine).
    pub fn is_valid(&self) -> bool {
        self.errors().next().is_none()
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }
}

/// One `KEY=VALUE` line.
struct Entry {
    line: usize,
    value: String,
    value_col: usize,
}

/// Full-width and ideographic punctuation, what it is called and what was
/// meant.
const FULL_WIDTH: &[(char, &str, char)] = &[
    ('，', "full-width comma", ','),
    ('：', "full-width colon", ':'),
    ('＝', "full-width equals sign", '='),
    ('；', "full-width semicolon", ';'),
    ('“', "left double quotation mark", '"'),
    ('”', "right double quotation mark", '"'),
    ('‘', "left single quotation mark", '\''),
    ('’', "right single quotation mark", '\''),
    ('（', "full-width left parenthesis", '('),
    ('）', "full-width right parenthesis", ')'),
    ('、', "ideographic comma", ','),
    ('。', "ideographic full stop", '.'),
    ('\u{3000}', "ideographic (full-width) space", ' '),
];

/// The ASCII character a full-width one stands for, and its name.
fn full_width(c: char) -> Option<(String, char)> {
    if let Some((_, name, ascii)) = FULL_WIDTH.iter().find(|(f, _, _)| *f == c) {
        return Some((name.to_string(), *ascii));
    }
    // The rest of the Halfwidth and Fullwidth Forms block mirrors ASCII
    // 0x21-0x7E at an offset of 0xFEE0 (full-width letters, digits, '／'...).
    let code = u32::from(c);
    if (0xFF01..=0xFF5E).contains(&code) {
        let ascii = char::from_u32(code - 0xFEE0)?;
        return Some((format!("full-width '{ascii}'"), ascii));
    }
    None
}

/// Reads an answer file's text. Never fails: problems are diagnostics.
pub fn parse(text: &str) -> Loaded {
    let mut diags = Vec::new();
    let mut entries: HashMap<&'static str, Entry> = HashMap::new();
    let mut ignored: Vec<(usize, usize, String)> = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let first = raw.trim_start_matches([' ', '\t']);
        if first.is_empty() || first.starts_with('#') || first.starts_with(';') {
            continue;
        }
        let chars: Vec<char> = raw
            .chars()
            .enumerate()
            .map(|(i, c)| match full_width(c) {
                Some((name, ascii)) => {
                    diags.push(
                        Diagnostic::error(
                            line_no,
                            i + 1,
                            format!("{name} '{c}' (U+{:04X}) in the file", u32::from(c)),
                        )
                        .with_help(format!("type the ASCII '{ascii}' instead")),
                    );
                    ascii
                }
                None => c,
            })
            .collect();
        read_line(line_no, &chars, &mut entries, &mut diags, &mut ignored);
    }
    if let Some((line, col, _)) = ignored.first() {
        const SHOWN: usize = 5;
        let names: Vec<&str> = ignored
            .iter()
            .take(SHOWN)
            .map(|(_, _, k)| k.as_str())
            .collect();
        let more = ignored.len().saturating_sub(SHOWN);
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        diags.push(Diagnostic::note(
            *line,
            *col,
            format!(
                "{} Packstack setting(s) ferrostack has no use for are ignored: {}{tail}",
                ignored.len(),
                names.join(", ")
            ),
        ));
    }
    let mut answers = AnswerFile::all_in_one(Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    convert(&entries, &mut answers, &mut diags);
    cross_check(&entries, &answers, &mut diags);
    diags.sort_by_key(|d| (d.line, d.column));
    Loaded {
        answers,
        diagnostics: diags,
    }
}

fn read_line(
    line: usize,
    chars: &[char],
    entries: &mut HashMap<&'static str, Entry>,
    diags: &mut Vec<Diagnostic>,
    ignored: &mut Vec<(usize, usize, String)>,
) {
    let start = chars.iter().take_while(|c| c.is_whitespace()).count();
    let text: String = chars.iter().collect();
    let trimmed = text.trim();
    if trimmed.starts_with('[') {
        if !trimmed.ends_with(']') {
            diags.push(
                Diagnostic::error(
                    line,
                    start + 1,
                    format!("section header \"{trimmed}\" is not closed"),
                )
                .with_help("write [general]"),
            );
        }
        return;
    }
    let Some(eq) = chars.iter().position(|c| *c == '=') else {
        let key_end = chars[start..]
            .iter()
            .position(|c| c.is_whitespace() || *c == ':')
            .map_or(chars.len(), |p| start + p);
        let key: String = chars[start..key_end].iter().collect();
        diags.push(
            Diagnostic::error(line, key_end + 1, format!("missing '=' after {key}"))
                .with_help(format!("write {key}=VALUE")),
        );
        return;
    };
    let key: String = chars[start..eq]
        .iter()
        .collect::<String>()
        .trim_end()
        .to_string();
    let key_col = start + 1;
    let after = &chars[eq + 1..];
    let lead = after.iter().take_while(|c| c.is_whitespace()).count();
    let value: String = after.iter().collect::<String>().trim().to_string();
    let value_col = eq + 2 + lead;
    if key.is_empty() {
        diags.push(Diagnostic::error(line, eq + 1, "'=' with no key before it"));
        return;
    }
    let Some(spec) = keys::find(&key) else {
        let typo = did_you_mean(&key, keys::all().map(|k| k.name)).is_some();
        if keys::unprovided_prefix(&key) {
            // A service ferrostack lacks: its settings go unremarked.
        } else if !typo && keys::packstack_family(&key) {
            ignored.push((line, key_col, key));
        } else {
            diags.push(unknown_key(line, key_col, &key));
        }
        return;
    };
    if let Some(first) = entries.get(spec.name) {
        diags.push(
            Diagnostic::error(
                line,
                key_col,
                format!("{key} is already set on line {}", first.line),
            )
            .with_help("keep one of the two lines; the first one is used"),
        );
        return;
    }
    entries.insert(
        spec.name,
        Entry {
            line,
            value,
            value_col,
        },
    );
}

fn unknown_key(line: usize, col: usize, key: &str) -> Diagnostic {
    let d = Diagnostic::error(line, col, format!("unknown key {key}"));
    match did_you_mean(key, keys::all().map(|k| k.name)) {
        Some(m) => d.with_help(format!("did you mean {m}?")),
        None => d.with_help("`ferrostack gen-answer-file` writes every key ferrostack knows"),
    }
}

/// Turns the value errors of one entry into diagnostics.
fn report(e: &Entry, key: &str, errors: Vec<ValueError>, diags: &mut Vec<Diagnostic>) {
    for err in errors {
        let d = Diagnostic::error(
            e.line,
            e.value_col + err.offset,
            format!("{key}: {}", err.message),
        );
        diags.push(match err.help {
            Some(h) => d.with_help(h),
            None => d,
        });
    }
}

fn convert(
    entries: &HashMap<&'static str, Entry>,
    a: &mut AnswerFile,
    diags: &mut Vec<Diagnostic>,
) {
    for spec in keys::all() {
        let Some(e) = entries.get(spec.name) else {
            if spec.required {
                diags.push(
                    Diagnostic::error(1, 1, format!("{} is not set", spec.name))
                        .with_help("add it; `ferrostack gen-answer-file` writes a complete file"),
                );
            }
            continue;
        };
        let value = e.value.as_str();
        let result = set(spec.name, spec.kind, value, a);
        if let Err(errors) = result {
            report(e, spec.name, errors, diags);
        } else if spec.kind == Kind::Service && value == "y" {
            let service = service_of(spec.name);
            if let Some(note) = keys::unprovided_note(service) {
                diags.push(Diagnostic::note(
                    e.line,
                    e.value_col,
                    format!("{}=y: {note}", spec.name),
                ));
            }
        }
    }
}

/// `CONFIG_SWIFT_INSTALL` -> `SWIFT`.
fn service_of(key: &str) -> &str {
    key.trim_start_matches("CONFIG_")
        .trim_end_matches("_INSTALL")
}

/// Parses one value into its place in the answer file.
fn set(name: &str, kind: Kind, value: &str, a: &mut AnswerFile) -> Result<(), Vec<ValueError>> {
    let n = &mut a.networking;
    let p = &mut a.ports;
    match (kind, name) {
        (Kind::Host, _) => a.controller = v::host(0, value)?,
        (Kind::OptionalHost, _) => {
            let host = if value.is_empty() {
                None
            } else {
                Some(v::host(0, value)?)
            };
            if name == "CONFIG_DATABASE_HOST" {
                a.database.host = host;
            } else {
                a.public_host = host;
            }
        }
        (Kind::DatabaseUrl, _) => a.database.url = super::database::database_url(value)?,
        (Kind::OptionalPassword, _) => a.database.password = value.to_string(),
        (Kind::HostList { min }, "CONFIG_CONTROLLER_HOSTS") => {
            a.controller_hosts = v::hosts(value, min)?
        }
        (Kind::HostList { min }, "CONFIG_COMPUTE_HOSTS") => a.compute_hosts = v::hosts(value, min)?,
        (Kind::HostList { min }, "CONFIG_NETWORK_HOSTS") => a.network_hosts = v::hosts(value, min)?,
        (Kind::HostList { min }, _) => a.ntp_servers = v::hosts(value, min)?,
        (Kind::Password, _) if value.is_empty() => {
            return Err(vec![ValueError::at(
                0,
                "the admin password may not be empty",
            )])
        }
        (Kind::Password, _) => a.admin_password = value.to_string(),
        (Kind::OptionalPath, _) => a.ssh_key = v::path(value, true)?,
        (Kind::AbsPath, _) => a.data_dir = v::path(value, false)?.unwrap_or_default(),
        (Kind::Service, _) => {
            let on = v::boolean(value)?;
            a.services.insert(service_of(name).to_string(), on);
        }
        (Kind::Bool, _) => a.provision_demo = v::boolean(value)?,
        (Kind::Cidr, _) => a.demo_float_range = v::cidr(value)?,
        (Kind::Hypervisor, _) => a.hypervisor = v::hypervisor(value)?,
        (Kind::NetworkTypes, "CONFIG_NEUTRON_ML2_TYPE_DRIVERS") => {
            n.type_drivers = v::network_types(value)?
        }
        (Kind::NetworkTypes, _) => n.tenant_network_types = v::network_types(value)?,
        (Kind::FlatNetworks, _) => n.flat_networks = v::flat_networks(value)?,
        (Kind::VlanRanges, _) => n.vlan_ranges = v::vlan_ranges(value)?,
        (Kind::MulticastGroup, _) => n.vxlan_group = v::multicast_group(value)?,
        (Kind::VniRanges, _) => n.vni_ranges = v::vni_ranges(value)?,
        (Kind::BridgeMappings, _) => n.bridge_mappings = v::bridge_mappings(value)?,
        (Kind::BridgeIfaces, _) => n.bridge_ifaces = v::bridge_ifaces(value)?,
        (Kind::Port, _) => {
            let port = v::port(value)?;
            let slot = match name {
                "CONFIG_FERROSTACK_IDENTITY_PORT" => &mut p.identity,
                "CONFIG_FERROSTACK_COMPUTE_PORT" => &mut p.compute,
                "CONFIG_FERROSTACK_IMAGE_PORT" => &mut p.image,
                "CONFIG_FERROSTACK_VOLUME_PORT" => &mut p.volume,
                "CONFIG_FERROSTACK_NETWORK_PORT" => &mut p.network,
                "CONFIG_FERROSTACK_PLACEMENT_PORT" => &mut p.placement,
                "CONFIG_FERROSTACK_HOST_API_PORT" => &mut p.host_api,
                "CONFIG_FERROSTACK_DASHBOARD_PORT" => &mut p.dashboard,
                _ => &mut p.agent,
            };
            *slot = port;
        }
    }
    if name == "CONFIG_CONTROLLER_HOST" {
        // The role lists default to the controller, as in Packstack; keys
        // are converted in table order, so set lists come after this.
        a.compute_hosts = vec![a.controller.clone()];
        a.network_hosts = vec![a.controller.clone()];
    }
    Ok(())
}

fn cross_check(
    entries: &HashMap<&'static str, Entry>,
    a: &AnswerFile,
    diags: &mut Vec<Diagnostic>,
) {
    let n = &a.networking;
    if let Some(e) = entries.get("CONFIG_NEUTRON_ML2_TENANT_NETWORK_TYPES") {
        for (off, item) in v::items(&e.value) {
            let listed = n.tenant_network_types.iter().find(|t| t.as_str() == item);
            if let Some(t) = listed.filter(|t| !n.type_drivers.contains(t)) {
                diags.push(
                    Diagnostic::error(
                        e.line,
                        e.value_col + off,
                        format!(
                            "tenant network type \"{}\" is not in CONFIG_NEUTRON_ML2_TYPE_DRIVERS",
                            t.as_str()
                        ),
                    )
                    .with_help(format!(
                        "add {} to CONFIG_NEUTRON_ML2_TYPE_DRIVERS",
                        t.as_str()
                    )),
                );
            }
        }
    }
    if let Some(e) = entries.get("CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS") {
        let bridges: Vec<&str> = n.bridge_ifaces.iter().map(|b| b.bridge.as_str()).collect();
        for (off, item) in v::items(&e.value) {
            let Some((physnet, bridge)) = item.split_once(':') else {
                continue;
            };
            // An unparsable mapping value was reported already.
            if bridges.contains(&bridge) || n.bridge_mappings.is_empty() {
                continue;
            }
            let d = Diagnostic::error(
                e.line,
                e.value_col + off + physnet.chars().count() + 1,
                format!("bridge \"{bridge}\" of physical network {physnet} is not in CONFIG_NEUTRON_OVS_BRIDGE_IFACES"),
            );
            diags.push(match did_you_mean(bridge, bridges.iter().copied()) {
                Some(m) => d.with_help(format!("did you mean \"{m}\"?")),
                None if bridges.is_empty() => d.with_help(format!(
                    "add {bridge}:<interface> to CONFIG_NEUTRON_OVS_BRIDGE_IFACES"
                )),
                None => d.with_help(format!(
                    "the bridges listed there are {}",
                    bridges.join(", ")
                )),
            });
        }
    }
    if n.vxlan_group.is_some() && !n.type_drivers.contains(&NetworkType::Vxlan) {
        if let Some(e) = entries.get("CONFIG_NEUTRON_ML2_VXLAN_GROUP") {
            diags.push(Diagnostic::note(
                e.line,
                e.value_col,
                "a VXLAN group is set but vxlan is not in CONFIG_NEUTRON_ML2_TYPE_DRIVERS; it is unused",
            ));
        }
    }
    cross_check_controllers(entries, a, diags);
    // Every port, set or defaulted, must differ from the others: one
    // host may be controller and compute at once.
    let p = &a.ports;
    let effective = [
        ("CONFIG_FERROSTACK_IDENTITY_PORT", p.identity),
        ("CONFIG_FERROSTACK_COMPUTE_PORT", p.compute),
        ("CONFIG_FERROSTACK_IMAGE_PORT", p.image),
        ("CONFIG_FERROSTACK_VOLUME_PORT", p.volume),
        ("CONFIG_FERROSTACK_NETWORK_PORT", p.network),
        ("CONFIG_FERROSTACK_PLACEMENT_PORT", p.placement),
        ("CONFIG_FERROSTACK_HOST_API_PORT", p.host_api),
        ("CONFIG_FERROSTACK_AGENT_PORT", p.agent),
        ("CONFIG_FERROSTACK_DASHBOARD_PORT", p.dashboard),
    ];
    for (i, (name, port)) in effective.iter().enumerate() {
        let Some((other, _)) = effective[..i].iter().find(|(_, q)| q == port) else {
            continue;
        };
        let (line, col) = entries
            .get(name)
            .or_else(|| entries.get(other))
            .map_or((1, 1), |e| (e.line, e.value_col));
        diags.push(
            Diagnostic::error(line, col, format!("{name}: port {port} is also {other}"))
                .with_help("give every API its own port"),
        );
    }
}

/// Several controllers need one database, and CONFIG_CONTROLLER_HOST
/// among them; a database deploy installs needs a password.
fn cross_check_controllers(
    entries: &HashMap<&'static str, Entry>,
    a: &AnswerFile,
    diags: &mut Vec<Diagnostic>,
) {
    let at = |key: &str| entries.get(key).map_or((1, 1), |e| (e.line, e.value_col));
    if !a.controller_hosts.is_empty() && !a.controller_hosts.contains(&a.controller) {
        let (line, col) = at("CONFIG_CONTROLLER_HOSTS");
        diags.push(
            Diagnostic::error(
                line,
                col,
                format!(
                    "CONFIG_CONTROLLER_HOSTS does not list CONFIG_CONTROLLER_HOST ({})",
                    a.controller
                ),
            )
            .with_help("add it: it is the controller that starts first"),
        );
    }
    if a.controllers().len() > 1 && a.database.effective_url().is_none() {
        let (line, col) = at("CONFIG_CONTROLLER_HOSTS");
        diags.push(
            Diagnostic::error(
                line,
                col,
                "several controllers need one PostgreSQL database",
            )
            .with_help(
                "set CONFIG_DATABASE_URL, or CONFIG_DATABASE_HOST to have deploy install one",
            ),
        );
    }
    if let Some(db) = &a.database.host {
        if !a.hosts().iter().any(|h| &h.host == db) {
            let (line, col) = at("CONFIG_DATABASE_HOST");
            diags.push(
                Diagnostic::error(line, col, format!("CONFIG_DATABASE_HOST {db} is none of the cloud's hosts"))
                    .with_help("deploy installs PostgreSQL on a controller, compute or network host; for a server of your own set CONFIG_DATABASE_URL only"),
            );
        }
    }
    if a.database.host.is_some() && a.database.password.is_empty() {
        let (line, col) = at("CONFIG_DATABASE_HOST");
        diags.push(
            Diagnostic::error(
                line,
                col,
                "CONFIG_DATABASE_HOST needs CONFIG_DATABASE_PW: the controllers connect over the network",
            )
            .with_help("set CONFIG_DATABASE_PW to a password of your choice"),
        );
    }
}
