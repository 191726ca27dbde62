//! `corsica check` against real local servers that reproduce each CORS error kind a
//! `fetch()` in `cors` mode can hit, over real sockets on 127.0.0.1.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use corsica::fetch::{CorsError, Credentials, Verdict};
use corsica_doctor::{CheckArgs, LiveOptions, check, report};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

const ORIGIN: &str = "http://app.localhost:3000";

/// Answers by path: `/<case>/...`; `OPTIONS` gets the case's preflight answer.
fn respond(req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let case = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let preflight = req.method() == http::Method::OPTIONS;
    let origin = req
        .headers()
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let ok: Vec<(&str, String)> = vec![
        ("access-control-allow-origin", origin.clone()),
        ("access-control-allow-credentials", "true".into()),
        ("access-control-allow-methods", "PUT, DELETE".into()),
        ("access-control-allow-headers", "x-api-key".into()),
    ];
    let (status, headers): (u16, Vec<(&str, String)>) = match (case.as_str(), preflight) {
        ("slow", _) => {
            std::thread::sleep(Duration::from_millis(1500));
            (200, ok)
        }
        ("allowed", _) => (if preflight { 204 } else { 200 }, ok),
        ("missing", false) => (200, vec![]),
        ("mismatch", false) => (
            200,
            vec![(
                "access-control-allow-origin",
                "http://other.localhost".into(),
            )],
        ),
        ("invalid", false) => (
            200,
            vec![("access-control-allow-origin", "app.localhost".into())],
        ),
        ("multiple", false) => (
            200,
            vec![(
                "access-control-allow-origin",
                format!("{origin}, http://x.localhost"),
            )],
        ),
        ("wildcard", false) => (200, vec![("access-control-allow-origin", "*".into())]),
        ("credentials", false) => (200, vec![("access-control-allow-origin", origin.clone())]),
        ("pf-missing", true) => (204, vec![]),
        ("pf-mismatch", true) => (204, vec![("access-control-allow-origin", "null".into())]),
        ("pf-wildcard", true) => (204, vec![("access-control-allow-origin", "*".into())]),
        ("pf-credentials", true) => (204, vec![("access-control-allow-origin", origin.clone())]),
        ("pf-invalid", true) => (
            204,
            vec![("access-control-allow-origin", "localhost".into())],
        ),
        ("pf-multiple", true) => (
            204,
            vec![
                ("access-control-allow-origin", origin.clone()),
                ("access-control-allow-origin", origin.clone()),
            ],
        ),
        ("pf-status", true) => (405, ok),
        ("pf-redirect", true) => (301, vec![("location", "/pf-redirect/elsewhere".into())]),
        ("pf-acam", true) => (
            204,
            vec![
                ("access-control-allow-origin", origin.clone()),
                ("access-control-allow-methods", "PUT;DELETE".into()),
            ],
        ),
        ("pf-acah", true) => (
            204,
            vec![
                ("access-control-allow-origin", origin.clone()),
                ("access-control-allow-methods", "PUT".into()),
                ("access-control-allow-headers", "x-api-key x-b".into()),
            ],
        ),
        ("pf-method", true) => (
            204,
            vec![
                ("access-control-allow-origin", origin.clone()),
                ("access-control-allow-methods", "put".into()),
            ],
        ),
        ("pf-header", true) => (
            204,
            vec![
                ("access-control-allow-origin", origin.clone()),
                ("access-control-allow-methods", "PUT".into()),
            ],
        ),
        ("userinfo", false) => (
            302,
            vec![
                ("location", "http://user:pw@other.localhost/x".into()),
                ("access-control-allow-origin", "*".into()),
            ],
        ),
        (_, true) => (204, ok),
        (_, false) => (404, vec![]),
    };
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
    for (n, v) in headers {
        r.headers_mut()
            .append(n, http::HeaderValue::from_str(&v).unwrap());
    }
    r
}

fn start_server(rt: &tokio::runtime::Runtime) -> SocketAddr {
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
                        Ok::<_, Infallible>(tokio::task::block_in_place(|| respond(&req)))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        addr
    })
}

fn args(url: String, method: &str, headers: &[&str], credentials: Credentials) -> CheckArgs {
    CheckArgs {
        url,
        origin: ORIGIN.into(),
        method: method.into(),
        headers: headers.iter().map(|h| (*h).to_owned()).collect(),
        credentials,
        live: LiveOptions {
            timeout: Duration::from_secs(5),
            ..LiveOptions::default()
        },
    }
}

#[test]
fn every_error_kind_against_a_live_server() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addr = start_server(&rt);
    // `api.localhost` resolves to loopback, as in browsers.
    let base = format!("http://api.localhost:{}", addr.port());
    use CorsError::*;
    let inc = Credentials::Include;
    let def = Credentials::SameOrigin;
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a [&'a str],
        Credentials,
        Option<(CorsError, &'a str)>,
    );
    let cases: &[Case] = &[
        ("allowed", "PUT", &["X-API-Key: k"], inc, None),
        (
            "missing",
            "GET",
            &[],
            def,
            Some((MissingAllowOriginHeader, "")),
        ),
        (
            "mismatch",
            "GET",
            &[],
            def,
            Some((AllowOriginMismatch, "http://other.localhost")),
        ),
        (
            "invalid",
            "GET",
            &[],
            def,
            Some((InvalidAllowOriginValue, "app.localhost")),
        ),
        (
            "multiple",
            "GET",
            &[],
            def,
            Some((
                MultipleAllowOriginValues,
                "http://app.localhost:3000, http://x.localhost",
            )),
        ),
        (
            "wildcard",
            "GET",
            &[],
            inc,
            Some((WildcardOriginNotAllowed, "")),
        ),
        (
            "credentials",
            "GET",
            &[],
            inc,
            Some((InvalidAllowCredentials, "")),
        ),
        (
            "pf-missing",
            "PUT",
            &[],
            def,
            Some((PreflightMissingAllowOriginHeader, "")),
        ),
        (
            "pf-mismatch",
            "PUT",
            &[],
            def,
            Some((PreflightAllowOriginMismatch, "null")),
        ),
        (
            "pf-wildcard",
            "PUT",
            &[],
            inc,
            Some((PreflightWildcardOriginNotAllowed, "")),
        ),
        (
            "pf-credentials",
            "PUT",
            &[],
            inc,
            Some((PreflightInvalidAllowCredentials, "")),
        ),
        (
            "pf-invalid",
            "PUT",
            &[],
            def,
            Some((PreflightInvalidAllowOriginValue, "localhost")),
        ),
        (
            "pf-multiple",
            "PUT",
            &[],
            def,
            Some((
                PreflightMultipleAllowOriginValues,
                "http://app.localhost:3000, http://app.localhost:3000",
            )),
        ),
        (
            "pf-status",
            "PUT",
            &[],
            def,
            Some((PreflightInvalidStatus, "")),
        ),
        (
            "pf-redirect",
            "PUT",
            &[],
            def,
            Some((PreflightDisallowedRedirect, "")),
        ),
        (
            "pf-acam",
            "PUT",
            &[],
            def,
            Some((InvalidAllowMethodsPreflightResponse, "")),
        ),
        (
            "pf-acah",
            "PUT",
            &[],
            def,
            Some((InvalidAllowHeadersPreflightResponse, "")),
        ),
        (
            "pf-method",
            "PUT",
            &[],
            def,
            Some((MethodDisallowedByPreflightResponse, "PUT")),
        ),
        (
            "pf-header",
            "PUT",
            &["X-API-Key: k"],
            def,
            Some((HeaderDisallowedByPreflightResponse, "x-api-key")),
        ),
        (
            "userinfo",
            "GET",
            &[],
            def,
            Some((RedirectContainsCredentials, "")),
        ),
    ];
    let mut seen = std::collections::HashSet::new();
    for (case, method, headers, creds, want) in cases {
        let a = args(format!("{base}/{case}/x"), method, headers, *creds);
        let (request, outcome) = check(&a).unwrap();
        match (want, &outcome.verdict) {
            (None, Verdict::Allowed { .. }) => assert_eq!(report::exit_code(&outcome), 0),
            (Some((kind, param)), Verdict::Blocked(b)) => {
                assert_eq!((b.error, b.parameter.as_str()), (*kind, *param), "{case}");
                assert_eq!(report::exit_code(&outcome), 1);
                let json = report::to_json(&request, &outcome);
                assert_eq!(json["allowed"], false);
                assert_eq!(json["error"]["kind"], kind.as_str());
                assert_eq!(json["error"]["parameter"], *param);
                assert!(json["steps"].as_array().is_some_and(|s| !s.is_empty()));
                let text = report::to_text(&request, &outcome, false);
                assert!(text.contains(&format!("BLOCKED {kind}")), "{text}");
                seen.insert(*kind);
            }
            (w, v) => panic!("{case}: expected {w:?}, got {v}"),
        }
    }
    assert_eq!(
        seen.len(),
        cases.len() - 1,
        "each case reproduces its own kind"
    );
}

#[test]
fn network_errors_and_timeouts_exit_2() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addr = start_server(&rt);
    // Nothing listens on port 1.
    let (_, outcome) = check(&args(
        "http://127.0.0.1:1/x".into(),
        "GET",
        &[],
        Credentials::Omit,
    ))
    .unwrap();
    assert_eq!(report::exit_code(&outcome), 2);
    // A slow server with a short timeout.
    let mut a = args(
        format!("http://127.0.0.1:{}/slow/x", addr.port()),
        "GET",
        &[],
        Credentials::Omit,
    );
    a.live.timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let (_, outcome) = check(&a).unwrap();
    assert_eq!(report::exit_code(&outcome), 2);
    assert!(started.elapsed() < Duration::from_secs(3));
    match &outcome.verdict {
        Verdict::Failed { reason } => assert!(reason.contains("timed out"), "{reason}"),
        v => panic!("{v}"),
    }
}

#[test]
fn resolve_overrides_dns() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addr = start_server(&rt);
    let mut a = args(
        format!("http://api.example.test:{}/allowed/x", addr.port()),
        "GET",
        &[],
        Credentials::Omit,
    );
    a.live.resolve = vec![
        corsica_doctor::live::parse_resolve(&format!("api.example.test:{}:127.0.0.1", addr.port()))
            .unwrap(),
    ];
    let (_, outcome) = check(&a).unwrap();
    assert!(outcome.is_allowed(), "{}", outcome.verdict);
}

#[test]
fn usage_errors() {
    let bad_origin = CheckArgs {
        origin: "app.example.com".into(),
        ..args("http://a.localhost/".into(), "GET", &[], Credentials::Omit)
    };
    assert!(
        check(&bad_origin)
            .unwrap_err()
            .to_string()
            .contains("https://app.example.com")
    );
    let bad_header = args(
        "http://a.localhost/".into(),
        "GET",
        &["no colon"],
        Credentials::Omit,
    );
    assert!(check(&bad_header).is_err());
    let bad_url = args("ftp://a/".into(), "GET", &[], Credentials::Omit);
    assert!(check(&bad_url).is_err());
}
