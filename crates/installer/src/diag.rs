//! Diagnostics of the answer-file reader: one per problem, each pointing
//! at a line and a column, printed the way compilers print them
//! (`answer.ini:12:5: error: ...`) so editors can jump to them.
//!
//! Columns count characters, not bytes, from 1: the line may hold
//! full-width (three-byte) characters, and the operator counts what the
//! editor shows, not UTF-8 bytes.

use serde::Serialize;
use std::fmt;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file cannot be used as it is.
    Error,
    /// Accepted, but the operator should know (e.g. a service ferrostack
    /// does not provide was asked for).
    Note,
}

/// One problem (or remark) about an answer file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Error or note.
    pub severity: Severity,
    /// What is wrong, naming the key and the offending text.
    pub message: String,
    /// What to write instead, when the reader can tell.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `line:column`.
    pub fn error(line: usize, column: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            line,
            column,
            severity: Severity::Error,
            message: message.into(),
            help: None,
        }
    }

    /// A note at `line:column`.
    pub fn note(line: usize, column: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Note,
            ..Diagnostic::error(line, column, message)
        }
    }

    /// The same diagnostic with a suggestion.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `file:line:column: error: message (help)`, the one-line form.
    pub fn display_in<'a>(&'a self, file: &'a str) -> impl fmt::Display + 'a {
        InFile { file, diag: self }
    }
}

struct InFile<'a> {
    file: &'a str,
    diag: &'a Diagnostic,
}

impl fmt::Display for InFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.diag;
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Note => "note",
        };
        write!(
            f,
            "{}:{}:{}: {level}: {}",
            self.file, d.line, d.column, d.message
        )?;
        if let Some(help) = &d.help {
            write!(f, " ({help})")?;
        }
        Ok(())
    }
}

/// Edit distance counting an insertion, a deletion, a substitution or a
/// swap of two neighbours as one edit (optimal string alignment), for
/// did-you-mean suggestions: `vxaln` is one typo away from `vxlan`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: distance between a[..i] and b[..j].
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The candidate closest to `word` (case-insensitively), if it is close
/// enough to be a plausible typo: at most a third of the word's length
/// and never more than 4 edits away.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let upper = word.to_uppercase();
    let limit = (word.chars().count() / 3).clamp(1, 4);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&upper, &c.to_uppercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(edit_distance("br-ex", "br-ex"), 0);
        assert_eq!(edit_distance("br-ex", "br-exx"), 1);
        assert_eq!(edit_distance("br-ex", "br-xe"), 1);
        assert_eq!(edit_distance("vxaln", "vxlan"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn suggestion_only_when_close() {
        let keys = ["CONFIG_NTP_SERVERS", "CONFIG_COMPUTE_HOSTS"];
        assert_eq!(
            did_you_mean("CONFIG_NTP_SERVER", keys),
            Some("CONFIG_NTP_SERVERS")
        );
        assert_eq!(
            did_you_mean("config_ntp_servers", keys),
            Some("CONFIG_NTP_SERVERS")
        );
        assert_eq!(did_you_mean("CONFIG_SOMETHING_ELSE", keys), None);
    }

    #[test]
    fn one_line_form() {
        let d = Diagnostic::error(3, 7, "bad").with_help("use x");
        assert_eq!(
            d.display_in("a.ini").to_string(),
            "a.ini:3:7: error: bad (use x)"
        );
    }
}
