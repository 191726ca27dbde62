//! What a recorded request (a HAR entry, a DevTools trace) says about the page's `fetch()`
//! call: which headers the page set, and whether a recorded preflight asks about it.
//!
//! A recording lists every header the browser sent, its own (`User-Agent`, `Accept`,
//! `Sec-Fetch-*`, DevTools' `Cache-Control: no-cache` when the cache is disabled) beside the
//! page's. A preflight names the request it belongs to only through what it asks:
//! `Access-Control-Request-Method` and `Access-Control-Request-Headers`.

use super::safelist::{PAGE_SET_SAFELISTED_NAMES, unsafe_header_names};

/// Request headers Chromium adds by itself, never from the page's `fetch()`: `User-Agent`
/// (Chromium ignores a page's), `Priority` (the HTTP priority signal), and `Cache-Control`
/// / `Pragma` (DevTools' "Disable cache").
pub const BROWSER_ADDED_NAMES: [&str; 4] = ["cache-control", "pragma", "priority", "user-agent"];

/// The names of the headers the page set, given every header a recorded request carried:
/// the CORS-unsafe request-header names (`safelist::unsafe_header_names`) other than
/// [`BROWSER_ADDED_NAMES`], plus the safelisted names only a page sets
/// ([`PAGE_SET_SAFELISTED_NAMES`]); lower-cased, sorted, unique.
///
/// ```
/// use corsica::fetch::recorded::page_header_names;
/// let recorded = [("Accept", "*/*"), ("User-Agent", "Chrome"), ("Origin", "https://a.example"),
///     ("X-API-Key", "k"), ("Content-Type", "text/plain"), ("sec-ch-ua", "\"Chromium\"")];
/// assert_eq!(page_header_names(recorded), ["content-type", "x-api-key"]);
/// ```
pub fn page_header_names<'a>(
    recorded: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
) -> Vec<String> {
    let mut names = page_unsafe_names(recorded.clone());
    for (name, _) in recorded {
        let lower = name.to_ascii_lowercase();
        if PAGE_SET_SAFELISTED_NAMES.contains(&lower.as_str()) {
            names.push(lower);
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Whether a preflight that asked `Access-Control-Request-Method: acrm` and
/// `Access-Control-Request-Headers: acrh` is the one a browser sends for a request with
/// `method` and these headers (Fetch § 4.8 CORS-preflight fetch, steps 2–5): the method
/// as `fetch()` normalizes it, and exactly the request's CORS-unsafe header names (an
/// absent or empty list when it has none; an unparsable list asks about nothing).
/// `headers` are the recorded request's; [`BROWSER_ADDED_NAMES`] among them are ignored.
///
/// ```
/// use corsica::fetch::recorded::preflight_asks_about;
/// let headers = [("X-API-Key", "k"), ("Accept", "*/*")];
/// assert!(preflight_asks_about("GET", Some("x-api-key"), "get", headers));
/// assert!(!preflight_asks_about("GET", Some("x-api-key"), "GET", [("Accept", "*/*")]));
/// assert!(!preflight_asks_about("PUT", Some("x-api-key"), "GET", headers));
/// assert!(preflight_asks_about("DELETE", None, "DELETE", [("Accept", "*/*")]));
/// ```
pub fn preflight_asks_about<'a>(
    acrm: &str,
    acrh: Option<&str>,
    method: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> bool {
    if acrm != crate::method::normalize(method) {
        return false;
    }
    let asked = match acrh.map(str::trim).filter(|v| !v.is_empty()) {
        None => Vec::new(),
        Some(v) => match crate::HeaderList::parse_lowercase([v.as_bytes()], Default::default()) {
            Ok(list) => {
                let mut items = list.items().to_vec();
                items.sort();
                items.dedup();
                items
            }
            Err(_) => return false,
        },
    };
    asked == page_unsafe_names(headers)
}

/// The CORS-unsafe names of recorded headers, less [`BROWSER_ADDED_NAMES`].
fn page_unsafe_names<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    unsafe_header_names(headers)
        .into_iter()
        .filter(|n| !BROWSER_ADDED_NAMES.contains(&n.as_str()))
        .collect()
}
