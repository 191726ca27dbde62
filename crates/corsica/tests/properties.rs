//! Property tests of the parsers and of pattern matching.

use corsica::{HeaderList, HeaderListLimits, Origin, OriginEntry, OriginSet, Policy};
use http::{HeaderMap, HeaderValue, Method};
use proptest::prelude::*;

/// An ASCII DNS label. Not one starting with `xn--`: that prefix marks a Punycode (IDNA)
/// label, which the URL parser decodes and rejects when it is not valid Punycode, as a
/// random one almost never is (a generator flake, not an origin bug).
fn label() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?".prop_filter("no Punycode prefix", |l| {
        !l.to_ascii_lowercase().starts_with("xn--")
    })
}

fn domain() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(label(), 1..4),
        prop::sample::select(vec!["com", "org", "co.uk", "example", "io", "dev"]),
    )
        .prop_map(|(labels, tld)| format!("{}.{tld}", labels.join(".")))
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => domain(),
        1 => any::<[u8; 4]>().prop_map(|b| format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])),
        1 => any::<[u16; 8]>().prop_map(|s| format!("[{}]", s.iter().map(|x| format!("{x:x}")).collect::<Vec<_>>().join(":"))),
        1 => Just("localhost".to_owned()),
    ]
}

/// Randomly upper-cases ASCII letters.
fn recase(s: &str, mask: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// parse ∘ serialize is the identity on parsed origins, and the serialization is the
    /// canonical form browsers send (accepted by the strict header parser).
    #[test]
    fn parse_serialize_round_trip(
        scheme in prop::sample::select(vec!["http", "https", "ws", "wss"]),
        host in host(),
        port in prop::option::of(any::<u16>()),
        default_port in any::<bool>(),
        mask in any::<u64>(),
    ) {
        let port = match (port, default_port) {
            (_, true) => Some(if matches!(scheme, "https" | "wss") { 443 } else { 80 }),
            (p, false) => p,
        };
        let written = format!("{}://{}{}", recase(scheme, mask), recase(&host, mask.rotate_left(7)), port.map(|p| format!(":{p}")).unwrap_or_default());
        let origin = Origin::parse(&written).unwrap();
        let serialized = origin.as_str();
        prop_assert_eq!(&Origin::parse(serialized).unwrap(), &origin);
        prop_assert_eq!(&Origin::from_header_bytes(serialized.as_bytes()).unwrap(), &origin);
        prop_assert_eq!(serialized.to_ascii_lowercase(), serialized);
        if default_port {
            prop_assert_eq!(origin.port(), None);
        }
        prop_assert_eq!(origin.scheme(), Some(scheme));
    }

    /// Arbitrary text never panics the parsers; whatever parses is a fixed point.
    #[test]
    fn parse_any_text(s in "\\PC{0,40}|[a-z]{1,6}://[^/]{0,30}") {
        if let Ok(o) = Origin::parse(&s) {
            prop_assert_eq!(Origin::parse(o.as_str()).unwrap(), o);
        }
        if let Ok(o) = Origin::from_header_bytes(s.as_bytes()) {
            prop_assert_eq!(o.as_str(), s.as_str());
        }
        if let Ok(e) = OriginEntry::parse(&s) {
            prop_assert_eq!(OriginEntry::parse(&e.to_string()).unwrap(), e);
        }
    }

    /// No pattern ever matches an origin whose registrable domain differs from the
    /// pattern's, and a match is always a strict subdomain on the same scheme.
    #[test]
    fn patterns_stay_within_their_registrable_domain(
        base in prop::sample::select(vec![
            "example.com", "shop.example.co.uk", "amazonaws.com", "example.io", "corp.example",
            "appspot.com", "herokuapp.com", "a.b.example.dev",
        ]),
        prefix in prop::collection::vec(label(), 0..3),
        glue in prop::sample::select(vec![".", "-", "", "x"]),
        tail in prop::sample::select(vec!["", ".evil.net", ".com", "x.com", ".s3.amazonaws.com"]),
        middle in prop::sample::select(vec!["", "s3.", "compute-1.", "elb."]),
        scheme in prop::sample::select(vec!["http", "https"]),
    ) {
        let pattern = format!("https://*.{base}");
        let Ok(set) = OriginSet::parse([&pattern]) else {
            // Refused patterns (public suffixes) match nothing by construction.
            return Ok(());
        };
        let mut host = prefix.join(".");
        if !host.is_empty() {
            host.push_str(glue);
        }
        host.push_str(middle);
        host.push_str(base);
        host.push_str(tail);
        let Ok(origin) = Origin::parse(&format!("{scheme}://{host}")) else { return Ok(()) };
        if set.contains(&origin) {
            let h = origin.host().unwrap();
            prop_assert_eq!(scheme, "https");
            prop_assert!(h.ends_with(&format!(".{base}")), "{} matched {}", h, pattern);
            prop_assert_eq!(psl::domain_str(h), psl::domain_str(base), "{} matched {}", h, pattern);
        }
    }

    /// Header lists: never a panic; every item is a non-empty token; re-joining the items
    /// parses back to the same list.
    #[test]
    fn header_lists(lines in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..5)) {
        let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        if let Ok(list) = HeaderList::parse(refs.iter().copied(), HeaderListLimits::default()) {
            for item in list.items() {
                prop_assert!(corsica::method::is_token(item.as_bytes()));
            }
            let joined = list.items().join(", ");
            let again = HeaderList::parse([joined.as_bytes()], HeaderListLimits::default()).unwrap();
            prop_assert_eq!(again, list);
        }
    }

    /// Whatever the request headers, a denied decision never carries
    /// Access-Control-Allow-Origin, and an allowed CORS one always does.
    #[test]
    fn denial_never_allows(
        origin in prop::option::of("[ -~]{0,40}"),
        acrm in prop::option::of("[ -~]{0,12}"),
        acrh in prop::option::of("[ -~]{0,60}"),
        options in any::<bool>(),
    ) {
        let policy = Policy::builder()
            .allow_origins(["https://app.example.com", "https://*.example.com", "http://localhost:*"])
            .allow_credentials(true)
            .allow_methods(["GET", "PUT"])
            .allow_headers(["x-api-key"])
            .build()
            .unwrap();
        let mut h = HeaderMap::new();
        for (name, value) in [("origin", origin), ("access-control-request-method", acrm), ("access-control-request-headers", acrh)] {
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                h.insert(name, v);
            }
        }
        let method = if options { Method::OPTIONS } else { Method::GET };
        let d = policy.decide(&method, &h);
        let mut out = HeaderMap::new();
        d.apply(&mut out);
        if d.is_allowed() && d.kind() != corsica::RequestKind::NotCors {
            let acao = out.get("access-control-allow-origin").unwrap();
            prop_assert_eq!(acao, h.get("origin").unwrap());
            prop_assert!(policy.origins().contains(&Origin::from_header(acao).unwrap()));
        } else {
            prop_assert!(out.get("access-control-allow-origin").is_none());
        }
        prop_assert!(out.get("vary").is_some());
    }
}
