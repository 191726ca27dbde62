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
