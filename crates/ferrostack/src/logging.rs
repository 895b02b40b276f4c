//! The log format: tracing's plain-text lines, with every field value and
//! message escaped so that one event is always one line.
//!
//! Names, descriptions and other strings that arrive in requests are
//! logged as fields (`name = %project.name`). Written raw, a project named
//! `"x\nFAKE LINE"` would put a line of the caller's choosing into the log,
//! and a name with U+202E would show reordered text to whoever reads it.
//! Escaping in the formatter, once, covers every field and every message
//! of every crate, including ones not written yet; the alternative, a
//! wrapper type for each untrusted field, relies on every call site
//! remembering it. Escaping the whole written line instead (a writer
//! wrapper) cannot tell the formatter's own newline and colours from the
//! data's.
//!
//! Escaped: control characters (C0, DEL, C1), the line and paragraph
//! separators, and the invisible format characters that reorder or hide
//! text (bidirectional overrides and isolates, zero-width characters,
//! the byte-order mark); each as Rust's `escape_debug` writes it (`\n`,
//! `\u{202e}`). Everything else, including non-ASCII letters, is kept.

use std::fmt::Write as _;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{debug_fn, Writer};
use tracing_subscriber::fmt::FormatFields;

/// Would `c` break a log line or mislead whoever reads it?
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            u32::from(c),
            0x2028 | 0x2029 | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0xFEFF
        )
}

/// `text` with every character [`needs_escape`] picks written escaped.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            // escape_debug writes \n, \t, \r by name and \u{..} otherwise.
            let _ = write!(out, "{}", c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// The field formatter: `message` bare, the others `name=value`, values
/// escaped, separated by spaces (the default layout, escaped).
pub fn fields() -> impl for<'w> FormatFields<'w> + Send + Sync + 'static {
    debug_fn(
        |w: &mut Writer<'_>, field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
            let text = format!("{value:?}");
            if field.name() == "message" {
                w.write_str(&escape(&text))
            } else {
                write!(w, "{}={}", field.name(), escape(&text))
            }
        },
    )
    .delimited(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn controls_separators_and_bidi_overrides_are_escaped_and_letters_kept() {
        assert_eq!(escape("x\nFAKE LINE"), "x\\nFAKE LINE");
        assert_eq!(escape("a\u{0}b\u{7}c\r"), "a\\0b\\u{7}c\\r");
        assert_eq!(escape("evil\u{202e}gpj.exe"), "evil\\u{202e}gpj.exe");
        assert_eq!(escape("l\u{2028}p"), "l\\u{2028}p");
        assert_eq!(escape("Zürich 東京 tab-free"), "Zürich 東京 tab-free");
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_name_with_a_newline_cannot_forge_a_log_line() {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(fields())
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", route = %"/v3/x\nFAKE SPAN");
            let _in = span.enter();
            let name = "x\nFAKE LINE";
            tracing::info!(project_id = %"p1", name = %name, "project created");
            tracing::info!("message with {}", "a\nFAKE MESSAGE");
        });
        let log = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(log.lines().count(), 2, "{log}");
        assert!(log.lines().all(|l| !l.starts_with("FAKE")), "{log}");
        assert!(log.contains(r"name=x\nFAKE LINE"), "{log}");
        assert!(log.contains(r"route=/v3/x\nFAKE SPAN"), "{log}");
    }
}
