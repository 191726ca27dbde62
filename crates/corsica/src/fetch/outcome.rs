//! The result of a `fetch()`: allowed, blocked by CORS (with Chromium's error, message and
//! hint), or failed; and the trace of every exchange.

use std::fmt;

use super::browser::{Browser, ErrorKind};
use super::error::CorsError;
use super::request::HttpRequest;
use super::response::HttpResponse;

/// One exchange of the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What the browser sent.
    pub request: HttpRequest,
    /// What came back (`None` on a network error).
    pub response: Option<HttpResponse>,
    /// Whether this exchange's response was followed as a redirect.
    pub redirected: bool,
    /// The CORS failure this exchange caused, if any (the shared check).
    pub error: Option<CorsError>,
    /// The browser's own name for that failure.
    pub kind: Option<ErrorKind>,
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

/// A blocked request: the failed check, the browser's name for it, the failed parameter,
/// the browser's console message and a fix hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// The browser the verdict is for.
    pub browser: Browser,
    /// The check that failed, in the shared model's vocabulary (Chromium's DevTools
    /// `CorsError`, the finest of the browsers'); the fix hint is written from it.
    pub error: CorsError,
    /// The browser's own name for the failure: the DevTools `CorsError` in Chromium, the
    /// `security.properties` key in Firefox.
    pub kind: ErrorKind,
    /// The failed parameter: DevTools' `failedParameter` in Chromium (may be empty); in
    /// Firefox, the value its console text quotes (a header value, name or token), or empty.
    pub parameter: String,
    /// Every value that failed the check. One, except for
    /// `HeaderDisallowedByPreflightResponse` with several disallowed headers: all of them
    /// (sorted), while `parameter` is the one Chromium reports, the first in Blink's
    /// header-map order (see [`header_order`](super::header_order)); for Firefox, the
    /// first by name.
    pub candidates: Vec<String>,
    /// The URL whose response failed.
    pub url: String,
    /// The browser's console message.
    pub message: String,
    /// What to change on the server, with the exact header and value.
    pub hint: String,
    /// The `Origin` the failing request carried: the page's, or `null`.
    pub origin: String,
    /// Whether that `Origin` is `null` because a redirect through another origin tainted
    /// it (Fetch § 4.4): the fix is on the redirect, never allowing `null`.
    pub tainted_origin: bool,
    /// The methods the server should allow for this request to pass: what the failing
    /// response already allows in `Access-Control-Allow-Methods`, plus the request's method
    /// when it is not CORS-safelisted. Empty when no method needs listing.
    pub fix_methods: Vec<String>,
    /// The request headers the server should allow: what the failing response already
    /// allows in `Access-Control-Allow-Headers`, plus the request's CORS-unsafe names.
    pub fix_headers: Vec<String>,
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
    /// The promise rejects without a failed CORS check: network error, too many redirects,
    /// `redirect: 'error'`, or a `TypeError` from the arguments.
    Failed {
        /// What went wrong.
        reason: String,
        /// What the browser's console reports as a CORS error for it, if anything: Firefox
        /// reports a CORS request that fails below CORS as `CORSDidNotSucceed`.
        console: Option<ConsoleError>,
    },
}

/// A CORS error the browser's console reports for a request that failed below CORS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleError {
    /// The browser's name for it.
    pub kind: ErrorKind,
    /// The console text.
    pub message: String,
}

/// The outcome of [`simulate`](super::simulate): the verdict, whether a preflight was sent, and the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The browser the model spoke for.
    pub browser: Browser,
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
    /// # let o = Outcome { browser: Browser::Chromium, verdict: Verdict::Failed { reason: "x".into(), console: None }, preflight: false, steps: vec![] };
    /// assert!(!o.is_allowed());
    /// ```
    pub fn is_allowed(&self) -> bool {
        matches!(self.verdict, Verdict::Allowed { .. })
    }

    /// The CORS error, if blocked by CORS.
    ///
    /// ```
    /// # use corsica::fetch::*;
    /// # let o = Outcome { browser: Browser::Chromium, verdict: Verdict::Failed { reason: "x".into(), console: None }, preflight: false, steps: vec![] };
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
            Verdict::Blocked(b) if b.parameter.is_empty() => write!(f, "blocked: {}", b.kind),
            Verdict::Blocked(b) => write!(f, "blocked: {} ({})", b.kind, b.parameter),
            Verdict::Failed { reason, .. } => write!(f, "failed: {reason}"),
        }
    }
}
