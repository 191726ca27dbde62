//! A live HTTP client for the browser model: sends exactly the requests the model decides
//! on (no redirect following of its own, no cookies but `--cookie`), byte for byte as the
//! browser would (see `wire.rs`), resolves `*.localhost` to loopback as browsers do,
//! honours `--resolve` overrides, and times out with a clear error.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use corsica::fetch::{HttpRequest, HttpResponse, NetworkError, Server};

/// How to reach servers.
///
/// ```
/// use std::time::Duration;
/// use corsica_doctor::live::{LiveOptions, LiveServer, parse_resolve};
/// assert_eq!(LiveOptions::default().timeout, Duration::from_secs(10));
/// // --insecure --resolve api.example.com:443:127.0.0.1 --timeout 2
/// let options = LiveOptions {
///     insecure: true,
///     resolve: vec![parse_resolve("api.example.com:443:127.0.0.1")?],
///     timeout: Duration::from_secs(2),
///     cookies: vec!["session=abc".into()],
///     ca_certs: vec![],
/// };
/// assert!(LiveServer::new(&options).is_ok());
/// # Ok::<(), corsica_doctor::live::ResolveError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Accept invalid TLS certificates (self-signed development servers).
    pub insecure: bool,
    /// `host` → address overrides, like curl's `--resolve HOST:PORT:ADDR` (the port of the
    /// URL is kept).
    pub resolve: Vec<(String, IpAddr)>,
    /// Per-request timeout (connect and response head).
    pub timeout: Duration,
    /// The browser's stored cookies for the target (`NAME=VALUE`, `check --cookie`): sent
    /// only on requests to the target's host whose credentials mode attaches cookies,
    /// never on preflights.
    pub cookies: Vec<String>,
    /// Extra trusted root certificates (PEM files, `--cacert`).
    pub ca_certs: Vec<std::path::PathBuf>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            insecure: false,
            resolve: Vec::new(),
            timeout: Duration::from_secs(10),
            cookies: Vec::new(),
            ca_certs: Vec::new(),
        }
    }
}

/// A `--resolve` argument that is not `HOST:PORT:ADDR`.
///
/// ```
/// use corsica_doctor::live::{ResolveError, parse_resolve};
/// assert!(matches!(parse_resolve("api.example.com"), Err(ResolveError::Shape(_))));
/// let err = parse_resolve("api.example.com:443:localhost").unwrap_err();
/// assert_eq!(err.to_string(), "--resolve `api.example.com:443:localhost`: `localhost` is not an IP address");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// Not three `:`-separated parts with a port in the middle.
    #[error("--resolve `{0}`: write HOST:PORT:ADDR, e.g. api.example.com:443:127.0.0.1")]
    Shape(String),
    /// The address is not an IP address.
    #[error("--resolve `{arg}`: `{addr}` is not an IP address")]
    Addr {
        /// The whole argument.
        arg: String,
        /// Its address part.
        addr: String,
    },
}

/// Parses curl's `HOST:PORT:ADDR` (the port is accepted and ignored: the URL's port is used).
///
/// ```
/// let (host, ip) = corsica_doctor::live::parse_resolve("api.example.com:443:127.0.0.1")?;
/// assert_eq!((host.as_str(), ip.to_string().as_str()), ("api.example.com", "127.0.0.1"));
/// # Ok::<(), corsica_doctor::live::ResolveError>(())
/// ```
pub fn parse_resolve(s: &str) -> Result<(String, IpAddr), ResolveError> {
    let mut parts = s.splitn(3, ':');
    let (Some(host), Some(port), Some(addr)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ResolveError::Shape(s.to_owned()));
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(ResolveError::Shape(s.to_owned()));
    }
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = addr.parse().map_err(|_| ResolveError::Addr {
        arg: s.to_owned(),
        addr: addr.to_owned(),
    })?;
    Ok((host.to_ascii_lowercase(), ip))
}

/// Errors building the client.
///
/// ```
/// use corsica_doctor::live::{ClientError, LiveServer};
/// // `?` turns it into the doctor's usage error.
/// fn client() -> Result<LiveServer, corsica_doctor::DoctorError> {
///     let server: Result<LiveServer, ClientError> = LiveServer::new(&Default::default());
///     Ok(server?)
/// }
/// assert!(client().is_ok());
/// ```
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TLS configuration could not be built (no platform roots, a bad provider).
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// A `--cacert` file could not be read or holds no PEM certificate.
    #[error("--cacert {}: {reason}", path.display())]
    CaCert {
        /// The file.
        path: std::path::PathBuf,
        /// Why it is unusable.
        reason: String,
    },
}

/// The live server: a blocking HTTP/1.1 client (rustls, the platform's roots).
///
/// ```no_run
/// use corsica::Origin;
/// use corsica::fetch::{FetchRequest, simulate};
/// use corsica_doctor::{LiveOptions, LiveServer};
/// let mut server = LiveServer::new(&LiveOptions::default())?;
/// let page = Origin::parse("https://app.example.com")?;
/// let request = FetchRequest::new(page, "https://api.example.com/items").method("DELETE");
/// let outcome = simulate(&request, &mut server, None);
/// println!("preflight sent: {}, allowed: {}", outcome.preflight, outcome.is_allowed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LiveServer {
    wire: crate::wire::Wire,
    cookies: Vec<String>,
    /// The host the cookies belong to (see [`LiveServer::cookie_for`]).
    cookie_host: Option<String>,
}

impl LiveServer {
    /// Builds the client.
    ///
    /// ```
    /// let live = corsica_doctor::live::LiveServer::new(&Default::default());
    /// assert!(live.is_ok());
    /// ```
    pub fn new(options: &LiveOptions) -> Result<LiveServer, ClientError> {
        use rustls::pki_types::pem::PemObject as _;
        let mut roots = Vec::new();
        for path in &options.ca_certs {
            let unusable = |reason: String| ClientError::CaCert {
                path: path.clone(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|e| unusable(e.to_string()))?;
            let before = roots.len();
            for der in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
                roots.push(der.map_err(|e| unusable(e.to_string()))?);
            }
            if roots.len() == before {
                return Err(unusable("no PEM certificate in the file".into()));
            }
        }
        let tls = crate::wire::tls_config(options.insecure, roots).map_err(ClientError::Tls)?;
        Ok(LiveServer {
            wire: crate::wire::Wire {
                resolve: options.resolve.clone(),
                timeout: options.timeout,
                tls: Arc::new(tls),
            },
            cookies: options.cookies.clone(),
            cookie_host: None,
        })
    }

    /// Sends the cookies of [`LiveOptions::cookies`] to `url`'s host only, as the browser
    /// stored them for it.
    pub fn cookie_for(mut self, url: &str) -> LiveServer {
        self.cookie_host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
        self
    }
}

impl Server for LiveServer {
    fn send(&mut self, request: &HttpRequest) -> Result<HttpResponse, NetworkError> {
        // The browser attaches its cookies where the credentials mode lets it: never on
        // a preflight, only to the host they were stored for.
        let host = url::Url::parse(&request.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
        let mut extra = Vec::new();
        if request.credentials
            && !request.preflight
            && !self.cookies.is_empty()
            && host.is_some()
            && host == self.cookie_host
        {
            extra.push(("cookie".to_owned(), self.cookies.join("; ")));
        }
        self.wire.send(request, &extra).map_err(|NetworkError(m)| {
            // A TLS verification failure: name both ways out.
            if m.contains("certificate") || m.contains("UnknownIssuer") {
                NetworkError(format!("{m} (a private CA or self-signed certificate? trust it with --cacert FILE, or skip verification with -k)"))
            } else {
                NetworkError(m)
            }
        })
    }
}
