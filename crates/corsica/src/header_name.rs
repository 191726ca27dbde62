//! Header names the Fetch standard never lets a page use, whatever a server allows.
//!
//! - [Forbidden request-header names](https://fetch.spec.whatwg.org/#forbidden-request-header):
//!   `Connection`, `Cookie`, `Host`, ... and every `Proxy-` or `Sec-` name; `fetch()`
//!   silently drops them, so allowing one in `Access-Control-Allow-Headers` has no effect.
//! - [Forbidden response-header names](https://fetch.spec.whatwg.org/#forbidden-response-header-name):
//!   `Set-Cookie`, `Set-Cookie2`; no script ever reads them, exposed or not.
//! - `Access-Control-*` names: the CORS protocol's own headers, which the browser sends
//!   (`-Request-*`) or consumes (`-Allow-*`, `-Expose-*`, `-Max-Age`); a page never needs to
//!   send one, and a script has no use for reading one.
//!
//! The browser model ([`crate::fetch::safelist::is_forbidden_request_header`]) and the
//! policy builder both use these, so the rule is written once.

/// Forbidden request-header names (Fetch § forbidden request-header), lower case.
const FORBIDDEN_REQUEST: [&str; 21] = [
    "accept-charset",
    "accept-encoding",
    "access-control-request-headers",
    "access-control-request-method",
    "connection",
    "content-length",
    "cookie",
    "cookie2",
    "date",
    "dnt",
    "expect",
    "host",
    "keep-alive",
    "origin",
    "referer",
    "set-cookie",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
];

/// Whether `fetch()` drops a request header of this name whatever its value (Fetch §
/// forbidden request-header: the list, and the `proxy-` and `sec-` prefixes), ASCII
/// case-insensitively. The method-override headers, forbidden only for some values, are
/// not: see [`crate::fetch::safelist::is_forbidden_request_header`].
///
/// ```
/// use corsica::header_name::is_forbidden_request_header_name;
/// assert!(is_forbidden_request_header_name("Connection"));
/// assert!(is_forbidden_request_header_name("Sec-Foo"));
/// assert!(is_forbidden_request_header_name("proxy-authorization"));
/// assert!(!is_forbidden_request_header_name("X-API-Key"));
/// ```
pub fn is_forbidden_request_header_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    FORBIDDEN_REQUEST.contains(&lower.as_str())
        || lower.starts_with("proxy-")
        || lower.starts_with("sec-")
}

/// Whether scripts can never read a response header of this name (Fetch § forbidden
/// response-header name: `set-cookie`, `set-cookie2`), ASCII case-insensitively.
///
/// ```
/// use corsica::header_name::is_forbidden_response_header_name;
/// assert!(is_forbidden_response_header_name("Set-Cookie"));
/// assert!(!is_forbidden_response_header_name("ETag"));
/// ```
pub fn is_forbidden_response_header_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("set-cookie") || name.eq_ignore_ascii_case("set-cookie2")
}

/// Whether the name is one of the CORS protocol's own (`Access-Control-*`), ASCII
/// case-insensitively.
///
/// ```
/// assert!(corsica::header_name::is_cors_protocol_header_name("Access-Control-Allow-Origin"));
/// assert!(!corsica::header_name::is_cors_protocol_header_name("X-Access-Control"));
/// ```
pub fn is_cors_protocol_header_name(name: &str) -> bool {
    name.get(..15)
        .is_some_and(|p| p.eq_ignore_ascii_case("access-control-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_and_protocol_names() {
        // (name, forbidden request, forbidden response, CORS protocol), from the peers' tests.
        #[rustfmt::skip]
        let cases: &[(&str, bool, bool, bool)] = &[
            ("Connection", true, false, false),          // jub0bs/cors, fcors: "forbidden request-header name"
            ("Sec-Foo", true, false, false),             // jub0bs/cors: "with Sec- prefix"
            ("Proxy-Foo", true, false, false),           // jub0bs/cors: "with Proxy- prefix"
            ("cookie", true, false, false),              // Fetch's list
            ("Access-Control-Request-Method", true, false, true),
            ("Access-Control-Allow-Origin", false, false, true), // jub0bs/cors: "prohibited request-header name"
            ("Set-Cookie", true, true, false),           // jub0bs/cors: forbidden response-header name
            ("set-cookie2", false, true, false),
            ("Secret", false, false, false),             // a prefix needs its hyphen
            ("Proxyish", false, false, false),
            ("X-API-Key", false, false, false),          // rs/cors, tower-http, actix-cors examples
            ("Authorization", false, false, false),
            ("access-control", false, false, false),
        ];
        for &(name, request, response, protocol) in cases {
            assert_eq!(is_forbidden_request_header_name(name), request, "{name}");
            assert_eq!(is_forbidden_response_header_name(name), response, "{name}");
            assert_eq!(is_cors_protocol_header_name(name), protocol, "{name}");
        }
    }
}
