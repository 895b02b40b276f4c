//! Spellings that differ between SQLite and PostgreSQL, for the few
//! statements that need one (JSON fields of the body columns, the larger
//! of two values, the elements of a JSON array parameter). Everything else
//! the store writes once, in SQL both accept.
//!
//! On PostgreSQL the JSON columns stay `TEXT` (the same schema as SQLite's,
//! and `copy` moves them as they are); a statement reads them as `jsonb`.
//! An expression index must use the very same expression to be used
//! (`ports_device`, migration 16: `(body::jsonb ->> 'device_id')`).

use super::Dialect;

impl Dialect {
    /// The text of top-level field `field` of JSON text column `column`
    /// (NULL when absent): for comparing with a string parameter.
    pub fn json_text(self, column: &str, field: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{field}')"),
            Dialect::Postgres => format!("({column}::jsonb ->> '{field}')"),
        }
    }

    /// The integer in top-level field `field` of JSON text column `column`
    /// (NULL when absent).
    pub fn json_integer(self, column: &str, field: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{field}')"),
            Dialect::Postgres => format!("({column}::jsonb ->> '{field}')::bigint"),
        }
    }

    /// JSON text column `column` with top-level field `field` set to the
    /// integer `value` (an SQL expression).
    pub fn json_set_integer(self, column: &str, field: &str, value: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_set({column}, '$.{field}', {value})"),
            Dialect::Postgres => format!(
                "jsonb_set({column}::jsonb, '{{{field}}}', to_jsonb(CAST({value} AS BIGINT)))::text"
            ),
        }
    }

    /// The strings of the JSON array given as parameter `param` (`?1`), as
    /// a subquery of one column: `id IN (<this>)`.
    pub fn json_array_strings(self, param: &str) -> String {
        match self {
            Dialect::Sqlite => format!("SELECT value FROM json_each({param})"),
            Dialect::Postgres => {
                format!("SELECT jsonb_array_elements_text(CAST({param} AS jsonb))")
            }
        }
    }

    /// The larger of `a` and `b` (SQLite's two-argument `max`).
    pub fn greatest(self, a: &str, b: &str) -> String {
        match self {
            Dialect::Sqlite => format!("max({a}, {b})"),
            Dialect::Postgres => format!("greatest({a}, {b})"),
        }
    }

    /// The database's clock now, in µs since the epoch, as an `INTEGER`
    /// expression. Leases are compared with this rather than with a time
    /// the process passes in, so controllers whose clocks disagree still
    /// agree on who holds what. PostgreSQL's `clock_timestamp()` rather
    /// than `now()`: `now()` stays at the transaction's start, and a write
    /// retried after a lost race must see time move.
    pub fn now_micros(self) -> &'static str {
        match self {
            // julianday's fraction has millisecond precision: enough for
            // leases of seconds.
            Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)",
            Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)",
        }
    }
}
