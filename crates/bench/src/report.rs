//! Tables for people and JSON for scripts, plus the side-by-side comparison
//! of two saved runs (`ferrostack-bench compare`). The servers tables put
//! throughput first and in servers per second, the unit Rally reports
//! capacity in, with times in milliseconds.

use std::time::Duration;

use serde_json::{json, Value};

use crate::load::{percentile, Cell};
use crate::servers::{CycleCell, MixedCell, SpawnRun};

/// Renders the measurements of one run as a fixed-width table.
pub fn table(title: &str, cells: &[Cell]) -> String {
    let mut out = format!("{title}\n");
    out += &format!(
        "{:<15} {:>5} {:>9} {:>10} {:>9} {:>9} {:>7}\n",
        "operation", "conc", "requests", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for c in cells {
        out += &format!(
            "{:<15} {:>5} {:>9} {:>10.1} {:>9.2} {:>9.2} {:>7}\n",
            c.op.name(),
            c.concurrency,
            c.ok,
            c.rate(),
            millis(c.p50),
            millis(c.p99),
            c.errors
        );
    }
    for c in cells {
        if let Some(err) = &c.first_error {
            out += &format!("first error, {} x{}: {}\n", c.op.name(), c.concurrency, err);
        }
    }
    out
}

/// One run as JSON: `{"label", "url", "cells": [{"op", "concurrency", ...}]}`.
pub fn to_json(label: &str, url: &str, cells: &[Cell]) -> Value {
    let cells: Vec<Value> = cells
        .iter()
        .map(|c| {
            json!({
                "op": c.op.name(),
                "concurrency": c.concurrency,
                "ok": c.ok,
                "errors": c.errors,
                "seconds": c.elapsed.as_secs_f64(),
                "rps": c.rate(),
                "p50_ms": millis(c.p50),
                "p99_ms": millis(c.p99),
            })
        })
        .collect();
    json!({"label": label, "url": url, "cells": cells})
}

/// The boot-and-delete cells as a table.
pub fn cycles_table(title: &str, cells: &[CycleCell]) -> String {
    let mut out = format!("{title}\n");
    out += &format!(
        "{:<12} {:>5} {:>7} {:>10} {:>13} {:>13} {:>14} {:>14} {:>7} {:>14}\n",
        "scenario",
        "conc",
        "cycles",
        "servers/s",
        "cycle p50 ms",
        "cycle p99 ms",
        "active p50 ms",
        "active p99 ms",
        "errors",
        "server cpu ms"
    );
    for c in cells {
        out += &format!(
            "{:<12} {:>5} {:>7} {:>10.2} {:>13.1} {:>13.1} {:>14.1} {:>14.1} {:>7} {:>14}\n",
            "boot-delete",
            c.concurrency,
            c.ok,
            c.rate(),
            millis(c.cycle[0]),
            millis(c.cycle[1]),
            millis(c.active[0]),
            millis(c.active[1]),
            c.errors,
            c.cpu_per_cycle()
                .map_or("-".to_owned(), |d| format!("{:.1}", millis(d)))
        );
    }
    for c in cells {
        if let Some(err) = &c.first_error {
            out += &format!("first error, x{}: {err}\n", c.concurrency);
        }
    }
    out
}

/// `validate-under-boot-delete`: one row per cell, validation figures first,
/// `vs alone` the validation rate over the first (alone) row's.
pub fn mixed_table(title: &str, cells: &[MixedCell]) -> String {
    let mut out = format!("{title}\n");
    out += &format!(
        "{:<16} {:>12} {:>9} {:>8} {:>8} {:>7} {:>9} {:>10} {:>13} {:>7} {:>12}\n",
        "alongside",
        "validations",
        "valid/s",
        "vs alone",
        "p50 ms",
        "p99 ms",
        "errors",
        "servers/s",
        "cycle p50 ms",
        "errors",
        "server cores"
    );
    let alone = cells.first().map_or(0.0, |c| c.validate.rate());
    for c in cells {
        let v = &c.validate;
        let (name, servers, cycle, boot_errors) = match &c.boot {
            None => (
                "nothing".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
            ),
            Some(b) => (
                format!("boot-delete x{}", b.concurrency),
                format!("{:.2}", b.rate()),
                format!("{:.1}", millis(b.cycle[0])),
                b.errors.to_string(),
            ),
        };
        out += &format!(
            "{name:<16} {:>12} {:>9.1} {:>8} {:>8.2} {:>7.2} {:>9} {servers:>10} {cycle:>13} {boot_errors:>7} {:>12}\n",
            v.ok,
            v.rate(),
            if alone > 0.0 {
                format!("{:.2}", v.rate() / alone)
            } else {
                "-".to_owned()
            },
            millis(v.p50),
            millis(v.p99),
            v.errors,
            c.server_cores()
                .map_or("-".to_owned(), |n| format!("{n:.2}"))
        );
    }
    for c in cells {
        if let Some(err) = &c.validate.first_error {
            out += &format!("first validation error: {err}\n");
        }
        if let Some(err) = c.boot.as_ref().and_then(|b| b.first_error.as_ref()) {
            out += &format!("first boot-delete error: {err}\n");
        }
    }
    out
}

/// `validate-under-boot-delete` cells as JSON, in ms and per second.
pub fn mixed_json(cells: &[MixedCell]) -> Value {
    let cells: Vec<Value> = cells
        .iter()
        .map(|c| {
            let v = &c.validate;
            json!({
                "boot_delete_concurrency": c.boot.as_ref().map(|b| b.concurrency),
                "validate_concurrency": v.concurrency,
                "validations": v.ok,
                "validations_per_s": v.rate(),
                "validate_p50_ms": millis(v.p50),
                "validate_p99_ms": millis(v.p99),
                "validate_errors": v.errors,
                "servers_per_s": c.boot.as_ref().map(CycleCell::rate),
                "cycle_p50_ms": c.boot.as_ref().map(|b| millis(b.cycle[0])),
                "boot_delete_errors": c.boot.as_ref().map(|b| b.errors),
                "server_cores": c.server_cores(),
            })
        })
        .collect();
    Value::Array(cells)
}

/// The sequential real-hypervisor runs, one row each, then p50 and p99.
pub fn spawn_table(title: &str, runs: &[SpawnRun]) -> String {
    let mut out = format!("{title}\n");
    out += &format!(
        "{:<5} {:>8} {:>14} {:>16} {:>15} {:>15}\n",
        "run", "POST ms", "POST->exec ms", "POST->pidfile ms", "POST->ACTIVE ms", "DELETE->404 ms"
    );
    let opt = |d: Option<Duration>| d.map_or("-".to_owned(), |d| format!("{:.1}", millis(d)));
    let row = |name: &str, r: &SpawnRun| {
        format!(
            "{name:<5} {:>8.1} {:>14} {:>16} {:>15.1} {:>15.1}\n",
            millis(r.post),
            opt(r.exec),
            opt(r.pidfile),
            millis(r.active),
            millis(r.gone)
        )
    };
    for (n, r) in runs.iter().enumerate() {
        out += &row(&(n + 1).to_string(), r);
    }
    for p in [50.0, 99.0] {
        let pick = |f: fn(&SpawnRun) -> Option<Duration>| {
            let mut v: Vec<Duration> = runs.iter().filter_map(f).collect();
            v.sort_unstable();
            (!v.is_empty()).then(|| percentile(&v, p))
        };
        let r = SpawnRun {
            id: String::new(),
            post: pick(|r| Some(r.post)).unwrap_or_default(),
            exec: pick(|r| r.exec),
            pidfile: pick(|r| r.pidfile),
            active: pick(|r| Some(r.active)).unwrap_or_default(),
            gone: pick(|r| Some(r.gone)).unwrap_or_default(),
        };
        out += &row(&format!("p{p}"), &r);
    }
    out
}

/// A servers run as JSON: the setup, the cells and the runs, in ms.
pub fn servers_json(label: &str, url: &str, cells: &[CycleCell], runs: &[SpawnRun]) -> Value {
    let ms = |d: Option<Duration>| d.map(millis);
    let cells: Vec<Value> = cells
        .iter()
        .map(|c| {
            json!({
                "scenario": "boot-delete",
                "concurrency": c.concurrency,
                "cycles": c.ok,
                "errors": c.errors,
                "seconds": c.elapsed.as_secs_f64(),
                "servers_per_s": c.rate(),
                "cycle_p50_ms": millis(c.cycle[0]),
                "cycle_p99_ms": millis(c.cycle[1]),
                "active_p50_ms": millis(c.active[0]),
                "active_p99_ms": millis(c.active[1]),
                "first_error": c.first_error,
                "server_cpu_ms_per_cycle": c.cpu_per_cycle().map(millis),
            })
        })
        .collect();
    let runs: Vec<Value> = runs
        .iter()
        .map(|r| {
            json!({
                "server": r.id,
                "post_ms": millis(r.post),
                "post_to_exec_ms": ms(r.exec),
                "post_to_pidfile_ms": ms(r.pidfile),
                "post_to_active_ms": millis(r.active),
                "delete_to_404_ms": millis(r.gone),
            })
        })
        .collect();
    json!({"label": label, "url": url, "cells": cells, "qemu_runs": runs})
}

/// The figures of one cell read back from a saved run.
struct Saved {
    op: String,
    concurrency: u64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn saved_cells(run: &Value) -> Result<Vec<Saved>, String> {
    let cells = run["cells"]
        .as_array()
        .ok_or("a saved run has no \"cells\" array")?;
    cells
        .iter()
        .map(|c| {
            let num = |key: &str| {
                c[key]
                    .as_f64()
                    .ok_or_else(|| format!("cell {c} has no number \"{key}\""))
            };
            Ok(Saved {
                op: c["op"].as_str().unwrap_or_default().to_owned(),
                concurrency: c["concurrency"].as_u64().unwrap_or_default(),
                rps: num("rps")?,
                p50_ms: num("p50_ms")?,
                p99_ms: num("p99_ms")?,
            })
        })
        .collect()
}

/// Compares `candidate` with `baseline`, cell by cell: throughput ratio
/// (candidate/baseline, higher is better) and latency ratios
/// (baseline/candidate, so higher is better too).
pub fn compare(baseline: &Value, candidate: &Value) -> Result<String, String> {
    let label = |run: &Value, fallback: &str| run["label"].as_str().unwrap_or(fallback).to_owned();
    let (base_name, cand_name) = (label(baseline, "baseline"), label(candidate, "candidate"));
    let base = saved_cells(baseline)?;
    let cand = saved_cells(candidate)?;

    let mut out = format!("{cand_name} vs {base_name} (x = times better for {cand_name})\n");
    out += &format!(
        "{:<15} {:>5} {:>12} {:>12} {:>9} {:>9} {:>9}\n",
        "operation",
        "conc",
        format!("{base_name} r/s"),
        format!("{cand_name} r/s"),
        "req/s x",
        "p50 x",
        "p99 x"
    );
    for c in &cand {
        let Some(b) = base
            .iter()
            .find(|b| b.op == c.op && b.concurrency == c.concurrency)
        else {
            continue;
        };
        out += &format!(
            "{:<15} {:>5} {:>12.1} {:>12.1} {:>9} {:>9} {:>9}\n",
            c.op,
            c.concurrency,
            b.rps,
            c.rps,
            ratio(c.rps, b.rps),
            ratio(b.p50_ms, c.p50_ms),
            ratio(b.p99_ms, c.p99_ms)
        );
    }
    Ok(out)
}

fn ratio(numerator: f64, denominator: f64) -> String {
    if denominator > 0.0 && numerator > 0.0 {
        format!("{:.1}x", numerator / denominator)
    } else {
        "-".to_owned()
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Op;

    fn cell(op: Op, concurrency: usize, ok: u64, p50_ms: u64) -> Cell {
        Cell {
            op,
            concurrency,
            ok,
            errors: 0,
            elapsed: Duration::from_secs(1),
            p50: Duration::from_millis(p50_ms),
            p99: Duration::from_millis(p50_ms * 2),
            first_error: None,
        }
    }

    #[test]
    fn compare_reports_ratios_per_cell() {
        let base = to_json("keystone", "u", &[cell(Op::Validate, 10, 100, 20)]);
        let cand = to_json("ferrostack", "u", &[cell(Op::Validate, 10, 1000, 2)]);
        let text = compare(&base, &cand).expect("compare");
        let row = text
            .lines()
            .find(|l| l.starts_with("token-validate"))
            .expect("row");
        assert_eq!(
            row.split_whitespace().collect::<Vec<_>>(),
            [
                "token-validate",
                "10",
                "100.0",
                "1000.0",
                "10.0x",
                "10.0x",
                "10.0x"
            ]
        );
    }

    #[test]
    fn mixed_table_compares_each_row_with_validation_alone() {
        let boot = CycleCell {
            concurrency: 10,
            ok: 20,
            errors: 0,
            elapsed: Duration::from_secs(1),
            cycle: [Duration::from_millis(400); 2],
            active: [Duration::from_millis(200); 2],
            first_error: None,
            server_cpu: None,
        };
        let cells = [
            MixedCell {
                validate: cell(Op::Validate, 10, 1000, 1),
                boot: None,
                server_cpu: Some(Duration::from_millis(500)),
            },
            MixedCell {
                validate: cell(Op::Validate, 10, 250, 4),
                boot: Some(boot),
                server_cpu: None,
            },
        ];
        let text = mixed_table("t", &cells);
        let rows: Vec<Vec<&str>> = text
            .lines()
            .skip(2)
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows[0],
            ["nothing", "1000", "1000.0", "1.00", "1.00", "2.00", "0", "-", "-", "-", "0.50"]
        );
        assert_eq!(
            rows[1],
            [
                "boot-delete",
                "x10",
                "250",
                "250.0",
                "0.25",
                "4.00",
                "8.00",
                "0",
                "20.00",
                "400.0",
                "0",
                "-"
            ]
        );
    }

    #[test]
    fn table_names_every_cell() {
        let text = table(
            "t",
            &[cell(Op::Issue, 1, 5, 3), cell(Op::ListProjects, 50, 9, 1)],
        );
        assert!(text.contains("token-issue"));
        assert!(text.contains("project-list"));
    }
}
