//! `corsica explain` on a HAR recorded from real Chromium (by the conformance harness,
//! from DevTools `Network.*` events: `corsica-conformance --ids ... --record-har FILE`).
//! Each failing entry carries the CORS error Chromium reported in `_corsicaChromium`; the
//! explanation must name the same error and parameter for every request.

use corsica::fetch::Verdict;
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/chromium.har");

#[test]
fn explains_every_recorded_failure_like_chromium() {
    let har: Value = serde_json::from_str(FIXTURE).unwrap();
    assert!(
        har["log"]["browser"]["version"]
            .as_str()
            .unwrap()
            .contains("Chrome/"),
        "recorded from Chromium"
    );
    let explanation = corsica_doctor::har::explain(FIXTURE).unwrap();
    assert!(
        explanation
            .page_origin
            .as_deref()
            .unwrap()
            .starts_with("http://app.localhost:")
    );
    let entries = har["log"]["entries"].as_array().unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    let mut allowed = 0;
    for r in &explanation.requests {
        // Chromium's verdict is on the last hop of the chain started by this URL.
        let id = r
            .request
            .url
            .split("/s/")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let chromium = entries
            .iter()
            .filter(|e| {
                e["request"]["url"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("/s/{id}/"))
                    && e["_resourceType"] != "preflight"
            })
            .find_map(|e| e.get("_corsicaChromium"));
        match (&r.outcome.verdict, chromium) {
            (Verdict::Blocked(b), Some(c)) => {
                assert_eq!(b.error.as_str(), c["corsError"], "{}", r.request.url);
                assert_eq!(
                    b.parameter,
                    c["failedParameter"].as_str().unwrap(),
                    "{}",
                    r.request.url
                );
                assert!(
                    !b.hint.is_empty() && b.message.contains("has been blocked by CORS policy")
                );
                kinds.insert(b.error.as_str());
            }
            (Verdict::Allowed { .. }, None) => allowed += 1,
            (v, c) => panic!("{}: model {v}, chromium {c:?}", r.request.url),
        }
    }
    assert_eq!(explanation.requests.len(), 12);
    assert!(
        kinds.len() >= 5,
        "at least five different failures: {kinds:?}"
    );
    assert!(allowed >= 1);
    assert_eq!(explanation.exit_code(), 1);
    // The JSON contract.
    let json = explanation.to_json();
    assert_eq!(json["requests"].as_array().unwrap().len(), 12);
    for r in json["requests"].as_array().unwrap() {
        for key in [
            "url",
            "method",
            "allowed",
            "preflight",
            "error",
            "message",
            "hint",
            "steps",
        ] {
            assert!(r.get(key).is_some(), "missing {key}");
        }
    }
}

#[test]
fn unreadable_files_are_errors() {
    assert!(corsica_doctor::har::explain("not json").is_err());
    assert!(corsica_doctor::har::explain("{\"log\": {}}").is_err());
}

/// Chromium-style HARs (DevTools' export fields: `_initiator`, `_resourceType`,
/// `startedDateTime`, `redirectURL`, `response._error`), written for issue 19.
const TWO_FETCHES: &str = include_str!("fixtures/two_fetches_one_url.har");
const REDIRECTS: &str = include_str!("fixtures/redirect_chains.har");

fn verdicts(har: &str) -> Vec<(String, String)> {
    let e = corsica_doctor::har::explain(har).unwrap();
    e.requests
        .iter()
        .map(|r| (r.request.url.clone(), r.outcome.verdict.to_string()))
        .collect()
}

#[test]
fn two_fetches_of_one_url_each_get_their_own_preflight_and_verdict() {
    let e = corsica_doctor::har::explain(TWO_FETCHES).unwrap();
    assert_eq!(
        verdicts(TWO_FETCHES),
        [
            (
                "https://api.example.com/v1/items".to_owned(),
                "allowed (200)".to_owned()
            ),
            (
                "https://api.example.com/v1/items".to_owned(),
                "blocked: HeaderDisallowedByPreflightResponse (x-api-key)".to_owned()
            ),
        ]
    );
    // The plain fetch sent no preflight; the one with X-API-Key got the recorded one.
    assert!(!e.requests[0].outcome.preflight);
    assert!(e.requests[1].outcome.preflight);
    assert_eq!(
        e.requests[1].request.headers,
        [("x-api-key".to_owned(), "k-123".to_owned())]
    );
    let b = e.requests[1].outcome.blocked().unwrap();
    // The example line keeps what the preflight response allowed... and adds the header.
    assert!(
        b.hint.contains("`Access-Control-Allow-Headers: x-api-key`"),
        "{}",
        b.hint
    );
    assert_eq!(e.exit_code(), 1);
    let text = e.to_text(false);
    assert!(
        !text.contains("network error") && !text.contains("FAILED"),
        "{text}"
    );
}

#[test]
fn redirect_chains_are_followed_by_redirect_url_and_initiator() {
    let e = corsica_doctor::har::explain(REDIRECTS).unwrap();
    let v = verdicts(REDIRECTS);
    assert_eq!(v.len(), 3, "{v:?}");
    // The chain /v1/profile → /v2/profile resolves with the final hop's 200, not the 301.
    assert_eq!(v[0].0, "https://api.example.com/v1/profile");
    assert_eq!(v[0].1, "allowed (200)");
    assert_eq!(e.requests[0].outcome.steps.len(), 2);
    // The direct fetch of /v2/profile, started between the chain's hops, has its own answer.
    assert_eq!(v[1].0, "https://api.example.com/v2/profile");
    assert_eq!(v[1].1, "blocked: MissingAllowOriginHeader");
    // A credentialed chain through another origin: the tainted `Origin: null` fails, and
    // the fix does not tell the server to allow `null`.
    assert_eq!(v[2].0, "https://api.example.com/v1/report");
    let b = e.requests[2].outcome.blocked().unwrap();
    assert_eq!(b.error.as_str(), "AllowOriginMismatch");
    assert!(b.tainted_origin);
    assert!(!b.hint.contains("Allow-Origin: null"), "{}", b.hint);
    let text = e.to_text(false);
    assert!(!text.contains("resolves with status 301"), "{text}");
    assert_eq!(e.exit_code(), 1);
}

#[test]
fn a_missing_preflight_is_reported_as_an_incomplete_file() {
    // The same HAR without the preflight entry (answered from the preflight cache).
    let mut har: Value = serde_json::from_str(TWO_FETCHES).unwrap();
    har["log"]["entries"]
        .as_array_mut()
        .unwrap()
        .retain(|e| e["_resourceType"] != "preflight");
    let e = corsica_doctor::har::explain(&har.to_string()).unwrap();
    assert_eq!(e.requests.len(), 2);
    assert!(e.requests[0].outcome.is_allowed());
    let why = e.requests[1].incomplete.as_deref().unwrap();
    assert!(why.contains("needed a preflight"), "{why}");
    assert!(
        why.contains("Access-Control-Request-Headers: x-api-key"),
        "{why}"
    );
    let json = e.to_json();
    assert_eq!(json["requests"][1]["verdict"], "incomplete");
    let text = e.to_text(false);
    assert!(text.contains("INCOMPLETE HAR"), "{text}");
    assert!(!text.contains("network error"), "{text}");
}
