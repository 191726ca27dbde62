//! `CorsError`: Chromium's DevTools `Network.CorsError` values, with the failed parameter
//! Chromium reports, Chromium's console message, and Corsica's fix hint.

use std::fmt;

/// The kinds of CORS failure, named exactly like Chromium's DevTools protocol
/// `Network.CorsError` values. Only those a page's `fetch()` can produce are listed
/// (service-worker ones are not modelled); the three Local Network Access ones need
/// [`FetchRequest::local_network`](super::FetchRequest::local_network) or
/// [`FetchRequest::target_address_space`](super::FetchRequest::target_address_space).
///
/// ```
/// use corsica::fetch::CorsError;
/// assert_eq!(CorsError::MissingAllowOriginHeader.as_str(), "MissingAllowOriginHeader");
/// assert_eq!("PreflightInvalidStatus".parse::<CorsError>(), Ok(CorsError::PreflightInvalidStatus));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CorsError {
    /// `mode: 'same-origin'` and the URL (or a redirect) is cross-origin.
    DisallowedByMode,
    /// `Access-Control-Allow-Origin: *` on a request with credentials `include`.
    WildcardOriginNotAllowed,
    /// No `Access-Control-Allow-Origin`.
    MissingAllowOriginHeader,
    /// `Access-Control-Allow-Origin` holds several values.
    MultipleAllowOriginValues,
    /// `Access-Control-Allow-Origin` is not an origin (nor `*`, nor `null`).
    InvalidAllowOriginValue,
    /// `Access-Control-Allow-Origin` is another origin.
    AllowOriginMismatch,
    /// Credentials `include` and `Access-Control-Allow-Credentials` is not exactly `true`.
    InvalidAllowCredentials,
    /// The URL's scheme does not support CORS.
    CorsDisabledScheme,
    /// The preflight response's status is not 2xx.
    PreflightInvalidStatus,
    /// The preflight response is a redirect.
    PreflightDisallowedRedirect,
    /// [`CorsError::WildcardOriginNotAllowed`] on the preflight response.
    PreflightWildcardOriginNotAllowed,
    /// [`CorsError::MissingAllowOriginHeader`] on the preflight response.
    PreflightMissingAllowOriginHeader,
    /// [`CorsError::MultipleAllowOriginValues`] on the preflight response.
    PreflightMultipleAllowOriginValues,
    /// [`CorsError::InvalidAllowOriginValue`] on the preflight response.
    PreflightInvalidAllowOriginValue,
    /// [`CorsError::AllowOriginMismatch`] on the preflight response.
    PreflightAllowOriginMismatch,
    /// [`CorsError::InvalidAllowCredentials`] on the preflight response.
    PreflightInvalidAllowCredentials,
    /// An `Access-Control-Allow-Methods` element is not a token.
    InvalidAllowMethodsPreflightResponse,
    /// An `Access-Control-Allow-Headers` element is not a token.
    InvalidAllowHeadersPreflightResponse,
    /// The method is not in `Access-Control-Allow-Methods`.
    MethodDisallowedByPreflightResponse,
    /// A request header is not in `Access-Control-Allow-Headers`.
    HeaderDisallowedByPreflightResponse,
    /// A redirect `Location` carries a user name or password.
    RedirectContainsCredentials,
    /// `mode: 'no-cors'` with a `redirect` mode other than `follow`.
    NoCorsRedirectModeNotFollow,
    /// Local Network Access: a page that is not a secure context asked for a more private
    /// address space than its own.
    InsecureLocalNetwork,
    /// Local Network Access: the `targetAddressSpace` option is not the server's space.
    InvalidLocalNetworkAccess,
    /// Local Network Access: the user did not grant the `local-network` or
    /// `loopback-network` permission.
    LocalNetworkAccessPermissionDenied,
}

const ALL: [CorsError; 25] = [
    CorsError::DisallowedByMode,
    CorsError::WildcardOriginNotAllowed,
    CorsError::MissingAllowOriginHeader,
    CorsError::MultipleAllowOriginValues,
    CorsError::InvalidAllowOriginValue,
    CorsError::AllowOriginMismatch,
    CorsError::InvalidAllowCredentials,
    CorsError::CorsDisabledScheme,
    CorsError::PreflightInvalidStatus,
    CorsError::PreflightDisallowedRedirect,
    CorsError::PreflightWildcardOriginNotAllowed,
    CorsError::PreflightMissingAllowOriginHeader,
    CorsError::PreflightMultipleAllowOriginValues,
    CorsError::PreflightInvalidAllowOriginValue,
    CorsError::PreflightAllowOriginMismatch,
    CorsError::PreflightInvalidAllowCredentials,
    CorsError::InvalidAllowMethodsPreflightResponse,
    CorsError::InvalidAllowHeadersPreflightResponse,
    CorsError::MethodDisallowedByPreflightResponse,
    CorsError::HeaderDisallowedByPreflightResponse,
    CorsError::RedirectContainsCredentials,
    CorsError::NoCorsRedirectModeNotFollow,
    CorsError::InsecureLocalNetwork,
    CorsError::InvalidLocalNetworkAccess,
    CorsError::LocalNetworkAccessPermissionDenied,
];

impl CorsError {
    /// Every kind the model knows.
    ///
    /// ```
    /// assert!(corsica::fetch::CorsError::ALL.len() >= 20);
    /// ```
    pub const ALL: [CorsError; 25] = ALL;

    /// The DevTools name.
    ///
    /// ```
    /// assert_eq!(corsica::fetch::CorsError::AllowOriginMismatch.as_str(), "AllowOriginMismatch");
    /// ```
    pub fn as_str(self) -> &'static str {
        use CorsError::*;
        match self {
            DisallowedByMode => "DisallowedByMode",
            WildcardOriginNotAllowed => "WildcardOriginNotAllowed",
            MissingAllowOriginHeader => "MissingAllowOriginHeader",
            MultipleAllowOriginValues => "MultipleAllowOriginValues",
            InvalidAllowOriginValue => "InvalidAllowOriginValue",
            AllowOriginMismatch => "AllowOriginMismatch",
            InvalidAllowCredentials => "InvalidAllowCredentials",
            CorsDisabledScheme => "CorsDisabledScheme",
            PreflightInvalidStatus => "PreflightInvalidStatus",
            PreflightDisallowedRedirect => "PreflightDisallowedRedirect",
            PreflightWildcardOriginNotAllowed => "PreflightWildcardOriginNotAllowed",
            PreflightMissingAllowOriginHeader => "PreflightMissingAllowOriginHeader",
            PreflightMultipleAllowOriginValues => "PreflightMultipleAllowOriginValues",
            PreflightInvalidAllowOriginValue => "PreflightInvalidAllowOriginValue",
            PreflightAllowOriginMismatch => "PreflightAllowOriginMismatch",
            PreflightInvalidAllowCredentials => "PreflightInvalidAllowCredentials",
            InvalidAllowMethodsPreflightResponse => "InvalidAllowMethodsPreflightResponse",
            InvalidAllowHeadersPreflightResponse => "InvalidAllowHeadersPreflightResponse",
            MethodDisallowedByPreflightResponse => "MethodDisallowedByPreflightResponse",
            HeaderDisallowedByPreflightResponse => "HeaderDisallowedByPreflightResponse",
            RedirectContainsCredentials => "RedirectContainsCredentials",
            NoCorsRedirectModeNotFollow => "NoCorsRedirectModeNotFollow",
            InsecureLocalNetwork => "InsecureLocalNetwork",
            InvalidLocalNetworkAccess => "InvalidLocalNetworkAccess",
            LocalNetworkAccessPermissionDenied => "LocalNetworkAccessPermissionDenied",
        }
    }

    /// The response header the error is about (lower-cased), to point at in a trace:
    /// `access-control-allow-origin` for every origin error, `location` for a redirect
    /// error, `None` for errors about no header (a status, a scheme, a mode).
    ///
    /// ```
    /// use corsica::fetch::CorsError;
    /// assert_eq!(CorsError::WildcardOriginNotAllowed.header(), Some("access-control-allow-origin"));
    /// assert_eq!(CorsError::HeaderDisallowedByPreflightResponse.header(), Some("access-control-allow-headers"));
    /// assert_eq!(CorsError::PreflightInvalidStatus.header(), None);
    /// ```
    pub fn header(self) -> Option<&'static str> {
        use CorsError::*;
        match self {
            MissingAllowOriginHeader
            | PreflightMissingAllowOriginHeader
            | AllowOriginMismatch
            | PreflightAllowOriginMismatch
            | InvalidAllowOriginValue
            | PreflightInvalidAllowOriginValue
            | MultipleAllowOriginValues
            | PreflightMultipleAllowOriginValues
            | WildcardOriginNotAllowed
            | PreflightWildcardOriginNotAllowed => Some("access-control-allow-origin"),
            InvalidAllowCredentials | PreflightInvalidAllowCredentials => {
                Some("access-control-allow-credentials")
            }
            InvalidAllowMethodsPreflightResponse | MethodDisallowedByPreflightResponse => {
                Some("access-control-allow-methods")
            }
            InvalidAllowHeadersPreflightResponse | HeaderDisallowedByPreflightResponse => {
                Some("access-control-allow-headers")
            }
            RedirectContainsCredentials | PreflightDisallowedRedirect => Some("location"),
            _ => None,
        }
    }

    /// Whether the error is about the preflight response.
    ///
    /// ```
    /// assert!(corsica::fetch::CorsError::PreflightInvalidStatus.is_preflight());
    /// ```
    pub fn is_preflight(self) -> bool {
        use CorsError::*;
        matches!(
            self,
            PreflightInvalidStatus
                | PreflightDisallowedRedirect
                | PreflightWildcardOriginNotAllowed
                | PreflightMissingAllowOriginHeader
                | PreflightMultipleAllowOriginValues
                | PreflightInvalidAllowOriginValue
                | PreflightAllowOriginMismatch
                | PreflightInvalidAllowCredentials
                | InvalidAllowMethodsPreflightResponse
                | InvalidAllowHeadersPreflightResponse
                | MethodDisallowedByPreflightResponse
                | HeaderDisallowedByPreflightResponse
        )
    }

    /// The preflight form of one of the six access-check errors (itself otherwise).
    pub(crate) fn on_preflight(self) -> CorsError {
        use CorsError::*;
        match self {
            WildcardOriginNotAllowed => PreflightWildcardOriginNotAllowed,
            MissingAllowOriginHeader => PreflightMissingAllowOriginHeader,
            MultipleAllowOriginValues => PreflightMultipleAllowOriginValues,
            InvalidAllowOriginValue => PreflightInvalidAllowOriginValue,
            AllowOriginMismatch => PreflightAllowOriginMismatch,
            InvalidAllowCredentials => PreflightInvalidAllowCredentials,
            other => other,
        }
    }

    /// The access-check error a `Preflight*` kind stands for (itself otherwise).
    pub(crate) fn base(self) -> CorsError {
        use CorsError::*;
        match self {
            PreflightWildcardOriginNotAllowed => WildcardOriginNotAllowed,
            PreflightMissingAllowOriginHeader => MissingAllowOriginHeader,
            PreflightMultipleAllowOriginValues => MultipleAllowOriginValues,
            PreflightInvalidAllowOriginValue => InvalidAllowOriginValue,
            PreflightAllowOriginMismatch => AllowOriginMismatch,
            PreflightInvalidAllowCredentials => InvalidAllowCredentials,
            other => other,
        }
    }

    /// Whether Chromium's console message carries the
    /// "Response to preflight request doesn't pass access control check: " prefix.
    fn has_preflight_prefix(self) -> bool {
        use CorsError::*;
        matches!(self, PreflightInvalidStatus | PreflightDisallowedRedirect) || self.base() != self
    }
}

impl fmt::Display for CorsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a known `CorsError` name.
///
/// ```
/// assert!("Nope".parse::<corsica::fetch::CorsError>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a CorsError name known to Corsica")]
pub struct UnknownCorsError(pub String);

impl std::str::FromStr for CorsError {
    type Err = UnknownCorsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL.iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownCorsError(s.to_owned()))
    }
}

/// Renders a failed parameter as Chromium does in messages: bytes outside 0x20–0x7E as
/// `\uXXXX` (upper-case hex).
pub(crate) fn chromium_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x20..=0x7e).contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\u{b:04X}"));
        }
    }
    out
}

/// What the console message needs to know about the request.
pub(crate) struct MessageContext<'a> {
    /// The URL that failed (the last one of a redirect chain).
    pub(crate) url: &'a str,
    /// The URL `fetch()` was called with.
    pub(crate) initial_url: &'a str,
    /// The page's origin, serialized.
    pub(crate) origin: &'a str,
}

/// Chromium's console message for a CORS failure of `fetch()`.
pub(crate) fn console_message(kind: CorsError, parameter: &str, cx: &MessageContext<'_>) -> String {
    use CorsError::*;
    let hint = chromium_escape(parameter);
    const FS: &str = " Have the server send the header with a valid value.";
    match kind {
        DisallowedByMode if cx.url == cx.initial_url => {
            return format!(
                "Fetch API cannot load {}. Request mode is \"same-origin\" but the URL's origin is not same as the request origin {}.",
                cx.url, cx.origin
            );
        }
        CorsDisabledScheme => {
            let scheme = cx.url.split(':').next().unwrap_or_default();
            return format!(
                "Fetch API cannot load {}. URL scheme \"{scheme}\" is not supported.",
                cx.url
            );
        }
        NoCorsRedirectModeNotFollow => {
            return format!(
                "Fetch API cannot load {}. Request mode is \"no-cors\" but the redirect mode is not \"follow\".",
                cx.url
            );
        }
        _ => {}
    }
    let body = match kind.base() {
        DisallowedByMode => "Cross origin requests are not allowed by request mode.".to_owned(),
        WildcardOriginNotAllowed => "The value of the 'Access-Control-Allow-Origin' header in the response must not be the wildcard '*' when the request's credentials mode is 'include'.".to_owned(),
        MissingAllowOriginHeader => "No 'Access-Control-Allow-Origin' header is present on the requested resource.".to_owned(),
        MultipleAllowOriginValues => format!("The 'Access-Control-Allow-Origin' header contains multiple values '{hint}', but only one is allowed.{FS}"),
        InvalidAllowOriginValue => format!("The 'Access-Control-Allow-Origin' header contains the invalid value '{hint}'.{FS}"),
        AllowOriginMismatch => format!("The 'Access-Control-Allow-Origin' header has a value '{hint}' that is not equal to the supplied origin.{FS}"),
        InvalidAllowCredentials => format!("The value of the 'Access-Control-Allow-Credentials' header in the response is '{hint}' which must be 'true' when the request's credentials mode is 'include'."),
        PreflightInvalidStatus => "It does not have HTTP ok status.".to_owned(),
        PreflightDisallowedRedirect => "Redirect is not allowed for a preflight request.".to_owned(),
        InvalidAllowMethodsPreflightResponse => "Cannot parse Access-Control-Allow-Methods response header field in preflight response.".to_owned(),
        InvalidAllowHeadersPreflightResponse => "Cannot parse Access-Control-Allow-Headers response header field in preflight response.".to_owned(),
        MethodDisallowedByPreflightResponse => format!("Method {hint} is not allowed by Access-Control-Allow-Methods in preflight response."),
        HeaderDisallowedByPreflightResponse => format!("Request header field {hint} is not allowed by Access-Control-Allow-Headers in preflight response."),
        RedirectContainsCredentials => format!("Redirect location '{hint}' contains a username and password, which is disallowed for cross-origin requests."),
        other => other.as_str().to_owned(),
    };
    let pre = if kind.has_preflight_prefix() {
        "Response to preflight request doesn't pass access control check: "
    } else {
        ""
    };
    blocked_by_cors_policy(&format!("{pre}{body}"), cx)
}

/// `Access to fetch at '…' [(redirected from '…') ]from origin '…' has been blocked by
/// CORS policy: {text}`.
fn blocked_by_cors_policy(text: &str, cx: &MessageContext<'_>) -> String {
    let redirected = if cx.url != cx.initial_url {
        format!("(redirected from '{}') ", cx.initial_url)
    } else {
        String::new()
    };
    format!(
        "Access to fetch at '{}' {redirected}from origin '{}' has been blocked by CORS policy: {text}",
        cx.url, cx.origin
    )
}

/// Chromium's console message for a Local Network Access refusal: `resource` is the
/// server's address space, `wanted` the `targetAddressSpace` the page passed.
pub(crate) fn local_network_message(
    kind: CorsError,
    resource: super::AddressSpace,
    wanted: Option<super::AddressSpace>,
    cx: &MessageContext<'_>,
) -> String {
    let text = match kind {
        CorsError::InsecureLocalNetwork => format!(
            "The request client is not a secure context and the resource is in more-private address space `{resource}`."
        ),
        CorsError::InvalidLocalNetworkAccess => format!(
            "Request had a target IP address space of `{}` yet the resource is in address space `{resource}`.",
            wanted.map_or("unknown", super::AddressSpace::as_str)
        ),
        _ => format!(
            "Permission was denied for this request to access the `{resource}` address space."
        ),
    };
    blocked_by_cors_policy(&text, cx)
}

/// What the fix hint needs.
pub(crate) struct HintContext<'a> {
    /// The origin the server must allow (`null` after a tainting redirect).
    pub(crate) origin: &'a str,
    /// The method of the failing request (`OPTIONS` for a preflight).
    pub(crate) method: &'a str,
    /// The actual request's method (what a preflight asked for).
    pub(crate) actual_method: &'a str,
    /// The URL of the failing response.
    pub(crate) url: &'a str,
    /// Whether the request is credentialed (`include`).
    pub(crate) credentials: bool,
    /// The request's CORS-unsafe header names (for a preflight).
    pub(crate) unsafe_headers: &'a [String],
    /// The status of the failing response, if there was one.
    pub(crate) status: Option<u16>,
    /// The failing response, if there was one (what it already allows is kept in the fix).
    pub(crate) response: Option<&'a super::HttpResponse>,
    /// A redirect through another origin tainted the origin to `null` (Fetch § 4.4).
    pub(crate) tainted: bool,
}

/// What a failing response already allows in `name` (`Access-Control-Allow-Methods` or
/// `-Headers`), then `wanted` where missing: the example line of a fix keeps what the
/// server allows. `*` is kept only when it is a wildcard (no credentials).
pub(crate) fn allowed_plus(cx: &HintContext<'_>, name: &str, wanted: &[String]) -> Vec<String> {
    let lines: Vec<String> = cx
        .response
        .map(|r| {
            r.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .collect()
        })
        .unwrap_or_default();
    let mut out: Vec<String> =
        crate::HeaderList::parse(lines.iter().map(|v| v.as_bytes()), Default::default())
            .map(|l| l.items().to_vec())
            .unwrap_or_default();
    out.retain(|i| i != "*" || !cx.credentials);
    for w in wanted {
        let seen = if name.eq_ignore_ascii_case("access-control-allow-headers") {
            out.iter().any(|o| o.eq_ignore_ascii_case(w))
        } else {
            out.contains(w)
        };
        if !seen {
            out.push(w.clone());
        }
    }
    out
}

/// Corsica's fix hint: which header to add or change, with the exact value.
pub(crate) fn fix_hint(kind: CorsError, parameter: &str, cx: &HintContext<'_>) -> String {
    use CorsError::*;
    let on = if kind.is_preflight() {
        format!("the preflight response (OPTIONS {})", cx.url)
    } else {
        format!("the response to {} {}", cx.method, cx.url)
    };
    let acac = if cx.credentials {
        " and `Access-Control-Allow-Credentials: true`"
    } else {
        ""
    };
    let about_origin = matches!(
        kind.base(),
        WildcardOriginNotAllowed
            | MissingAllowOriginHeader
            | AllowOriginMismatch
            | InvalidAllowOriginValue
    );
    if cx.tainted && about_origin {
        return format!(
            "A redirect through another origin made this request's `Origin` `null` (a tainted origin), so {on} cannot pass by naming the page's origin. Do not allow `null` (any site can send it): have the page call {} directly, or keep the redirect on one origin.",
            cx.url
        );
    }
    match kind.base() {
        DisallowedByMode => "The page asked for `mode: 'same-origin'`; use the default `mode: 'cors'` for a cross-origin URL (or keep the request on the page's own origin).".to_owned(),
        WildcardOriginNotAllowed => format!("On {on}, replace `Access-Control-Allow-Origin: *` with `Access-Control-Allow-Origin: {}` (the exact origin; `*` never works with credentials){acac}, and add `Vary: Origin`. Or call fetch without `credentials: 'include'`.", cx.origin),
        MissingAllowOriginHeader => {
            let mut hint = format!("Add `Access-Control-Allow-Origin: {}`{acac} to {on}, and `Vary: Origin` if the value depends on the request's origin.", cx.origin);
            if kind.is_preflight() && matches!(cx.status, Some(400 | 401 | 403 | 405)) {
                // A CORS-aware server (or gateway) that refuses a preflight answers this way.
                let asked = if cx.unsafe_headers.is_empty() {
                    String::new()
                } else {
                    format!(" and headers {}", cx.unsafe_headers.join(", "))
                };
                hint.push_str(&format!(
                    " The preflight was answered {} without CORS headers: if the server has a CORS configuration, it refused this origin, method {}{asked}; allow them there. If it has none, OPTIONS is reaching authentication or routing that does not handle it.",
                    cx.status.unwrap_or_default(),
                    cx.actual_method
                ));
            }
            hint
        }
        MultipleAllowOriginValues => format!("On {on}, send exactly one origin: `Access-Control-Allow-Origin: {}` (the header must not be added twice, e.g. by both a proxy and the application).", cx.origin),
        InvalidAllowOriginValue | AllowOriginMismatch => format!("On {on}, change `Access-Control-Allow-Origin: {parameter}` to `Access-Control-Allow-Origin: {}` (scheme, host and port exactly as the browser sends them, no trailing slash).", cx.origin),
        InvalidAllowCredentials => format!("On {on}, send `Access-Control-Allow-Credentials: true` (exactly, lower case). Or call fetch without `credentials: 'include'`."),
        CorsDisabledScheme => "Only http: and https: URLs support CORS; serve the resource over HTTP(S).".to_owned(),
        PreflightInvalidStatus => format!("Answer the preflight (OPTIONS {}) with a 2xx status (204 is usual) and the CORS headers; a 401/403/404/405 here usually means the OPTIONS request reached authentication or routing that does not handle it.", cx.url),
        PreflightDisallowedRedirect => format!("Answer the preflight (OPTIONS {}) directly with 204 instead of redirecting it; call fetch with the final URL (check trailing slashes and http→https redirects).", cx.url),
        InvalidAllowMethodsPreflightResponse => format!("On {on}, make `Access-Control-Allow-Methods` a comma-separated list of method names, e.g. `Access-Control-Allow-Methods: {}`.", cx.actual_method),
        InvalidAllowHeadersPreflightResponse => format!("On {on}, make `Access-Control-Allow-Headers` a comma-separated list of header names, e.g. `Access-Control-Allow-Headers: {}`.", list_or(cx.unsafe_headers, "content-type")),
        MethodDisallowedByPreflightResponse => format!("On {on}, add `{parameter}` to `Access-Control-Allow-Methods` (methods are case-sensitive; only DELETE, GET, HEAD, OPTIONS, POST and PUT are upper-cased by fetch()), e.g. `Access-Control-Allow-Methods: {}`.", allowed_plus(cx, "access-control-allow-methods", &[parameter.to_owned()]).join(", ")),
        HeaderDisallowedByPreflightResponse => {
            let star = if parameter == "authorization" && !cx.credentials {
                " (`*` does not cover `authorization`: list it by name)"
            } else {
                ""
            };
            let wanted = if cx.unsafe_headers.is_empty() {
                vec![parameter.to_owned()]
            } else {
                cx.unsafe_headers.to_vec()
            };
            format!("On {on}, add `{parameter}` to `Access-Control-Allow-Headers`{star}, e.g. `Access-Control-Allow-Headers: {}`.", allowed_plus(cx, "access-control-allow-headers", &wanted).join(", "))
        }
        RedirectContainsCredentials => "Remove the user name and password from the redirect's `Location` (send credentials in a header instead).".to_owned(),
        NoCorsRedirectModeNotFollow => "Use `redirect: 'follow'` with `mode: 'no-cors'`.".to_owned(),
        InsecureLocalNetwork => format!("The page is not a secure context (plain http: on a public address), so Chromium never lets it reach {} on the local network or this device, and never asks the user. Serve the page over https: (then the user is asked for the permission), or serve the API from a public address.", cx.url),
        InvalidLocalNetworkAccess => format!("The `targetAddressSpace` passed to fetch() is not where {} turned out to be (Chromium's console message names both): pass the server's real space (`local` for a private address, `loopback` for this device, `public` otherwise), or leave the option out.", cx.url),
        LocalNetworkAccessPermissionDenied => format!("The page is on a public address and {} on the local network or this device: Chromium asks the user for the Local Network Access permission (`local-network` for the local network, `loopback-network` for this device), and it was denied. The user can allow it in the site settings (an administrator with the `LocalNetworkAccessAllowedForUrls` policy); or serve the API from a public address. No response header can allow it.", cx.url),
        other => other.as_str().to_owned(),
    }
}

fn list_or(names: &[String], fallback: &str) -> String {
    if names.is_empty() {
        fallback.to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in CorsError::ALL {
            assert_eq!(k.as_str().parse::<CorsError>(), Ok(k));
            assert_eq!(k.on_preflight().base(), k.base());
        }
    }

    #[test]
    fn messages_follow_chromium() {
        let cx = MessageContext {
            url: "http://api.localhost:8081/x",
            initial_url: "http://api.localhost:8081/x",
            origin: "http://app.localhost:8080",
        };
        assert_eq!(
            console_message(CorsError::MissingAllowOriginHeader, "", &cx),
            "Access to fetch at 'http://api.localhost:8081/x' from origin 'http://app.localhost:8080' has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present on the requested resource."
        );
        assert_eq!(
            console_message(
                CorsError::PreflightAllowOriginMismatch,
                "http://evil\u{7f}",
                &cx
            ),
            "Access to fetch at 'http://api.localhost:8081/x' from origin 'http://app.localhost:8080' has been blocked by CORS policy: Response to preflight request doesn't pass access control check: The 'Access-Control-Allow-Origin' header has a value 'http://evil\\u007F' that is not equal to the supplied origin. Have the server send the header with a valid value."
        );
        let redirected = MessageContext {
            url: "http://b.localhost/y",
            ..cx
        };
        assert!(
            console_message(CorsError::MethodDisallowedByPreflightResponse, "PUT", &redirected).contains(
                "(redirected from 'http://api.localhost:8081/x') from origin 'http://app.localhost:8080' has been blocked by CORS policy: Method PUT is not allowed"
            )
        );
    }
}
