//! The server decision, table-driven: every header on every path, every denial, and the
//! five scenarios of a typical CORS guide.

use corsica::{Policy, RequestKind};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

const V_ORIGIN: &str = "Origin";
const V_PREFLIGHT: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

struct Case {
    name: &'static str,
    method: &'static str,
    request: &'static [(&'static str, &'static str)],
    kind: RequestKind,
    /// Status for preflights.
    status: Option<u16>,
    /// `None` when allowed.
    reason: Option<&'static str>,
    /// Exactly the response headers after `apply` on an empty response.
    response: &'static [(&'static str, &'static str)],
}

fn run(policy: &Policy, cases: &[Case]) {
    for c in cases {
        let method = Method::from_bytes(c.method.as_bytes()).unwrap();
        let mut headers = HeaderMap::new();
        for (n, v) in c.request {
            headers.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v.as_bytes()).unwrap(),
            );
        }
        let d = policy.decide(&method, &headers);
        assert_eq!(d.kind(), c.kind, "{}: kind", c.name);
        assert_eq!(
            d.status().map(|s| s.as_u16()),
            c.status,
            "{}: status",
            c.name
        );
        assert_eq!(
            d.reason().map(|r| r.label()),
            c.reason,
            "{}: reason {:?}",
            c.name,
            d.reason()
        );
        let mut out = HeaderMap::new();
        d.apply(&mut out);
        let mut got: Vec<(String, String)> = out
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        got.sort();
        let mut want: Vec<(String, String)> = c
            .response
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        want.sort();
        assert_eq!(got, want, "{}: response headers", c.name);
    }
}

fn company_policy() -> Policy {
    Policy::builder()
        .allow_origins(["https://app.example.com", "https://*.example.com"])
        .allow_credentials(true)
        .allow_methods(["GET", "POST", "PUT", "DELETE", "patch"])
        .allow_headers(["content-type", "authorization", "x-api-key"])
        .expose_headers(["x-request-id", "etag"])
        .max_age_secs(7200)
        .build()
        .unwrap()
}

#[test]
fn each_header_on_each_path() {
    use RequestKind::*;
    let allowed_preflight: &[(&str, &str)] = &[
        ("access-control-allow-origin", "https://app.example.com"),
        ("access-control-allow-credentials", "true"),
        (
            "access-control-allow-methods",
            "GET, POST, PUT, DELETE, patch",
        ),
        (
            "access-control-allow-headers",
            "content-type, authorization, x-api-key",
        ),
        ("access-control-max-age", "7200"),
        ("vary", V_PREFLIGHT),
    ];
    let cases = [
        Case {
            name: "not CORS: Vary only",
            method: "GET",
            request: &[],
            kind: NotCors,
            status: None,
            reason: None,
            response: &[("vary", V_ORIGIN)],
        },
        Case {
            name: "OPTIONS without Origin is not CORS",
            method: "OPTIONS",
            request: &[("access-control-request-method", "PUT")],
            kind: NotCors,
            status: None,
            reason: None,
            response: &[("vary", V_ORIGIN)],
        },
        Case {
            name: "actual allowed: ACAO echo, ACAC, ACEH, Vary",
            method: "GET",
            request: &[("origin", "https://app.example.com")],
            kind: Actual,
            status: None,
            reason: None,
            response: &[
                ("access-control-allow-origin", "https://app.example.com"),
                ("access-control-allow-credentials", "true"),
                ("access-control-expose-headers", "x-request-id, etag"),
                ("vary", V_ORIGIN),
            ],
        },
        Case {
            name: "actual allowed through a subdomain pattern",
            method: "POST",
            request: &[("origin", "https://admin.eu.example.com")],
            kind: Actual,
            status: None,
            reason: None,
            response: &[
                (
                    "access-control-allow-origin",
                    "https://admin.eu.example.com",
                ),
                ("access-control-allow-credentials", "true"),
                ("access-control-expose-headers", "x-request-id, etag"),
                ("vary", V_ORIGIN),
            ],
        },
        Case {
            name: "actual denied: origin",
            method: "GET",
            request: &[("origin", "https://example.com.evil.net")],
            kind: Actual,
            status: None,
            reason: Some("origin_not_allowed"),
            response: &[("vary", V_ORIGIN)],
        },
        Case {
            name: "actual denied: suffix bypass",
            method: "GET",
            request: &[("origin", "https://evilexample.com")],
            kind: Actual,
            status: None,
            reason: Some("origin_not_allowed"),
            response: &[("vary", V_ORIGIN)],
        },
        Case {
            name: "actual denied: http instead of https",
            method: "GET",
            request: &[("origin", "http://app.example.com")],
            kind: Actual,
            status: None,
            reason: Some("origin_not_allowed"),
            response: &[("vary", V_ORIGIN)],
        },
        Case {
            name: "actual denied: null",
            method: "GET",
            request: &[("origin", "null")],
            kind: Actual,
            status: None,
            reason: Some("null_origin_not_allowed"),
            response: &[("vary", V_ORIGIN)],
        },
        Case {
            name: "actual denied: malformed origin (trailing slash)",
            method: "GET",
            request: &[("origin", "https://app.example.com/")],
            kind: Actual,
            status: None,
            reason: Some("invalid_origin"),
            response: &[("vary", V_ORIGIN)],
        },
        Case {
            name: "actual denied: non-serialized origin (upper case)",
            method: "GET",
            request: &[("origin", "https://APP.example.com")],
            kind: Actual,
            status: None,
            reason: Some("invalid_origin"),
            response: &[("vary", V_ORIGIN)],
        },
        Case {
            name: "actual denied: two origins in one line",
            method: "GET",
            request: &[("origin", "https://app.example.com https://evil.net")],
            kind: Actual,
            status: None,
            reason: Some("invalid_origin"),
            response: &[("vary", V_ORIGIN)],
        },
        Case {
            name: "actual denied: two Origin lines",
            method: "GET",
            request: &[
                ("origin", "https://app.example.com"),
                ("origin", "https://app.example.com"),
            ],
            kind: Actual,
            status: None,
            reason: Some("multiple_origins"),
            response: &[("vary", V_ORIGIN)],
        },
        Case {
            name: "actual denied: method not allowed",
            method: "OPTIONS",
            request: &[("origin", "https://app.example.com")],
            kind: Actual,
            status: None,
            reason: Some("method_not_allowed"),
            response: &[("vary", V_ORIGIN)],
        },
        Case {
            name: "actual: PATCH is not patch",
            method: "PATCH",
            request: &[("origin", "https://app.example.com")],
            kind: Actual,
            status: None,
            reason: Some("method_not_allowed"),
            response: &[("vary", V_ORIGIN)],
        },
        Case {
            name: "preflight allowed: all preflight headers",
            method: "OPTIONS",
            request: &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "content-type,x-api-key"),
            ],
            kind: Preflight,
            status: Some(204),
            reason: None,
            response: allowed_preflight,
        },
        Case {
            name: "preflight allowed: no request headers",
            method: "OPTIONS",
            request: &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "DELETE"),
            ],
            kind: Preflight,
            status: Some(204),
            reason: None,
            response: allowed_preflight,
        },
        Case {
            name: "preflight allowed: header names are case-insensitive",
            method: "OPTIONS",
            request: &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "X-API-Key"),
            ],
            kind: Preflight,
            status: Some(204),
            reason: None,
            response: allowed_preflight,
        },
        Case {
            name: "preflight allowed: request headers split over two lines",
            method: "OPTIONS",
            request: &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "content-type"),
                ("access-control-request-headers", "authorization"),
            ],
            kind: Preflight,
            status: Some(204),
            reason: None,
            response: allowed_preflight,
        },
        Case {
            name: "preflight allowed: lower-case non-standard method as configured",
            method: "OPTIONS",
            request: &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "patch"),
            ],
            kind: Preflight,
            status: Some(204),
            reason: None,
            response: allowed_preflight,
        },
        Case {
            name: "preflight denied: origin",
            method: "OPTIONS",
            request: &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "PUT"),
            ],
            kind: Preflight,
            status: Some(403),
            reason: Some("origin_not_allowed"),
            response: &[("vary", V_PREFLIGHT)],
        },
        Case {
            name: "preflight denied: method",
            method: "OPTIONS",
            request: &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "PATCH"),
            ],
            kind: Preflight,
            status: Some(403),
            reason: Some("method_not_allowed"),
            response: &[("vary", V_PREFLIGHT)],
        },
        Case {
            name: "preflight denied: empty method",
            method: "OPTIONS",
            request: &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", ""),
            ],
            kind: Preflight,
            status: Some(403),
            reason: Some("invalid_request_method"),
            response: &[("vary", V_PREFLIGHT)],
        },
        Case {
            name: "preflight denied: method is not a token",
            method: "OPTIONS",
            request: &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "PUT, DELETE"),
            ],
            kind: Preflight,
            status: Some(403),
            reason: Some("invalid_request_method"),
            response: &[("vary", V_PREFLIGHT)],
        },
        Case {
            name: "preflight denied: two method lines",
            method: "OPTIONS",
            request: &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-method", "PUT"),
            ],
            kind: Preflight,
            status: Some(403),
            reason: Some("invalid_request_method"),
            response: &[("vary", V_PREFLIGHT)],
        },
        Case {
            name: "preflight denied: header",
            method: "OPTIONS",
            request: &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "content-type,x-secret"),
            ],
            kind: Preflight,
            status: Some(403),
            reason: Some("header_not_allowed"),
            response: &[("vary", V_PREFLIGHT)],
        },
        Case {
            name: "preflight denied: malformed header list",
            method: "OPTIONS",
            request: &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "content-type;x"),
            ],
            kind: Preflight,
            status: Some(403),
            reason: Some("invalid_request_headers"),
            response: &[("vary", V_PREFLIGHT)],
        },
        Case {
            name: "preflight denied: malformed origin",
            method: "OPTIONS",
            request: &[
                ("origin", "app.example.com"),
                ("access-control-request-method", "PUT"),
            ],
            kind: Preflight,
            status: Some(403),
            reason: Some("invalid_origin"),
            response: &[("vary", V_PREFLIGHT)],
        },
    ];
    run(&company_policy(), &cases);
}

#[test]
fn hostile_request_headers_are_refused_in_bounded_time() {
    let p = company_policy();
    let mut h = HeaderMap::new();
    h.insert(
        "origin",
        HeaderValue::from_static("https://app.example.com"),
    );
    h.insert(
        "access-control-request-method",
        HeaderValue::from_static("PUT"),
    );
    // The rs/cors denial of service: a huge comma-stuffed value.
    let stuffed = ",".repeat(1 << 20);
    h.insert(
        "access-control-request-headers",
        HeaderValue::from_str(&stuffed).unwrap(),
    );
    let d = p.decide(&Method::OPTIONS, &h);
    assert_eq!(d.reason().unwrap().label(), "request_headers_too_large");
    // Many lines.
    h.remove("access-control-request-headers");
    for _ in 0..10_000 {
        h.append(
            "access-control-request-headers",
            HeaderValue::from_static("content-type"),
        );
    }
    let d = p.decide(&Method::OPTIONS, &h);
    assert_eq!(d.reason().unwrap().label(), "request_headers_too_large");
    // Just under the limits is fine.
    h.remove("access-control-request-headers");
    let list = vec!["x-api-key"; 64].join(",");
    h.insert(
        "access-control-request-headers",
        HeaderValue::from_str(&list).unwrap(),
    );
    assert!(p.decide(&Method::OPTIONS, &h).is_allowed());
}

/// Scenario 1 of a typical guide: a React SPA on https://app.example.com calls
/// https://api.example.com with an `X-API-Key` header and JSON.
#[test]
fn scenario_spa_to_api_with_api_key() {
    use RequestKind::*;
    let p = Policy::builder()
        .allow_origins(["https://app.example.com"])
        .allow_methods(["GET", "POST", "PUT", "DELETE"])
        .allow_headers(["content-type", "x-api-key"])
        .max_age_secs(600)
        .build()
        .unwrap();
    run(
        &p,
        &[
            Case {
                name: "preflight for POST with JSON and X-API-Key",
                method: "OPTIONS",
                request: &[
                    ("origin", "https://app.example.com"),
                    ("access-control-request-method", "POST"),
                    ("access-control-request-headers", "content-type,x-api-key"),
                ],
                kind: Preflight,
                status: Some(204),
                reason: None,
                response: &[
                    ("access-control-allow-origin", "https://app.example.com"),
                    ("access-control-allow-methods", "GET, POST, PUT, DELETE"),
                    ("access-control-allow-headers", "content-type, x-api-key"),
                    ("access-control-max-age", "600"),
                    ("vary", V_PREFLIGHT),
                ],
            },
            Case {
                name: "the POST itself",
                method: "POST",
                request: &[
                    ("origin", "https://app.example.com"),
                    ("x-api-key", "k"),
                    ("content-type", "application/json"),
                ],
                kind: Actual,
                status: None,
                reason: None,
                response: &[
                    ("access-control-allow-origin", "https://app.example.com"),
                    ("vary", V_ORIGIN),
                ],
            },
            Case {
                name: "another site cannot",
                method: "OPTIONS",
                request: &[
                    ("origin", "https://app.example.com.attacker.net"),
                    ("access-control-request-method", "POST"),
                    ("access-control-request-headers", "x-api-key"),
                ],
                kind: Preflight,
                status: Some(403),
                reason: Some("origin_not_allowed"),
                response: &[("vary", V_PREFLIGHT)],
            },
        ],
    );
}

/// Scenario 2: a public read-only API with `*`, writes restricted to the company's
/// origins (two policies, as a gateway would route them).
#[test]
fn scenario_public_read_api_and_restricted_writes() {
    use RequestKind::*;
    let public = Policy::builder()
        .allow_origins(["*"])
        .allow_methods(["GET", "HEAD"])
        .expose_headers(["etag"])
        .max_age_secs(86_400)
        .build()
        .unwrap();
    run(
        &public,
        &[
            Case {
                name: "any site reads, no Vary needed",
                method: "GET",
                request: &[("origin", "https://anyone.example")],
                kind: Actual,
                status: None,
                reason: None,
                response: &[
                    ("access-control-allow-origin", "*"),
                    ("access-control-expose-headers", "etag"),
                ],
            },
            Case {
                name: "the same answer without Origin (cache-safe)",
                method: "GET",
                request: &[],
                kind: NotCors,
                status: None,
                reason: None,
                response: &[
                    ("access-control-allow-origin", "*"),
                    ("access-control-expose-headers", "etag"),
                ],
            },
            Case {
                name: "null origin reads a public API",
                method: "GET",
                request: &[("origin", "null")],
                kind: Actual,
                status: None,
                reason: None,
                response: &[
                    ("access-control-allow-origin", "*"),
                    ("access-control-expose-headers", "etag"),
                ],
            },
            Case {
                name: "a malformed Origin is denied, and that answer varies",
                method: "GET",
                request: &[("origin", "https://a.example/")],
                kind: Actual,
                status: None,
                reason: Some("invalid_origin"),
                response: &[("vary", V_ORIGIN)],
            },
            Case {
                name: "writes are not allowed on the public route",
                method: "OPTIONS",
                request: &[
                    ("origin", "https://anyone.example"),
                    ("access-control-request-method", "DELETE"),
                ],
                kind: Preflight,
                status: Some(403),
                reason: Some("method_not_allowed"),
                response: &[("vary", V_PREFLIGHT)],
            },
            Case {
                name: "a preflighted GET (custom header) on the public route",
                method: "OPTIONS",
                request: &[
                    ("origin", "https://anyone.example"),
                    ("access-control-request-method", "GET"),
                ],
                kind: Preflight,
                status: Some(204),
                reason: None,
                response: &[
                    ("access-control-allow-origin", "*"),
                    ("access-control-allow-methods", "GET, HEAD"),
                    ("access-control-max-age", "86400"),
                    ("vary", V_PREFLIGHT),
                ],
            },
        ],
    );
    let writes = Policy::builder()
        .allow_origins(["https://app.example.com", "https://admin.example.com"])
        .allow_credentials(true)
        .allow_methods(["POST", "PUT", "DELETE"])
        .allow_headers(["content-type"])
        .build()
        .unwrap();
    run(
        &writes,
        &[
            Case {
                name: "company origin may write with credentials",
                method: "OPTIONS",
                request: &[
                    ("origin", "https://admin.example.com"),
                    ("access-control-request-method", "DELETE"),
                    ("access-control-request-headers", "content-type"),
                ],
                kind: Preflight,
                status: Some(204),
                reason: None,
                response: &[
                    ("access-control-allow-origin", "https://admin.example.com"),
                    ("access-control-allow-credentials", "true"),
                    ("access-control-allow-methods", "POST, PUT, DELETE"),
                    ("access-control-allow-headers", "content-type"),
                    ("vary", V_PREFLIGHT),
                ],
            },
            Case {
                name: "other origins may not",
                method: "OPTIONS",
                request: &[
                    ("origin", "https://anyone.example"),
                    ("access-control-request-method", "DELETE"),
                ],
                kind: Preflight,
                status: Some(403),
                reason: Some("origin_not_allowed"),
                response: &[("vary", V_PREFLIGHT)],
            },
        ],
    );
}

/// Scenario 3: credentials across the subdomains of one company.
#[test]
fn scenario_credentials_across_subdomains() {
    use RequestKind::*;
    let p = Policy::builder()
        .allow_origins(["https://example.com", "https://*.example.com"])
        .allow_credentials(true)
        .build()
        .unwrap();
    let ok = |origin: &'static str| Case {
        name: origin,
        method: "GET",
        request: Box::leak(Box::new([("origin", origin)])),
        kind: Actual,
        status: None,
        reason: None,
        response: Box::leak(Box::new([
            ("access-control-allow-origin", origin),
            ("access-control-allow-credentials", "true"),
            ("vary", V_ORIGIN),
        ])),
    };
    let denied = |origin: &'static str| Case {
        name: origin,
        method: "GET",
        request: Box::leak(Box::new([("origin", origin)])),
        kind: Actual,
        status: None,
        reason: Some("origin_not_allowed"),
        response: &[("vary", V_ORIGIN)],
    };
    run(
        &p,
        &[
            ok("https://example.com"),
            ok("https://app.example.com"),
            ok("https://shop.eu.example.com"),
            denied("https://example.com.evil.net"),
            denied("https://evil-example.com"),
            denied("https://notexample.com"),
            denied("http://app.example.com"),
            denied("https://app.example.com:8443"),
            denied("https://app.example.co"),
        ],
    );
}

/// Scenario 4: local development, http://localhost:3000 → http://localhost:8080.
#[test]
fn scenario_local_development() {
    use RequestKind::*;
    let p = Policy::builder()
        .allow_origins(["http://localhost:*", "http://127.0.0.1:*"])
        .allow_credentials(true)
        .allow_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allow_headers(["content-type", "authorization"])
        .build()
        .unwrap();
    run(
        &p,
        &[
            Case {
                name: "vite dev server",
                method: "OPTIONS",
                request: &[
                    ("origin", "http://localhost:3000"),
                    ("access-control-request-method", "PATCH"),
                    (
                        "access-control-request-headers",
                        "authorization,content-type",
                    ),
                ],
                kind: Preflight,
                status: Some(204),
                reason: None,
                response: &[
                    ("access-control-allow-origin", "http://localhost:3000"),
                    ("access-control-allow-credentials", "true"),
                    (
                        "access-control-allow-methods",
                        "GET, POST, PUT, PATCH, DELETE",
                    ),
                    (
                        "access-control-allow-headers",
                        "content-type, authorization",
                    ),
                    ("vary", V_PREFLIGHT),
                ],
            },
            Case {
                name: "127.0.0.1 on another port",
                method: "GET",
                request: &[("origin", "http://127.0.0.1:5173")],
                kind: Actual,
                status: None,
                reason: None,
                response: &[
                    ("access-control-allow-origin", "http://127.0.0.1:5173"),
                    ("access-control-allow-credentials", "true"),
                    ("vary", V_ORIGIN),
                ],
            },
            Case {
                name: "a look-alike host is not localhost",
                method: "GET",
                request: &[("origin", "http://localhost.attacker.net:3000")],
                kind: Actual,
                status: None,
                reason: Some("origin_not_allowed"),
                response: &[("vary", V_ORIGIN)],
            },
        ],
    );
}

/// Scenario 5: one gateway policy for many services — the same policy object decides for
/// every path; `*` request headers echo what was asked, and `authorization`, which a
/// wildcard never covers (Fetch: CORS non-wildcard request-header name), is allowed only
/// because it is listed next to `*`.
#[test]
fn scenario_one_policy_for_many_services() {
    use RequestKind::*;
    let p = Policy::builder()
        .allow_origins(["https://portal.example.com"])
        .allow_methods(["*"])
        .allow_headers(["*", "Authorization"])
        .build()
        .unwrap();
    run(
        &p,
        &[
            Case {
                name: "echoes requested headers, methods *",
                method: "OPTIONS",
                request: &[
                    ("origin", "https://portal.example.com"),
                    ("access-control-request-method", "PUT"),
                    (
                        "access-control-request-headers",
                        "Authorization, X-Trace-Id",
                    ),
                ],
                kind: Preflight,
                status: Some(204),
                reason: None,
                response: &[
                    ("access-control-allow-origin", "https://portal.example.com"),
                    ("access-control-allow-methods", "*"),
                    ("access-control-allow-headers", "authorization, x-trace-id"),
                    ("vary", V_PREFLIGHT),
                ],
            },
            Case {
                name: "an empty request-header list echoes nothing",
                method: "OPTIONS",
                request: &[
                    ("origin", "https://portal.example.com"),
                    ("access-control-request-method", "PUT"),
                ],
                kind: Preflight,
                status: Some(204),
                reason: None,
                response: &[
                    ("access-control-allow-origin", "https://portal.example.com"),
                    ("access-control-allow-methods", "*"),
                    ("vary", V_PREFLIGHT),
                ],
            },
            Case {
                name: "any method on actual requests",
                method: "PROPFIND",
                request: &[("origin", "https://portal.example.com")],
                kind: Actual,
                status: None,
                reason: None,
                response: &[
                    ("access-control-allow-origin", "https://portal.example.com"),
                    ("vary", V_ORIGIN),
                ],
            },
        ],
    );
}

#[test]
fn private_network_access_is_opt_in() {
    let mut h = HeaderMap::new();
    h.insert(
        "origin",
        HeaderValue::from_static("https://app.example.com"),
    );
    h.insert(
        "access-control-request-method",
        HeaderValue::from_static("GET"),
    );
    h.insert(
        "access-control-request-private-network",
        HeaderValue::from_static("true"),
    );
    let off = Policy::builder()
        .allow_origins(["https://app.example.com"])
        .build()
        .unwrap();
    let mut resp = HeaderMap::new();
    off.decide(&Method::OPTIONS, &h).apply(&mut resp);
    assert!(resp.get("access-control-allow-private-network").is_none());
    assert_eq!(resp["vary"], V_PREFLIGHT);

    let on = Policy::builder()
        .allow_origins(["https://app.example.com"])
        .allow_private_network(true)
        .build()
        .unwrap();
    let mut resp = HeaderMap::new();
    on.decide(&Method::OPTIONS, &h).apply(&mut resp);
    assert_eq!(resp["access-control-allow-private-network"], "true");
    assert_eq!(
        resp["vary"],
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network"
    );
    // Without the request header, no PNA answer (but the Vary still says it matters).
    h.remove("access-control-request-private-network");
    let mut resp = HeaderMap::new();
    on.decide(&Method::OPTIONS, &h).apply(&mut resp);
    assert!(resp.get("access-control-allow-private-network").is_none());
}

#[test]
fn apply_replaces_upstream_cors_headers_and_merges_vary() {
    let p = company_policy();
    let mut req = HeaderMap::new();
    req.insert("origin", HeaderValue::from_static("https://evil.example"));
    let denied = p.decide(&Method::GET, &req);
    // An upstream that reflects any origin must not leak through a denial.
    let mut resp = HeaderMap::new();
    resp.insert(
        "access-control-allow-origin",
        HeaderValue::from_static("https://evil.example"),
    );
    resp.insert(
        "access-control-allow-credentials",
        HeaderValue::from_static("true"),
    );
    resp.insert(
        "access-control-expose-headers",
        HeaderValue::from_static("*"),
    );
    resp.insert("content-type", HeaderValue::from_static("text/plain"));
    resp.append("vary", HeaderValue::from_static("accept-encoding"));
    resp.append("vary", HeaderValue::from_static("origin"));
    denied.apply(&mut resp);
    assert!(resp.get("access-control-allow-origin").is_none());
    assert!(resp.get("access-control-allow-credentials").is_none());
    assert!(resp.get("access-control-expose-headers").is_none());
    assert_eq!(resp["content-type"], "text/plain");
    // Two lines merged into one, no duplicate `Origin`.
    assert_eq!(resp.get_all("vary").iter().count(), 1);
    assert_eq!(resp["vary"], "accept-encoding, origin");

    let mut resp = HeaderMap::new();
    resp.insert("vary", HeaderValue::from_static("*"));
    denied.apply(&mut resp);
    assert_eq!(resp["vary"], "*");

    let mut resp = HeaderMap::new();
    resp.insert("vary", HeaderValue::from_static("Origin"));
    denied.apply(&mut resp);
    assert_eq!(resp["vary"], "Origin");
}

#[test]
fn wildcard_headers_never_cover_authorization() {
    use RequestKind::*;
    let p = Policy::builder()
        .allow_origins(["*"])
        .allow_headers(["*"])
        .build()
        .unwrap();
    run(
        &p,
        &[
            Case {
                name: "authorization needs listing",
                method: "OPTIONS",
                request: &[
                    ("origin", "https://a.example"),
                    ("access-control-request-method", "GET"),
                    ("access-control-request-headers", "authorization,x-trace-id"),
                ],
                kind: Preflight,
                status: Some(403),
                reason: Some("header_not_allowed"),
                response: &[("vary", V_PREFLIGHT)],
            },
            Case {
                name: "other names are covered",
                method: "OPTIONS",
                request: &[
                    ("origin", "https://a.example"),
                    ("access-control-request-method", "GET"),
                    ("access-control-request-headers", "x-trace-id"),
                ],
                kind: Preflight,
                status: Some(204),
                reason: None,
                response: &[
                    ("access-control-allow-origin", "*"),
                    ("access-control-allow-methods", "GET, HEAD, POST"),
                    ("access-control-allow-headers", "x-trace-id"),
                    ("vary", V_PREFLIGHT),
                ],
            },
        ],
    );
    let mut h = HeaderMap::new();
    h.insert("origin", HeaderValue::from_static("https://a.example"));
    h.insert(
        "access-control-request-method",
        HeaderValue::from_static("GET"),
    );
    h.insert(
        "access-control-request-headers",
        HeaderValue::from_static("authorization"),
    );
    match p.decide(&Method::OPTIONS, &h).reason() {
        Some(corsica::Reason::HeaderNotAllowed { name }) => assert_eq!(name, "authorization"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn under_wildcard_origin_a_denied_method_gets_no_cors_headers_even_without_origin() {
    let p = Policy::builder()
        .allow_origins(["*"])
        .allow_methods(["GET"])
        .build()
        .unwrap();
    for headers in [HeaderMap::new(), {
        let mut h = HeaderMap::new();
        h.insert("origin", HeaderValue::from_static("https://a.example"));
        h
    }] {
        let mut out = HeaderMap::new();
        p.decide(&Method::DELETE, &headers).apply(&mut out);
        assert!(out.is_empty(), "{out:?}");
        let mut out = HeaderMap::new();
        p.decide(&Method::GET, &headers).apply(&mut out);
        assert_eq!(out["access-control-allow-origin"], "*");
    }
}

#[test]
fn vary_that_is_not_ascii_still_gets_origin() {
    let p = company_policy();
    let mut req = HeaderMap::new();
    req.insert(
        "origin",
        HeaderValue::from_static("https://app.example.com"),
    );
    let mut resp = HeaderMap::new();
    resp.insert("vary", HeaderValue::from_bytes(b"accept, x-\xff").unwrap());
    resp.insert("vary", HeaderValue::from_bytes(&[b'x', 0xff]).unwrap());
    p.decide(&Method::GET, &req).apply(&mut resp);
    let lines: Vec<_> = resp.get_all("vary").iter().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1], "Origin");
}
