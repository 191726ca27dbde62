//! `corsica explain --har` judges a file as the browser that wrote it (`log.creator`), and
//! says what the file recorded for a request that never got a response.
//!
//! The Firefox- and Safari-shaped files follow their exporters' layout (`creator` and `browser` named
//! `Firefox`, pages titled by the document's title, no `_resourceType`, no `_error` and no
//! console); they are written here, not exported from a real Firefox.

use corsica::fetch::{Browser, Verdict};
use corsica_doctor::har::explain;

/// A page on `https://app.example.com` fetching `https://api.example.com/items` with
/// `Save-Data: on`; the API answers the preflight 403 without CORS headers, and the request
/// itself with `Access-Control-Allow-Origin`.
fn save_data_har(creator: &str, with_preflight: bool) -> String {
    let preflight = if with_preflight {
        r#"{"startedDateTime": "2026-12-07T10:00:01.000Z", "time": 3,
            "request": {"method": "OPTIONS", "url": "https://api.example.com/items", "httpVersion": "HTTP/1.1", "cookies": [],
              "headers": [{"name": "Access-Control-Request-Method", "value": "GET"},
                          {"name": "Access-Control-Request-Headers", "value": "save-data"},
                          {"name": "Origin", "value": "https://app.example.com"},
                          {"name": "Sec-Fetch-Mode", "value": "cors"}]},
            "response": {"status": 403, "statusText": "Forbidden", "headers": [{"name": "Vary", "value": "Origin"}], "redirectURL": ""}},"#
    } else {
        ""
    };
    format!(
        r#"{{"log": {{"version": "1.2",
  "creator": {{"name": "{creator}", "version": "153.0"}},
  "browser": {{"name": "{creator}", "version": "153.0"}},
  "pages": [{{"id": "page_1", "title": "Orders", "startedDateTime": "2026-12-07T10:00:00.000Z"}}],
  "entries": [
    {{"pageref": "page_1", "startedDateTime": "2026-12-07T10:00:00.000Z", "time": 5,
      "request": {{"method": "GET", "url": "https://app.example.com/", "httpVersion": "HTTP/1.1", "cookies": [], "headers": [{{"name": "Accept", "value": "text/html"}}]}},
      "response": {{"status": 200, "statusText": "OK", "headers": [{{"name": "Content-Type", "value": "text/html"}}], "redirectURL": ""}}}},
    {preflight}
    {{"pageref": "page_1", "startedDateTime": "2026-12-07T10:00:01.010Z", "time": 4,
      "request": {{"method": "GET", "url": "https://api.example.com/items", "httpVersion": "HTTP/1.1", "cookies": [],
        "headers": [{{"name": "Save-Data", "value": "on"}}, {{"name": "Origin", "value": "https://app.example.com"}}, {{"name": "Sec-Fetch-Mode", "value": "cors"}}]}},
      "response": {{"status": 200, "statusText": "OK", "headers": [{{"name": "Access-Control-Allow-Origin", "value": "https://app.example.com"}}], "redirectURL": ""}}}}
  ]}}}}"#
    )
}

#[test]
fn a_firefox_har_is_judged_as_firefox() {
    let e = explain(&save_data_har("Firefox", true)).unwrap();
    assert_eq!(e.page_origin.as_deref(), Some("https://app.example.com"));
    assert_eq!(e.requests.len(), 1, "{e:?}");
    let outcome = &e.requests[0].outcome;
    assert_eq!(outcome.browser, Browser::Firefox);
    let Verdict::Blocked(b) = &outcome.verdict else {
        panic!("{:?}", outcome.verdict)
    };
    assert_eq!(b.kind.as_str(), "CORSMissingAllowOrigin");
    assert!(b.message.ends_with("Status code: 403."), "{}", b.message);
    let json = e.to_json();
    assert_eq!(json["requests"][0]["browser"], "firefox", "{json}");
}

#[test]
fn a_safari_har_is_judged_as_webkit() {
    // Safari's Web Inspector names itself `WebKit Web Inspector`; WebKit preflights
    // Save-Data and reports the refused preflight by its status.
    let e = explain(&save_data_har("WebKit Web Inspector", true)).unwrap();
    let outcome = &e.requests[0].outcome;
    assert_eq!(outcome.browser, Browser::WebKit);
    let Verdict::Blocked(b) = &outcome.verdict else {
        panic!("{:?}", outcome.verdict)
    };
    assert_eq!(b.kind.as_str(), "PreflightNotSuccessful");
    assert_eq!(
        b.message,
        "Preflight response is not successful. Status code: 403"
    );
}

#[test]
fn a_chrome_har_is_judged_as_chromium() {
    // Chrome's exporter is `WebInspector`; Chromium sends no preflight for Save-Data.
    let e = explain(&save_data_har("WebInspector", false)).unwrap();
    let outcome = &e.requests[0].outcome;
    assert_eq!(outcome.browser, Browser::Chromium);
    assert!(outcome.is_allowed(), "{:?}", outcome.verdict);
}

#[test]
fn a_request_without_response_says_what_the_har_recorded() {
    let har = r#"{"log": {"creator": {"name": "WebInspector", "version": "537.36"},
      "pages": [{"id": "page_1", "title": "https://app.example.com/"}],
      "entries": [{"pageref": "page_1", "startedDateTime": "2026-12-07T10:00:00.000Z",
        "request": {"method": "GET", "url": "https://api.example.com/items", "headers": [{"name": "Origin", "value": "https://app.example.com"}]},
        "response": {"status": 0, "headers": [], "_error": "net::ERR_CONNECTION_REFUSED"},
        "_resourceType": "fetch"}]}}"#;
    let e = explain(har).unwrap();
    let Verdict::Failed { reason, .. } = &e.requests[0].outcome.verdict else {
        panic!("{:?}", e.requests[0].outcome.verdict)
    };
    assert!(reason.contains("net::ERR_CONNECTION_REFUSED"), "{reason}");
    assert!(e.to_text(false).contains("net::ERR_CONNECTION_REFUSED"));
}
