//! Why a request was denied: one machine-readable type for every face of Corsica.
//!
//! The tower layer emits it as a `tracing` event, the gateway logs it and counts it by
//! [`Reason::label`] (a bounded set of values, never the origin itself, so metrics stay
//! small), and the doctor explains it.

use crate::display::shown;
use crate::{HeaderListError, OriginError};

/// The reason a CORS request was denied by a [`Policy`](crate::Policy).
///
/// ```
/// use corsica::{Policy, Reason};
/// use http::{HeaderMap, HeaderValue, Method};
///
/// let policy = Policy::builder().allow_origins(["https://app.example.com"]).build()?;
/// let mut h = HeaderMap::new();
/// h.insert("origin", HeaderValue::from_static("https://evil.example"));
/// let decision = policy.decide(&Method::GET, &h);
/// let reason = decision.reason().unwrap();
/// assert_eq!(reason.label(), "origin_not_allowed");
/// assert!(matches!(reason, Reason::OriginNotAllowed { origin } if origin == "https://evil.example"));
/// # Ok::<(), corsica::ConfigErrors>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reason {
    /// The origin is well-formed but not in the policy's origins.
    #[error(
        "origin `{origin}` is not allowed: it matches none of the policy's origins (add it to the allowed origins if it should be)"
    )]
    OriginNotAllowed {
        /// The request's origin.
        origin: String,
    },
    /// The origin is `null` and the policy does not allow it.
    #[error(
        "origin `null` is not allowed: sandboxed iframes, file: and data: pages and cross-origin redirects send it; allowing it trusts every such page"
    )]
    NullOriginNotAllowed,
    /// The `Origin` header is malformed.
    #[error("malformed Origin header: {error}")]
    InvalidOrigin {
        /// What is wrong with it.
        #[source]
        error: OriginError,
    },
    /// The request has several `Origin` header lines.
    #[error("{count} Origin header lines: a request has exactly one origin")]
    MultipleOrigins {
        /// How many lines.
        count: usize,
    },
    /// `Access-Control-Request-Method` is not a method token, or repeated.
    #[error("malformed Access-Control-Request-Method `{value}`: it must be one method token")]
    InvalidRequestMethod {
        /// The value, escaped and bounded.
        value: String,
    },
    /// The method is not in the policy's methods.
    #[error(
        "method `{method}` is not allowed (methods are case-sensitive: `fetch()` upper-cases only DELETE, GET, HEAD, OPTIONS, POST and PUT); add it to the allowed methods if it should be"
    )]
    MethodNotAllowed {
        /// The requested method.
        method: String,
    },
    /// `Access-Control-Request-Headers` is malformed or over the limits.
    #[error("malformed Access-Control-Request-Headers: {error}")]
    InvalidRequestHeaders {
        /// What is wrong with it.
        #[source]
        error: HeaderListError,
    },
    /// A requested header is not in the policy's headers.
    #[error(
        "request header `{name}` is not allowed; add it to the allowed headers if it should be"
    )]
    HeaderNotAllowed {
        /// The header name, lower-cased.
        name: String,
    },
}

impl Reason {
    /// A short, stable, bounded label for metrics and log fields.
    ///
    /// ```
    /// assert_eq!(corsica::Reason::NullOriginNotAllowed.label(), "null_origin_not_allowed");
    /// ```
    pub fn label(&self) -> &'static str {
        match self {
            Reason::OriginNotAllowed { .. } => "origin_not_allowed",
            Reason::NullOriginNotAllowed => "null_origin_not_allowed",
            Reason::InvalidOrigin { .. } => "invalid_origin",
            Reason::MultipleOrigins { .. } => "multiple_origins",
            Reason::InvalidRequestMethod { .. } => "invalid_request_method",
            Reason::MethodNotAllowed { .. } => "method_not_allowed",
            Reason::InvalidRequestHeaders {
                error: HeaderListError::TooLong { .. } | HeaderListError::TooManyItems { .. },
            } => "request_headers_too_large",
            Reason::InvalidRequestHeaders { .. } => "invalid_request_headers",
            Reason::HeaderNotAllowed { .. } => "header_not_allowed",
        }
    }

    /// Every label [`Reason::label`] can return (for pre-registering metrics).
    ///
    /// ```
    /// assert!(corsica::Reason::LABELS.contains(&"header_not_allowed"));
    /// ```
    pub const LABELS: [&'static str; 9] = [
        "origin_not_allowed",
        "null_origin_not_allowed",
        "invalid_origin",
        "multiple_origins",
        "invalid_request_method",
        "method_not_allowed",
        "request_headers_too_large",
        "invalid_request_headers",
        "header_not_allowed",
    ];

    pub(crate) fn invalid_method(bytes: &[u8]) -> Reason {
        Reason::InvalidRequestMethod {
            value: shown(bytes),
        }
    }
}
