//! Firefox's vocabulary for CORS failures: the keys of its `security.properties` (the
//! names of MDN's CORS error pages) and the exact console text of each.

use std::fmt;

use super::error::CorsError;

/// A Firefox CORS error: its `security.properties` key with the version digits dropped,
/// which is also the name of MDN's page about it.
///
/// ```
/// use corsica::fetch::{CorsError, FirefoxError};
/// assert_eq!(FirefoxError::MissingAllowOrigin.as_str(), "CORSMissingAllowOrigin");
/// assert_eq!(FirefoxError::of(CorsError::PreflightWildcardOriginNotAllowed), FirefoxError::NotSupportingCredentials);
/// assert_eq!("CORSMethodNotFound".parse(), Ok(FirefoxError::MethodNotFound));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FirefoxError {
    /// `CORSDisabled`: CORS is switched off in the browser's settings.
    Disabled,
    /// `CORSDidNotSucceed`: the request failed below CORS (network error, too many
    /// redirects, a redirect with credentials).
    DidNotSucceed,
    /// `CORSRequestNotHttp`: the URL is not HTTP(S).
    RequestNotHttp,
    /// `CORSMissingAllowOrigin`: no `Access-Control-Allow-Origin`.
    MissingAllowOrigin,
    /// `CORSMultipleAllowOriginNotAllowed`: several `Access-Control-Allow-Origin` headers.
    MultipleAllowOriginNotAllowed,
    /// `CORSAllowOriginNotMatchingOrigin`: `Access-Control-Allow-Origin` is not the origin
    /// (nor `*`): another origin, `null`, a list, an invalid value.
    AllowOriginNotMatchingOrigin,
    /// `CORSNotSupportingCredentials`: `Access-Control-Allow-Origin: *` with credentials.
    NotSupportingCredentials,
    /// `CORSMethodNotFound`: the method is not in `Access-Control-Allow-Methods`.
    MethodNotFound,
    /// `CORSMissingAllowCredentials`: credentials and no `Access-Control-Allow-Credentials: true`.
    MissingAllowCredentials,
    /// `CORSPreflightDidNotSucceed`: the preflight's status is not 2xx.
    PreflightDidNotSucceed,
    /// `CORSInvalidAllowMethod`: an `Access-Control-Allow-Methods` item is not a token.
    InvalidAllowMethod,
    /// `CORSInvalidAllowHeader`: an `Access-Control-Allow-Headers` item is not a token.
    InvalidAllowHeader,
    /// `CORSMissingAllowHeaderFromPreflight`: a request header is not in
    /// `Access-Control-Allow-Headers`.
    MissingAllowHeaderFromPreflight,
    /// `CORSExternalRedirectNotAllowed`: the preflight was answered with a redirect.
    ExternalRedirectNotAllowed,
}

const ALL: [FirefoxError; 14] = [
    FirefoxError::Disabled,
    FirefoxError::DidNotSucceed,
    FirefoxError::RequestNotHttp,
    FirefoxError::MissingAllowOrigin,
    FirefoxError::MultipleAllowOriginNotAllowed,
    FirefoxError::AllowOriginNotMatchingOrigin,
    FirefoxError::NotSupportingCredentials,
    FirefoxError::MethodNotFound,
    FirefoxError::MissingAllowCredentials,
    FirefoxError::PreflightDidNotSucceed,
    FirefoxError::InvalidAllowMethod,
    FirefoxError::InvalidAllowHeader,
    FirefoxError::MissingAllowHeaderFromPreflight,
    FirefoxError::ExternalRedirectNotAllowed,
];

impl FirefoxError {
    /// Every key the model knows.
    ///
    /// ```
    /// assert_eq!(corsica::fetch::FirefoxError::ALL.len(), 14);
    /// ```
    pub const ALL: [FirefoxError; 14] = ALL;

    /// The `security.properties` key without its version digits.
    ///
    /// ```
    /// assert_eq!(corsica::fetch::FirefoxError::DidNotSucceed.as_str(), "CORSDidNotSucceed");
    /// ```
    pub fn as_str(self) -> &'static str {
        use FirefoxError::*;
        match self {
            Disabled => "CORSDisabled",
            DidNotSucceed => "CORSDidNotSucceed",
            RequestNotHttp => "CORSRequestNotHttp",
            MissingAllowOrigin => "CORSMissingAllowOrigin",
            MultipleAllowOriginNotAllowed => "CORSMultipleAllowOriginNotAllowed",
            AllowOriginNotMatchingOrigin => "CORSAllowOriginNotMatchingOrigin",
            NotSupportingCredentials => "CORSNotSupportingCredentials",
            MethodNotFound => "CORSMethodNotFound",
            MissingAllowCredentials => "CORSMissingAllowCredentials",
            PreflightDidNotSucceed => "CORSPreflightDidNotSucceed",
            InvalidAllowMethod => "CORSInvalidAllowMethod",
            InvalidAllowHeader => "CORSInvalidAllowHeader",
            MissingAllowHeaderFromPreflight => "CORSMissingAllowHeaderFromPreflight",
            ExternalRedirectNotAllowed => "CORSExternalRedirectNotAllowed",
        }
    }

    /// The key Firefox reports for a failed check of the shared model (named by Chromium's
    /// `CorsError`, the finer vocabulary). Firefox does not tell a preflight's origin
    /// errors from the actual request's, and reports every `Access-Control-Allow-Origin`
    /// value that is not the origin (another origin, `null`, two values, an invalid value,
    /// two joined header lines) as `CORSAllowOriginNotMatchingOrigin`; a redirect with
    /// credentials fails the channel: `CORSDidNotSucceed`.
    ///
    /// ```
    /// use corsica::fetch::{CorsError, FirefoxError};
    /// assert_eq!(FirefoxError::of(CorsError::MultipleAllowOriginValues), FirefoxError::AllowOriginNotMatchingOrigin);
    /// ```
    pub fn of(error: CorsError) -> FirefoxError {
        use CorsError::*;
        match error {
            MissingAllowOriginHeader | PreflightMissingAllowOriginHeader => {
                FirefoxError::MissingAllowOrigin
            }
            MultipleAllowOriginValues
            | PreflightMultipleAllowOriginValues
            | InvalidAllowOriginValue
            | PreflightInvalidAllowOriginValue
            | AllowOriginMismatch
            | PreflightAllowOriginMismatch => FirefoxError::AllowOriginNotMatchingOrigin,
            WildcardOriginNotAllowed | PreflightWildcardOriginNotAllowed => {
                FirefoxError::NotSupportingCredentials
            }
            InvalidAllowCredentials | PreflightInvalidAllowCredentials => {
                FirefoxError::MissingAllowCredentials
            }
            PreflightInvalidStatus => FirefoxError::PreflightDidNotSucceed,
            PreflightDisallowedRedirect => FirefoxError::ExternalRedirectNotAllowed,
            InvalidAllowMethodsPreflightResponse => FirefoxError::InvalidAllowMethod,
            InvalidAllowHeadersPreflightResponse => FirefoxError::InvalidAllowHeader,
            MethodDisallowedByPreflightResponse => FirefoxError::MethodNotFound,
            HeaderDisallowedByPreflightResponse => FirefoxError::MissingAllowHeaderFromPreflight,
            // Not yet seen from Firefox: its key for a URL that is not HTTP(S).
            CorsDisabledScheme => FirefoxError::RequestNotHttp,
            // A redirect with credentials fails Firefox's channel. The mode refusals and
            // Local Network Access never reach Firefox's vocabulary in the model (Firefox
            // reports no CORS error for the first, and the model does not enforce the second
            // for Firefox); a failed channel is the nearest key.
            RedirectContainsCredentials
            | DisallowedByMode
            | NoCorsRedirectModeNotFollow
            | InsecureLocalNetwork
            | InvalidLocalNetworkAccess
            | LocalNetworkAccessPermissionDenied => FirefoxError::DidNotSucceed,
        }
    }

    /// Whether the console text quotes a parameter (a header value, name or token), which
    /// the model reports as the failed parameter.
    pub(crate) fn quotes_parameter(self) -> bool {
        use FirefoxError::*;
        matches!(
            self,
            AllowOriginNotMatchingOrigin
                | InvalidAllowMethod
                | InvalidAllowHeader
                | MissingAllowHeaderFromPreflight
        )
    }

    /// Firefox's console text for this error: `url` is the URL whose response failed,
    /// `parameter` what the text quotes, `status` the failing response's status (`None`:
    /// the request got none).
    ///
    /// ```
    /// use corsica::fetch::FirefoxError;
    /// assert_eq!(
    ///     FirefoxError::MissingAllowOrigin.console_message("https://api.example/x", "", Some(200)),
    ///     "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at https://api.example/x. (Reason: CORS header ‘Access-Control-Allow-Origin’ missing). Status code: 200."
    /// );
    /// ```
    pub fn console_message(self, url: &str, parameter: &str, status: Option<u16>) -> String {
        use FirefoxError::*;
        let status = status.map_or_else(|| "(null)".to_owned(), |s| s.to_string());
        let reason = match self {
            Disabled => "CORS disabled)".to_owned(),
            DidNotSucceed => format!("CORS request did not succeed). Status code: {status}"),
            RequestNotHttp => "CORS request not http)".to_owned(),
            MissingAllowOrigin => {
                format!("CORS header ‘Access-Control-Allow-Origin’ missing). Status code: {status}")
            }
            MultipleAllowOriginNotAllowed => {
                "Multiple CORS header ‘Access-Control-Allow-Origin’ not allowed)".to_owned()
            }
            AllowOriginNotMatchingOrigin => {
                format!("CORS header ‘Access-Control-Allow-Origin’ does not match ‘{parameter}’)")
            }
            NotSupportingCredentials => {
                return format!(
                    "{BLOCKED}‘{url}’. (Reason: Credential is not supported if the CORS header ‘Access-Control-Allow-Origin’ is ‘*’)."
                );
            }
            MethodNotFound => {
                "Did not find method in CORS header ‘Access-Control-Allow-Methods’)".to_owned()
            }
            MissingAllowCredentials => {
                "expected ‘true’ in CORS header ‘Access-Control-Allow-Credentials’)".to_owned()
            }
            PreflightDidNotSucceed => {
                format!("CORS preflight response did not succeed). Status code: {status}")
            }
            InvalidAllowMethod => format!(
                "invalid token ‘{parameter}’ in CORS header ‘Access-Control-Allow-Methods’)"
            ),
            InvalidAllowHeader => format!(
                "invalid token ‘{parameter}’ in CORS header ‘Access-Control-Allow-Headers’)"
            ),
            MissingAllowHeaderFromPreflight => format!(
                "header ‘{parameter}’ is not allowed according to header ‘Access-Control-Allow-Headers’ from CORS preflight response)"
            ),
            ExternalRedirectNotAllowed => "CORS request external redirect not allowed)".to_owned(),
        };
        format!("{BLOCKED}{url}. (Reason: {reason}.")
    }
}

const BLOCKED: &str = "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at ";

impl fmt::Display for FirefoxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a Firefox CORS key known to Corsica.
///
/// ```
/// assert!("CORSNope".parse::<corsica::fetch::FirefoxError>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a Firefox CORS error key known to Corsica")]
pub struct UnknownFirefoxError(pub String);

impl std::str::FromStr for FirefoxError {
    type Err = UnknownFirefoxError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL.iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownFirefoxError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every Chromium kind maps to a key, and the keys round-trip through their names.
    #[test]
    fn keys() {
        for k in CorsError::ALL {
            let f = FirefoxError::of(k);
            assert_eq!(f.as_str().parse::<FirefoxError>(), Ok(f));
        }
    }

    /// The texts of Firefox 153's `security.properties`, as the conformance suite saw them.
    #[test]
    fn texts() {
        let url = "http://api.localhost:1/s/1/0";
        #[rustfmt::skip]
        let cases: &[(FirefoxError, &str, Option<u16>, &str)] = &[
            (FirefoxError::DidNotSucceed, "", None, "(Reason: CORS request did not succeed). Status code: (null)."),
            (FirefoxError::AllowOriginNotMatchingOrigin, "null", None, "(Reason: CORS header ‘Access-Control-Allow-Origin’ does not match ‘null’)."),
            (FirefoxError::PreflightDidNotSucceed, "", Some(404), "(Reason: CORS preflight response did not succeed). Status code: 404."),
            (FirefoxError::MissingAllowHeaderFromPreflight, "x-a", None, "(Reason: header ‘x-a’ is not allowed according to header ‘Access-Control-Allow-Headers’ from CORS preflight response)."),
        ];
        for (k, p, s, reason) in cases {
            let m = k.console_message(url, p, *s);
            assert_eq!(m, format!("{BLOCKED}{url}. {reason}"));
        }
        assert!(
            FirefoxError::NotSupportingCredentials
                .console_message(url, "", None)
                .contains(&format!("at ‘{url}’. (Reason"))
        );
    }
}
