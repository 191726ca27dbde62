//! Methods: the Fetch standard's method rules.
//!
//! - [Method normalization](https://fetch.spec.whatwg.org/#concept-method-normalize): only
//!   `DELETE`, `GET`, `HEAD`, `OPTIONS`, `POST` and `PUT` are upper-cased (byte
//!   case-insensitively); every other method keeps its case, so `fetch(url, {method: 'patch'})`
//!   sends `patch`, which `PATCH` in `Access-Control-Allow-Methods` does not cover.
//! - [Forbidden methods](https://fetch.spec.whatwg.org/#forbidden-method): `CONNECT`,
//!   `TRACE`, `TRACK` (case-insensitive); no page can send them.
//! - [CORS-safelisted methods](https://fetch.spec.whatwg.org/#cors-safelisted-method):
//!   `GET`, `HEAD`, `POST`.

/// The six methods that [`normalize`] upper-cases.
pub const NORMALIZED: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];

/// Whether `s` is an RFC 9110 token (`1*tchar`), the syntax of methods and header names.
///
/// ```
/// assert!(corsica::method::is_token(b"X-API-Key"));
/// assert!(!corsica::method::is_token(b"bad header"));
/// assert!(!corsica::method::is_token(b""));
/// ```
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// `tchar` of RFC 9110 § 5.6.2.
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// [`is_tchar`] as a table, built at compile time: the request's method and header names
/// are checked a byte at a time on every preflight.
static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

/// Normalizes a method as `fetch()` does: the six standard names are upper-cased, every
/// other method is returned unchanged.
///
/// ```
/// use corsica::method::normalize;
/// assert_eq!(normalize("delete"), "DELETE");
/// assert_eq!(normalize("patch"), "patch");
/// ```
pub fn normalize(method: &str) -> std::borrow::Cow<'_, str> {
    match NORMALIZED.iter().find(|m| m.eq_ignore_ascii_case(method)) {
        Some(m) if *m != method => std::borrow::Cow::Borrowed(m),
        _ => std::borrow::Cow::Borrowed(method),
    }
}

/// Whether the method is forbidden (`CONNECT`, `TRACE`, `TRACK`, any case).
///
/// ```
/// assert!(corsica::method::is_forbidden("trace"));
/// assert!(!corsica::method::is_forbidden("PATCH"));
/// ```
pub fn is_forbidden(method: &str) -> bool {
    ["CONNECT", "TRACE", "TRACK"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
}

/// Whether the method is CORS-safelisted (`GET`, `HEAD`, `POST`; case-sensitive, after
/// normalization).
///
/// ```
/// assert!(corsica::method::is_safelisted("POST"));
/// assert!(!corsica::method::is_safelisted("post"));
/// ```
pub fn is_safelisted(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "POST")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_table() {
        // Fetch § 2.2.1 "method normalize".
        for (input, out) in [
            ("get", "GET"),
            ("Get", "GET"),
            ("pOsT", "POST"),
            ("delete", "DELETE"),
            ("options", "OPTIONS"),
            ("put", "PUT"),
            ("head", "HEAD"),
            ("patch", "patch"),
            ("Patch", "Patch"),
            ("PATCH", "PATCH"),
            ("propfind", "propfind"),
        ] {
            assert_eq!(normalize(input), out, "{input}");
        }
    }

    #[test]
    fn tokens() {
        for ok in ["GET", "x-api-key", "A!#$%&'*+-.^_`|~9"] {
            assert!(is_token(ok.as_bytes()), "{ok}");
        }
        for bad in ["", "a b", "a,b", "a:b", "a\"b", "é", "(x)", "a/b"] {
            assert!(!is_token(bad.as_bytes()), "{bad}");
        }
    }
}
