//! The doctor across browsers: `report::compare` names each browser's error and why their
//! requests differ, and `scan` keeps a finding that one browser cannot judge.

use corsica::Origin;
use corsica::fetch::{
    Browser, FetchRequest, HttpRequest, HttpResponse, NetworkError, Options, simulate_with,
};
use corsica_doctor::report::compare;
use corsica_doctor::scan::scan_with;

#[test]
fn both_blocked_names_each_kind_and_the_preflight_difference() {
    let request = FetchRequest::new(
        Origin::parse("https://app.example.com").unwrap(),
        "https://api.example.com/x",
    )
    .header("Save-Data", "on");
    // No CORS at all: both block, for different reasons of their own.
    let outcomes: Vec<_> = Browser::ALL
        .iter()
        .map(|&browser| {
            let mut api = |_: &HttpRequest| -> Result<HttpResponse, NetworkError> {
                Ok(HttpResponse::new(200))
            };
            simulate_with(
                &request,
                &mut api,
                Options {
                    browser,
                    ..Options::default()
                },
            )
        })
        .collect();
    let c = compare(&request, &outcomes);
    assert!(c.agree);
    assert_eq!(
        c.summary,
        "blocked in Chromium, Firefox and WebKit: MissingAllowOriginHeader in Chromium, CORSMissingAllowOrigin in Firefox, OriginNotAllowed (https://app.example.com) in WebKit. `save-data` is CORS-safelisted in Chromium but not in Firefox and WebKit, which ask about it in a preflight"
    );
    let (_, fixes) = c.fix.unwrap();
    assert!(
        fixes.get("nginx").unwrap().contains("save-data"),
        "the fix covers Firefox's preflight"
    );
}

#[test]
fn a_browser_that_cannot_judge_does_not_abort_the_scan() {
    // Reflects any origin with credentials, and redirects to itself with an empty
    // `Location`: Chromium reads the 302, Firefox loops until its redirect limit.
    let mut server = |r: &HttpRequest| -> Result<HttpResponse, NetworkError> {
        let origin = r.header("origin").unwrap_or_default().to_owned();
        Ok(HttpResponse::new(302)
            .header("Location", "")
            .header("Access-Control-Allow-Origin", origin)
            .header("Access-Control-Allow-Credentials", "true"))
    };
    let result = scan_with(&mut server, "https://api.example.com/me", &[]);
    assert!(result.error.is_none(), "{:?}", result.error);
    let reflected = result
        .findings
        .iter()
        .find(|f| f.id == "origin-reflected")
        .expect("found in Chromium");
    assert!(
        reflected.evidence.contains(
            "browsers differ: Chromium reads it with cookies; Firefox blocks it; WebKit blocks it"
        ),
        "{}",
        reflected.evidence
    );
}

/// `-H` values keep what a browser keeps: only spaces and tabs are trimmed, so a
/// `Content-Type` ending in a vertical tab is not CORS-safelisted (a preflight is sent).
#[test]
fn header_values_keep_vertical_tabs_and_form_feeds() {
    for value in ["text/plain\u{0b}", "text/plain\u{0c}"] {
        let args = corsica_doctor::CheckArgs {
            url: "https://api.example.com/x".into(),
            origin: "https://app.example.com".into(),
            method: "POST".into(),
            headers: vec![format!("Content-Type: {value}")],
            credentials: Default::default(),
            live: Default::default(),
        };
        let request = corsica_doctor::fetch_request(&args).unwrap();
        assert_eq!(request.headers[0].1, value);
        let mut api =
            |_: &HttpRequest| -> Result<HttpResponse, NetworkError> { Ok(HttpResponse::new(404)) };
        let o = simulate_with(&request, &mut api, Options::default());
        assert!(o.preflight, "{value:?}");
    }
}
