//! The two forms of a [`Report`]: aligned text for people, JSON for
//! scripts (and for deploy, which will collect one report per host).

use super::{Report, Status};
use std::fmt::Write;

/// Width of the wrapped evidence and fix text.
const WIDTH: usize = 100;

/// Words of `text` in lines of at most `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

pub(super) fn text(r: &Report) -> String {
    let mut out = String::new();
    let roles: Vec<&str> = r.roles.iter().map(|x| x.as_str()).collect();
    let _ = writeln!(
        out,
        "ferrostack check on {} (roles: {}; answer file: {})\n",
        r.host,
        roles.join(", "),
        r.answer_file.as_deref().unwrap_or("none")
    );
    let label = |f: &super::Finding| format!("{} {}", f.check, f.subject);
    let col = r
        .findings
        .iter()
        .map(|f| label(f).chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    let indent = " ".repeat(6 + col + 2);
    for f in &r.findings {
        let name = label(f);
        let evidence = wrap(&f.evidence, WIDTH.saturating_sub(indent.len()).max(40));
        let first = evidence.first().map(String::as_str).unwrap_or("");
        let _ = writeln!(out, "{:<4}  {name:<col$}  {first}", f.status.label());
        for line in evidence.iter().skip(1) {
            let _ = writeln!(out, "{indent}{line}");
        }
        if let Some(fix) = &f.fix {
            for (i, line) in wrap(
                &format!("fix: {fix}"),
                WIDTH.saturating_sub(indent.len() + 5).max(40),
            )
            .iter()
            .enumerate()
            {
                let pad = if i == 0 { "" } else { "     " };
                let _ = writeln!(out, "{indent}{pad}{line}");
            }
        }
    }
    let (fail, warn, ok) = (
        r.count(Status::Fail),
        r.count(Status::Warn),
        r.count(Status::Ok),
    );
    let verdict = if r.may_deploy {
        "deploy may proceed"
    } else {
        "deploy may NOT proceed: fix the FAIL findings and run the check again"
    };
    let _ = writeln!(out, "\n{fail} FAIL, {warn} WARN, {ok} OK: {verdict}.");
    out
}

pub(super) fn json(r: &Report) -> String {
    let summary = serde_json::json!({
        "fail": r.count(Status::Fail),
        "warn": r.count(Status::Warn),
        "ok": r.count(Status::Ok),
    });
    let mut value = serde_json::to_value(r).unwrap_or_default();
    if let Some(obj) = value.as_object_mut() {
        obj.insert("summary".into(), summary);
    }
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_keeps_words_whole() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert!(wrap("", 5).is_empty());
    }
}
