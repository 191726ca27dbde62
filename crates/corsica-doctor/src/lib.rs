//! # corsica-doctor: why is my request blocked?
//!
//! - [`check`]: performs against a live server exactly what Chromium would do for
//!   `fetch(url, {method, headers, credentials})` from a page at an origin (preflight,
//!   redirects, tainted origin), and explains the verdict with Chromium's error, console
//!   message and a fix.
//! - [`har`]: the same explanations, offline, for every cross-origin request of a HAR file
//!   exported from DevTools.
//! - [`scan`]: probes URLs for CORS misconfigurations (reflected origin, `null`, bypasses).
//! - [`output`]: the JSON and SARIF outputs of every `corsica` command, as `serde` structs.
//!
//! All three run the [`corsica::fetch`] browser model, which the conformance suite proves
//! against real Chromium. Their errors are typed ([`DoctorError`], [`har::HarError`],
//! [`live::ResolveError`], [`scan::ScanError`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod har;
pub mod live;
pub mod output;
pub mod playground;
pub mod report;
pub mod scan;
mod wire;

use corsica::Origin;
use corsica::fetch::{
    Browser, Credentials, FetchRequest, HttpRequest, HttpResponse, NetworkError, Options, Outcome,
    Server, simulate_with,
};

pub use live::{LiveOptions, LiveServer};

/// Usage errors of the doctor (exit code 2).
///
/// ```
/// use corsica_doctor::{CheckArgs, DoctorError, fetch_request};
/// let mut args = CheckArgs {
///     url: "ftp://files.example.com/".into(),
///     origin: "https://app.example.com".into(),
///     method: "GET".into(),
///     headers: vec![],
///     credentials: Default::default(),
///     live: Default::default(),
/// };
/// let err = fetch_request(&args).unwrap_err();
/// assert!(matches!(err, DoctorError::Url(_)));
/// assert_eq!(err.to_string(), "`ftp://files.example.com/` is not an absolute http:// or https:// URL");
///
/// args.url = "http://localhost:99999/".into();
/// assert_eq!(fetch_request(&args).unwrap_err().to_string(), "`http://localhost:99999/`: the port must be a number from 0 to 65535");
///
/// args.url = "https://api.example.com/".into();
/// args.headers = vec!["X-API-Key secret".into()];
/// assert!(matches!(fetch_request(&args), Err(DoctorError::Header(h)) if h == "X-API-Key secret"));
/// args.headers = vec!["Cookie: session=1".into()];
/// assert!(fetch_request(&args).unwrap_err().to_string().contains("--cookie NAME=VALUE"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    /// `--origin` is not an origin.
    #[error("--origin: {0}")]
    Origin(#[from] corsica::OriginError),
    /// A `-H` argument is not `Name: value`.
    #[error("-H `{0}`: write a header as 'Name: value', e.g. -H 'X-API-Key: secret'")]
    Header(String),
    /// The URL is not an absolute http(s) URL.
    #[error("`{0}` is not an absolute http:// or https:// URL")]
    Url(String),
    /// The URL's port is not a port number.
    #[error("`{0}`: the port must be a number from 0 to 65535")]
    Port(String),
    /// `-H 'Cookie: …'`: a page cannot set it.
    #[error(
        "-H `{0}`: a page cannot set `Cookie` (fetch() drops it); pass the browser's stored cookie with --cookie NAME=VALUE (sent when the credentials mode attaches cookies, e.g. --credentials include)"
    )]
    CookieHeader(String),
    /// A `--cookie` argument is not `NAME=VALUE`.
    #[error("--cookie `{0}`: write it as NAME=VALUE, e.g. --cookie session=abc123")]
    Cookie(String),
    /// The HTTP client could not be set up.
    #[error(transparent)]
    Client(#[from] live::ClientError),
}

/// What `corsica check` is asked.
///
/// ```
/// use corsica::fetch::Credentials;
/// use corsica_doctor::{CheckArgs, fetch_request};
/// // corsica check https://api.example.com/me --origin https://app.example.com \
/// //   --method delete -H 'Authorization: Bearer t' --credentials include
/// let args = CheckArgs {
///     url: "https://api.example.com/me".into(),
///     origin: "https://app.example.com".into(),
///     method: "delete".into(),
///     headers: vec!["Authorization: Bearer t".into()],
///     credentials: Credentials::Include,
///     live: Default::default(),
/// };
/// let request = fetch_request(&args)?;
/// assert_eq!(request.origin.as_str(), "https://app.example.com");
/// assert_eq!(request.credentials, Credentials::Include);
/// assert_eq!(request.headers, [("Authorization".to_owned(), "Bearer t".to_owned())]);
/// # Ok::<(), corsica_doctor::DoctorError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CheckArgs {
    /// The URL passed to `fetch()`.
    pub url: String,
    /// The page's origin.
    pub origin: String,
    /// The method.
    pub method: String,
    /// Headers as `Name: value`.
    pub headers: Vec<String>,
    /// The credentials mode.
    pub credentials: Credentials,
    /// How to reach the server.
    pub live: LiveOptions,
}

/// Builds the `fetch()` call a check simulates.
///
/// ```
/// use corsica_doctor::{CheckArgs, fetch_request};
/// let args = CheckArgs {
///     url: "https://api.example.com/x".into(),
///     origin: "https://app.example.com".into(),
///     method: "PUT".into(),
///     headers: vec!["X-API-Key: k".into()],
///     credentials: Default::default(),
///     live: Default::default(),
/// };
/// let r = fetch_request(&args)?;
/// assert_eq!(r.headers, [("X-API-Key".to_owned(), "k".to_owned())]);
/// # Ok::<(), corsica_doctor::DoctorError>(())
/// ```
pub fn fetch_request(args: &CheckArgs) -> Result<FetchRequest, DoctorError> {
    let origin = Origin::parse(&args.origin)?;
    match url::Url::parse(&args.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        Err(url::ParseError::InvalidPort) => return Err(DoctorError::Port(args.url.clone())),
        _ => return Err(DoctorError::Url(args.url.clone())),
    }
    let mut request = FetchRequest::new(origin, args.url.clone())
        .method(args.method.clone())
        .credentials(args.credentials);
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            return Err(DoctorError::Header(h.clone()));
        };
        let name = name.trim();
        if !corsica::method::is_token(name.as_bytes()) {
            return Err(DoctorError::Header(h.clone()));
        }
        if name.eq_ignore_ascii_case("cookie") {
            return Err(DoctorError::CookieHeader(h.clone()));
        }
        // Only HTTP whitespace (space, tab) is trimmed, as a browser does: a vertical tab or a
        // form feed stays in the value (and makes a `Content-Type` CORS-unsafe).
        request = request.header(name, value.trim_matches([' ', '\t']));
    }
    Ok(request)
}

/// Runs a check against the live server.
///
/// ```no_run
/// use corsica_doctor::{check, CheckArgs};
/// let args = CheckArgs {
///     url: "https://api.example.com/items".into(),
///     origin: "https://app.example.com".into(),
///     method: "GET".into(),
///     headers: vec![],
///     credentials: Default::default(),
///     live: Default::default(),
/// };
/// let (request, outcome) = check(&args)?;
/// println!("{}", corsica_doctor::report::to_text(&request, &outcome, false));
/// # Ok::<(), corsica_doctor::DoctorError>(())
/// ```
pub fn check(args: &CheckArgs) -> Result<(FetchRequest, Outcome), DoctorError> {
    check_in(args, Browser::Chromium)
}

/// [`check`] as `browser` would do it (each browser sends its own requests: Firefox
/// preflights a `Save-Data` header that Chromium sends without one).
///
/// ```no_run
/// use corsica::fetch::Browser;
/// use corsica_doctor::{check_in, CheckArgs};
/// let args = CheckArgs {
///     url: "https://api.example.com/items".into(),
///     origin: "https://app.example.com".into(),
///     method: "GET".into(),
///     headers: vec!["Save-Data: on".into()],
///     credentials: Default::default(),
///     live: Default::default(),
/// };
/// let (_, outcome) = check_in(&args, Browser::Firefox)?;
/// assert_eq!(outcome.browser, Browser::Firefox);
/// # Ok::<(), corsica_doctor::DoctorError>(())
/// ```
pub fn check_in(
    args: &CheckArgs,
    browser: Browser,
) -> Result<(FetchRequest, Outcome), DoctorError> {
    run_live(args, |request, server| {
        let options = Options {
            browser,
            ..Options::default()
        };
        simulate_with(request, server, options)
    })
}

/// [`check`] as each of `browsers` would do it, in order, against one live server: a
/// request one browser already sent is answered from that exchange (the same answer for
/// every browser, and no second request where the browsers send the same one); only the
/// requests a browser sends differently (Firefox's preflight for `Save-Data`) go out.
///
/// ```no_run
/// use corsica::fetch::Browser;
/// use corsica_doctor::{check_browsers, CheckArgs};
/// let args = CheckArgs {
///     url: "https://api.example.com/items".into(),
///     origin: "https://app.example.com".into(),
///     method: "GET".into(),
///     headers: vec!["Save-Data: on".into()],
///     credentials: Default::default(),
///     live: Default::default(),
/// };
/// let (_, outcomes) = check_browsers(&args, &Browser::ALL)?;
/// assert_eq!(outcomes.len(), Browser::ALL.len());
/// # Ok::<(), corsica_doctor::DoctorError>(())
/// ```
pub fn check_browsers(
    args: &CheckArgs,
    browsers: &[Browser],
) -> Result<(FetchRequest, Vec<Outcome>), DoctorError> {
    run_live(args, |request, live| {
        let mut server = Memo::new(live);
        browsers
            .iter()
            .map(|&browser| {
                let options = Options {
                    browser,
                    ..Options::default()
                };
                simulate_with(request, &mut server, options)
            })
            .collect()
    })
}

/// Builds the `fetch()` call and the live server (cookies checked), and runs `f` on them.
fn run_live<T>(
    args: &CheckArgs,
    f: impl FnOnce(&FetchRequest, &mut dyn Server) -> T,
) -> Result<(FetchRequest, T), DoctorError> {
    let request = fetch_request(args)?;
    for c in &args.live.cookies {
        if !c
            .split_once('=')
            .is_some_and(|(n, _)| corsica::method::is_token(n.trim().as_bytes()))
        {
            return Err(DoctorError::Cookie(c.clone()));
        }
    }
    let mut live = LiveServer::new(&args.live)?.cookie_for(&request.url);
    let result = f(&request, &mut live);
    Ok((request, result))
}

/// A server that answers a request it has seen before from memory, so that every browser
/// judges the same answers without the same request being sent twice.
pub(crate) struct Memo<'a> {
    inner: &'a mut dyn Server,
    seen: Vec<(HttpRequest, Result<HttpResponse, NetworkError>)>,
}

impl<'a> Memo<'a> {
    pub(crate) fn new(inner: &'a mut dyn Server) -> Memo<'a> {
        Memo {
            inner,
            seen: Vec::new(),
        }
    }
}

impl Server for Memo<'_> {
    fn send(&mut self, request: &HttpRequest) -> Result<HttpResponse, NetworkError> {
        if let Some((_, r)) = self.seen.iter().find(|(q, _)| q == request) {
            return r.clone();
        }
        let r = self.inner.send(request);
        self.seen.push((request.clone(), r.clone()));
        r
    }
}
