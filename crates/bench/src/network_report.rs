//! The network benchmark's one table: every figure beside its goal from
//! issue 11 (port create p50 <= 5 ms, wired <= 100 ms, rule change
//! effective <= 100 ms, 1000 ports programmed in <= 2 s), and whether it
//! is met; figures with no goal explain the ones that have one. Also the
//! same as JSON.

use std::time::Duration;

use serde_json::{json, Value};

use crate::dataplane::Figures;
use crate::network::PortCell;

/// One line of the table.
struct Row {
    what: String,
    measured: String,
    goal: Option<(&'static str, bool)>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn show_ms(d: Duration) -> String {
    let v = ms(d);
    if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.2} ms")
    }
}

fn row(what: impl Into<String>, measured: String) -> Row {
    Row {
        what: what.into(),
        measured,
        goal: None,
    }
}

fn goal(what: impl Into<String>, d: Duration, goal: &'static str, limit_ms: f64) -> Row {
    Row {
        what: what.into(),
        measured: show_ms(d),
        goal: Some((goal, ms(d) <= limit_ms)),
    }
}

/// The API cells as rows.
fn api_rows(cells: &[PortCell]) -> Vec<Row> {
    let mut rows = Vec::new();
    for c in cells {
        let x = c.concurrency;
        if c.op == "create" {
            rows.push(goal(
                format!("port create p50, x{x} (HTTP)"),
                c.p50,
                "<= 5 ms",
                5.0,
            ));
        } else {
            rows.push(row(format!("port delete p50, x{x}"), show_ms(c.p50)));
        }
        rows.push(row(format!("port {} p99, x{x}", c.op), show_ms(c.p99)));
        rows.push(row(
            format!(
                "ports {} per second, x{x}",
                if c.op == "create" {
                    "created"
                } else {
                    "deleted"
                }
            ),
            format!("{:.0}/s ({} ok, {} errors)", c.rate(), c.ok, c.errors),
        ));
    }
    rows
}

/// The data plane figures as rows.
fn dataplane_rows(f: &Figures, singles: usize) -> Vec<Row> {
    let n = f.ports;
    let checked = |problem: Option<&str>| match problem {
        None => "checked".to_owned(),
        Some(e) => format!("CHECK FAILED: {e}"),
    };
    vec![
        goal(
            format!("port created to wired p50 ({singles} ports, one at a time)"),
            f.wired.p(50.0),
            "<= 100 ms",
            100.0,
        ),
        goal(
            "port created to wired p99",
            f.wired.p(99.0),
            "<= 100 ms",
            100.0,
        ),
        row(
            "  of which port ensure p50 / p99 (tap, nft elements)",
            format!(
                "{} / {}",
                show_ms(f.wired_port.p(50.0)),
                show_ms(f.wired_port.p(99.0))
            ),
        ),
        row(
            "  of which DHCP ensure p50 / p99 (hosts, SIGHUP)",
            format!(
                "{} / {}",
                show_ms(f.wired_dhcp.p(50.0)),
                show_ms(f.wired_dhcp.p(99.0))
            ),
        ),
        row(
            "  commands / netlink requests per port wired",
            format!(
                "{:.1} / {:.1}; {}",
                f.wired_commands,
                f.wired_requests,
                checked(f.wired_problem.as_deref())
            ),
        ),
        goal(
            format!(
                "rule change to effective p50 ({} member ports)",
                singles + 1
            ),
            f.rule_small.p(50.0),
            "<= 100 ms",
            100.0,
        ),
        goal(
            "rule change to effective p99",
            f.rule_small.p(99.0),
            "<= 100 ms",
            100.0,
        ),
        row("  rule in the ruleset", checked(f.rule_problem.as_deref())),
        goal(
            format!("rule change to effective ({n} member ports)"),
            f.rule_large,
            "<= 100 ms",
            100.0,
        ),
        goal(
            format!("{n} ports programmed from scratch"),
            f.scratch,
            "<= 2 s",
            2000.0,
        ),
        row(
            "  network / ports / DHCP (ports and DHCP concurrent)",
            format!(
                "{} / {} / {}",
                show_ms(f.scratch_network),
                show_ms(f.scratch_ports),
                show_ms(f.scratch_dhcp)
            ),
        ),
        row(
            "  commands / netlink requests (per port)",
            format!(
                "{} ({:.1}) / {} ({:.1})",
                f.scratch_commands,
                f.scratch_commands as f64 / n.max(1) as f64,
                f.scratch_requests,
                f.scratch_requests as f64 / n.max(1) as f64
            ),
        ),
        goal(
            format!("{n} ports after an agent restart (list + ensure)"),
            f.restart,
            "<= 2 s",
            2000.0,
        ),
        row("  of which list()", show_ms(f.restart_list)),
        row(
            "  commands / netlink requests (per port)",
            format!(
                "{} ({:.1}) / {} ({:.1})",
                f.restart_commands,
                f.restart_commands as f64 / n.max(1) as f64,
                f.restart_requests,
                f.restart_requests as f64 / n.max(1) as f64
            ),
        ),
        row(
            format!("nftables rules with {n} ports"),
            format!(
                "{} rules, {} chains, {} lines",
                f.nft_rules, f.nft_chains, f.nft_lines
            ),
        ),
        row(
            "one command: ip link show / nft list / ip netns exec nft",
            format!(
                "{} / {} / {}",
                show_ms(f.cost_ip),
                show_ms(f.cost_nft),
                show_ms(f.cost_nft_netns_exec)
            ),
        ),
    ]
}

/// The table; `api` and `dataplane` are `Err(why)` when a part did not run.
pub fn table(
    title: &str,
    api: &Result<Vec<PortCell>, String>,
    dataplane: &Result<Figures, String>,
    singles: usize,
) -> String {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    match api {
        Ok(cells) => {
            rows.extend(api_rows(cells));
            for c in cells {
                if let Some(e) = &c.first_error {
                    notes.push(format!(
                        "first error, port {} x{}: {e}",
                        c.op, c.concurrency
                    ));
                }
            }
        }
        Err(e) => notes.push(format!("API part: {e}")),
    }
    match dataplane {
        Ok(f) => rows.extend(dataplane_rows(f, singles)),
        Err(e) => notes.push(format!("data plane part: {e}")),
    }
    let width = rows.iter().map(|r| r.what.len()).max().unwrap_or(10);
    let mwidth = rows
        .iter()
        .map(|r| r.measured.len())
        .max()
        .unwrap_or(10)
        .max(8);
    let mut out = format!("{title}\n");
    out += &format!(
        "{:<width$}  {:>mwidth$}  {:<10} met\n",
        "figure", "measured", "goal"
    );
    for r in &rows {
        let (g, met) = match r.goal {
            Some((g, true)) => (g, "yes"),
            Some((g, false)) => (g, "NO"),
            None => ("", ""),
        };
        out += &format!(
            "{:<width$}  {:>mwidth$}  {g:<10} {met}\n",
            r.what, r.measured
        );
    }
    for n in notes {
        out += &format!("{n}\n");
    }
    out
}

/// The same figures as JSON, times in ms.
pub fn json(api: &Result<Vec<PortCell>, String>, dataplane: &Result<Figures, String>) -> Value {
    let api = match api {
        Ok(cells) => Value::Array(
            cells
                .iter()
                .map(|c| {
                    json!({
                        "op": c.op, "concurrency": c.concurrency, "ok": c.ok,
                        "errors": c.errors, "per_s": c.rate(),
                        "p50_ms": ms(c.p50), "p99_ms": ms(c.p99),
                    })
                })
                .collect(),
        ),
        Err(e) => json!({ "skipped": e }),
    };
    let dataplane = match dataplane {
        Ok(f) => json!({
            "wired_p50_ms": ms(f.wired.p(50.0)),
            "wired_p99_ms": ms(f.wired.p(99.0)),
            "wired_port_p50_ms": ms(f.wired_port.p(50.0)),
            "wired_dhcp_p50_ms": ms(f.wired_dhcp.p(50.0)),
            "wired_commands_per_port": f.wired_commands,
            "wired_netlink_requests_per_port": f.wired_requests,
            "rule_change_p50_ms": ms(f.rule_small.p(50.0)),
            "rule_change_p99_ms": ms(f.rule_small.p(99.0)),
            "rule_change_all_ports_ms": ms(f.rule_large),
            "ports": f.ports,
            "scratch_ms": ms(f.scratch),
            "scratch_commands": f.scratch_commands,
            "scratch_netlink_requests": f.scratch_requests,
            "restart_ms": ms(f.restart),
            "restart_list_ms": ms(f.restart_list),
            "restart_commands": f.restart_commands,
            "restart_netlink_requests": f.restart_requests,
            "nft_rules": f.nft_rules,
            "nft_chains": f.nft_chains,
            "nft_lines": f.nft_lines,
        }),
        Err(e) => json!({ "skipped": e }),
    };
    json!({ "api": api, "dataplane": dataplane })
}
