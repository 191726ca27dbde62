//! The edge guard: CORS guards what a page may *read*, not what it may *send*. A simple
//! cross-origin `POST` from any site reaches the server before the browser checks the
//! answer. The guard refuses, before forwarding, the cross-origin state-changing requests
//! that the policy would deny, judged from `Origin` and `Sec-Fetch-Site` (Fetch Metadata).

use http::header::ORIGIN;
use http::{HeaderMap, Method};

use crate::reason::Reason;
use crate::server::Decision;

/// Why the edge guard refused a request (see [`guard`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardRefusal {
    /// The policy denies the request (an origin it does not allow, a malformed or
    /// repeated `Origin`, a method it does not allow): the decision's reason.
    #[error("{0}")]
    Denied(Reason),
    /// A browser said the request is cross-site or same-site (`Sec-Fetch-Site`) but sent
    /// no `Origin`, so the origin cannot be judged.
    #[error(
        "a cross-origin state-changing request without `Origin` (Sec-Fetch-Site: {site}): its origin cannot be judged"
    )]
    NoOrigin {
        /// The `Sec-Fetch-Site` value (escaped and bounded).
        site: String,
    },
}

impl GuardRefusal {
    /// A short, bounded label for metrics and logs: the decision's [`Reason::label`], or
    /// `cross_site_without_origin`.
    ///
    /// ```
    /// let r = corsica::GuardRefusal::NoOrigin { site: "cross-site".into() };
    /// assert_eq!(r.label(), "cross_site_without_origin");
    /// ```
    pub fn label(&self) -> &'static str {
        match self {
            GuardRefusal::Denied(reason) => reason.label(),
            GuardRefusal::NoOrigin { .. } => "cross_site_without_origin",
        }
    }
}

/// Whether a method cannot change state by the Fetch standard's and HTTP's conventions:
/// `GET`, `HEAD` and `OPTIONS` pass the guard.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The edge guard's verdict on a request, given the policy's [`Decision`] for it
/// ([`crate::Policy::decide`]). It refuses a request when all of these hold:
///
/// - its method is not `GET`, `HEAD` or `OPTIONS` (it may change state);
/// - it is not same-origin by Fetch Metadata: `Sec-Fetch-Site` is neither `same-origin`
///   nor `none` (a user typing the URL, a bookmark);
/// - it carries `Origin` and the policy denies the request, or it carries no `Origin`
///   while `Sec-Fetch-Site` says a browser sent it from another site.
///
/// A request with neither `Origin` nor `Sec-Fetch-Site` passes: it comes from a
/// non-browser client (curl, a server), which CORS does not concern.
///
/// ```
/// use corsica::{GuardRefusal, Policy, guard};
/// use http::{HeaderMap, HeaderValue, Method};
///
/// let policy = Policy::builder().allow_origins(["https://app.example.com"]).build()?;
/// let judge = |method: Method, origin: Option<&'static str>, site: Option<&'static str>| {
///     let mut h = HeaderMap::new();
///     if let Some(o) = origin { h.insert("origin", HeaderValue::from_static(o)); }
///     if let Some(s) = site { h.insert("sec-fetch-site", HeaderValue::from_static(s)); }
///     guard(&method, &h, &policy.decide(&method, &h))
/// };
/// // A form post from another site is refused before it reaches the upstream.
/// let refused = judge(Method::POST, Some("https://evil.example"), Some("cross-site"));
/// assert_eq!(refused.unwrap_err().label(), "origin_not_allowed");
/// // The allowed origin, reads, same-origin pages and non-browser clients pass.
/// assert!(judge(Method::POST, Some("https://app.example.com"), Some("same-site")).is_ok());
/// assert!(judge(Method::GET, Some("https://evil.example"), Some("cross-site")).is_ok());
/// assert!(judge(Method::POST, Some("https://evil.example"), Some("same-origin")).is_ok());
/// assert!(judge(Method::DELETE, None, None).is_ok());
/// // A browser that says cross-site but hides the origin is refused.
/// let hidden = judge(Method::PUT, None, Some("cross-site")).unwrap_err();
/// assert!(matches!(hidden, GuardRefusal::NoOrigin { .. }));
/// # Ok::<(), corsica::ConfigErrors>(())
/// ```
pub fn guard(
    method: &Method,
    headers: &HeaderMap,
    decision: &Decision,
) -> Result<(), GuardRefusal> {
    if is_safe(method) {
        return Ok(());
    }
    let site = headers.get("sec-fetch-site");
    if site.is_some_and(|s| s == "same-origin" || s == "none") {
        return Ok(());
    }
    if !headers.contains_key(ORIGIN) {
        return match site {
            None => Ok(()),
            Some(s) => Err(GuardRefusal::NoOrigin {
                site: crate::display::shown(s.as_bytes()),
            }),
        };
    }
    match decision.reason() {
        None => Ok(()),
        Some(reason) => Err(GuardRefusal::Denied(reason.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;
    use http::HeaderValue;

    fn judge(method: &str, origin: Option<&str>, site: Option<&str>) -> Result<(), &'static str> {
        let policy = Policy::builder()
            .allow_origins(["https://app.example.com"])
            .allow_methods(["GET", "POST", "PUT"])
            .build()
            .unwrap();
        let mut h = HeaderMap::new();
        if let Some(o) = origin {
            h.insert("origin", HeaderValue::from_str(o).unwrap());
        }
        if let Some(s) = site {
            h.insert("sec-fetch-site", HeaderValue::from_str(s).unwrap());
        }
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        guard(&method, &h, &policy.decide(&method, &h)).map_err(|r| r.label())
    }

    #[test]
    fn verdicts() {
        const APP: Option<&str> = Some("https://app.example.com");
        const EVIL: Option<&str> = Some("https://evil.example");
        /// Method, `Origin`, `Sec-Fetch-Site`, verdict.
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Result<(), &'a str>,
        );
        let cases: &[Case] = &[
            ("GET", EVIL, Some("cross-site"), Ok(())),
            ("HEAD", EVIL, Some("cross-site"), Ok(())),
            ("OPTIONS", EVIL, Some("cross-site"), Ok(())),
            ("POST", APP, Some("cross-site"), Ok(())),
            ("POST", APP, None, Ok(())),
            ("POST", EVIL, Some("same-origin"), Ok(())),
            ("POST", EVIL, Some("none"), Ok(())),
            ("POST", None, None, Ok(())),
            ("POST", EVIL, Some("cross-site"), Err("origin_not_allowed")),
            ("POST", EVIL, Some("same-site"), Err("origin_not_allowed")),
            ("POST", EVIL, None, Err("origin_not_allowed")),
            ("DELETE", EVIL, None, Err("origin_not_allowed")),
            (
                "POST",
                Some("null"),
                Some("cross-site"),
                Err("null_origin_not_allowed"),
            ),
            (
                "POST",
                None,
                Some("cross-site"),
                Err("cross_site_without_origin"),
            ),
            (
                "PUT",
                None,
                Some("same-site"),
                Err("cross_site_without_origin"),
            ),
            // The allowed origin with a method the policy does not allow.
            ("DELETE", APP, Some("cross-site"), Err("method_not_allowed")),
        ];
        for (method, origin, site, want) in cases {
            assert_eq!(
                judge(method, *origin, *site),
                *want,
                "{method} {origin:?} {site:?}"
            );
        }
    }

    #[test]
    fn refusals_explain_themselves() {
        let r = GuardRefusal::NoOrigin {
            site: "cross-site".into(),
        };
        assert!(r.to_string().contains("without `Origin`"));
        let d = GuardRefusal::Denied(Reason::NullOriginNotAllowed);
        assert_eq!(d.to_string(), Reason::NullOriginNotAllowed.to_string());
    }
}
