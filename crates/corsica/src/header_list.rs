//! Comma-separated token lists: `Access-Control-Request-Headers` on the server side, and
//! (in the browser model) `Access-Control-Allow-Methods`/`-Headers`.
//!
//! A list may arrive split over several header lines (some proxies do this); the lines are
//! one list, as if joined with `,` (RFC 9110 § 5.3). Empty elements are skipped, elements
//! are trimmed of optional whitespace, and every element must be a token.
//!
//! Hostile input costs bounded time and memory: the total size is checked before any
//! scanning, and scanning stops at the item limit, so a comma-stuffed or oversized value
//! (the denial of service that hit `rs/cors`: ~127 ms and 121 MB per request) is refused
//! after reading at most [`HeaderListLimits::max_bytes`] bytes, without allocating.

use crate::display::shown;
use crate::method::is_token;

/// Bounds on a header list.
///
/// ```
/// let limits = corsica::HeaderListLimits::default();
/// assert_eq!((limits.max_bytes, limits.max_items), (4096, 64));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderListLimits {
    /// Most bytes over all lines (separators included).
    pub max_bytes: usize,
    /// Most elements, empty ones included (each line counts at least once).
    pub max_items: usize,
}

impl Default for HeaderListLimits {
    /// 4 KiB and 64 elements: far above what any page sends (browsers list only non-
    /// safelisted header names, once each), far below what hurts.
    fn default() -> Self {
        HeaderListLimits {
            max_bytes: 4096,
            max_items: 64,
        }
    }
}

/// Why a header list is refused.
///
/// ```
/// use corsica::{HeaderList, HeaderListError, HeaderListLimits};
/// let err = HeaderList::parse([&b"x-a, b c"[..]], HeaderListLimits::default()).unwrap_err();
/// assert!(matches!(err, HeaderListError::InvalidToken { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderListError {
    /// More bytes than the limit.
    #[error("the list is {len} bytes long, over the limit of {max}")]
    TooLong {
        /// Total bytes seen (at least; counting stops early).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More elements than the limit.
    #[error("the list has more than {max} elements")]
    TooManyItems {
        /// The limit.
        max: usize,
    },
    /// An element that is not a token.
    #[error("`{item}` is not a valid token (letters, digits and !#$%&'*+-.^_`|~ only)")]
    InvalidToken {
        /// The element, escaped and bounded.
        item: String,
    },
}

/// A parsed list of tokens (header names are lower-cased by [`HeaderList::parse_lowercase`]).
///
/// ```
/// use corsica::{HeaderList, HeaderListLimits};
/// let lines: [&[u8]; 2] = [b"X-API-Key, content-type", b" x-trace-id ,,"];
/// let list = HeaderList::parse_lowercase(lines, HeaderListLimits::default())?;
/// assert_eq!(list.items(), ["x-api-key", "content-type", "x-trace-id"]);
/// # Ok::<(), corsica::HeaderListError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderList {
    items: Vec<String>,
}

impl HeaderList {
    /// Parses the lines of one list, keeping each element's case.
    ///
    /// ```
    /// use corsica::{HeaderList, HeaderListLimits};
    /// let list = HeaderList::parse([&b"GET, patch"[..]], HeaderListLimits::default())?;
    /// assert_eq!(list.items(), ["GET", "patch"]);
    /// # Ok::<(), corsica::HeaderListError>(())
    /// ```
    pub fn parse<'a, I>(lines: I, limits: HeaderListLimits) -> Result<HeaderList, HeaderListError>
    where
        I: IntoIterator<Item = &'a [u8]>,
        I::IntoIter: Clone,
    {
        let lines = lines.into_iter();
        let mut items = Vec::new();
        scan(
            || lines.clone(),
            limits,
            |t| {
                // A token is ASCII.
                items.push(String::from_utf8_lossy(t).into_owned());
                true
            },
        )?;
        Ok(HeaderList { items })
    }

    /// Parses the lines of one list, lower-casing each element (header names).
    ///
    /// ```
    /// use corsica::{HeaderList, HeaderListLimits};
    /// let list = HeaderList::parse_lowercase([&b"X-Api-Key"[..]], HeaderListLimits::default())?;
    /// assert_eq!(list.items(), ["x-api-key"]);
    /// # Ok::<(), corsica::HeaderListError>(())
    /// ```
    pub fn parse_lowercase<'a, I>(
        lines: I,
        limits: HeaderListLimits,
    ) -> Result<HeaderList, HeaderListError>
    where
        I: IntoIterator<Item = &'a [u8]>,
        I::IntoIter: Clone,
    {
        let mut list = HeaderList::parse(lines, limits)?;
        for item in &mut list.items {
            item.make_ascii_lowercase();
        }
        Ok(list)
    }

    /// The elements, in order.
    ///
    /// ```
    /// assert!(corsica::HeaderList::default().items().is_empty());
    /// ```
    pub fn items(&self) -> &[String] {
        &self.items
    }

    /// Whether the list contains `item`, ASCII case-insensitively.
    ///
    /// ```
    /// use corsica::{HeaderList, HeaderListLimits};
    /// let list = HeaderList::parse([&b"X-API-Key"[..]], HeaderListLimits::default())?;
    /// assert!(list.contains_ignore_case("x-api-key"));
    /// # Ok::<(), corsica::HeaderListError>(())
    /// ```
    pub fn contains_ignore_case(&self, item: &str) -> bool {
        self.items.iter().any(|i| i.eq_ignore_ascii_case(item))
    }
}

/// Walks the tokens of a list without allocating, calling `f` for each non-empty element
/// until it returns `false`. Validates every element it reaches; checks the total size
/// first and stops at the item limit.
///
/// `lines` is called twice: once to measure, once to scan.
pub(crate) fn scan<'a, L, I, F>(
    lines: L,
    limits: HeaderListLimits,
    mut f: F,
) -> Result<(), HeaderListError>
where
    L: Fn() -> I,
    I: Iterator<Item = &'a [u8]>,
    F: FnMut(&'a [u8]) -> bool,
{
    // Size first: lines joined with "," would be sum(len) + (lines - 1) bytes.
    let mut len = 0usize;
    for (n, line) in lines().enumerate() {
        len = len
            .saturating_add(line.len())
            .saturating_add(usize::from(n > 0));
        if len > limits.max_bytes {
            return Err(HeaderListError::TooLong {
                len,
                max: limits.max_bytes,
            });
        }
        if n >= limits.max_items {
            return Err(HeaderListError::TooManyItems {
                max: limits.max_items,
            });
        }
    }
    let mut count = 0usize;
    for line in lines() {
        for item in line.split(|&b| b == b',') {
            count += 1;
            if count > limits.max_items {
                return Err(HeaderListError::TooManyItems {
                    max: limits.max_items,
                });
            }
            let item = item.trim_ascii();
            if item.is_empty() {
                continue;
            }
            if !is_token(item) {
                return Err(HeaderListError::InvalidToken { item: shown(item) });
            }
            if !f(item) {
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&[u8]]) -> Result<Vec<String>, HeaderListError> {
        HeaderList::parse_lowercase(lines.iter().copied(), HeaderListLimits::default())
            .map(|l| l.items)
    }

    #[test]
    fn parsing_table() {
        let ok: &[(&[&[u8]], &[&str])] = &[
            (&[b""], &[]),
            (&[b"x-a"], &["x-a"]),
            (&[b"X-A,x-b"], &["x-a", "x-b"]),
            (&[b" x-a ,\tx-b\t"], &["x-a", "x-b"]),
            (&[b"x-a,,x-b,"], &["x-a", "x-b"]),
            (&[b"x-a", b"x-b"], &["x-a", "x-b"]),
            (&[b"x-a", b"", b"x-b, x-c"], &["x-a", "x-b", "x-c"]),
        ];
        for (lines, expected) in ok {
            assert_eq!(parse(lines).unwrap(), *expected, "{lines:?}");
        }
        for bad in [&b"x a"[..], b"x-a;q=1", b"x\"a", b"(a)", b"a/b", b"\xff"] {
            assert!(
                matches!(parse(&[bad]), Err(HeaderListError::InvalidToken { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn comma_stuffing_is_refused_early() {
        let stuffed = vec![b','; 4000];
        assert_eq!(
            parse(&[&stuffed]),
            Err(HeaderListError::TooManyItems { max: 64 })
        );
        let huge = vec![b'a'; 1 << 20];
        assert!(matches!(
            parse(&[&huge]),
            Err(HeaderListError::TooLong { .. })
        ));
        // Many lines are counted before any is scanned.
        let many: Vec<&[u8]> = vec![b"a"; 1000];
        assert!(parse(&many).is_err());
    }

    #[test]
    fn limits_are_exact() {
        let limits = HeaderListLimits {
            max_bytes: 7,
            max_items: 2,
        };
        assert!(HeaderList::parse([&b"abc,def"[..]], limits).is_ok());
        assert!(HeaderList::parse([&b"abc,defg"[..]], limits).is_err());
        assert!(HeaderList::parse([&b"abc"[..], &b"def"[..]], limits).is_ok());
        assert!(HeaderList::parse([&b"a,b,c"[..]], limits).is_err());
    }

    #[test]
    fn scan_stops_when_told() {
        let mut seen = Vec::new();
        scan(
            || [&b"a,b,c"[..]].into_iter(),
            HeaderListLimits::default(),
            |t| {
                seen.push(t);
                t != b"b"
            },
        )
        .unwrap();
        assert_eq!(seen, [&b"a"[..], b"b"]);
    }
}
