//! The response: what the browser receives, and whatever answers its requests.

use super::browser::Browser;
use super::request::HttpRequest;
use crate::{HeaderList, HeaderListLimits};

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

    /// This response without the empty lines of a header that has a non-empty line too
    /// (how Firefox stores repeated header lines).
    pub(crate) fn without_empty_repeats(mut self) -> HttpResponse {
        let non_empty: Vec<String> = self
            .headers
            .iter()
            .filter(|(_, v)| !v.trim_matches([' ', '\t']).is_empty())
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        self.headers.retain(|(n, v)| {
            !v.trim_matches([' ', '\t']).is_empty() || !non_empty.contains(&n.to_ascii_lowercase())
        });
        self
    }

    /// Whether the response tells caches that it depends on the request header `name`:
    /// its `Vary` lists `name` (ASCII case-insensitively) or `*`. A `Vary` that is not a
    /// list of tokens says nothing.
    ///
    /// ```
    /// use corsica::fetch::HttpResponse;
    /// let r = HttpResponse::new(200).header("Vary", "Accept-Encoding").header("vary", "origin");
    /// assert!(r.varies_on("Origin"));
    /// assert!(!r.varies_on("Access-Control-Request-Headers"));
    /// assert!(HttpResponse::new(200).header("Vary", "*").varies_on("origin"));
    /// ```
    pub fn varies_on(&self, name: &str) -> bool {
        let lines = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("vary"))
            .map(|(_, v)| v.as_bytes());
        HeaderList::parse(lines, HeaderListLimits::default())
            .is_ok_and(|list| list.contains_ignore_case(name) || list.contains_ignore_case("*"))
    }

    /// Whether Chromium follows this response as a redirect: 300, 301, 302, 303, 307 or
    /// 308 with a `Location`.
    ///
    /// ```
    /// assert!(corsica::fetch::HttpResponse::new(302).header("Location", "/x").is_redirect());
    /// assert!(!corsica::fetch::HttpResponse::new(304).header("Location", "/x").is_redirect());
    /// ```
    pub fn is_redirect(&self) -> bool {
        self.is_redirect_in(Browser::Chromium)
    }

    /// [`HttpResponse::is_redirect`] as `browser` decides: Firefox follows an empty
    /// `Location` too (to the same URL).
    pub(super) fn is_redirect_in(&self, browser: Browser) -> bool {
        matches!(self.status, 300 | 301 | 302 | 303 | 307 | 308)
            && self.locations().first().is_some_and(|l| {
                !l.is_empty()
                    || browser.follows_empty_location()
                    || browser.fails_on_empty_location()
            })
    }

    /// The `Location` lines, trimmed.
    pub(super) fn locations(&self) -> Vec<&str> {
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
