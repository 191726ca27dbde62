//! The gateway's TOML configuration: parsing (errors point at line and column) and
//! compilation into routes whose CORS policies are built, and so validated, by the engine.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use corsica::{ConfigError as PolicyError, Policy};
use serde::Deserialize;
use toml::Spanned;

/// The configuration used when `corsica serve` is given no file: listen on 127.0.0.1:8080,
/// answer with the built-in echo upstream, and allow the usual local development origins
/// with credentials.
///
/// ```
/// use corsica_gateway::config::{Config, EMBEDDED_DEFAULT, Upstream};
/// let config = Config::parse(EMBEDDED_DEFAULT, "<embedded>")?;
/// assert_eq!(config.listen().to_string(), "127.0.0.1:8080");
/// assert_eq!(config.routes()[0].upstream(), &Upstream::Echo);
/// assert!(config.routes()[0].policy().allows_credentials());
/// # Ok::<(), corsica_gateway::config::ConfigErrors>(())
/// ```
pub const EMBEDDED_DEFAULT: &str = r#"# corsica serve: embedded default configuration
listen = "127.0.0.1:8080"
admin = "127.0.0.1:9090"

[[route]]
name = "echo"
path = "/"
upstream = "echo"

[route.cors]
origins = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"]
credentials = true
methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
headers = ["content-type", "authorization", "x-api-key", "x-requested-with"]
expose = ["x-request-id"]
max_age = 600
"#;

/// The file name of a configuration built from `corsica serve` flags ([`QuickStart`]).
pub const COMMAND_LINE: &str = "<command line>";

/// A one-route configuration from `corsica serve --upstream URL --allow-origin ORIGIN...`:
/// every request goes to `upstream` with the policy the flags describe, on the default
/// listener (127.0.0.1:8080). [`QuickStart::config`] builds it through [`Config::parse`], so
/// the flags meet the same checks, and the same messages, as a file.
///
/// ```
/// use corsica_gateway::config::QuickStart;
/// let quick = QuickStart {
///     upstream: "http://127.0.0.1:3000".into(),
///     origins: vec!["http://localhost:5173".into()],
///     credentials: true,
///     ..QuickStart::default()
/// };
/// let config = quick.config()?;
/// assert_eq!(config.routes()[0].name(), "quick-start");
/// assert!(config.routes()[0].policy().allows_credentials());
/// // The engine's checks apply: `*` with credentials is refused.
/// let wild = QuickStart { origins: vec!["*".into()], ..quick };
/// assert!(wild.config().unwrap_err().first().message().contains("credentials cannot be allowed"));
/// # Ok::<(), corsica_gateway::config::ConfigErrors>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuickStart {
    /// `--upstream`: `http://host:port`, `https://host:port` or `echo`.
    pub upstream: String,
    /// `--allow-origin` (repeatable).
    pub origins: Vec<String>,
    /// `--allow-credentials`.
    pub credentials: bool,
    /// `--allow-header` (repeatable).
    pub headers: Vec<String>,
    /// `--allow-method` (repeatable; the engine's default methods when none).
    pub methods: Vec<String>,
}

impl QuickStart {
    /// The configuration as TOML: what a file with the same meaning says.
    ///
    /// ```
    /// let quick = corsica_gateway::config::QuickStart { upstream: "echo".into(), ..Default::default() };
    /// assert!(quick.to_toml().contains("upstream = \"echo\""));
    /// ```
    pub fn to_toml(&self) -> String {
        let list = |items: &[String]| {
            let quoted: Vec<String> = items
                .iter()
                .map(|i| toml::Value::String(i.clone()).to_string())
                .collect();
            format!("[{}]", quoted.join(", "))
        };
        let mut text = format!(
            "[[route]]\nname = \"quick-start\"\nupstream = {}\n[route.cors]\norigins = {}\ncredentials = {}\nheaders = {}\n",
            toml::Value::String(self.upstream.clone()),
            list(&self.origins),
            self.credentials,
            list(&self.headers),
        );
        if !self.methods.is_empty() {
            text.push_str(&format!("methods = {}\n", list(&self.methods)));
        }
        text
    }

    /// Builds the configuration (file name [`COMMAND_LINE`]); every problem at once.
    pub fn config(&self) -> Result<Config, ConfigErrors> {
        Config::parse(&self.to_toml(), COMMAND_LINE)
    }
}

/// One configuration problem, with the file position it refers to.
///
/// ```
/// let err = corsica_gateway::config::Config::parse("listen = 8080", "gw.toml").unwrap_err();
/// let first = err.first();
/// assert_eq!((first.file(), first.line(), first.column()), ("gw.toml", 1, 10));
/// assert!(first.to_string().starts_with("gw.toml:1:10: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    file: String,
    line: usize,
    column: usize,
    message: String,
}

impl ConfigError {
    fn at(
        text: &str,
        file: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> ConfigError {
        let offset = span.map(|s| s.start).unwrap_or(0).min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
        ConfigError {
            file: file.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A problem with the file as a whole (unreadable, nothing to reload), at 1:1.
    pub(crate) fn whole_file(file: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: file.to_owned(),
            line: 1,
            column: 1,
            message: message.into(),
        }
    }

    /// The file name (or `<embedded>`).
    ///
    /// ```
    /// let err = corsica_gateway::config::Config::parse("", "gw.toml").unwrap_err();
    /// assert_eq!(err.first().file(), "gw.toml");
    /// ```
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The 1-based line.
    ///
    /// ```
    /// let err = corsica_gateway::config::Config::parse("\nlisten = 1", "gw.toml").unwrap_err();
    /// assert_eq!(err.first().line(), 2);
    /// ```
    pub fn line(&self) -> usize {
        self.line
    }

    /// The 1-based column (in characters of the line, counted as bytes).
    ///
    /// ```
    /// let err = corsica_gateway::config::Config::parse("listen = 1", "gw.toml").unwrap_err();
    /// assert_eq!(err.first().column(), 10);
    /// ```
    pub fn column(&self) -> usize {
        self.column
    }

    /// What is wrong and how to fix it, without the position.
    ///
    /// ```
    /// let err = corsica_gateway::config::Config::parse("", "gw.toml").unwrap_err();
    /// assert!(err.first().message().starts_with("no [[route]]"));
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Every problem of a refused configuration (never empty), in file order, so that it is
/// fixed in one round. `Display` prints one `file:line:column: message` per line.
///
/// ```
/// use corsica_gateway::config::Config;
/// let err = Config::parse(r#"
/// listen = "nowhere"
/// [[route]]
/// upstream = "ftp://x"
/// [route.cors]
/// origins = ["*"]
/// credentials = true
/// "#, "gw.toml").unwrap_err();
/// assert_eq!(err.len(), 3);
/// let lines: Vec<usize> = err.iter().map(|e| e.line()).collect();
/// assert_eq!(lines, [2, 4, 7]);
/// ```
pub type ConfigErrors = corsica::Errors<ConfigError>;

/// The errors in file order.
fn sorted(mut errors: Vec<ConfigError>) -> Option<ConfigErrors> {
    errors.sort_by_key(|e| (e.line, e.column));
    corsica::Errors::from_vec(errors)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<Spanned<String>>,
    admin: Option<Spanned<String>>,
    admin_token: Option<Spanned<String>>,
    #[serde(default)]
    limits: RawLimits,
    tls: Option<RawTls>,
    #[serde(default)]
    route: Vec<Spanned<RawRoute>>,
    /// Debug mode for every route (see `[route.cors] debug`).
    #[serde(default)]
    debug: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
    #[serde(default)]
    upstream_ca: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_header_bytes: Option<usize>,
    max_headers: Option<usize>,
    max_connections: Option<usize>,
    max_admin_connections: Option<usize>,
    max_connections_per_client: Option<usize>,
    upstream_keepalive: Option<usize>,
    upstream_timeout_ms: Option<Spanned<u64>>,
    header_read_timeout_ms: Option<Spanned<u64>>,
    body_read_timeout_ms: Option<Spanned<u64>>,
    upstream_body_timeout_ms: Option<Spanned<u64>>,
    shutdown_grace_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: Option<String>,
    host: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    methods: Option<Vec<Spanned<String>>>,
    upstream: Spanned<String>,
    #[serde(default)]
    guard: bool,
    cors: Spanned<RawCors>,
    /// `[route.cors_shadow]`: a report-only candidate policy, same keys as `[route.cors]`.
    cors_shadow: Option<Spanned<RawCors>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCors {
    origins: Vec<Spanned<String>>,
    credentials: Option<Spanned<bool>>,
    methods: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    headers: Vec<Spanned<String>>,
    #[serde(default)]
    expose: Vec<Spanned<String>>,
    max_age: Option<Spanned<u64>>,
    #[serde(default)]
    allow_null_origin: bool,
    #[serde(default)]
    allow_insecure_origins: bool,
    #[serde(default)]
    private_network: bool,
    preflight_status: Option<Spanned<u16>>,
    denied_preflight_status: Option<Spanned<u16>>,
    public: Option<Spanned<RawPublic>>,
    #[serde(default)]
    debug: bool,
}

/// `[route.cors.public]`: what every origin not in `origins` may do, without credentials.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPublic {
    methods: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    headers: Vec<Spanned<String>>,
    #[serde(default)]
    expose: Vec<Spanned<String>>,
}

/// Where a route sends requests.
///
/// ```
/// use corsica_gateway::config::{Config, Upstream};
/// let config = Config::parse(r#"
/// [[route]]
/// upstream = "https://backend.internal:8443"
/// [route.cors]
/// origins = ["https://app.example.com"]
/// "#, "gw.toml")?;
/// match config.routes()[0].upstream() {
///     Upstream::Https { authority } => assert_eq!(authority.as_str(), "backend.internal:8443"),
///     other => panic!("unexpected upstream {other:?}"),
/// }
/// // The request's path is passed as is, so an upstream has none.
/// let err = Config::parse(r#"
/// [[route]]
/// upstream = "http://backend.internal/api"
/// [route.cors]
/// origins = ["https://app.example.com"]
/// "#, "gw.toml").unwrap_err();
/// assert!(err.first().message().contains("has a path"));
/// # Ok::<(), corsica_gateway::config::ConfigErrors>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// The built-in echo service: answers with the request it saw, as JSON.
    Echo,
    /// An HTTP server: `http://host:port`.
    Http {
        /// `host:port`.
        authority: http::uri::Authority,
    },
    /// An HTTPS server: `https://host:port`, verified against the system's roots (and
    /// `[tls] upstream_ca`).
    Https {
        /// `host:port`.
        authority: http::uri::Authority,
    },
}

impl Upstream {
    /// `http`/`https` and the authority, or `None` for the echo upstream.
    ///
    /// ```
    /// use corsica_gateway::config::Upstream;
    /// assert_eq!(Upstream::Echo.target(), None);
    /// let upstream = Upstream::Http { authority: "127.0.0.1:3000".parse()? };
    /// let (scheme, authority) = upstream.target().unwrap();
    /// assert_eq!(format!("{scheme}://{authority}"), "http://127.0.0.1:3000");
    /// # Ok::<(), http::uri::InvalidUri>(())
    /// ```
    pub fn target(&self) -> Option<(&'static str, &http::uri::Authority)> {
        match self {
            Upstream::Echo => None,
            Upstream::Http { authority } => Some(("http", authority)),
            Upstream::Https { authority } => Some(("https", authority)),
        }
    }
}

/// A compiled route.
///
/// ```
/// use corsica_gateway::config::{Config, Upstream};
/// let config = Config::parse(r#"
/// [[route]]
/// host = "API.example.com"
/// path = "/v1/"
/// methods = ["get", "post"]
/// upstream = "echo"
/// [route.cors]
/// origins = ["https://app.example.com"]
/// "#, "gw.toml")?;
/// let route = &config.routes()[0];
/// assert_eq!(route.name(), "route-1"); // unnamed routes are numbered
/// assert_eq!(route.host(), Some("api.example.com"));
/// assert_eq!(route.path(), Some("/v1/"));
/// assert_eq!(route.methods(), Some(&["GET".to_owned(), "POST".to_owned()][..]));
/// assert_eq!(route.upstream(), &Upstream::Echo);
/// assert!(!route.policy().allows_credentials());
/// # Ok::<(), corsica_gateway::config::ConfigErrors>(())
/// ```
#[derive(Debug, Clone)]
pub struct Route {
    /// The route's name (for logs and metrics).
    pub(crate) name: String,
    /// Lower-case host to match (without port), if any.
    pub(crate) host: Option<String>,
    /// Path prefix to match, if any.
    pub(crate) path: Option<String>,
    /// Methods to match (for a preflight: its `Access-Control-Request-Method`), if any.
    pub(crate) methods: Option<Vec<String>>,
    /// Where requests go.
    pub(crate) upstream: Upstream,
    /// The CORS policy.
    pub(crate) policy: Policy,
    /// The report-only candidate policy (`[route.cors_shadow]`), if any.
    pub(crate) shadow: Option<Policy>,
    /// The edge guard (`guard = true`): refuse cross-origin state-changing requests the
    /// policy denies ([`corsica::guard`]) instead of forwarding them.
    pub(crate) guard: bool,
}

impl Route {
    /// The route's name (for logs and metrics).
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.routes()[0].name(), "echo");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The lower-case host it matches (without port), if any.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.routes()[0].host(), None);
    /// ```
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The path prefix it matches, if any.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.routes()[0].path(), Some("/"));
    /// ```
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The methods it matches (for a preflight: its `Access-Control-Request-Method`), if restricted.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.routes()[0].methods(), None);
    /// ```
    pub fn methods(&self) -> Option<&[String]> {
        self.methods.as_deref()
    }

    /// Where its requests go.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.routes()[0].upstream(), &corsica_gateway::config::Upstream::Echo);
    /// ```
    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// Its CORS policy.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert!(c.routes()[0].policy().allows_credentials());
    /// ```
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Its report-only candidate policy (`[route.cors_shadow]`), if any: the gateway never
    /// answers with it, but decides every request of the route with it too and counts and
    /// samples the requests whose verdict would change (see
    /// [`Running::shadow_report`](crate::gateway::Running::shadow_report)). The table takes
    /// the same keys as `[route.cors]` and meets the same checks; its problems are reported
    /// with the prefix `[route.cors_shadow]`.
    ///
    /// ```
    /// use corsica_gateway::config::Config;
    /// let config = Config::parse(r#"
    /// [[route]]
    /// upstream = "echo"
    /// [route.cors]
    /// origins = ["https://app.example.com"]
    /// methods = ["GET", "PUT"]
    /// [route.cors_shadow]
    /// origins = ["https://app.example.com"]
    /// methods = ["GET"]
    /// "#, "gw.toml")?;
    /// let route = &config.routes()[0];
    /// assert!(route.policy().allows_method("PUT"));
    /// assert!(!route.shadow_policy().unwrap().allows_method("PUT"));
    /// assert!(Config::embedded().routes()[0].shadow_policy().is_none());
    /// // The engine's checks apply to the candidate too, at the offending entry.
    /// let err = Config::parse(r#"
    /// [[route]]
    /// upstream = "echo"
    /// [route.cors]
    /// origins = ["https://app.example.com"]
    /// [route.cors_shadow]
    /// origins = ["*"]
    /// credentials = true
    /// "#, "gw.toml").unwrap_err();
    /// assert_eq!(err.first().line(), 8);
    /// assert!(err.first().message().starts_with("[route.cors_shadow] route \"route-1\": credentials cannot be allowed"));
    /// # Ok::<(), corsica_gateway::config::ConfigErrors>(())
    /// ```
    pub fn shadow_policy(&self) -> Option<&Policy> {
        self.shadow.as_ref()
    }

    /// Whether the edge guard is on (`guard = true`): cross-origin state-changing requests
    /// that the policy denies get 403 and never reach the upstream ([`corsica::guard`]).
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert!(!c.routes()[0].guard());
    /// ```
    pub fn guard(&self) -> bool {
        self.guard
    }

    /// Whether every request `other` matches by host and path, this route matches too (so
    /// `other`, later in the file, never sees a request it would not share with this one).
    ///
    /// ```
    /// let config = corsica_gateway::config::Config::parse(r#"
    /// [[route]]
    /// path = "/api/"
    /// upstream = "echo"
    /// [route.cors]
    /// origins = ["https://app.example.com"]
    /// [[route]]
    /// host = "api.example.com"
    /// path = "/api/v2/"
    /// upstream = "echo"
    /// [route.cors]
    /// origins = ["https://app.example.com"]
    /// "#, "gw.toml")?;
    /// let r = config.routes();
    /// assert!(r[0].covers(&r[1]));
    /// assert!(!r[1].covers(&r[0]));
    /// # Ok::<(), corsica_gateway::config::ConfigErrors>(())
    /// ```
    pub fn covers(&self, other: &Route) -> bool {
        covers(self, other)
    }

    /// Whether the route matches a request (host without port, path, method — for a
    /// preflight, the method it asks for).
    ///
    /// A path `"/api"` matches `/api` and `/api/...` but not `/apis`; so does `"/api/"`: a
    /// prefix with a trailing slash also matches its collection URL, `/api`. A host
    /// `"localhost"` also matches `127.0.0.1` and `[::1]`, the other names of the machine.
    ///
    /// ```
    /// let config = corsica_gateway::config::Config::parse(r#"
    /// [[route]]
    /// host = "api.example.com"
    /// path = "/api"
    /// methods = ["GET"]
    /// upstream = "echo"
    /// [route.cors]
    /// origins = ["https://app.example.com"]
    /// "#, "gw.toml")?;
    /// let route = &config.routes()[0];
    /// assert!(route.matches(Some("api.example.com"), "/api", "GET"));
    /// assert!(route.matches(Some("API.example.com"), "/api/items", "GET"));
    /// assert!(route.matches(Some("api.example.com"), "/api/", "GET"));
    /// assert!(!route.matches(Some("api.example.com"), "/apis", "GET"));
    /// assert!(!route.matches(Some("www.example.com"), "/api", "GET"));
    /// assert!(!route.matches(Some("api.example.com"), "/api", "DELETE"));
    /// # Ok::<(), corsica_gateway::config::ConfigErrors>(())
    /// ```
    pub fn matches(&self, host: Option<&str>, path: &str, method: &str) -> bool {
        if let Some(h) = &self.host {
            if !host.is_some_and(|x| host_matches(h, x)) {
                return false;
            }
        }
        if let Some(p) = &self.path {
            if !prefix_matches(p, path) {
                return false;
            }
        }
        if let Some(m) = &self.methods {
            if !m.iter().any(|x| x == method) {
                return false;
            }
        }
        true
    }
}

/// Whether a route's `host` (lower-case) matches a request's host: equal ignoring case, and
/// `localhost` also matches `127.0.0.1` and `[::1]`.
fn host_matches(route: &str, request: &str) -> bool {
    request.eq_ignore_ascii_case(route)
        || (route == "localhost" && matches!(request, "127.0.0.1" | "[::1]"))
}

/// Whether a path prefix matches a (normalized) path: the prefix without its trailing
/// slashes, then the end of the path or a `/` (`/orders/` matches `/orders`, `/orders/1`,
/// not `/ordersx`; `/` matches every path).
fn prefix_matches(prefix: &str, path: &str) -> bool {
    let base = prefix.trim_end_matches('/');
    path.strip_prefix(base)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether every request that route `b` matches by host and path, route `a` matches too.
fn covers(a: &Route, b: &Route) -> bool {
    let host = match (&a.host, &b.host) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => host_matches(a, b),
    };
    let path = match (&a.path, &b.path) {
        (None, _) => true,
        (Some(a), None) => a.trim_end_matches('/').is_empty(),
        (Some(a), Some(b)) => prefix_matches(a, b.trim_end_matches('/')),
    };
    host && path
}

/// Where a route is, for warnings: its `[[route]]` table and its `methods` entries.
struct RouteSpans {
    table: Range<usize>,
    methods: Vec<Range<usize>>,
}

/// The warnings about routes that can never match, each at the later route: a route whose
/// every request an earlier route takes (same or wider host and path prefix, and every
/// method it matches), or one of its `methods` that an earlier route always takes. Routes
/// match in order and a preflight matches by the method it asks for, so the same holds
/// for preflights.
fn unreachable_routes(
    text: &str,
    file: &str,
    routes: &[Route],
    spans: &[RouteSpans],
) -> Vec<ConfigError> {
    let line = |i: usize| ConfigError::at(text, file, Some(spans[i].table.clone()), "").line;
    let mut warnings = Vec::new();
    let mut warn = |span: &Range<usize>, message: String| {
        warnings.push(ConfigError::at(text, file, Some(span.clone()), message));
    };
    for (j, b) in routes.iter().enumerate() {
        let earlier = || routes[..j].iter().enumerate().filter(|(_, a)| covers(a, b));
        // Per method of `b` (one entry, all methods, when it has no `methods`): the first
        // earlier route that takes it.
        let takers: Vec<Option<(usize, &Route)>> = match &b.methods {
            None => vec![earlier().find(|(_, a)| a.methods.is_none())],
            Some(methods) => methods
                .iter()
                .map(|m| {
                    earlier().find(|(_, a)| a.methods.as_ref().is_none_or(|ms| ms.contains(m)))
                })
                .collect(),
        };
        if takers.iter().all(Option::is_some) {
            let mut names: Vec<String> = Vec::new();
            for (i, a) in takers.iter().flatten() {
                let named = format!("route \"{}\" (line {})", a.name, line(*i));
                if !names.contains(&named) {
                    names.push(named);
                }
            }
            warn(
                &spans[j].table,
                format!(
                    "route \"{}\" never matches: {} {} every request it would (same or wider host and path, {}); move \"{}\" above or narrow the earlier route",
                    b.name,
                    names.join(" and "),
                    if names.len() == 1 {
                        "comes first and takes"
                    } else {
                        "come first and take"
                    },
                    if b.methods.is_some() {
                        "each of its methods"
                    } else {
                        "every method"
                    },
                    b.name
                ),
            );
            continue;
        }
        let methods = b.methods.as_deref().unwrap_or_default();
        for ((m, taker), span) in methods.iter().zip(&takers).zip(&spans[j].methods) {
            if let Some((i, a)) = taker {
                warn(
                    span,
                    format!(
                        "route \"{}\": method {m} never matches: route \"{}\" (line {}) comes first and takes every {m} request (and preflight asking for {m}) of this host and path",
                        b.name,
                        a.name,
                        line(*i)
                    ),
                );
            }
        }
    }
    warnings
}

/// The path routes are matched against, so that the policy applied is the one for the
/// resource the upstream will serve: unreserved percent-escapes decoded (`/%61dmin` is
/// `/admin`), repeated slashes merged. `None` for paths an upstream could read in several
/// ways (an encoded `/` or `\\`, or a `.`/`..` segment): those are refused.
///
/// ```
/// use corsica_gateway::config::normalize_path;
/// assert_eq!(normalize_path("/%61dmin//users").as_deref(), Some("/admin/users"));
/// assert_eq!(normalize_path("/a%2Fb"), None);
/// assert_eq!(normalize_path("/a/%2e%2e/admin"), None);
/// assert_eq!(normalize_path("/caf%C3%A9").as_deref(), Some("/caf%C3%A9"));
/// ```
pub fn normalize_path(path: &str) -> Option<Cow<'_, str>> {
    let bytes = path.as_bytes();
    // The common case, nothing to decode or merge: the path itself, no copy.
    if path.is_ascii() && !bytes.contains(&b'%') && !path.contains("//") {
        if path.split('/').any(|seg| seg == "." || seg == "..") {
            return None;
        }
        return Some(Cow::Borrowed(path));
    }
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                let v = (h * 16 + l) as u8;
                if v == b'/' || v == b'\\' {
                    return None;
                }
                if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                    out.push(v as char);
                } else {
                    out.push('%');
                    out.push((bytes[i + 1] as char).to_ascii_uppercase());
                    out.push((bytes[i + 2] as char).to_ascii_uppercase());
                }
                i += 3;
                continue;
            }
        }
        if b == b'/' && out.ends_with('/') {
            i += 1;
            continue;
        }
        out.push(b as char);
        i += 1;
    }
    if out.split('/').any(|seg| seg == "." || seg == "..") {
        return None;
    }
    Some(Cow::Owned(out))
}

/// The most simultaneous client connections a configuration may ask for.
pub const MAX_CONNECTIONS: usize = 1_000_000;

/// The environment variable that gives the admin token when the file has no `admin_token`.
pub const ADMIN_TOKEN_ENV: &str = "CORSICA_ADMIN_TOKEN";

/// The bearer token of the admin listener: at least 16 visible ASCII characters. Its
/// `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AdminToken(String);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl AdminToken {
    fn new(token: &str) -> Result<AdminToken, String> {
        if token.len() < 16 {
            return Err(format!(
                "{} characters: use at least 16 (e.g. `openssl rand -hex 24`), a short token can be guessed",
                token.len()
            ));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "use visible ASCII characters only (no spaces), as an `Authorization: Bearer` value"
                    .to_owned(),
            );
        }
        Ok(AdminToken(token.to_owned()))
    }

    /// Whether `authorization` is `Bearer <this token>`, compared in constant time.
    pub(crate) fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        // The scheme is case-insensitive (RFC 9110 § 11.1).
        let Some(given) = value
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
            .map(|_| &value[7..])
        else {
            return false;
        };
        self.is(given)
    }

    /// The console's session value for this token: HMAC-SHA-256 of a fixed label keyed by
    /// the token, hex. The login cookie carries it, never the token (a cookie reaches every
    /// port of its host name); changing the token ends every session.
    pub(crate) fn session(&self) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.0.as_bytes());
        let tag = ring::hmac::sign(&key, b"corsica console session v1");
        tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `given` is this token's session value, compared in constant time.
    pub(crate) fn is_session(&self, given: &[u8]) -> bool {
        same(self.session().as_bytes(), given)
    }

    /// Whether `given` is this token, compared in constant time (the login form).
    pub(crate) fn is(&self, given: &[u8]) -> bool {
        same(self.0.as_bytes(), given)
    }
}

/// Whether `given` is `want`, in time that depends on their lengths only.
fn same(want: &[u8], given: &[u8]) -> bool {
    given.len() == want.len()
        && given
            .iter()
            .zip(want)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Why an admin listener on `addr` may not be served, if it may not: one reachable from
/// other hosts needs a token.
fn admin_exposure(addr: SocketAddr, has_token: bool) -> Option<String> {
    (!addr.ip().is_loopback() && !has_token).then(|| {
        format!(
            "admin = \"{addr}\" is reachable from other hosts, and the admin listener shows metrics: set admin_token (or the {ADMIN_TOKEN_ENV} environment variable) to require `Authorization: Bearer <token>`, or listen on 127.0.0.1"
        )
    })
}

/// The largest configuration file read, in bytes (4 MiB).
pub const MAX_CONFIG_BYTES: usize = 4 * 1024 * 1024;

/// Reads a configuration file, refusing one over [`MAX_CONFIG_BYTES`] without reading
/// more than that (a wrong path to a huge file costs nothing).
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("gw.toml");
/// std::fs::write(&path, "listen = \"127.0.0.1:8080\"\n")?;
/// assert!(corsica_gateway::config::read_config_file(&path)?.starts_with("listen"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_config_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_string(&mut text)?;
    if text.len() > MAX_CONFIG_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "the file is larger than {MAX_CONFIG_BYTES} bytes, the most a configuration may have (is it the right file?)"
            ),
        ));
    }
    Ok(text)
}

/// The most `[[route]]` tables a configuration may have.
pub const MAX_ROUTES: usize = 1_000;

/// The most origins one route's `[route.cors]` may list.
pub const MAX_ORIGINS: usize = 10_000;

/// Limits, each with a safe default.
///
/// ```
/// use std::time::Duration;
/// use corsica_gateway::config::{Config, Limits};
/// let defaults = Limits::default();
/// assert_eq!(defaults.upstream_timeout(), Duration::from_secs(30));
/// let config = Config::parse(r#"
/// [limits]
/// upstream_timeout_ms = 5000
/// max_header_bytes = 1024
/// [[route]]
/// upstream = "echo"
/// [route.cors]
/// origins = ["https://app.example.com"]
/// "#, "gw.toml")?;
/// assert_eq!(config.limits().upstream_timeout(), Duration::from_secs(5));
/// assert_eq!(config.limits().max_header_bytes(), 8192); // raised to the 8 KiB minimum
/// assert_eq!(config.limits().max_connections(), defaults.max_connections());
/// # Ok::<(), corsica_gateway::config::ConfigErrors>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes of a request head (HTTP/1.1; over it the answer is 431). Default 16 KiB.
    pub(crate) max_header_bytes: usize,
    /// Most header lines of a request. Default 100.
    pub(crate) max_headers: usize,
    /// Most simultaneous client connections. Default 1024.
    pub(crate) max_connections: usize,
    /// Most simultaneous connections to the admin listener. Default 64.
    pub(crate) max_admin_connections: usize,
    /// Most simultaneous client connections from one client address (an IPv6 client's
    /// /64); `0`: no cap. Default 256.
    pub(crate) max_connections_per_client: usize,
    /// Most idle connections kept open per upstream for reuse. Default 256.
    pub(crate) upstream_keepalive: usize,
    /// Time for the upstream to answer with a response head (then 504). Default 30 s.
    pub(crate) upstream_timeout: Duration,
    /// Time for a client to send its request head. Default 10 s.
    pub(crate) header_read_timeout: Duration,
    /// Time allowed between two reads of a client's request body (then 408). Default 10 s.
    pub(crate) body_read_timeout: Duration,
    /// Time allowed between two reads of an upstream's response body (then the client's
    /// connection is closed). Default 30 s.
    pub(crate) upstream_body_timeout: Duration,
    /// Time in-flight requests get to finish on shutdown. Default 10 s.
    pub(crate) shutdown_grace: Duration,
}

impl Limits {
    /// The most bytes of a request head the HTTP parser reads: twice `max_header_bytes`.
    /// Heads between the two limits are parsed, so that their 431 carries the route's CORS
    /// headers (the page can read it); beyond this one, the parser answers 431 alone.
    pub(crate) fn parser_head_bytes(&self) -> usize {
        self.max_header_bytes.saturating_mul(2)
    }

    /// The most header lines the HTTP parser reads: twice `max_headers` (as
    /// [`Limits::parser_head_bytes`]).
    pub(crate) fn parser_headers(&self) -> usize {
        self.max_headers.saturating_mul(2)
    }

    /// Most bytes of a request head (HTTP/1.1; over it the answer is 431). Default 16 KiB.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.limits().max_header_bytes(), 16 * 1024);
    /// ```
    pub fn max_header_bytes(&self) -> usize {
        self.max_header_bytes
    }

    /// Most header lines of a request. Default 100.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.limits().max_headers(), 100);
    /// ```
    pub fn max_headers(&self) -> usize {
        self.max_headers
    }

    /// Most simultaneous client connections. Default 1024.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.limits().max_connections(), 1024);
    /// ```
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// Most simultaneous connections to the admin listener (`/metrics`, `/healthz`); more
    /// are closed as soon as they are accepted. Default 64.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.limits().max_admin_connections(), 64);
    /// ```
    pub fn max_admin_connections(&self) -> usize {
        self.max_admin_connections
    }

    /// Most simultaneous client connections from one client address; more from that
    /// address are closed as soon as they are accepted (counted in
    /// `corsica_connections_shed_total{reason="per_client"}`). An IPv6 client is its /64
    /// network, the block one subscriber gets. `0` sets no cap. Default 256.
    ///
    /// Behind a load balancer or a proxy every client has the proxy's address: raise the
    /// cap above the proxy's connection pool, or set `0`.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.limits().max_connections_per_client(), 256);
    /// ```
    pub fn max_connections_per_client(&self) -> usize {
        self.max_connections_per_client
    }

    /// Most idle connections kept open per upstream for the next requests (as nginx's
    /// `keepalive`); beyond it, a connection whose response is done is closed. `0` opens a
    /// connection per request. Default 256.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.limits().upstream_keepalive(), 256);
    /// ```
    pub fn upstream_keepalive(&self) -> usize {
        self.upstream_keepalive
    }

    /// Time for the upstream to answer with a response head (then 504). Default 30 s.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.limits().upstream_timeout().as_secs(), 30);
    /// ```
    pub fn upstream_timeout(&self) -> Duration {
        self.upstream_timeout
    }

    /// Time for a client to send its request head (on the admin listener too). Default 10 s.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.limits().header_read_timeout().as_secs(), 10);
    /// ```
    pub fn header_read_timeout(&self) -> Duration {
        self.header_read_timeout
    }

    /// Time allowed between two reads of a client's request body: a client that sends
    /// nothing for that long gets 408 and its connection is closed. Default 10 s.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.limits().body_read_timeout().as_secs(), 10);
    /// ```
    pub fn body_read_timeout(&self) -> Duration {
        self.body_read_timeout
    }

    /// Time allowed between two reads of an upstream's response body: an upstream that
    /// sends nothing for that long has its response cut, and the client's connection is
    /// closed (the response head is already sent). Default 30 s.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.limits().upstream_body_timeout().as_secs(), 30);
    /// ```
    pub fn upstream_body_timeout(&self) -> Duration {
        self.upstream_body_timeout
    }

    /// Time in-flight requests get to finish on shutdown. Default 10 s.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.limits().shutdown_grace().as_secs(), 10);
    /// ```
    pub fn shutdown_grace(&self) -> Duration {
        self.shutdown_grace
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_connections: 1024,
            max_admin_connections: 64,
            max_connections_per_client: 256,
            upstream_keepalive: 256,
            upstream_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            upstream_body_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// A compiled configuration.
///
/// ```
/// use corsica_gateway::config::Config;
/// let config = Config::parse(r#"
/// listen = "0.0.0.0:8000"
/// admin = "127.0.0.1:9090"
///
/// [[route]]
/// name = "api"
/// host = "api.example.com"
/// upstream = "http://127.0.0.1:3000"
/// [route.cors]
/// origins = ["https://app.example.com"]
/// credentials = true
///
/// [[route]]
/// name = "public"
/// upstream = "echo"
/// [route.cors]
/// origins = ["*"]
/// "#, "gw.toml")?;
/// assert_eq!(config.listen().port(), 8000);
/// assert_eq!(config.admin().map(|a| a.port()), Some(9090));
/// assert!(config.tls().is_none());
/// // Routes are tried in order; the first match wins.
/// let route = |host| config.routes().iter().find(|r| r.matches(Some(host), "/v1/me", "GET")).unwrap();
/// assert_eq!(route("api.example.com").name(), "api");
/// assert_eq!(route("www.example.com").name(), "public");
/// # Ok::<(), corsica_gateway::config::ConfigErrors>(())
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    /// The client listener.
    pub(crate) listen: SocketAddr,
    /// The admin listener (`/metrics`, `/healthz`), if any.
    pub(crate) admin: Option<SocketAddr>,
    /// The bearer token the admin listener requires (but for `/healthz`), if any.
    pub(crate) admin_token: Option<AdminToken>,
    /// Limits.
    pub(crate) limits: Limits,
    /// Routes, in order (first match wins).
    pub(crate) routes: Vec<Route>,
    /// TLS termination for the client listener (`[tls] cert` and `key`), if configured.
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// Extra roots trusted for `https://` upstreams, besides the system's.
    pub(crate) upstream_roots: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// What is valid but surely not meant (routes that never match), in file order.
    pub(crate) warnings: Vec<ConfigError>,
}

/// The crypto provider of every TLS configuration (ring).
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a PEM certificate chain.
fn read_certs(path: &Path) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, String> {
    use rustls_pki_types::pem::PemObject;
    let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read certificates from {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no PEM certificate (-----BEGIN CERTIFICATE-----) found",
            path.display()
        ));
    }
    Ok(certs)
}

/// Reads a PEM private key.
fn read_key(path: &Path) -> Result<rustls_pki_types::PrivateKeyDer<'static>, String> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::PrivateKeyDer::from_pem_file(path)
        .map_err(|e| format!("cannot read a PEM private key from {}: {e}", path.display()))
}

/// Builds the listener's TLS configuration (HTTP/2 and HTTP/1.1 by ALPN).
fn server_tls(
    certs: Vec<rustls_pki_types::CertificateDer<'static>>,
    key: rustls_pki_types::PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the certificate and key do not form a usable pair: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

impl Config {
    /// The client listener's address.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.listen().to_string(), "127.0.0.1:8080");
    /// ```
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// The admin listener's address (`/metrics`, `/healthz`), if any.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.admin().map(|a| a.port()), Some(9090));
    /// ```
    pub fn admin(&self) -> Option<SocketAddr> {
        self.admin
    }

    /// The limits.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.limits(), &corsica_gateway::config::Limits::default());
    /// ```
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The routes, in order (first match wins).
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.routes().len(), 1);
    /// ```
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// TLS termination for the client listener (`[tls] cert` and `key`), if configured.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert!(c.tls().is_none());
    /// ```
    pub fn tls(&self) -> Option<&Arc<rustls::ServerConfig>> {
        self.tls.as_ref()
    }

    /// Extra roots trusted for `https://` upstreams, besides the system's (`[tls] upstream_ca`).
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert!(c.upstream_roots().is_empty());
    /// ```
    pub fn upstream_roots(&self) -> &[rustls_pki_types::CertificateDer<'static>] {
        &self.upstream_roots
    }

    /// What is valid but surely not meant, each at its line and column: a route, or a
    /// method of a route, that an earlier route always takes.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::parse(r#"
    /// [[route]]
    /// name = "all"
    /// upstream = "echo"
    /// [route.cors]
    /// origins = ["https://app.example.com"]
    ///
    /// [[route]]
    /// name = "api"
    /// path = "/api/"
    /// upstream = "echo"
    /// [route.cors]
    /// origins = ["https://app.example.com"]
    /// "#, "gw.toml")?;
    /// let w = &c.warnings()[0];
    /// assert_eq!(w.line(), 8);
    /// assert!(w.message().starts_with("route \"api\" never matches: route \"all\" (line 2)"));
    /// # Ok::<(), corsica_gateway::config::ConfigErrors>(())
    /// ```
    pub fn warnings(&self) -> &[ConfigError] {
        &self.warnings
    }

    /// Replaces the client listener's address (the command line's `--listen`).
    ///
    /// ```
    /// let mut c = corsica_gateway::config::Config::embedded();
    /// c.set_listen("127.0.0.1:0".parse()?);
    /// assert_eq!(c.listen().port(), 0);
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn set_listen(&mut self, addr: SocketAddr) {
        self.listen = addr;
    }

    /// Replaces the admin listener's address (the command line's `--admin`).
    ///
    /// ```
    /// let mut c = corsica_gateway::config::Config::embedded();
    /// c.set_admin(None);
    /// assert_eq!(c.admin(), None);
    /// ```
    pub fn set_admin(&mut self, addr: Option<SocketAddr>) {
        self.admin = addr;
    }

    /// Why the admin listener may not be served as configured, if it may not: an address
    /// reachable from other hosts without `admin_token` (checked by [`Config::parse`] for
    /// the file, and by `gateway::start` after command-line overrides).
    ///
    /// ```
    /// let mut c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.admin_exposure(), None); // 127.0.0.1:9090
    /// c.set_admin(Some("0.0.0.0:9090".parse()?));
    /// assert!(c.admin_exposure().unwrap().contains("set admin_token"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn admin_exposure(&self) -> Option<String> {
        admin_exposure(self.admin?, self.admin_token.is_some())
    }

    /// The embedded default.
    ///
    /// ```
    /// let c = corsica_gateway::config::Config::embedded();
    /// assert_eq!(c.listen().to_string(), "127.0.0.1:8080");
    /// ```
    pub fn embedded() -> Config {
        // The embedded text is tested to compile (see the tests); this cannot fail.
        Config::parse(EMBEDDED_DEFAULT, "<embedded>")
            .unwrap_or_else(|e| panic!("embedded config: {e}"))
    }

    /// Parses and compiles a configuration. Every problem is reported at once, in file
    /// order, each with its line and column and how to fix it.
    ///
    /// ```
    /// use corsica_gateway::config::Config;
    /// let text = r#"
    /// [[route]]
    /// upstream = "echo"
    /// [route.cors]
    /// origins = ["*"]
    /// credentials = true
    /// "#;
    /// let err = Config::parse(text, "gw.toml").unwrap_err();
    /// let first = err.first();
    /// assert_eq!((first.line(), first.column()), (6, 15));
    /// assert!(first.message().contains("credentials cannot be allowed with origin \"*\""));
    /// ```
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigErrors> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(ConfigError::whole_file(
                file,
                format!(
                    "the file is {} bytes: a configuration has at most {MAX_CONFIG_BYTES} (is it the right file?)",
                    text.len()
                ),
            )
            .into());
        }
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            ConfigError::at(text, file, e.span(), e.message().trim_end().to_owned())
        })?;
        let mut errors = Vec::new();
        let mut addr = |s: &Option<Spanned<String>>, key: &str| -> Option<SocketAddr> {
            let v = s.as_ref()?;
            let parsed = parse_socket_addr(v.get_ref());
            if let Err(problem) = &parsed {
                let message = format!("{key} = \"{}\"{problem}", v.get_ref());
                errors.push(ConfigError::at(text, file, Some(v.span()), message));
            }
            parsed.ok()
        };
        let listen =
            addr(&raw.listen, "listen").unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let admin = addr(&raw.admin, "admin");
        // The file's `admin_token`, else the environment's: one check, the error where the
        // value came from.
        let given = match &raw.admin_token {
            Some(t) => Some((
                t.get_ref().clone(),
                Some(t.span()),
                "admin_token".to_owned(),
            )),
            None => std::env::var(ADMIN_TOKEN_ENV).ok().map(|t| {
                let source = format!("the {ADMIN_TOKEN_ENV} environment variable");
                (t, None, source)
            }),
        };
        let admin_token = given.and_then(|(token, span, source)| {
            AdminToken::new(&token)
                .map_err(|problem| {
                    let message = format!("{source}: {problem}");
                    errors.push(match span {
                        Some(span) => ConfigError::at(text, file, Some(span), message),
                        None => ConfigError::whole_file(file, message),
                    });
                })
                .ok()
        });
        if let (Some(a), Some(span)) = (admin, raw.admin.as_ref().map(Spanned::span)) {
            if let Some(problem) = admin_exposure(a, admin_token.is_some()) {
                errors.push(ConfigError::at(text, file, Some(span), problem));
            }
        }
        let d = Limits::default();
        let mut timeout = |value: &Option<Spanned<u64>>, key: &str, default: Duration| match value {
            Some(v) if *v.get_ref() == 0 => {
                errors.push(ConfigError::at(
                        text,
                        file,
                        Some(v.span()),
                        format!(
                            "[limits] {key} = 0 would fail every request: use at least 1 (the default is {})",
                            default.as_millis()
                        ),
                    ));
                default
            }
            Some(v) => Duration::from_millis(*v.get_ref()),
            None => default,
        };
        let upstream_timeout = timeout(
            &raw.limits.upstream_timeout_ms,
            "upstream_timeout_ms",
            d.upstream_timeout,
        );
        let header_read_timeout = timeout(
            &raw.limits.header_read_timeout_ms,
            "header_read_timeout_ms",
            d.header_read_timeout,
        );
        let body_read_timeout = timeout(
            &raw.limits.body_read_timeout_ms,
            "body_read_timeout_ms",
            d.body_read_timeout,
        );
        let upstream_body_timeout = timeout(
            &raw.limits.upstream_body_timeout_ms,
            "upstream_body_timeout_ms",
            d.upstream_body_timeout,
        );
        let limits = Limits {
            max_header_bytes: raw
                .limits
                .max_header_bytes
                .unwrap_or(d.max_header_bytes)
                .max(8192),
            max_headers: raw.limits.max_headers.unwrap_or(d.max_headers).max(1),
            max_connections: raw
                .limits
                .max_connections
                .unwrap_or(d.max_connections)
                .clamp(1, MAX_CONNECTIONS),
            max_admin_connections: raw
                .limits
                .max_admin_connections
                .unwrap_or(d.max_admin_connections)
                .clamp(1, MAX_CONNECTIONS),
            max_connections_per_client: raw
                .limits
                .max_connections_per_client
                .unwrap_or(d.max_connections_per_client)
                .min(MAX_CONNECTIONS),
            upstream_keepalive: raw
                .limits
                .upstream_keepalive
                .unwrap_or(d.upstream_keepalive)
                .min(MAX_CONNECTIONS),
            upstream_timeout,
            header_read_timeout,
            body_read_timeout,
            upstream_body_timeout,
            shutdown_grace: raw
                .limits
                .shutdown_grace_ms
                .map(Duration::from_millis)
                .unwrap_or(d.shutdown_grace),
        };
        if let Some(extra) = raw.route.get(MAX_ROUTES) {
            errors.push(ConfigError::at(
                text,
                file,
                Some(extra.span()),
                format!(
                    "{} routes: at most {MAX_ROUTES} are allowed (every request is matched against them): merge routes by path prefix or host",
                    raw.route.len()
                ),
            ));
        }
        for route in &raw.route {
            let r = route.get_ref();
            let tables = [(POLICY, Some(&r.cors)), (SHADOW, r.cors_shadow.as_ref())];
            for (table, cors) in tables {
                let Some(origins) = cors.map(|c| &c.get_ref().origins) else {
                    continue;
                };
                if let Some(extra) = origins.get(MAX_ORIGINS) {
                    errors.push(ConfigError::at(
                        text,
                        file,
                        Some(extra.span()),
                        format!(
                            "{}{} origins in one route: at most {MAX_ORIGINS} are allowed: use a pattern (`https://*.example.com`) for families of subdomains",
                            table.prefix,
                            origins.len()
                        ),
                    ));
                }
            }
        }
        if raw.route.is_empty() {
            errors.push(ConfigError::at(
                text,
                file,
                None,
                "no [[route]]: add at least one route with an upstream and a [route.cors] table",
            ));
        }
        let (tls, upstream_roots) = match &raw.tls {
            Some(t) => compile_tls(text, file, t, &mut errors),
            None => (None, Vec::new()),
        };
        let spans: Vec<RouteSpans> = raw
            .route
            .iter()
            .map(|r| RouteSpans {
                table: r.span(),
                methods: r
                    .get_ref()
                    .methods
                    .iter()
                    .flatten()
                    .map(Spanned::span)
                    .collect(),
            })
            .collect();
        let mut routes = Vec::with_capacity(raw.route.len());
        let mut policy_warnings = Vec::new();
        for (i, r) in raw.route.into_iter().enumerate() {
            let r = r.into_inner();
            let compiled = compile_route(text, file, i, r, raw.debug, &mut errors);
            if let Some((route, warned)) = compiled {
                routes.push(route);
                policy_warnings.extend(warned);
            }
        }
        if let Some(errors) = sorted(errors) {
            return Err(errors);
        }
        let mut warnings = unreachable_routes(text, file, &routes, &spans);
        warnings.extend(policy_warnings);
        warnings.sort_by_key(|e| (e.line, e.column));
        Ok(Config {
            listen,
            admin,
            admin_token,
            limits,
            routes,
            tls,
            upstream_roots,
            warnings,
        })
    }
}

/// The `[tls]` table: the listener's certificate and key, and extra upstream roots. Files
/// are relative to the configuration file.
fn compile_tls(
    text: &str,
    file: &str,
    t: &RawTls,
    errors: &mut Vec<ConfigError>,
) -> (
    Option<Arc<rustls::ServerConfig>>,
    Vec<rustls_pki_types::CertificateDer<'static>>,
) {
    let base = Path::new(file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let resolve = |p: &str| -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let mut report = |span: Range<usize>, m: String| {
        errors.push(ConfigError::at(
            text,
            file,
            Some(span),
            format!("[tls] {m}"),
        ));
    };
    let mut tls = None;
    match (&t.cert, &t.key) {
        (Some(c), Some(k)) => {
            let certs = read_certs(&resolve(c.get_ref())).map_err(|m| report(c.span(), m));
            let key = read_key(&resolve(k.get_ref())).map_err(|m| report(k.span(), m));
            if let (Ok(certs), Ok(key)) = (certs, key) {
                tls = server_tls(certs, key).map_err(|m| report(c.span(), m)).ok();
            }
        }
        (None, None) => {}
        (Some(c), None) | (None, Some(c)) => report(
            c.span(),
            "needs both `cert` (PEM chain) and `key` (PEM private key)".into(),
        ),
    }
    let mut roots = Vec::new();
    for ca in &t.upstream_ca {
        match read_certs(&resolve(ca.get_ref())) {
            Ok(certs) => roots.extend(certs),
            Err(m) => report(ca.span(), format!("upstream_ca: {m}")),
        }
    }
    (tls, roots)
}

/// Compiles one route, reporting every problem of it (its own keys and its CORS policy's)
/// into `errors`; `None` when there was any. Else the route and its policy's warnings, at
/// their entries.
fn compile_route(
    text: &str,
    file: &str,
    index: usize,
    r: RawRoute,
    debug: bool,
    errors: &mut Vec<ConfigError>,
) -> Option<(Route, Vec<ConfigError>)> {
    let before = errors.len();
    let mut err = |span: Range<usize>, msg: String| {
        errors.push(ConfigError::at(text, file, Some(span), msg));
    };
    let name = r.name.unwrap_or_else(|| format!("route-{}", index + 1));
    let guard = r.guard;
    let upstream = parse_upstream(r.upstream.get_ref())
        .map_err(|m| err(r.upstream.span(), m))
        .ok();
    let host = r.host.as_ref().map(|h| {
        let v = h.get_ref();
        if v.is_empty() || v.contains(['/', ':', ' ']) {
            err(
                h.span(),
                format!(
                    "host = \"{v}\": write a bare host name, e.g. \"api.example.com\" (no scheme, port or path)"
                ),
            );
        }
        v.to_ascii_lowercase()
    });
    let path = r.path.as_ref().map(|p| {
        if !p.get_ref().starts_with('/') {
            err(
                p.span(),
                format!(
                    "path = \"{}\": a path prefix starts with `/`, e.g. \"/api/\"",
                    p.get_ref()
                ),
            );
        }
        p.get_ref().clone()
    });
    let methods = r.methods.as_ref().map(|ms| {
        let mut out = Vec::new();
        for m in ms {
            if corsica::method::is_token(m.get_ref().as_bytes()) {
                out.push(corsica::method::normalize(m.get_ref()).into_owned());
            } else {
                err(
                    m.span(),
                    format!(
                        "route \"{name}\": methods: `{}` is not a valid method name (a token: letters, digits and !#$%&'*+-.^_`|~), e.g. \"PATCH\"",
                        m.get_ref()
                    ),
                );
            }
        }
        out
    });
    let policy = compile_policy(text, file, &name, POLICY, r.cors, debug, errors);
    let shadow = r
        .cors_shadow
        .map(|c| compile_policy(text, file, &name, SHADOW, c, debug, errors));
    if errors.len() > before {
        return None;
    }
    let (policy, mut warnings) = policy?;
    let shadow = match shadow {
        Some(compiled) => {
            let (shadow, shadow_warnings) = compiled?;
            warnings.extend(shadow_warnings);
            Some(shadow)
        }
        None => None,
    };
    Some((
        Route {
            name,
            host,
            path,
            methods,
            upstream: upstream?,
            policy,
            shadow,
            guard,
        },
        warnings,
    ))
}

/// Which CORS table of a route a policy comes from, and how its messages begin.
#[derive(Clone, Copy)]
struct PolicyTable {
    /// Put before every message about the table (empty for `[route.cors]`).
    prefix: &'static str,
}

/// `[route.cors]`, the policy in force.
const POLICY: PolicyTable = PolicyTable { prefix: "" };

/// `[route.cors_shadow]`, the report-only candidate (see [`Route::shadow_policy`]).
const SHADOW: PolicyTable = PolicyTable {
    prefix: "[route.cors_shadow] ",
};

/// Builds one CORS table of route `name` (`[route.cors]` or `[route.cors_shadow]`, the
/// same keys and the same engine checks), reporting every problem into `errors` at its
/// entry; `None` when there was any. Else the policy and its warnings.
fn compile_policy(
    text: &str,
    file: &str,
    name: &str,
    table: PolicyTable,
    cors: Spanned<RawCors>,
    debug: bool,
    errors: &mut Vec<ConfigError>,
) -> Option<(Policy, Vec<ConfigError>)> {
    let before = errors.len();
    let prefix = table.prefix;
    let cors_span = cors.span();
    let c = cors.into_inner();
    let values = |list: &[Spanned<String>]| -> Vec<String> {
        list.iter().map(|v| v.get_ref().clone()).collect()
    };
    let mut b = Policy::builder()
        .allow_origins(values(&c.origins))
        .allow_credentials(c.credentials.as_ref().is_some_and(|v| *v.get_ref()))
        .allow_headers(values(&c.headers))
        .expose_headers(values(&c.expose))
        .allow_null_origin(c.allow_null_origin)
        .allow_insecure_origins(c.allow_insecure_origins)
        .allow_private_network(c.private_network);
    if let Some(m) = &c.methods {
        b = b.allow_methods(values(m));
    }
    if let Some(age) = &c.max_age {
        b = b.max_age_secs(*age.get_ref());
    }
    if let Some(public) = &c.public {
        let p = public.get_ref();
        let mut access = corsica::PublicAccess::read_only()
            .allow_headers(values(&p.headers))
            .expose_headers(values(&p.expose));
        if let Some(m) = &p.methods {
            access = access.allow_methods(values(m));
        }
        b = b.allow_public(access);
    }
    b = b.debug(debug || c.debug);
    for (key, value) in [
        ("preflight_status", &c.preflight_status),
        ("denied_preflight_status", &c.denied_preflight_status),
    ] {
        let Some(value) = value else { continue };
        match http::StatusCode::from_u16(*value.get_ref()) {
            Ok(status) if key == "preflight_status" => b = b.preflight_status(status),
            Ok(status) => b = b.denied_preflight_status(status),
            Err(_) => errors.push(ConfigError::at(
                text,
                file,
                Some(value.span()),
                format!(
                    "{prefix}route \"{name}\": {key} = {}: not an HTTP status (100-999)",
                    value.get_ref()
                ),
            )),
        }
    }
    let at = |problem: &PolicyError| {
        let span = policy_error_span(&c, problem).unwrap_or(cors_span.clone());
        ConfigError::at(
            text,
            file,
            Some(span),
            format!("{prefix}route \"{name}\": {problem}"),
        )
    };
    let policy = match b.build() {
        Ok(p) => Some(p),
        Err(problems) => {
            errors.extend(problems.iter().map(at));
            None
        }
    };
    if errors.len() > before {
        return None;
    }
    let policy = policy?;
    let warnings = policy.warnings().iter().map(at).collect();
    Some((policy, warnings))
}

/// Where a policy problem is in the `[route.cors]` table: the offending entry of the key's
/// list when there is one, else the key itself; `None` for the table.
fn policy_error_span(c: &RawCors, problem: &PolicyError) -> Option<Range<usize>> {
    let public = c.public.as_ref();
    let list: &[Spanned<String>] = match problem.key() {
        "public" => return public.map(Spanned::span),
        "public.methods" => public.and_then(|p| p.get_ref().methods.as_deref())?,
        "public.headers" => &public?.get_ref().headers,
        "public.expose" => &public?.get_ref().expose,
        "origins" => &c.origins,
        "methods" => c.methods.as_deref().unwrap_or_default(),
        "headers" => &c.headers,
        "expose" => &c.expose,
        "max_age" => return c.max_age.as_ref().map(Spanned::span),
        "credentials" => return c.credentials.as_ref().map(Spanned::span),
        "preflight_status" => return c.preflight_status.as_ref().map(Spanned::span),
        "denied_preflight_status" => {
            return c.denied_preflight_status.as_ref().map(Spanned::span);
        }
        _ => return None,
    };
    let entry = problem.entry()?;
    list.iter()
        .find(|v| {
            v.get_ref() == entry
                || corsica::OriginEntry::parse(v.get_ref()).is_ok_and(|p| p.to_string() == entry)
        })
        .map(Spanned::span)
}

/// Parses a listening address (`ip:port`), as the `listen` and `admin` keys and the
/// `--listen` and `--admin` flags take it. The error is what follows the address in a
/// message: why it is refused and what to write.
///
/// ```
/// use corsica_gateway::config::parse_socket_addr;
/// assert_eq!(parse_socket_addr("127.0.0.1:8080").unwrap().port(), 8080);
/// assert_eq!(
///     parse_socket_addr("127.0.0.1:70000").unwrap_err(),
///     ": port 70000 is over 65535; write a port from 1 to 65535 (0: any free port)"
/// );
/// assert!(parse_socket_addr("localhost").unwrap_err().contains("is not an address"));
/// ```
pub fn parse_socket_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>().map_err(|_| match port_over_max(s) {
        Some(port) => {
            format!(": port {port} is over 65535; write a port from 1 to 65535 (0: any free port)")
        }
        None => " is not an address: write ip:port, e.g. \"127.0.0.1:8080\"".to_owned(),
    })
}

/// The port of `host:port` when it is a number over 65535 (so the address is refused for
/// that reason, not for its form).
fn port_over_max(addr: &str) -> Option<&str> {
    let (_, port) = addr.rsplit_once(':')?;
    let n: u64 = port
        .parse()
        .ok()
        .filter(|_| port.bytes().all(|b| b.is_ascii_digit()))?;
    (n > 65535).then_some(port)
}

fn parse_upstream(s: &str) -> Result<Upstream, String> {
    if s == "echo" {
        return Ok(Upstream::Echo);
    }
    let fix = "write \"http://host:port\", \"https://host:port\" or \"echo\"";
    let uri: http::Uri = s
        .parse()
        .map_err(|_| format!("upstream = \"{s}\" is not a URL: {fix}"))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => {
            return Err(format!(
                "upstream = \"{s}\" has no http:// or https:// scheme: {fix}"
            ));
        }
    };
    if uri.path() != "/" && !uri.path().is_empty() || uri.query().is_some() {
        return Err(format!(
            "upstream = \"{s}\" has a path: the request's path is passed as is; {fix}"
        ));
    }
    let authority = uri
        .authority()
        .cloned()
        .ok_or_else(|| format!("upstream = \"{s}\" has no host: {fix}"))?;
    // `http` keeps such an authority but without a port.
    if let Some(port) = port_over_max(authority.as_str()) {
        return Err(format!(
            "upstream = \"{s}\": port {port} is over 65535; write a port from 1 to 65535"
        ));
    }
    Ok(if https {
        Upstream::Https { authority }
    } else {
        Upstream::Http { authority }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_beyond_the_limits_are_refused_with_the_limit_named() {
        let route = |name: usize, origins: usize| {
            let list = (0..origins)
                .map(|i| format!("\"https://o{i}.example.com\""))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "[[route]]\nname = \"r{name}\"\npath = \"/r{name}\"\nupstream = \"echo\"\n[route.cors]\norigins = [{list}]\n"
            )
        };
        let routes = |n: usize| (0..n).map(|i| route(i, 1)).collect::<String>();
        assert!(Config::parse(&routes(MAX_ROUTES), "ok.toml").is_ok());
        let err = Config::parse(&routes(MAX_ROUTES + 1), "many.toml").unwrap_err();
        assert!(
            err.first()
                .to_string()
                .contains("1001 routes: at most 1000"),
            "{err}"
        );
        assert!(Config::parse(&route(0, MAX_ORIGINS), "ok.toml").is_ok());
        let err = Config::parse(&route(0, MAX_ORIGINS + 1), "wide.toml").unwrap_err();
        assert!(
            err.first()
                .to_string()
                .contains("10001 origins in one route: at most 10000"),
            "{err}"
        );
        let huge = format!("{}# {}\n", route(0, 1), "x".repeat(MAX_CONFIG_BYTES));
        let err = Config::parse(&huge, "huge.toml").unwrap_err();
        assert!(
            err.first()
                .to_string()
                .contains("a configuration has at most 4194304"),
            "{err}"
        );
    }

    #[test]
    fn embedded_default_compiles() {
        let c = Config::embedded();
        assert_eq!(c.routes.len(), 1);
        assert_eq!(c.routes[0].upstream, Upstream::Echo);
        assert!(c.routes[0].policy.allows_credentials());
        assert_eq!(
            c.admin.map(|a| a.to_string()).as_deref(),
            Some("127.0.0.1:9090")
        );
    }

    #[test]
    fn errors_point_at_line_and_column() {
        let cases: &[(&str, (usize, usize), &str)] = &[
            ("listen = 8080\n", (1, 10), "invalid type"),
            (
                "listen = \"localhost\"\n[[route]]\nupstream=\"echo\"\n[route.cors]\norigins=[\"*\"]\n",
                (1, 10),
                "is not an address",
            ),
            (
                "[[route]]\nupstream = \"echo\"\nfoo = 1\n[route.cors]\norigins=[\"*\"]\n",
                (3, 1),
                "unknown field `foo`",
            ),
            (
                "[[route]]\nupstream = \"ftp://x\"\n[route.cors]\norigins=[\"*\"]\n",
                (2, 12),
                "has no http:// or https:// scheme",
            ),
            (
                "[tls]\ncert = \"missing.pem\"\nkey = \"missing.pem\"\n[[route]]\nupstream = \"echo\"\n[route.cors]\norigins=[\"*\"]\n",
                (2, 8),
                "cannot read certificates",
            ),
            (
                "[tls]\nkey = \"k.pem\"\n[[route]]\nupstream = \"echo\"\n[route.cors]\norigins=[\"*\"]\n",
                (2, 7),
                "needs both",
            ),
            (
                "[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://a.example\", \"https://*.com\"]\ncredentials = true\n",
                (4, 33),
                "public suffix",
            ),
            (
                "[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"http://a.example\"]\ncredentials = true\n",
                (4, 12),
                "plain http",
            ),
            (
                "[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"*\"]\nmax_age = 999999\n",
                (5, 11),
                "over 24 hours",
            ),
            (
                "[[route]]\npath = \"api\"\nupstream = \"echo\"\n[route.cors]\norigins = [\"*\"]\n",
                (2, 8),
                "starts with `/`",
            ),
            ("listen = \"127.0.0.1:1\"\n", (1, 1), "no [[route]]"),
            (
                "listen = \"127.0.0.1:70000\"\n[[route]]\nupstream=\"echo\"\n[route.cors]\norigins=[\"*\"]\n",
                (1, 10),
                "port 70000 is over 65535",
            ),
            (
                "[[route]]\nupstream = \"http://127.0.0.1:70000\"\n[route.cors]\norigins=[\"*\"]\n",
                (2, 12),
                "port 70000 is over 65535",
            ),
            (
                "[limits]\nupstream_timeout_ms = 0\n[[route]]\nupstream = \"echo\"\n[route.cors]\norigins=[\"*\"]\n",
                (2, 23),
                "would fail every request",
            ),
        ];
        for (text, (line, col), msg) in cases {
            let errors = Config::parse(text, "t.toml").unwrap_err();
            let e = errors.first();
            assert_eq!((e.line, e.column), (*line, *col), "{text}: {e}");
            assert!(e.message.contains(msg), "{text}: {e}");
        }
    }

    /// Where each error of a refused text is, and whether its message mentions `word`.
    fn located(text: &str, word: &str) -> Vec<(usize, usize, bool)> {
        let errors = Config::parse(text, "t.toml").unwrap_err();
        errors
            .iter()
            .map(|e| (e.line(), e.column(), e.message().contains(word)))
            .collect()
    }

    #[test]
    fn public_tier_and_debug_mode_are_read_and_checked() {
        let ok = "debug = true\n[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://a.example\"]\ncredentials = true\n[route.cors.public]\nexpose = [\"etag\"]\n";
        let c = Config::parse(ok, "p.toml").unwrap_or_else(|e| panic!("{e}"));
        let policy = c.routes()[0].policy();
        assert_eq!(policy.public().unwrap(), ["GET", "HEAD"]);
        assert!(policy.is_debug() && policy.allows_credentials());
        let bad = "[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"*\"]\n[route.cors.public]\nmethods = [\"GET\", \"BAD METHOD\"]\n";
        // The method at its value; the tier beside `*` at its table.
        let found = located(bad, "public");
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.contains(&(6, 19, true)), "{found:?}");
        assert!(found.iter().all(|f| f.2), "{found:?}");
    }

    #[test]
    fn shadow_tables_take_the_same_keys_and_checks_with_their_own_prefix() {
        let route = "[[route]]\nname = \"orders\"\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://a.example\"]\nmethods = [\"GET\", \"PUT\"]\n";
        let ok = format!(
            "{route}[route.cors_shadow]\norigins = [\"https://a.example\", \"https://b.example\"]\ncredentials = true\nmethods = [\"GET\"]\nheaders = [\"x-a\"]\nexpose = [\"etag\"]\nmax_age = 60\npreflight_status = 200\ndenied_preflight_status = 400\n[route.cors_shadow.public]\nexpose = [\"etag\"]\n"
        );
        let c = Config::parse(&ok, "s.toml").unwrap_or_else(|e| panic!("{e}"));
        let (active, shadow) = (
            c.routes()[0].policy(),
            c.routes()[0].shadow_policy().unwrap(),
        );
        assert!(active.allows_method("PUT") && !shadow.allows_method("PUT"));
        assert!(!active.allows_credentials() && shadow.allows_credentials());
        assert_eq!(shadow.public().unwrap(), ["GET", "HEAD"]);
        assert_eq!(shadow.preflight_status(), http::StatusCode::OK);
        // Problems of both tables at once, at their entries; the candidate's say so.
        let bad = format!(
            "{route}headers = [\"x y\"]\n[route.cors_shadow]\norigins = [\"*\"]\ncredentials = true\nmethods = [\"GET\", \"BAD METHOD\"]\ndenied_preflight_status = 1000\nunknown = 1\n"
        );
        let errors = Config::parse(&bad, "s.toml").unwrap_err();
        assert_eq!(errors.len(), 1, "{errors}"); // an unknown key stops parsing
        assert!(errors.first().message().contains("unknown field `unknown`"));
        let bad = bad.replace("unknown = 1\n", "");
        let errors = Config::parse(&bad, "s.toml").unwrap_err();
        let got: Vec<(usize, usize, bool)> = errors
            .iter()
            .map(|e| {
                let shadow = e
                    .message()
                    .starts_with("[route.cors_shadow] route \"orders\": ");
                (e.line(), e.column(), shadow)
            })
            .collect();
        assert_eq!(
            got,
            [
                (7, 12, false), // the policy in force: a header that is not a token
                (10, 15, true), // credentials with "*"
                (11, 19, true), // a method that is not a token
                (12, 27, true), // not a status
            ],
            "{errors}"
        );
        // Warnings too.
        let warned = format!("{route}[route.cors_shadow]\norigins = [\"https://*.kin\"]\n");
        let c = Config::parse(&warned, "s.toml").unwrap_or_else(|e| panic!("{e}"));
        let w = &c.warnings()[0];
        assert_eq!((w.line(), w.column()), (8, 12), "{w}");
        assert!(
            w.message()
                .starts_with("[route.cors_shadow] route \"orders\": "),
            "{w}"
        );
        // The origin limit holds for the candidate too.
        let many = (0..=MAX_ORIGINS)
            .map(|i| format!("\"https://o{i}.example\""))
            .collect::<Vec<_>>()
            .join(", ");
        let wide = format!("{route}[route.cors_shadow]\norigins = [{many}]\n");
        let errors = Config::parse(&wide, "s.toml").unwrap_err();
        assert!(
            errors
                .first()
                .message()
                .starts_with("[route.cors_shadow] 10001 origins in one route"),
            "{errors}"
        );
    }

    #[test]
    fn preflight_statuses_are_checked_at_their_values() {
        let text = "[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"*\"]\npreflight_status = 302\ndenied_preflight_status = 1000\n";
        assert_eq!(located(text, "status"), [(5, 20, true), (6, 27, true)]);
        let ok = "[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"*\"]\npreflight_status = 200\ndenied_preflight_status = 400\n";
        assert!(Config::parse(ok, "s.toml").is_ok());
    }

    #[test]
    fn every_error_at_once_in_file_order() {
        let text = r#"
[[route]]
name = "public"
upstream = "echo"
[route.cors]
origins = ["*"]
credentials = true

[[route]]
name = "partners"
upstream = "echo"
[route.cors]
origins = ["null", "https://partner.example/app"]

[[route]]
name = "admin"
upstream = "echo"
[route.cors]
origins = ["https://admin.example"]
methods = ["GET", "DELETE ME"]
headers = ["x ok"]
max_age = 100000
"#;
        let errors = Config::parse(text, "gw.toml").unwrap_err();
        let got: Vec<(usize, usize, bool)> = errors
            .iter()
            .map(|e| (e.line, e.column, e.message.starts_with("route \"")))
            .collect();
        assert_eq!(
            got,
            [
                (7, 15, true),  // credentials with "*"
                (13, 12, true), // null not opted into
                (13, 20, true), // an origin with a path
                (20, 19, true), // a method that is not a token
                (21, 12, true), // a header name that is not a token
                (22, 11, true), // max_age over 24 h
            ],
            "{errors}"
        );
        assert!(errors.iter().nth(2).unwrap().message.contains("path"));
        assert_eq!(errors.to_string().lines().count(), 6);
        // Problems outside the routes are collected too.
        let text = "listen = \"x\"\nadmin = \"y\"\n[limits]\nupstream_timeout_ms = 0\n";
        let errors = Config::parse(text, "gw.toml").unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 1, 2, 4], "{errors}");
    }

    #[test]
    fn path_normalization() {
        let cases: &[(&str, Option<&str>)] = &[
            ("/", Some("/")),
            ("/api/x", Some("/api/x")),
            ("/%61dmin/x", Some("/admin/x")),
            ("/%41DMIN", Some("/ADMIN")),
            ("//admin///x", Some("/admin/x")),
            ("/a%7eb%2d", Some("/a~b-")),
            ("/a%20b", Some("/a%20b")),
            ("/a%2fb", None),
            ("/a%5Cb", None),
            ("/a/./b", None),
            ("/a/../b", None),
            ("/a/%2E%2E/b", None),
            ("/a/..b", Some("/a/..b")),
            ("/a%", Some("/a%")),
            ("/a%zz", Some("/a%zz")),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_path(input).as_deref(), *want, "{input}");
        }
    }

    #[test]
    fn route_matching() {
        let text = "[[route]]\nhost = \"API.example.com\"\npath = \"/api\"\nmethods = [\"get\"]\nupstream = \"echo\"\n[route.cors]\norigins = [\"*\"]\n";
        let c = Config::parse(text, "t").unwrap();
        let r = &c.routes[0];
        assert!(r.matches(Some("api.example.com"), "/api", "GET"));
        assert!(r.matches(Some("api.EXAMPLE.com"), "/api/x", "GET"));
        assert!(!r.matches(Some("api.example.com"), "/apis", "GET"));
        assert!(!r.matches(Some("other.example.com"), "/api", "GET"));
        assert!(!r.matches(None, "/api", "GET"));
        assert!(!r.matches(Some("api.example.com"), "/api", "POST"));
    }

    #[test]
    fn collection_urls_and_localhost_names() {
        let text = "[[route]]\nhost = \"localhost\"\npath = \"/orders/\"\nupstream = \"echo\"\n[route.cors]\norigins = [\"*\"]\n";
        let c = Config::parse(text, "t").unwrap();
        let r = &c.routes[0];
        for host in ["localhost", "LOCALHOST", "127.0.0.1", "[::1]"] {
            assert!(r.matches(Some(host), "/orders", "GET"), "{host}");
            assert!(r.matches(Some(host), "/orders/", "GET"), "{host}");
            assert!(r.matches(Some(host), "/orders/7", "GET"), "{host}");
        }
        assert!(!r.matches(Some("localhost"), "/ordersx", "GET"));
        assert!(!r.matches(Some("127.0.0.2"), "/orders", "GET"));
        assert!(!r.matches(Some("localhost.example"), "/orders", "GET"));
        assert!(prefix_matches("/", "/anything"));
        assert!(prefix_matches("/", "/"));
    }

    fn warnings(routes: &[(&str, &str)]) -> Vec<(usize, String)> {
        let text: String = routes
            .iter()
            .map(|(name, lines)| {
                format!("[[route]]\nname = \"{name}\"\n{lines}\nupstream = \"echo\"\n[route.cors]\norigins = [\"*\"]\n")
            })
            .collect();
        let c = Config::parse(&text, "w.toml").unwrap();
        c.warnings()
            .iter()
            .map(|w| (w.line(), w.message().to_owned()))
            .collect()
    }

    #[test]
    fn public_suffix_patterns_are_warned_about_at_their_entry() {
        // jub0bs/cors: allowed without credentials (no broader than "*"), refused with.
        let text = "[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://a.example\", \"https://*.kin\"]\n";
        let c = Config::parse(text, "w.toml").unwrap();
        let w: Vec<_> = c
            .warnings()
            .iter()
            .map(|w| (w.line(), w.column(), w.message().to_owned()))
            .collect();
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!((w[0].0, w[0].1), (4, 33), "{w:?}");
        assert!(w[0].2.contains("public suffix `kin`"), "{w:?}");
        let with = format!("{text}credentials = true\n");
        let e = Config::parse(&with, "w.toml").unwrap_err();
        assert_eq!((e.first().line(), e.first().column()), (4, 33), "{e}");
        assert!(e.first().message().contains("credentials are on"), "{e}");
    }

    #[test]
    fn routes_that_never_match_are_warned_about() {
        // Nothing shadowed: narrower routes first, different hosts, disjoint methods.
        let ok: &[&[(&str, &str)]] = &[
            &[("a", "path = \"/api/\""), ("b", "")],
            &[("a", "host = \"a.example\""), ("b", "host = \"b.example\"")],
            &[("a", "methods = [\"GET\"]"), ("b", "methods = [\"POST\"]")],
            &[("a", "methods = [\"GET\"]"), ("b", "")],
            &[("a", "host = \"127.0.0.1\""), ("b", "host = \"localhost\"")],
            &[("a", "path = \"/api\""), ("b", "path = \"/apis\"")],
        ];
        for routes in ok {
            assert_eq!(warnings(routes), [], "{routes:?}");
        }
        /// Routes (name, matching lines), the warning's line, its message.
        type Case<'a> = (&'a [(&'a str, &'a str)], usize, &'a str);
        let shadowed: &[Case] = &[
            (
                &[("a", ""), ("b", "path = \"/api/\"")],
                7,
                "route \"b\" never matches: route \"a\" (line 1)",
            ),
            (
                &[("a", "path = \"/\""), ("b", "")],
                7,
                "route \"b\" never matches",
            ),
            (
                &[("a", "path = \"/api\""), ("b", "path = \"/api/v1\"")],
                7,
                "route \"b\" never matches",
            ),
            (
                &[("a", "path = \"/api/\""), ("b", "path = \"/api\"")],
                7,
                "route \"b\" never matches",
            ),
            (
                &[("a", "host = \"localhost\""), ("b", "host = \"127.0.0.1\"")],
                7,
                "route \"b\" never matches",
            ),
            (
                &[
                    ("a", "methods = [\"GET\"]"),
                    ("b", "methods = [\"POST\"]"),
                    ("c", "methods = [\"POST\", \"GET\"]"),
                ],
                13,
                "route \"b\" (line 7) and route \"a\" (line 1) come first and take every request",
            ),
            (
                &[
                    ("a", "methods = [\"GET\"]"),
                    ("b", "methods = [\"PUT\", \"GET\"]"),
                ],
                9,
                "route \"b\": method GET never matches: route \"a\" (line 1)",
            ),
        ];
        for (routes, line, message) in shadowed {
            let got = warnings(routes);
            assert_eq!(got.len(), 1, "{routes:?}: {got:?}");
            assert_eq!(got[0].0, *line, "{routes:?}: {got:?}");
            assert!(
                got[0].1.starts_with(message) || got[0].1.contains(message),
                "{routes:?}: {got:?}"
            );
        }
    }
}
