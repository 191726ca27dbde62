//! The browser model end to end, one rule per test, each named after its Fetch standard
//! section (https://fetch.spec.whatwg.org/). The conformance suite checks the same rules
//! against real Chromium.

use corsica::Origin;
use corsica::fetch::{
    CorsError, Credentials, FetchRequest, HttpRequest, HttpResponse, Mode, NetworkError, Options,
    RedirectMode, ResponseType, Verdict, preflight::PreflightCache, simulate, simulate_with,
};

const PAGE: &str = "http://app.localhost:3000";
const API: &str = "http://api.localhost:8080";

fn page() -> Origin {
    Origin::parse(PAGE).unwrap()
}

/// A server from a function of the request.
fn server(
    f: impl Fn(&HttpRequest) -> HttpResponse,
) -> impl FnMut(&HttpRequest) -> Result<HttpResponse, NetworkError> {
    move |r| Ok(f(r))
}

fn allow_all(r: &HttpRequest) -> HttpResponse {
    HttpResponse::new(if r.preflight { 204 } else { 200 })
        .header(
            "Access-Control-Allow-Origin",
            r.header("origin").unwrap_or("*"),
        )
        .header("Access-Control-Allow-Credentials", "true")
        .header(
            "Access-Control-Allow-Methods",
            r.header("access-control-request-method").unwrap_or("GET"),
        )
        .header(
            "Access-Control-Allow-Headers",
            r.header("access-control-request-headers").unwrap_or(""),
        )
}

/// A `GET` of `{API}/start` from the page, through a server from `f`.
fn fetch_start(f: impl Fn(&HttpRequest) -> HttpResponse) -> corsica::fetch::Outcome {
    let request = FetchRequest::new(page(), format!("{API}/start"));
    simulate(&request, &mut server(f), None)
}

fn blocked(v: &Verdict) -> (CorsError, &str) {
    match v {
        Verdict::Blocked(b) => (b.error, b.parameter.as_str()),
        other => panic!("not blocked: {other}"),
    }
}

#[test]
fn main_fetch_same_origin_is_basic_and_unchecked_4_1() {
    let mut s = server(|_| HttpResponse::new(200).header("X-Secret", "1"));
    let o = simulate(
        &FetchRequest::new(page(), format!("{PAGE}/x")).method("PUT"),
        &mut s,
        None,
    );
    assert!(!o.preflight);
    match o.verdict {
        Verdict::Allowed {
            response_type,
            readable_headers,
            ..
        } => {
            assert_eq!(response_type, ResponseType::Basic);
            assert_eq!(readable_headers, ["x-secret"]);
        }
        v => panic!("{v}"),
    }
    // `Origin` is sent for non-GET/HEAD same-origin requests (Fetch § 3.1 `Origin` header).
    assert_eq!(o.steps[0].request.header("origin"), Some(PAGE));
}

#[test]
fn cors_preflight_request_headers_4_8() {
    let mut s = server(allow_all);
    let req = FetchRequest::new(page(), format!("{API}/items"))
        .method("patch")
        .header("X-B", "2")
        .header("Content-Type", "application/json")
        .header("Accept", "*/*")
        .header("Cookie", "dropped=1");
    let o = simulate(&req, &mut s, None);
    assert!(o.is_allowed(), "{}", o.verdict);
    let pf = &o.steps[0].request;
    assert!(pf.preflight);
    assert_eq!(pf.method, "OPTIONS");
    assert_eq!(pf.header("access-control-request-method"), Some("patch"));
    assert_eq!(
        pf.header("access-control-request-headers"),
        Some("content-type,x-b")
    );
    assert_eq!(pf.header("origin"), Some(PAGE));
    assert!(!pf.credentials, "preflights never carry credentials");
    let actual = &o.steps[1].request;
    assert_eq!(
        actual.method, "patch",
        "fetch() upper-cases only the six standard methods"
    );
    assert_eq!(
        actual.header("cookie"),
        None,
        "forbidden request headers are dropped"
    );
}

#[test]
fn cors_preflight_fetch_status_after_access_check_4_8() {
    // A DELETE to a server whose preflight answer is `pre` (the actual request allowed).
    let delete_with = |pre: fn(&HttpRequest) -> HttpResponse| {
        let mut s = server(move |r| if r.preflight { pre(r) } else { allow_all(r) });
        let request = FetchRequest::new(page(), format!("{API}/x")).method("DELETE");
        simulate(&request, &mut s, None)
    };
    // A 404 without CORS headers fails the access check first (Chromium's order).
    let o = delete_with(|_| HttpResponse::new(404));
    assert_eq!(
        blocked(&o.verdict),
        (CorsError::PreflightMissingAllowOriginHeader, "")
    );
    // With the headers, the status fails.
    let o = delete_with(|r| allow_all(r).status(401));
    assert_eq!(blocked(&o.verdict), (CorsError::PreflightInvalidStatus, ""));
    let b = o.blocked().unwrap();
    assert!(b.message.contains("Response to preflight request doesn't pass access control check: It does not have HTTP ok status."));
    assert!(b.hint.contains("2xx"), "{}", b.hint);
}

#[test]
fn cors_check_credentials_4_10() {
    let mut s = server(|r| {
        HttpResponse::new(200).header(
            "Access-Control-Allow-Origin",
            r.header("origin").unwrap_or(""),
        )
    });
    let req = FetchRequest::new(page(), format!("{API}/me")).credentials(Credentials::Include);
    let o = simulate(&req, &mut s, None);
    assert_eq!(
        blocked(&o.verdict),
        (CorsError::InvalidAllowCredentials, "")
    );
    assert!(o.steps[0].request.credentials);
    let hint = &o.blocked().unwrap().hint;
    assert!(
        hint.contains("Access-Control-Allow-Credentials: true"),
        "{hint}"
    );
}

#[test]
fn http_redirect_fetch_taints_the_origin_4_4() {
    // api → other: both cross-origin to the page, so the origin becomes `null`; `last`
    // answers the final request at the other origin.
    let via_other = |last: fn(&HttpRequest) -> HttpResponse| {
        fetch_start(move |r| {
            if r.url.starts_with(API) {
                HttpResponse::new(302)
                    .header("Location", "http://other.localhost:9000/final")
                    .header("Access-Control-Allow-Origin", PAGE)
            } else {
                last(r)
            }
        })
    };
    let o = via_other(|r| {
        HttpResponse::new(200).header(
            "Access-Control-Allow-Origin",
            r.header("origin").unwrap_or(""),
        )
    });
    assert!(o.is_allowed(), "{}", o.verdict);
    assert_eq!(o.steps[1].request.header("origin"), Some("null"));

    // A server that echoes the page's origin instead fails with the tainted origin.
    let o = via_other(|_| HttpResponse::new(200).header("Access-Control-Allow-Origin", PAGE));
    assert_eq!(blocked(&o.verdict), (CorsError::AllowOriginMismatch, PAGE));
    let b = o.blocked().unwrap();
    assert!(
        b.message
            .contains("(redirected from 'http://api.localhost:8080/start')"),
        "{}",
        b.message
    );
    // The fix never tells the server to allow `null` (issue 19: it contradicted the note).
    assert!(b.tainted_origin);
    assert!(
        b.hint.contains("Do not allow `null`") && !b.hint.contains("Allow-Origin: null"),
        "{}",
        b.hint
    );
}

#[test]
fn http_redirect_fetch_checks_the_redirect_response_4_4() {
    let o = fetch_start(|_| HttpResponse::new(301).header("Location", "/elsewhere"));
    assert_eq!(
        blocked(&o.verdict),
        (CorsError::MissingAllowOriginHeader, "")
    );
    assert_eq!(o.steps.len(), 1);
}

#[test]
fn http_redirect_fetch_rejects_credentials_in_location_4_4() {
    let o = fetch_start(|_| {
        HttpResponse::new(307)
            .header("Location", "http://user:pass@other.localhost/")
            .header("Access-Control-Allow-Origin", "*")
    });
    assert_eq!(
        blocked(&o.verdict),
        (CorsError::RedirectContainsCredentials, "")
    );
}

#[test]
fn http_redirect_fetch_changes_the_method_4_4() {
    for (status, method, after) in [
        (301, "POST", "GET"),
        (302, "POST", "GET"),
        (303, "PUT", "GET"),
        (303, "HEAD", "HEAD"),
        (307, "POST", "POST"),
        (308, "PUT", "PUT"),
        (302, "PUT", "PUT"),
    ] {
        let mut s = server(move |r| {
            if r.url.ends_with("/start") && !r.preflight {
                allow_all(r).status(status).header("Location", "/end")
            } else {
                allow_all(r)
            }
        });
        let req = FetchRequest::new(page(), format!("{API}/start"))
            .method(method)
            .header("Content-Type", "text/plain");
        let o = simulate(&req, &mut s, None);
        assert!(o.is_allowed(), "{status} {method}: {}", o.verdict);
        let last = &o.steps.last().unwrap().request;
        assert_eq!(last.method, after, "{status} {method}");
        if after == "GET" && method != "GET" {
            assert_eq!(
                last.header("content-type"),
                None,
                "body headers go with the body"
            );
        }
    }
}

#[test]
fn http_redirect_fetch_limits_redirects_4_4() {
    let mut s = server(|r| {
        allow_all(r)
            .status(302)
            .header("Location", format!("{}x", r.url))
    });
    let o = simulate(&FetchRequest::new(page(), format!("{API}/")), &mut s, None);
    match o.verdict {
        Verdict::Failed { reason, .. } => assert!(reason.contains("ERR_TOO_MANY_REDIRECTS")),
        v => panic!("{v}"),
    }
    assert_eq!(o.steps.len(), 21);
}

#[test]
fn redirect_modes_4_4() {
    let mut s = server(|r| allow_all(r).status(302).header("Location", "/next"));
    let manual = simulate(
        &FetchRequest::new(page(), format!("{API}/")).redirect(RedirectMode::Manual),
        &mut s,
        None,
    );
    assert!(matches!(
        manual.verdict,
        Verdict::Allowed {
            response_type: ResponseType::OpaqueRedirect,
            status: 0,
            ..
        }
    ));
    let error = simulate(
        &FetchRequest::new(page(), format!("{API}/")).redirect(RedirectMode::Error),
        &mut s,
        None,
    );
    assert!(matches!(error.verdict, Verdict::Failed { .. }));
}

#[test]
fn preflight_cache_4_9() {
    let mut cache = PreflightCache::default();
    let mut s = server(|r| allow_all(r).header("Access-Control-Max-Age", "600"));
    let req = FetchRequest::new(page(), format!("{API}/x")).method("PUT");
    let run = |s: &mut dyn corsica::fetch::Server, cache: &mut PreflightCache, now| {
        simulate_with(
            &req,
            s,
            Options {
                cache: Some(cache),
                now,
                ..Options::default()
            },
        )
    };
    assert!(run(&mut s, &mut cache, 0).preflight);
    assert!(
        !run(&mut s, &mut cache, 599).preflight,
        "cached for max-age"
    );
    assert!(run(&mut s, &mut cache, 1000).preflight, "expired");
}

#[test]
fn no_cors_is_opaque_and_safelisted_only_4_1() {
    let mut s = server(|_| HttpResponse::new(200));
    let o = simulate(
        &FetchRequest::new(page(), format!("{API}/"))
            .mode(Mode::NoCors)
            .header("X-A", "1"),
        &mut s,
        None,
    );
    assert!(matches!(
        o.verdict,
        Verdict::Allowed {
            response_type: ResponseType::Opaque,
            status: 0,
            ..
        }
    ));
    assert!(
        !o.preflight,
        "non-safelisted headers are dropped in no-cors mode"
    );
    assert_eq!(o.steps[0].request.header("x-a"), None);
    let put = simulate(
        &FetchRequest::new(page(), format!("{API}/"))
            .mode(Mode::NoCors)
            .method("PUT"),
        &mut s,
        None,
    );
    assert!(matches!(put.verdict, Verdict::Failed { .. }));
}

#[test]
fn same_origin_mode_4_1() {
    let mut s = server(|_| HttpResponse::new(200));
    let o = simulate(
        &FetchRequest::new(page(), format!("{API}/")).mode(Mode::SameOrigin),
        &mut s,
        None,
    );
    assert_eq!(blocked(&o.verdict), (CorsError::DisallowedByMode, ""));
    assert!(o.steps.is_empty(), "nothing is sent");
    assert!(
        o.blocked()
            .unwrap()
            .message
            .starts_with("Fetch API cannot load http://api.localhost:8080/.")
    );
}

#[test]
fn request_constructor_type_errors_5_4() {
    let mut s = server(allow_all);
    for req in [
        FetchRequest::new(page(), format!("{API}/")).method("TRACE"),
        FetchRequest::new(page(), format!("{API}/")).method("bad method"),
        FetchRequest::new(page(), format!("{API}/")).header("X-A", "a\nb"),
        FetchRequest::new(page(), "http://user:pw@api.localhost/"),
        FetchRequest::new(page(), "not a url"),
    ] {
        let o = simulate(&req, &mut s, None);
        assert!(
            matches!(o.verdict, Verdict::Failed { .. }),
            "{req:?}: {}",
            o.verdict
        );
        assert!(o.steps.is_empty());
    }
}

#[test]
fn cors_filtered_response_exposes_headers_3_2_5() {
    let mut s = server(|r| {
        allow_all(r)
            .header("X-Request-Id", "1")
            .header("X-Internal", "2")
            .header("Content-Type", "application/json")
            .header("Access-Control-Expose-Headers", "x-request-id")
    });
    let o = simulate(&FetchRequest::new(page(), format!("{API}/")), &mut s, None);
    match o.verdict {
        Verdict::Allowed {
            readable_headers, ..
        } => assert_eq!(readable_headers, ["content-type", "x-request-id"]),
        v => panic!("{v}"),
    }
}

#[test]
fn several_disallowed_headers_list_every_candidate_4_8() {
    let mut narrow = server(|r| {
        HttpResponse::new(204)
            .header("Access-Control-Allow-Origin", PAGE)
            .header(
                "Access-Control-Allow-Headers",
                if r.preflight { "x-ok" } else { "" },
            )
    });
    let req = FetchRequest::new(page(), format!("{API}/"))
        .header("X-B", "1")
        .header("X-A", "1")
        .header("X-Ok", "1");
    let o = simulate(&req, &mut narrow, None);
    let b = o.blocked().unwrap();
    assert_eq!(b.error, CorsError::HeaderDisallowedByPreflightResponse);
    assert_eq!(b.parameter, "x-a");
    assert_eq!(b.candidates, ["x-a", "x-b"]);
}

#[test]
fn several_disallowed_headers_name_chromiums_pick() {
    // Chromium 156 names the first in Blink's header-map order, not alphabetically; the
    // map holds the client hints only for a potentially trustworthy URL (both observed).
    let mut narrow = server(|_| {
        HttpResponse::new(204)
            .header("Access-Control-Allow-Origin", PAGE)
            .header("Access-Control-Allow-Headers", "x-none")
    });
    for (url, expected) in [(API, "x-ebhdf"), ("http://api.test:8080", "x-doakn")] {
        let req = FetchRequest::new(page(), format!("{url}/"))
            .header("x-doakn", "1")
            .header("x-ebhdf", "1");
        let o = simulate(&req, &mut narrow, None);
        let b = o.blocked().unwrap();
        assert_eq!(b.error, CorsError::HeaderDisallowedByPreflightResponse);
        assert_eq!(b.parameter, expected, "{url}");
        assert_eq!(b.candidates, ["x-doakn", "x-ebhdf"]);
        assert!(
            b.message
                .contains(&format!("Request header field {expected} is"))
        );
    }
}

#[test]
fn fetch_metadata_sec_fetch_site() {
    // Fetch Metadata Request Headers § 2.1 `Sec-Fetch-Site`.
    let mut s = server(allow_all);
    let site = |page: &str, url: &str, s: &mut dyn corsica::fetch::Server| {
        let o = simulate(
            &FetchRequest::new(Origin::parse(page).unwrap(), url).method("PUT"),
            s,
            None,
        );
        o.steps
            .iter()
            .map(|st| st.request.header("sec-fetch-site").unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        site(
            "https://app.example.com",
            "https://api.example.com/x",
            &mut s
        ),
        ["same-site", "same-site"]
    );
    assert_eq!(
        site(
            "https://app.example.com",
            "https://app.example.com/x",
            &mut s
        ),
        ["same-origin"]
    );
    assert_eq!(
        site("https://app.example.com", "https://api.other.com/x", &mut s),
        ["cross-site", "cross-site"]
    );
    assert_eq!(
        site(
            "http://app.example.com",
            "https://api.example.com/x",
            &mut s
        ),
        ["cross-site", "cross-site"]
    );
    assert_eq!(
        site(PAGE, &format!("{API}/x"), &mut s),
        ["cross-site", "cross-site"]
    );
}

#[test]
fn blocked_result_names_the_tainted_origin_4_4() {
    // api → other.localhost (another origin): the next request carries `Origin: null`,
    // and a server that echoes the page's origin fails it. The blocked result says so.
    let mut s = server(|r: &HttpRequest| {
        if r.url.starts_with(API) {
            HttpResponse::new(302)
                .header("Location", "http://other.localhost:8080/x")
                .header("Access-Control-Allow-Origin", PAGE)
        } else {
            HttpResponse::new(200).header("Access-Control-Allow-Origin", PAGE)
        }
    });
    let outcome = simulate(&FetchRequest::new(page(), format!("{API}/a")), &mut s, None);
    let b = outcome
        .blocked()
        .expect("blocked after the tainting redirect");
    assert_eq!(b.error, CorsError::AllowOriginMismatch);
    assert_eq!(b.origin, "null");
    assert!(b.tainted_origin);
    assert_eq!(b.error.header(), Some("access-control-allow-origin"));

    // Without the redirect, the same mismatch is not tainted.
    let mut s = server(|_| HttpResponse::new(200).header("Access-Control-Allow-Origin", API));
    let outcome = simulate(&FetchRequest::new(page(), format!("{API}/a")), &mut s, None);
    let b = outcome.blocked().unwrap();
    assert_eq!((b.origin.as_str(), b.tainted_origin), (PAGE, false));
}

#[test]
fn fix_hints_keep_what_the_preflight_response_allows() {
    let page = Origin::parse(PAGE).unwrap();
    let request = FetchRequest::new(page, format!("{API}/start"))
        .method("PATCH")
        .header("X-API-Key", "k");
    let mut server = |_: &HttpRequest| -> Result<HttpResponse, NetworkError> {
        Ok(HttpResponse::new(204)
            .header("Access-Control-Allow-Origin", PAGE)
            .header("Access-Control-Allow-Methods", "GET, PUT")
            .header("Access-Control-Allow-Headers", "content-type, x-request-id"))
    };
    for (method, kind, line) in [
        (
            "PATCH",
            CorsError::MethodDisallowedByPreflightResponse,
            "`Access-Control-Allow-Methods: GET, PUT, PATCH`",
        ),
        (
            "PUT",
            CorsError::HeaderDisallowedByPreflightResponse,
            "`Access-Control-Allow-Headers: content-type, x-request-id, x-api-key`",
        ),
    ] {
        let o = simulate(&request.clone().method(method), &mut server, None);
        let b = o.blocked().unwrap();
        assert_eq!(b.error, kind);
        assert!(b.hint.contains(line), "{}", b.hint);
    }
}
