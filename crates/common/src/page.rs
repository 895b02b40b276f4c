//! List paging shared by every service: `limit` and `marker` read once,
//! applied to a sorted list once, and the query of a "next page" link
//! built once.
//!
//! The OpenStack APIs page the same way (a page size, and a marker naming
//! the last item the client has seen) but differ in the details a client
//! notices: how `limit` is spelled and what it defaults to, the words of
//! the 400, whether the next link is offered when the page is full (Nova)
//! or when more items remain (Glance), and how its query is written. Those
//! details are parameters here ([`Paging`], [`LinkQuery`]) and the error
//! is built by the calling service, so each keeps its own words and shape.
//!
//! Paging happens in memory over a sorted `Vec`: every list ferrostack
//! serves this way is small (flavors, key pairs, a project's servers).
//! Keystone's collections are paged by the store in SQL; they read their
//! parameters here all the same.

/// How a service spells a count (`limit`, `offset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountSyntax {
    /// Nova's query schema, `^[0-9]*$` and not empty; larger than any
    /// page means "as many as allowed".
    Digits,
    /// Glance: any integer that is not negative.
    NonNegative,
    /// Keystone: an unsigned 32-bit integer.
    U32,
}

/// Parse a count; `None` when it is malformed for `syntax`.
pub fn parse_count(raw: &str, syntax: CountSyntax) -> Option<usize> {
    match syntax {
        CountSyntax::Digits => {
            if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                Some(raw.parse::<usize>().unwrap_or(usize::MAX))
            }
        }
        CountSyntax::NonNegative => raw
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        CountSyntax::U32 => raw
            .parse::<u32>()
            .ok()
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
    }
}

/// How a service reads `limit`: its syntax, default and largest page.
#[derive(Clone, Copy, Debug)]
pub struct Paging {
    /// How `limit` is spelled.
    pub syntax: CountSyntax,
    /// The page size when `limit` is absent.
    pub default_limit: usize,
    /// The largest page; a larger `limit` is cut to it.
    pub max_limit: usize,
}

/// One request's paging: the page size and the marker, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// Page size, after the default and the cap.
    pub limit: usize,
    /// Whether the request gave `limit` itself.
    pub limit_given: bool,
    /// The last item the client has seen.
    pub marker: Option<String>,
}

/// A paged list: the items of the page, and whether more follow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paged<T> {
    /// The page.
    pub items: Vec<T>,
    /// Items remain after the page.
    pub more: bool,
}

impl Paging {
    /// Read `limit` and `marker`; a malformed `limit` becomes
    /// `bad_limit(raw)`, the service's own error.
    pub fn read<E>(
        &self,
        limit: Option<&str>,
        marker: Option<&str>,
        bad_limit: impl FnOnce(&str) -> E,
    ) -> Result<Page, E> {
        let parsed = match limit {
            None => None,
            Some(raw) => Some(parse_count(raw, self.syntax).ok_or_else(|| bad_limit(raw))?),
        };
        Ok(Page {
            limit: parsed.unwrap_or(self.default_limit).min(self.max_limit),
            limit_given: parsed.is_some(),
            marker: marker.map(str::to_string),
        })
    }
}

impl Page {
    /// Drop the items up to and including the marker from a sorted list
    /// (`is_marker(item, marker)` finds it); `missing(marker)` when no
    /// item is the marker.
    pub fn skip_past_marker<T, E>(
        &self,
        items: &mut Vec<T>,
        is_marker: impl Fn(&T, &str) -> bool,
        missing: impl FnOnce(&str) -> E,
    ) -> Result<(), E> {
        if let Some(marker) = &self.marker {
            let at = items
                .iter()
                .position(|item| is_marker(item, marker))
                .ok_or_else(|| missing(marker))?;
            items.drain(..=at);
        }
        Ok(())
    }

    /// The page of a sorted list: what follows the marker, at most
    /// `limit` items.
    pub fn apply<T, E>(
        &self,
        mut items: Vec<T>,
        is_marker: impl Fn(&T, &str) -> bool,
        missing: impl FnOnce(&str) -> E,
    ) -> Result<Paged<T>, E> {
        self.skip_past_marker(&mut items, is_marker, missing)?;
        let more = items.len() > self.limit;
        items.truncate(self.limit);
        Ok(Paged { items, more })
    }

    /// Is a page of `len` items full (Nova offers a next link then)?
    pub fn is_full(&self, len: usize) -> bool {
        len == self.limit && self.limit > 0
    }
}

/// How a next link's query is written from the request's own.
#[derive(Clone, Copy, Debug)]
pub struct LinkQuery {
    /// Nova keeps the request's `limit` where it was and appends `limit`
    /// only when absent, then `marker`; Glance drops both and appends
    /// `marker` then `limit`.
    pub keep_limit: bool,
    /// Bytes left unencoded besides ASCII letters and digits.
    pub unreserved: &'static [u8],
}

impl LinkQuery {
    /// The query (no `?`) of the link to the page after `marker`.
    pub fn next(&self, pairs: &[(String, String)], limit: usize, marker: &str) -> String {
        let has_limit = pairs.iter().any(|(k, _)| k == "limit");
        let mut query: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k != "marker" && (self.keep_limit || k != "limit"))
            .map(|(k, v)| format!("{}={}", self.encode(k), self.encode(v)))
            .collect();
        let limit = format!("limit={limit}");
        let marker = format!("marker={}", self.encode(marker));
        if self.keep_limit {
            if !has_limit {
                query.push(limit);
            }
            query.push(marker);
        } else {
            query.push(marker);
            query.push(limit);
        }
        query.join("&")
    }

    /// Percent-encode `s`, keeping letters, digits and [`Self::unreserved`].
    pub fn encode(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || self.unreserved.contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOVA: Paging = Paging {
        syntax: CountSyntax::Digits,
        default_limit: 1000,
        max_limit: 1000,
    };

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn counts_are_read_in_each_services_syntax() {
        assert_eq!(parse_count("12", CountSyntax::Digits), Some(12));
        assert_eq!(parse_count("+12", CountSyntax::Digits), None);
        assert_eq!(parse_count("", CountSyntax::Digits), None);
        assert_eq!(
            parse_count("99999999999999999999999", CountSyntax::Digits),
            Some(usize::MAX)
        );
        assert_eq!(parse_count("+12", CountSyntax::NonNegative), Some(12));
        assert_eq!(parse_count("-1", CountSyntax::NonNegative), None);
        assert_eq!(parse_count("4294967296", CountSyntax::U32), None);
    }

    #[test]
    fn limit_defaults_caps_and_reports_bad_input() {
        let page = NOVA.read(None, None, |_| ()).unwrap();
        assert_eq!((page.limit, page.limit_given), (1000, false));
        let page = NOVA.read(Some("5000"), Some("m"), |_| ()).unwrap();
        assert_eq!((page.limit, page.limit_given), (1000, true));
        assert_eq!(page.marker.as_deref(), Some("m"));
        assert_eq!(
            NOVA.read(Some("x"), None, |raw| raw.to_string()),
            Err("x".into())
        );
    }

    #[test]
    fn a_page_starts_after_the_marker() {
        let page = NOVA.read(Some("2"), Some("b"), |_| ()).unwrap();
        let paged = page.apply(vec!["a", "b", "c", "d", "e"], |s, m| *s == m, |_| ());
        assert_eq!(
            paged,
            Ok(Paged {
                items: vec!["c", "d"],
                more: true
            })
        );
        let missing = page.apply(vec!["a"], |s, m| *s == m, |m| m.to_string());
        assert_eq!(missing, Err("b".into()));
        assert!(page.is_full(2));
        assert!(!page.is_full(1));
    }

    #[test]
    fn next_links_follow_each_services_order() {
        let nova = LinkQuery {
            keep_limit: true,
            unreserved: b"-._~",
        };
        let glance = LinkQuery {
            keep_limit: false,
            unreserved: b"-_.~:",
        };
        let q = pairs(&[("limit", "2"), ("name", "a b"), ("marker", "old")]);
        assert_eq!(nova.next(&q, 2, "x:y"), "limit=2&name=a%20b&marker=x%3Ay");
        assert_eq!(glance.next(&q, 2, "x:y"), "name=a%20b&marker=x:y&limit=2");
        let q = pairs(&[("name", "a")]);
        assert_eq!(nova.next(&q, 1000, "z"), "name=a&limit=1000&marker=z");
    }
}
