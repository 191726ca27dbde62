//! Where Chromium and Firefox part ways, one case per `Browser` branch: the same request
//! and the same server, judged as each browser (the conformance suite proves each against
//! the real browsers; these keep the branches from drifting without a browser at hand).

use corsica::Origin;
use corsica::fetch::{
    Browser, FetchRequest, HttpRequest, HttpResponse, NetworkError, Options, Outcome, Verdict,
    preflight::PreflightCache, simulate_with,
};

const PAGE: &str = "http://app.localhost:3000";
const API: &str = "http://api.localhost:8080";

fn run(browser: Browser, request: &FetchRequest, f: fn(&HttpRequest) -> HttpResponse) -> Outcome {
    let mut server = |r: &HttpRequest| -> Result<HttpResponse, NetworkError> { Ok(f(r)) };
    let options = Options {
        browser,
        ..Options::default()
    };
    simulate_with(request, &mut server, options)
}

fn get(path: &str) -> FetchRequest {
    FetchRequest::new(Origin::parse(PAGE).unwrap(), format!("{API}{path}"))
}

/// "allowed", or the browser's error kind, or "failed" (with Firefox's console key when it
/// reports one).
fn word(o: &Outcome) -> String {
    match &o.verdict {
        Verdict::Allowed { .. } => "allowed".into(),
        Verdict::Blocked(b) => b.kind.to_string(),
        Verdict::Failed {
            console: Some(c), ..
        } => format!("failed {}", c.kind),
        Verdict::Failed { .. } => "failed".into(),
    }
}

fn acao(r: &HttpRequest) -> HttpResponse {
    HttpResponse::new(if r.preflight { 204 } else { 200 })
        .header("Access-Control-Allow-Origin", PAGE)
}

#[test]
fn each_difference_judged_by_every_browser() {
    type Case = (
        &'static str,
        FetchRequest,
        fn(&HttpRequest) -> HttpResponse,
        [&'static str; 3],
    );
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        // A client hint: safelisted by Chromium only; the preflight lists no header.
        ("save-data", get("/x").header("Save-Data", "on"), acao,
            ["allowed", "CORSMissingAllowHeaderFromPreflight", "HeaderNotAllowed"]),
        // Method not allowed and ACAH unparsable: Firefox checks the method first.
        ("check order", get("/x").method("PUT").header("X-A", "1"),
            |r| acao(r).header("Access-Control-Allow-Methods", "GET").header("Access-Control-Allow-Headers", "x-a x-b"),
            ["InvalidAllowHeadersPreflightResponse", "CORSMethodNotFound", "InvalidAllowHeaders"]),
        // A preflight answered 404 without CORS headers: WebKit reports the status first.
        ("preflight status", get("/x").method("PUT"), |r| HttpResponse::new(if r.preflight { 404 } else { 200 }),
            ["PreflightMissingAllowOriginHeader", "CORSMissingAllowOrigin", "PreflightNotSuccessful"]),
        // A comma-separated ACAO: one kind each.
        ("acao list", get("/x"), |_| HttpResponse::new(200).header("Access-Control-Allow-Origin", "http://a.test, http://b.test"),
            ["MultipleAllowOriginValues", "CORSAllowOriginNotMatchingOrigin", "MultipleAllowOrigin"]),
        // A space-separated one: WebKit's origin error.
        ("acao space list", get("/x"), |_| HttpResponse::new(200).header("Access-Control-Allow-Origin", "http://a.test http://b.test"),
            ["MultipleAllowOriginValues", "CORSAllowOriginNotMatchingOrigin", "OriginNotAllowed"]),
        // An empty Location: Chromium hands back the 302, Firefox loops to its limit,
        // WebKit fails at once without a text.
        ("empty location", get("/x"), |_| HttpResponse::new(302).header("Location", "").header("Access-Control-Allow-Origin", PAGE),
            ["allowed", "failed CORSDidNotSucceed", "failed"]),
        // A same-origin redirect to a URL with credentials: aborted by Chromium only.
        ("credentials in same-origin location", FetchRequest::new(Origin::parse(PAGE).unwrap(), format!("{PAGE}/x")),
            |r| if r.url.contains("@") { HttpResponse::new(200) } else { HttpResponse::new(302).header("Location", "http://u:p@app.localhost:3000/y") },
            ["failed", "allowed", "allowed"]),
        // A cross-origin redirect with credentials: a CORS refusal in each, named as each names it.
        ("credentials in cross-origin location", get("/x"),
            |_| HttpResponse::new(302).header("Location", "http://u:p@other.localhost/y").header("Access-Control-Allow-Origin", PAGE),
            ["RedirectContainsCredentials", "CORSDidNotSucceed", "RedirectUrlHasCredentials"]),
        // A redirect response without ACAO: WebKit wraps the kind.
        ("redirect without acao", get("/x"), |_| HttpResponse::new(302).header("Location", "http://other.localhost/y"),
            ["MissingAllowOriginHeader", "CORSMissingAllowOrigin", "RedirectOriginNotAllowed"]),
        // same-origin mode to another origin: only Chromium calls it a CORS error.
        ("same-origin mode", get("/x").mode(corsica::fetch::Mode::SameOrigin), acao,
            ["DisallowedByMode", "failed", "failed"]),
        // no-cors with redirect: "manual": WebKit's own text.
        ("no-cors manual", get("/x").mode(corsica::fetch::Mode::NoCors).redirect(corsica::fetch::RedirectMode::Manual), acao,
            ["NoCorsRedirectModeNotFollow", "failed", "RequestNotAllowed"]),
    ];
    for (name, request, server, want) in cases {
        for (browser, want) in Browser::ALL.into_iter().zip(want) {
            assert_eq!(
                word(&run(browser, &request, server)),
                want,
                "{name}: {browser}"
            );
        }
    }
}

/// WebKit's texts name the request's origin, the redirect's target, and a header as the
/// page wrote it.
#[test]
fn webkit_parameters_and_texts() {
    let o = run(Browser::WebKit, &get("/x").header("X-API-Key", "k"), acao);
    let Verdict::Blocked(b) = &o.verdict else {
        panic!("{:?}", o.verdict)
    };
    assert_eq!(b.parameter, "X-API-Key");
    assert_eq!(
        b.message,
        "Request header field X-API-Key is not allowed by Access-Control-Allow-Headers."
    );
    let o = run(Browser::WebKit, &get("/x"), |_| {
        HttpResponse::new(302).header("Location", "http://other.localhost/y")
    });
    let Verdict::Blocked(b) = &o.verdict else {
        panic!("{:?}", o.verdict)
    };
    assert_eq!(b.parameter, "http://other.localhost/y");
    assert_eq!(
        b.message,
        format!(
            "Cross-origin redirection to http://other.localhost/y denied by Cross-Origin Resource Sharing policy: Origin {PAGE} is not allowed by Access-Control-Allow-Origin. Status code: 302"
        )
    );
}

/// Firefox names what its console text quotes, and the fix hint still names the method.
#[test]
fn firefox_parameters_and_hints() {
    let request = get("/x").method("PUT");
    let o = run(Browser::Firefox, &request, |r| {
        acao(r).header("Access-Control-Allow-Methods", "GET, POST")
    });
    let Verdict::Blocked(b) = &o.verdict else {
        panic!("{:?}", o.verdict)
    };
    assert_eq!(b.kind.as_str(), "CORSMethodNotFound");
    assert_eq!(b.parameter, "", "Firefox's text quotes no method");
    assert!(b.hint.contains("PUT"), "{}", b.hint);
    assert!(!b.hint.contains("``"), "{}", b.hint);
    assert_eq!(b.fix_methods, ["GET", "POST", "PUT"]);

    // A header appended twice: Firefox asks about it twice, names it once in the fix.
    let request = get("/x").header("X-A", "1").header("X-A", "2");
    let o = run(Browser::Firefox, &request, acao);
    assert_eq!(
        o.steps[0].request.header("access-control-request-headers"),
        Some("x-a,x-a")
    );
    let Verdict::Blocked(b) = &o.verdict else {
        panic!("{:?}", o.verdict)
    };
    assert_eq!(b.parameter, "x-a");
    assert_eq!(b.candidates, ["x-a"]);
    assert_eq!(b.fix_headers, ["x-a"]);
    assert!(b.message.ends_with("(Reason: header ‘x-a’ is not allowed according to header ‘Access-Control-Allow-Headers’ from CORS preflight response)."), "{}", b.message);
}

/// Firefox's preflight cache: keyed by credentials mode, and an unparsable max-age is not
/// cached (Chromium caches it for 5 s, and lets a credentialed entry serve both).
#[test]
fn firefox_preflight_cache() {
    let put = |creds| get("/x").method("PUT").credentials(creds);
    let answer = |r: &HttpRequest| {
        acao(r)
            .header("Access-Control-Allow-Credentials", "true")
            .header("Access-Control-Allow-Methods", "PUT")
            .header(
                "Access-Control-Max-Age",
                if r.url.ends_with("/x") { "600" } else { "ten" },
            )
    };
    use corsica::fetch::Credentials::{Include, Omit};
    // Two fetches through one cache: whether the second sent a preflight.
    let second_preflights = |browser, first: &FetchRequest, second: &FetchRequest| {
        let mut cache = PreflightCache::default();
        let mut server = |r: &HttpRequest| -> Result<HttpResponse, NetworkError> { Ok(answer(r)) };
        let outcomes = [first, second].map(|request| {
            let options = Options {
                cache: Some(&mut cache),
                now: 1,
                browser,
                ..Options::default()
            };
            simulate_with(request, &mut server, options)
        });
        assert!(outcomes.iter().all(Outcome::is_allowed), "{browser}");
        outcomes[1].preflight
    };
    for browser in Browser::ALL {
        let firefox = browser == Browser::Firefox;
        let (include, omit) = (put(Include), put(Omit));
        assert_eq!(
            second_preflights(browser, &include, &omit),
            firefox,
            "{browser}: an include entry serving omit"
        );
        let unparsable = get("/y").method("PUT");
        assert_eq!(
            second_preflights(browser, &unparsable, &unparsable),
            firefox,
            "{browser}: max-age `ten`"
        );
    }
}

/// Firefox's cache entry gathers the methods of every preflight to its URL; Chromium's
/// keeps the last preflight's only (a server that allows what each preflight asks for).
#[test]
fn firefox_preflight_cache_gathers_methods() {
    let mirror = |r: &HttpRequest| {
        acao(r)
            .header(
                "Access-Control-Allow-Methods",
                r.header("access-control-request-method").unwrap_or(""),
            )
            .header("Access-Control-Max-Age", "600")
    };
    for (browser, preflights) in [(Browser::Chromium, 3), (Browser::Firefox, 2)] {
        let mut cache = PreflightCache::default();
        let mut server = |r: &HttpRequest| -> Result<HttpResponse, NetworkError> { Ok(mirror(r)) };
        let mut sent = 0;
        for method in ["PUT", "DELETE", "PUT"] {
            let options = Options {
                cache: Some(&mut cache),
                now: 1,
                browser,
                ..Options::default()
            };
            let o = simulate_with(&get("/x").method(method), &mut server, options);
            assert!(o.is_allowed(), "{browser} {method}");
            sent += usize::from(o.preflight);
        }
        assert_eq!(sent, preflights, "{browser}");
    }
}
