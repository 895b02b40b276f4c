//! The `controllers` table and its goals (issue 14): CPU per validated
//! token and per boot-and-delete cycle on PostgreSQL within 2x of
//! SQLite's; two controllers, each pinned to its own core, serving at
//! least 1.6x what one pinned controller serves; validation p99 under
//! 10 ms at concurrency 50.

use std::fmt::Write as _;
use std::time::Duration;

use crate::controllers::Figures;
use crate::load::percentile;

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn per(cpu: Option<Duration>, n: u64, unit: f64) -> Option<f64> {
    let cpu = cpu?;
    (n > 0).then(|| cpu.as_secs_f64() * unit / n as f64)
}

fn opt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.0}"))
}

/// The table, then each goal with the figures it compares.
pub fn table(title: &str, rows: &[(String, Result<Figures, String>)]) -> String {
    let mut out = format!("{title}\n");
    let _ = writeln!(
        out,
        "{:<26} {:>9} {:>7} {:>7} {:>8} {:>8} | {:>7} {:>8} {:>9} {:>9} | {:>13}",
        "topology",
        "valid/s",
        "p50 ms",
        "p99 ms",
        "ctl µs",
        "db µs",
        "boots/s",
        "p99 ms",
        "ctl ms/c",
        "db ms/c",
        "inval p50/p99"
    );
    for (name, figures) in rows {
        let f = match figures {
            Ok(f) => f,
            Err(e) => {
                let _ = writeln!(out, "{name:<26} failed: {e}");
                continue;
            }
        };
        let v = &f.validate;
        let inval = if f.invalidation.is_empty() {
            "-".to_owned()
        } else {
            format!(
                "{}/{}",
                ms(percentile(&f.invalidation, 50.0)),
                ms(percentile(&f.invalidation, 99.0))
            )
        };
        let _ = writeln!(
            out,
            "{:<26} {:>9.0} {:>7} {:>7} {:>8} {:>8} | {:>7.1} {:>8} {:>9} {:>9} | {:>13}",
            name,
            v.rate(),
            ms(v.p50),
            ms(v.p99),
            opt(per(f.validate_cpu, v.ok, 1e6)),
            opt(per(f.validate_db_cpu, v.ok, 1e6)),
            f.boot.rate(),
            ms(f.boot.cycle[1]),
            opt(per(f.boot.server_cpu, f.boot.ok, 1e3)),
            opt(per(f.boot_db_cpu, f.boot.ok, 1e3)),
            inval
        );
        if v.errors + f.boot.errors > 0 {
            let why = v.first_error.as_ref().or(f.boot.first_error.as_ref());
            let _ = writeln!(
                out,
                "{:<26} errors: {} validations, {} cycles; first: {}",
                "",
                v.errors,
                f.boot.errors,
                why.map_or("?", String::as_str)
            );
        }
    }
    let _ = writeln!(
        out,
        "ctl µs / db µs: controllers' / PostgreSQL's CPU per validated token; ctl ms/c / db ms/c: per boot-and-delete cycle; inval: a role removed on the first controller until the token stops on the last"
    );
    out.push_str(&goals(rows));
    out
}

fn goals(rows: &[(String, Result<Figures, String>)]) -> String {
    let find = |prefix: &str| {
        rows.iter()
            .find(|(n, _)| n.starts_with(prefix))
            .and_then(|(_, f)| f.as_ref().ok())
    };
    let mut out = String::from("goals:\n");
    let total = |f: &Figures, validate: bool| {
        let (ctl, db, n, unit) = if validate {
            (f.validate_cpu, f.validate_db_cpu, f.validate.ok, 1e6)
        } else {
            (f.boot.server_cpu, f.boot_db_cpu, f.boot.ok, 1e3)
        };
        let both = ctl.map(|c| c + db.unwrap_or_default());
        per(both, n, unit)
    };
    if let (Some(lite), Some(pg)) = (find("sqlite x1"), find("postgresql x1")) {
        for (what, validate, unit) in [("validated token", true, "µs"), ("cycle", false, "ms")] {
            if let (Some(a), Some(b)) = (total(lite, validate), total(pg, validate)) {
                let ratio = b / a.max(1e-9);
                let _ = writeln!(
                    out,
                    "  CPU per {what} (controllers + database), PostgreSQL x1 / SQLite x1: {b:.0} / {a:.0} {unit} = {ratio:.2}x (goal <= 2x): {}",
                    if ratio <= 2.0 { "met" } else { "NOT met" }
                );
            }
        }
    }
    let pinned: Vec<&Figures> = rows
        .iter()
        .filter(|(n, _)| n.contains('@'))
        .filter_map(|(_, f)| f.as_ref().ok())
        .collect();
    if let [one, two] = pinned[..] {
        let ratio = two.validate.rate() / one.validate.rate().max(1e-9);
        let _ = writeln!(
            out,
            "  pinned controllers, validations/s x{} / x{}: {:.0} / {:.0} = {ratio:.2}x (goal >= 1.6x): {}; the client and PostgreSQL share those cores, so on a machine with no spare core this understates what a second controller adds",
            two.controllers,
            one.controllers,
            two.validate.rate(),
            one.validate.rate(),
            if ratio >= 1.6 { "met" } else { "NOT met" }
        );
    }
    for (name, f) in rows {
        let Ok(f) = f else { continue };
        if f.validate.concurrency >= 50 && !name.contains('@') {
            let p99 = f.validate.p99;
            let _ = writeln!(
                out,
                "  {name}: validation p99 at x{} {} ms (goal < 10 ms): {}",
                f.validate.concurrency,
                ms(p99),
                if p99 < Duration::from_millis(10) {
                    "met"
                } else {
                    "NOT met"
                }
            );
        }
    }
    out
}
