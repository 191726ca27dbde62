//! The request: a page's `fetch()` call as the `Request` constructor and the `Headers`
//! object see it (Fetch § 5.4 "Request class"), what the browser sends (Fetch Metadata
//! included), and the failures before anything is sent.

use super::browser::Browser;
use super::error::CorsError;
use super::local_network::{AddressSpace, LocalNetwork};
use super::outcome::{ResponseType, Verdict};
use super::safelist::{self, is_forbidden_request_header};
use crate::Origin;
use crate::method::{is_forbidden, is_token, normalize};

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
    /// The `targetAddressSpace` option: where the page says the server is (Local Network
    /// Access); `None` checks nothing (like `unknown`).
    pub target_address_space: Option<AddressSpace>,
    /// Where the page and the servers are on the network, for Local Network Access;
    /// `None` leaves the check out (only `targetAddressSpace` is checked).
    pub local_network: Option<LocalNetwork>,
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
            target_address_space: None,
            local_network: None,
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

    /// Sets the `targetAddressSpace` option.
    ///
    /// ```
    /// # let r = corsica::fetch::FetchRequest::new(corsica::Origin::null(), "http://192.168.1.1/");
    /// let r = r.target_address_space(corsica::fetch::AddressSpace::Local);
    /// ```
    pub fn target_address_space(mut self, space: AddressSpace) -> FetchRequest {
        self.target_address_space = Some(space);
        self
    }

    /// Turns the Local Network Access check on, with where the page and servers are.
    ///
    /// ```
    /// use corsica::fetch::{AddressSpace, FetchRequest, LocalNetwork};
    /// let page = corsica::Origin::parse("https://app.example.com")?;
    /// let r = FetchRequest::new(page.clone(), "http://localhost:8080/")
    ///     .local_network(LocalNetwork::for_page(&page).grant(AddressSpace::Loopback));
    /// # Ok::<(), corsica::OriginError>(())
    /// ```
    pub fn local_network(mut self, network: LocalNetwork) -> FetchRequest {
        self.local_network = Some(network);
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

/// Normalizes the page's headers as the `Headers` object does: names validated, values
/// trimmed of HTTP whitespace and validated, forbidden request headers dropped, then
/// sorted by lower-cased name and same-name values combined with `", "` (in Firefox, which
/// judges each appended line on its own, same-name lines are kept apart, in order).
fn normalize_headers(
    headers: &[(String, String)],
    mode: Mode,
    browser: Browser,
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
        if mode == Mode::NoCors && !is_no_cors_safelisted(browser, name, value) {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        let combine = !browser.judges_headers_as_appended();
        match out.iter_mut().find(|(n, _)| combine && *n == lower) {
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
fn is_no_cors_safelisted(browser: Browser, name: &str, value: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "accept" | "accept-language" | "content-language" | "content-type"
    ) && safelist::is_safelisted_request_header_in(browser, name, value)
}

/// A `fetch()` call as the `Request` constructor leaves it: URL parsed (fragment dropped),
/// method validated and normalized, headers normalized.
pub(super) struct Constructed {
    pub(super) url: url::Url,
    pub(super) method: String,
    pub(super) headers: Vec<(String, String)>,
}

/// The `Request` constructor: the `TypeError`s a page gets before anything is sent.
pub(super) fn construct(req: &FetchRequest, browser: Browser) -> Result<Constructed, String> {
    let mut url = url::Url::parse(&req.url)
        .map_err(|e| format!("TypeError: Failed to parse URL from {} ({e})", req.url))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "TypeError: Request cannot be constructed from a URL that includes credentials: {}",
            req.url
        ));
    }
    url.set_fragment(None);
    if !is_token(req.method.as_bytes()) {
        return Err(format!(
            "TypeError: '{}' is not a valid HTTP method.",
            req.method
        ));
    }
    if is_forbidden(&req.method) {
        return Err(format!(
            "TypeError: '{}' HTTP method is unsupported.",
            req.method
        ));
    }
    let method = normalize(&req.method).into_owned();
    if req.mode == Mode::NoCors && !safelist::is_safelisted_method(&method) {
        return Err(format!(
            "TypeError: '{method}' is unsupported in no-cors mode."
        ));
    }
    let headers = normalize_headers(&req.headers, req.mode, browser)?;
    Ok(Constructed {
        url,
        method,
        headers,
    })
}

/// The CORS failures before anything is sent (renderer-side in Chromium), in Chromium's
/// order: `same-origin` mode to another origin, `no-cors` with a redirect mode other than
/// `follow`, a scheme that is not HTTP(S) (nor `data:`, `file:` or `blob:`, see
/// [`scheme_fetch`]). The kind and the failed parameter.
pub(super) fn refused_before_sending(
    req: &FetchRequest,
    url: &url::Url,
) -> Option<(CorsError, String)> {
    let cross_origin = !same_origin(url, req.origin.as_str());
    if req.mode == Mode::SameOrigin && cross_origin {
        Some((CorsError::DisallowedByMode, String::new()))
    } else if req.mode == Mode::NoCors && cross_origin && req.redirect != RedirectMode::Follow {
        Some((CorsError::NoCorsRedirectModeNotFollow, String::new()))
    } else if !matches!(url.scheme(), "http" | "https" | "data" | "file" | "blob") {
        Some((CorsError::CorsDisabledScheme, url.scheme().to_owned()))
    } else {
        None
    }
}

/// The URLs `fetch()` loads without HTTP (Chromium 156, every mode): `data:` resolves
/// (status 200, type `basic`, `Content-Type` readable) before any check; `file:` and
/// `blob:` fail without a CORS error unless refused earlier by the mode. Every other
/// non-HTTP(S) scheme is [`CorsError::CorsDisabledScheme`].
pub(super) fn scheme_fetch(req: &FetchRequest, url: &url::Url) -> Option<Verdict> {
    match url.scheme() {
        "data" => Some(Verdict::Allowed {
            status: 200,
            response_type: ResponseType::Basic,
            readable_headers: vec!["content-type".to_owned()],
            url: url.to_string(),
        }),
        "file" | "blob" if refused_before_sending(req, url).is_none() => Some(Verdict::Failed {
            reason: format!(
                "TypeError: Failed to fetch ({} URLs fail without a CORS error)",
                url.scheme()
            ),
            console: None,
        }),
        _ => None,
    }
}

/// Whether `a` is of the origin serialized as `origin`.
pub(super) fn same_origin(a: &url::Url, origin: &str) -> bool {
    a.origin().ascii_serialization() == origin
}

/// Whether two URLs are of the same (tuple) origin.
pub(super) fn same_origin_urls(a: &url::Url, b: &url::Url) -> bool {
    a.origin() == b.origin() && !matches!(a.origin(), url::Origin::Opaque(_))
}

impl Mode {
    /// The `Sec-Fetch-Mode` value.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Mode::Cors => "cors",
            Mode::SameOrigin => "same-origin",
            Mode::NoCors => "no-cors",
        }
    }
}

/// The `Sec-Fetch-Site` value (Fetch Metadata), ordered from most to least related.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum FetchSite {
    SameOrigin,
    SameSite,
    CrossSite,
}

impl FetchSite {
    /// How `url` relates to the initiator: same origin, same site (scheme and registrable
    /// domain), or cross-site.
    pub(super) fn of(initiator: &Origin, url: &url::Url) -> FetchSite {
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

    pub(super) fn as_str(self) -> &'static str {
        match self {
            FetchSite::SameOrigin => "same-origin",
            FetchSite::SameSite => "same-site",
            FetchSite::CrossSite => "cross-site",
        }
    }
}
