//! The fetch itself: Fetch § 4.1 "main fetch" as Chromium runs it, one hop per redirect.
//! Each step lives with its concept: the `Request` constructor in `request`, the
//! CORS-preflight fetch in `preflight`, the CORS check of a response in `check`, the
//! HTTP-redirect fetch in `redirect`; this module strings them together.

use super::CorsError;
use super::browser::{Browser, ErrorKind};
use super::error::{HintContext, MessageContext, allowed_plus, console_message, fix_hint};
use super::firefox::FirefoxError;
use super::outcome::{Blocked, ConsoleError, Outcome, Step, Verdict};
use super::preflight::{PreflightCache, needs_preflight};
use super::request::scheme_fetch;
use super::request::{Constructed, FetchSite, construct, refused_before_sending, same_origin};
use super::request::{Credentials, FetchRequest, HttpRequest, Mode};
use super::response::{HttpResponse, NetworkError, Server};
use super::safelist::is_safelisted_method;
use super::safelist::unsafe_header_names_in;
use super::webkit::WebKitError;

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
    /// The browser to speak for (Chromium by default).
    pub browser: Browser,
}

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
        browser: options.browser,
    };
    let verdict = sim.run();
    Outcome {
        browser: sim.browser,
        verdict,
        preflight: sim.preflight,
        steps: sim.steps,
    }
}

/// One simulated `fetch()`: the request, the server, and what happened so far.
pub(super) struct Simulation<'a, 'c> {
    pub(super) request: &'a FetchRequest,
    server: &'a mut dyn Server,
    pub(super) steps: Vec<Step>,
    /// Whether a preflight was sent.
    pub(super) preflight: bool,
    pub(super) cache: Option<&'c mut PreflightCache>,
    pub(super) now: u64,
    pub(super) authorization_needs_listing: bool,
    pub(super) browser: Browser,
}

/// Where a fetch stands: the request state that a redirect changes.
pub(super) struct Hop {
    /// The current URL (fragment dropped).
    pub(super) url: url::Url,
    /// The current method (a redirect may turn it into `GET`).
    pub(super) method: String,
    /// The page's headers, normalized (a redirect to `GET` drops the body headers).
    pub(super) headers: Vec<(String, String)>,
    /// The header names in the order Chromium's network service holds them (set once
    /// from the first URL; see [`header_order`](super::header_order)).
    pub(super) network_order: Vec<String>,
    /// Fetch's CORS flag: in `cors` mode, the request has left the page's origin.
    pub(super) cors_flag: bool,
    /// In `no-cors` mode, the request has left the page's origin: the response is opaque.
    pub(super) opaque: bool,
    /// A redirect through another origin tainted the origin: `Origin: null` from now on
    /// (Fetch § 4.4 "HTTP-redirect fetch").
    pub(super) tainted: bool,
    /// Chromium's network stack, when it follows a redirect itself (`no-cors`), sets
    /// `Origin: null` on a non-GET/HEAD request redirected to another origin
    /// (`net::RedirectUtil::UpdateHttpRequest`).
    pub(super) origin_nulled: bool,
    /// A request of this fetch carried `Origin` (WebKit keeps it on a later `GET`).
    pub(super) origin_sent: bool,
    /// Redirects followed so far.
    pub(super) redirects: usize,
    /// Fetch Metadata: the least related of every URL so far and the initiator.
    pub(super) site: FetchSite,
}

impl Hop {
    /// The `Origin` the browser sends on this hop.
    pub(super) fn origin_value(&self, initiator: &str) -> String {
        if self.tainted || self.origin_nulled {
            "null".to_owned()
        } else {
            initiator.to_owned()
        }
    }
}

impl Simulation<'_, '_> {
    /// A rejection without a CORS error.
    pub(super) fn failed(reason: impl Into<String>) -> Verdict {
        Verdict::Failed {
            reason: reason.into(),
            console: None,
        }
    }

    /// A failure below CORS (the network, the redirect limit, a broken redirect) on this
    /// hop: Firefox's console reports it as `CORSDidNotSucceed` when the hop is a CORS
    /// request.
    pub(super) fn network_failed(&self, hop: &Hop, reason: impl Into<String>) -> Verdict {
        let console =
            (self.browser.reports_network_failure_as_cors_error() && hop.cors_flag).then(|| {
                let kind = FirefoxError::DidNotSucceed;
                ConsoleError {
                    kind: ErrorKind::Firefox(kind),
                    message: kind.console_message(hop.url.as_str(), "", None),
                }
            });
        Verdict::Failed {
            reason: reason.into(),
            console,
        }
    }

    /// Whether the credentials mode is `include`.
    pub(super) fn include(&self) -> bool {
        self.request.credentials == Credentials::Include
    }

    /// Builds the blocked verdict with message and hint.
    pub(super) fn blocked(
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
    pub(super) fn blocked_among(
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
        let status = self
            .steps
            .last()
            .and_then(|s| s.response.as_ref())
            .map(|r| r.status);
        let mut browser_kind = ErrorKind::of(self.browser, kind);
        // The hint is written from the model's parameter (the method, the header), whatever
        // the browser shows of it.
        let checked = parameter.clone();
        let (parameter, message) = match browser_kind {
            ErrorKind::Firefox(key) => {
                // Firefox's text quotes a value only for some keys, and gives the failing
                // response's status where it has one (none for a channel failure).
                let parameter = if key.quotes_parameter() {
                    parameter
                } else {
                    String::new()
                };
                let status = status.filter(|_| key != FirefoxError::DidNotSucceed);
                let message = key.console_message(url, &parameter, status);
                (parameter, message)
            }
            ErrorKind::WebKit(_) => {
                let (key, parameter, location) =
                    self.webkit_report(kind, parameter, &candidates, cx.origin);
                browser_kind = ErrorKind::WebKit(key);
                let message = key.console_message(&parameter, cx.origin, status, &location);
                (parameter, message)
            }
            ErrorKind::Chromium(_) => {
                let message = console_message(
                    kind,
                    &parameter,
                    &MessageContext {
                        url,
                        initial_url: &self.request.url,
                        origin: self.request.origin.as_str(),
                    },
                );
                (parameter, message)
            }
        };
        if let Some(step) = self.steps.last_mut() {
            step.kind = Some(browser_kind);
        }
        let tainted = cx.origin == "null" && self.request.origin.as_str() != "null";
        // Firefox lists a name appended twice twice; hints and fixes name it once.
        let mut unsafe_headers = cx.unsafe_headers.to_vec();
        unsafe_headers.dedup();
        let mut candidates = candidates;
        candidates.dedup();
        let hint_cx = HintContext {
            origin: cx.origin,
            method: cx.method,
            actual_method: cx.actual_method,
            url,
            credentials: self.include(),
            unsafe_headers: &unsafe_headers,
            status,
            response: self.steps.last().and_then(|s| s.response.as_ref()),
            tainted,
        };
        let hint = fix_hint(kind, &checked, &hint_cx);
        let wanted_method: Vec<String> = if is_safelisted_method(cx.actual_method) {
            Vec::new()
        } else {
            vec![cx.actual_method.to_owned()]
        };
        // Lists only where the request needs one; then keep what the server already allows.
        let list = |name: &str, wanted: &[String]| {
            if wanted.is_empty() {
                Vec::new()
            } else {
                allowed_plus(&hint_cx, name, wanted)
            }
        };
        let fix_methods = list("access-control-allow-methods", &wanted_method);
        let fix_headers = list("access-control-allow-headers", &unsafe_headers);
        Verdict::Blocked(Blocked {
            browser: self.browser,
            error: kind,
            kind: browser_kind,
            parameter,
            candidates,
            url: url.to_owned(),
            message,
            hint,
            origin: cx.origin.to_owned(),
            fix_methods,
            fix_headers,
            tainted_origin: tainted,
        })
    }

    /// WebKit's kind, parameter and (for a redirect) the `Location` as written, for a
    /// failed check: a failure at a redirect response is `Redirect…` and names the
    /// redirect's target; `OriginNotAllowed` names the request's origin; a disallowed
    /// header is the first the page set, as it wrote it.
    fn webkit_report(
        &self,
        kind: CorsError,
        parameter: String,
        candidates: &[String],
        origin: &str,
    ) -> (WebKitError, String, String) {
        let step = self.steps.last();
        let location = step.filter(|s| s.redirected).and_then(|s| {
            let response = s.response.as_ref()?;
            let to = response.locations().join(", ");
            url::Url::parse(&s.request.url).ok()?.join(&to).ok()
        });
        let mut key = WebKitError::of(kind, &parameter);
        if location.is_some() {
            key = key.at_redirect();
        }
        let written = location
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let target = location.map(|mut u| {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        });
        let parameter = match key {
            _ if key.names_redirect_target() => target.unwrap_or_default(),
            WebKitError::OriginNotAllowed => origin.to_owned(),
            WebKitError::HeaderNotAllowed => super::webkit::header_map_order(
                self.request.headers.iter().map(|(n, _)| n.as_str()),
            )
            .into_iter()
            .find(|n| candidates.iter().any(|c| c.eq_ignore_ascii_case(n)))
            .unwrap_or(parameter),
            k if k.names_parameter() => parameter,
            _ => String::new(),
        };
        (key, parameter, written)
    }

    /// Sends one request and records the exchange.
    pub(super) fn exchange(&mut self, request: HttpRequest) -> Result<HttpResponse, NetworkError> {
        let mut result = self.server.send(&request);
        // Every browser refuses a response whose header holds a NUL byte as a response at
        // all (Chromium: `net::ERR_INVALID_HTTP_RESPONSE`), before any CORS check.
        if let Some((name, _)) = result
            .as_ref()
            .ok()
            .and_then(|r| r.headers.iter().find(|(_, v)| v.contains('\0')))
        {
            result = Err(NetworkError(format!(
                "net::ERR_INVALID_HTTP_RESPONSE (a NUL byte in the `{name}` response header)"
            )));
        }
        if self.browser.fails_unexpected_proxy_auth()
            && result.as_ref().is_ok_and(|r| r.status == 407)
        {
            result = Err(NetworkError("net::ERR_UNEXPECTED_PROXY_AUTH".into()));
        }
        self.steps.push(Step {
            request,
            response: result.as_ref().ok().cloned(),
            redirected: false,
            error: None,
            kind: None,
        });
        if self.browser.drops_empty_header_lines() {
            result = result.map(|r| r.without_empty_repeats());
        }
        result
    }

    fn run(&mut self) -> Verdict {
        let req = self.request;
        let initiator = req.origin.as_str();
        let Constructed {
            url,
            method,
            headers,
        } = match construct(req, self.browser) {
            Ok(c) => c,
            Err(e) => return Self::failed(e),
        };
        if let Some(verdict) = scheme_fetch(req, &url) {
            return verdict;
        }
        if let Some((kind, parameter)) = refused_before_sending(req, &url) {
            if !self.browser.reports_mode_as_cors_error() {
                match kind {
                    CorsError::DisallowedByMode => {
                        // Firefox logs a `Security Error` line; WebKit nothing.
                        return Self::failed(format!(
                            "Security Error: Content at {}/ may not load data from {url}.",
                            req.origin
                        ));
                    }
                    CorsError::NoCorsRedirectModeNotFollow
                        if !self.browser.reports_no_cors_redirect_mode() =>
                    {
                        return Self::failed(
                            "TypeError: mode \"no-cors\" with a redirect mode other than \"follow\"",
                        );
                    }
                    _ => {}
                }
            }
            let url_s = url.to_string();
            let cx = BlockContext {
                origin: initiator,
                method: &method,
                actual_method: &method,
                unsafe_headers: &[],
            };
            return self.blocked(kind, parameter, &url_s, cx);
        }
        let cross_origin = !same_origin(&url, initiator);
        let network_order = if self.browser.names_disallowed_header_in_map_order() {
            super::header_order::network_order(&headers, &url)
        } else {
            Vec::new()
        };
        let mut hop = Hop {
            site: FetchSite::of(&req.origin, &url),
            url,
            method,
            headers,
            network_order,
            cors_flag: cross_origin && req.mode == Mode::Cors,
            opaque: cross_origin && req.mode == Mode::NoCors,
            tainted: false,
            origin_nulled: false,
            origin_sent: false,
            redirects: 0,
        };
        loop {
            hop.site = hop.site.max(FetchSite::of(&req.origin, &hop.url));
            let url_s = hop.url.to_string();
            let origin_value = hop.origin_value(initiator);
            let unsafe_headers = unsafe_header_names_in(
                self.browser,
                hop.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            );
            if self.browser.enforces_local_network_access() {
                if let Some(verdict) = self.local_network_access(&hop, &url_s) {
                    return verdict;
                }
            }
            if hop.cors_flag && needs_preflight(&hop.method, &unsafe_headers) {
                let preflight_origin = if self.browser.preflight_keeps_page_origin() {
                    initiator.to_owned()
                } else {
                    origin_value.clone()
                };
                if let Some(verdict) =
                    self.preflight_fetch(&hop, &url_s, &preflight_origin, &unsafe_headers)
                {
                    return verdict;
                }
            }
            let request = self.actual_request(&hop, &url_s, &origin_value);
            hop.origin_sent |= request.header("origin").is_some();
            let response = match self.exchange(request) {
                Ok(r) => r,
                Err(e) => return self.network_failed(&hop, e.to_string()),
            };
            if !response.is_redirect_in(self.browser) {
                return self.final_response(&hop, &response, url_s, &origin_value, &unsafe_headers);
            }
            if let Some(verdict) = self.http_redirect_fetch(
                &mut hop,
                &response,
                &url_s,
                &origin_value,
                &unsafe_headers,
            ) {
                return verdict;
            }
        }
    }

    /// The request itself, as the browser sends it on this hop.
    fn actual_request(&self, hop: &Hop, url: &str, origin_value: &str) -> HttpRequest {
        let req = self.request;
        let mut sent = hop.headers.clone();
        if hop.cors_flag
            || !matches!(hop.method.as_str(), "GET" | "HEAD")
            || (hop.origin_sent && self.browser.keeps_origin_after_method_change())
        {
            sent.push(("origin".to_owned(), origin_value.to_owned()));
        }
        sent.push(("sec-fetch-dest".to_owned(), "empty".to_owned()));
        sent.push(("sec-fetch-mode".to_owned(), req.mode.as_str().to_owned()));
        sent.push(("sec-fetch-site".to_owned(), hop.site.as_str().to_owned()));
        let credentials = match req.credentials {
            Credentials::Include => true,
            Credentials::SameOrigin => !hop.tainted && same_origin(&hop.url, req.origin.as_str()),
            Credentials::Omit => false,
        };
        HttpRequest {
            method: hop.method.clone(),
            url: url.to_owned(),
            headers: sent,
            preflight: false,
            credentials,
        }
    }
}

/// What a hint needs about the failing exchange.
pub(super) struct BlockContext<'a> {
    /// The `Origin` the failing request carried.
    pub(super) origin: &'a str,
    /// The failing request's method (`OPTIONS` for a preflight).
    pub(super) method: &'a str,
    /// The method of the request the page asked for.
    pub(super) actual_method: &'a str,
    /// The CORS-unsafe request-header names.
    pub(super) unsafe_headers: &'a [String],
}
