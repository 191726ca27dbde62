//! Which browser the model speaks for, and every place where browsers part ways.
//!
//! The Fetch standard's core (the CORS check, the preflight, redirects and origin tainting)
//! is shared; each difference the conformance suite found between real browsers is one
//! small, named method here, and the simulation asks it at the one step it changes.
//! Nothing else in the model looks at the browser, except the error vocabulary (each
//! browser names its failures its own way: [`ErrorKind`](super::ErrorKind)) and the console
//! message text.

use std::fmt;

use super::error::CorsError;
use super::firefox::FirefoxError;
use super::webkit::WebKitError;

/// A browser engine the model can speak for, each proven by the conformance suite against
/// the real browser (Debian's `chromium`, `firefox-esr` and WebKitGTK's
/// `webkit2gtk-driver`).
///
/// ```
/// use corsica::fetch::Browser;
/// assert_eq!("firefox".parse::<Browser>(), Ok(Browser::Firefox));
/// assert_eq!(Browser::default(), Browser::Chromium);
/// assert_eq!(Browser::Firefox.name(), "Firefox");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Browser {
    /// Chromium (Chrome, Edge, Opera, Brave…), as Chromium 156 behaves.
    #[default]
    Chromium,
    /// Firefox, as Firefox ESR 153 behaves.
    Firefox,
    /// WebKit, Safari's engine, as WebKitGTK 2.50 behaves.
    WebKit,
}

impl Browser {
    /// Every browser the model knows, in the order the doctor reports them.
    ///
    /// ```
    /// assert_eq!(corsica::fetch::Browser::ALL.len(), 3);
    /// ```
    pub const ALL: [Browser; 3] = [Browser::Chromium, Browser::Firefox, Browser::WebKit];

    /// The lower-case name used on the command line and in JSON (`chromium`, `firefox`).
    ///
    /// ```
    /// assert_eq!(corsica::fetch::Browser::Chromium.as_str(), "chromium");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Browser::Chromium => "chromium",
            Browser::Firefox => "firefox",
            Browser::WebKit => "webkit",
        }
    }

    /// The name for people (`Chromium`, `Firefox`).
    ///
    /// ```
    /// assert_eq!(corsica::fetch::Browser::Chromium.name(), "Chromium");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Browser::Chromium => "Chromium",
            Browser::Firefox => "Firefox",
            Browser::WebKit => "WebKit",
        }
    }

    /// Chromium safelists its client-hint and network-information request headers (`DPR`,
    /// `Width`, `Viewport-Width`, `Device-Memory`, `Save-Data`, `RTT`, `Downlink`, `ECT`)
    /// and `Intervention` on top of the Fetch standard's five (`cors::IsCorsSafelistedHeader`);
    /// Firefox safelists only the standard's, so `Save-Data: on` is preflighted there (the
    /// suite proves the eight client hints; `Intervention` follows the Fetch standard).
    pub(crate) fn safelists_client_hints(self) -> bool {
        self == Browser::Chromium
    }

    /// Firefox judges each request header as the page appended it, and has no 1,024-byte
    /// limit on the safelisted values together: three `Accept` values of 120 bytes
    /// appended to one request are three safelisted headers there, and no preflight is
    /// sent. Chromium judges the combined value (`a, b, c`, over 128 bytes) and applies the
    /// Fetch standard's 1,024-byte total.
    pub(crate) fn judges_headers_as_appended(self) -> bool {
        self == Browser::Firefox
    }

    /// A `cors` request redirected to a URL that is not HTTP(S) (`data:`): WebKit reports
    /// it as a CORS error at the redirect ("not allowed to follow a cross-origin CORS
    /// redirection with non CORS scheme"), even from the page's own origin; Chromium and
    /// Firefox fail it as a network error.
    pub(crate) fn reports_non_cors_scheme_redirect(self) -> bool {
        self == Browser::WebKit
    }

    /// Firefox's header store (Necko's `nsHttpHeaderArray::MergeHeader`) skips an empty
    /// line of a header that has another line: `Access-Control-Allow-Origin` sent as ``,
    /// `http://a`, `http://b` reads `http://a, http://b` there, and `, http://a, http://b`
    /// in Chromium and WebKit.
    pub(crate) fn drops_empty_header_lines(self) -> bool {
        self == Browser::Firefox
    }

    /// A redirect to a same-origin URL with credentials (`http://user:pass@app…`) that is no
    /// CORS error (not tainted, no CORS flag): Firefox follows it, as the Fetch standard
    /// says; Chromium 156 aborts the load (`net::ERR_ABORTED`).
    pub(crate) fn follows_same_origin_credentials_redirect(self) -> bool {
        matches!(self, Browser::Firefox | Browser::WebKit)
    }

    /// After a redirect has tainted the origin, Firefox's preflight still carries the
    /// page's `Origin` and is checked against it (its actual request then sends
    /// `Origin: null`); Chromium sends and checks `null` on both.
    pub(crate) fn preflight_keeps_page_origin(self) -> bool {
        self == Browser::Firefox
    }

    /// A 3xx with an empty `Location`: Firefox resolves it to the same URL and follows it
    /// until its redirect limit; Chromium does not follow it and returns the 3xx itself.
    pub(crate) fn follows_empty_location(self) -> bool {
        self == Browser::Firefox
    }

    /// Firefox checks the method against `Access-Control-Allow-Methods` before it parses
    /// `Access-Control-Allow-Headers` (`nsCORSPreflightListener`); Chromium parses both
    /// lists before it checks the method.
    pub(crate) fn checks_method_before_allow_headers(self) -> bool {
        self == Browser::Firefox
    }

    /// Firefox reads `Access-Control-Max-Age` as digits only (anything else: not cached)
    /// and caps it at 24 hours; Chromium parses a signed number (a negative one is 0,
    /// anything unparsable the default 5 s) and caps it at 2 hours.
    pub(crate) fn reads_max_age_as_digits_only(self) -> bool {
        self == Browser::Firefox
    }

    /// Firefox keys its preflight cache by the credentials mode too: a preflight made for a
    /// credentialed request does not serve a later request without credentials. Chromium
    /// lets a credentialed entry serve both.
    pub(crate) fn preflight_cache_keys_credentials(self) -> bool {
        self == Browser::Firefox
    }

    /// Firefox's preflight cache entry gathers the methods and headers of every preflight
    /// to its key, each until its own expiry (`nsPreflightCache`): after preflights for
    /// `PUT` and then `DELETE`, both are cached. Chromium's entry holds the last
    /// preflight's result only.
    pub(crate) fn gathers_preflight_cache_entries(self) -> bool {
        self == Browser::Firefox
    }

    /// Chromium's network stack, following a `no-cors` redirect itself, sets
    /// `Origin: null` on a non-GET/HEAD request redirected to another origin
    /// (`net::RedirectUtil::UpdateHttpRequest`); Firefox keeps the page's `Origin`, as the
    /// Fetch standard does when the redirect leaves the page's own origin.
    pub(crate) fn nulls_origin_on_no_cors_redirect(self) -> bool {
        self == Browser::Chromium
    }

    /// Chromium enforces Local Network Access (a public page reaching a local or loopback
    /// server needs the user's permission and a secure context; `targetAddressSpace` must
    /// match). Firefox ESR 153 does not, as far as the model claims: its behaviour is not
    /// proven by the suite, whose address-space overrides are Chromium switches.
    pub(crate) fn enforces_local_network_access(self) -> bool {
        self == Browser::Chromium
    }

    /// Chromium's network stack fails a `407 Proxy Authentication Required` from a server
    /// that is no proxy (`net::ERR_UNEXPECTED_PROXY_AUTH`, a network error without a CORS
    /// error); Firefox and WebKit judge it as any other status (a preflight answered 407
    /// is `CORSPreflightDidNotSucceed`, `PreflightNotSuccessful`).
    pub(crate) fn fails_unexpected_proxy_auth(self) -> bool {
        self == Browser::Chromium
    }

    /// Chromium reports a request its mode refuses (`same-origin` to another origin,
    /// `no-cors` without `redirect: "follow"`) as a CORS error (`DisallowedByMode`,
    /// `NoCorsRedirectModeNotFollow`); Firefox rejects the `fetch()` without a CORS
    /// console text (a `Security Error` line for `same-origin`, nothing for `no-cors`).
    pub(crate) fn reports_mode_as_cors_error(self) -> bool {
        self == Browser::Chromium
    }

    /// WebKit reports a `no-cors` request with a redirect mode other than `follow` on its
    /// console (`Not allowed to request resource`) before sending anything; a
    /// `same-origin` request to another origin fails without a text.
    pub(crate) fn reports_no_cors_redirect_mode(self) -> bool {
        self == Browser::WebKit
    }

    /// WebKit fails a 3xx with an empty `Location` as a network error and sends nothing
    /// more (Chromium hands back the 3xx; Firefox follows it to the same URL).
    pub(crate) fn fails_on_empty_location(self) -> bool {
        self == Browser::WebKit
    }

    /// WebKit joins several `Location` lines with `, ` and follows the result (two
    /// identical lines lead to a URL the server does not know); Chromium accepts identical
    /// lines and fails different ones.
    pub(crate) fn joins_location_lines(self) -> bool {
        self == Browser::WebKit
    }

    /// WebKit judges a preflight's status before its `Access-Control-Allow-Origin` and
    /// `-Credentials`, and does not follow a 3xx preflight: any non-2xx status is
    /// `PreflightNotSuccessful`. Chromium and Firefox check the origin first, and report a
    /// redirected preflight on its own.
    pub(crate) fn checks_preflight_status_first(self) -> bool {
        self == Browser::WebKit
    }

    /// WebKit keeps the `Origin` a request carried when a redirect turns a `POST` into a
    /// `GET` (to the same origin); Chromium and Firefox send no `Origin` on that `GET`.
    pub(crate) fn keeps_origin_after_method_change(self) -> bool {
        self == Browser::WebKit
    }

    /// WebKit reports `redirect: "error"` meeting a redirect on its console (`Not allowed
    /// to follow a redirection while loading URL`).
    pub(crate) fn reports_redirect_mode_error(self) -> bool {
        self == Browser::WebKit
    }

    /// Firefox reports a CORS request that fails below CORS (a network error, too many
    /// redirects, a redirect with credentials, two different `Location` lines) as the CORS
    /// error `CORSDidNotSucceed`; Chromium reports only the network error.
    pub(crate) fn reports_network_failure_as_cors_error(self) -> bool {
        self == Browser::Firefox
    }

    /// With several request headers missing from `Access-Control-Allow-Headers`, Chromium
    /// names the first in the iteration order of Blink's header hash map (replayed by
    /// [`header_order`](super::header_order)); the model names the first by name for
    /// Firefox.
    pub(crate) fn names_disallowed_header_in_map_order(self) -> bool {
        self == Browser::Chromium
    }
}

impl fmt::Display for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string that names no browser the model knows.
///
/// ```
/// let e = "opera".parse::<corsica::fetch::Browser>().unwrap_err();
/// assert!(e.to_string().contains("chromium, firefox, webkit"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown browser `{0}`: the model knows chromium, firefox, webkit")]
pub struct UnknownBrowser(pub String);

impl std::str::FromStr for Browser {
    type Err = UnknownBrowser;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Browser::ALL
            .into_iter()
            .find(|b| b.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownBrowser(s.to_owned()))
    }
}

/// A browser's own name for a CORS failure: Chromium's DevTools `CorsError`, or Firefox's
/// `security.properties` key.
///
/// ```
/// use corsica::fetch::{Browser, CorsError, ErrorKind, FirefoxError};
/// let k = ErrorKind::Firefox(FirefoxError::MissingAllowOrigin);
/// assert_eq!(k.as_str(), "CORSMissingAllowOrigin");
/// assert_eq!(k.browser(), Browser::Firefox);
/// assert_eq!(ErrorKind::of(Browser::Chromium, CorsError::AllowOriginMismatch).to_string(), "AllowOriginMismatch");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A DevTools `Network.CorsError`.
    Chromium(CorsError),
    /// A `security.properties` key.
    Firefox(FirefoxError),
    /// The kind of a WebKit console text.
    WebKit(WebKitError),
}

impl ErrorKind {
    /// The browser's name for a failed check of the shared model.
    pub fn of(browser: Browser, error: CorsError) -> ErrorKind {
        match browser {
            Browser::Chromium => ErrorKind::Chromium(error),
            Browser::Firefox => ErrorKind::Firefox(FirefoxError::of(error)),
            // Without the `Access-Control-Allow-Origin` value a comma cannot make it
            // `MultipleAllowOrigin`: `Blocked::kind` and `Step::kind` carry the exact kind.
            Browser::WebKit => ErrorKind::WebKit(WebKitError::of(error, "")),
        }
    }

    /// The name as the browser writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Chromium(k) => k.as_str(),
            ErrorKind::Firefox(k) => k.as_str(),
            ErrorKind::WebKit(k) => k.as_str(),
        }
    }

    /// The browser whose name this is.
    pub fn browser(self) -> Browser {
        match self {
            ErrorKind::Chromium(_) => Browser::Chromium,
            ErrorKind::Firefox(_) => Browser::Firefox,
            ErrorKind::WebKit(_) => Browser::WebKit,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
