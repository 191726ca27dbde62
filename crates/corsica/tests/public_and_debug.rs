//! A policy with a public tier (trusted origins with credentials, anyone else read-only
//! without), and debug mode (denials that say why).

use corsica::{ConfigError, Decision, Policy, PublicAccess, RequestKind};
use http::{HeaderMap, HeaderValue, Method};

const APP: &str = "https://app.example.com";
const OTHER: &str = "https://someone.example";

fn saas(debug: bool) -> Policy {
    Policy::builder()
        .debug(debug)
        .allow_public(PublicAccess::read_only().expose_headers(["etag"]))
        .allow_origins([APP])
        .allow_credentials(true)
        .max_age_secs(600)
        .allow_methods(["GET", "HEAD", "POST", "PUT"])
        .expose_headers(["x-request-id"])
        .allow_headers(["content-type", "x-api-key"])
        .build()
        .unwrap()
}

fn request(origin: Option<&str>, acrm: Option<&str>, acrh: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in [
        ("origin", origin),
        ("access-control-request-method", acrm),
        ("access-control-request-headers", acrh),
    ] {
        if let Some(v) = value {
            h.insert(name, HeaderValue::from_str(v).unwrap());
        }
    }
    h
}

/// The response headers a decision writes, as (name, value) text.
fn written(d: &Decision) -> Vec<(String, String)> {
    let mut h = HeaderMap::new();
    d.apply(&mut h);
    let mut v: Vec<(String, String)> = h
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    v.sort();
    v
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn trusted_origins_keep_credentials_and_everyone_else_reads_without() {
    let p = saas(false);
    let trusted = p.decide(&Method::GET, &request(Some(APP), None, None));
    assert!(trusted.is_allowed());
    assert_eq!(
        written(&trusted),
        pairs(&[
            ("access-control-allow-origin", APP),
            ("access-control-allow-credentials", "true"),
            ("access-control-expose-headers", "x-request-id"),
            ("vary", "Origin"),
        ])
    );
    let public = p.decide(&Method::GET, &request(Some(OTHER), None, None));
    assert!(public.is_allowed());
    assert_eq!(
        written(&public),
        pairs(&[
            ("access-control-allow-origin", "*"),
            ("access-control-expose-headers", "etag"),
            ("vary", "Origin"),
        ])
    );
    // `null` is any other origin: public.
    let null = p.decide(&Method::GET, &request(Some("null"), None, None));
    assert_eq!(null.headers().allow_origin().unwrap(), "*");
    // Writes stay with the trusted origins.
    let write = p.decide(&Method::PUT, &request(Some(OTHER), None, None));
    assert_eq!(write.reason().unwrap().label(), "method_not_allowed");
    assert!(write.headers().allow_origin().is_none());
    // A malformed origin is still refused.
    let bad = p.decide(
        &Method::GET,
        &request(Some("https://a.example/x"), None, None),
    );
    assert_eq!(bad.reason().unwrap().label(), "invalid_origin");
}

#[test]
fn preflights_are_judged_against_the_tier_of_their_origin() {
    let p = saas(false);
    let trusted = p.decide(
        &Method::OPTIONS,
        &request(Some(APP), Some("PUT"), Some("x-api-key")),
    );
    assert_eq!(trusted.kind(), RequestKind::Preflight);
    assert!(trusted.is_allowed());
    assert_eq!(trusted.status().unwrap(), 204);
    assert!(trusted.headers().allow_credentials());
    assert_eq!(
        trusted.headers().allow_methods().unwrap(),
        "GET, HEAD, POST, PUT"
    );

    // Anyone else: a read with a header only the trusted tier allows is refused...
    let header = p.decide(
        &Method::OPTIONS,
        &request(Some(OTHER), Some("GET"), Some("x-api-key")),
    );
    assert_eq!(header.reason().unwrap().label(), "header_not_allowed");
    assert_eq!(header.status().unwrap(), 403);
    assert!(header.headers().allow_origin().is_none());
    // ... and a read is answered with `*`, the public methods and no credentials.
    let read = p.decide(&Method::OPTIONS, &request(Some(OTHER), Some("GET"), None));
    assert!(read.is_allowed());
    assert_eq!(
        written(&read),
        pairs(&[
            ("access-control-allow-origin", "*"),
            ("access-control-allow-methods", "GET, HEAD"),
            ("access-control-max-age", "600"),
            (
                "vary",
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
            ),
        ])
    );
}

#[test]
fn a_public_tier_is_checked_like_the_rest() {
    let err = Policy::builder()
        .allow_origins(["*"])
        .allow_public(PublicAccess::read_only().allow_methods(["GET", "BAD METHOD"]))
        .build()
        .unwrap_err();
    let keys: Vec<&str> = err.iter().map(ConfigError::key).collect();
    assert_eq!(keys, ["public.methods", "public"], "{err}");
    let bad = err.iter().find(|e| e.key() == "public.methods").unwrap();
    assert_eq!(bad.entry(), Some("BAD METHOD"));
    assert!(bad.to_string().starts_with("public: "), "{bad}");
}

#[test]
fn debug_mode_lets_the_browser_name_the_missing_method_and_says_why() {
    let p = saas(true);
    // An allowed origin asking for a method the policy lacks: a 2xx answer with the lists,
    // so the browser reports the method, and the reason in `corsica-reason`.
    let d = p.decide(&Method::OPTIONS, &request(Some(APP), Some("DELETE"), None));
    assert!(!d.is_allowed());
    assert_eq!(d.status().unwrap(), 204);
    let h = written(&d);
    let get = |n: &str| h.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    assert_eq!(get("access-control-allow-origin"), Some(APP));
    assert_eq!(
        get("access-control-allow-methods"),
        Some("GET, HEAD, POST, PUT")
    );
    assert!(
        get("corsica-reason").is_some_and(|r| r.starts_with("method_not_allowed; ")),
        "{h:?}"
    );
    // An origin nobody allows: still a bare denial, with the reason.
    let evil = Policy::builder()
        .allow_origins([APP])
        .debug(true)
        .build()
        .unwrap();
    let d = evil.decide(&Method::OPTIONS, &request(Some(OTHER), Some("GET"), None));
    assert_eq!(d.status().unwrap(), 403);
    assert!(d.headers().allow_origin().is_none());
    assert!(
        d.headers()
            .reason()
            .is_some_and(|r| r.to_str().unwrap().starts_with("origin_not_allowed; "))
    );
    let actual = evil.decide(&Method::GET, &request(Some(OTHER), None, None));
    assert!(actual.headers().reason().is_some());
    // Without debug mode nothing is said, and an upstream's own `corsica-reason` is removed.
    let quiet = saas(false).decide(&Method::PUT, &request(Some(OTHER), None, None));
    let mut response = HeaderMap::new();
    response.insert("corsica-reason", HeaderValue::from_static("spoofed"));
    quiet.apply(&mut response);
    assert!(response.get("corsica-reason").is_none());
}
