//! The answer to a request that no policy covers (the gateway's "no route"), built so the
//! browser shows the page what happened (a 404) instead of a CORS error.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::method::is_token;
use crate::origin::Origin;
use crate::policy::Policy;
use crate::server::preflight_method;

/// The answer to a request that matches none of a server's policies: the server's own fixed
/// body (never an application's data), readable by the page so the browser reports the
/// real status.
///
/// - An actual request gets `404 Not Found` with `Access-Control-Allow-Origin`: the request's
///   `Origin` echoed (and `Access-Control-Allow-Credentials: true` if one of those policies
///   allows credentials) when one of `policies` trusts that origin, else `*` (no
///   credentials: a credentialed request from an untrusted origin sees a CORS error).
/// - A preflight gets `204` allowing the method (one line, a token) and the headers (every
///   line, as one list) it asks for, with the same
///   `Access-Control-Allow-Origin` and `Access-Control-Max-Age: 0`, so the browser sends the
///   actual request, reads its 404 and caches nothing (a route added later is preflighted
///   on its own policy). The actual request finds no route either, so nothing reaches an
///   application.
///
/// Every answer varies on `Origin` (and a preflight's on the requested method and headers).
/// `body` builds the body for the status.
///
/// ```
/// use corsica::{Policy, unrouted_response};
/// use http::{HeaderMap, HeaderValue, Method, StatusCode};
///
/// let api = Policy::builder()
///     .allow_origins(["https://app.example.com"])
///     .allow_credentials(true)
///     .build()?;
/// let mut h = HeaderMap::new();
/// h.insert("origin", HeaderValue::from_static("https://app.example.com"));
/// let r = unrouted_response([&api], &Method::GET, &h, |status| status.as_str().to_owned());
/// assert_eq!(r.status(), StatusCode::NOT_FOUND);
/// assert_eq!(r.headers()["access-control-allow-origin"], "https://app.example.com");
/// assert_eq!(r.headers()["access-control-allow-credentials"], "true");
/// // An origin no policy trusts reads the 404 without credentials.
/// h.insert("origin", HeaderValue::from_static("https://other.example"));
/// let r = unrouted_response([&api], &Method::GET, &h, |_| ());
/// assert_eq!(r.headers()["access-control-allow-origin"], "*");
/// assert!(!r.headers().contains_key("access-control-allow-credentials"));
/// // A preflight is let through so the browser reports the 404 of the actual request.
/// h.insert("access-control-request-method", HeaderValue::from_static("PUT"));
/// let r = unrouted_response([&api], &Method::OPTIONS, &h, |_| ());
/// assert_eq!(r.status(), StatusCode::NO_CONTENT);
/// assert_eq!(r.headers()["access-control-allow-methods"], "PUT");
/// assert_eq!(r.headers()["access-control-max-age"], "0");
/// # Ok::<(), corsica::ConfigErrors>(())
/// ```
pub fn unrouted_response<'p, B>(
    policies: impl IntoIterator<Item = &'p Policy>,
    method: &Method,
    headers: &HeaderMap,
    body: impl FnOnce(StatusCode) -> B,
) -> http::Response<B> {
    let preflight = preflight_method(method, headers);
    let status = if preflight.is_some() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    };
    let mut response = http::Response::new(body(status));
    *response.status_mut() = status;
    let h = response.headers_mut();
    // One `Origin`, of the exact form a browser sends, trusted by name by some policy.
    let mut origins = headers.get_all(ORIGIN).iter();
    let trusted = match (origins.next(), origins.next()) {
        (Some(value), None) => Origin::from_header(value).ok().and_then(|origin| {
            let mut trusting = policies
                .into_iter()
                .filter(|p| !p.origins().is_any() && p.origins().contains(&origin))
                .peekable();
            trusting.peek()?;
            Some((value.clone(), trusting.any(Policy::allows_credentials)))
        }),
        _ => None,
    };
    match trusted {
        Some((origin, credentials)) => {
            h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            if credentials {
                h.insert(
                    ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                );
            }
        }
        None => {
            h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
    }
    let Some(requested) = preflight else {
        h.insert(VARY, HeaderValue::from_static("Origin"));
        return response;
    };
    // One method line, a token (a second line makes the request invalid, as for a policy).
    if is_token(requested.as_bytes())
        && headers
            .get_all(ACCESS_CONTROL_REQUEST_METHOD)
            .iter()
            .nth(1)
            .is_none()
    {
        h.insert(ACCESS_CONTROL_ALLOW_METHODS, requested.clone());
    }
    // Every header line, read as one list (as a policy reads them).
    let mut asked = headers.get_all(ACCESS_CONTROL_REQUEST_HEADERS).iter();
    if let Some(first) = asked.next() {
        let mut list = first.as_bytes().to_vec();
        for more in asked {
            list.push(b',');
            list.extend_from_slice(more.as_bytes());
        }
        if let Ok(v) = HeaderValue::from_bytes(&list) {
            h.insert(ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
    }
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("0"));
    h.insert(
        VARY,
        HeaderValue::from_static(
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        ),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(origins: &[&str], credentials: bool) -> Policy {
        Policy::builder()
            .allow_origins(origins.iter().copied())
            .allow_credentials(credentials)
            .build()
            .unwrap()
    }

    fn answer(policies: &[Policy], method: Method, pairs: &[(&str, &str)]) -> http::Response<()> {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        unrouted_response(policies, &method, &h, |_| ())
    }

    #[test]
    fn actual_requests_get_a_readable_404() {
        let ps = [
            policy(&["*"], false),
            policy(&["https://a.example"], false),
            policy(&["https://*.example.com"], true),
        ];
        /// Request headers, `Access-Control-Allow-Origin`, credentials.
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, bool);
        let cases: &[Case] = &[
            (&[], "*", false),
            (
                &[("origin", "https://a.example")],
                "https://a.example",
                false,
            ),
            (
                &[("origin", "https://x.example.com")],
                "https://x.example.com",
                true,
            ),
            (&[("origin", "https://evil.example")], "*", false),
            (&[("origin", "null")], "*", false),
            (&[("origin", "https://A.example")], "*", false),
            (
                &[
                    ("origin", "https://a.example"),
                    ("origin", "https://a.example"),
                ],
                "*",
                false,
            ),
        ];
        for (pairs, acao, acac) in cases {
            let r = answer(&ps, Method::POST, pairs);
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{pairs:?}");
            assert_eq!(
                r.headers()["access-control-allow-origin"],
                *acao,
                "{pairs:?}"
            );
            assert_eq!(
                r.headers().contains_key("access-control-allow-credentials"),
                *acac,
                "{pairs:?}"
            );
            assert_eq!(r.headers()["vary"], "Origin");
            assert!(!r.headers().contains_key("access-control-allow-methods"));
        }
    }

    #[test]
    fn preflights_are_let_through_uncached() {
        let ps = [policy(&["https://a.example"], true)];
        let r = answer(
            &ps,
            Method::OPTIONS,
            &[
                ("origin", "https://a.example"),
                ("access-control-request-method", "PATCH"),
                ("access-control-request-headers", "content-type,x-api-key"),
            ],
        );
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], "https://a.example");
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert_eq!(h["access-control-allow-methods"], "PATCH");
        assert_eq!(h["access-control-allow-headers"], "content-type,x-api-key");
        assert_eq!(h["access-control-max-age"], "0");
        assert!(
            h["vary"]
                .to_str()
                .unwrap()
                .contains("Access-Control-Request-Method")
        );
        // A requested method that is not a token is not echoed.
        let r = answer(
            &ps,
            Method::OPTIONS,
            &[
                ("origin", "https://b.example"),
                ("access-control-request-method", "P T"),
            ],
        );
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        assert!(!r.headers().contains_key("access-control-allow-methods"));
        // Two method lines make the request invalid: no method echoed; header lines are
        // read as one list.
        let r = answer(
            &ps,
            Method::OPTIONS,
            &[
                ("origin", "https://b.example"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "x-a"),
                ("access-control-request-headers", " x-b"),
            ],
        );
        assert!(!r.headers().contains_key("access-control-allow-methods"));
        assert_eq!(r.headers()["access-control-allow-headers"], "x-a, x-b");
        // A plain OPTIONS (no Origin) is an actual request.
        let r = answer(
            &ps,
            Method::OPTIONS,
            &[("access-control-request-method", "PUT")],
        );
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
}
