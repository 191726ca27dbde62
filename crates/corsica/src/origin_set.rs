//! Origin sets: which origins a policy trusts, compiled from [`OriginEntry`] values.
//!
//! An [`OriginSet`] holds, compiled once:
//! - exact origins, looked up in a hash set (O(1), on the header's bytes, no parsing);
//! - `*` (any origin);
//! - `null` (the opaque origin; the policy builder allows it only on explicit opt-in);
//! - subdomain patterns `scheme://*.domain[:port]`, anchored on a whole label: matched in
//!   O(labels) by looking each label-suffix of the host up in a hash map;
//! - any-port patterns `scheme://host:*` (e.g. `http://localhost:*` for development);
//! - predicates, an escape hatch for rules no pattern expresses (you own their security).
//!
//! Arbitrary regular expressions are not offered: unanchored regexes are how CORS bypasses
//! happen (`https://example.com.evil.net`, `https://evilexample.com`, `https://wwwXexample.com`).
//! A subdomain pattern must be below a registrable domain (per the Public Suffix List), and
//! it only ever matches hosts whose registrable domain is the pattern's.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use foldhash::fast::RandomState;

use crate::origin::{Origin, is_loopback_host};
use crate::origin_entry::{OriginEntry, PatternError, PortRule};

/// A predicate deciding whether an origin is allowed.
pub type OriginPredicate = Arc<dyn Fn(&Origin) -> bool + Send + Sync>;

#[derive(Debug, Clone)]
struct SubdomainRule {
    scheme: Box<str>,
    port: PortRule,
    /// The registrable domain every matching host must have.
    registrable: Option<Box<str>>,
    /// Whether the domain is `localhost` or below it (every name there is loopback).
    loopback: bool,
    /// Whether the domain is a public suffix, every name below it matching (the policy
    /// builder allows such a pattern only without credentials, where it is no broader
    /// than `*`).
    public_suffix: bool,
}

/// A set of trusted origins, compiled for fast matching.
///
/// An [`OriginSet`] holds, compiled once:
/// - exact origins, looked up in a hash set (O(1), on the header's bytes, no parsing);
/// - `*` (any origin);
/// - `null` (the opaque origin; the policy builder allows it only on explicit opt-in);
/// - subdomain patterns `scheme://*.domain[:port]`, anchored on a whole label: matched in
///   O(labels) by looking each label-suffix of the host up in a hash map;
/// - any-port patterns `scheme://host:*` (e.g. `http://localhost:*` for development);
/// - predicates, an escape hatch for rules no pattern expresses (you own their security).
///
/// Arbitrary regular expressions are not offered: unanchored regexes are how CORS bypasses
/// happen (`https://example.com.evil.net`, `https://evilexample.com`, `https://wwwXexample.com`).
/// A subdomain pattern must be below a registrable domain (per the Public Suffix List), and
/// it only ever matches hosts whose registrable domain is the pattern's.
///
/// ```
/// use corsica::{Origin, OriginSet};
///
/// let set = OriginSet::parse(["https://app.example.com", "https://*.example.com", "http://localhost:*"])?;
/// let allowed = |s: &str| set.contains(&Origin::parse(s).unwrap());
/// assert!(allowed("https://app.example.com"));
/// assert!(allowed("https://a.b.example.com"));
/// assert!(allowed("http://localhost:5173"));
/// assert!(!allowed("https://example.com"));            // not a strict subdomain
/// assert!(!allowed("https://evil-example.com"));
/// assert!(!allowed("https://example.com.evil.net"));
/// assert!(!allowed("http://app.example.com"));          // other scheme
/// assert!(!allowed("https://app.example.com:8443"));    // other port
/// # Ok::<(), corsica::PatternError>(())
/// ```
#[derive(Clone, Default)]
pub struct OriginSet {
    entries: Vec<OriginEntry>,
    any: bool,
    null: bool,
    exact: HashSet<Box<[u8]>, RandomState>,
    /// host → schemes allowed on any port.
    any_port: HashMap<Box<str>, Vec<Box<str>>, RandomState>,
    /// domain → subdomain rules below it.
    subdomains: HashMap<Box<str>, Vec<SubdomainRule>, RandomState>,
    predicates: Vec<OriginPredicate>,
}

impl fmt::Debug for OriginSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        list.entries(self.entries.iter().map(|e| e.to_string()));
        if !self.predicates.is_empty() {
            list.entry(&format_args!("<{} predicate(s)>", self.predicates.len()));
        }
        list.finish()
    }
}

impl OriginSet {
    /// An empty set (matches nothing).
    ///
    /// ```
    /// assert!(corsica::OriginSet::new().is_empty());
    /// ```
    pub fn new() -> OriginSet {
        OriginSet::default()
    }

    /// The set of every origin (`*`).
    ///
    /// ```
    /// assert!(corsica::OriginSet::any().is_any());
    /// ```
    pub fn any() -> OriginSet {
        let mut set = OriginSet::new();
        set.push_entry(OriginEntry::Any);
        set
    }

    /// Builds a set from textual entries (see [`OriginEntry::parse`]).
    ///
    /// ```
    /// let set = corsica::OriginSet::parse(["https://a.example", "https://b.example"])?;
    /// assert_eq!(set.entries().len(), 2);
    /// # Ok::<(), corsica::PatternError>(())
    /// ```
    pub fn parse<I, S>(entries: I) -> Result<OriginSet, PatternError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = OriginSet::new();
        for e in entries {
            set.insert(e.as_ref())?;
        }
        Ok(set)
    }

    /// Parses and adds one entry.
    ///
    /// ```
    /// let mut set = corsica::OriginSet::new();
    /// set.insert("http://localhost:*")?;
    /// assert!(set.insert("https://*.com").is_err());
    /// # Ok::<(), corsica::PatternError>(())
    /// ```
    pub fn insert(&mut self, entry: &str) -> Result<(), PatternError> {
        self.push_entry(OriginEntry::parse(entry)?);
        Ok(())
    }

    /// Adds a parsed entry, validating it again (entries can be built by hand, and a
    /// hand-built `Subdomains { domain: "com", .. }` must not slip past the checks of
    /// [`OriginEntry::parse`]). Duplicates are ignored.
    ///
    /// ```
    /// use corsica::{Origin, OriginEntry, OriginSet, PortRule};
    /// let mut set = OriginSet::new();
    /// set.insert_entry(OriginEntry::Exact(Origin::parse("https://a.example")?))?;
    /// assert!(set.contains(&Origin::parse("https://a.example")?));
    /// let too_broad = OriginEntry::Subdomains { scheme: "https".into(), domain: "com".into(), port: PortRule::Exact(None) };
    /// assert!(set.insert_entry(too_broad).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn insert_entry(&mut self, entry: OriginEntry) -> Result<(), PatternError> {
        let entry = OriginEntry::parse(&entry.to_string())?;
        self.push_entry(entry);
        Ok(())
    }

    /// Adds an entry that came out of [`OriginEntry::parse`].
    pub(crate) fn push_entry(&mut self, entry: OriginEntry) {
        self.push(entry, false);
    }

    /// Adds a subdomain pattern over a public suffix, out of
    /// [`OriginEntry::parse_over_public_suffix`]: it matches every name below the suffix.
    pub(crate) fn push_public_suffix_entry(&mut self, entry: OriginEntry) {
        self.push(entry, true);
    }

    fn push(&mut self, entry: OriginEntry, public_suffix: bool) {
        if self.entries.contains(&entry) {
            return;
        }
        match &entry {
            OriginEntry::Any => self.any = true,
            OriginEntry::Null => self.null = true,
            OriginEntry::Exact(o) => {
                self.exact.insert(o.as_str().as_bytes().into());
            }
            OriginEntry::AnyPort { scheme, host } => self
                .any_port
                .entry(host.as_str().into())
                .or_default()
                .push(scheme.as_str().into()),
            OriginEntry::Subdomains {
                scheme,
                domain,
                port,
            } => {
                // `parse` guarantees a registrable domain outside `localhost`; were it
                // missing, `matches_patterns` fails closed.
                self.subdomains
                    .entry(domain.as_str().into())
                    .or_default()
                    .push(SubdomainRule {
                        scheme: scheme.as_str().into(),
                        port: *port,
                        registrable: psl::domain_str(domain).map(Box::from),
                        loopback: is_loopback_host(domain),
                        public_suffix,
                    });
            }
        }
        self.entries.push(entry);
    }

    /// Adds a predicate: an origin it returns `true` for is in the set. This is an escape
    /// hatch for rules patterns cannot express (a database of tenants, say); the predicate
    /// is only called with well-formed origins, and only when no entry matched. It is never
    /// called for `null`.
    ///
    /// ```
    /// use corsica::{Origin, OriginSet};
    /// let set = OriginSet::new().with_predicate(|o: &Origin| o.host().is_some_and(|h| h.ends_with(".tenants.example.com")));
    /// assert!(set.contains(&Origin::parse("https://acme.tenants.example.com")?));
    /// # Ok::<(), corsica::OriginError>(())
    /// ```
    pub fn with_predicate<F>(mut self, predicate: F) -> OriginSet
    where
        F: Fn(&Origin) -> bool + Send + Sync + 'static,
    {
        self.predicates.push(Arc::new(predicate));
        self
    }

    pub(crate) fn predicates(&self) -> &[OriginPredicate] {
        &self.predicates
    }

    pub(crate) fn push_predicate(&mut self, predicate: OriginPredicate) {
        self.predicates.push(predicate);
    }

    /// The entries, in insertion order (predicates are not listed).
    ///
    /// ```
    /// let set = corsica::OriginSet::parse(["*"])?;
    /// assert_eq!(set.entries()[0].to_string(), "*");
    /// # Ok::<(), corsica::PatternError>(())
    /// ```
    pub fn entries(&self) -> &[OriginEntry] {
        &self.entries
    }

    /// Whether the set contains `*`.
    ///
    /// ```
    /// assert!(!corsica::OriginSet::new().is_any());
    /// ```
    pub fn is_any(&self) -> bool {
        self.any
    }

    /// Whether the set lists `null`.
    ///
    /// ```
    /// assert!(corsica::OriginSet::parse(["null"])?.allows_null());
    /// # Ok::<(), corsica::PatternError>(())
    /// ```
    pub fn allows_null(&self) -> bool {
        self.null
    }

    /// Whether the set has predicates.
    ///
    /// ```
    /// assert!(corsica::OriginSet::new().with_predicate(|_| false).has_predicates());
    /// ```
    pub fn has_predicates(&self) -> bool {
        !self.predicates.is_empty()
    }

    /// Whether the set matches nothing (no entries, no predicates).
    ///
    /// ```
    /// assert!(corsica::OriginSet::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.predicates.is_empty()
    }

    /// Whether the exact-origin table holds these serialized bytes: the hot path, which
    /// needs no parsing because the table holds canonical serializations only.
    pub(crate) fn contains_exact_bytes(&self, serialized: &[u8]) -> bool {
        !self.exact.is_empty() && self.exact.contains(serialized)
    }

    /// Whether `origin` is in the set.
    ///
    /// ```
    /// use corsica::{Origin, OriginSet};
    /// let set = OriginSet::parse(["https://*.example.com"])?;
    /// assert!(set.contains(&Origin::parse("https://api.example.com").unwrap()));
    /// assert!(!set.contains(&Origin::null()));
    /// # Ok::<(), corsica::PatternError>(())
    /// ```
    pub fn contains(&self, origin: &Origin) -> bool {
        if origin.is_opaque() {
            return self.null || self.any;
        }
        self.any
            || self.contains_exact_bytes(origin.as_str().as_bytes())
            || self.matches_patterns(origin)
            || self.predicates.iter().any(|p| p(origin))
    }

    /// The pattern part of [`OriginSet::contains`] for a tuple origin.
    fn matches_patterns(&self, origin: &Origin) -> bool {
        let (Some(scheme), Some(host)) = (origin.scheme(), origin.host()) else {
            return false;
        };
        if !self.any_port.is_empty()
            && self
                .any_port
                .get(host)
                .is_some_and(|schemes| schemes.iter().any(|s| &**s == scheme))
        {
            return true;
        }
        // A DNS name is at most 253 bytes; longer hosts are no site's, and bounding them
        // bounds the label-suffix lookups below.
        if self.subdomains.is_empty() || origin.is_ip() || host.len() > 253 {
            return false;
        }
        let port = origin.port();
        let mut registrable: Option<Option<&str>> = None;
        for (i, b) in host.bytes().enumerate() {
            if b != b'.' {
                continue;
            }
            let Some(rules) = self.subdomains.get(&host[i + 1..]) else {
                continue;
            };
            for rule in rules {
                if &*rule.scheme != scheme || !rule.port.matches(port) {
                    continue;
                }
                let ok = rule.loopback || rule.public_suffix || {
                    let have = *registrable.get_or_insert_with(|| psl::domain_str(host));
                    // Fails closed: without a registrable domain on both sides, no match.
                    have.is_some() && have == rule.registrable.as_deref()
                };
                if ok {
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin_entry::PortRule;

    fn set(entries: &[&str]) -> OriginSet {
        OriginSet::parse(entries).unwrap()
    }

    #[test]
    fn matching_table() {
        // (entries, origin, expected)
        #[rustfmt::skip]
        let cases: &[(&[&str], &str, bool)] = &[
            (&["https://example.com"], "https://example.com", true),
            (&["https://example.com"], "https://example.com:443", true),
            (&["https://example.com"], "http://example.com", false),
            (&["https://example.com"], "https://example.com:8443", false),
            (&["https://example.com"], "https://www.example.com", false),
            (&["https://example.com"], "null", false),
            (&["https://*.example.com"], "https://a.example.com", true),
            (&["https://*.example.com"], "https://a.b.example.com", true),
            (&["https://*.example.com"], "https://example.com", false),
            (&["https://*.example.com"], "https://evil-example.com", false),
            (&["https://*.example.com"], "https://evilexample.com", false),
            (&["https://*.example.com"], "https://example.com.evil.net", false),
            (&["https://*.example.com"], "https://a.example.com.evil.net", false),
            (&["https://*.example.com"], "https://exampleXcom", false),
            (&["https://*.example.com"], "https://a.exampleXcom", false),
            (&["https://*.example.com"], "http://a.example.com", false),
            (&["https://*.example.com"], "https://a.example.com:8443", false),
            (&["https://*.example.com:8443"], "https://a.example.com:8443", true),
            (&["https://*.example.com:8443"], "https://a.example.com", false),
            (&["https://*.example.com:*"], "https://a.example.com:1", true),
            (&["https://*.example.com:*"], "https://a.example.com", true),
            (&["https://*.example.com:*"], "http://a.example.com", false),
            (&["http://localhost:*"], "http://localhost:3000", true),
            (&["http://localhost:*"], "http://localhost", true),
            (&["http://localhost:*"], "https://localhost:3000", false),
            (&["http://localhost:*"], "http://localhost.evil.net:3000", false),
            (&["http://localhost:*"], "http://app.localhost:3000", false),
            (&["http://*.localhost:*"], "http://app.localhost:3000", true),
            // Secure Contexts § 3.2: the trailing-dot names are loopback too.
            (&["http://*.localhost.:*"], "http://app.localhost.:3000", true),
            (&["http://*.localhost.:*"], "http://app.localhost:3000", false),
            (&["http://localhost.:*"], "http://localhost.:3000", true),
            (&["http://127.0.0.1:*"], "http://127.0.0.1:5173", true),
            (&["http://[::1]:*"], "http://[::1]:5173", true),
            (&["*"], "https://anything.example", true),
            (&["*"], "null", true),
            (&["null"], "null", true),
            (&["null"], "https://example.com", false),
            (&["https://*.bücher.example"], "https://a.xn--bcher-kva.example", true),
            // Domains under a private-section public suffix belong to different owners.
            (&["https://*.example.com"], "https://a.example.com.", false),
        ];
        for (entries, origin, expected) in cases {
            let s = set(entries);
            let o = Origin::parse(origin).unwrap();
            assert_eq!(s.contains(&o), *expected, "{entries:?} ∋ {origin}");
        }
    }

    #[test]
    fn registrable_domain_guard() {
        // `*.amazonaws.com` is allowed (amazonaws.com is registrable), but hosts below one
        // of the many public suffixes under it belong to other owners and never match.
        let s = set(&["https://*.amazonaws.com"]);
        assert!(s.contains(&Origin::parse("https://console.amazonaws.com").unwrap()));
        assert!(!s.contains(&Origin::parse("https://bucket.s3.amazonaws.com").unwrap()));
    }

    #[test]
    fn hand_built_entries_are_validated() {
        let mut s = OriginSet::new();
        for domain in ["com", "com.", "co.uk"] {
            let e = OriginEntry::Subdomains {
                scheme: "https".into(),
                domain: domain.into(),
                port: PortRule::Exact(None),
            };
            assert!(s.insert_entry(e).is_err(), "{domain}");
        }
        s.insert_entry(OriginEntry::Exact(Origin::null())).unwrap();
        assert_eq!(s.entries(), [OriginEntry::Null]);
        assert!(!s.contains(&Origin::parse("https://evil.com.").unwrap()));
        assert!(!s.contains_exact_bytes(b"null"));
    }

    #[test]
    fn long_hosts_do_not_match_patterns() {
        let s = set(&["https://*.example.com"]);
        let host = format!("{}example.com", "a.".repeat(150));
        assert!(!s.contains(&Origin::parse(&format!("https://{host}")).unwrap()));
        let host = format!("{}example.com", "a.".repeat(100));
        assert!(s.contains(&Origin::parse(&format!("https://{host}")).unwrap()));
    }

    #[test]
    fn predicate_is_consulted_last_and_never_for_null() {
        let s = OriginSet::new().with_predicate(|o| o.host() == Some("tenant.example.net"));
        assert!(s.contains(&Origin::parse("https://tenant.example.net").unwrap()));
        assert!(!s.contains(&Origin::parse("https://other.example.net").unwrap()));
        assert!(!s.contains(&Origin::null()));
        assert!(s.has_predicates() && !s.is_empty());
    }
}
