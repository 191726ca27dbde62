//! What the Fetch standard (and Chromium) lets through without a preflight, and what
//! scripts may read: CORS-safelisted methods, request headers (with their value rules),
//! forbidden request headers, and CORS-safelisted response headers.

use super::browser::Browser;
use crate::header_name::is_forbidden_request_header_name;
use crate::method::is_safelisted;

/// The most bytes a safelisted request-header value may have
/// (Fetch § CORS-safelisted request-header, step 1).
pub const MAX_SAFELISTED_VALUE: usize = 128;
/// The most bytes all safelisted request-header values together may have before every one
/// of them counts as unsafe (Fetch § CORS-unsafe request-header names).
pub const MAX_SAFELISTED_TOTAL: usize = 1024;

/// Whether `method` (after normalization) needs no preflight.
///
/// ```
/// assert!(corsica::fetch::safelist::is_safelisted_method("POST"));
/// assert!(!corsica::fetch::safelist::is_safelisted_method("PUT"));
/// ```
pub fn is_safelisted_method(method: &str) -> bool {
    is_safelisted(method)
}

/// A CORS-unsafe request-header byte (Fetch § 2.2.2): controls other than tab, and
/// `"():<>?@[\]{}` and DEL.
///
/// ```
/// assert!(corsica::fetch::safelist::is_unsafe_byte(b'('));
/// assert!(!corsica::fetch::safelist::is_unsafe_byte(b'\t'));
/// ```
pub fn is_unsafe_byte(b: u8) -> bool {
    (b < 0x20 && b != 0x09)
        || matches!(
            b,
            b'"' | b'('
                | b')'
                | b':'
                | b'<'
                | b'>'
                | b'?'
                | b'@'
                | b'['
                | b'\\'
                | b']'
                | b'{'
                | b'}'
                | 0x7f
        )
}

/// Whether `fetch()` drops this request header (Fetch § forbidden request-header),
/// including `Proxy-`/`Sec-` names and the method-override headers naming a forbidden method.
///
/// ```
/// use corsica::fetch::safelist::is_forbidden_request_header;
/// assert!(is_forbidden_request_header("Cookie", "a=b"));
/// assert!(is_forbidden_request_header("Sec-Fetch-Mode", "cors"));
/// assert!(is_forbidden_request_header("X-HTTP-Method-Override", "TRACE"));
/// assert!(!is_forbidden_request_header("X-API-Key", "k"));
/// ```
pub fn is_forbidden_request_header(name: &str, value: &str) -> bool {
    if is_forbidden_request_header_name(name) {
        return true;
    }
    let lower = name.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "x-http-method" | "x-http-method-override" | "x-method-override"
    ) {
        return value
            .split(',')
            .map(|v| v.trim_matches([' ', '\t']))
            .any(crate::method::is_forbidden);
    }
    false
}

/// The CORS-safelisted request-header names that only a page sets: the Fetch standard's
/// list less `accept` and `accept-language`, which the browser sends on every request.
/// A recorded request that carries one of them had it from the page (and needs no
/// preflight for it while its value is safelisted).
///
/// ```
/// assert!(corsica::fetch::safelist::PAGE_SET_SAFELISTED_NAMES.contains(&"content-type"));
/// ```
pub const PAGE_SET_SAFELISTED_NAMES: [&str; 3] = ["content-language", "content-type", "range"];

/// Whether (`name`, `value`) is a CORS-safelisted request header, as Chromium decides
/// (`cors::IsCorsSafelistedHeader`): the Fetch standard's `accept`, `accept-language`,
/// `content-language`, `content-type`, `range`, plus Chromium's client-hint and
/// network-information headers (`dpr`, `width`, `save-data`, ...).
///
/// ```
/// use corsica::fetch::safelist::is_safelisted_request_header;
/// assert!(is_safelisted_request_header("Content-Type", "text/plain;charset=UTF-8"));
/// assert!(!is_safelisted_request_header("Content-Type", "application/json"));
/// assert!(is_safelisted_request_header("DPR", "2"));
/// assert!(!is_safelisted_request_header("X-API-Key", "k"));
/// ```
pub fn is_safelisted_request_header(name: &str, value: &str) -> bool {
    is_safelisted_request_header_in(Browser::Chromium, name, value)
}

/// [`is_safelisted_request_header`] as `browser` decides: Firefox safelists only the Fetch
/// standard's five names, not Chromium's client hints.
///
/// ```
/// use corsica::fetch::{Browser, safelist::is_safelisted_request_header_in};
/// assert!(is_safelisted_request_header_in(Browser::Chromium, "Save-Data", "on"));
/// assert!(!is_safelisted_request_header_in(Browser::Firefox, "Save-Data", "on"));
/// assert!(is_safelisted_request_header_in(Browser::Firefox, "Accept", "*/*"));
/// ```
pub fn is_safelisted_request_header_in(browser: Browser, name: &str, value: &str) -> bool {
    if value.len() > MAX_SAFELISTED_VALUE {
        return false;
    }
    let v = value.as_bytes();
    let name = name.to_ascii_lowercase();
    if let Some(valid) = client_hint(&name, value) {
        return valid && browser.safelists_client_hints();
    }
    match name.as_str() {
        "accept" => !v.iter().any(|&b| is_unsafe_byte(b)),
        "accept-language" | "content-language" => v.iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b' ' | b'*' | b',' | b'-' | b'.' | b';' | b'=')
        }),
        "content-type" => {
            !v.iter().any(|&b| is_unsafe_byte(b))
                && matches!(
                    mime_essence(value).as_deref(),
                    Some(
                        "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain"
                    )
                )
        }
        "range" => is_simple_range(value),
        _ => false,
    }
}

/// The request headers Chromium safelists beyond the Fetch standard
/// (`services/network/public/cpp/cors/cors.cc`: client hints, network information,
/// `Intervention`): `Some(whether the value is one Chromium safelists)` for those names
/// (lower-cased), `None` for any other.
fn client_hint(name: &str, value: &str) -> Option<bool> {
    let v = value.as_bytes();
    Some(match name {
        "intervention" => true,
        "device-memory" | "dpr" | "downlink" => is_decimal(value),
        "width" | "viewport-width" | "rtt" => !v.is_empty() && v.iter().all(u8::is_ascii_digit),
        "ect" => matches!(value, "slow-2g" | "2g" | "3g" | "4g"),
        "save-data" => value.eq_ignore_ascii_case("on"),
        _ => return None,
    })
}

/// Whether `name` is one of the request headers Chromium safelists beyond the Fetch
/// standard (client hints such as `DPR` and `Save-Data`, network information,
/// `Intervention`), which other browsers preflight.
///
/// ```
/// use corsica::fetch::safelist::is_chromium_extra;
/// assert!(is_chromium_extra("Save-Data"));
/// assert!(!is_chromium_extra("Accept"));
/// ```
pub fn is_chromium_extra(name: &str) -> bool {
    client_hint(&name.to_ascii_lowercase(), "").is_some()
}

/// `1*DIGIT ["." 1*DIGIT]`.
fn is_decimal(v: &str) -> bool {
    let (int, frac) = match v.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (v, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

/// The essence (`type/subtype`, lower-cased) of a MIME type, per the MIME Sniffing
/// standard's parser as far as the essence goes: leading/trailing HTTP whitespace trimmed,
/// type and subtype non-empty HTTP tokens. `None` when it does not parse.
pub(crate) fn mime_essence(value: &str) -> Option<String> {
    let value = value.trim_matches([' ', '\t', '\r', '\n']);
    let (ty, rest) = value.split_once('/')?;
    let subtype = rest
        .split(';')
        .next()?
        .trim_end_matches([' ', '\t', '\r', '\n']);
    if !crate::method::is_token(ty.as_bytes()) || !crate::method::is_token(subtype.as_bytes()) {
        return None;
    }
    Some(format!(
        "{}/{}",
        ty.to_ascii_lowercase(),
        subtype.to_ascii_lowercase()
    ))
}

/// Fetch's "simple range header value": `bytes=` start `-` [end], no suffix ranges, one
/// range, start ≤ end.
fn is_simple_range(value: &str) -> bool {
    let Some(spec) = value.strip_prefix("bytes=") else {
        return false;
    };
    let Some((start, end)) = spec.split_once('-') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(start) || !(end.is_empty() || digits(end)) {
        return false;
    }
    if end.is_empty() {
        return true;
    }
    match (start.parse::<u128>(), end.parse::<u128>()) {
        (Ok(s), Ok(e)) => s <= e,
        // Beyond u128: compare as numbers by length, then lexicographically.
        _ => {
            let (s, e) = (start.trim_start_matches('0'), end.trim_start_matches('0'));
            (s.len(), s) <= (e.len(), e)
        }
    }
}

/// The CORS-unsafe request-header names of a header list (Fetch § CORS-unsafe
/// request-header names, as Chromium's `CorsUnsafeNotForbiddenRequestHeaderNames`):
/// lower-cased, sorted, unique; forbidden headers are ignored; when the safelisted values
/// add up to more than 1024 bytes, they all count as unsafe.
///
/// ```
/// use corsica::fetch::safelist::unsafe_header_names;
/// let headers = [("X-API-Key", "k"), ("Content-Type", "application/json"), ("Accept", "*/*")];
/// assert_eq!(unsafe_header_names(headers.iter().map(|(n, v)| (*n, *v))), ["content-type", "x-api-key"]);
/// ```
pub fn unsafe_header_names<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<String> {
    unsafe_header_names_in(Browser::Chromium, headers)
}

/// [`unsafe_header_names`] as `browser` decides: with its safelist, and in Chromium only
/// the 1,024-byte total. Firefox judges each header line as the page appended it and keeps
/// a name appended twice twice (its `Access-Control-Request-Headers` says `x-a,x-a`).
///
/// ```
/// use corsica::fetch::{Browser, safelist::unsafe_header_names_in};
/// let headers = [("Save-Data", "on"), ("X-A", "1")];
/// assert_eq!(unsafe_header_names_in(Browser::Chromium, headers), ["x-a"]);
/// assert_eq!(unsafe_header_names_in(Browser::Firefox, headers), ["save-data", "x-a"]);
/// ```
pub fn unsafe_header_names_in<'a>(
    browser: Browser,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<String> {
    let mut unsafe_names = Vec::new();
    let mut potentially_unsafe = Vec::new();
    let mut total = 0usize;
    for (name, value) in headers {
        if is_forbidden_request_header(name, value) {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        if is_safelisted_request_header_in(browser, name, value) {
            total += value.len();
            potentially_unsafe.push(lower);
        } else {
            unsafe_names.push(lower);
        }
    }
    if total > MAX_SAFELISTED_TOTAL && !browser.judges_headers_as_appended() {
        unsafe_names.extend(potentially_unsafe);
    }
    unsafe_names.sort();
    if !browser.judges_headers_as_appended() {
        unsafe_names.dedup();
    }
    unsafe_names
}

/// Response headers every CORS response exposes to scripts (Fetch § CORS-safelisted
/// response-header name).
pub const SAFELISTED_RESPONSE_HEADERS: [&str; 7] = [
    "cache-control",
    "content-language",
    "content-length",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Fetch § 2.2.2 "CORS-safelisted request-header".
    #[test]
    fn safelisted_request_headers_fetch_2_2_2() {
        let long = "a".repeat(129);
        let cases: &[(&str, &str, bool)] = &[
            ("accept", "*/*", true),
            ("Accept", "text/html, application/json;q=0.9", true),
            ("accept", "a(b", false),
            ("accept", "a\"b", false),
            ("accept", &long, false),
            ("accept-language", "en-US,en;q=0.9", true),
            ("accept-language", "en_US", false),
            ("content-language", "de-DE", true),
            ("content-language", "de/DE", false),
            ("content-type", "text/plain", true),
            ("content-type", "TEXT/PLAIN; charset=utf-8", true),
            ("content-type", "application/x-www-form-urlencoded", true),
            ("content-type", "multipart/form-data; boundary=x", true),
            ("content-type", "application/json", false),
            ("content-type", "text/plain; charset=\"utf-8\"", false),
            ("content-type", "text/html", false),
            ("content-type", "text", false),
            ("range", "bytes=0-", true),
            ("range", "bytes=0-499", true),
            ("range", "bytes=500-100", false),
            ("range", "bytes=-500", false),
            ("range", "bytes=0-1,2-3", false),
            ("range", "items=0-1", false),
            ("dpr", "2", true),
            ("dpr", "2.5", true),
            ("dpr", "2.", false),
            ("width", "1024", true),
            ("width", "10.5", false),
            ("save-data", "ON", true),
            ("save-data", "off", false),
            ("ect", "4g", true),
            ("ect", "5g", false),
            ("x-api-key", "k", false),
            ("authorization", "Bearer x", false),
        ];
        for (n, v, want) in cases {
            assert_eq!(is_safelisted_request_header(n, v), *want, "{n}: {v}");
        }
    }

    /// Fetch § 2.2.2 "CORS-unsafe request-header names": the 1024-byte total.
    #[test]
    fn total_length_makes_everything_unsafe() {
        let a = "a".repeat(128);
        let exactly_1024: Vec<(&str, &str)> =
            (0..8).map(|_| ("accept-language", a.as_str())).collect();
        assert!(unsafe_header_names(exactly_1024.iter().copied()).is_empty());
        let names = [
            "accept",
            "accept-language",
            "content-language",
            "content-type",
        ];
        let v = "a".repeat(120);
        let ct = "text/plain;".to_owned() + &"a".repeat(100);
        let mut headers: Vec<(&str, &str)> = names[..3].iter().map(|n| (*n, v.as_str())).collect();
        headers.push((names[3], &ct));
        assert!(
            unsafe_header_names(headers.iter().copied()).is_empty(),
            "471 bytes"
        );
        let big = "b".repeat(128);
        let many: Vec<(&str, &str)> = (0..9).map(|_| ("accept", big.as_str())).collect();
        assert_eq!(unsafe_header_names(many.iter().copied()), ["accept"]);
    }

    /// Fetch § 2.2.2 "forbidden request-header": dropped, never unsafe.
    #[test]
    fn forbidden_headers_are_ignored() {
        let h = [
            ("Cookie", "a=b"),
            ("Sec-Foo", "x"),
            ("Proxy-Authorization", "x"),
            ("X-A", "1"),
        ];
        assert_eq!(unsafe_header_names(h.iter().copied()), ["x-a"]);
    }

    #[test]
    fn mime_essence_parsing() {
        assert_eq!(
            mime_essence(" Text/Plain ; a=b").as_deref(),
            Some("text/plain")
        );
        assert_eq!(mime_essence("text/").as_deref(), None);
        assert_eq!(mime_essence("/plain").as_deref(), None);
        assert_eq!(mime_essence("te xt/plain").as_deref(), None);
    }
}
