//! Every insecure or broken configuration the builder refuses, with the message that names
//! the problem and the fix.

use std::time::Duration;

use corsica::{ConfigError, HeaderListLimits, OriginError, PatternError, Policy, PolicyBuilder};
use http::StatusCode;

fn base() -> PolicyBuilder {
    Policy::builder()
}

/// A builder allowing every origin.
fn any_origin() -> PolicyBuilder {
    base().allow_origins(["*"])
}

/// The pattern error inside an `InvalidOrigin`, if that is what `e` is.
fn pattern_error(e: &ConfigError) -> Option<&PatternError> {
    match e {
        ConfigError::InvalidOrigin { source, .. } => Some(source),
        _ => None,
    }
}

type Case = (
    &'static str,
    fn() -> PolicyBuilder,
    fn(&ConfigError) -> bool,
    &'static str,
);

#[test]
fn refusals() {
    #[rustfmt::skip]
    let cases: &[Case] = &[
        ("no origins", base, |e| matches!(e, ConfigError::NoOrigins), "list the origins"),
        ("credentials with *", || any_origin().allow_credentials(true), |e| matches!(e, ConfigError::CredentialsWithAnyOrigin), "list the trusted origins"),
        ("* mixed with an origin", || base().allow_origins(["*", "https://a.example"]), |e| matches!(e, ConfigError::AnyOriginWithOthers { .. }), "keep \"*\" alone"),
        ("* with a predicate", || any_origin().allow_origin_predicate(|_| true), |e| matches!(e, ConfigError::AnyOriginWithOthers { .. }), "keep \"*\" alone"),
        ("credentials with * methods", || base().allow_origins(["https://a.example"]).allow_credentials(true).allow_methods(["*"]), |e| matches!(e, ConfigError::CredentialsWithWildcard { key: "methods" }), "list the methods explicitly"),
        ("credentials with * expose", || base().allow_origins(["https://a.example"]).allow_credentials(true).expose_headers(["*"]), |e| matches!(e, ConfigError::CredentialsWithWildcard { key: "expose" }), "list the expose explicitly"),
        ("null without opt-in", || base().allow_origins(["null"]), |e| matches!(e, ConfigError::NullOriginNotOptedIn), "allow_null_origin = true"),
        ("null with credentials, even opted in", || base().allow_origins(["null", "https://a.example"]).allow_null_origin(true).allow_credentials(true), |e| matches!(e, ConfigError::NullOriginWithCredentials), "remove \"null\""),
        // jub0bs/cors: a public-suffix pattern is refused with credentials only.
        ("pattern over a public suffix with credentials", || base().allow_origins(["https://*.com"]).allow_credentials(true), |e| matches!(e, ConfigError::PublicSuffixWithCredentials { suffix, .. } if suffix == "com"), "credentials are on"),
        ("pattern over a private-section public suffix with credentials", || base().allow_origins(["https://*.github.io"]).allow_credentials(true), |e| matches!(e, ConfigError::PublicSuffixWithCredentials { .. }), "other owners"),
        ("`*.kin` with credentials", || base().allow_origins(["https://*.kin"]).allow_credentials(true), |e| e.entry() == Some("https://*.kin"), "e.g. `https://*.example.kin`"),
        ("unanchored pattern", || base().allow_origins(["https://*example.com"]), |e| matches!(pattern_error(e), Some(PatternError::Unanchored { .. })), "write `https://*.example.com`"),
        ("origin with a path", || base().allow_origins(["https://app.example.com/"]), |e| matches!(pattern_error(e), Some(PatternError::Origin(OriginError::Path { .. }))), "write `https://app.example.com`"),
        ("origin without scheme", || base().allow_origins(["app.example.com"]), |e| matches!(pattern_error(e), Some(PatternError::Origin(OriginError::MissingScheme { .. }))), "write it as `https://app.example.com`"),
        ("file origin", || base().allow_origins(["file://example.com"]), |e| matches!(pattern_error(e), Some(PatternError::FileScheme { .. })) && e.entry() == Some("file://example.com"), "send `Origin: null`"),
        ("port 0", || base().allow_origins(["https://example.com:0"]), |e| matches!(pattern_error(e), Some(PatternError::PortZero { .. })), "port 0"),
        ("empty label", || base().allow_origins(["https://example..com"]), |e| matches!(pattern_error(e), Some(PatternError::EmptyLabel { .. })), "empty label"),
        ("http origin with credentials", || base().allow_origins(["http://app.example.com"]).allow_credentials(true), |e| matches!(e, ConfigError::InsecureOriginWithCredentials { .. }), "allow_insecure_origins = true"),
        ("http subdomain pattern with credentials", || base().allow_origins(["http://*.example.com"]).allow_credentials(true), |e| matches!(e, ConfigError::InsecureOriginWithCredentials { .. }), "use https://"),
        ("http any-port pattern with credentials", || base().allow_origins(["http://dev.example.com:*"]).allow_credentials(true), |e| matches!(e, ConfigError::InsecureOriginWithCredentials { .. }), "use https://"),
        ("forbidden method", || any_origin().allow_methods(["GET", "trace"]), |e| matches!(e, ConfigError::ForbiddenMethod { .. }), "remove it"),
        ("CONNECT", || any_origin().allow_methods(["CONNECT"]), |e| matches!(e, ConfigError::ForbiddenMethod { .. }), "forbidden method"),
        ("invalid method", || any_origin().allow_methods(["GET POST"]), |e| matches!(e, ConfigError::InvalidMethod { .. }), "e.g. \"PATCH\""),
        ("* mixed with methods", || any_origin().allow_methods(["*", "GET"]), |e| matches!(e, ConfigError::WildcardWithOthers { key: "methods", .. }), "keep \"*\" alone"),
        ("* with another header name", || any_origin().allow_headers(["*", "x-api-key"]), |e| matches!(e, ConfigError::WildcardWithOthers { key: "headers", .. }), "keep \"*\" alone"),
        ("invalid header name", || any_origin().allow_headers(["x api key"]), |e| matches!(e, ConfigError::InvalidHeaderName { key: "headers", .. }), "e.g. \"x-api-key\""),
        ("header name with a colon", || any_origin().allow_headers(["x-api-key:"]), |e| matches!(e, ConfigError::InvalidHeaderName { .. }), "not a valid header name"),
        ("invalid exposed header", || any_origin().expose_headers(["x-réquest"]), |e| matches!(e, ConfigError::InvalidHeaderName { key: "expose", .. }), "not a valid header name"),
        // Header names no page can use (issue 12, "refuse what can never work").
        ("forbidden request header", || any_origin().allow_headers(["Connection"]), |e| matches!(e, ConfigError::ForbiddenRequestHeader { name } if name == "Connection"), "browsers never let a page send it"), // jub0bs/cors: "forbidden request-header name"
        ("Sec- request header", || any_origin().allow_headers(["Sec-Foo"]), |e| matches!(e, ConfigError::ForbiddenRequestHeader { .. }), "remove it"), // jub0bs/cors: "with Sec- prefix"
        ("Proxy- request header", || any_origin().allow_headers(["Proxy-Foo"]), |e| matches!(e, ConfigError::ForbiddenRequestHeader { .. }), "remove it"), // jub0bs/cors: "with Proxy- prefix"
        ("forbidden request header beside *", || any_origin().allow_headers(["*", "cookie"]), |e| matches!(e, ConfigError::WildcardWithOthers { .. }), "keep \"*\" alone"),
        ("forbidden request header in public", || base().allow_origins(["https://a.example"]).allow_public(corsica::PublicAccess::read_only().allow_headers(["Cookie"])), |e| e.key() == "public.headers" && e.entry() == Some("Cookie"), "forbidden request header"),
        ("CORS protocol request header", || any_origin().allow_headers(["Access-Control-Allow-Origin"]), |e| matches!(e, ConfigError::CorsProtocolHeader { key: "headers", .. }), "remove it"), // jub0bs/cors: "prohibited request-header name"
        ("forbidden response header", || any_origin().expose_headers(["Set-Cookie"]), |e| matches!(e, ConfigError::ForbiddenResponseHeader { name } if name == "Set-Cookie"), "never let a script read it"), // jub0bs/cors: forbidden response-header name
        ("Set-Cookie2 exposed", || any_origin().expose_headers(["set-cookie2"]), |e| matches!(e, ConfigError::ForbiddenResponseHeader { .. }), "remove it"),
        ("CORS protocol header exposed", || any_origin().expose_headers(["Access-Control-Allow-Origin"]), |e| matches!(e, ConfigError::CorsProtocolHeader { key: "expose", .. }), "remove it"), // jub0bs/cors: prohibited response-header name
        ("absurd max-age", || any_origin().max_age(Duration::from_secs(86_401)), |e| matches!(e, ConfigError::MaxAgeTooLarge { secs: 86_401 }), "use at most 86400"),
        ("non-2xx preflight status", || any_origin().preflight_status(StatusCode::FOUND), |e| matches!(e, ConfigError::InvalidPreflightStatus { status: 302 }), "use 204 or 200"),
        ("2xx denied status", || any_origin().denied_preflight_status(StatusCode::OK), |e| matches!(e, ConfigError::InvalidDeniedStatus { status: 200 }), "use 403"),
        ("zero limits", || any_origin().request_header_limits(HeaderListLimits { max_bytes: 0, max_items: 1, }), |e| matches!(e, ConfigError::InvalidLimits { .. }), "at least 1"),
    ];
    for (name, make, check, fix) in cases {
        match make().build() {
            Ok(p) => panic!("{name}: accepted: {p:?}"),
            Err(errors) => {
                assert_eq!(errors.len(), 1, "{name}: {errors}");
                let e = errors.first();
                assert!(check(e), "{name}: unexpected error {e:?}");
                let msg = e.to_string();
                assert!(
                    msg.contains(fix),
                    "{name}: message does not name the fix `{fix}`: {msg}"
                );
            }
        }
    }
}

#[test]
fn every_problem_at_once() {
    let errors = base()
        .allow_origins(["*", "null", "https://a.example/path"])
        .allow_credentials(true)
        .allow_methods(["GET", "TRACE", "BAD METHOD"])
        .allow_headers(["x ok", "*"])
        .max_age_secs(100_000)
        .build()
        .unwrap_err();
    let keys: Vec<&str> = errors.iter().map(ConfigError::key).collect();
    assert_eq!(
        keys,
        [
            "origins",     // the origin with a path
            "origins",     // "*" beside others
            "credentials", // "*" with credentials
            "credentials", // "null" with credentials
            "methods",     // TRACE
            "methods",     // not a token
            "headers",     // "*" beside others ("*" with credentials mirrors: no error)
            "max_age",
        ],
        "{errors}"
    );
    assert_eq!(errors.to_string().lines().count(), errors.len());
    assert_eq!(errors.first().entry(), Some("https://a.example/path"));
}

#[test]
fn acceptable_configurations() {
    type Make = fn() -> PolicyBuilder;
    let ok: &[(&str, Make)] = &[
        ("public *", || {
            any_origin()
                .allow_methods(["*"])
                .allow_headers(["*"])
                .expose_headers(["*"])
        }),
        ("credentials with exact https origins", || {
            base()
                .allow_origins(["https://app.example.com"])
                .allow_credentials(true)
        }),
        ("credentials with a subdomain pattern", || {
            base()
                .allow_origins(["https://*.example.com"])
                .allow_credentials(true)
        }),
        ("credentials with loopback development origins", || {
            base()
                .allow_origins([
                    "http://localhost:*",
                    "http://127.0.0.1:*",
                    "http://[::1]:*",
                    "http://*.localhost:*",
                ])
                .allow_credentials(true)
        }),
        ("insecure opted in", || {
            base()
                .allow_origins(["http://intranet.example"])
                .allow_credentials(true)
                .allow_insecure_origins(true)
        }),
        ("null opted in without credentials", || {
            base().allow_origins(["null"]).allow_null_origin(true)
        }),
        ("max-age of exactly 24 h", || {
            any_origin().max_age_secs(86_400)
        }),
        ("max-age 0 (no caching)", || any_origin().max_age_secs(0)),
        ("predicate only", || {
            base().allow_origin_predicate(|o| o.as_str() == "https://p.example")
        }),
        ("non-standard methods keep their case", || {
            any_origin().allow_methods(["patch", "PROPFIND"])
        }),
        ("preflight 200", || {
            any_origin().preflight_status(StatusCode::OK)
        }),
        ("* and authorization (a wildcard never covers it)", || {
            any_origin().allow_headers(["*", "Authorization"])
        }),
        ("browser-extension origins with credentials", || {
            base()
                .allow_origins([
                    "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
                    "moz-extension://0b8e9f2a",
                ])
                .allow_credentials(true)
        }),
        (
            "http subdomains of a .localhost name with credentials",
            || {
                base()
                    .allow_origins(["http://*.app.localhost:*"])
                    .allow_credentials(true)
            },
        ),
    ];
    for (name, make) in ok {
        if let Err(e) = make().build() {
            panic!("{name}: refused: {e}");
        }
    }
}

#[test]
fn methods_normalize_like_fetch() {
    let p = any_origin()
        .allow_methods(["get", "Delete", "patch"])
        .build()
        .unwrap();
    assert!(p.allows_method("GET"));
    assert!(p.allows_method("DELETE"));
    assert!(p.allows_method("patch"));
    assert!(
        !p.allows_method("PATCH"),
        "non-standard methods are case-sensitive"
    );
    assert!(!p.allows_method("get"));
}

#[test]
fn sub_second_max_age_rounds_up() {
    let p = any_origin()
        .max_age(Duration::from_millis(900))
        .build()
        .unwrap();
    let mut h = http::HeaderMap::new();
    h.insert(
        "origin",
        http::HeaderValue::from_static("https://a.example"),
    );
    h.insert(
        "access-control-request-method",
        http::HeaderValue::from_static("GET"),
    );
    let d = p.decide(&http::Method::OPTIONS, &h);
    assert_eq!(d.headers().max_age().unwrap(), "1");
}

/// What the builder accepts with a warning: valid, but likely not meant.
#[test]
fn warnings() {
    // (origins, credentials, warned entries). jub0bs/cors allows a public-suffix pattern
    // without credentials, where it allows no more than `*`.
    #[rustfmt::skip]
    let cases: &[(&[&str], &[&str])] = &[
        (&["https://*.kin"], &["https://*.kin"]),
        (&["https://*.com", "https://a.example"], &["https://*.com"]),
        (&["https://*.github.io"], &["https://*.github.io"]),
        (&["https://*.example.com"], &[]),
        (&["*"], &[]),
    ];
    for (origins, warned) in cases {
        let policy = base()
            .allow_origins(origins.iter().copied())
            .build()
            .unwrap();
        let got: Vec<&str> = policy
            .warnings()
            .iter()
            .filter_map(ConfigError::entry)
            .collect();
        assert_eq!(&got, warned, "{origins:?}");
        for w in policy.warnings() {
            assert!(
                matches!(w, ConfigError::PublicSuffixPattern { .. }),
                "{w:?}"
            );
            assert_eq!(w.key(), "origins");
            assert!(w.to_string().contains("no narrower than \"*\""), "{w}");
        }
    }
    // The pattern matches every name below the suffix, as `*` would.
    let policy = base().allow_origins(["https://*.kin"]).build().unwrap();
    let allowed = |o: &str| {
        policy
            .origins()
            .contains(&corsica::Origin::parse(o).unwrap())
    };
    assert!(allowed("https://anyone.kin"));
    assert!(allowed("https://a.b.kin"));
    assert!(!allowed("https://kin.example"));
    assert!(!allowed("http://anyone.kin"));
}

/// Secure Contexts § 3.2: `localhost.` and `*.localhost.` are loopback, so credentials
/// need no opt-in for them (they were refused as insecure before).
#[test]
fn trailing_dot_localhost_is_loopback() {
    for origin in [
        "http://localhost.",
        "http://*.localhost.",
        "http://localhost.:*",
        "http://app.localhost.:3000",
    ] {
        let built = base()
            .allow_origins([origin])
            .allow_credentials(true)
            .build();
        assert!(built.is_ok(), "{origin}: {:?}", built.err());
    }
    let refused = base()
        .allow_origins(["http://localhost.example."])
        .allow_credentials(true)
        .build();
    assert!(matches!(
        refused.unwrap_err().first(),
        ConfigError::InsecureOriginWithCredentials { .. }
    ));
}
