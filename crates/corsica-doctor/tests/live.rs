//! `corsica check` against real local servers that reproduce each CORS error kind a
//! `fetch()` in `cors` mode can hit, over real sockets on 127.0.0.1.

use std::time::Duration;

use corsica::fetch::{CorsError, Credentials, Verdict};
use corsica_doctor::{CheckArgs, LiveOptions, check, report};
use corsica_testkit::headers::{ACAC, ACAH, ACAM, ACAO};
use corsica_testkit::server::{Reply, Script, Seen, TestServer};

const ORIGIN: &str = "http://app.localhost:3000";

/// `status` with the request's Origin echoed as `Access-Control-Allow-Origin`.
fn echo(s: &Seen, status: u16) -> Reply {
    Reply::new(status).header(ACAO, s.origin())
}

/// The answer that allows everything the cases ask for.
fn ok(s: &Seen, status: u16) -> Reply {
    echo(s, status)
        .header(ACAC, "true")
        .header(ACAM, "PUT, DELETE")
        .header(ACAH, "x-api-key")
}

/// Answers by path, `/<case>/...`: a case named `pf-*` breaks the preflight (`OPTIONS`),
/// the others the actual request; any other `OPTIONS` gets the allowing answer.
fn script() -> Script {
    Script::new()
        .on("/slow/", |s: &Seen| {
            ok(s, 200).delay(Duration::from_millis(1500))
        })
        .on("/allowed/", |s: &Seen| {
            ok(s, if s.is_options() { 204 } else { 200 })
        })
        .actual("/missing/", Reply::new(200))
        .actual(
            "/mismatch/",
            Reply::new(200).header(ACAO, "http://other.localhost"),
        )
        .actual("/invalid/", Reply::new(200).header(ACAO, "app.localhost"))
        .actual("/multiple/", |s: &Seen| {
            Reply::new(200).header(ACAO, format!("{}, http://x.localhost", s.origin()))
        })
        .actual("/wildcard/", Reply::new(200).header(ACAO, "*"))
        .actual("/credentials/", |s: &Seen| echo(s, 200))
        .preflight("/pf-missing/", Reply::new(204))
        .preflight("/pf-mismatch/", Reply::new(204).header(ACAO, "null"))
        .preflight("/pf-wildcard/", Reply::new(204).header(ACAO, "*"))
        .preflight("/pf-credentials/", |s: &Seen| echo(s, 204))
        .preflight("/pf-invalid/", Reply::new(204).header(ACAO, "localhost"))
        .preflight("/pf-multiple/", |s: &Seen| {
            echo(s, 204).header(ACAO, s.origin())
        })
        .preflight("/pf-status/", |s: &Seen| ok(s, 405))
        .preflight(
            "/pf-redirect/",
            Reply::new(301).header("location", "/pf-redirect/elsewhere"),
        )
        .preflight("/pf-acam/", |s: &Seen| {
            echo(s, 204).header(ACAM, "PUT;DELETE")
        })
        .preflight("/pf-acah/", |s: &Seen| {
            echo(s, 204)
                .header(ACAM, "PUT")
                .header(ACAH, "x-api-key x-b")
        })
        .preflight("/pf-method/", |s: &Seen| echo(s, 204).header(ACAM, "put"))
        .preflight("/pf-header/", |s: &Seen| echo(s, 204).header(ACAM, "PUT"))
        .actual(
            "/userinfo/",
            Reply::new(302)
                .header("location", "http://user:pw@other.localhost/x")
                .header(ACAO, "*"),
        )
        .preflight("/", |s: &Seen| ok(s, 204))
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
    let server = TestServer::blocking(script());
    let addr = server.addr();
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
    let server = TestServer::blocking(script());
    let addr = server.addr();
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
        Verdict::Failed { reason, .. } => assert!(reason.contains("timed out"), "{reason}"),
        v => panic!("{v}"),
    }
}

#[test]
fn resolve_overrides_dns() {
    let server = TestServer::blocking(script());
    let addr = server.addr();
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

/// `--cookie`: the stored cookie goes only where the browser sends it (the credentialed
/// actual request, never the preflight), and a step without a response is not ✔.
#[test]
fn cookies_go_on_credentialed_requests_only_and_authorization_under_star_warns() {
    let server = TestServer::blocking(|s: &Seen| {
        Reply::ok("{}")
            .status_code(if s.is_options() { 204 } else { 200 })
            .header("access-control-allow-origin", s.origin())
            .header("access-control-allow-credentials", "true")
            .header("access-control-allow-headers", "x-api-key, *")
            .header("access-control-allow-methods", "PUT")
    });
    let args = CheckArgs {
        url: format!("{}/me", server.base()),
        origin: "https://app.example.com".into(),
        method: "PUT".into(),
        headers: vec!["X-API-Key: k".into()],
        credentials: Credentials::Include,
        live: LiveOptions {
            cookies: vec!["session=abc".into()],
            ..LiveOptions::default()
        },
    };
    let (_, outcome) = check(&args).unwrap();
    assert!(outcome.preflight);
    let seen = server.seen();
    let cookie = |s: &Seen| {
        s.headers
            .get("cookie")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(seen.len(), 2);
    assert!(seen[0].is_options() && cookie(&seen[0]).is_none());
    assert_eq!(cookie(&seen[1]).as_deref(), Some("session=abc"));

    // Without credentials, no cookie at all.
    let omit = CheckArgs {
        credentials: Credentials::Omit,
        method: "GET".into(),
        headers: vec!["Authorization: Bearer t".into()],
        ..args.clone()
    };
    let (request, outcome) = check(&omit).unwrap();
    assert!(server.seen().iter().skip(2).all(|s| cookie(s).is_none()));
    // `*` covers Authorization only in Chromium: allowed, with a warning.
    assert!(outcome.is_allowed(), "{}", outcome.verdict);
    let json = report::to_json(&request, &outcome);
    assert_eq!(
        json["warnings"][0]["id"],
        "authorization-covered-by-wildcard"
    );
    assert!(report::to_text(&request, &outcome, false).contains(
        "WARNING Allowed by Chromium 156 and Firefox 153 as tested, but not by the Fetch standard"
    ));

    // A step without a response is marked ✘, not ✔.
    let refused = CheckArgs {
        url: "http://127.0.0.1:9/x".into(),
        live: LiveOptions::default(),
        ..omit
    };
    let (request, outcome) = check(&refused).unwrap();
    let text = report::to_text(&request, &outcome, false);
    assert!(text.contains("→ no response  ✘"), "{text}");
}
