//! Scenarios whose API answers are the engine's own decisions ([`corsica::Policy::decide`]),
//! so that real Chromium judges what Corsica sends, not only what the model predicts: a
//! credentialed policy with `headers = ["*"]`, whose preflights are answered with the names
//! they ask for (mirrored). The answers are computed here, at generation time, for a
//! placeholder page origin, then written with `{origin}` so the run's real port fits.

use corsica::fetch::{Credentials, preflight, safelist};
use corsica::{Policy, preflight_method};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::scenario::{Hop, Host, Reply, Scenario};

/// The page origin the answers are computed for; replaced by `{origin}` in them.
const PAGE: &str = "http://app.localhost:1";

/// A credentialed API that allows any request header by mirroring it.
fn mirroring_policy() -> Policy {
    Policy::builder()
        .allow_origins(["http://app.localhost:*"])
        .allow_credentials(true)
        .allow_methods(["GET", "POST", "PUT"])
        .allow_headers(["*"])
        .expose_headers(["x-a"])
        .build()
        .expect("the mirroring policy is valid")
}

/// The engine's answer to `method` with `headers`, as a reply with placeholders.
fn answer(
    policy: &Policy,
    method: &str,
    headers: &[(&str, String)],
    status_if_passed: u16,
) -> Reply {
    let mut request = HeaderMap::new();
    for (n, v) in headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(*n), HeaderValue::from_str(v)) {
            request.append(n, v);
        }
    }
    let method = Method::from_bytes(method.as_bytes()).expect("a valid method");
    let decision = policy.decide(&method, &request);
    let status = match decision.status() {
        Some(s) => s.as_u16(),
        None if preflight_method(&method, &request).is_none() => status_if_passed,
        None => 204,
    };
    let mut response = HeaderMap::new();
    decision.apply(&mut response);
    let mut reply = Reply {
        status,
        headers: Vec::new(),
    };
    for (n, v) in &response {
        let v = String::from_utf8_lossy(v.as_bytes()).replace(PAGE, "{origin}");
        reply.headers.push((n.as_str().to_owned(), v));
    }
    if status_if_passed == 200 && reply.status == 200 {
        reply.headers.push(("x-a".into(), "1".into()));
    }
    reply
}

/// Appends the scenarios, numbered from `out.len()`.
pub fn push_all(out: &mut Vec<Scenario>) {
    let policy = mirroring_policy();
    let header_sets: [(&str, &[(&str, &str)]); 5] = [
        ("one-custom", &[("X-Trace", "1")]),
        ("two-custom", &[("X-B", "2"), ("X-A", "1")]),
        (
            "json-and-key",
            &[("Content-Type", "application/json"), ("X-API-Key", "k")],
        ),
        ("authorization", &[("Authorization", "Bearer t")]),
        ("none", &[]),
    ];
    for (label, headers) in header_sets {
        for method in ["GET", "PUT"] {
            for credentials in [Credentials::Include, Credentials::Omit] {
                let page: Vec<(String, String)> = headers
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect();
                let unsafe_names = safelist::unsafe_header_names(
                    page.iter().map(|(n, v)| (n.as_str(), v.as_str())),
                );
                let mut pf: Vec<(&str, String)> = vec![
                    ("origin", PAGE.to_owned()),
                    ("access-control-request-method", method.to_owned()),
                ];
                if let Some(v) = preflight::request_headers_value(&unsafe_names) {
                    pf.push(("access-control-request-headers", v));
                }
                let hop = Hop {
                    host: Host::Api,
                    preflight: answer(&policy, "OPTIONS", &pf, 204),
                    response: answer(&policy, method, &[("origin", PAGE.to_owned())], 200),
                };
                let id = out.len();
                out.push(Scenario {
                    id,
                    name: format!(
                        "engine mirror-headers {label} {method} {}",
                        credentials.as_str()
                    ),
                    method: method.to_owned(),
                    headers: page,
                    credentials,
                    redirect: corsica::fetch::RedirectMode::Follow,
                    mode: corsica::fetch::Mode::Cors,
                    hops: vec![hop],
                    before: Vec::new(),
                });
            }
        }
    }
}

/// The model's verdict on a scenario of this family, with the page at `PAGE` (for tests).
#[cfg(test)]
fn model_allows(s: &Scenario) -> bool {
    let origins = crate::scenario::Origins {
        app: PAGE.into(),
        api: "http://api.localhost:2".into(),
        other: "http://other.localhost:3".into(),
    };
    use corsica::fetch::{HttpRequest, HttpResponse, NetworkError};
    let mut server = |r: &HttpRequest| -> Result<HttpResponse, NetworkError> {
        Ok(s.respond(&origins, 0, r.preflight))
    };
    corsica::fetch::simulate(&s.fetch_request(&origins), &mut server, None).is_allowed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrored_headers_pass_with_credentials_and_authorization_still_needs_listing() {
        let mut all = Vec::new();
        push_all(&mut all);
        assert_eq!(all.len(), 20);
        for s in &all {
            let wants_auth = s.name.contains("authorization");
            assert_eq!(model_allows(s), !wants_auth, "{}", s.name);
        }
        // The mirrored answer names what was asked for, never a literal `*`.
        let two = all
            .iter()
            .find(|s| s.name == "engine mirror-headers two-custom PUT include")
            .unwrap();
        let acah = two.hops[0]
            .preflight
            .headers
            .iter()
            .find(|(n, _)| n == "access-control-allow-headers")
            .map(|(_, v)| v.as_str());
        assert_eq!(acah, Some("x-a, x-b"));
    }
}
