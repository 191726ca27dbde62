//! The browser model: what Chromium does for a page's `fetch()`.
//!
//! [`simulate`] plays a [`FetchRequest`] against a [`Server`] (a live HTTP client in the
//! doctor, a closure in tests, a HAR file in `explain`) the way Chromium would: it decides
//! whether a preflight is sent and sends it with the headers a browser sends, judges it,
//! sends the actual request, follows redirects (tainting the origin to `null` after a
//! cross-origin hop, changing the method on 301/302/303, re-preflighting when needed),
//! CORS-checks every response, and returns an [`Outcome`]: allowed (with the response
//! headers scripts can read), blocked with a [`CorsError`] (Chromium's DevTools name, the
//! failed parameter, Chromium's console message and a fix hint), or failed without a CORS
//! error (a network error or a `TypeError`).
//!
//! ```
//! use corsica::fetch::{simulate, CorsError, FetchRequest, HttpRequest, HttpResponse, NetworkError, Verdict};
//! use corsica::Origin;
//!
//! let page = Origin::parse("https://app.example.com")?;
//! let request = FetchRequest::new(page, "https://api.example.com/items")
//!     .method("POST")
//!     .header("Content-Type", "application/json");
//! // A server that forgot to answer preflights.
//! let mut server = |r: &HttpRequest| -> Result<HttpResponse, NetworkError> {
//!     Ok(HttpResponse::new(if r.method == "OPTIONS" { 405 } else { 200 }))
//! };
//! let outcome = simulate(&request, &mut server, None);
//! assert!(outcome.preflight);
//! let Verdict::Blocked(blocked) = &outcome.verdict else { panic!() };
//! assert_eq!(blocked.error, CorsError::PreflightMissingAllowOriginHeader);
//! assert!(blocked.message.starts_with("Access to fetch at 'https://api.example.com/items' from origin 'https://app.example.com' has been blocked by CORS policy: Response to preflight request"));
//! println!("{}", blocked.hint);
//! # Ok::<(), corsica::OriginError>(())
//! ```

pub mod check;
pub mod error;
pub mod preflight;
pub mod safelist;

use std::fmt;

pub use error::{CorsError, UnknownCorsError};
use preflight::PreflightCache;

use crate::Origin;
use crate::method::{is_forbidden, is_token, normalize};
use error::{HintContext, MessageContext, console_message, fix_hint};
use safelist::{is_forbidden_request_header, unsafe_header_names};

/// The request mode (`fetch(url, {mode})`).
///
/// ```
/// assert_eq!(corsica::fetch::Mode::default(), corsica::fetch::Mode::Cors);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Mode {
    /// `cors` (the default for `fetch()`).
    #[default]
    Cors,
    /// `same-origin`: cross-origin URLs fail.
    SameOrigin,
    /// `no-cors`: cross-origin responses are opaque; no CORS checks.
    NoCors,
}

/// The credentials mode (`fetch(url, {credentials})`).
///
/// ```
/// assert_eq!("include".parse::<corsica::fetch::Credentials>(), Ok(corsica::fetch::Credentials::Include));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Credentials {
    /// `omit`: never send cookies.
    Omit,
    /// `same-origin` (the default): cookies only to the page's own origin.
    #[default]
    SameOrigin,
    /// `include`: cookies everywhere; the response needs `Access-Control-Allow-Credentials: true`
    /// and an exact `Access-Control-Allow-Origin`.
    Include,
}

impl std::str::FromStr for Credentials {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "omit" => Ok(Credentials::Omit),
            "same-origin" => Ok(Credentials::SameOrigin),
            "include" => Ok(Credentials::Include),
            other => Err(format!(
                "`{other}` is not a credentials mode: use omit, same-origin or include"
            )),
        }
    }
}

impl Credentials {
    /// The JavaScript spelling.
    ///
    /// ```
    /// assert_eq!(corsica::fetch::Credentials::SameOrigin.as_str(), "same-origin");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Credentials::Omit => "omit",
            Credentials::SameOrigin => "same-origin",
            Credentials::Include => "include",
        }
    }
}

/// The redirect mode (`fetch(url, {redirect})`).
///
/// ```
/// assert_eq!(corsica::fetch::RedirectMode::default(), corsica::fetch::RedirectMode::Follow);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum RedirectMode {
    /// Follow redirects (the default).
    #[default]
    Follow,
    /// A redirect is a network error.
    Error,
    /// Return the redirect as an opaque-redirect response.
    Manual,
}

/// A page's `fetch(url, init)` call.
///
/// ```
/// use corsica::fetch::{Credentials, FetchRequest};
/// let r = FetchRequest::new(corsica::Origin::parse("https://app.example.com")?, "https://api.example.com/me")
///     .credentials(Credentials::Include)
///     .header("X-API-Key", "secret");
/// assert_eq!(r.method, "GET");
/// # Ok::<(), corsica::OriginError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// The page's origin.
    pub origin: Origin,
    /// The URL passed to `fetch()`.
    pub url: String,
    /// The method passed to `fetch()` (normalized like `fetch()` does).
    pub method: String,
    /// The headers passed to `fetch()`, in order.
    pub headers: Vec<(String, String)>,
    /// The request mode.
    pub mode: Mode,
    /// The credentials mode.
    pub credentials: Credentials,
    /// The redirect mode.
    pub redirect: RedirectMode,
}

impl FetchRequest {
    /// `fetch(url)` from a page at `origin`: GET, mode `cors`, credentials `same-origin`.
    ///
    /// ```
    /// let r = corsica::fetch::FetchRequest::new(corsica::Origin::parse("https://a.example")?, "https://b.example/");
    /// # Ok::<(), corsica::OriginError>(())
    /// ```
    pub fn new(origin: Origin, url: impl Into<String>) -> FetchRequest {
        FetchRequest {
            origin,
            url: url.into(),
            method: "GET".into(),
            headers: Vec::new(),
            mode: Mode::Cors,
            credentials: Credentials::SameOrigin,
            redirect: RedirectMode::Follow,
        }
    }

    /// Sets the method.
    ///
    /// ```
    /// # let r = corsica::fetch::FetchRequest::new(corsica::Origin::null(), "https://b.example/");
    /// let r = r.method("PATCH");
    /// ```
    pub fn method(mut self, method: impl Into<String>) -> FetchRequest {
        self.method = method.into();
        self
    }

    /// Adds a header.
    ///
    /// ```
    /// # let r = corsica::fetch::FetchRequest::new(corsica::Origin::null(), "https://b.example/");
    /// let r = r.header("Authorization", "Bearer t");
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> FetchRequest {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the mode.
    ///
    /// ```
    /// # let r = corsica::fetch::FetchRequest::new(corsica::Origin::null(), "https://b.example/");
    /// let r = r.mode(corsica::fetch::Mode::NoCors);
    /// ```
    pub fn mode(mut self, mode: Mode) -> FetchRequest {
        self.mode = mode;
        self
    }

    /// Sets the credentials mode.
    ///
    /// ```
    /// # let r = corsica::fetch::FetchRequest::new(corsica::Origin::null(), "https://b.example/");
    /// let r = r.credentials(corsica::fetch::Credentials::Omit);
    /// ```
    pub fn credentials(mut self, credentials: Credentials) -> FetchRequest {
        self.credentials = credentials;
        self
    }

    /// Sets the redirect mode.
    ///
    /// ```
    /// # let r = corsica::fetch::FetchRequest::new(corsica::Origin::null(), "https://b.example/");
    /// let r = r.redirect(corsica::fetch::RedirectMode::Manual);
    /// ```
    pub fn redirect(mut self, redirect: RedirectMode) -> FetchRequest {
        self.redirect = redirect;
        self
    }
}

/// An HTTP request the browser sends (a preflight or an actual request).
///
/// ```
/// let r = corsica::fetch::HttpRequest { method: "OPTIONS".into(), url: "https://b.example/".into(), headers: vec![], preflight: true, credentials: false };
/// assert_eq!(r.header("origin"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method as sent.
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// The headers that matter to CORS, as sent (`Origin`, `Access-Control-Request-*`,
    /// `Sec-Fetch-Mode`, the page's own headers).
    pub headers: Vec<(String, String)>,
    /// Whether this is a CORS preflight.
    pub preflight: bool,
    /// Whether cookies and HTTP authentication would be attached.
    pub credentials: bool,
}

impl HttpRequest {
    /// The value of a header (names are case-insensitive).
    ///
    /// ```
    /// let r = corsica::fetch::HttpRequest { method: "GET".into(), url: "https://b.example/".into(), headers: vec![("Origin".into(), "null".into())], preflight: false, credentials: false };
    /// assert_eq!(r.header("origin"), Some("null"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP response as the browser receives it: status and header lines.
///
/// ```
/// use corsica::fetch::HttpResponse;
/// let r = HttpResponse::new(200).header("Vary", "Origin").header("vary", "Accept");
/// assert_eq!(r.get("VARY").as_deref(), Some("Origin, Accept"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The header lines, in order.
    pub headers: Vec<(String, String)>,
}

impl HttpResponse {
    /// A response with this status and no headers.
    ///
    /// ```
    /// assert_eq!(corsica::fetch::HttpResponse::new(204).status, 204);
    /// ```
    pub fn new(status: u16) -> HttpResponse {
        HttpResponse {
            status,
            headers: Vec::new(),
        }
    }

    /// Adds a header line.
    ///
    /// ```
    /// let r = corsica::fetch::HttpResponse::new(204).header("Access-Control-Allow-Origin", "*");
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> HttpResponse {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the status.
    ///
    /// ```
    /// assert_eq!(corsica::fetch::HttpResponse::new(204).status(404).status, 404);
    /// ```
    pub fn status(mut self, status: u16) -> HttpResponse {
        self.status = status;
        self
    }

    /// A header's value as Chromium reads it (`GetNormalizedHeader`): every line of that
    /// name, each trimmed of spaces and tabs, joined with `", "`; `None` when absent.
    ///
    /// ```
    /// let r = corsica::fetch::HttpResponse::new(200).header("A", " x ");
    /// assert_eq!(r.get("a").as_deref(), Some("x"));
    /// ```
    pub fn get(&self, name: &str) -> Option<String> {
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim_matches([' ', '\t']));
        let first = values.next()?;
        let mut out = first.to_owned();
        for v in values {
            out.push_str(", ");
            out.push_str(v);
        }
        Some(out)
    }

    /// Whether Chromium follows this response as a redirect: 300, 301, 302, 303, 307 or
    /// 308 with a `Location`.
    ///
    /// ```
    /// assert!(corsica::fetch::HttpResponse::new(302).header("Location", "/x").is_redirect());
    /// assert!(!corsica::fetch::HttpResponse::new(304).header("Location", "/x").is_redirect());
    /// ```
    pub fn is_redirect(&self) -> bool {
        matches!(self.status, 300 | 301 | 302 | 303 | 307 | 308)
            && self.locations().first().is_some_and(|l| !l.is_empty())
    }

    /// The `Location` lines, trimmed.
    fn locations(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("location"))
            .map(|(_, v)| v.trim_matches([' ', '\t']))
            .collect()
    }
}

/// A failure below HTTP: connection refused, timeout, TLS, DNS.
///
/// ```
/// let e = corsica::fetch::NetworkError("connection refused".into());
/// assert_eq!(e.to_string(), "network error: connection refused");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("network error: {0}")]
pub struct NetworkError(pub String);

/// Whatever answers the browser's requests: a live client, a recorded HAR, a closure.
pub trait Server {
    /// Answers one request.
    fn send(&mut self, request: &HttpRequest) -> Result<HttpResponse, NetworkError>;
}

impl<F> Server for F
where
    F: FnMut(&HttpRequest) -> Result<HttpResponse, NetworkError>,
{
    fn send(&mut self, request: &HttpRequest) -> Result<HttpResponse, NetworkError> {
        self(request)
    }
}

/// One exchange of the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What the browser sent.
    pub request: HttpRequest,
    /// What came back (`None` on a network error).
    pub response: Option<HttpResponse>,
    /// Whether this exchange's response was followed as a redirect.
    pub redirected: bool,
    /// The CORS failure this exchange caused, if any.
    pub error: Option<CorsError>,
}

/// The type of a successful response, as `Response.type` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseType {
    /// Same-origin.
    Basic,
    /// Cross-origin, CORS-checked.
    Cors,
    /// `no-cors` cross-origin: status 0, no headers, no body for scripts.
    Opaque,
    /// `redirect: 'manual'`: status 0.
    OpaqueRedirect,
}

/// A blocked request: Chromium's error kind and failed parameter, the console message and
/// a fix hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// The DevTools `CorsError`.
    pub error: CorsError,
    /// DevTools' `failedParameter` (may be empty).
    pub parameter: String,
    /// Every value Chromium may report as the failed parameter. One, except for
    /// `HeaderDisallowedByPreflightResponse` with several disallowed headers: Chromium
    /// reports one of them, in the order of Blink's internal header hash map (not
    /// alphabetical), so the model lists them all and `parameter` is the first by name.
    pub candidates: Vec<String>,
    /// The URL whose response failed.
    pub url: String,
    /// Chromium's console message.
    pub message: String,
    /// What to change on the server, with the exact header and value.
    pub hint: String,
}

/// The result of a simulated `fetch()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The promise resolves.
    Allowed {
        /// The final status (0 for opaque responses).
        status: u16,
        /// `Response.type`.
        response_type: ResponseType,
        /// The response headers scripts can read, lower-cased.
        readable_headers: Vec<String>,
        /// The final URL.
        url: String,
    },
    /// The promise rejects with `TypeError: Failed to fetch` because of CORS.
    Blocked(Blocked),
    /// The promise rejects without a CORS error: network error, too many redirects,
    /// `redirect: 'error'`, or a `TypeError` from the arguments.
    Failed {
        /// What went wrong.
        reason: String,
    },
}

/// The outcome of [`simulate`]: the verdict, whether a preflight was sent, and the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// Whether at least one preflight was sent.
    pub preflight: bool,
    /// Every exchange, in order.
    pub steps: Vec<Step>,
}

impl Outcome {
    /// Whether the `fetch()` resolves.
    ///
    /// ```
    /// # use corsica::fetch::*;
    /// # let o = Outcome { verdict: Verdict::Failed { reason: "x".into() }, preflight: false, steps: vec![] };
    /// assert!(!o.is_allowed());
    /// ```
    pub fn is_allowed(&self) -> bool {
        matches!(self.verdict, Verdict::Allowed { .. })
    }

    /// The CORS error, if blocked by CORS.
    ///
    /// ```
    /// # use corsica::fetch::*;
    /// # let o = Outcome { verdict: Verdict::Failed { reason: "x".into() }, preflight: false, steps: vec![] };
    /// assert!(o.blocked().is_none());
    /// ```
    pub fn blocked(&self) -> Option<&Blocked> {
        match &self.verdict {
            Verdict::Blocked(b) => Some(b),
            _ => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Allowed { status, .. } => write!(f, "allowed ({status})"),
            Verdict::Blocked(b) if b.parameter.is_empty() => write!(f, "blocked: {}", b.error),
            Verdict::Blocked(b) => write!(f, "blocked: {} ({})", b.error, b.parameter),
            Verdict::Failed { reason } => write!(f, "failed: {reason}"),
        }
    }
}

/// Options of a simulation beyond the request.
#[derive(Debug, Default)]
pub struct Options<'a> {
    /// A preflight cache to consult and fill (none: every preflight is sent).
    pub cache: Option<&'a mut PreflightCache>,
    /// The current time for the cache, in seconds on any monotonic scale.
    pub now: u64,
    /// Apply the Fetch standard's rule that `*` in `Access-Control-Allow-Headers` never
    /// covers `authorization` (Firefox, Safari, and Chrome with the
    /// `CORSNonWildcardRequestHeadersSupport` policy). Off by default: Chromium 156, as the
    /// conformance suite runs it, lets `*` cover `authorization`.
    pub authorization_needs_listing: bool,
}

/// The most redirects Chromium follows (the 21st is `ERR_TOO_MANY_REDIRECTS`).
pub const MAX_REDIRECTS: usize = 20;

/// Normalizes the page's headers as the `Headers` object does: names validated, values
/// trimmed of HTTP whitespace and validated, forbidden request headers dropped, then
/// sorted by lower-cased name and same-name values combined with `", "`.
fn normalize_headers(
    headers: &[(String, String)],
    mode: Mode,
) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        if !is_token(name.as_bytes()) {
            return Err(format!(
                "TypeError: Failed to execute 'fetch' on 'Window': Invalid name `{name}`"
            ));
        }
        let value = value.trim_matches([' ', '\t', '\r', '\n']);
        if value.bytes().any(|b| matches!(b, 0 | b'\r' | b'\n')) {
            return Err(format!(
                "TypeError: Failed to execute 'fetch' on 'Window': Invalid value for header `{name}`"
            ));
        }
        if is_forbidden_request_header(name, value) {
            continue;
        }
        if mode == Mode::NoCors && !is_no_cors_safelisted(name, value) {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        match out.iter_mut().find(|(n, _)| *n == lower) {
            Some((_, v)) => {
                v.push_str(", ");
                v.push_str(value);
            }
            None => out.push((lower, value.to_owned())),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Fetch § "no-CORS-safelisted request-header".
fn is_no_cors_safelisted(name: &str, value: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "accept" | "accept-language" | "content-language" | "content-type"
    ) && safelist::is_safelisted_request_header(name, value)
}

/// Headers describing a request body: dropped when a redirect turns the method into GET.
const BODY_HEADERS: [&str; 4] = [
    "content-encoding",
    "content-language",
    "content-location",
    "content-type",
];

/// Simulates the page's `fetch()` against `server`. See the [module docs](self).
///
/// ```
/// use corsica::fetch::{simulate, FetchRequest, HttpRequest, HttpResponse, NetworkError, Verdict};
/// let page = corsica::Origin::parse("http://app.localhost:3000")?;
/// let mut api = |r: &HttpRequest| -> Result<HttpResponse, NetworkError> {
///     Ok(HttpResponse::new(200).header("Access-Control-Allow-Origin", r.header("origin").unwrap_or("")))
/// };
/// let outcome = simulate(&FetchRequest::new(page, "http://api.localhost:8080/items"), &mut api, None);
/// assert!(outcome.is_allowed());
/// assert!(!outcome.preflight);
/// # Ok::<(), corsica::OriginError>(())
/// ```
pub fn simulate(
    request: &FetchRequest,
    server: &mut dyn Server,
    cache: Option<&mut PreflightCache>,
) -> Outcome {
    simulate_with(
        request,
        server,
        Options {
            cache,
            ..Options::default()
        },
    )
}

/// [`simulate`] with [`Options`].
///
/// ```
/// use corsica::fetch::{simulate_with, FetchRequest, HttpRequest, HttpResponse, NetworkError, Options, preflight::PreflightCache};
/// let page = corsica::Origin::parse("https://a.example")?;
/// let mut api = |r: &HttpRequest| -> Result<HttpResponse, NetworkError> {
///     Ok(HttpResponse::new(204).header("Access-Control-Allow-Origin", "*").header("Access-Control-Allow-Methods", "PUT"))
/// };
/// let mut cache = PreflightCache::default();
/// let req = FetchRequest::new(page, "https://b.example/x").method("PUT");
/// let first = simulate_with(&req, &mut api, Options { cache: Some(&mut cache), now: 0, ..Options::default() });
/// let second = simulate_with(&req, &mut api, Options { cache: Some(&mut cache), now: 1, ..Options::default() });
/// assert!(first.preflight && !second.preflight);
/// # Ok::<(), corsica::OriginError>(())
/// ```
pub fn simulate_with(
    request: &FetchRequest,
    server: &mut dyn Server,
    options: Options<'_>,
) -> Outcome {
    let mut sim = Simulation {
        request,
        server,
        steps: Vec::new(),
        preflight: false,
        cache: options.cache,
        now: options.now,
        authorization_needs_listing: options.authorization_needs_listing,
    };
    let verdict = sim.run();
    Outcome {
        verdict,
        preflight: sim.preflight,
        steps: sim.steps,
    }
}

struct Simulation<'a, 'c> {
    request: &'a FetchRequest,
    server: &'a mut dyn Server,
    steps: Vec<Step>,
    preflight: bool,
    cache: Option<&'c mut PreflightCache>,
    now: u64,
    authorization_needs_listing: bool,
}

fn same_origin(a: &url::Url, origin: &str) -> bool {
    a.origin().ascii_serialization() == origin
}

fn same_origin_urls(a: &url::Url, b: &url::Url) -> bool {
    a.origin() == b.origin() && !matches!(a.origin(), url::Origin::Opaque(_))
}

impl Simulation<'_, '_> {
    fn failed(reason: impl Into<String>) -> Verdict {
        Verdict::Failed {
            reason: reason.into(),
        }
    }

    /// Builds the blocked verdict with message and hint.
    fn blocked(
        &mut self,
        kind: CorsError,
        parameter: String,
        url: &str,
        cx: BlockContext<'_>,
    ) -> Verdict {
        let candidates = vec![parameter.clone()];
        self.blocked_among(kind, parameter, candidates, url, cx)
    }

    /// [`Simulation::blocked`] when Chromium may report any of several parameters.
    fn blocked_among(
        &mut self,
        kind: CorsError,
        parameter: String,
        candidates: Vec<String>,
        url: &str,
        cx: BlockContext<'_>,
    ) -> Verdict {
        if let Some(step) = self.steps.last_mut() {
            step.error = Some(kind);
        }
        let message = console_message(
            kind,
            &parameter,
            &MessageContext {
                url,
                initial_url: &self.request.url,
                origin: self.request.origin.as_str(),
            },
        );
        let hint = fix_hint(
            kind,
            &parameter,
            &HintContext {
                origin: cx.origin,
                method: cx.method,
                actual_method: cx.actual_method,
                url,
                credentials: self.request.credentials == Credentials::Include,
                unsafe_headers: cx.unsafe_headers,
                status: self
                    .steps
                    .last()
                    .and_then(|s| s.response.as_ref())
                    .map(|r| r.status),
            },
        );
        Verdict::Blocked(Blocked {
            error: kind,
            parameter,
            candidates,
            url: url.to_owned(),
            message,
            hint,
        })
    }

    /// Sends one request and records the exchange.
    fn exchange(&mut self, request: HttpRequest) -> Result<HttpResponse, NetworkError> {
        let result = self.server.send(&request);
        self.steps.push(Step {
            request,
            response: result.as_ref().ok().cloned(),
            redirected: false,
            error: None,
        });
        result
    }

    fn run(&mut self) -> Verdict {
        let req = self.request;
        let initiator = req.origin.as_str().to_owned();
        let include = req.credentials == Credentials::Include;

        // The Request constructor: URL, method, headers.
        let mut url = match url::Url::parse(&req.url) {
            Ok(u) => u,
            Err(e) => {
                return Self::failed(format!(
                    "TypeError: Failed to parse URL from {} ({e})",
                    req.url
                ));
            }
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Self::failed(format!(
                "TypeError: Request cannot be constructed from a URL that includes credentials: {}",
                req.url
            ));
        }
        url.set_fragment(None);
        if !is_token(req.method.as_bytes()) {
            return Self::failed(format!(
                "TypeError: '{}' is not a valid HTTP method.",
                req.method
            ));
        }
        if is_forbidden(&req.method) {
            return Self::failed(format!(
                "TypeError: '{}' HTTP method is unsupported.",
                req.method
            ));
        }
        let mut method = normalize(&req.method).into_owned();
        if req.mode == Mode::NoCors && !safelist::is_safelisted_method(&method) {
            return Self::failed(format!(
                "TypeError: '{method}' is unsupported in no-cors mode."
            ));
        }
        let mut headers = match normalize_headers(&req.headers, req.mode) {
            Ok(h) => h,
            Err(e) => return Self::failed(e),
        };
        // Failures before anything is sent (renderer-side in Chromium).
        let cross_origin = !same_origin(&url, &initiator);
        let early = if !matches!(url.scheme(), "http" | "https") {
            Some((CorsError::CorsDisabledScheme, url.scheme().to_owned()))
        } else if req.mode == Mode::SameOrigin && cross_origin {
            Some((CorsError::DisallowedByMode, String::new()))
        } else if req.mode == Mode::NoCors && cross_origin && req.redirect != RedirectMode::Follow {
            Some((CorsError::NoCorsRedirectModeNotFollow, String::new()))
        } else {
            None
        };
        if let Some((kind, parameter)) = early {
            let url_s = url.to_string();
            return self.blocked(
                kind,
                parameter,
                &url_s,
                BlockContext {
                    origin: &initiator,
                    method: &method,
                    actual_method: &method,
                    unsafe_headers: &[],
                },
            );
        }

        let cors_mode = req.mode == Mode::Cors;
        let mut cors_flag = cross_origin && cors_mode;
        let mut opaque = cross_origin && req.mode == Mode::NoCors;
        let mut tainted = false;
        // Chromium's network stack, when it follows a redirect itself (no-cors mode), sets
        // `Origin: null` on a non-GET/HEAD request redirected to another origin
        // (`net::RedirectUtil::UpdateHttpRequest`).
        let mut origin_nulled = false;
        let mut redirects = 0usize;
        // Fetch Metadata: the least related of every URL so far and the initiator.
        let mut site = FetchSite::of(&req.origin, &url);
        loop {
            site = site.max(FetchSite::of(&req.origin, &url));
            let url_s = url.to_string();
            let origin_value = if tainted || origin_nulled {
                "null".to_owned()
            } else {
                initiator.clone()
            };
            let unsafe_headers =
                unsafe_header_names(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));

            // CORS-preflight fetch.
            if cors_flag && preflight::needs_preflight(&method, &unsafe_headers) {
                let cached = match self.cache.as_deref_mut() {
                    Some(c) => c.lookup(
                        &origin_value,
                        &url_s,
                        include,
                        &method,
                        &unsafe_headers,
                        self.now,
                    ),
                    None => false,
                };
                if !cached {
                    self.preflight = true;
                    let mut pf_headers = vec![
                        ("Accept".to_owned(), "*/*".to_owned()),
                        ("Access-Control-Request-Method".to_owned(), method.clone()),
                    ];
                    if let Some(v) = preflight::request_headers_value(&unsafe_headers) {
                        pf_headers.push(("Access-Control-Request-Headers".to_owned(), v));
                    }
                    pf_headers.push(("Origin".to_owned(), origin_value.clone()));
                    pf_headers.push(("Sec-Fetch-Dest".to_owned(), "empty".to_owned()));
                    pf_headers.push(("Sec-Fetch-Mode".to_owned(), "cors".to_owned()));
                    pf_headers.push(("Sec-Fetch-Site".to_owned(), site.as_str().to_owned()));
                    let response = match self.exchange(HttpRequest {
                        method: "OPTIONS".into(),
                        url: url_s.clone(),
                        headers: pf_headers,
                        preflight: true,
                        credentials: false,
                    }) {
                        Ok(r) => r,
                        Err(e) => return Self::failed(e.to_string()),
                    };
                    let bcx = BlockContext {
                        origin: &origin_value,
                        method: "OPTIONS",
                        actual_method: &method,
                        unsafe_headers: &unsafe_headers,
                    };
                    if response.is_redirect() {
                        return self.blocked(
                            CorsError::PreflightDisallowedRedirect,
                            String::new(),
                            &url_s,
                            bcx,
                        );
                    }
                    match preflight::judge(
                        &response,
                        &origin_value,
                        include,
                        &method,
                        &unsafe_headers,
                        self.authorization_needs_listing,
                    ) {
                        Ok(result) => {
                            if let Some(c) = self.cache.as_deref_mut() {
                                c.store(&origin_value, &url_s, result, self.now);
                            }
                        }
                        Err(e) => {
                            let (kind, parameter) = e.failure;
                            let candidates = match (&e.result, kind) {
                                (Some(r), CorsError::HeaderDisallowedByPreflightResponse) => {
                                    r.disallowed_headers(&unsafe_headers)
                                }
                                _ => vec![parameter.clone()],
                            };
                            return self.blocked_among(kind, parameter, candidates, &url_s, bcx);
                        }
                    }
                }
            }

            // The request itself.
            let mut sent = headers.clone();
            if cors_flag || !matches!(method.as_str(), "GET" | "HEAD") {
                sent.push(("origin".to_owned(), origin_value.clone()));
            }
            let mode_name = match req.mode {
                Mode::Cors => "cors",
                Mode::SameOrigin => "same-origin",
                Mode::NoCors => "no-cors",
            };
            sent.push(("sec-fetch-dest".to_owned(), "empty".to_owned()));
            sent.push(("sec-fetch-mode".to_owned(), mode_name.to_owned()));
            sent.push(("sec-fetch-site".to_owned(), site.as_str().to_owned()));
            let credentials = match req.credentials {
                Credentials::Include => true,
                Credentials::SameOrigin => !tainted && same_origin(&url, &initiator),
                Credentials::Omit => false,
            };
            let response = match self.exchange(HttpRequest {
                method: method.clone(),
                url: url_s.clone(),
                headers: sent,
                preflight: false,
                credentials,
            }) {
                Ok(r) => r,
                Err(e) => return Self::failed(e.to_string()),
            };
            let bcx = BlockContext {
                origin: &origin_value,
                method: &method,
                actual_method: &method,
                unsafe_headers: &unsafe_headers,
            };

            if !response.is_redirect() {
                if cors_flag {
                    if let Err((kind, parameter)) =
                        check::cors_check(&response, &origin_value, include)
                    {
                        return self.blocked(kind, parameter, &url_s, bcx);
                    }
                }
                let (status, response_type, readable) = if opaque {
                    (0, ResponseType::Opaque, Vec::new())
                } else if cors_flag {
                    (
                        response.status,
                        ResponseType::Cors,
                        check::exposed_headers(&response, include),
                    )
                } else {
                    let mut all: Vec<String> = response
                        .headers
                        .iter()
                        .map(|(n, _)| n.to_ascii_lowercase())
                        .filter(|n| n != "set-cookie" && n != "set-cookie2")
                        .collect();
                    all.sort();
                    all.dedup();
                    (response.status, ResponseType::Basic, all)
                };
                return Verdict::Allowed {
                    status,
                    response_type,
                    readable_headers: readable,
                    url: url_s,
                };
            }

            // HTTP-redirect fetch (Fetch § 4.4), in Chromium's order.
            if let Some(step) = self.steps.last_mut() {
                step.redirected = true;
            }
            if cors_flag {
                if let Err((kind, parameter)) = check::cors_check(&response, &origin_value, include)
                {
                    return self.blocked(kind, parameter, &url_s, bcx);
                }
            }
            match req.redirect {
                RedirectMode::Error => {
                    return Self::failed("TypeError: Failed to fetch (redirect mode is \"error\")");
                }
                RedirectMode::Manual => {
                    return Verdict::Allowed {
                        status: 0,
                        response_type: ResponseType::OpaqueRedirect,
                        readable_headers: Vec::new(),
                        url: url_s,
                    };
                }
                RedirectMode::Follow => {}
            }
            if redirects == MAX_REDIRECTS {
                return Self::failed("net::ERR_TOO_MANY_REDIRECTS");
            }
            redirects += 1;
            let locations = response.locations();
            if locations.iter().any(|l| *l != locations[0]) {
                return Self::failed("net::ERR_RESPONSE_HEADERS_MULTIPLE_LOCATION");
            }
            let location = locations[0].to_owned();
            let next = match url.join(&location) {
                Ok(u) => u,
                Err(_) => {
                    return Self::failed(format!(
                        "net::ERR_INVALID_REDIRECT (Location `{location}`)"
                    ));
                }
            };
            if !matches!(next.scheme(), "http" | "https") {
                return Self::failed(format!("net::ERR_UNSAFE_REDIRECT (Location `{next}`)"));
            }
            if let Err((kind, parameter)) =
                check::redirect_location_check(&next, cors_mode, &initiator, cors_flag, tainted)
            {
                return self.blocked(kind, parameter, &url_s, bcx);
            }
            if req.mode == Mode::SameOrigin && !same_origin(&next, &initiator) {
                // Seen in Chromium 156: the load is aborted without a CORS error (the
                // Fetch standard and DevTools' `DisallowedByMode` notwithstanding).
                return Self::failed(format!(
                    "net::ERR_ABORTED (mode \"same-origin\" and a redirect to another origin: {next})"
                ));
            }
            if !next.username().is_empty() || next.password().is_some() {
                // Seen in Chromium 156: a redirect to a URL with credentials that is no
                // CORS error (same-origin, untainted) is not followed either.
                return Self::failed(format!(
                    "net::ERR_ABORTED (redirect to a URL with credentials: {next})"
                ));
            }
            if !same_origin_urls(&next, &url) && !same_origin(&url, &initiator) {
                tainted = true;
            }
            let to_get = (matches!(response.status, 301 | 302) && method == "POST")
                || (response.status == 303 && !matches!(method.as_str(), "GET" | "HEAD"));
            if to_get {
                method = "GET".into();
                headers.retain(|(n, _)| !BODY_HEADERS.contains(&n.as_str()));
            }
            if req.mode == Mode::NoCors
                && !matches!(method.as_str(), "GET" | "HEAD")
                && !same_origin_urls(&next, &url)
            {
                origin_nulled = true;
            }
            url = next;
            url.set_fragment(None);
            let next_cross = !same_origin(&url, &initiator);
            if req.mode == Mode::NoCors {
                opaque = opaque || next_cross;
            } else {
                cors_flag = cors_flag || next_cross;
            }
        }
    }
}

/// The `Sec-Fetch-Site` value (Fetch Metadata), ordered from most to least related.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum FetchSite {
    SameOrigin,
    SameSite,
    CrossSite,
}

impl FetchSite {
    /// How `url` relates to the initiator: same origin, same site (scheme and registrable
    /// domain), or cross-site.
    fn of(initiator: &Origin, url: &url::Url) -> FetchSite {
        if same_origin(url, initiator.as_str()) {
            return FetchSite::SameOrigin;
        }
        let site = |scheme: &str, host: &str| {
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase();
            let registrable = psl::domain_str(&host).map(str::to_owned).unwrap_or(host);
            (scheme.to_owned(), registrable)
        };
        match (initiator.scheme(), initiator.host(), url.host_str()) {
            (Some(s), Some(h), Some(u)) if site(s, h) == site(url.scheme(), u) => {
                FetchSite::SameSite
            }
            _ => FetchSite::CrossSite,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            FetchSite::SameOrigin => "same-origin",
            FetchSite::SameSite => "same-site",
            FetchSite::CrossSite => "cross-site",
        }
    }
}

/// What a hint needs about the failing exchange.
struct BlockContext<'a> {
    origin: &'a str,
    method: &'a str,
    actual_method: &'a str,
    unsafe_headers: &'a [String],
}
