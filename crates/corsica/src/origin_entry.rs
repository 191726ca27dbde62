//! Origin entries: one configured entry (`*`, `null`, an exact origin, a subdomain
//! pattern `scheme://*.domain[:port|:*]`, an any-port pattern `scheme://host:*`), parsed
//! and checked on its own. [`crate::OriginSet`] compiles entries for matching.
//!
//! Arbitrary regular expressions are not offered: unanchored regexes are how CORS bypasses
//! happen (`https://example.com.evil.net`, `https://evilexample.com`, `https://wwwXexample.com`).
//! A subdomain pattern must be below a registrable domain (per the Public Suffix List), and
//! it only ever matches hosts whose registrable domain is the pattern's.

use std::fmt;

use crate::display::shown_str;
use crate::origin::{Origin, OriginError, is_loopback_host, is_valid_scheme};

/// Which ports a pattern accepts.
///
/// ```
/// use corsica::{OriginEntry, PortRule};
/// let OriginEntry::AnyPort { .. } = OriginEntry::parse("http://localhost:*")? else { panic!() };
/// let OriginEntry::Subdomains { port, .. } = OriginEntry::parse("https://*.example.com")? else { panic!() };
/// assert_eq!(port, PortRule::Exact(None));
/// # Ok::<(), corsica::PatternError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortRule {
    /// Exactly this port; `None` is the scheme's default port.
    Exact(Option<u16>),
    /// Any port (`:*`).
    Any,
}

impl PortRule {
    pub(crate) fn matches(self, port: Option<u16>) -> bool {
        match self {
            PortRule::Any => true,
            PortRule::Exact(p) => p == port,
        }
    }
}

/// One entry of an origin set, as written in configuration.
///
/// ```
/// use corsica::OriginEntry;
/// assert_eq!(OriginEntry::parse("HTTPS://*.Example.COM")?.to_string(), "https://*.example.com");
/// assert!(OriginEntry::parse("https://*example.com").is_err());
/// # Ok::<(), corsica::PatternError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OriginEntry {
    /// `*`: every origin.
    Any,
    /// `null`: the opaque origin (sandboxed iframes, `file:`, `data:` pages, redirects).
    Null,
    /// One exact origin.
    Exact(Origin),
    /// `scheme://*.domain[:port]`: every strict subdomain of `domain` (not `domain` itself).
    Subdomains {
        /// Lower-case scheme.
        scheme: String,
        /// The domain below which subdomains match, in ASCII.
        domain: String,
        /// The accepted port(s).
        port: PortRule,
    },
    /// `scheme://host:*`: one host on any port.
    AnyPort {
        /// Lower-case scheme.
        scheme: String,
        /// The host, serialized (IPv6 in brackets).
        host: String,
    },
}

/// Why an origin-set entry is refused. Each message names the problem and the fix.
///
/// ```
/// use corsica::{OriginEntry, PatternError};
/// let err = OriginEntry::parse("https://*.co.uk").unwrap_err();
/// assert!(matches!(err, PatternError::TooBroad { .. }));
/// assert!(err.to_string().contains("public suffix"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// The entry is not a valid origin.
    #[error(transparent)]
    Origin(#[from] OriginError),
    /// A `*` that is not a whole leading label or a whole port.
    #[error(
        "`{input}` is not an anchored pattern: `*` may only stand for whole leading labels (`https://*.example.com`) or the whole port (`http://localhost:*`); write `{suggestion}`"
    )]
    Unanchored {
        /// The entry, escaped and bounded.
        input: String,
        /// The closest anchored pattern.
        suggestion: String,
    },
    /// A pattern without `scheme://`.
    #[error("`{input}` has no scheme: patterns match one scheme, write `https://{input}`")]
    MissingScheme {
        /// The entry, escaped and bounded.
        input: String,
    },
    /// A subdomain pattern over a public suffix.
    #[error(
        "`{input}` is broader than a registrable domain: `{suffix}` is a public suffix, so the pattern would trust sites of other owners; list your own domain, e.g. `{example}`"
    )]
    TooBroad {
        /// The entry, escaped and bounded.
        input: String,
        /// The public suffix the pattern covers.
        suffix: String,
        /// An example of an acceptable pattern.
        example: String,
    },
    /// A host with an empty label (`example..com`, a leading dot), or a subdomain pattern
    /// with a trailing dot (outside `localhost.`).
    #[error(
        "`{input}` has an empty label (`..`, a leading dot, or a trailing dot in a pattern): no page is served from such a host; write the domain as letters, digits and hyphens separated by single dots, e.g. `https://*.example.com`"
    )]
    EmptyLabel {
        /// The entry, escaped and bounded.
        input: String,
    },
    /// A `file:` origin: pages loaded from `file:` URLs have an opaque origin.
    #[error(
        "`{input}` can never match: pages loaded from file: URLs send `Origin: null`, never a file:// origin; remove it (or list \"null\" with `allow_null_origin = true`, which trusts every file page and sandboxed iframe)"
    )]
    FileScheme {
        /// The entry, escaped and bounded.
        input: String,
    },
    /// Port 0, which browsers never connect to (Fetch § bad port).
    #[error(
        "`{input}` has port 0, which no page can be served from (browsers refuse to connect to it); write the port your front-end is served on, or none for the default"
    )]
    PortZero {
        /// The entry, escaped and bounded.
        input: String,
    },
    /// A host longer than a DNS name can be (253 bytes), or a subdomain pattern whose
    /// shortest match (`a.` and the domain) would be.
    #[error(
        "`{input}` can never match: its host{pattern} is {len} bytes long, and a DNS name has at most 253; write the domain of your front-end"
    )]
    HostTooLong {
        /// The entry, escaped and bounded.
        input: String,
        /// The length of the (shortest matching) host.
        len: usize,
        /// `" (at its shortest)"` for a pattern, else empty.
        pattern: &'static str,
    },
    /// A subdomain pattern over an IP address.
    #[error(
        "`{input}`: IP addresses have no subdomains; list the address itself, or `scheme://address:*` for any port"
    )]
    IpSubdomains {
        /// The entry, escaped and bounded.
        input: String,
    },
}

impl OriginEntry {
    /// Parses one entry: `*`, `null`, an exact origin, `scheme://*.domain[:port|:*]` or
    /// `scheme://host:*`. Origins are normalized as by [`Origin::parse`].
    ///
    /// ```
    /// use corsica::{OriginEntry, PortRule};
    /// assert_eq!(OriginEntry::parse("*")?, OriginEntry::Any);
    /// assert_eq!(
    ///     OriginEntry::parse("https://*.example.com:*")?,
    ///     OriginEntry::Subdomains { scheme: "https".into(), domain: "example.com".into(), port: PortRule::Any },
    /// );
    /// # Ok::<(), corsica::PatternError>(())
    /// ```
    pub fn parse(input: &str) -> Result<OriginEntry, PatternError> {
        OriginEntry::parse_with(input, false)
    }

    /// [`OriginEntry::parse`], but a subdomain pattern over a public suffix
    /// (`https://*.kin`) is accepted: the policy builder allows it without credentials.
    pub(crate) fn parse_over_public_suffix(input: &str) -> Result<OriginEntry, PatternError> {
        OriginEntry::parse_with(input, true)
    }

    fn parse_with(input: &str, over_public_suffix: bool) -> Result<OriginEntry, PatternError> {
        match input {
            "*" => return Ok(OriginEntry::Any),
            "null" => return Ok(OriginEntry::Null),
            _ => {}
        }
        let show = || shown_str(input);
        if input
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("file://"))
        {
            return Err(PatternError::FileScheme { input: show() });
        }
        if !input.contains('*') {
            let origin = Origin::parse(input)?;
            check_possible(&origin, 0, input)?;
            return Ok(OriginEntry::Exact(origin));
        }
        let Some((scheme, rest)) = input.split_once("://") else {
            return Err(PatternError::MissingScheme { input: show() });
        };
        if !is_valid_scheme(scheme) {
            return Err(OriginError::InvalidScheme { input: show() }.into());
        }
        let scheme = scheme.to_ascii_lowercase();
        let (hostpart, any_port) = match rest.strip_suffix(":*") {
            Some(h) => (h, true),
            None => (rest, false),
        };
        let (subdomains, host_and_port) = match hostpart.strip_prefix("*.") {
            Some(h) => (true, h),
            None => (false, hostpart),
        };
        if host_and_port.contains('*') {
            let suggestion = match host_and_port.split_once(':') {
                // The `*` is in the port: the only port pattern is the whole port.
                Some((host, port)) if port.contains('*') && !host.contains('*') => {
                    format!("{scheme}://{}{host}:*", if subdomains { "*." } else { "" })
                }
                _ => {
                    let cleaned = host_and_port
                        .trim_start_matches(['*', '.'])
                        .replace('*', "");
                    let cleaned = if cleaned.is_empty() || cleaned.starts_with(':') {
                        format!("example.com{cleaned}")
                    } else {
                        cleaned
                    };
                    format!("{scheme}://*.{cleaned}{}", if any_port { ":*" } else { "" })
                }
            };
            return Err(PatternError::Unanchored {
                input: show(),
                suggestion: shown_str(&suggestion),
            });
        }
        if any_port && split_has_port(host_and_port) {
            return Err(PatternError::Unanchored {
                input: show(),
                suggestion: shown_str(&format!("{scheme}://{}", host_and_port)),
            });
        }
        // Validate and normalize host (and port) with the origin parser.
        let origin = Origin::parse(&format!("{scheme}://{host_and_port}"))?;
        let host = origin.host().unwrap_or_default().to_owned();
        // The shortest host a subdomain pattern matches is `a.` and its domain.
        check_possible(&origin, if subdomains { 2 } else { 0 }, input)?;
        if !subdomains {
            // `scheme://host:*`
            return Ok(OriginEntry::AnyPort { scheme, host });
        }
        if origin.is_ip() {
            return Err(PatternError::IpSubdomains { input: show() });
        }
        let port = if any_port {
            PortRule::Any
        } else {
            PortRule::Exact(origin.port())
        };
        // A trailing dot must not dodge the public-suffix check; below `localhost.` there
        // is none to dodge (every name there is loopback).
        if host.ends_with('.') && !is_loopback_host(&host) {
            return Err(PatternError::EmptyLabel { input: show() });
        }
        if !is_loopback_host(&host) && !over_public_suffix {
            let suffix = psl::suffix_str(&host).unwrap_or(&host);
            if suffix == host || psl::domain_str(&host).is_none() {
                return Err(PatternError::TooBroad {
                    input: show(),
                    suffix: suffix.to_owned(),
                    example: format!("{scheme}://*.example.{suffix}"),
                });
            }
        }
        Ok(OriginEntry::Subdomains {
            scheme,
            domain: host,
            port,
        })
    }
}

/// Refuses what no browser ever sends: port 0, an empty label, a host over 253 bytes (the
/// most a DNS name has, without its trailing dot) once `extra` bytes are added in front.
fn check_possible(origin: &Origin, extra: usize, input: &str) -> Result<(), PatternError> {
    let input = || shown_str(input);
    if origin.port() == Some(0) {
        return Err(PatternError::PortZero { input: input() });
    }
    if origin.is_ip() {
        return Ok(());
    }
    let host = origin.host().unwrap_or_default();
    if host.starts_with('.') || host.contains("..") {
        return Err(PatternError::EmptyLabel { input: input() });
    }
    let len = host.strip_suffix('.').unwrap_or(host).len() + extra;
    if len > MAX_HOST_LEN {
        return Err(PatternError::HostTooLong {
            input: input(),
            len,
            pattern: if extra > 0 { " (at its shortest)" } else { "" },
        });
    }
    Ok(())
}

/// The most bytes a DNS name has (RFC 1035, without the trailing dot).
const MAX_HOST_LEN: usize = 253;

/// Whether `host[:port]` has a port part.
fn split_has_port(s: &str) -> bool {
    match s.strip_prefix('[') {
        Some(v6) => v6
            .split_once(']')
            .is_some_and(|(_, after)| !after.is_empty()),
        None => s.contains(':'),
    }
}

impl fmt::Display for OriginEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let port = |p: &PortRule| match p {
            PortRule::Any => ":*".to_owned(),
            PortRule::Exact(Some(p)) => format!(":{p}"),
            PortRule::Exact(None) => String::new(),
        };
        match self {
            OriginEntry::Any => f.write_str("*"),
            OriginEntry::Null => f.write_str("null"),
            OriginEntry::Exact(o) => write!(f, "{o}"),
            OriginEntry::Subdomains {
                scheme,
                domain,
                port: p,
            } => write!(f, "{scheme}://*.{domain}{}", port(p)),
            OriginEntry::AnyPort { scheme, host } => write!(f, "{scheme}://{host}:*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_patterns() {
        type Check = fn(&PatternError) -> bool;
        #[rustfmt::skip]
        let cases: &[(&str, Check)] = &[
            ("https://*.com", |e| { matches!(e, PatternError::TooBroad { .. }) }),
            ("https://*.co.uk", |e| { matches!(e, PatternError::TooBroad { .. }) }),
            ("https://*.github.io", |e| { matches!(e, PatternError::TooBroad { .. }) }),
            ("https://*.internal", |e| { matches!(e, PatternError::TooBroad { .. }) }),
            ("https://*example.com", |e| { matches!(e, PatternError::Unanchored { .. }) }),
            ("https://ex*.com", |e| { matches!(e, PatternError::Unanchored { .. }) }),
            ("https://*.*.example.com", |e| { matches!(e, PatternError::Unanchored { .. }) }),
            ("https://a.*.example.com", |e| { matches!(e, PatternError::Unanchored { .. }) }),
            ("https://example.com:8*", |e| { matches!(e, PatternError::Unanchored { .. }) }),
            ("https://example.com:80:*", |e| { matches!(e, PatternError::Unanchored { .. }) }),
            ("*.example.com", |e| { matches!(e, PatternError::MissingScheme { .. }) }),
            ("*://example.com", |e| { matches!(e, PatternError::Origin(OriginError::InvalidScheme { .. })) }),
            ("https://*.example.com/", |e| { matches!(e, PatternError::Origin(OriginError::Path { .. })) }),
            ("http://*.127.0.0.1", |e| { matches!(e, PatternError::IpSubdomains { .. }) }),
            ("https://example.com/", |e| { matches!(e, PatternError::Origin(OriginError::Path { .. })) }),
            // A trailing dot or an empty label must not dodge the public-suffix check.
            ("https://*.com.", |e| { matches!(e, PatternError::EmptyLabel { .. }) }),
            ("https://*.co.uk.", |e| { matches!(e, PatternError::EmptyLabel { .. }) }),
            ("https://*.example.com.", |e| { matches!(e, PatternError::EmptyLabel { .. }) }),
            ("https://*..com", |e| { matches!(e, PatternError::EmptyLabel { .. } | PatternError::Origin(_)) }),
            ("https://*", |e| { matches!(e, PatternError::Unanchored { .. }) }),
            // Origins no browser ever sends (issue 12, "refuse what can never work").
            ("file://example.com", |e| { matches!(e, PatternError::FileScheme { .. }) }), // jub0bs/cors: file scheme refused
            ("FILE://example.com", |e| { matches!(e, PatternError::FileScheme { .. }) }),
            ("file:///", |e| { matches!(e, PatternError::FileScheme { .. }) }),
            ("file://*.example.com", |e| { matches!(e, PatternError::FileScheme { .. }) }),
            ("https://example.com:0", |e| { matches!(e, PatternError::PortZero { .. }) }), // jub0bs/cors: "invalid port 0"
            ("https://*.example.com:0", |e| { matches!(e, PatternError::PortZero { .. }) }),
            ("http://localhost:00", |e| { matches!(e, PatternError::PortZero { .. }) }),
            ("https://example..com", |e| { matches!(e, PatternError::EmptyLabel { .. }) }), // jub0bs/cors: empty label
            ("https://.example.com", |e| { matches!(e, PatternError::EmptyLabel { .. }) }),
            ("https://a..example.com:*", |e| { matches!(e, PatternError::EmptyLabel { .. }) }),
            ("http://*.localhost..", |e| { matches!(e, PatternError::EmptyLabel { .. }) }),
        ];
        for (input, check) in cases {
            let e = OriginEntry::parse(input).expect_err(input);
            assert!(check(&e), "{input}: {e:?}");
        }
    }

    #[test]
    fn hosts_longer_than_a_dns_name_are_refused() {
        // (host, pattern?, accepted); 253 bytes is the most a DNS name has (jub0bs/cors:
        // "host longer than 253 bytes", and patterns whose shortest match would be).
        let host = |len: usize| {
            let n = len - 4;
            let h = if n % 2 == 0 {
                format!("{}aa.com", "a.".repeat(n / 2 - 1))
            } else {
                format!("{}a.com", "a.".repeat(n / 2))
            };
            assert_eq!(h.len(), len);
            h
        };
        for (len, pattern, accepted) in [
            (253, false, true),
            (254, false, false),
            (251, true, true),
            (252, true, false),
        ] {
            let entry = if pattern {
                format!("https://*.{}", host(len))
            } else {
                format!("https://{}", host(len))
            };
            let parsed = OriginEntry::parse(&entry);
            assert_eq!(parsed.is_ok(), accepted, "{len} {pattern}: {parsed:?}");
            if !accepted {
                assert!(matches!(parsed, Err(PatternError::HostTooLong { .. })));
            }
        }
        // The trailing dot is not part of the name's length.
        assert!(OriginEntry::parse(&format!("https://{}.", host(253))).is_ok());
    }

    #[test]
    fn loopback_names_with_a_trailing_dot() {
        // Secure Contexts § 3.2 trusts "localhost." and names ending in ".localhost.".
        for e in [
            "http://localhost.",
            "http://*.localhost.",
            "http://*.localhost.:*",
        ] {
            let parsed = OriginEntry::parse(e).unwrap_or_else(|err| panic!("{e}: {err}"));
            assert_eq!(parsed.to_string(), e);
        }
    }

    #[test]
    fn public_suffix_patterns_parse_only_on_request() {
        // jub0bs/cors refuses `https://*.kin` with credentials and allows it without.
        assert!(matches!(
            OriginEntry::parse("https://*.kin"),
            Err(PatternError::TooBroad { .. })
        ));
        let parsed = OriginEntry::parse_over_public_suffix("https://*.kin").unwrap();
        assert_eq!(parsed.to_string(), "https://*.kin");
        assert!(OriginEntry::parse_over_public_suffix("https://*.kin.").is_err());
    }

    #[test]
    fn unanchored_suggests_the_anchored_form() {
        for (input, suggestion) in [
            ("https://*example.com", "https://*.example.com"),
            ("https://ex*.com", "https://*.ex.com"),
            ("https://example.com:8*", "https://example.com:*"),
            ("https://*.example.com:8*", "https://*.example.com:*"),
            ("https://*", "https://*.example.com"),
            ("http://*:*", "http://*.example.com:*"),
        ] {
            let e = OriginEntry::parse(input).unwrap_err();
            assert!(
                e.to_string().contains(&format!("write `{suggestion}`")),
                "{e}"
            );
        }
    }

    #[test]
    fn entries_round_trip_through_display() {
        for e in [
            "*",
            "null",
            "https://a.example",
            "https://*.example.com:*",
            "http://localhost:*",
            "https://*.example.com:8443",
        ] {
            let parsed = OriginEntry::parse(e).unwrap();
            assert_eq!(parsed.to_string(), e);
            assert_eq!(OriginEntry::parse(&parsed.to_string()).unwrap(), parsed);
        }
    }
}
