//! `Policy::decide` + `Decision::apply` on a fixed credentialed policy with request headers
//! built from the input.
//!
//! Input format: up to 8 lines separated by `\n`. The first line is the method if it is a
//! valid method (else OPTIONS is used); every line of the form `name:value` whose name and
//! value are a valid `HeaderName`/`HeaderValue` is appended to the request headers.
//!
//! Invariants: an allowed CORS decision (kind not `NotCors`) has `Access-Control-Allow-Origin`;
//! a denied decision has none. `apply` must not panic.
#![no_main]

use std::sync::OnceLock;

use corsica::{Policy, RequestKind};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        Policy::builder()
            .allow_origins(["https://app.example.com", "https://*.example.com", "http://localhost:*"])
            .allow_credentials(true)
            .allow_methods(["GET", "POST", "PUT", "patch"])
            .allow_headers(["content-type", "x-api-key"])
            .build()
            .expect("the fuzz policy is valid")
    })
}

fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').take(8).collect();
    let method = lines
        .first()
        .and_then(|l| Method::from_bytes(l).ok())
        .unwrap_or(Method::OPTIONS);
    let mut headers = HeaderMap::new();
    for line in &lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) else {
            continue;
        };
        headers.append(name, value);
    }

    let decision = policy().decide(&method, &headers);
    decision.apply(&mut HeaderMap::new());

    if decision.is_allowed() {
        if decision.kind() != RequestKind::NotCors {
            assert!(
                decision.headers().allow_origin().is_some(),
                "allowed {:?} decision without Access-Control-Allow-Origin: {decision:?}",
                decision.kind()
            );
        }
    } else {
        assert!(
            decision.headers().allow_origin().is_none(),
            "denied decision with Access-Control-Allow-Origin: {decision:?}"
        );
    }
});
