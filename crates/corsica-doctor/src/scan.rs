//! `corsica scan`: finds the CORS misconfigurations security teams test for (PortSwigger's
//! CORS research, Corsy, CORScanner), judged by the browser model.
//!
//! For a target URL it derives probe origins from the target and the trusted origins
//! (arbitrary origin, `null`, suffix and prefix look-alikes, an unescaped dot, special
//! characters, `http://` for an `https://` site, an arbitrary subdomain), sends what a
//! browser would send from each (simple request and, where it matters, a preflight) and
//! runs the browser model on the answers. A finding is reported only when a browser would
//! let that origin read the response; severity rises when it can read it with the user's
//! credentials. Each answer is judged as every browser the model speaks for (Chromium,
//! Firefox) would judge it; a finding that only some of them allow says which
//! (`browsers differ: …`). For the simple GET the probes send, Chromium and Firefox judge
//! alike (the conformance suite finds no difference in the CORS check itself), so today's
//! findings hold in both.

use std::time::Duration;

use corsica::Origin;
use corsica::fetch::{
    Browser, Credentials, FetchRequest, HttpRequest, NetworkError, Options, Server, Verdict,
    simulate_with,
};
use serde_json::Value;

use crate::live::{LiveOptions, LiveServer};
use crate::output;

/// Severity of a finding.
///
/// ```
/// use corsica_doctor::scan::Severity;
/// assert!(Severity::High > Severity::Medium && Severity::Medium > Severity::Low);
/// assert_eq!("medium".parse::<Severity>(), Ok(Severity::Medium));
/// assert!("critical".parse::<Severity>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth fixing; little direct impact.
    Low,
    /// Readable by attackers without the user's credentials, or a cache-poisoning risk.
    Medium,
    /// Readable by attackers with the user's credentials (cookies).
    High,
}

impl Severity {
    /// `low`, `medium`, `high`.
    ///
    /// ```
    /// use corsica_doctor::scan::Severity;
    /// assert_eq!(Severity::High.as_str(), "high");
    /// for s in [Severity::Low, Severity::Medium, Severity::High] {
    ///     assert_eq!(s.as_str().parse::<Severity>(), Ok(s));
    /// }
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// A string that is not a [`Severity`].
///
/// ```
/// let err = "critical".parse::<corsica_doctor::scan::Severity>().unwrap_err();
/// assert_eq!(err.to_string(), "`critical` is not a severity: use low, medium or high");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a severity: use low, medium or high")]
pub struct ParseSeverityError(String);

impl std::str::FromStr for Severity {
    type Err = ParseSeverityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            o => Err(ParseSeverityError(o.to_owned())),
        }
    }
}

/// Why the scan of a URL could not run (exit code 2).
///
/// ```
/// use corsica::fetch::{HttpRequest, HttpResponse, NetworkError};
/// use corsica_doctor::scan::{ScanError, scan_with};
/// let mut server = |_: &HttpRequest| -> Result<HttpResponse, NetworkError> { Ok(HttpResponse::new(200)) };
/// let result = scan_with(&mut server, "ftp://files.example.com/", &[]);
/// assert_eq!(result.error, Some(ScanError::Url("ftp://files.example.com/".into())));
/// assert_eq!(result.error.unwrap().to_string(), "`ftp://files.example.com/` is not an absolute http(s) URL");
/// let result = scan_with(&mut server, "http://localhost:99999/", &[]);
/// assert_eq!(result.error.unwrap().to_string(), "`http://localhost:99999/`: the port must be a number from 0 to 65535");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// The URL is not an absolute `http(s)` URL.
    #[error("`{0}` is not an absolute http(s) URL")]
    Url(String),
    /// The URL's port is not a port number.
    #[error("`{0}`: the port must be a number from 0 to 65535")]
    Port(String),
    /// A probe origin is not an origin.
    #[error("probe origin: {0}")]
    Origin(#[from] corsica::OriginError),
    /// The server could not be reached.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// `fetch()` rejects without a CORS error (the browser model's reason).
    #[error("{0}")]
    Fetch(String),
    /// The HTTP client could not be set up.
    #[error("the HTTP client could not be set up")]
    Client,
    /// Every probe was answered with an error status: nothing was tested.
    #[error(
        "untested: every probe was answered {0}, so no CORS behaviour could be observed; scan a URL the API answers with 2xx or 3xx"
    )]
    Untested(String),
}

/// The finding classes, with stable ids (a public contract).
///
/// ```
/// use corsica_doctor::scan::RULES;
/// let (id, description, fix) = RULES[0];
/// assert_eq!(id, "origin-reflected");
/// assert!(description.contains("reflects any Origin"));
/// assert!(fix.starts_with("Compare the Origin"));
/// let mut ids: Vec<&str> = RULES.iter().map(|r| r.0).collect();
/// ids.sort();
/// ids.dedup();
/// assert_eq!(ids.len(), RULES.len());
/// ```
pub const RULES: [(&str, &str, &str); 12] = [
    (
        "origin-reflected",
        "The server reflects any Origin into Access-Control-Allow-Origin.",
        "Compare the Origin with an allow-list of exact origins; never echo it unchecked.",
    ),
    (
        "null-origin-allowed",
        "The server trusts the `null` origin, which any site can produce from a sandboxed iframe.",
        "Remove `null` from the allowed origins.",
    ),
    (
        "suffix-match-bypass",
        "An origin that only ends with a trusted host is trusted (an unanchored `endsWith` or regex).",
        "Match whole origins exactly, or subdomains only after a dot (in corsica: `https://*.example.com`; in a regex: `^https://([a-z0-9-]+\\.)*example\\.com$`).",
    ),
    (
        "prefix-match-bypass",
        "An origin that only starts with a trusted origin is trusted (an unanchored `startsWith` or regex).",
        "Match whole origins exactly; anchor regexes with `^...$`.",
    ),
    (
        "unescaped-dot-bypass",
        "A regex with an unescaped `.` trusts look-alike hosts (`wwwXexample.com`).",
        "Escape dots in origin regexes, or better, compare exact origins.",
    ),
    (
        "special-char-bypass",
        "A host with characters browsers accept (`_`, `-` before the trusted suffix) passes the check.",
        "Compare exact origins or parse the origin and compare its host label by label.",
    ),
    (
        "insecure-origin-trusted",
        "An `http://` origin is trusted by an `https://` site: anyone on the network path can act as it.",
        "Trust only `https://` origins.",
    ),
    (
        "any-subdomain-trusted",
        "Every subdomain is trusted: one XSS or subdomain takeover anywhere exposes this API.",
        "List the subdomains that need access.",
    ),
    (
        "wildcard-origin",
        "`Access-Control-Allow-Origin: *`: every site can read the response (without credentials).",
        "Fine for public data; otherwise list the origins.",
    ),
    (
        "credentials-with-wildcard",
        "`*` with `Access-Control-Allow-Credentials: true`: browsers refuse it for credentialed requests, so the configuration does not do what it intends.",
        "Send the exact origin (with `Vary: Origin`) instead of `*`.",
    ),
    (
        "missing-vary-origin",
        "The answer depends on Origin but `Vary: Origin` is missing: a shared cache can serve one origin's answer to another.",
        "Send `Vary: Origin` on every response whose CORS headers depend on Origin.",
    ),
    (
        "preflight-reflects-request",
        "The preflight answer reflects arbitrary requested methods or headers with credentials.",
        "List the methods and headers the API needs.",
    ),
];

/// One finding.
///
/// ```
/// use corsica::fetch::{HttpRequest, HttpResponse, NetworkError};
/// use corsica_doctor::scan::{RULES, Severity, scan_with};
/// let mut server = |_: &HttpRequest| -> Result<HttpResponse, NetworkError> {
///     Ok(HttpResponse::new(200).header("Access-Control-Allow-Origin", "*"))
/// };
/// let result = scan_with(&mut server, "https://api.example.com/public", &[]);
/// let finding = &result.findings[0];
/// assert_eq!((finding.id, finding.severity), ("wildcard-origin", Severity::Low));
/// assert!(finding.evidence.contains("Access-Control-Allow-Origin: *"));
/// let rule = RULES.iter().find(|r| r.0 == finding.id).unwrap();
/// assert_eq!(finding.fix, rule.2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable id (see [`RULES`]).
    pub id: &'static str,
    /// Severity.
    pub severity: Severity,
    /// The probe origin.
    pub origin: String,
    /// What was sent and received, and what a browser does with it.
    pub evidence: String,
    /// How to fix it.
    pub fix: String,
}

/// The scan of one URL.
///
/// A server that allows one exact origin, and says so to caches, has no findings:
///
/// ```
/// use corsica::Origin;
/// use corsica::fetch::{HttpRequest, HttpResponse, NetworkError};
/// use corsica_doctor::scan::scan_with;
/// let mut server = |r: &HttpRequest| -> Result<HttpResponse, NetworkError> {
///     let mut response = HttpResponse::new(200).header("Vary", "Origin");
///     if r.header("origin") == Some("https://app.example.com") {
///         response = response
///             .header("Access-Control-Allow-Origin", "https://app.example.com")
///             .header("Access-Control-Allow-Credentials", "true");
///     }
///     Ok(response)
/// };
/// let trusted = [Origin::parse("https://app.example.com")?];
/// let result = scan_with(&mut server, "https://api.example.com/me", &trusted);
/// assert_eq!(result.url, "https://api.example.com/me");
/// assert!(result.findings.is_empty());
/// assert!(result.error.is_none());
/// # Ok::<(), corsica::OriginError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ScanResult {
    /// The URL.
    pub url: String,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// The error that stopped the scan, if any.
    pub error: Option<ScanError>,
}

impl ScanResult {
    /// The JSON output (see [`output::Scan`]): `{"url": str, "findings": [{"id",
    /// "severity", "origin", "evidence", "fix"}]}` (plus `"error"` when the scan could not
    /// run).
    ///
    /// ```
    /// use corsica::fetch::{HttpRequest, HttpResponse, NetworkError};
    /// use corsica_doctor::scan::scan_with;
    /// let mut down = |_: &HttpRequest| -> Result<HttpResponse, NetworkError> {
    ///     Err(NetworkError("connection refused".into()))
    /// };
    /// let out = scan_with(&mut down, "https://api.example.com/", &[]).output();
    /// assert_eq!(out.url, "https://api.example.com/");
    /// assert!(out.findings.is_empty());
    /// assert_eq!(out.error.as_deref(), Some("network error: connection refused"));
    /// ```
    pub fn output(&self) -> output::Scan {
        output::Scan {
            error: self.error.as_ref().map(ToString::to_string),
            findings: self
                .findings
                .iter()
                .map(|f| output::ScanFinding {
                    evidence: f.evidence.clone(),
                    fix: f.fix.clone(),
                    id: f.id,
                    origin: f.origin.clone(),
                    severity: f.severity.as_str(),
                })
                .collect(),
            url: self.url.clone(),
        }
    }

    /// [`ScanResult::output`] as a JSON value.
    ///
    /// ```
    /// use corsica::fetch::{HttpRequest, HttpResponse, NetworkError};
    /// use corsica_doctor::scan::scan_with;
    /// let mut down = |_: &HttpRequest| -> Result<HttpResponse, NetworkError> {
    ///     Err(NetworkError("connection refused".into()))
    /// };
    /// let v = scan_with(&mut down, "https://api.example.com/", &[]).to_json();
    /// assert_eq!(v["findings"], serde_json::json!([]));
    /// assert_eq!(v["error"], "network error: connection refused");
    /// ```
    pub fn to_json(&self) -> Value {
        output::to_value(&self.output())
    }
}

fn fix_of(id: &str) -> String {
    RULES
        .iter()
        .find(|r| r.0 == id)
        .map(|r| r.2.to_owned())
        .unwrap_or_default()
}

/// The probes for a target: (finding id, probe origin).
///
/// ```
/// use corsica::Origin;
/// use corsica_doctor::scan::probes;
/// let target = url::Url::parse("https://api.example.com/v1")?;
/// let trusted = [Origin::parse("https://app.example.com")?];
/// let p = probes(&target, &trusted);
/// let has = |id: &str, origin: &str| p.iter().any(|(i, o)| *i == id && o == origin);
/// assert!(has("origin-reflected", "https://corsica-probe.example"));
/// assert!(has("null-origin-allowed", "null"));
/// assert!(has("suffix-match-bypass", "https://corsicaprobeexample.com"));
/// assert!(has("insecure-origin-trusted", "http://app.example.com"));
/// assert!(has("any-subdomain-trusted", "https://corsica-probe.example.com"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn probes(target: &url::Url, trusted: &[Origin]) -> Vec<(&'static str, String)> {
    let scheme = target.scheme();
    let mut out: Vec<(&'static str, String)> = vec![
        (
            "origin-reflected",
            format!("{scheme}://corsica-probe.example"),
        ),
        ("null-origin-allowed", "null".to_owned()),
    ];
    for t in trusted {
        let (Some(s), Some(host)) = (t.scheme(), t.host()) else {
            continue;
        };
        let port = t.port().map(|p| format!(":{p}")).unwrap_or_default();
        // Glued to the registrable domain, so that the probe is never a genuine
        // subdomain (`corsicaprobeapi.example.com` is one of `*.example.com`).
        let base = if t.is_ip() {
            host
        } else {
            psl::domain_str(host).unwrap_or(host)
        };
        out.push((
            "suffix-match-bypass",
            format!("{s}://corsicaprobe{base}{port}"),
        ));
        out.push((
            "prefix-match-bypass",
            format!("{s}://{host}.corsica-probe.example{port}"),
        ));
        if let Some(dot) = host.find('.') {
            let mut alike = host.to_owned();
            alike.replace_range(dot..=dot, "x");
            out.push(("unescaped-dot-bypass", format!("{s}://{alike}{port}")));
        }
        for c in ['_', '-'] {
            out.push((
                "special-char-bypass",
                format!("{s}://{host}{c}.corsica-probe.example{port}"),
            ));
        }
        if s == "https" {
            out.push(("insecure-origin-trusted", format!("http://{host}{port}")));
        }
        if !t.is_ip() {
            out.push((
                "any-subdomain-trusted",
                format!("{s}://corsica-probe.{base}{port}"),
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// What browsers at an origin can read of a response: the most any browser reads, and,
/// when the browsers do not agree, which reads what.
struct Reads {
    /// `Some(true)` with credentials, `Some(false)` only without, `None` not at all.
    most: Option<bool>,
    /// `Chromium reads it with cookies; Firefox blocks it`, when browsers differ.
    differs: Option<String>,
}

/// Whether browsers at `origin` can read the response to a GET of `url`, in each browser
/// the model speaks for.
fn readable(server: &mut dyn Server, url: &str, origin: &str) -> Result<Reads, ScanError> {
    let origin = if origin == "null" {
        Origin::null()
    } else {
        Origin::parse(origin)?
    };
    let mut memo = crate::Memo::new(server);
    let mut each: Vec<(Browser, Option<bool>)> = Vec::new();
    let mut failures = Vec::new();
    for browser in Browser::ALL {
        let mut verdict = |credentials| {
            let r = FetchRequest::new(origin.clone(), url).credentials(credentials);
            let options = Options {
                browser,
                ..Options::default()
            };
            simulate_with(&r, &mut memo, options).verdict
        };
        let reads = match verdict(Credentials::Include) {
            Verdict::Allowed { .. } => Some(true),
            // This browser reads nothing (e.g. Firefox follows an empty `Location` until
            // its redirect limit); the scan fails only when every browser does.
            Verdict::Failed { reason, .. } => {
                failures.push(reason);
                None
            }
            Verdict::Blocked(_) => match verdict(Credentials::Omit) {
                Verdict::Allowed { .. } => Some(false),
                _ => None,
            },
        };
        each.push((browser, reads));
    }
    if failures.len() == each.len() {
        if let Some(reason) = failures.into_iter().next() {
            return Err(ScanError::Fetch(reason));
        }
    }
    let most = each.iter().map(|(_, r)| *r).max().flatten();
    let differs = each.windows(2).any(|w| w[0].1 != w[1].1).then(|| {
        each.iter()
            .map(|(b, r)| {
                let what = match r {
                    Some(true) => "reads it with cookies",
                    Some(false) => "reads it without cookies",
                    None => "blocks it",
                };
                format!("{} {what}", b.name())
            })
            .collect::<Vec<_>>()
            .join("; ")
    });
    Ok(Reads { most, differs })
}

/// Sends one raw request (for evidence and for the checks the model does not express).
fn raw(
    server: &mut dyn Server,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<corsica::fetch::HttpResponse, NetworkError> {
    server.send(&HttpRequest {
        method: method.into(),
        url: url.into(),
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).into(), (*v).into()))
            .collect(),
        preflight: method == "OPTIONS",
        credentials: false,
    })
}

fn evidence(origin: &str, r: &corsica::fetch::HttpResponse, reads: Option<bool>) -> String {
    let cors: Vec<String> = r
        .headers
        .iter()
        .filter(|(n, _)| {
            n.to_ascii_lowercase().starts_with("access-control-") || n.eq_ignore_ascii_case("vary")
        })
        .map(|(n, v)| format!("{n}: {v}"))
        .collect();
    let verdict = match reads {
        Some(true) => "a browser lets this origin read the response WITH the user's cookies",
        Some(false) => "a browser lets this origin read the response (without credentials)",
        None => "a browser blocks this origin",
    };
    format!(
        "Origin: {origin} → {} [{}]; {verdict}",
        r.status,
        cors.join("; ")
    )
}

/// Scans one URL against a server (live or not).
///
/// A server that echoes any `Origin` with credentials, the classic misconfiguration:
///
/// ```
/// use corsica::fetch::{HttpRequest, HttpResponse, NetworkError};
/// use corsica_doctor::scan::{Severity, scan_with};
/// let mut server = |r: &HttpRequest| -> Result<HttpResponse, NetworkError> {
///     let origin = r.header("origin").unwrap_or_default().to_owned();
///     Ok(HttpResponse::new(200)
///         .header("Access-Control-Allow-Origin", origin)
///         .header("Access-Control-Allow-Credentials", "true"))
/// };
/// let result = scan_with(&mut server, "https://api.example.com/me", &[]);
/// assert!(result.error.is_none());
/// let ids: Vec<&str> = result.findings.iter().map(|f| f.id).collect();
/// assert!(ids.contains(&"origin-reflected"));
/// assert!(ids.contains(&"null-origin-allowed"));
/// assert!(ids.contains(&"missing-vary-origin"));
/// // Most severe first: any site can read the response with the user's cookies.
/// assert_eq!(result.findings[0].severity, Severity::High);
/// ```
pub fn scan_with(server: &mut dyn Server, url: &str, trusted: &[Origin]) -> ScanResult {
    let mut result = ScanResult {
        url: url.to_owned(),
        findings: Vec::new(),
        error: None,
    };
    let target = match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        Err(url::ParseError::InvalidPort) => {
            result.error = Some(ScanError::Port(url.to_owned()));
            return result;
        }
        _ => {
            result.error = Some(ScanError::Url(url.to_owned()));
            return result;
        }
    };
    let site = target.origin().ascii_serialization();
    let trusted: Vec<Origin> = if trusted.is_empty() {
        Origin::parse(&site).into_iter().collect()
    } else {
        trusted.to_vec()
    };
    let mut push = |id: &'static str, severity: Severity, origin: &str, evidence: String| {
        if !result.findings.iter().any(|f| f.id == id) {
            result.findings.push(Finding {
                id,
                severity,
                origin: origin.to_owned(),
                evidence,
                fix: fix_of(id),
            });
        }
    };
    let mut statuses: Vec<u16> = Vec::new();
    // Probes derived from IP hosts (`corsicaprobe127.0.0.1`) are not origins: skip them.
    let usable = |o: &str| o == "null" || Origin::parse(o).is_ok();
    for (id, origin) in probes(&target, &trusted)
        .into_iter()
        .filter(|(_, o)| usable(o))
    {
        let response = match raw(
            server,
            "GET",
            url,
            &[("origin", &origin), ("sec-fetch-mode", "cors")],
        ) {
            Ok(r) => r,
            Err(e) => {
                result.error = Some(e.into());
                return result;
            }
        };
        statuses.push(response.status);
        let acao = response.get("access-control-allow-origin");
        let acac = response.get("access-control-allow-credentials");
        if acao.as_deref() == Some("*") {
            if acac.as_deref() == Some("true") {
                push(
                    "credentials-with-wildcard",
                    Severity::Low,
                    &origin,
                    evidence(&origin, &response, Some(false)),
                );
            } else {
                push(
                    "wildcard-origin",
                    Severity::Low,
                    &origin,
                    evidence(&origin, &response, Some(false)),
                );
            }
            continue;
        }
        let (reads, differs) = match readable(server, url, &origin) {
            Ok(r) => (r.most, r.differs),
            Err(e) => {
                result.error = Some(e);
                return result;
            }
        };
        let Some(with_credentials) = reads else {
            continue;
        };
        // A finding only some browsers allow says which.
        let browsers = differs
            .map(|d| format!(" (browsers differ: {d})"))
            .unwrap_or_default();
        let severity = match (id, with_credentials) {
            ("insecure-origin-trusted" | "any-subdomain-trusted", true) => Severity::Medium,
            ("insecure-origin-trusted" | "any-subdomain-trusted", false) => Severity::Low,
            (_, true) => Severity::High,
            (_, false) => Severity::Medium,
        };
        push(
            id,
            severity,
            &origin,
            format!("{}{browsers}", evidence(&origin, &response, reads)),
        );
        // The answer depends on Origin (it was echoed): it must say so to caches.
        let varies = response.varies_on("origin");
        if acao.as_deref() == Some(origin.as_str()) && !varies {
            push(
                "missing-vary-origin",
                Severity::Medium,
                &origin,
                format!("{}; no `Vary: Origin`", evidence(&origin, &response, reads)),
            );
        }
    }
    // Vary on a trusted origin's answer, too.
    if let Some(t) = trusted.first() {
        if let Ok(r) = raw(
            server,
            "GET",
            url,
            &[("origin", t.as_str()), ("sec-fetch-mode", "cors")],
        ) {
            let varies = r.varies_on("origin");
            if r.get("access-control-allow-origin").as_deref() == Some(t.as_str()) && !varies {
                push(
                    "missing-vary-origin",
                    Severity::Medium,
                    t.as_str(),
                    format!(
                        "{}; no `Vary: Origin`",
                        evidence(t.as_str(), &r, None).replace(
                            "a browser blocks this origin",
                            "the answer names this origin"
                        )
                    ),
                );
            }
        }
        // Preflight reflection with credentials.
        let probe_method = "CORSICAPROBE";
        let probe_header = "x-corsica-probe";
        if let Ok(r) = raw(
            server,
            "OPTIONS",
            url,
            &[
                ("origin", t.as_str()),
                ("access-control-request-method", probe_method),
                ("access-control-request-headers", probe_header),
                ("sec-fetch-mode", "cors"),
            ],
        ) {
            let credentials = r.get("access-control-allow-credentials").as_deref() == Some("true");
            let lists = |name: &str, item: &str| {
                r.get(name)
                    .is_some_and(|v| v.split(',').any(|x| x.trim().eq_ignore_ascii_case(item)))
            };
            if credentials
                && (lists("access-control-allow-methods", probe_method)
                    || lists("access-control-allow-headers", probe_header))
            {
                push(
                    "preflight-reflects-request",
                    Severity::Medium,
                    t.as_str(),
                    format!(
                        "OPTIONS with Access-Control-Request-Method: {probe_method}, Access-Control-Request-Headers: {probe_header} → {} [{}]",
                        r.status,
                        r.headers
                            .iter()
                            .filter(|(n, _)| n.to_ascii_lowercase().starts_with("access-control-"))
                            .map(|(n, v)| format!("{n}: {v}"))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                );
            }
        }
    }
    result
        .findings
        .sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(b.id)));
    if result.findings.is_empty() && !statuses.is_empty() && statuses.iter().all(|&s| s >= 400) {
        statuses.sort_unstable();
        statuses.dedup();
        let list: Vec<String> = statuses.iter().map(u16::to_string).collect();
        result.error = Some(ScanError::Untested(list.join(" or ")));
    }
    result
}

/// Scans URLs over the network, `concurrency` at a time, one connection per host.
///
/// ```no_run
/// use corsica::Origin;
/// use corsica_doctor::LiveOptions;
/// use corsica_doctor::scan::{Severity, exit_code, scan, to_text};
/// let urls = vec!["https://api.example.com/me".to_owned(), "https://api.example.com/orders".to_owned()];
/// let trusted = [Origin::parse("https://app.example.com")?];
/// let results = scan(&urls, &trusted, &LiveOptions::default(), 4, true);
/// print!("{}", to_text(&results));
/// std::process::exit(i32::from(exit_code(&results, Severity::Medium)));
/// # Ok::<(), corsica::OriginError>(())
/// ```
pub fn scan(
    urls: &[String],
    trusted: &[Origin],
    live: &LiveOptions,
    concurrency: usize,
    progress: bool,
) -> Vec<ScanResult> {
    let concurrency = concurrency.max(1);
    // Group by host: each host is scanned by one worker, sequentially (polite).
    let mut groups: Vec<(String, Vec<(usize, String)>)> = Vec::new();
    for (i, u) in urls.iter().enumerate() {
        let host = url::Url::parse(u)
            .ok()
            .and_then(|x| x.host_str().map(str::to_owned))
            .unwrap_or_default();
        match groups.iter_mut().find(|(h, _)| *h == host) {
            Some((_, v)) => v.push((i, u.clone())),
            None => groups.push((host, vec![(i, u.clone())])),
        }
    }
    let results = std::sync::Mutex::new(vec![None; urls.len()]);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..concurrency.min(groups.len().max(1)) {
            s.spawn(|| {
                let mut server = match LiveServer::new(&LiveOptions {
                    timeout: live.timeout.max(Duration::from_millis(1)),
                    ..live.clone()
                }) {
                    Ok(s) => s,
                    Err(_) => return,
                };
                loop {
                    let g = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((_, items)) = groups.get(g) else {
                        break;
                    };
                    for (i, u) in items {
                        let r = scan_with(&mut server, u, trusted);
                        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        if progress {
                            eprintln!("[{n}/{}] {u}: {} finding(s)", urls.len(), r.findings.len());
                        }
                        if let Ok(mut all) = results.lock() {
                            all[*i] = Some(r);
                        }
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .zip(urls)
        .map(|(r, u)| {
            r.unwrap_or_else(|| ScanResult {
                url: u.clone(),
                findings: Vec::new(),
                error: Some(ScanError::Client),
            })
        })
        .collect()
}

/// The exit code: 2 if any scan failed, 1 if a finding is at or above `fail_on`, else 0.
///
/// ```
/// use corsica_doctor::scan::{Finding, ScanResult, Severity, exit_code};
/// let finding = Finding {
///     id: "wildcard-origin",
///     severity: Severity::Low,
///     origin: "https://corsica-probe.example".into(),
///     evidence: String::new(),
///     fix: String::new(),
/// };
/// let mut results = vec![ScanResult { url: "https://api.example.com/".into(), findings: vec![finding], error: None }];
/// assert_eq!(exit_code(&results, Severity::Medium), 0);
/// assert_eq!(exit_code(&results, Severity::Low), 1);
/// results[0].error = Some(corsica_doctor::scan::ScanError::Client);
/// assert_eq!(exit_code(&results, Severity::Low), 2);
/// ```
pub fn exit_code(results: &[ScanResult], fail_on: Severity) -> u8 {
    if results.iter().any(|r| r.error.is_some()) {
        2
    } else if results
        .iter()
        .flat_map(|r| &r.findings)
        .any(|f| f.severity >= fail_on)
    {
        1
    } else {
        0
    }
}

/// The human report with a summary table.
///
/// ```
/// use corsica::fetch::{HttpRequest, HttpResponse, NetworkError};
/// use corsica_doctor::scan::{scan_with, to_text};
/// let mut server = |_: &HttpRequest| -> Result<HttpResponse, NetworkError> {
///     Ok(HttpResponse::new(200).header("Access-Control-Allow-Origin", "*"))
/// };
/// let results = [scan_with(&mut server, "https://api.example.com/public", &[])];
/// let text = to_text(&results);
/// assert!(text.starts_with("https://api.example.com/public\n  [low   ] wildcard-origin"));
/// assert!(text.ends_with("summary: 1 URL(s) | high 0 | medium 0 | low 1 | errors 0\n"));
/// ```
pub fn to_text(results: &[ScanResult]) -> String {
    let mut out = String::new();
    for r in results {
        out.push_str(&format!("{}\n", r.url));
        match &r.error {
            Some(e @ ScanError::Untested(_)) => out.push_str(&format!("  {e}\n")),
            Some(e) => out.push_str(&format!("  error: {e}\n")),
            None => {}
        }
        if r.findings.is_empty() && r.error.is_none() {
            out.push_str("  no findings\n");
        }
        for f in &r.findings {
            out.push_str(&format!(
                "  [{:<6}] {:<26} {}\n           evidence: {}\n           fix: {}\n",
                f.severity.as_str(),
                f.id,
                f.origin,
                f.evidence,
                f.fix
            ));
        }
    }
    let count = |s: Severity| {
        results
            .iter()
            .flat_map(|r| &r.findings)
            .filter(|f| f.severity == s)
            .count()
    };
    out.push_str(&format!(
        "\nsummary: {} URL(s) | high {} | medium {} | low {} | errors {}\n",
        results.len(),
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Low),
        results.iter().filter(|r| r.error.is_some()).count()
    ));
    out
}

/// SARIF 2.1.0 for GitHub code scanning.
///
/// ```
/// use corsica::fetch::{HttpRequest, HttpResponse, NetworkError};
/// use corsica_doctor::scan::{RULES, scan_with, to_sarif};
/// let mut server = |_: &HttpRequest| -> Result<HttpResponse, NetworkError> {
///     Ok(HttpResponse::new(200).header("Access-Control-Allow-Origin", "*"))
/// };
/// let sarif = to_sarif(&[scan_with(&mut server, "https://api.example.com/public", &[])]);
/// assert_eq!(sarif["version"], "2.1.0");
/// let run = &sarif["runs"][0];
/// assert_eq!(run["tool"]["driver"]["rules"].as_array().map(Vec::len), Some(RULES.len()));
/// assert_eq!(run["results"][0]["ruleId"], "wildcard-origin");
/// assert_eq!(run["results"][0]["level"], "note");
/// assert_eq!(
///     run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
///     "https://api.example.com/public"
/// );
/// ```
pub fn to_sarif(results: &[ScanResult]) -> Value {
    output::to_value(&sarif(results))
}

/// The SARIF 2.1.0 log of a scan (see [`to_sarif`]): one result per finding, at the URL.
///
/// ```
/// use corsica::fetch::{HttpRequest, HttpResponse, NetworkError};
/// use corsica_doctor::scan::{sarif, scan_with};
/// let mut server = |_: &HttpRequest| -> Result<HttpResponse, NetworkError> {
///     Ok(HttpResponse::new(200).header("Access-Control-Allow-Origin", "*"))
/// };
/// let log = sarif(&[scan_with(&mut server, "https://api.example.com/public", &[])]);
/// assert_eq!(log.runs[0].results[0].properties["severity"], "low");
/// ```
pub fn sarif(results: &[ScanResult]) -> output::Sarif {
    let level = |s: Severity| match s {
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    };
    let findings = results
        .iter()
        .flat_map(|r| {
            r.findings.iter().map(move |f| output::SarifResult {
                level: level(f.severity),
                locations: vec![output::SarifLocation::at(&r.url, None)],
                message: output::SarifText::new(&format!(
                    "{} ({}). Evidence: {} Fix: {}",
                    f.id,
                    f.severity.as_str(),
                    f.evidence,
                    f.fix
                )),
                properties: [
                    ("origin", f.origin.clone()),
                    ("severity", f.severity.as_str().to_owned()),
                ]
                .into(),
                rule_id: f.id,
            })
        })
        .collect();
    output::Sarif::new(&RULES, findings)
}
