//! Origins: parsing and serialization per the URL and Fetch standards.
//!
//! An origin is either a *tuple* (scheme, host, port) or *opaque*, serialized as `null`
//! ([HTML § origin](https://html.spec.whatwg.org/multipage/browsers.html#concept-origin),
//! [Fetch § `Origin` header](https://fetch.spec.whatwg.org/#origin-header)).
//!
//! Two entry points:
//! - [`Origin::parse`] for configuration: lenient about spelling (upper case, Unicode hosts,
//!   default ports) and normalizes to the serialization a browser sends.
//! - [`Origin::from_header`] for the `Origin` request header: strict. A browser always sends
//!   the serialized form, so anything else (other bytes, upper case, a default port, a
//!   trailing `/`, several values) is rejected with an [`OriginError`], never guessed at.

use std::fmt;
use std::net::Ipv4Addr;

use crate::display::{shown, shown_str};

/// An origin: `scheme://host[:port]` or the opaque `null`.
///
/// The serialization is the one browsers send in the `Origin` header: lower-case scheme and
/// host, the host in ASCII (IDNA), IPv6 hosts in brackets, and no port when it is the
/// scheme's default.
///
/// Equality is by value (two `null` origins compare equal as *values*); use
/// [`Origin::is_same_origin`] for the HTML "same origin" relation, under which an opaque
/// origin is never the same as anything.
///
/// ```
/// use corsica::Origin;
///
/// let o = Origin::parse("HTTPS://Bücher.Example:443")?;
/// assert_eq!(o.as_str(), "https://xn--bcher-kva.example");
/// assert_eq!(o.scheme(), Some("https"));
/// assert_eq!(o.host(), Some("xn--bcher-kva.example"));
/// assert_eq!(o.port(), None);
/// assert_eq!(o.port_or_default(), Some(443));
/// # Ok::<(), corsica::OriginError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The full serialization (`null` for opaque origins).
    serialized: Box<str>,
    /// `None` for the opaque origin.
    tuple: Option<TupleParts>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct TupleParts {
    /// Length of the scheme in `serialized`.
    scheme_len: u16,
    /// End of the host (exclusive) in `serialized`; the host starts at `scheme_len + 3`.
    host_end: u16,
    /// The port, `None` when it is the scheme's default (or the scheme has none).
    port: Option<u16>,
    /// Whether the host is an IP address (v4 or v6) rather than a domain.
    ip: bool,
}

/// Why a string is not an origin. Each message names what is wrong and how to write it.
///
/// ```
/// use corsica::{Origin, OriginError};
///
/// let err = Origin::parse("https://app.example.com/").unwrap_err();
/// assert!(matches!(err, OriginError::Path { .. }));
/// assert!(err.to_string().contains("https://app.example.com"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// The input is empty.
    #[error("the origin is empty: write it as scheme://host[:port], e.g. https://example.com")]
    Empty,
    /// The input is longer than any origin can reasonably be.
    #[error(
        "the origin is {len} bytes long (at most {max} are accepted): an origin is only scheme://host[:port]"
    )]
    TooLong {
        /// The length of the input.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The input contains whitespace.
    #[error(
        "`{input}` contains whitespace: an origin is a single scheme://host[:port] with no spaces"
    )]
    Whitespace {
        /// The input, escaped and bounded.
        input: String,
    },
    /// The header value contains bytes outside visible ASCII.
    #[error(
        "`{input}` contains bytes that are not visible ASCII: browsers send hosts in ASCII (IDNA/punycode), e.g. https://xn--bcher-kva.example"
    )]
    NotAscii {
        /// The input, escaped and bounded.
        input: String,
    },
    /// Several origins in one value.
    #[error(
        "`{input}` holds several values: an Origin is exactly one origin (list each allowed origin separately)"
    )]
    MultipleValues {
        /// The input, escaped and bounded.
        input: String,
    },
    /// No `scheme://` prefix.
    #[error("`{input}` has no scheme: write it as `https://{input}` (or http:// for plain HTTP)")]
    MissingScheme {
        /// The input, escaped and bounded.
        input: String,
    },
    /// The scheme is not a valid URL scheme.
    #[error(
        "`{input}` has an invalid scheme: a scheme is a letter followed by letters, digits, `+`, `-` or `.`, e.g. https"
    )]
    InvalidScheme {
        /// The input, escaped and bounded.
        input: String,
    },
    /// The input has a path (including a lone trailing `/`).
    #[error("`{input}` has a path: an origin is only scheme://host[:port]; write `{suggestion}`")]
    Path {
        /// The input, escaped and bounded.
        input: String,
        /// The input without its path.
        suggestion: String,
    },
    /// The input has a query (`?...`).
    #[error("`{input}` has a query: an origin is only scheme://host[:port]; write `{suggestion}`")]
    Query {
        /// The input, escaped and bounded.
        input: String,
        /// The input without its query.
        suggestion: String,
    },
    /// The input has a fragment (`#...`).
    #[error(
        "`{input}` has a fragment: an origin is only scheme://host[:port]; write `{suggestion}`"
    )]
    Fragment {
        /// The input, escaped and bounded.
        input: String,
        /// The input without its fragment.
        suggestion: String,
    },
    /// The input has userinfo (`user:pass@`).
    #[error(
        "`{input}` has a user name or password (`...@`): an origin never carries credentials; remove everything up to and including `@`"
    )]
    Userinfo {
        /// The input, escaped and bounded.
        input: String,
    },
    /// The input has a `*` where an origin is expected.
    #[error(
        "`{input}` contains `*`: an origin is exact; for several origins use a pattern in an origin set (`https://*.example.com`, `http://localhost:*`) or `*` alone"
    )]
    Wildcard {
        /// The input, escaped and bounded.
        input: String,
    },
    /// The input has percent-encoded bytes.
    #[error(
        "`{input}` contains percent-encoding: write the host in plain letters (Unicode is fine in configuration)"
    )]
    PercentEncoded {
        /// The input, escaped and bounded.
        input: String,
    },
    /// The host is empty.
    #[error("`{input}` has no host: write it as scheme://host[:port], e.g. https://example.com")]
    EmptyHost {
        /// The input, escaped and bounded.
        input: String,
    },
    /// The host cannot be parsed.
    #[error(
        "`{input}` has an invalid host ({detail}): use a domain name, an IPv4 address or a bracketed IPv6 address"
    )]
    InvalidHost {
        /// The input, escaped and bounded.
        input: String,
        /// What the host parser reported.
        detail: String,
    },
    /// The port is not a number in 0..=65535.
    #[error(
        "`{input}` has an invalid port: a port is a number from 0 to 65535, e.g. https://example.com:8443"
    )]
    InvalidPort {
        /// The input, escaped and bounded.
        input: String,
    },
    /// A header value that parses but is not the serialization a browser sends.
    #[error(
        "`{input}` is not a serialized origin (browsers send `{expected}`): Origin headers must be in serialized form"
    )]
    NotSerialized {
        /// The input, escaped and bounded.
        input: String,
        /// The serialization of the parsed origin.
        expected: String,
    },
}

/// Inputs longer than this are refused before any parsing (a domain is at most 253 bytes;
/// scheme, brackets and port add little).
pub const MAX_ORIGIN_LEN: usize = 1024;

/// The default port of a special scheme, per the URL standard (`https` → 443; none for
/// `chrome-extension`).
pub(crate) fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "ftp" => Some(21),
        _ => None,
    }
}

/// Whether `scheme` is one of the URL standard's special schemes with a network host.
fn is_special(scheme: &str) -> bool {
    matches!(scheme, "http" | "https" | "ws" | "wss" | "ftp")
}

/// Refuses an empty or overlong origin before any parsing.
fn check_length(len: usize) -> Result<(), OriginError> {
    match len {
        0 => Err(OriginError::Empty),
        len if len > MAX_ORIGIN_LEN => Err(OriginError::TooLong {
            len,
            max: MAX_ORIGIN_LEN,
        }),
        _ => Ok(()),
    }
}

impl Origin {
    /// The opaque origin, serialized as `null`.
    ///
    /// ```
    /// assert_eq!(corsica::Origin::null().as_str(), "null");
    /// ```
    pub fn null() -> Origin {
        Origin {
            serialized: "null".into(),
            tuple: None,
        }
    }

    /// Parses an origin written by a person (configuration, command line): scheme and host
    /// are case-insensitive, Unicode hosts are converted to ASCII (IDNA), IPv4 and IPv6
    /// addresses are canonicalized and default ports dropped.
    ///
    /// Refused: paths (a trailing `/` too), queries, fragments, userinfo, `*`, whitespace,
    /// percent-encoding, several values, invalid hosts or ports. `null` (exactly) is the
    /// opaque origin.
    ///
    /// ```
    /// use corsica::Origin;
    /// assert_eq!(Origin::parse("http://LOCALHOST:80")?.as_str(), "http://localhost");
    /// assert_eq!(Origin::parse("http://[0:0::1]:3000")?.as_str(), "http://[::1]:3000");
    /// assert!(Origin::parse("https://example.com/app").is_err());
    /// # Ok::<(), corsica::OriginError>(())
    /// ```
    pub fn parse(input: &str) -> Result<Origin, OriginError> {
        check_length(input.len())?;
        if input == "null" {
            return Ok(Origin::null());
        }
        let show = || shown_str(input);
        if input.contains(',') {
            return Err(OriginError::MultipleValues { input: show() });
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(OriginError::Whitespace { input: show() });
        }
        let Some((scheme, rest)) = input.split_once("://") else {
            return Err(OriginError::MissingScheme { input: show() });
        };
        if !is_valid_scheme(scheme) {
            return Err(OriginError::InvalidScheme { input: show() });
        }
        let scheme = scheme.to_ascii_lowercase();
        // The authority ends at the first of `/`, `?`, `#`.
        if let Some(pos) = rest.find(['/', '?', '#']) {
            let suggestion = shown_str(&format!("{scheme}://{}", &rest[..pos]));
            let input = show();
            return Err(match rest.as_bytes()[pos] {
                b'/' => OriginError::Path { input, suggestion },
                b'?' => OriginError::Query { input, suggestion },
                _ => OriginError::Fragment { input, suggestion },
            });
        }
        if rest.contains('@') {
            return Err(OriginError::Userinfo { input: show() });
        }
        if rest.contains('*') {
            return Err(OriginError::Wildcard { input: show() });
        }
        if rest.contains('%') {
            return Err(OriginError::PercentEncoded { input: show() });
        }
        let (host, port) =
            split_host_port(rest).ok_or_else(|| OriginError::InvalidPort { input: show() })?;
        if host.is_empty() {
            return Err(OriginError::EmptyHost { input: show() });
        }
        let port = match port {
            None | Some("") => None,
            Some(p) => {
                Some(parse_port(p).ok_or_else(|| OriginError::InvalidPort { input: show() })?)
            }
        };
        let port = port.filter(|&p| Some(p) != default_port(&scheme));
        let (host, ip) = parse_host(&scheme, host).map_err(|detail| OriginError::InvalidHost {
            input: show(),
            detail,
        })?;
        let origin = Origin::from_parts(&scheme, &host, port, ip);
        // IDNA can lengthen a host: bound the serialization too, so whatever parses can be
        // parsed again (and can match a request's header).
        if origin.serialized.len() > MAX_ORIGIN_LEN {
            return Err(OriginError::TooLong {
                len: origin.serialized.len(),
                max: MAX_ORIGIN_LEN,
            });
        }
        Ok(origin)
    }

    /// Parses an `Origin` request header value strictly: it must be exactly the
    /// serialization a browser sends (`null` or `scheme://host[:port]` in canonical form),
    /// in visible ASCII, one value.
    ///
    /// ```
    /// use corsica::{Origin, OriginError};
    /// use http::HeaderValue;
    ///
    /// let ok = Origin::from_header(&HeaderValue::from_static("https://app.example.com"))?;
    /// assert_eq!(ok.as_str(), "https://app.example.com");
    ///
    /// let upper = Origin::from_header(&HeaderValue::from_static("https://App.example.com"));
    /// assert!(matches!(upper, Err(OriginError::NotSerialized { .. })));
    /// # Ok::<(), OriginError>(())
    /// ```
    pub fn from_header(value: &http::HeaderValue) -> Result<Origin, OriginError> {
        Origin::from_header_bytes(value.as_bytes())
    }

    /// [`Origin::from_header`] on raw bytes.
    ///
    /// ```
    /// assert!(corsica::Origin::from_header_bytes(b"https://a.example, https://b.example").is_err());
    /// ```
    pub fn from_header_bytes(bytes: &[u8]) -> Result<Origin, OriginError> {
        check_length(bytes.len())?;
        if bytes.contains(&b',') {
            return Err(OriginError::MultipleValues {
                input: shown(bytes),
            });
        }
        if bytes.iter().any(|&b| b == b' ' || b == b'\t') {
            return Err(OriginError::Whitespace {
                input: shown(bytes),
            });
        }
        if bytes.iter().any(|&b| !(0x21..0x7f).contains(&b)) {
            return Err(OriginError::NotAscii {
                input: shown(bytes),
            });
        }
        // Visible ASCII is valid UTF-8.
        let text = std::str::from_utf8(bytes).map_err(|_| OriginError::NotAscii {
            input: shown(bytes),
        })?;
        let origin = Origin::parse(text)?;
        if origin.as_str() != text {
            return Err(OriginError::NotSerialized {
                input: shown(bytes),
                expected: origin.as_str().to_owned(),
            });
        }
        Ok(origin)
    }

    fn from_parts(scheme: &str, host: &str, port: Option<u16>, ip: bool) -> Origin {
        let mut s = String::with_capacity(scheme.len() + 3 + host.len() + 6);
        s.push_str(scheme);
        s.push_str("://");
        s.push_str(host);
        let host_end = s.len();
        if let Some(p) = port {
            s.push(':');
            s.push_str(&p.to_string());
        }
        Origin {
            serialized: s.into_boxed_str(),
            tuple: Some(TupleParts {
                // Bounded by MAX_ORIGIN_LEN (IDNA output is bounded by the URL parser too).
                scheme_len: u16::try_from(scheme.len()).unwrap_or(u16::MAX),
                host_end: u16::try_from(host_end).unwrap_or(u16::MAX),
                port,
                ip,
            }),
        }
    }

    /// The serialization, exactly as a browser sends it in `Origin`.
    ///
    /// ```
    /// assert_eq!(corsica::Origin::parse("https://a.example:8443")?.as_str(), "https://a.example:8443");
    /// # Ok::<(), corsica::OriginError>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.serialized
    }

    /// Whether this is the opaque origin (`null`).
    ///
    /// ```
    /// assert!(corsica::Origin::null().is_opaque());
    /// ```
    pub fn is_opaque(&self) -> bool {
        self.tuple.is_none()
    }

    /// The scheme, `None` for the opaque origin.
    ///
    /// ```
    /// assert_eq!(corsica::Origin::parse("wss://a.example")?.scheme(), Some("wss"));
    /// # Ok::<(), corsica::OriginError>(())
    /// ```
    pub fn scheme(&self) -> Option<&str> {
        self.tuple
            .map(|t| &self.serialized[..usize::from(t.scheme_len)])
    }

    /// The host in ASCII (IPv6 addresses with their brackets), `None` for the opaque origin.
    ///
    /// ```
    /// assert_eq!(corsica::Origin::parse("http://[::1]:3000")?.host(), Some("[::1]"));
    /// # Ok::<(), corsica::OriginError>(())
    /// ```
    pub fn host(&self) -> Option<&str> {
        self.tuple
            .map(|t| &self.serialized[usize::from(t.scheme_len) + 3..usize::from(t.host_end)])
    }

    /// The explicit port: `None` when it is the scheme's default (or for `null`).
    ///
    /// ```
    /// assert_eq!(corsica::Origin::parse("http://localhost:3000")?.port(), Some(3000));
    /// # Ok::<(), corsica::OriginError>(())
    /// ```
    pub fn port(&self) -> Option<u16> {
        self.tuple.and_then(|t| t.port)
    }

    /// The port, with the scheme's default filled in.
    ///
    /// ```
    /// assert_eq!(corsica::Origin::parse("https://a.example")?.port_or_default(), Some(443));
    /// # Ok::<(), corsica::OriginError>(())
    /// ```
    pub fn port_or_default(&self) -> Option<u16> {
        let t = self.tuple?;
        t.port.or_else(|| default_port(self.scheme()?))
    }

    /// Whether the host is an IP address rather than a domain.
    ///
    /// ```
    /// assert!(corsica::Origin::parse("http://127.0.0.1:8080")?.is_ip());
    /// # Ok::<(), corsica::OriginError>(())
    /// ```
    pub fn is_ip(&self) -> bool {
        self.tuple.is_some_and(|t| t.ip)
    }

    /// HTML's "same origin": equal tuples; an opaque origin is never the same as another.
    ///
    /// ```
    /// use corsica::Origin;
    /// let a = Origin::parse("https://a.example")?;
    /// assert!(a.is_same_origin(&Origin::parse("https://a.example:443")?));
    /// assert!(!Origin::null().is_same_origin(&Origin::null()));
    /// # Ok::<(), corsica::OriginError>(())
    /// ```
    pub fn is_same_origin(&self, other: &Origin) -> bool {
        !self.is_opaque() && self == other
    }

    /// Whether the origin is "potentially trustworthy" (a secure context may have it):
    /// `https`/`wss`, or a loopback host (`localhost`, `*.localhost`, `127.0.0.0/8`,
    /// `[::1]`) per the Secure Contexts specification.
    ///
    /// ```
    /// use corsica::Origin;
    /// assert!(Origin::parse("https://a.example")?.is_potentially_trustworthy());
    /// assert!(Origin::parse("http://localhost:3000")?.is_potentially_trustworthy());
    /// assert!(!Origin::parse("http://a.example")?.is_potentially_trustworthy());
    /// # Ok::<(), corsica::OriginError>(())
    /// ```
    pub fn is_potentially_trustworthy(&self) -> bool {
        match (self.scheme(), self.host()) {
            (Some("https" | "wss"), _) => true,
            (Some(_), Some(host)) => is_loopback_host(host),
            _ => false,
        }
    }
}

/// Whether a serialized host is loopback: `localhost`, a `.localhost` name (either with a
/// trailing dot, as in Secure Contexts § 3.2), `127.0.0.0/8` or `[::1]`.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let name = host.strip_suffix('.').unwrap_or(host);
    if name == "localhost" || name.ends_with(".localhost") || host == "[::1]" {
        return true;
    }
    host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.serialized)
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Origin({})", self.serialized)
    }
}

impl std::str::FromStr for Origin {
    type Err = OriginError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Origin::parse(s)
    }
}

/// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986 § 3.1).
pub(crate) fn is_valid_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Splits `host[:port]` (IPv6 in brackets). `None` when the text after the host is neither
/// empty nor `:port`.
pub(crate) fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, after) = authority.split_at(close + 1);
        match after.strip_prefix(':') {
            Some(port) => Some((host, Some(port))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => Some((host, Some(port))),
            None => Some((authority, None)),
        }
    }
}

/// A port per the URL standard: ASCII digits (leading zeros allowed), at most 65535.
pub(crate) fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = p.trim_start_matches('0');
    if trimmed.len() > 5 {
        return None;
    }
    if trimmed.is_empty() {
        return Some(0);
    }
    trimmed.parse::<u16>().ok()
}

/// Whether the URL standard's host parser would return `host` unchanged as a domain: only
/// lower-case ASCII letters, digits, `-` and `.`, no label starting with `xn--`, and a last
/// label that is not a number (`ends in a number` would make it an IPv4 address).
fn is_canonical_ascii_domain(host: &str) -> bool {
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        return false;
    }
    if host.split('.').any(|label| label.starts_with("xn--")) {
        return false;
    }
    let last = host
        .strip_suffix('.')
        .unwrap_or(host)
        .rsplit('.')
        .next()
        .unwrap_or("");
    let numeric = !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit());
    let hex = last
        .strip_prefix("0x")
        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    !last.is_empty() && !numeric && !hex
}

/// Parses and serializes a host. Special schemes use the URL standard's host parser (IDNA,
/// IPv4 forms, IPv6 compression); other schemes (e.g. `chrome-extension`) accept only
/// ASCII letters, digits, `-`, `.` and `_`, lower-cased.
fn parse_host(scheme: &str, host: &str) -> Result<(String, bool), String> {
    if is_special(scheme) && is_canonical_ascii_domain(host) {
        // The URL standard's host parser is the identity on these (no IDNA mapping, no
        // punycode to check, not an IPv4 number): skip it, it dominates the cost of
        // matching patterns.
        return Ok((host.to_owned(), false));
    }
    if is_special(scheme) || host.starts_with('[') {
        match url::Host::parse(host) {
            Ok(url::Host::Domain(d)) => Ok((d, false)),
            // The URL standard's serializations (`url` follows them; std's `Ipv6Addr`
            // would print IPv4-mapped addresses differently from browsers).
            Ok(h @ (url::Host::Ipv4(_) | url::Host::Ipv6(_))) => Ok((h.to_string(), true)),
            Err(e) => Err(e.to_string()),
        }
    } else if host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        Ok((host.to_ascii_lowercase(), false))
    } else {
        Err(format!(
            "only ASCII letters, digits, `-`, `.` and `_` are accepted in a `{scheme}:` host"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_of_special_schemes() {
        assert_eq!(default_port("https"), Some(443));
        assert_eq!(default_port("ws"), Some(80));
        assert_eq!(default_port("chrome-extension"), None);
    }

    #[test]
    fn parses_and_normalizes() {
        let cases: &[(&str, &str)] = &[
            ("https://example.com", "https://example.com"),
            ("HTTPS://EXAMPLE.COM", "https://example.com"),
            ("https://example.com:443", "https://example.com"),
            ("https://example.com:0443", "https://example.com"),
            ("http://example.com:80", "http://example.com"),
            ("http://example.com:443", "http://example.com:443"),
            ("https://example.com:80", "https://example.com:80"),
            ("https://example.com:", "https://example.com"),
            ("wss://example.com:443", "wss://example.com"),
            ("ws://example.com:80", "ws://example.com"),
            ("http://localhost:3000", "http://localhost:3000"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://0x7f.1", "http://127.0.0.1"),
            ("http://[::1]:3000", "http://[::1]:3000"),
            ("http://[0:0:0:0:0:0:0:1]", "http://[::1]"),
            ("http://[2001:DB8::1]", "http://[2001:db8::1]"),
            ("http://[::ffff:1.2.3.4]", "http://[::ffff:102:304]"),
            ("https://bücher.example", "https://xn--bcher-kva.example"),
            (
                "https://xn--bcher-kva.example",
                "https://xn--bcher-kva.example",
            ),
            ("https://example.com.", "https://example.com."),
            (
                "chrome-extension://abcdefghijklmnop",
                "chrome-extension://abcdefghijklmnop",
            ),
            ("Chrome-Extension://ABCDEF", "chrome-extension://abcdef"),
            ("null", "null"),
        ];
        for (input, expected) in cases {
            let o = Origin::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(o.as_str(), *expected, "input {input}");
            // Serialization is a fixed point.
            assert_eq!(Origin::parse(o.as_str()).unwrap(), o, "reparse {input}");
        }
    }

    #[test]
    fn accessors() {
        let o = Origin::parse("https://api.example.com:8443").unwrap();
        assert_eq!(o.scheme(), Some("https"));
        assert_eq!(o.host(), Some("api.example.com"));
        assert_eq!(o.port(), Some(8443));
        assert!(!o.is_ip());
        let v6 = Origin::parse("http://[::1]:3000").unwrap();
        assert_eq!(v6.host(), Some("[::1]"));
        assert!(v6.is_ip());
        let n = Origin::null();
        assert_eq!((n.scheme(), n.host(), n.port()), (None, None, None));
        assert!(!n.is_same_origin(&Origin::null()));
        assert_eq!(n, Origin::null());
    }

    #[test]
    fn refuses_what_is_not_an_origin() {
        type Check = fn(&OriginError) -> bool;
        #[rustfmt::skip]
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, OriginError::Empty)),
            ("example.com", |e| { matches!(e, OriginError::MissingScheme { .. }) }),
            ("//example.com", |e| { matches!(e, OriginError::MissingScheme { .. }) }),
            ("://example.com", |e| { matches!(e, OriginError::InvalidScheme { .. }) }),
            ("1http://example.com", |e| { matches!(e, OriginError::InvalidScheme { .. }) }),
            ("https://example.com/", |e| { matches!(e, OriginError::Path { .. }) }),
            ("https://example.com/app", |e| { matches!(e, OriginError::Path { .. }) }),
            ("https://example.com?x=1", |e| { matches!(e, OriginError::Query { .. }) }),
            ("https://example.com#top", |e| { matches!(e, OriginError::Fragment { .. }) }),
            ("https://user:pw@example.com", |e| { matches!(e, OriginError::Userinfo { .. }) }),
            ("https://*.example.com", |e| { matches!(e, OriginError::Wildcard { .. }) }),
            ("https://ex%61mple.com", |e| { matches!(e, OriginError::PercentEncoded { .. }) }),
            ("https://a.example, https://b.example", |e| { matches!(e, OriginError::MultipleValues { .. }) }),
            (" https://example.com", |e| { matches!(e, OriginError::Whitespace { .. }) }),
            ("https://exa mple.com", |e| { matches!(e, OriginError::Whitespace { .. }) }),
            ("https://example.com\n", |e| { matches!(e, OriginError::Whitespace { .. }) }),
            ("https://", |e| matches!(e, OriginError::EmptyHost { .. })),
            ("https://:443", |e| { matches!(e, OriginError::EmptyHost { .. }) }),
            ("https://example.com:65536", |e| { matches!(e, OriginError::InvalidPort { .. }) }),
            ("https://example.com:-1", |e| { matches!(e, OriginError::InvalidPort { .. }) }),
            ("https://example.com:8a", |e| { matches!(e, OriginError::InvalidPort { .. }) }),
            ("https://example.com:1:2", |e| { matches!(e, OriginError::InvalidPort { .. }) }),
            ("http://[::1]x", |e| { matches!(e, OriginError::InvalidPort { .. }) }),
            ("http://[::1", |e| { matches!(e, OriginError::InvalidPort { .. }) }),
            ("http://[zz::1]", |e| { matches!(e, OriginError::InvalidHost { .. }) }),
            ("http://exa<mple.com", |e| { matches!(e, OriginError::InvalidHost { .. }) }),
            ("http://256.256.256.256", |e| { matches!(e, OriginError::InvalidHost { .. }) }),
            ("chrome-extension://a^b", |e| { matches!(e, OriginError::InvalidHost { .. }) }),
        ];
        for (input, check) in cases {
            match Origin::parse(input) {
                Ok(o) => panic!("{input:?} parsed as {o}"),
                Err(e) => assert!(check(&e), "{input:?}: unexpected error {e:?}"),
            }
        }
        let long = format!("https://{}.com", "a".repeat(2000));
        assert!(matches!(
            Origin::parse(&long),
            Err(OriginError::TooLong { .. })
        ));
        // Found by the fuzzer: short Unicode input, serialization over the limit.
        let idna = format!("http://{}a", "ü.".repeat(128));
        assert!(idna.len() < MAX_ORIGIN_LEN);
        assert!(matches!(
            Origin::parse(&idna),
            Err(OriginError::TooLong { len: 1032, .. })
        ));
        let pattern = format!("https://*.{}example.com", "ü.".repeat(128));
        assert!(crate::OriginEntry::parse(&pattern).is_err());
    }

    #[test]
    fn errors_name_the_fix() {
        let e = Origin::parse("https://app.example.com/").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`https://app.example.com/` has a path: an origin is only scheme://host[:port]; write `https://app.example.com`"
        );
        let e = Origin::parse("app.example.com").unwrap_err();
        assert!(e.to_string().contains("`https://app.example.com`"), "{e}");
    }

    #[test]
    fn header_is_strict() {
        let ok = [
            "https://example.com",
            "http://localhost:3000",
            "null",
            "http://[::1]:8080",
        ];
        for v in ok {
            assert_eq!(Origin::from_header_bytes(v.as_bytes()).unwrap().as_str(), v);
        }
        type Check = fn(&OriginError) -> bool;
        let bad: &[(&[u8], Check)] = &[
            (b"https://Example.com", |e| {
                matches!(e, OriginError::NotSerialized { .. })
            }),
            (b"https://example.com:443", |e| {
                matches!(e, OriginError::NotSerialized { .. })
            }),
            (b"https://example.com/", |e| {
                matches!(e, OriginError::Path { .. })
            }),
            (b"https://a.com,https://b.com", |e| {
                matches!(e, OriginError::MultipleValues { .. })
            }),
            (b"https://a.com https://b.com", |e| {
                matches!(e, OriginError::Whitespace { .. })
            }),
            ("https://bücher.example".as_bytes(), |e| {
                matches!(e, OriginError::NotAscii { .. })
            }),
            (b"https://a\xffb.com", |e| {
                matches!(e, OriginError::NotAscii { .. })
            }),
            (b"NULL", |e| matches!(e, OriginError::MissingScheme { .. })),
            (b"", |e| matches!(e, OriginError::Empty)),
        ];
        for (input, check) in bad {
            let e = Origin::from_header_bytes(input).unwrap_err();
            assert!(check(&e), "{:?}: {e:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn the_ascii_fast_path_agrees_with_the_url_parser() {
        for host in [
            "example.com",
            "a-b.example",
            "a..b",
            "example.com.",
            "x1.y2",
            "localhost",
            "0x",
            "0xg",
            "a.0xg",
            "1.2.3.4",
            "a.1",
            "a.0x1f",
            "xn--bcher-kva.example",
            "example",
            "-a.b-",
            "a.b.c.d.e.f",
        ] {
            let fast = is_canonical_ascii_domain(host);
            let slow = url::Host::parse(host);
            if fast {
                assert!(
                    matches!(&slow, Ok(url::Host::Domain(d)) if d == host),
                    "{host}: {slow:?}"
                );
            }
        }
        assert!(!is_canonical_ascii_domain("1.2.3.4"));
        assert!(!is_canonical_ascii_domain("a.0x1f"));
        assert!(!is_canonical_ascii_domain("Example.com"));
        assert!(!is_canonical_ascii_domain("xn--bcher-kva.example"));
        assert!(is_canonical_ascii_domain("api.example.com"));
    }

    proptest::proptest! {
        /// The fast path never disagrees with the URL standard's host parser.
        #[test]
        fn fast_path_is_the_identity_of_the_url_parser(h in "[a-z0-9.-]{1,30}|[a-z0-9-]{1,8}\\.(0x)?[0-9a-f]{0,4}\\.?|xn--[a-z0-9-]{1,10}") {
            if is_canonical_ascii_domain(&h) {
                let parsed = url::Host::parse(&h);
                proptest::prop_assert!(matches!(&parsed, Ok(url::Host::Domain(d)) if *d == h), "{} -> {:?}", h, parsed);
            }
        }
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("0"), Some(0));
        assert_eq!(parse_port("000080"), Some(80));
        assert_eq!(parse_port("65535"), Some(65535));
        assert_eq!(parse_port("65536"), None);
        assert_eq!(parse_port("99999999999999999999"), None);
        assert_eq!(parse_port(""), None);
        assert_eq!(parse_port("+1"), None);
    }

    #[test]
    fn trustworthiness() {
        for (o, t) in [
            ("https://a.example", true),
            ("wss://a.example", true),
            ("http://localhost:1", true),
            ("http://app.localhost:1", true),
            ("http://127.0.0.1", true),
            ("http://127.9.9.9", true),
            ("http://[::1]", true),
            // Secure Contexts § 3.2: "localhost." and names ending in ".localhost." too.
            ("http://localhost.", true),
            ("http://app.localhost.:3000", true),
            ("http://localhost..", false),
            ("http://a.example", false),
            ("http://localhost.example", false),
            ("http://10.0.0.1", false),
            ("null", false),
        ] {
            assert_eq!(
                Origin::parse(o).unwrap().is_potentially_trustworthy(),
                t,
                "{o}"
            );
        }
    }
}
