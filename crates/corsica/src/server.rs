//! The server's decision for a request: preflight, actual CORS request, or not CORS.
//!
//! [`Policy::decide`] reads only the method and the request headers (`Origin`,
//! `Access-Control-Request-Method`, `-Headers`, `-Private-Network`) and returns a
//! [`Decision`] holding the exact response headers to send, `Vary` included:
//!
//! | request | allowed | denied |
//! |---|---|---|
//! | preflight (`OPTIONS` + `Origin` + `Access-Control-Request-Method`) | answer it (204): ACAO, ACAC, ACAM, ACAH, ACMA | answer it (403) with no CORS headers |
//! | actual CORS request (`Origin`) | forward; add ACAO, ACAC, ACEH to the response | forward; add no CORS headers |
//! | not CORS (no `Origin`) | forward | – |
//!
//! `Vary` is set wherever the answer depends on the request: `Origin` on every response of a
//! policy that does not allow `*` (denied and non-CORS ones too, or a shared cache could
//! serve one origin's answer to another), and `Origin, Access-Control-Request-Method,
//! Access-Control-Request-Headers` on every preflight answer. With origin `*` the answer to
//! an actual request is the same for everyone (`Access-Control-Allow-Origin: *`, even without
//! `Origin`), so no `Vary` is needed there.
//!
//! Malformed request headers are denied with a [`Reason`], never guessed at.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::header::{Entry, GetAll};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use crate::header_list::scan;
use crate::method::is_token;
use crate::origin::Origin;
use crate::policy::{Policy, Tier};
use crate::reason::Reason;

/// `Access-Control-Request-Private-Network` (Private Network Access).
pub const ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-request-private-network");
/// `corsica-reason`: in debug mode ([`crate::PolicyBuilder::debug`]), why a request was
/// denied (`<label>; <message>`). Removed from upstream responses like the CORS headers.
pub const CORSICA_REASON: HeaderName = HeaderName::from_static("corsica-reason");
/// `Access-Control-Allow-Private-Network` (Private Network Access).
pub const ACCESS_CONTROL_ALLOW_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-allow-private-network");

/// `*`, as a header value (a constant, so never validated at run time).
const STAR: HeaderValue = HeaderValue::from_static("*");

/// Which kind of request the policy saw.
///
/// ```
/// use corsica::{Policy, RequestKind};
/// let p = Policy::builder().allow_origins(["*"]).build()?;
/// let d = p.decide(&http::Method::GET, &http::HeaderMap::new());
/// assert_eq!(d.kind(), RequestKind::NotCors);
/// # Ok::<(), corsica::ConfigErrors>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// A CORS preflight: answer it with [`Decision::status`] and [`Decision::apply`]; never
    /// forward it.
    Preflight,
    /// A CORS request (it has `Origin`): forward it, then [`Decision::apply`] to the response.
    Actual,
    /// Not a CORS request (no `Origin`): forward it, then [`Decision::apply`] (for `Vary`).
    NotCors,
}

impl RequestKind {
    /// `preflight`, `actual` or `not_cors`, for logs and metrics.
    ///
    /// ```
    /// assert_eq!(corsica::RequestKind::NotCors.as_str(), "not_cors");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Preflight => "preflight",
            RequestKind::Actual => "actual",
            RequestKind::NotCors => "not_cors",
        }
    }
}

/// Bits of the `Vary` header the decision needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Vary(u8);

impl Vary {
    const ORIGIN: u8 = 1;
    const PREFLIGHT: u8 = 2; // Access-Control-Request-Method and -Headers
    const PRIVATE_NETWORK: u8 = 4;

    fn tokens(self) -> impl Iterator<Item = &'static str> {
        [
            (Vary::ORIGIN, "Origin"),
            (Vary::PREFLIGHT, "Access-Control-Request-Method"),
            (Vary::PREFLIGHT, "Access-Control-Request-Headers"),
            (
                Vary::PRIVATE_NETWORK,
                "Access-Control-Request-Private-Network",
            ),
        ]
        .into_iter()
        .filter(move |(bit, _)| self.0 & bit != 0)
        .map(|(_, t)| t)
    }

    /// The whole value, rendered without allocation (nor validation: the values are
    /// constants) for the combinations that occur.
    fn value(self) -> Option<HeaderValue> {
        const O: u8 = Vary::ORIGIN;
        const P: u8 = Vary::PREFLIGHT;
        const N: u8 = Vary::PRIVATE_NETWORK;
        const ORIGIN: HeaderValue = HeaderValue::from_static("Origin");
        const PREFLIGHT: HeaderValue = HeaderValue::from_static(
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        );
        const PRIVATE: HeaderValue = HeaderValue::from_static(
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network",
        );
        match self.0 {
            0 => None,
            O => Some(ORIGIN),
            x if x == O | P => Some(PREFLIGHT),
            x if x == O | P | N => Some(PRIVATE),
            _ => {
                let joined = self.tokens().collect::<Vec<_>>().join(", ");
                HeaderValue::from_str(&joined).ok()
            }
        }
    }
}

/// The CORS response headers of a decision.
///
/// ```
/// use corsica::Policy;
/// use http::{HeaderMap, HeaderValue, Method};
/// let p = Policy::builder().allow_origins(["https://a.example"]).allow_credentials(true).build()?;
/// let mut req = HeaderMap::new();
/// req.insert("origin", HeaderValue::from_static("https://a.example"));
/// let d = p.decide(&Method::GET, &req);
/// assert_eq!(d.headers().allow_origin().unwrap(), "https://a.example");
/// assert!(d.headers().allow_credentials());
/// # Ok::<(), corsica::ConfigErrors>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsHeaders {
    allow_origin: Option<HeaderValue>,
    allow_credentials: bool,
    allow_methods: Option<HeaderValue>,
    allow_headers: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
    expose_headers: Option<HeaderValue>,
    allow_private_network: bool,
    vary: Vary,
    /// Debug mode: the denial's reason, sent as `corsica-reason`.
    reason: Option<HeaderValue>,
}

impl CorsHeaders {
    /// `Access-Control-Allow-Origin`.
    ///
    /// ```
    /// assert!(corsica::CorsHeaders::default().allow_origin().is_none());
    /// ```
    pub fn allow_origin(&self) -> Option<&HeaderValue> {
        self.allow_origin.as_ref()
    }
    /// Whether `Access-Control-Allow-Credentials: true` is sent.
    ///
    /// ```
    /// assert!(!corsica::CorsHeaders::default().allow_credentials());
    /// ```
    pub fn allow_credentials(&self) -> bool {
        self.allow_credentials
    }
    /// `Access-Control-Allow-Methods`.
    ///
    /// ```
    /// assert!(corsica::CorsHeaders::default().allow_methods().is_none());
    /// ```
    pub fn allow_methods(&self) -> Option<&HeaderValue> {
        self.allow_methods.as_ref()
    }
    /// `Access-Control-Allow-Headers`.
    ///
    /// ```
    /// assert!(corsica::CorsHeaders::default().allow_headers().is_none());
    /// ```
    pub fn allow_headers(&self) -> Option<&HeaderValue> {
        self.allow_headers.as_ref()
    }
    /// `Access-Control-Max-Age`.
    ///
    /// ```
    /// assert!(corsica::CorsHeaders::default().max_age().is_none());
    /// ```
    pub fn max_age(&self) -> Option<&HeaderValue> {
        self.max_age.as_ref()
    }
    /// `Access-Control-Expose-Headers`.
    ///
    /// ```
    /// assert!(corsica::CorsHeaders::default().expose_headers().is_none());
    /// ```
    pub fn expose_headers(&self) -> Option<&HeaderValue> {
        self.expose_headers.as_ref()
    }
    /// Whether `Access-Control-Allow-Private-Network: true` is sent.
    ///
    /// ```
    /// assert!(!corsica::CorsHeaders::default().allow_private_network());
    /// ```
    pub fn allow_private_network(&self) -> bool {
        self.allow_private_network
    }
    /// The `Vary` tokens this decision needs (merged into the response's own `Vary`).
    ///
    /// ```
    /// assert_eq!(corsica::CorsHeaders::default().vary().count(), 0);
    /// ```
    pub fn vary(&self) -> impl Iterator<Item = &'static str> {
        self.vary.tokens()
    }
    /// In debug mode, the `corsica-reason` value of a denial: its label and message.
    ///
    /// ```
    /// assert!(corsica::CorsHeaders::default().reason().is_none());
    /// ```
    pub fn reason(&self) -> Option<&HeaderValue> {
        self.reason.as_ref()
    }
}

/// The policy's answer to one request.
///
/// [`Policy::decide`] reads only the method and the request headers (`Origin`,
/// `Access-Control-Request-Method`, `-Headers`, `-Private-Network`) and returns a
/// [`Decision`] holding the exact response headers to send, `Vary` included:
///
/// | request | allowed | denied |
/// |---|---|---|
/// | preflight (`OPTIONS` + `Origin` + `Access-Control-Request-Method`) | answer it (204): ACAO, ACAC, ACAM, ACAH, ACMA | answer it (403) with no CORS headers |
/// | actual CORS request (`Origin`) | forward; add ACAO, ACAC, ACEH to the response | forward; add no CORS headers |
/// | not CORS (no `Origin`) | forward | – |
///
/// `Vary` is set wherever the answer depends on the request: `Origin` on every response of a
/// policy that does not allow `*` (denied and non-CORS ones too, or a shared cache could
/// serve one origin's answer to another), and `Origin, Access-Control-Request-Method,
/// Access-Control-Request-Headers` on every preflight answer. With origin `*` the answer to
/// an actual request is the same for everyone (`Access-Control-Allow-Origin: *`, even without
/// `Origin`), so no `Vary` is needed there.
///
/// Malformed request headers are denied with a [`Reason`], never guessed at.
///
/// ```
/// use corsica::{Policy, RequestKind};
/// use http::{HeaderMap, HeaderValue, Method, StatusCode};
///
/// let p = Policy::builder().allow_origins(["https://app.example.com"]).build()?;
/// let mut req = HeaderMap::new();
/// req.insert("origin", HeaderValue::from_static("https://evil.example"));
/// req.insert("access-control-request-method", HeaderValue::from_static("DELETE"));
///
/// let d = p.decide(&Method::OPTIONS, &req);
/// assert_eq!(d.kind(), RequestKind::Preflight);
/// assert_eq!(d.status(), Some(StatusCode::FORBIDDEN));
/// assert_eq!(d.reason().unwrap().label(), "origin_not_allowed");
///
/// let mut response = HeaderMap::new();
/// d.apply(&mut response);
/// assert!(response.get("access-control-allow-origin").is_none());
/// assert_eq!(response["vary"], "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
/// # Ok::<(), corsica::ConfigErrors>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    kind: RequestKind,
    reason: Option<Reason>,
    status: Option<StatusCode>,
    headers: CorsHeaders,
}

impl Decision {
    /// The kind of request.
    ///
    /// ```
    /// # let p = corsica::Policy::builder().allow_origins(["*"]).build()?;
    /// let d = p.decide(&http::Method::GET, &http::HeaderMap::new());
    /// assert_eq!(d.kind(), corsica::RequestKind::NotCors);
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn kind(&self) -> RequestKind {
        self.kind
    }

    /// Whether the request is allowed (non-CORS requests always are).
    ///
    /// ```
    /// # let p = corsica::Policy::builder().allow_origins(["*"]).build()?;
    /// assert!(p.decide(&http::Method::GET, &http::HeaderMap::new()).is_allowed());
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn is_allowed(&self) -> bool {
        self.reason.is_none()
    }

    /// Why the request was denied (`None` when allowed).
    ///
    /// ```
    /// # let p = corsica::Policy::builder().allow_origins(["*"]).build()?;
    /// assert!(p.decide(&http::Method::GET, &http::HeaderMap::new()).reason().is_none());
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn reason(&self) -> Option<&Reason> {
        self.reason.as_ref()
    }

    /// For a preflight, the status to answer with (2xx allowed, 4xx denied); `None`
    /// otherwise (forward the request).
    ///
    /// ```
    /// # let p = corsica::Policy::builder().allow_origins(["*"]).build()?;
    /// assert_eq!(p.decide(&http::Method::GET, &http::HeaderMap::new()).status(), None);
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// The CORS headers of the decision.
    ///
    /// ```
    /// # let p = corsica::Policy::builder().allow_origins(["*"]).build()?;
    /// let d = p.decide(&http::Method::GET, &http::HeaderMap::new());
    /// assert_eq!(d.headers().allow_origin().unwrap(), "*");
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn headers(&self) -> &CorsHeaders {
        &self.headers
    }

    /// The whole response to a preflight, or `None` for any other request (those go to the
    /// application, and [`Decision::apply`] adds the CORS headers to its response). Built
    /// here once so that every face answers a preflight with the same bytes: the policy's
    /// status (204 unless `preflight_status` says otherwise; 403 unless
    /// `denied_preflight_status` says otherwise), the CORS headers and `Vary`, and `body`.
    ///
    /// ```
    /// use corsica::Policy;
    /// use http::{HeaderMap, HeaderValue, Method, StatusCode};
    ///
    /// let p = Policy::builder().allow_origins(["https://a.example"]).build()?;
    /// let mut req = HeaderMap::new();
    /// req.insert("origin", HeaderValue::from_static("https://a.example"));
    /// req.insert("access-control-request-method", HeaderValue::from_static("GET"));
    /// let response = p.decide(&Method::OPTIONS, &req).preflight_response(()).unwrap();
    /// assert_eq!(response.status(), StatusCode::NO_CONTENT);
    /// assert_eq!(response.headers()["access-control-allow-origin"], "https://a.example");
    /// // An actual request is not answered here.
    /// assert!(p.decide(&Method::GET, &req).preflight_response(()).is_none());
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn preflight_response<B>(&self, body: B) -> Option<http::Response<B>> {
        (self.kind == RequestKind::Preflight)
            .then(|| preflight_response(self.status, self.headers.clone(), body))
    }

    /// [`Decision::preflight_response`], moving the headers out of the decision instead of
    /// sharing them; for any other request, the headers [`Decision::apply`] would write.
    #[cfg(feature = "tower")]
    pub(crate) fn into_outcome<B>(self, body: B) -> Outcome<B> {
        if self.kind != RequestKind::Preflight {
            return Outcome::Forward(self.headers.split().0);
        }
        Outcome::Answer(preflight_response(self.status, self.headers, body))
    }

    /// Writes the decision into response headers: removes every `Access-Control-*` header
    /// already there (the policy is the single source of CORS truth, so an upstream's own
    /// CORS headers never leak or duplicate), inserts the decision's, and merges `Vary`
    /// with the response's own (no duplicate tokens; `Vary: *` is left alone).
    ///
    /// ```
    /// use corsica::Policy;
    /// use http::{HeaderMap, HeaderValue, Method};
    /// let p = Policy::builder().allow_origins(["https://a.example"]).build()?;
    /// let mut req = HeaderMap::new();
    /// req.insert("origin", HeaderValue::from_static("https://a.example"));
    /// let mut resp = HeaderMap::new();
    /// resp.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    /// resp.insert("vary", HeaderValue::from_static("Accept-Encoding"));
    /// p.decide(&Method::GET, &req).apply(&mut resp);
    /// assert_eq!(resp["access-control-allow-origin"], "https://a.example");
    /// assert_eq!(resp["vary"], "Accept-Encoding, Origin");
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn apply(&self, response: &mut HeaderMap) {
        strip_cors_headers(response);
        let (headers, preflight) = self.headers.clone().split();
        insert_headers(headers, preflight, response);
    }
}

/// The response to a preflight: `status` (204 unless said otherwise), `headers` and `body`.
fn preflight_response<B>(
    status: Option<StatusCode>,
    headers: CorsHeaders,
    body: B,
) -> http::Response<B> {
    let mut response = http::Response::new(body);
    // `decide` sets a status on every preflight decision; 204 is the policy's default.
    *response.status_mut() = status.unwrap_or(StatusCode::NO_CONTENT);
    let (headers, preflight) = headers.split();
    insert_headers(headers, preflight, response.headers_mut());
    response
}

/// What a middleware does with a decision: answer a preflight itself, or forward the request
/// and write these headers on the response.
#[cfg(feature = "tower")]
pub(crate) enum Outcome<B> {
    Answer(http::Response<B>),
    Forward(ResponseHeaders),
}

/// The headers of a decision that the response to an actual request gets: [`CorsHeaders`]
/// without those only a preflight's answer has (which no other decision sets). Small, so
/// that the tower layer's response future, which holds them, stays small.
#[derive(Debug)]
pub(crate) struct ResponseHeaders {
    allow_origin: Option<HeaderValue>,
    allow_credentials: bool,
    expose_headers: Option<HeaderValue>,
    reason: Option<HeaderValue>,
    vary: Vary,
}

impl ResponseHeaders {
    /// Writes these headers into a response's: see [`Decision::apply`].
    #[cfg(feature = "tower")]
    pub(crate) fn write(self, response: &mut HeaderMap) {
        strip_cors_headers(response);
        insert_headers(self, PreflightHeaders::default(), response);
    }
}

/// The headers only a preflight's answer has.
#[derive(Default)]
struct PreflightHeaders {
    allow_methods: Option<HeaderValue>,
    allow_headers: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
    allow_private_network: bool,
}

impl CorsHeaders {
    fn split(self) -> (ResponseHeaders, PreflightHeaders) {
        (
            ResponseHeaders {
                allow_origin: self.allow_origin,
                allow_credentials: self.allow_credentials,
                expose_headers: self.expose_headers,
                reason: self.reason,
                vary: self.vary,
            },
            PreflightHeaders {
                allow_methods: self.allow_methods,
                allow_headers: self.allow_headers,
                max_age: self.max_age,
                allow_private_network: self.allow_private_network,
            },
        )
    }
}

/// Inserts the headers, replacing any of the same names, and merges `Vary`. Straight-line
/// code rather than a loop over a table of names: this runs on every response.
fn insert_headers(h: ResponseHeaders, p: PreflightHeaders, response: &mut HeaderMap) {
    const TRUE: HeaderValue = HeaderValue::from_static("true");
    #[inline(always)]
    fn put(response: &mut HeaderMap, name: HeaderName, value: Option<HeaderValue>) {
        if let Some(v) = value {
            response.insert(name, v);
        }
    }
    put(response, ACCESS_CONTROL_ALLOW_ORIGIN, h.allow_origin);
    let credentials = h.allow_credentials.then_some(TRUE);
    put(response, ACCESS_CONTROL_ALLOW_CREDENTIALS, credentials);
    put(response, ACCESS_CONTROL_ALLOW_METHODS, p.allow_methods);
    put(response, ACCESS_CONTROL_ALLOW_HEADERS, p.allow_headers);
    put(response, ACCESS_CONTROL_MAX_AGE, p.max_age);
    put(response, ACCESS_CONTROL_EXPOSE_HEADERS, h.expose_headers);
    let private_network = p.allow_private_network.then_some(TRUE);
    put(
        response,
        ACCESS_CONTROL_ALLOW_PRIVATE_NETWORK,
        private_network,
    );
    put(response, CORSICA_REASON, h.reason);
    merge_vary(response, h.vary);
}

/// Removes every `Access-Control-*` and `corsica-reason` response header (a scan of the names first, so the
/// common case of none costs no hashing).
fn strip_cors_headers(response: &mut HeaderMap) {
    let ours = |k: &HeaderName| k.as_str().starts_with("access-control-") || k == CORSICA_REASON;
    if !response.keys().any(ours) {
        return;
    }
    let names: Vec<HeaderName> = response.keys().filter(|k| ours(k)).cloned().collect();
    for n in names {
        response.remove(n);
    }
}

/// Merges the decision's `Vary` tokens into the response's.
fn merge_vary(response: &mut HeaderMap, vary: Vary) {
    let Some(ours) = vary.value() else { return };
    if let Entry::Vacant(slot) = response.entry(VARY) {
        slot.insert(ours);
        return;
    }
    let mut existing: Vec<&str> = Vec::new();
    let mut lines = 0;
    for line in response.get_all(VARY) {
        lines += 1;
        // A Vary that is not visible ASCII is not rewritten; ours is added beside it.
        let Ok(text) = line.to_str() else {
            response.append(VARY, ours);
            return;
        };
        existing.extend(text.split(',').map(str::trim).filter(|t| !t.is_empty()));
    }
    if existing.contains(&"*") {
        return;
    }
    let missing: Vec<&str> = vary
        .tokens()
        .filter(|t| !existing.iter().any(|e| e.eq_ignore_ascii_case(t)))
        .collect();
    if missing.is_empty() && lines == 1 {
        return;
    }
    let mut merged: Vec<&str> = Vec::with_capacity(existing.len() + missing.len());
    for e in existing.iter().chain(&missing) {
        if !merged.iter().any(|m| m.eq_ignore_ascii_case(e)) {
            merged.push(e);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&merged.join(", ")) {
        response.insert(VARY, v);
    }
}

/// The method a CORS-preflight request asks for, or `None` when the request is not a
/// preflight. The one test of "is this a preflight" for every face: a request is a
/// preflight when its method is `OPTIONS` and it carries both `Origin` and
/// `Access-Control-Request-Method` (Fetch, "CORS-preflight request"). The value is returned
/// as sent, even when it is not a valid method: [`Policy::decide`] denies such a preflight
/// with [`Reason::InvalidRequestMethod`], and a router that picks a policy by the requested
/// method (the gateway) must route it as a preflight all the same.
///
/// ```
/// use corsica::preflight_method;
/// use http::{HeaderMap, HeaderValue, Method};
///
/// let mut h = HeaderMap::new();
/// h.insert("origin", HeaderValue::from_static("https://app.example"));
/// h.insert("access-control-request-method", HeaderValue::from_static("PUT"));
/// assert_eq!(preflight_method(&Method::OPTIONS, &h).unwrap(), "PUT");
/// // Not OPTIONS: an actual request, whatever it carries.
/// assert!(preflight_method(&Method::GET, &h).is_none());
/// // A value that is not a method is still a preflight's (and will be denied).
/// h.insert("access-control-request-method", HeaderValue::from_bytes(b"P\xc3\xbcT").unwrap());
/// assert!(preflight_method(&Method::OPTIONS, &h).is_some());
/// // Without `Origin` it is a plain OPTIONS request.
/// h.remove("origin");
/// assert!(preflight_method(&Method::OPTIONS, &h).is_none());
/// ```
pub fn preflight_method<'a>(method: &Method, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
    if method != Method::OPTIONS || !headers.contains_key(ORIGIN) {
        return None;
    }
    headers.get(ACCESS_CONTROL_REQUEST_METHOD)
}

impl Policy {
    /// Decides a request from its method and headers. Pure and allocation-free on the
    /// allowed paths for exact origins (the origin is echoed by sharing the request's bytes).
    ///
    /// ```
    /// use corsica::{Policy, RequestKind};
    /// use http::{HeaderMap, HeaderValue, Method};
    ///
    /// let p = Policy::builder()
    ///     .allow_origins(["https://app.example.com"])
    ///     .allow_headers(["x-api-key"])
    ///     .expose_headers(["x-request-id"])
    ///     .build()?;
    /// let mut req = HeaderMap::new();
    /// req.insert("origin", HeaderValue::from_static("https://app.example.com"));
    /// let d = p.decide(&Method::GET, &req);
    /// assert_eq!(d.kind(), RequestKind::Actual);
    /// let mut resp = HeaderMap::new();
    /// d.apply(&mut resp);
    /// assert_eq!(resp["access-control-allow-origin"], "https://app.example.com");
    /// assert_eq!(resp["access-control-expose-headers"], "x-request-id");
    /// assert_eq!(resp["vary"], "Origin");
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn decide(&self, method: &Method, headers: &HeaderMap) -> Decision {
        let any = self.origins.is_any();
        let mut origins = headers.get_all(ORIGIN).iter();
        let Some(origin) = origins.next() else {
            return self.not_cors(any, method);
        };
        let extra_origins = origins.count();
        // `preflight_method`'s test, without looking `Origin` up again.
        if method == Method::OPTIONS {
            let requested = headers.get_all(ACCESS_CONTROL_REQUEST_METHOD);
            if requested.iter().next().is_some() {
                return self.preflight(origin, extra_origins, requested, headers);
            }
        }
        // Actual CORS request.
        let mut out = CorsHeaders {
            vary: Vary(if any && self.public.is_none() {
                0
            } else {
                Vary::ORIGIN
            }),
            ..CorsHeaders::default()
        };
        let verdict = self
            .tier_for(origin, extra_origins)
            .and_then(|(tier, acao)| {
                if tier.allows_method_bytes(method.as_str().as_bytes()) {
                    Ok((tier, acao))
                } else {
                    Err(Reason::MethodNotAllowed {
                        method: method.as_str().to_owned(),
                    })
                }
            });
        match verdict {
            Ok((tier, acao)) => {
                out.allow_credentials = self.credentials && acao.is_some();
                out.allow_origin = Some(acao.cloned().unwrap_or(STAR));
                out.expose_headers = tier.rendered.expose_headers.clone();
                self.decision(RequestKind::Actual, None, None, out)
            }
            Err(reason) => {
                if any
                    && matches!(
                        reason,
                        Reason::InvalidOrigin { .. } | Reason::MultipleOrigins { .. }
                    )
                {
                    // The denial depends on Origin here, unlike the `*` answer.
                    out.vary = Vary(Vary::ORIGIN);
                }
                self.decision(RequestKind::Actual, Some(reason), None, out)
            }
        }
    }

    /// A decision, with the `corsica-reason` header on a denial in debug mode.
    fn decision(
        &self,
        kind: RequestKind,
        reason: Option<Reason>,
        status: Option<StatusCode>,
        mut headers: CorsHeaders,
    ) -> Decision {
        if self.debug {
            headers.reason = reason.as_ref().map(|r| {
                HeaderValue::from_str(&format!("{}; {r}", r.label()))
                    .unwrap_or_else(|_| HeaderValue::from_static(r.label()))
            });
        }
        Decision {
            kind,
            reason,
            status,
            headers,
        }
    }

    /// Which tier answers this `Origin`, and the `Access-Control-Allow-Origin` to echo
    /// (`None`: answer `*`). A trusted origin gets the trusted tier (echoed unless the
    /// policy is `*`); any other well-formed origin gets the public tier, if there is one.
    fn tier_for<'a>(
        &self,
        origin: &'a HeaderValue,
        extra_origins: usize,
    ) -> Result<(&Tier, Option<&'a HeaderValue>), Reason> {
        if extra_origins > 0 {
            return Err(Reason::MultipleOrigins {
                count: extra_origins + 1,
            });
        }
        match (self.check_origin(origin), &self.public) {
            (Ok(()), _) if self.origins.is_any() => Ok((&self.trusted, None)),
            (Ok(()), _) => Ok((&self.trusted, Some(origin))),
            (Err(Reason::OriginNotAllowed { .. } | Reason::NullOriginNotAllowed), Some(public)) => {
                Ok((public, None))
            }
            (Err(reason), _) => Err(reason),
        }
    }

    fn not_cors(&self, any: bool, method: &Method) -> Decision {
        // Under `*` the answer to an actual request depends only on the method; give a
        // request without `Origin` exactly that answer, so a cached copy is right for all.
        let headers = if any && self.trusted.allows_method_bytes(method.as_str().as_bytes()) {
            // The answer is the same for every request: send it to all, cache-safe without Vary.
            CorsHeaders {
                allow_origin: Some(STAR),
                expose_headers: self.trusted.rendered.expose_headers.clone(),
                ..CorsHeaders::default()
            }
        } else if any {
            CorsHeaders::default()
        } else {
            CorsHeaders {
                vary: Vary(Vary::ORIGIN),
                ..CorsHeaders::default()
            }
        };
        Decision {
            kind: RequestKind::NotCors,
            reason: None,
            status: None,
            headers,
        }
    }

    /// Checks one `Origin` value: the exact table first on the raw bytes (no parsing), then
    /// a strict parse for patterns, predicates and a precise reason.
    fn check_origin(&self, value: &HeaderValue) -> Result<(), Reason> {
        let bytes = value.as_bytes();
        if self.origins.contains_exact_bytes(bytes) {
            return Ok(());
        }
        let origin = Origin::from_header(value).map_err(|error| Reason::InvalidOrigin { error })?;
        if self.origins.contains(&origin) {
            Ok(())
        } else if origin.is_opaque() {
            Err(Reason::NullOriginNotAllowed)
        } else {
            Err(Reason::OriginNotAllowed {
                origin: origin.as_str().to_owned(),
            })
        }
    }

    fn preflight(
        &self,
        origin: &HeaderValue,
        extra_origins: usize,
        requested: GetAll<'_, HeaderValue>,
        headers: &HeaderMap,
    ) -> Decision {
        let vary = Vary(
            Vary::ORIGIN
                | Vary::PREFLIGHT
                | if self.private_network {
                    Vary::PRIVATE_NETWORK
                } else {
                    0
                },
        );
        let denied = CorsHeaders {
            vary,
            ..CorsHeaders::default()
        };
        let (tier, acao) = match self.tier_for(origin, extra_origins) {
            Ok(found) => found,
            Err(reason) => {
                return self.decision(
                    RequestKind::Preflight,
                    Some(reason),
                    Some(self.denied_status),
                    denied,
                );
            }
        };
        let trusted = acao.is_some() || self.public.is_none();
        let mut allowed = CorsHeaders {
            allow_origin: Some(acao.cloned().unwrap_or(STAR)),
            allow_credentials: self.credentials && acao.is_some(),
            allow_methods: tier.rendered.allow_methods.clone(),
            allow_headers: tier.rendered.allow_headers.clone(),
            max_age: tier.rendered.max_age.clone(),
            expose_headers: None,
            allow_private_network: self.private_network
                && trusted
                && headers
                    .get(ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK)
                    .is_some_and(|v| v == "true"),
            vary,
            reason: None,
        };
        match Self::check_request_method(tier, requested)
            .and_then(|()| self.check_request_headers(tier, headers))
        {
            Ok(echo_headers) => {
                if tier.headers.any {
                    allowed.allow_headers = echo_headers;
                }
                self.decision(
                    RequestKind::Preflight,
                    None,
                    Some(self.preflight_status),
                    allowed,
                )
            }
            // Debug mode: the origin may know what is allowed, so answer with the lists and
            // let the browser name the missing method or header.
            Err(reason) if self.debug => {
                if tier.headers.any {
                    allowed.allow_headers = Some(STAR);
                }
                self.decision(
                    RequestKind::Preflight,
                    Some(reason),
                    Some(self.preflight_status),
                    allowed,
                )
            }
            Err(reason) => self.decision(
                RequestKind::Preflight,
                Some(reason),
                Some(self.denied_status),
                denied,
            ),
        }
    }

    fn check_request_method(tier: &Tier, requested: GetAll<'_, HeaderValue>) -> Result<(), Reason> {
        let mut values = requested.iter();
        let value = values.next().map(HeaderValue::as_bytes).unwrap_or_default();
        if values.next().is_some() || !is_token(value) {
            return Err(Reason::invalid_method(value));
        }
        if tier.allows_method_bytes(value) {
            Ok(())
        } else {
            Err(Reason::MethodNotAllowed {
                method: String::from_utf8_lossy(value).into_owned(),
            })
        }
    }

    /// Validates `Access-Control-Request-Headers` (all lines, bounded) and checks each
    /// name. With `headers = "*"` returns the list to echo (lower-cased, `, `-joined).
    fn check_request_headers(
        &self,
        tier: &Tier,
        headers: &HeaderMap,
    ) -> Result<Option<HeaderValue>, Reason> {
        let all = headers.get_all(ACCESS_CONTROL_REQUEST_HEADERS);
        let lines = || all.iter().map(HeaderValue::as_bytes);
        let mut denied: Option<&[u8]> = None;
        let echo = tier.headers.any;
        let mut echoed: Vec<u8> = Vec::new();
        scan(lines, self.limits, |name| {
            if !tier.allows_header_bytes(name) {
                denied = Some(name);
                return false;
            }
            if echo {
                if !echoed.is_empty() {
                    echoed.extend_from_slice(b", ");
                }
                echoed.extend(name.iter().map(u8::to_ascii_lowercase));
            }
            true
        })
        .map_err(|error| Reason::InvalidRequestHeaders { error })?;
        if let Some(name) = denied {
            return Err(Reason::HeaderNotAllowed {
                name: String::from_utf8_lossy(name).to_ascii_lowercase(),
            });
        }
        if echoed.is_empty() {
            return Ok(None);
        }
        // Tokens joined by ", " are a valid header value.
        Ok(HeaderValue::from_bytes(&echoed).ok())
    }
}
