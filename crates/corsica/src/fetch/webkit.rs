//! WebKit's vocabulary for CORS failures (Safari's engine, as WebKitGTK 2.50 prints them):
//! the kinds of its console texts and the exact texts. WebKit names no kinds itself; the
//! names are the reference's (`/work/shared/reference/webkit-cors.md`), and a failure at a
//! redirect response is `Redirect` + the inner kind.

use std::fmt;

use super::error::CorsError;

/// A WebKit CORS error: the kind of its `CONSOLE SECURITY ERROR` text.
///
/// ```
/// use corsica::fetch::{CorsError, WebKitError};
/// assert_eq!(WebKitError::of(CorsError::AllowOriginMismatch, "http://x.test"), WebKitError::OriginNotAllowed);
/// assert_eq!(WebKitError::of(CorsError::MultipleAllowOriginValues, "a b"), WebKitError::OriginNotAllowed);
/// assert_eq!(WebKitError::of(CorsError::MultipleAllowOriginValues, "a, b"), WebKitError::MultipleAllowOrigin);
/// assert_eq!(WebKitError::OriginNotAllowed.at_redirect().as_str(), "RedirectOriginNotAllowed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WebKitError {
    /// `Access-Control-Allow-Origin` missing, another origin, or not one origin.
    OriginNotAllowed,
    /// `*` with credentials.
    WildcardWithCredentials,
    /// `Access-Control-Allow-Origin` holds a comma.
    MultipleAllowOrigin,
    /// Credentials and `Access-Control-Allow-Credentials` not `true`.
    CredentialsNotTrue,
    /// The preflight's status is not 2xx (a 3xx included: a preflight is not redirected).
    PreflightNotSuccessful,
    /// The method is not in `Access-Control-Allow-Methods`.
    MethodNotAllowed,
    /// A request header is not in `Access-Control-Allow-Headers`.
    HeaderNotAllowed,
    /// `Access-Control-Allow-Methods` does not parse.
    InvalidAllowMethods,
    /// `Access-Control-Allow-Headers` does not parse.
    InvalidAllowHeaders,
    /// [`WebKitError::OriginNotAllowed`] at a redirect response.
    RedirectOriginNotAllowed,
    /// [`WebKitError::WildcardWithCredentials`] at a redirect response.
    RedirectWildcardWithCredentials,
    /// [`WebKitError::MultipleAllowOrigin`] at a redirect response.
    RedirectMultipleAllowOrigin,
    /// [`WebKitError::CredentialsNotTrue`] at a redirect response.
    RedirectCredentialsNotTrue,
    /// A cross-origin redirect to a URL with a user name or password.
    RedirectUrlHasCredentials,
    /// `redirect: "error"` met a redirect.
    RedirectNotAllowed,
    /// A `no-cors` request with a redirect mode other than `follow`.
    RequestNotAllowed,
    /// A `cors` request redirected to a URL whose scheme is not HTTP(S) (`data:`).
    RedirectNonCorsScheme,
}

impl WebKitError {
    /// The kind's name (`OriginNotAllowed`, `RedirectOriginNotAllowed`, …).
    ///
    /// ```
    /// assert_eq!(corsica::fetch::WebKitError::HeaderNotAllowed.as_str(), "HeaderNotAllowed");
    /// ```
    pub fn as_str(self) -> &'static str {
        use WebKitError::*;
        match self {
            OriginNotAllowed => "OriginNotAllowed",
            WildcardWithCredentials => "WildcardWithCredentials",
            MultipleAllowOrigin => "MultipleAllowOrigin",
            CredentialsNotTrue => "CredentialsNotTrue",
            PreflightNotSuccessful => "PreflightNotSuccessful",
            MethodNotAllowed => "MethodNotAllowed",
            HeaderNotAllowed => "HeaderNotAllowed",
            InvalidAllowMethods => "InvalidAllowMethods",
            InvalidAllowHeaders => "InvalidAllowHeaders",
            RedirectOriginNotAllowed => "RedirectOriginNotAllowed",
            RedirectWildcardWithCredentials => "RedirectWildcardWithCredentials",
            RedirectMultipleAllowOrigin => "RedirectMultipleAllowOrigin",
            RedirectCredentialsNotTrue => "RedirectCredentialsNotTrue",
            RedirectUrlHasCredentials => "RedirectUrlHasCredentials",
            RedirectNotAllowed => "RedirectNotAllowed",
            RequestNotAllowed => "RequestNotAllowed",
            RedirectNonCorsScheme => "RedirectNonCorsScheme",
        }
    }

    /// The kind WebKit reports for a failed check of the shared model, with the
    /// parameter the model's check gives (the `Access-Control-Allow-Origin` value for the
    /// origin errors: only a comma makes it `MultipleAllowOrigin`).
    pub fn of(error: CorsError, parameter: &str) -> WebKitError {
        use CorsError::*;
        match error.base() {
            MultipleAllowOriginValues if parameter.contains(',') => {
                WebKitError::MultipleAllowOrigin
            }
            MissingAllowOriginHeader
            | AllowOriginMismatch
            | InvalidAllowOriginValue
            | MultipleAllowOriginValues => WebKitError::OriginNotAllowed,
            WildcardOriginNotAllowed => WebKitError::WildcardWithCredentials,
            InvalidAllowCredentials => WebKitError::CredentialsNotTrue,
            PreflightInvalidStatus | PreflightDisallowedRedirect => {
                WebKitError::PreflightNotSuccessful
            }
            InvalidAllowMethodsPreflightResponse => WebKitError::InvalidAllowMethods,
            InvalidAllowHeadersPreflightResponse => WebKitError::InvalidAllowHeaders,
            MethodDisallowedByPreflightResponse => WebKitError::MethodNotAllowed,
            HeaderDisallowedByPreflightResponse => WebKitError::HeaderNotAllowed,
            RedirectContainsCredentials => WebKitError::RedirectUrlHasCredentials,
            NoCorsRedirectModeNotFollow => WebKitError::RequestNotAllowed,
            CorsDisabledScheme => WebKitError::RedirectNonCorsScheme,
            // Not reached for WebKit in the model (a mode refusal and Local Network Access
            // are no CORS error there; other schemes are unobserved).
            _ => WebKitError::RequestNotAllowed,
        }
    }

    /// The same failure at a redirect response (`Redirect` + the kind), for the four
    /// checks of a redirect response; itself otherwise.
    pub fn at_redirect(self) -> WebKitError {
        use WebKitError::*;
        match self {
            OriginNotAllowed => RedirectOriginNotAllowed,
            WildcardWithCredentials => RedirectWildcardWithCredentials,
            MultipleAllowOrigin => RedirectMultipleAllowOrigin,
            CredentialsNotTrue => RedirectCredentialsNotTrue,
            other => other,
        }
    }

    /// Whether the failure is at a redirect response, whose text names the redirect's
    /// target URL as its parameter.
    pub(crate) fn names_redirect_target(self) -> bool {
        use WebKitError::*;
        matches!(
            self,
            RedirectOriginNotAllowed
                | RedirectWildcardWithCredentials
                | RedirectMultipleAllowOrigin
                | RedirectCredentialsNotTrue
                | RedirectUrlHasCredentials
                | RedirectNonCorsScheme
        )
    }

    /// Whether the text names a parameter (`OriginNotAllowed`: the request's origin;
    /// methods, header names and values; a redirect's target URL).
    pub(crate) fn names_parameter(self) -> bool {
        use WebKitError::*;
        !matches!(
            self,
            WildcardWithCredentials
                | MultipleAllowOrigin
                | CredentialsNotTrue
                | PreflightNotSuccessful
                | RequestNotAllowed
        )
    }

    /// WebKit's console text (the `CONSOLE SECURITY ERROR` line without its prefix).
    /// `parameter` is what the text names (for a `Redirect…` kind, the redirect's target
    /// URL), `origin` the request's origin, `status` the failing response's status, and
    /// `location` the target URL as the `Location` wrote it (with its credentials).
    ///
    /// ```
    /// use corsica::fetch::WebKitError;
    /// assert_eq!(
    ///     WebKitError::OriginNotAllowed.console_message("https://app.example", "https://app.example", Some(200), ""),
    ///     "Origin https://app.example is not allowed by Access-Control-Allow-Origin. Status code: 200"
    /// );
    /// ```
    pub fn console_message(
        self,
        parameter: &str,
        origin: &str,
        status: Option<u16>,
        location: &str,
    ) -> String {
        use WebKitError::*;
        let status = status.map(|s| s.to_string()).unwrap_or_default();
        let redirect = |inner: String| {
            format!(
                "Cross-origin redirection to {parameter} denied by Cross-Origin Resource Sharing policy: {inner}"
            )
        };
        match self {
            OriginNotAllowed => format!(
                "Origin {origin} is not allowed by Access-Control-Allow-Origin. Status code: {status}"
            ),
            WildcardWithCredentials => {
                "Cannot use wildcard in Access-Control-Allow-Origin when credentials flag is true."
                    .to_owned()
            }
            MultipleAllowOrigin => {
                "Access-Control-Allow-Origin cannot contain more than one origin.".to_owned()
            }
            CredentialsNotTrue => {
                "Credentials flag is true, but Access-Control-Allow-Credentials is not \"true\"."
                    .to_owned()
            }
            PreflightNotSuccessful => {
                format!("Preflight response is not successful. Status code: {status}")
            }
            MethodNotAllowed => {
                format!("Method {parameter} is not allowed by Access-Control-Allow-Methods.")
            }
            HeaderNotAllowed => format!(
                "Request header field {parameter} is not allowed by Access-Control-Allow-Headers."
            ),
            InvalidAllowMethods => {
                format!("Header Access-Control-Allow-Methods has an invalid value: {parameter}")
            }
            InvalidAllowHeaders => {
                format!("Header Access-Control-Allow-Headers has an invalid value: {parameter}")
            }
            RedirectOriginNotAllowed => redirect(OriginNotAllowed.console_message(
                origin,
                origin,
                status.parse().ok(),
                location,
            )),
            RedirectWildcardWithCredentials => {
                redirect(WildcardWithCredentials.console_message("", origin, None, location))
            }
            RedirectMultipleAllowOrigin => {
                redirect(MultipleAllowOrigin.console_message("", origin, None, location))
            }
            RedirectCredentialsNotTrue => {
                redirect(CredentialsNotTrue.console_message("", origin, None, location))
            }
            RedirectUrlHasCredentials => {
                redirect(format!("redirection URL {location} has credentials"))
            }
            RedirectNotAllowed => {
                format!("Not allowed to follow a redirection while loading {parameter}")
            }
            RequestNotAllowed => "Not allowed to request resource".to_owned(),
            RedirectNonCorsScheme => redirect(
                "not allowed to follow a cross-origin CORS redirection with non CORS scheme"
                    .to_owned(),
            ),
        }
    }
}

/// The header names WebKit's `HTTPHeaderMap` keeps apart as "common" (WebCore's
/// `HTTPHeaderNames.in`), in their canonical spelling.
const COMMON_HEADERS: &[&str] = &[
    "Accept",
    "Accept-Charset",
    "Accept-Language",
    "Accept-Encoding",
    "Accept-Ranges",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Origin",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
    "Access-Control-Request-Headers",
    "Access-Control-Request-Method",
    "Age",
    "Authorization",
    "Cache-Control",
    "Connection",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Security-Policy",
    "Content-Security-Policy-Report-Only",
    "Content-Type",
    "Content-Range",
    "Cookie",
    "Cookie2",
    "Cross-Origin-Resource-Policy",
    "Date",
    "DNT",
    "Default-Style",
    "ETag",
    "Expect",
    "Expires",
    "Host",
    "If-Match",
    "If-Modified-Since",
    "If-None-Match",
    "If-Range",
    "If-Unmodified-Since",
    "Keep-Alive",
    "Last-Event-ID",
    "Last-Modified",
    "Link",
    "Location",
    "Origin",
    "Ping-From",
    "Ping-To",
    "Purpose",
    "Pragma",
    "Proxy-Authorization",
    "Range",
    "Referer",
    "Referrer-Policy",
    "Refresh",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Extensions",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Version",
    "Server-Timing",
    "Service-Worker",
    "Service-Worker-Allowed",
    "Set-Cookie",
    "Set-Cookie2",
    "SourceMap",
    "TE",
    "Timing-Allow-Origin",
    "Trailer",
    "Transfer-Encoding",
    "Upgrade",
    "Upgrade-Insecure-Requests",
    "User-Agent",
    "Vary",
    "Via",
    "X-Content-Type-Options",
    "X-DNS-Prefetch-Control",
    "X-Frame-Options",
    "X-SourceMap",
    "X-WebKit-CSP",
    "X-WebKit-CSP-Report-Only",
    "X-XSS-Protection",
    "X-Temp-Tablet",
    "Icy-MetaInt",
    "Icy-Metadata",
];

/// Request header names in the order WebKit's `HTTPHeaderMap` gives them, as its texts
/// print them: the common headers first (canonical spelling), then the others as the
/// page wrote them, each group in the order they were set. WebKit names the first of
/// these that a preflight answer does not allow.
pub(crate) fn header_map_order<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut common = Vec::new();
    let mut uncommon: Vec<String> = Vec::new();
    for name in names {
        match COMMON_HEADERS.iter().find(|c| c.eq_ignore_ascii_case(name)) {
            Some(c) => {
                if !common.contains(c) {
                    common.push(*c);
                }
            }
            None => {
                if !uncommon.iter().any(|u| u.eq_ignore_ascii_case(name)) {
                    uncommon.push(name.to_owned());
                }
            }
        }
    }
    common
        .into_iter()
        .map(str::to_owned)
        .chain(uncommon)
        .collect()
}

impl fmt::Display for WebKitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
