//! CORS header names and helpers to read header values in assertions.

/// `Access-Control-Allow-Origin`.
pub const ACAO: &str = "access-control-allow-origin";
/// `Access-Control-Allow-Credentials`.
pub const ACAC: &str = "access-control-allow-credentials";
/// `Access-Control-Allow-Methods`.
pub const ACAM: &str = "access-control-allow-methods";
/// `Access-Control-Allow-Headers`.
pub const ACAH: &str = "access-control-allow-headers";
/// `Access-Control-Expose-Headers`.
pub const ACEH: &str = "access-control-expose-headers";
/// `Access-Control-Max-Age`.
pub const ACMA: &str = "access-control-max-age";
/// `Access-Control-Request-Method`.
pub const ACRM: &str = "access-control-request-method";
/// `Access-Control-Request-Headers`.
pub const ACRH: &str = "access-control-request-headers";

/// The tokens of `Vary` lines, lower-case, over every line given.
///
/// ```
/// use corsica_testkit::headers::vary_tokens;
/// let lines = ["Origin, Accept-Encoding", "access-control-request-method"];
/// assert_eq!(
///     vary_tokens(lines.into_iter()),
///     ["origin", "accept-encoding", "access-control-request-method"]
/// );
/// ```
pub fn vary_tokens<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    lines
        .flat_map(|l| l.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// A header value, lower-case, or the empty string when absent.
///
/// ```
/// assert_eq!(corsica_testkit::headers::lower(Some("GET, PUT")), "get, put");
/// assert_eq!(corsica_testkit::headers::lower(None), "");
/// ```
pub fn lower(v: Option<&str>) -> String {
    v.unwrap_or_default().to_ascii_lowercase()
}
