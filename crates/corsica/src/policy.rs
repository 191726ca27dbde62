//! CORS policies, and the builder that refuses insecure or broken ones.
//!
//! [`PolicyBuilder::build`] validates everything once and renders every constant header
//! value up front, so deciding a request later is lookups and clones of shared bytes.
//!
//! Refused, each with a [`ConfigError`] that names the problem and the fix:
//! - credentials with origin `*`, or with `*` in methods, headers or exposed headers;
//! - `null` in the origins without the explicit opt-in, and `null` with credentials at all;
//! - patterns over a public suffix (`https://*.kin`) with credentials (without, they are
//!   accepted with a warning, [`Policy::warnings`]: they allow no more than `*`), unanchored
//!   patterns;
//! - plain `http://` origins (other than loopback) with credentials, unless opted in;
//! - forbidden methods (`CONNECT`, `TRACE`, `TRACK`), invalid methods and header names;
//! - header names no page can use: forbidden request headers in `headers` (`Connection`,
//!   `Sec-*`, `Proxy-*`), forbidden response headers in `expose` (`Set-Cookie`), and the
//!   CORS protocol's own `Access-Control-*` names in either;
//! - a max-age over 24 hours; no origins at all; `*` mixed with other origins.

use std::fmt;
use std::time::Duration;

use http::{HeaderName, HeaderValue, StatusCode};

use crate::errors::Errors;
use crate::header_list::HeaderListLimits;
use crate::header_name::{
    is_cors_protocol_header_name, is_forbidden_request_header_name,
    is_forbidden_response_header_name,
};
use crate::method::{is_forbidden, is_token, normalize};
use crate::origin::is_loopback_host;
use crate::origin_entry::{OriginEntry, PatternError};
use crate::origin_set::OriginSet;

/// The longest max-age accepted: 24 hours (Firefox's cap; Chromium caps at 2 hours).
pub const MAX_MAX_AGE: Duration = Duration::from_secs(86_400);

/// Why a policy is refused. Every message says what is wrong and how to fix it; the key
/// names are those of the gateway's TOML configuration (`origins`, `credentials`, ...),
/// which map one to one onto [`PolicyBuilder`] methods.
///
/// ```
/// use corsica::{ConfigError, Policy};
/// let err = Policy::builder().allow_origins(["*"]).allow_credentials(true).build().unwrap_err();
/// assert!(matches!(err.first(), ConfigError::CredentialsWithAnyOrigin));
/// println!("{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An entry of `origins` is invalid.
    #[error("origins: {source}")]
    InvalidOrigin {
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        #[source]
        source: PatternError,
    },
    /// A subdomain pattern over a public suffix (`https://*.kin`) with credentials.
    #[error(
        "origins: `{entry}` trusts every site under the public suffix `{suffix}`, other owners' sites too, and credentials are on: any of them could read your users' data; list your own domain, e.g. `{example}`"
    )]
    PublicSuffixWithCredentials {
        /// The entry as written.
        entry: String,
        /// The public suffix.
        suffix: String,
        /// An acceptable pattern.
        example: String,
    },
    /// A warning ([`Policy::warnings`]), not an error: a subdomain pattern over a public
    /// suffix (`https://*.kin`) without credentials, which allows no more than `*` does.
    #[error(
        "origins: `{entry}` trusts every site under the public suffix `{suffix}`, other owners' sites too: without credentials that is allowed, but it is no narrower than \"*\"; write \"*\" if that is meant, or list your own domain, e.g. `{example}`"
    )]
    PublicSuffixPattern {
        /// The entry as written.
        entry: String,
        /// The public suffix.
        suffix: String,
        /// An acceptable pattern.
        example: String,
    },
    /// No origins at all.
    #[error(
        "no origins are allowed: list the origins of your front-ends in `origins` (e.g. \"https://app.example.com\"), or \"*\" for a public API without credentials"
    )]
    NoOrigins,
    /// `*` listed together with other origins.
    #[error(
        "origins: \"*\" already allows every origin, so `{other}` has no effect; keep \"*\" alone, or remove it and list the origins"
    )]
    AnyOriginWithOthers {
        /// One of the other entries.
        other: String,
    },
    /// Credentials with origin `*`.
    #[error(
        "credentials cannot be allowed with origin \"*\": browsers reject `Access-Control-Allow-Origin: *` on credentialed requests, and reflecting every origin instead would let any site read your users' data; list the trusted origins in `origins`"
    )]
    CredentialsWithAnyOrigin,
    /// Credentials with `*` in methods, headers or exposed headers.
    #[error(
        "credentials are on, so \"*\" in `{key}` would be sent as a literal name, not a wildcard (browsers ignore the wildcard on credentialed requests); list the {key} explicitly"
    )]
    CredentialsWithWildcard {
        /// `methods`, `headers` or `expose`.
        key: &'static str,
    },
    /// `null` in origins without the opt-in.
    #[error(
        "origins: \"null\" is listed but not opted into: sandboxed iframes, file: and data: pages and cross-origin redirects all send `Origin: null`, so any site can produce it; remove it, or opt in explicitly with `allow_null_origin = true`"
    )]
    NullOriginNotOptedIn,
    /// `null` with credentials.
    #[error(
        "origins: \"null\" with credentials would let any site read your users' data through a sandboxed iframe; remove \"null\" or turn credentials off"
    )]
    NullOriginWithCredentials,
    /// A plain-HTTP, non-loopback origin with credentials.
    #[error(
        "origins: `{origin}` is plain http and credentials are on: anyone on the network path can run script as that origin and read your users' data; use https://, or opt in with `allow_insecure_origins = true`"
    )]
    InsecureOriginWithCredentials {
        /// The entry.
        origin: String,
    },
    /// A forbidden method.
    #[error(
        "methods: `{method}` is a forbidden method (CONNECT, TRACE and TRACK can never be sent by a page); remove it"
    )]
    ForbiddenMethod {
        /// The method as written.
        method: String,
    },
    /// A method that is not a token.
    #[error(
        "methods: `{method}` is not a valid method name (a token: letters, digits and !#$%&'*+-.^_`|~), e.g. \"PATCH\""
    )]
    InvalidMethod {
        /// The method as written.
        method: String,
    },
    /// An invalid header name.
    #[error(
        "{key}: `{name}` is not a valid header name (a token: letters, digits and !#$%&'*+-.^_`|~), e.g. \"x-api-key\""
    )]
    InvalidHeaderName {
        /// `headers` or `expose`.
        key: &'static str,
        /// The name as written.
        name: String,
    },
    /// A forbidden request-header name in `headers` (Fetch § forbidden request-header).
    #[error(
        "headers: `{name}` is a forbidden request header: browsers never let a page send it, so allowing it has no effect; remove it"
    )]
    ForbiddenRequestHeader {
        /// The name as written.
        name: String,
    },
    /// A forbidden response-header name in `expose` (Fetch § forbidden response-header name).
    #[error(
        "expose: `{name}` is a forbidden response header: browsers never let a script read it, exposed or not, so exposing it has no effect; remove it"
    )]
    ForbiddenResponseHeader {
        /// The name as written.
        name: String,
    },
    /// One of the CORS protocol's own `Access-Control-*` names in `headers` or `expose`.
    #[error(
        "{key}: `{name}` is a CORS protocol header: the browser and the server exchange it (Corsica sends the response ones itself), a page never sends it and a script has no use for it, so listing it has no effect; remove it"
    )]
    CorsProtocolHeader {
        /// `headers` or `expose`.
        key: &'static str,
        /// The name as written.
        name: String,
    },
    /// `*` mixed with other entries in methods, headers or expose.
    #[error(
        "{key}: \"*\" already covers every name, so `{other}` has no effect; keep \"*\" alone or list the names"
    )]
    WildcardWithOthers {
        /// `methods`, `headers` or `expose`.
        key: &'static str,
        /// One of the other entries.
        other: String,
    },
    /// Max-age over 24 hours.
    #[error(
        "max_age = {secs} s is over 24 hours (86400 s): browsers cap it anyway (Chromium at 7200 s, Firefox at 86400 s); use at most 86400, e.g. 7200"
    )]
    MaxAgeTooLarge {
        /// The requested max-age in seconds.
        secs: u64,
    },
    /// A preflight success status that is not 2xx.
    #[error(
        "preflight_status = {status}: browsers require an ok status (200-299) for a preflight; use 204 or 200"
    )]
    InvalidPreflightStatus {
        /// The status.
        status: u16,
    },
    /// A denied-preflight status that is not an error status.
    #[error(
        "denied_preflight_status = {status}: a denied preflight should say so with an error status (400-599); use 403"
    )]
    InvalidDeniedStatus {
        /// The status.
        status: u16,
    },
    /// A problem in the public tier's lists ([`PolicyBuilder::allow_public`]).
    #[error("public: {0}")]
    InPublic(Box<ConfigError>),
    /// A public tier beside origin `*`.
    #[error(
        "public: origin \"*\" already makes every origin public; remove the public tier, or list the trusted origins in `origins`"
    )]
    PublicWithAnyOrigin,
    /// Header-list limits of zero.
    #[error(
        "request header limits must be at least 1 (max_bytes = {max_bytes}, max_items = {max_items}); the defaults are 4096 and 64"
    )]
    InvalidLimits {
        /// The byte limit.
        max_bytes: usize,
        /// The item limit.
        max_items: usize,
    },
}

impl ConfigError {
    /// The configuration key the error is about (`origins`, `credentials`, `methods`,
    /// `headers`, `expose`, `max_age`, `preflight_status`, `denied_preflight_status`,
    /// `request_header_limits`): the name of the gateway's TOML key and of the
    /// [`PolicyBuilder`] setting, so that a caller can point at it.
    ///
    /// ```
    /// use corsica::Policy;
    /// let err = Policy::builder().allow_origins(["*"]).allow_methods(["TRACE"]).build().unwrap_err();
    /// assert_eq!(err.first().key(), "methods");
    /// ```
    pub fn key(&self) -> &'static str {
        match self {
            ConfigError::InvalidOrigin { .. }
            | ConfigError::PublicSuffixWithCredentials { .. }
            | ConfigError::PublicSuffixPattern { .. }
            | ConfigError::NoOrigins
            | ConfigError::AnyOriginWithOthers { .. }
            | ConfigError::NullOriginNotOptedIn
            | ConfigError::InsecureOriginWithCredentials { .. } => "origins",
            ConfigError::CredentialsWithAnyOrigin | ConfigError::NullOriginWithCredentials => {
                "credentials"
            }
            ConfigError::CredentialsWithWildcard { key }
            | ConfigError::InvalidHeaderName { key, .. }
            | ConfigError::CorsProtocolHeader { key, .. }
            | ConfigError::WildcardWithOthers { key, .. } => key,
            ConfigError::ForbiddenMethod { .. } | ConfigError::InvalidMethod { .. } => "methods",
            ConfigError::ForbiddenRequestHeader { .. } => "headers",
            ConfigError::ForbiddenResponseHeader { .. } => "expose",
            ConfigError::MaxAgeTooLarge { .. } => "max_age",
            ConfigError::InvalidPreflightStatus { .. } => "preflight_status",
            ConfigError::InvalidDeniedStatus { .. } => "denied_preflight_status",
            ConfigError::InvalidLimits { .. } => "request_header_limits",
            ConfigError::PublicWithAnyOrigin => "public",
            ConfigError::InPublic(inner) => match inner.key() {
                "methods" => "public.methods",
                "headers" => "public.headers",
                "expose" => "public.expose",
                _ => "public",
            },
        }
    }

    /// The entry of the key's list that the error is about, as written (or, for an
    /// insecure origin, as serialized), when there is one.
    ///
    /// ```
    /// use corsica::Policy;
    /// let err = Policy::builder().allow_origins(["https://a.example/path"]).build().unwrap_err();
    /// assert_eq!(err.first().entry(), Some("https://a.example/path"));
    /// ```
    pub fn entry(&self) -> Option<&str> {
        match self {
            ConfigError::InvalidOrigin { entry, .. }
            | ConfigError::PublicSuffixWithCredentials { entry, .. }
            | ConfigError::PublicSuffixPattern { entry, .. } => Some(entry),
            ConfigError::AnyOriginWithOthers { other }
            | ConfigError::WildcardWithOthers { other, .. } => Some(other),
            ConfigError::NullOriginNotOptedIn | ConfigError::NullOriginWithCredentials => {
                Some("null")
            }
            ConfigError::CredentialsWithAnyOrigin => Some("*"),
            ConfigError::InsecureOriginWithCredentials { origin } => Some(origin),
            ConfigError::ForbiddenMethod { method } | ConfigError::InvalidMethod { method } => {
                Some(method)
            }
            ConfigError::InvalidHeaderName { name, .. }
            | ConfigError::ForbiddenRequestHeader { name }
            | ConfigError::ForbiddenResponseHeader { name }
            | ConfigError::CorsProtocolHeader { name, .. } => Some(name),
            ConfigError::CredentialsWithWildcard { .. } => Some("*"),
            ConfigError::InPublic(inner) => inner.entry(),
            _ => None,
        }
    }
}

/// Every problem of a refused policy (never empty), as [`PolicyBuilder::build`] found them,
/// so that a configuration is fixed in one round rather than one error at a time.
///
/// `Display` prints one problem per line.
///
/// ```
/// use corsica::Policy;
/// let err = Policy::builder()
///     .allow_origins(["*", "null"])
///     .allow_credentials(true)
///     .build()
///     .unwrap_err();
/// assert!(err.len() >= 2);
/// for problem in &err {
///     println!("{}: {problem}", problem.key());
/// }
/// ```
pub type ConfigErrors = Errors<ConfigError>;

/// Either every name (`*`) or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Allowed<T> {
    Any,
    List(Vec<T>),
}

/// The allowed request headers: a list, plus `*` for every other name except
/// `authorization`, which the Fetch standard never lets a wildcard cover (it is the
/// "CORS non-wildcard request-header name"), so it must be listed to be allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderRule {
    pub(crate) any: bool,
    /// Lower-case names.
    pub(crate) names: Vec<HeaderName>,
}

/// Header values rendered once at build time.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    pub(crate) allow_methods: Option<HeaderValue>,
    /// `None` with `Allowed::Any` headers (the request's list is echoed).
    pub(crate) allow_headers: Option<HeaderValue>,
    pub(crate) expose_headers: Option<HeaderValue>,
    pub(crate) max_age: Option<HeaderValue>,
}

/// What one tier of a policy allows: the trusted origins' (`origins`, with credentials when
/// the policy allows them) or the public tier's (every other origin, never with
/// credentials, answered `Access-Control-Allow-Origin: *`).
#[derive(Debug, Clone)]
pub(crate) struct Tier {
    pub(crate) methods: Allowed<Box<str>>,
    /// Lower-case names.
    pub(crate) headers: HeaderRule,
    pub(crate) expose: Allowed<HeaderName>,
    pub(crate) rendered: Rendered,
}

impl Tier {
    /// Validates and renders the three lists, pushing every problem to `errors`.
    fn compile(
        methods: &[String],
        headers: &[String],
        expose: &[String],
        max_age: Option<Duration>,
        errors: &mut Vec<ConfigError>,
    ) -> Tier {
        let methods = parse_methods(methods, errors);
        let headers = parse_request_headers(headers, errors);
        let expose = parse_names("expose", expose, errors);
        let rendered = Rendered {
            allow_methods: match &methods {
                Allowed::Any => Some(HeaderValue::from_static("*")),
                Allowed::List(l) if l.is_empty() => None,
                Allowed::List(l) => Some(join(l.iter().map(|m| &**m))),
            },
            allow_headers: if headers.any || headers.names.is_empty() {
                None
            } else {
                Some(join(headers.names.iter().map(HeaderName::as_str)))
            },
            expose_headers: match &expose {
                Allowed::Any => Some(HeaderValue::from_static("*")),
                Allowed::List(l) if l.is_empty() => None,
                Allowed::List(l) => Some(join(l.iter().map(HeaderName::as_str))),
            },
            max_age: max_age.map(|a| HeaderValue::from(whole_seconds(a))),
        };
        Tier {
            methods,
            headers,
            expose,
            rendered,
        }
    }

    pub(crate) fn allows_method_bytes(&self, method: &[u8]) -> bool {
        match &self.methods {
            Allowed::Any => true,
            Allowed::List(list) => list.iter().any(|m| m.as_bytes() == method),
        }
    }

    pub(crate) fn allows_header_bytes(&self, name: &[u8]) -> bool {
        // The listed names are lower-case, and browsers send lower-case names: an exact
        // comparison first, a case-insensitive one only for a name with upper-case bytes.
        let listed = || {
            let names = &self.headers.names;
            names.iter().any(|h| h.as_str().as_bytes() == name)
                || (name.iter().any(u8::is_ascii_uppercase)
                    && names
                        .iter()
                        .any(|h| h.as_str().as_bytes().eq_ignore_ascii_case(name)))
        };
        (self.headers.any && !name.eq_ignore_ascii_case(b"authorization")) || listed()
    }
}

/// The public tier of a policy: what any origin that is not trusted may do, without
/// credentials. Answers to it carry `Access-Control-Allow-Origin: *` (so a credentialed
/// request from such an origin is refused by the browser) and vary on `Origin`.
///
/// ```
/// use corsica::{Policy, PublicAccess};
/// // The company's front-end writes with cookies; anyone else may read.
/// let policy = Policy::builder()
///     .allow_origins(["https://app.example.com"])
///     .allow_credentials(true)
///     .allow_methods(["GET", "HEAD", "POST", "PUT", "DELETE"])
///     .allow_headers(["content-type", "x-api-key"])
///     .allow_public(PublicAccess::read_only().expose_headers(["etag"]))
///     .build()?;
/// assert!(policy.public().is_some());
/// # Ok::<(), corsica::ConfigErrors>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct PublicAccess {
    methods: Vec<String>,
    headers: Vec<String>,
    expose: Vec<String>,
}

impl PublicAccess {
    /// `GET` and `HEAD`, no extra request header, nothing exposed.
    ///
    /// ```
    /// let public = corsica::PublicAccess::read_only();
    /// assert_eq!(public.methods(), ["GET", "HEAD"]);
    /// ```
    pub fn read_only() -> PublicAccess {
        PublicAccess {
            methods: vec!["GET".into(), "HEAD".into()],
            headers: Vec::new(),
            expose: Vec::new(),
        }
    }

    /// Replaces the methods (validated like [`PolicyBuilder::allow_methods`]).
    ///
    /// ```
    /// let public = corsica::PublicAccess::read_only().allow_methods(["GET", "HEAD", "POST"]);
    /// assert_eq!(public.methods().len(), 3);
    /// ```
    pub fn allow_methods(mut self, methods: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.methods = methods.into_iter().map(Into::into).collect();
        self
    }

    /// Adds request headers (validated like [`PolicyBuilder::allow_headers`]).
    ///
    /// ```
    /// let public = corsica::PublicAccess::read_only().allow_headers(["x-api-key"]);
    /// ```
    pub fn allow_headers(mut self, headers: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.headers.extend(headers.into_iter().map(Into::into));
        self
    }

    /// Adds exposed response headers (validated like [`PolicyBuilder::expose_headers`]).
    ///
    /// ```
    /// let public = corsica::PublicAccess::read_only().expose_headers(["etag"]);
    /// ```
    pub fn expose_headers(mut self, headers: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.expose.extend(headers.into_iter().map(Into::into));
        self
    }

    /// The methods, as given.
    ///
    /// ```
    /// assert!(corsica::PublicAccess::read_only().methods().contains(&"GET".to_owned()));
    /// ```
    pub fn methods(&self) -> &[String] {
        &self.methods
    }
}

/// A validated CORS policy. Build one with [`Policy::builder`]; decide requests with
/// [`Policy::decide`]. Cheap to share (`Arc<Policy>`), immutable.
///
/// ```
/// use corsica::Policy;
/// let policy = Policy::builder()
///     .allow_origins(["https://app.example.com", "https://*.example.com"])
///     .allow_credentials(true)
///     .allow_methods(["GET", "POST", "DELETE"])
///     .allow_headers(["content-type", "authorization"])
///     .expose_headers(["x-request-id"])
///     .max_age_secs(7200)
///     .build()?;
/// assert!(policy.allows_credentials());
/// # Ok::<(), corsica::ConfigErrors>(())
/// ```
#[derive(Clone)]
pub struct Policy {
    pub(crate) origins: OriginSet,
    pub(crate) credentials: bool,
    /// What the trusted origins may do.
    pub(crate) trusted: Tier,
    /// What every other origin may do, if anything.
    pub(crate) public: Option<Tier>,
    pub(crate) max_age: Option<Duration>,
    pub(crate) private_network: bool,
    pub(crate) preflight_status: StatusCode,
    pub(crate) denied_status: StatusCode,
    pub(crate) limits: HeaderListLimits,
    pub(crate) debug: bool,
    /// What is valid but likely not meant.
    pub(crate) warnings: Vec<ConfigError>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("origins", &self.origins)
            .field("credentials", &self.credentials)
            .field("trusted", &self.trusted)
            .field("public", &self.public)
            .field("max_age", &self.max_age)
            .field("debug", &self.debug)
            .field("private_network", &self.private_network)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// Starts a [`PolicyBuilder`].
    ///
    /// ```
    /// let policy = corsica::Policy::builder().allow_origins(["*"]).build()?;
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// The allowed origins.
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["*"]).build()?;
    /// assert!(p.origins().is_any());
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn origins(&self) -> &OriginSet {
        &self.origins
    }

    /// Whether credentialed requests are allowed (`Access-Control-Allow-Credentials: true`).
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["*"]).build()?;
    /// assert!(!p.allows_credentials());
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn allows_credentials(&self) -> bool {
        self.credentials
    }

    /// Whether `method` (case-sensitive, as sent) is allowed.
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["*"]).allow_methods(["GET", "PATCH"]).build()?;
    /// assert!(p.allows_method("PATCH"));
    /// assert!(!p.allows_method("patch"));
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn allows_method(&self, method: &str) -> bool {
        self.trusted.allows_method_bytes(method.as_bytes())
    }

    /// Whether request header `name` is allowed (ASCII case-insensitive).
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["*"]).allow_headers(["X-API-Key"]).build()?;
    /// assert!(p.allows_header("x-api-key"));
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn allows_header(&self, name: &str) -> bool {
        self.trusted.allows_header_bytes(name.as_bytes())
    }

    /// The public tier's methods, when the policy has one ([`PolicyBuilder::allow_public`]).
    ///
    /// ```
    /// use corsica::{Policy, PublicAccess};
    /// let p = Policy::builder().allow_origins(["https://a.example"]).allow_public(PublicAccess::read_only()).build()?;
    /// assert_eq!(p.public().unwrap(), ["GET", "HEAD"]);
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn public(&self) -> Option<Vec<&str>> {
        self.public.as_ref().map(|t| match &t.methods {
            Allowed::Any => vec!["*"],
            Allowed::List(l) => l.iter().map(|m| &**m).collect(),
        })
    }

    /// Whether debug mode is on ([`PolicyBuilder::debug`]).
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["*"]).build()?;
    /// assert!(!p.is_debug());
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn is_debug(&self) -> bool {
        self.debug
    }

    /// The configured max-age, if any.
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["*"]).max_age_secs(600).build()?;
    /// assert_eq!(p.max_age(), Some(std::time::Duration::from_secs(600)));
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn max_age(&self) -> Option<Duration> {
        self.max_age
    }

    /// What the builder accepted but you likely did not mean, each with its key and entry
    /// like an error: a subdomain pattern over a public suffix without credentials
    /// ([`ConfigError::PublicSuffixPattern`]).
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["https://*.kin"]).build()?;
    /// assert_eq!(p.warnings()[0].entry(), Some("https://*.kin"));
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn warnings(&self) -> &[ConfigError] {
        &self.warnings
    }

    /// The limits applied to `Access-Control-Request-Headers`.
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["*"]).build()?;
    /// assert_eq!(p.request_header_limits(), corsica::HeaderListLimits::default());
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn request_header_limits(&self) -> HeaderListLimits {
        self.limits
    }
}

/// What one tier of a policy allows and the exact header values it answers with, for
/// tools that say the same policy in another server's language (`corsica export`).
/// Obtained from [`Policy::trusted_tier`] and [`Policy::public_tier`].
///
/// ```
/// let p = corsica::Policy::builder()
///     .allow_origins(["https://app.example.com"])
///     .allow_methods(["GET", "PUT"])
///     .allow_headers(["X-API-Key", "content-type"])
///     .expose_headers(["etag"])
///     .max_age_secs(600)
///     .build()?;
/// let t = p.trusted_tier();
/// assert_eq!(t.methods(), Some(vec!["GET", "PUT"]));
/// assert_eq!(t.header_names(), ["x-api-key", "content-type"]);
/// assert!(!t.allows_any_header());
/// assert_eq!(t.allow_methods_value(), Some("GET, PUT"));
/// assert_eq!(t.allow_headers_value(), Some("x-api-key, content-type"));
/// assert_eq!(t.expose_headers_value(), Some("etag"));
/// assert_eq!(t.max_age_value(), Some("600"));
/// # Ok::<(), corsica::ConfigErrors>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TierView<'a> {
    tier: &'a Tier,
}

impl<'a> TierView<'a> {
    /// The allowed methods (case-sensitive); `None` for every method (`*`).
    pub fn methods(&self) -> Option<Vec<&'a str>> {
        match &self.tier.methods {
            Allowed::Any => None,
            Allowed::List(l) => Some(l.iter().map(|m| &**m).collect()),
        }
    }

    /// Whether every request header but `authorization` is allowed (`*`).
    pub fn allows_any_header(&self) -> bool {
        self.tier.headers.any
    }

    /// The listed request-header names, lower-case.
    pub fn header_names(&self) -> Vec<&'a str> {
        self.tier
            .headers
            .names
            .iter()
            .map(HeaderName::as_str)
            .collect()
    }

    /// `Access-Control-Allow-Methods` on an allowed preflight (`None`: not sent).
    pub fn allow_methods_value(&self) -> Option<&'a str> {
        value_str(self.tier.rendered.allow_methods.as_ref())
    }

    /// `Access-Control-Allow-Headers` on an allowed preflight; `None` with
    /// [`TierView::allows_any_header`] (the request's names are echoed, lower-cased and
    /// `, `-joined) or when no header is listed.
    pub fn allow_headers_value(&self) -> Option<&'a str> {
        value_str(self.tier.rendered.allow_headers.as_ref())
    }

    /// `Access-Control-Expose-Headers` on an allowed actual response (`None`: not sent).
    pub fn expose_headers_value(&self) -> Option<&'a str> {
        value_str(self.tier.rendered.expose_headers.as_ref())
    }

    /// `Access-Control-Max-Age` on an allowed preflight (`None`: not sent).
    pub fn max_age_value(&self) -> Option<&'a str> {
        value_str(self.tier.rendered.max_age.as_ref())
    }
}

/// A rendered value as text (they are tokens, digits and `, `: always ASCII).
fn value_str(v: Option<&HeaderValue>) -> Option<&str> {
    v.and_then(|v| v.to_str().ok())
}

impl Policy {
    /// What the trusted origins may do.
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["*"]).build()?;
    /// assert_eq!(p.trusted_tier().methods(), Some(vec!["GET", "HEAD", "POST"]));
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn trusted_tier(&self) -> TierView<'_> {
        TierView {
            tier: &self.trusted,
        }
    }

    /// What every other well-formed origin may do, when the policy has a public tier.
    ///
    /// ```
    /// use corsica::{Policy, PublicAccess};
    /// let p = Policy::builder().allow_origins(["https://a.example"]).allow_public(PublicAccess::read_only()).build()?;
    /// assert_eq!(p.public_tier().unwrap().methods(), Some(vec!["GET", "HEAD"]));
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn public_tier(&self) -> Option<TierView<'_>> {
        self.public.as_ref().map(|tier| TierView { tier })
    }

    /// The status of an allowed preflight's answer (204 unless configured).
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["*"]).build()?;
    /// assert_eq!(p.preflight_status(), http::StatusCode::NO_CONTENT);
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn preflight_status(&self) -> StatusCode {
        self.preflight_status
    }

    /// The status of a denied preflight's answer (403 unless configured).
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["*"]).build()?;
    /// assert_eq!(p.denied_preflight_status(), http::StatusCode::FORBIDDEN);
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn denied_preflight_status(&self) -> StatusCode {
        self.denied_status
    }

    /// Whether Private Network Access preflights are answered
    /// (`Access-Control-Allow-Private-Network`).
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["*"]).build()?;
    /// assert!(!p.allows_private_network());
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn allows_private_network(&self) -> bool {
        self.private_network
    }
}

/// Builds a [`Policy`]; nothing is validated until [`PolicyBuilder::build`].
///
/// Defaults: no origins (you must choose), no credentials, methods `GET, HEAD, POST`, no
/// extra request headers, nothing exposed, no max-age (browsers then cache a preflight for
/// 5 s), Private Network Access off, allowed preflights answered `204`, denied ones `403`.
///
/// ```
/// use corsica::Policy;
/// let policy = Policy::builder()
///     .allow_origins(["http://localhost:*", "http://127.0.0.1:*"])
///     .allow_credentials(true)
///     .allow_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
///     .allow_headers(["content-type", "authorization"])
///     .build()?;
/// # Ok::<(), corsica::ConfigErrors>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct PolicyBuilder {
    origins: Vec<String>,
    origin_set: OriginSet,
    allow_null: bool,
    insecure_ok: bool,
    credentials: bool,
    methods: Vec<String>,
    headers: Vec<String>,
    expose: Vec<String>,
    max_age: Option<Duration>,
    private_network: bool,
    preflight_status: StatusCode,
    denied_status: StatusCode,
    limits: HeaderListLimits,
    public: Option<PublicAccess>,
    debug: bool,
}

impl Default for PolicyBuilder {
    fn default() -> Self {
        PolicyBuilder {
            origins: Vec::new(),
            origin_set: OriginSet::new(),
            allow_null: false,
            insecure_ok: false,
            credentials: false,
            methods: vec!["GET".into(), "HEAD".into(), "POST".into()],
            headers: Vec::new(),
            expose: Vec::new(),
            max_age: None,
            private_network: false,
            preflight_status: StatusCode::NO_CONTENT,
            denied_status: StatusCode::FORBIDDEN,
            limits: HeaderListLimits::default(),
            public: None,
            debug: false,
        }
    }
}

impl fmt::Debug for PolicyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyBuilder")
            .field("origins", &self.origins)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl PolicyBuilder {
    /// Adds allowed origins: exact origins, `*`, `null` (needs
    /// [`allow_null_origin`](Self::allow_null_origin)), `scheme://*.domain[:port|:*]`
    /// or `scheme://host:*` (see [`OriginEntry::parse`]).
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["https://a.example"]).build()?;
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn allow_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.origins.extend(origins.into_iter().map(Into::into));
        self
    }

    /// Adds the entries and predicates of a prepared [`OriginSet`].
    ///
    /// ```
    /// use corsica::{OriginSet, Policy};
    /// let tenants = OriginSet::new().with_predicate(|o| o.host().is_some_and(|h| h.ends_with(".tenants.example")));
    /// let p = Policy::builder().allow_origin_set(tenants).build()?;
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn allow_origin_set(mut self, set: OriginSet) -> Self {
        for e in set.entries() {
            self.origins.push(e.to_string());
        }
        for p in set.predicates() {
            self.origin_set.push_predicate(p.clone());
        }
        self
    }

    /// Adds a predicate deciding extra origins (an escape hatch: it is your code deciding
    /// trust, so keep it anchored). Called only for well-formed, non-`null` origins that
    /// no listed entry matched.
    ///
    /// ```
    /// let p = corsica::Policy::builder()
    ///     .allow_origin_predicate(|o| o.as_str() == "https://partner.example")
    ///     .build()?;
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn allow_origin_predicate<F>(mut self, predicate: F) -> Self
    where
        F: Fn(&crate::Origin) -> bool + Send + Sync + 'static,
    {
        self.origin_set = self.origin_set.with_predicate(predicate);
        self
    }

    /// Opts into allowing `null` when it is listed in the origins. Loud on purpose: any
    /// site can produce `Origin: null` (sandboxed iframe), so this trusts everyone for
    /// non-credentialed reads. Never allowed together with credentials.
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["null"]).allow_null_origin(true).build()?;
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn allow_null_origin(mut self, yes: bool) -> Self {
        self.allow_null = yes;
        self
    }

    /// Opts into plain-`http://` (non-loopback) origins together with credentials.
    ///
    /// ```
    /// let p = corsica::Policy::builder()
    ///     .allow_origins(["http://intranet.example"])
    ///     .allow_credentials(true)
    ///     .allow_insecure_origins(true)
    ///     .build()?;
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn allow_insecure_origins(mut self, yes: bool) -> Self {
        self.insecure_ok = yes;
        self
    }

    /// Allows credentialed requests (cookies, HTTP auth, client certificates):
    /// `Access-Control-Allow-Credentials: true`.
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["https://a.example"]).allow_credentials(true).build()?;
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn allow_credentials(mut self, yes: bool) -> Self {
        self.credentials = yes;
        self
    }

    /// Sets the allowed methods (replacing the default `GET, HEAD, POST`); `"*"` alone
    /// allows any method (not with credentials). The six standard names are upper-cased
    /// as `fetch()` does; any other method is case-sensitive (`PATCH` ≠ `patch`).
    ///
    /// The list is complete, and it governs actual requests as well as preflights: a
    /// method not listed gets no CORS headers, even `GET`, `HEAD` or `POST` (which
    /// browsers never check against `Access-Control-Allow-Methods`). That is what lets a
    /// read-only route (`["GET", "HEAD"]`) refuse a preflighted JSON `POST`; keep the
    /// safelisted methods in the list unless you mean to refuse them.
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["*"]).allow_methods(["get", "PATCH"]).build()?;
    /// assert!(p.allows_method("GET"));
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn allow_methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.methods = methods.into_iter().map(Into::into).collect();
        self
    }

    /// Adds allowed request headers (case-insensitive); `"*"` allows any except
    /// `authorization`, which, as in browsers, a wildcard never covers: list it next to
    /// `"*"` to allow it too. Preflights are answered with the names they ask for (mirrored,
    /// with `Vary: Access-Control-Request-Headers`), so `"*"` works with credentials too,
    /// where a literal `*` would not. CORS-safelisted headers need no listing, except
    /// `content-type` with a non-safelisted value such as `application/json`.
    ///
    /// ```
    /// use corsica::Policy;
    /// use http::{HeaderMap, HeaderValue, Method};
    /// let p = Policy::builder()
    ///     .allow_origins(["https://app.example.com"])
    ///     .allow_credentials(true)
    ///     .allow_methods(["GET", "PUT"])
    ///     .allow_headers(["*"])
    ///     .build()?;
    /// let mut req = HeaderMap::new();
    /// req.insert("origin", HeaderValue::from_static("https://app.example.com"));
    /// req.insert("access-control-request-method", HeaderValue::from_static("PUT"));
    /// req.insert("access-control-request-headers", HeaderValue::from_static("X-Trace,x-api-key"));
    /// let mut resp = HeaderMap::new();
    /// p.decide(&Method::OPTIONS, &req).apply(&mut resp);
    /// assert_eq!(resp["access-control-allow-headers"], "x-trace, x-api-key");
    /// assert_eq!(resp["access-control-allow-credentials"], "true");
    /// assert!(resp["vary"].to_str()?.contains("Access-Control-Request-Headers"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allow_headers<I, S>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.headers.extend(headers.into_iter().map(Into::into));
        self
    }

    /// Adds response headers scripts may read (`Access-Control-Expose-Headers`); `"*"`
    /// alone exposes all (not with credentials).
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["*"]).expose_headers(["x-request-id"]).build()?;
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn expose_headers<I, S>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.expose.extend(headers.into_iter().map(Into::into));
        self
    }

    /// How long browsers may cache a preflight (`Access-Control-Max-Age`, at most 24 h;
    /// sent in whole seconds, fractions rounded up).
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["*"]).max_age(std::time::Duration::from_secs(7200)).build()?;
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// [`max_age`](Self::max_age) in seconds.
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["*"]).max_age_secs(600).build()?;
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn max_age_secs(self, secs: u64) -> Self {
        self.max_age(Duration::from_secs(secs))
    }

    /// Answers Private Network Access preflights
    /// (`Access-Control-Request-Private-Network: true` →
    /// `Access-Control-Allow-Private-Network: true`). Off by default: Chrome has put PNA on
    /// hold in favour of Local Network Access permissions, which need no server header.
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["https://a.example"]).allow_private_network(true).build()?;
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn allow_private_network(mut self, yes: bool) -> Self {
        self.private_network = yes;
        self
    }

    /// The status of an allowed preflight (default 204; must be 2xx).
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["*"]).preflight_status(http::StatusCode::OK).build()?;
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn preflight_status(mut self, status: StatusCode) -> Self {
        self.preflight_status = status;
        self
    }

    /// The status of a denied preflight (default 403; must be 4xx or 5xx).
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["*"]).denied_preflight_status(http::StatusCode::BAD_REQUEST).build()?;
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn denied_preflight_status(mut self, status: StatusCode) -> Self {
        self.denied_status = status;
        self
    }

    /// Limits on `Access-Control-Request-Headers` (default 4096 bytes, 64 elements).
    ///
    /// ```
    /// use corsica::{HeaderListLimits, Policy};
    /// let p = Policy::builder().allow_origins(["*"])
    ///     .request_header_limits(HeaderListLimits { max_bytes: 1024, max_items: 16 })
    ///     .build()?;
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn request_header_limits(mut self, limits: HeaderListLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Adds a public tier: every origin that `origins` does not trust may use these
    /// methods and headers, without credentials (answered `Access-Control-Allow-Origin: *`,
    /// `Vary: Origin`). The trusted origins keep everything else the policy allows. This is
    /// how one route serves "these origins with credentials, and anyone else read-only".
    ///
    /// ```
    /// use corsica::{Policy, PublicAccess};
    /// let p = Policy::builder()
    ///     .allow_origins(["https://app.example.com"])
    ///     .allow_credentials(true)
    ///     .allow_public(PublicAccess::read_only())
    ///     .build()?;
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn allow_public(mut self, public: PublicAccess) -> Self {
        self.public = Some(public);
        self
    }

    /// Debug mode: every denial carries a `corsica-reason` response header with the
    /// reason's label and message, and a preflight from an allowed origin that asks for a
    /// method or header the policy does not allow is answered with the policy's allowed
    /// lists (status 2xx), so that the browser's own console names the missing method or
    /// header instead of a missing `Access-Control-Allow-Origin`. For development: it tells
    /// any caller what the policy allows.
    ///
    /// ```
    /// let p = corsica::Policy::builder().allow_origins(["https://a.example"]).debug(true).build()?;
    /// assert!(p.is_debug());
    /// # Ok::<(), corsica::ConfigErrors>(())
    /// ```
    pub fn debug(mut self, on: bool) -> Self {
        self.debug = on;
        self
    }

    /// Validates and compiles the policy. Every problem is reported at once, in the order
    /// of the configuration keys, each with what is wrong and how to fix it.
    ///
    /// ```
    /// use corsica::{ConfigError, Policy};
    /// let err = Policy::builder()
    ///     .allow_origins(["https://*example.com"])
    ///     .allow_methods(["GET", "BAD METHOD"])
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.len(), 2);
    /// assert!(matches!(err.first(), ConfigError::InvalidOrigin { .. }));
    /// assert!(err.iter().any(|e| matches!(e, ConfigError::InvalidMethod { .. })));
    /// ```
    pub fn build(self) -> Result<Policy, ConfigErrors> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut origins = self.origin_set.clone();
        for entry in &self.origins {
            match OriginEntry::parse(entry) {
                Ok(parsed) => origins.push_entry(parsed),
                Err(PatternError::TooBroad {
                    suffix, example, ..
                }) => {
                    let (entry, suffix, example) = (entry.clone(), suffix, example);
                    match OriginEntry::parse_over_public_suffix(&entry) {
                        _ if self.credentials => {
                            errors.push(ConfigError::PublicSuffixWithCredentials {
                                entry,
                                suffix,
                                example,
                            });
                        }
                        Ok(parsed) => {
                            origins.push_public_suffix_entry(parsed);
                            warnings.push(ConfigError::PublicSuffixPattern {
                                entry,
                                suffix,
                                example,
                            });
                        }
                        Err(source) => errors.push(ConfigError::InvalidOrigin { entry, source }),
                    }
                }
                Err(source) => errors.push(ConfigError::InvalidOrigin {
                    entry: entry.clone(),
                    source,
                }),
            }
        }
        if origins.is_empty() && errors.is_empty() {
            errors.push(ConfigError::NoOrigins);
        }
        if origins.is_any() {
            if let Some(other) = origins.entries().iter().find(|e| **e != OriginEntry::Any) {
                errors.push(ConfigError::AnyOriginWithOthers {
                    other: other.to_string(),
                });
            } else if origins.has_predicates() {
                errors.push(ConfigError::AnyOriginWithOthers {
                    other: "a predicate".into(),
                });
            }
        }
        if self.credentials && origins.is_any() {
            errors.push(ConfigError::CredentialsWithAnyOrigin);
        }
        if origins.allows_null() {
            if self.credentials {
                errors.push(ConfigError::NullOriginWithCredentials);
            } else if !self.allow_null {
                errors.push(ConfigError::NullOriginNotOptedIn);
            }
        }
        if self.credentials && !self.insecure_ok {
            for e in origins.entries().iter().filter(|e| is_insecure(e)) {
                errors.push(ConfigError::InsecureOriginWithCredentials {
                    origin: e.to_string(),
                });
            }
        }

        let trusted = Tier::compile(
            &self.methods,
            &self.headers,
            &self.expose,
            self.max_age,
            &mut errors,
        );
        let public = self.public.as_ref().map(|p| {
            let mut inner = Vec::new();
            let tier = Tier::compile(&p.methods, &p.headers, &p.expose, self.max_age, &mut inner);
            errors.extend(
                inner
                    .into_iter()
                    .map(|e| ConfigError::InPublic(Box::new(e))),
            );
            tier
        });
        if public.is_some() && origins.is_any() {
            errors.push(ConfigError::PublicWithAnyOrigin);
        }
        if self.credentials {
            for (key, any) in [
                ("methods", trusted.methods == Allowed::Any),
                // `headers = ["*"]` with credentials is allowed: preflights are answered
                // with the names they ask for (mirrored), never a literal `*`.
                ("expose", trusted.expose == Allowed::Any),
            ] {
                if any {
                    errors.push(ConfigError::CredentialsWithWildcard { key });
                }
            }
        }
        if let Some(age) = self.max_age.filter(|age| *age > MAX_MAX_AGE) {
            errors.push(ConfigError::MaxAgeTooLarge {
                secs: age.as_secs(),
            });
        }
        if !self.preflight_status.is_success() {
            errors.push(ConfigError::InvalidPreflightStatus {
                status: self.preflight_status.as_u16(),
            });
        }
        if !(self.denied_status.is_client_error() || self.denied_status.is_server_error()) {
            errors.push(ConfigError::InvalidDeniedStatus {
                status: self.denied_status.as_u16(),
            });
        }
        if self.limits.max_bytes == 0 || self.limits.max_items == 0 {
            errors.push(ConfigError::InvalidLimits {
                max_bytes: self.limits.max_bytes,
                max_items: self.limits.max_items,
            });
        }
        if let Some(errors) = Errors::from_vec(errors) {
            return Err(errors);
        }

        Ok(Policy {
            origins,
            credentials: self.credentials,
            trusted,
            public,
            max_age: self.max_age,
            private_network: self.private_network,
            preflight_status: self.preflight_status,
            denied_status: self.denied_status,
            limits: self.limits,
            debug: self.debug,
            warnings,
        })
    }
}

/// Whether an entry trusts a plain-text (`http`, `ws`), non-loopback origin.
fn is_insecure(entry: &OriginEntry) -> bool {
    let plain = |s: &str| matches!(s, "http" | "ws");
    match entry {
        OriginEntry::Exact(o) => {
            o.scheme().is_some_and(plain) && !o.host().is_some_and(is_loopback_host)
        }
        OriginEntry::Subdomains { scheme, domain, .. } => {
            plain(scheme) && !is_loopback_host(domain)
        }
        OriginEntry::AnyPort { scheme, host } => plain(scheme) && !is_loopback_host(host),
        OriginEntry::Any | OriginEntry::Null => false,
    }
}

/// Max-age in whole seconds, rounded up (a sub-second max-age still means "cache").
fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Joins names with `, ` into a header value (names are tokens, so always valid).
fn join<'a>(items: impl Iterator<Item = &'a str>) -> HeaderValue {
    let joined = items.collect::<Vec<_>>().join(", ");
    HeaderValue::from_str(&joined).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn parse_methods(methods: &[String], errors: &mut Vec<ConfigError>) -> Allowed<Box<str>> {
    if methods.iter().any(|m| m == "*") {
        if let Some(other) = methods.iter().find(|m| *m != "*") {
            errors.push(ConfigError::WildcardWithOthers {
                key: "methods",
                other: other.clone(),
            });
        }
        return Allowed::Any;
    }
    let mut out: Vec<Box<str>> = Vec::with_capacity(methods.len());
    for m in methods {
        if !is_token(m.as_bytes()) {
            errors.push(ConfigError::InvalidMethod { method: m.clone() });
        } else if is_forbidden(m) {
            errors.push(ConfigError::ForbiddenMethod { method: m.clone() });
        } else {
            let m: Box<str> = normalize(m).into();
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    Allowed::List(out)
}

/// Request headers: like [`parse_names`], but `*` may come with `authorization`, the one
/// name a wildcard never covers.
fn parse_request_headers(names: &[String], errors: &mut Vec<ConfigError>) -> HeaderRule {
    if !names.iter().any(|n| n == "*") {
        return match parse_names("headers", names, errors) {
            Allowed::List(names) => HeaderRule { any: false, names },
            Allowed::Any => HeaderRule {
                any: true,
                names: Vec::new(),
            },
        };
    }
    let (auth, rest): (Vec<String>, Vec<String>) = names
        .iter()
        .cloned()
        .partition(|n| n.eq_ignore_ascii_case("authorization"));
    parse_names("headers", &rest, errors);
    HeaderRule {
        any: true,
        names: if auth.is_empty() {
            Vec::new()
        } else {
            vec![http::header::AUTHORIZATION]
        },
    }
}

/// Why a valid header name can never work in `key` (`headers` or `expose`), if it cannot:
/// browsers never let a page send a forbidden request header, nor a script read a forbidden
/// response header, and the CORS protocol's own headers are the browser's business.
fn unusable_header(key: &'static str, name: &str) -> Option<ConfigError> {
    let name = name.to_owned();
    if key == "headers" && is_forbidden_request_header_name(&name) {
        Some(ConfigError::ForbiddenRequestHeader { name })
    } else if key == "expose" && is_forbidden_response_header_name(&name) {
        Some(ConfigError::ForbiddenResponseHeader { name })
    } else if is_cors_protocol_header_name(&name) {
        Some(ConfigError::CorsProtocolHeader { key, name })
    } else {
        None
    }
}

fn parse_names(
    key: &'static str,
    names: &[String],
    errors: &mut Vec<ConfigError>,
) -> Allowed<HeaderName> {
    if names.iter().any(|m| m == "*") {
        if let Some(other) = names.iter().find(|m| *m != "*") {
            errors.push(ConfigError::WildcardWithOthers {
                key,
                other: other.clone(),
            });
        }
        return Allowed::Any;
    }
    let mut out: Vec<HeaderName> = Vec::with_capacity(names.len());
    for n in names {
        let name = if is_token(n.as_bytes()) {
            HeaderName::from_bytes(n.to_ascii_lowercase().as_bytes()).ok()
        } else {
            None
        };
        match (name, unusable_header(key, n)) {
            (None, _) => errors.push(ConfigError::InvalidHeaderName {
                key,
                name: n.clone(),
            }),
            (Some(_), Some(e)) => errors.push(e),
            (Some(name), None) if !out.contains(&name) => out.push(name),
            (Some(_), None) => {}
        }
    }
    Allowed::List(out)
}
