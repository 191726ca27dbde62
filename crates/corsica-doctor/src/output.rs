//! The machine-readable outputs of every `corsica` command, as `serde` structs: this module
//! is the JSON (and SARIF) contract of the CLI.
//!
//! | command | `--format json` | `--format sarif` |
//! | --- | --- | --- |
//! | `check` | one [`Check`] | – |
//! | `explain` | one [`Explain`] | – |
//! | `scan` | one [`Scan`] per URL (one per line for several URLs) | one [`Sarif`] |
//! | `lint` | one [`Lint`] | one [`Sarif`] |
//! | `serve` | one [`Serve`] when listening | – |
//!
//! Fields are declared in alphabetical order, so the output is byte-for-byte what the
//! earlier `serde_json::Value` objects (whose keys are sorted) printed. New fields may be
//! added; existing ones keep their names and meaning.
//!
//! ```
//! use corsica_doctor::output::{Lint, LintError};
//! let lint = Lint::invalid("gw.toml", vec![LintError {
//!     column: 15,
//!     file: "gw.toml".into(),
//!     line: 5,
//!     message: "credentials cannot be allowed with origin \"*\"".into(),
//! }]);
//! let json = serde_json::to_string(&lint)?;
//! assert!(json.starts_with(r#"{"errors":[{"column":15,"file":"gw.toml","line":5,"#));
//! assert!(json.ends_with(r#""file":"gw.toml","valid":false,"warnings":[]}"#));
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

/// `corsica check --format json`: the verdict on one `fetch()`.
///
/// The contract: `{"allowed", "browser", "preflight", "error": {"kind", "parameter"},
/// "message", "hint", "steps"}`, plus `verdict` (`allowed`, `blocked`, `failed`), `status`
/// and `readable_headers` when allowed, `fixes` when blocked, and in `explain` the
/// request's `method` and `url`. `browser` is `chromium` or `firefox`; `error.kind` is that
/// browser's name for the failure (a DevTools `CorsError`, a Firefox
/// `security.properties` key).
///
/// ```
/// use corsica::Origin;
/// use corsica::fetch::{FetchRequest, HttpRequest, HttpResponse, NetworkError, simulate};
/// use corsica_doctor::output::Check;
/// let request = FetchRequest::new(Origin::parse("https://app.example.com")?, "https://api.example.com/x");
/// let mut server = |_: &HttpRequest| -> Result<HttpResponse, NetworkError> {
///     Ok(HttpResponse::new(200).header("Access-Control-Allow-Origin", "*"))
/// };
/// let check = Check::new(&request, &simulate(&request, &mut server, None));
/// assert!(check.allowed && check.error.is_none());
/// assert_eq!(check.status, Some(200));
/// let json = serde_json::to_string(&check)?;
/// assert!(json.starts_with(r#"{"allowed":true,"browser":"chromium","error":null,"hint":"","message":"fetch() resolves with status 200"#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Whether `fetch()` resolves with a readable response.
    pub allowed: bool,
    /// The browser the verdict is for (`chromium`, `firefox`).
    pub browser: &'static str,
    /// The CORS error, when blocked (`null` otherwise).
    pub error: Option<CheckError>,
    /// Server snippets that allow the request (when blocked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixes: Option<Fixes>,
    /// How to fix it (empty when allowed).
    pub hint: String,
    /// Why a HAR cannot explain this request (`explain` only: a preflight it needed is not
    /// in the file); the verdict is then `incomplete`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// The browser's console message, or what `fetch()` resolves with.
    pub message: String,
    /// The request's method (`explain` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Whether a preflight was sent.
    pub preflight: bool,
    /// The response headers script can read (when allowed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readable_headers: Option<Vec<String>>,
    /// The status `fetch()` resolves with (when allowed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Every exchange, in order.
    pub steps: Vec<Step>,
    /// The request's URL (`explain` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `allowed`, `blocked`, `failed` (or `incomplete` in `explain`).
    pub verdict: &'static str,
    /// What works in Chromium today but not in every browser (omitted when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// `corsica check --browser all --format json`: one [`Check`] per browser, whether they
/// agree, where they differ, and the fix that works in every one.
///
/// ```
/// let all = corsica_doctor::output::CheckAll {
///     allowed: true,
///     agree: true,
///     browser: "all",
///     fixes: None,
///     hint: String::new(),
///     results: vec![],
///     summary: "allowed in Chromium and Firefox".into(),
/// };
/// let json = serde_json::to_string(&all)?;
/// assert_eq!(json, r#"{"allowed":true,"agree":true,"browser":"all","hint":"","results":[],"summary":"allowed in Chromium and Firefox"}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckAll {
    /// Whether every browser allows the request.
    pub allowed: bool,
    /// Whether every browser gives the same verdict (allowed, blocked or failed).
    pub agree: bool,
    /// Always `all`.
    pub browser: &'static str,
    /// Server snippets that allow the request in every browser (when any blocks it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixes: Option<Fixes>,
    /// What to change so that every browser allows the request (empty when none blocks it).
    pub hint: String,
    /// Each browser's verdict, in the order Chromium, Firefox.
    pub results: Vec<Check>,
    /// `allowed in Chromium, blocked in Firefox: CORSMissingAllowOrigin`, or
    /// `allowed in Chromium and Firefox`.
    pub summary: String,
}

/// Something that passes in the browser but fails by the Fetch standard (and
/// Chromium's announced behaviour).
///
/// ```
/// let w = corsica_doctor::output::Warning { id: "authorization-covered-by-wildcard", message: "list it".into() };
/// assert_eq!(serde_json::to_string(&w)?, r#"{"id":"authorization-covered-by-wildcard","message":"list it"}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// A stable id.
    pub id: &'static str,
    /// What happens and what to change.
    pub message: String,
}

/// The CORS error of a blocked request: the browser's name for it and the failed parameter.
///
/// ```
/// let e = corsica_doctor::output::CheckError {
///     candidates: vec!["x-api-key".into()],
///     kind: "HeaderDisallowedByPreflightResponse",
///     parameter: "x-api-key".into(),
/// };
/// assert_eq!(
///     serde_json::to_string(&e)?,
///     r#"{"candidates":["x-api-key"],"kind":"HeaderDisallowedByPreflightResponse","parameter":"x-api-key"}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckError {
    /// Every value Chromium may report as the parameter.
    pub candidates: Vec<String>,
    /// The browser's name: Chromium's `CorsError` (`AllowOriginMismatch`), Firefox's
    /// `security.properties` key (`CORSAllowOriginNotMatchingOrigin`).
    pub kind: &'static str,
    /// The failed parameter (a header name, a method), or empty.
    pub parameter: String,
}

/// One exchange of a check: a preflight or a request (each redirect hop is one).
///
/// ```
/// let step = corsica_doctor::output::Step {
///     error: None,
///     kind: "request",
///     method: "GET".into(),
///     redirected: false,
///     request_headers: vec![("origin".into(), "https://app.example.com".into())],
///     response_headers: Some(vec![]),
///     server_reason: None,
///     status: Some(200),
///     url: "https://api.example.com/x".into(),
/// };
/// let json = serde_json::to_string(&step)?;
/// assert!(json.contains(r#""request_headers":[["origin","https://app.example.com"]]"#));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The CORS error this exchange failed with.
    pub error: Option<&'static str>,
    /// `preflight` or `request`.
    pub kind: &'static str,
    /// The method sent.
    pub method: String,
    /// Whether the response redirected.
    pub redirected: bool,
    /// The headers sent, as `[name, value]` pairs.
    pub request_headers: Vec<(String, String)>,
    /// The headers received, as `[name, value]` pairs (`null` without a response).
    pub response_headers: Option<Vec<(String, String)>>,
    /// Why the server denied it, from a `corsica-reason: <label>; <message>` response
    /// header (the gateway's debug mode); omitted otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_reason: Option<String>,
    /// The status received (`null` without a response).
    pub status: Option<u16>,
    /// The URL.
    pub url: String,
}

/// What makes a blocked request pass: lines for common servers, or a note when the fix is
/// not on the server (a redirect that turned the origin into `null`).
///
/// ```
/// use corsica_doctor::output::Fixes;
/// let note = Fixes::Note { note: "call the final URL directly".into() };
/// assert_eq!(serde_json::to_string(&note)?, r#"{"note":"call the final URL directly"}"#);
/// assert_eq!(note.get("note"), Some("call the final URL directly"));
/// assert_eq!(note.get("nginx"), None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Fixes {
    /// Why no server snippet is given.
    Note {
        /// The explanation.
        note: String,
    },
    /// Server snippets.
    Snippets {
        /// The corsica builder.
        corsica: String,
        /// Express `cors()`.
        express: String,
        /// nginx `add_header` lines.
        nginx: String,
        /// tower-http's `CorsLayer`.
        #[serde(rename = "tower-http")]
        tower_http: String,
    },
}

impl Fixes {
    /// A snippet or the note by its JSON key (`note`, `nginx`, `express`, `tower-http`,
    /// `corsica`).
    ///
    /// ```
    /// use corsica_doctor::output::Fixes;
    /// let f = Fixes::Snippets {
    ///     corsica: "Policy::builder()".into(),
    ///     express: "app.use(cors())".into(),
    ///     nginx: "add_header Vary \"Origin\" always;".into(),
    ///     tower_http: "CorsLayer::new()".into(),
    /// };
    /// assert_eq!(f.get("tower-http"), Some("CorsLayer::new()"));
    /// assert_eq!(f.get("note"), None);
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        match (self, key) {
            (Fixes::Note { note }, "note") => Some(note),
            (Fixes::Snippets { corsica, .. }, "corsica") => Some(corsica),
            (Fixes::Snippets { express, .. }, "express") => Some(express),
            (Fixes::Snippets { nginx, .. }, "nginx") => Some(nginx),
            (Fixes::Snippets { tower_http, .. }, "tower-http") => Some(tower_http),
            _ => None,
        }
    }
}

/// `corsica explain --format json`: every cross-origin request of a HAR file.
///
/// ```
/// let har = r#"{"log": {"pages": [{"title": "https://app.example.com/"}], "entries": []}}"#;
/// let explain = corsica_doctor::har::explain(har)?.output();
/// assert_eq!(serde_json::to_string(&explain)?, r#"{"page_origin":"https://app.example.com","requests":[]}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explain {
    /// The page's origin, if the file names it.
    pub page_origin: Option<String>,
    /// Each request's [`Check`], with its `method` and `url`.
    pub requests: Vec<Check>,
}

/// `corsica scan --format json`: the scan of one URL.
///
/// ```
/// use corsica::fetch::{HttpRequest, HttpResponse, NetworkError};
/// let mut server = |_: &HttpRequest| -> Result<HttpResponse, NetworkError> {
///     Ok(HttpResponse::new(200).header("Access-Control-Allow-Origin", "*"))
/// };
/// let scan = corsica_doctor::scan::scan_with(&mut server, "https://api.example.com/", &[]).output();
/// let json = serde_json::to_string(&scan)?;
/// assert!(json.starts_with(r#"{"findings":[{"evidence":"#));
/// assert!(json.contains(r#""id":"wildcard-origin","origin":"#));
/// assert!(json.ends_with(r#""severity":"low"}],"url":"https://api.example.com/"}"#));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scan {
    /// The error that stopped the scan, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Findings, most severe first.
    pub findings: Vec<ScanFinding>,
    /// The URL scanned.
    pub url: String,
}

/// One finding of a scan.
///
/// ```
/// let f = corsica_doctor::output::ScanFinding {
///     evidence: "Origin: null → 200".into(),
///     fix: "Remove `null` from the allowed origins.".into(),
///     id: "null-origin-allowed",
///     origin: "null".into(),
///     severity: "high",
/// };
/// assert!(serde_json::to_string(&f)?.contains(r#""id":"null-origin-allowed","origin":"null","severity":"high""#));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanFinding {
    /// What was sent and received, and what a browser does with it.
    pub evidence: String,
    /// How to fix it.
    pub fix: String,
    /// The stable rule id (see [`crate::scan::RULES`]).
    pub id: &'static str,
    /// The probe origin.
    pub origin: String,
    /// `low`, `medium` or `high`.
    pub severity: &'static str,
}

/// `corsica lint --format json`: every problem of a gateway configuration.
///
/// ```
/// let ok = corsica_doctor::output::Lint::valid("gw.toml", 2, "127.0.0.1:8080");
/// assert_eq!(
///     serde_json::to_string(&ok)?,
///     r#"{"errors":[],"file":"gw.toml","listen":"127.0.0.1:8080","routes":2,"valid":true,"warnings":[]}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lint {
    /// Every problem, in file order (empty when valid).
    pub errors: Vec<LintError>,
    /// The file linted.
    pub file: String,
    /// The listen address (when valid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// How many routes (when valid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes: Option<usize>,
    /// Whether the gateway accepts the file.
    pub valid: bool,
    /// What the gateway accepts but is surely not meant (routes that never match), in
    /// file order; they do not change `valid` or the exit code.
    pub warnings: Vec<LintError>,
}

impl Lint {
    /// A valid file.
    ///
    /// ```
    /// let ok = corsica_doctor::output::Lint::valid("gw.toml", 1, "127.0.0.1:8080");
    /// assert!(ok.valid && ok.errors.is_empty());
    /// ```
    pub fn valid(file: &str, routes: usize, listen: impl ToString) -> Lint {
        Lint {
            errors: Vec::new(),
            file: file.to_owned(),
            listen: Some(listen.to_string()),
            routes: Some(routes),
            valid: true,
            warnings: Vec::new(),
        }
    }

    /// A refused file and its problems.
    ///
    /// ```
    /// let bad = corsica_doctor::output::Lint::invalid("gw.toml", vec![]);
    /// assert!(!bad.valid && bad.routes.is_none());
    /// ```
    pub fn invalid(file: &str, errors: Vec<LintError>) -> Lint {
        Lint {
            errors,
            file: file.to_owned(),
            listen: None,
            routes: None,
            valid: false,
            warnings: Vec::new(),
        }
    }

    /// The problems as SARIF 2.1.0 (rule [`LINT_RULE`], level `error`, each at its file,
    /// line and column), then the warnings (rule [`LINT_WARNING_RULE`], level `warning`).
    ///
    /// ```
    /// use corsica_doctor::output::{Lint, LintError};
    /// let error = LintError { column: 3, file: "gw.toml".into(), line: 4, message: "bad".into() };
    /// let sarif = Lint::invalid("gw.toml", vec![error]).to_sarif();
    /// let result = &sarif.runs[0].results[0];
    /// assert_eq!((result.rule_id, result.level), ("invalid-configuration", "error"));
    /// let region = result.locations[0].physical_location.region.as_ref().unwrap();
    /// assert_eq!((region.start_line, region.start_column), (4, 3));
    /// let mut ok = Lint::valid("gw.toml", 2, "127.0.0.1:8080");
    /// ok.warnings.push(LintError { column: 1, file: "gw.toml".into(), line: 9, message: "never matches".into() });
    /// let result = &ok.to_sarif().runs[0].results[0];
    /// assert_eq!((result.rule_id, result.level), ("unreachable-route", "warning"));
    /// ```
    pub fn to_sarif(&self) -> Sarif {
        let result =
            |e: &LintError, (level, (id, _, _)): (&'static str, (&'static str, &str, &str))| {
                SarifResult {
                    level,
                    locations: vec![SarifLocation::at(
                        &e.file,
                        Some(SarifRegion {
                            start_column: e.column,
                            start_line: e.line,
                        }),
                    )],
                    message: SarifText::new(&e.message),
                    properties: BTreeMap::new(),
                    rule_id: id,
                }
            };
        let results = self
            .errors
            .iter()
            .map(|e| result(e, ("error", LINT_RULE)))
            .chain(
                self.warnings
                    .iter()
                    .map(|w| result(w, ("warning", LINT_WARNING_RULE))),
            )
            .collect();
        Sarif::new(&[LINT_RULE, LINT_WARNING_RULE], results)
    }
}

/// The one SARIF rule of `corsica lint`: (id, description, fix).
///
/// ```
/// assert_eq!(corsica_doctor::output::LINT_RULE.0, "invalid-configuration");
/// ```
pub const LINT_RULE: (&str, &str, &str) = (
    "invalid-configuration",
    "The gateway refuses this configuration (an invalid value or an insecure CORS policy).",
    "Each message says what to write instead.",
);

/// The SARIF rule of `corsica lint`'s warnings: (id, description, fix).
///
/// ```
/// assert_eq!(corsica_doctor::output::LINT_WARNING_RULE.0, "unreachable-route");
/// ```
pub const LINT_WARNING_RULE: (&str, &str, &str) = (
    "unreachable-route",
    "A route, or a method of a route, never matches: an earlier route always takes its requests.",
    "Move the route above the one that takes its requests, or narrow that route's host, path or methods.",
);

/// One problem of a configuration file.
///
/// ```
/// let e = corsica_doctor::output::LintError { column: 1, file: "gw.toml".into(), line: 1, message: "no [[route]]".into() };
/// assert_eq!(serde_json::to_string(&e)?, r#"{"column":1,"file":"gw.toml","line":1,"message":"no [[route]]"}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LintError {
    /// 1-based column.
    pub column: usize,
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// `corsica serve --format json`: one line when the gateway listens.
///
/// ```
/// let s = corsica_doctor::output::Serve {
///     admin: None,
///     listen: "http://127.0.0.1:8080".into(),
///     routes: vec![corsica_doctor::output::ServeRoute {
///         host: None,
///         name: "echo".into(),
///         path: None,
///         upstream: "echo".into(),
///     }],
/// };
/// assert_eq!(
///     serde_json::to_string(&s)?,
///     r#"{"admin":null,"listen":"http://127.0.0.1:8080","routes":[{"host":null,"name":"echo","path":null,"upstream":"echo"}]}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Serve {
    /// The admin listener (`/metrics`, `/healthz`), as `http://ADDR`.
    pub admin: Option<String>,
    /// The gateway's address, as `http://ADDR` or `https://ADDR`.
    pub listen: String,
    /// The routes, in match order.
    pub routes: Vec<ServeRoute>,
}

/// One route of a running gateway.
///
/// ```
/// let r = corsica_doctor::output::ServeRoute { host: Some("api.example.com".into()), name: "api".into(), path: Some("/v1/".into()), upstream: "http://10.0.0.2:8000".into() };
/// assert!(serde_json::to_string(&r)?.starts_with(r#"{"host":"api.example.com","#));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServeRoute {
    /// The host it matches (any when `null`).
    pub host: Option<String>,
    /// Its name.
    pub name: String,
    /// The path prefix it matches (any when `null`).
    pub path: Option<String>,
    /// `echo` or `scheme://authority`.
    pub upstream: String,
}

// SARIF 2.1.0, written by hand: the few objects below are all Corsica emits, a SARIF crate
// (serde-sarif and its builders) would be a large dependency for them, and the tests check
// the output against the published schema and read it back with serde-sarif.

/// A SARIF 2.1.0 log with one run (`corsica lint` and `corsica scan`).
///
/// ```
/// let sarif = corsica_doctor::output::Sarif::new(&[("r", "A rule.", "The fix.")], vec![]);
/// let json = serde_json::to_value(&sarif)?;
/// assert_eq!(json["version"], "2.1.0");
/// assert_eq!(json["$schema"], "https://json.schemastore.org/sarif-2.1.0.json");
/// assert_eq!(json["runs"][0]["tool"]["driver"]["name"], "corsica");
/// assert_eq!(json["runs"][0]["tool"]["driver"]["rules"][0]["shortDescription"]["text"], "A rule.");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sarif {
    /// The schema URI.
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    /// One run.
    pub runs: Vec<SarifRun>,
    /// `2.1.0`.
    pub version: &'static str,
}

impl Sarif {
    /// A log of one run of corsica with these rules (id, description, fix) and results.
    ///
    /// ```
    /// let sarif = corsica_doctor::output::Sarif::new(&corsica_doctor::scan::RULES, vec![]);
    /// assert_eq!(sarif.runs[0].tool.driver.rules.len(), corsica_doctor::scan::RULES.len());
    /// ```
    pub fn new(
        rules: &[(&'static str, &'static str, &'static str)],
        results: Vec<SarifResult>,
    ) -> Sarif {
        let rules = rules
            .iter()
            .map(|&(id, description, fix)| SarifRule {
                help: SarifText::new(fix),
                id,
                name: id,
                short_description: SarifText::new(description),
            })
            .collect();
        Sarif {
            schema: "https://json.schemastore.org/sarif-2.1.0.json",
            runs: vec![SarifRun {
                results,
                tool: SarifTool {
                    driver: SarifDriver {
                        name: "corsica",
                        rules,
                        version: env!("CARGO_PKG_VERSION"),
                    },
                },
            }],
            version: "2.1.0",
        }
    }
}

/// A SARIF run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SarifRun {
    /// The results.
    pub results: Vec<SarifResult>,
    /// The tool.
    pub tool: SarifTool,
}

/// A SARIF tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SarifTool {
    /// The driver.
    pub driver: SarifDriver,
}

/// A SARIF tool driver: corsica and its rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SarifDriver {
    /// `corsica`.
    pub name: &'static str,
    /// Every rule a result may name.
    pub rules: Vec<SarifRule>,
    /// corsica's version.
    pub version: &'static str,
}

/// A SARIF rule (`reportingDescriptor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifRule {
    /// The fix.
    pub help: SarifText,
    /// The stable id.
    pub id: &'static str,
    /// The id again (GitHub shows it).
    pub name: &'static str,
    /// What it finds.
    pub short_description: SarifText,
}

/// A SARIF message (`{"text"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SarifText {
    /// The text.
    pub text: String,
}

impl SarifText {
    /// `{"text": text}`.
    ///
    /// ```
    /// assert_eq!(corsica_doctor::output::SarifText::new("hi").text, "hi");
    /// ```
    pub fn new(text: &str) -> SarifText {
        SarifText {
            text: text.to_owned(),
        }
    }
}

/// A SARIF result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifResult {
    /// `error`, `warning` or `note`.
    pub level: &'static str,
    /// Where (one location).
    pub locations: Vec<SarifLocation>,
    /// What, and how to fix it.
    pub message: SarifText,
    /// Extra properties (scan: `severity`, `origin`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<&'static str, String>,
    /// The rule's id.
    pub rule_id: &'static str,
}

/// A SARIF location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifLocation {
    /// The physical location.
    pub physical_location: SarifPhysicalLocation,
}

impl SarifLocation {
    /// A location in an artifact (a file or a URL), optionally at a region.
    ///
    /// ```
    /// let l = corsica_doctor::output::SarifLocation::at("https://api.example.com/", None);
    /// assert_eq!(l.physical_location.artifact_location.uri, "https://api.example.com/");
    /// ```
    pub fn at(uri: &str, region: Option<SarifRegion>) -> SarifLocation {
        SarifLocation {
            physical_location: SarifPhysicalLocation {
                artifact_location: SarifArtifactLocation {
                    uri: uri.to_owned(),
                },
                region,
            },
        }
    }
}

/// A SARIF physical location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifPhysicalLocation {
    /// The artifact.
    pub artifact_location: SarifArtifactLocation,
    /// The region (lint: line and column).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<SarifRegion>,
}

/// A SARIF artifact location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SarifArtifactLocation {
    /// A file path (relative to the working directory as given) or a URL.
    pub uri: String,
}

/// A SARIF region: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifRegion {
    /// The column.
    pub start_column: usize,
    /// The line.
    pub start_line: usize,
}

/// Any output as a [`serde_json::Value`], for callers that index into it.
///
/// ```
/// let lint = corsica_doctor::output::Lint::valid("gw.toml", 1, "127.0.0.1:8080");
/// assert_eq!(corsica_doctor::output::to_value(&lint)["routes"], 1);
/// ```
pub fn to_value(output: &impl Serialize) -> serde_json::Value {
    // Cannot fail: every map of these outputs has string keys.
    serde_json::to_value(output).unwrap_or_default()
}
