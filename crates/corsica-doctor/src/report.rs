//! Rendering a simulated `fetch()`: the JSON contract of `corsica check --json`, the
//! human step-by-step trace, and server-specific fix snippets.

use corsica::fetch::{
    Blocked, Browser, CorsError, Credentials, ErrorKind, FetchRequest, HttpRequest, HttpResponse,
    NetworkError, Options, Outcome, Server, Step, Verdict, simulate_with,
};
use serde_json::Value;

use crate::output::{self, Fixes};

/// The exit code of a verdict: 0 allowed, 1 blocked by CORS, 2 network or usage error.
///
/// ```
/// use corsica::fetch::{Outcome, Verdict};
/// let o = Outcome { browser: Default::default(), verdict: Verdict::Failed { reason: "timeout".into(), console: None }, preflight: false, steps: vec![] };
/// assert_eq!(corsica_doctor::report::exit_code(&o), 2);
/// ```
pub fn exit_code(outcome: &Outcome) -> u8 {
    match outcome.verdict {
        Verdict::Allowed { .. } => 0,
        Verdict::Blocked(_) => 1,
        Verdict::Failed { .. } => 2,
    }
}

/// One exchange in the output, its error named as `browser` names it.
fn step(s: &Step, browser: Browser) -> output::Step {
    output::Step {
        error: s
            .kind
            .or_else(|| s.error.map(|e| ErrorKind::of(browser, e)))
            .map(ErrorKind::as_str),
        kind: if s.request.preflight {
            "preflight"
        } else {
            "request"
        },
        method: s.request.method.clone(),
        redirected: s.redirected,
        request_headers: s.request.headers.clone(),
        response_headers: s.response.as_ref().map(|r| r.headers.clone()),
        server_reason: server_reason(s),
        status: s.response.as_ref().map(|r| r.status),
        url: s.request.url.clone(),
    }
}

/// The `corsica-reason` response header of a step (the gateway's debug mode:
/// `<label>; <message>`), escaped for display.
fn server_reason(s: &Step) -> Option<String> {
    s.response
        .as_ref()
        .and_then(|r| r.get("corsica-reason"))
        .map(|v| clean(&v))
}

/// The message for a failing response from a corsica gateway that has no route for the
/// request (its 404 carries `corsica-route: none`): the CORS error is a consequence.
fn no_route(outcome: &Outcome) -> Option<String> {
    let s = outcome.steps.iter().find(|s| s.error.is_some())?;
    let r = s.response.as_ref()?;
    (r.get("corsica-route").as_deref() == Some("none")).then(|| {
        format!(
            "The gateway has no route for this request ({} {} was answered {} with `corsica-route: none`): add a route whose host and path match this URL to the gateway's configuration. The CORS error only follows from that answer.",
            clean(&s.request.method),
            clean(&s.request.url),
            r.status
        )
    })
}

/// The hint and server snippets for a blocked request: the engine's, unless the gateway
/// had no route for it.
fn remedy(request: &FetchRequest, outcome: &Outcome, b: &Blocked) -> (String, Fixes) {
    match no_route(outcome) {
        Some(note) => (note.clone(), Fixes::Note { note }),
        None => (b.hint.clone(), fixes(request, b)),
    }
}

/// Replays a trace's responses in order (the same exchanges, judged again).
struct Recorded<'a> {
    steps: std::slice::Iter<'a, Step>,
}

impl Server for Recorded<'_> {
    fn send(&mut self, request: &HttpRequest) -> Result<HttpResponse, NetworkError> {
        match self.steps.next() {
            Some(s) if s.request.url == request.url && s.request.preflight == request.preflight => {
                s.response
                    .clone()
                    .ok_or_else(|| NetworkError("no response".into()))
            }
            _ => Err(NetworkError("not in the trace".into())),
        }
    }
}

/// What passes in Chromium and Firefox as tested but not by the Fetch standard: the same
/// responses judged with [`Options::authorization_needs_listing`] (`*` in
/// `Access-Control-Allow-Headers` does not cover `Authorization` by the standard, and
/// Chromium warns it will stop covering it).
///
/// ```
/// use corsica::Origin;
/// use corsica::fetch::{FetchRequest, HttpRequest, HttpResponse, NetworkError, simulate};
/// let request = FetchRequest::new(Origin::parse("https://app.example.com")?, "https://api.example.com/x")
///     .header("Authorization", "Bearer t");
/// let mut server = |_: &HttpRequest| -> Result<HttpResponse, NetworkError> {
///     Ok(HttpResponse::new(200).header("Access-Control-Allow-Origin", "*").header("Access-Control-Allow-Headers", "*"))
/// };
/// let outcome = simulate(&request, &mut server, None);
/// assert!(outcome.is_allowed());
/// let w = corsica_doctor::report::warnings(&request, &outcome);
/// assert_eq!(w[0].id, "authorization-covered-by-wildcard");
/// # Ok::<(), corsica::OriginError>(())
/// ```
pub fn warnings(request: &FetchRequest, outcome: &Outcome) -> Vec<output::Warning> {
    if !outcome.is_allowed() || !outcome.preflight {
        return Vec::new();
    }
    let mut replay = Recorded {
        steps: outcome.steps.iter(),
    };
    let standard = simulate_with(
        request,
        &mut replay,
        Options {
            authorization_needs_listing: true,
            browser: outcome.browser,
            ..Options::default()
        },
    );
    match standard.blocked() {
        Some(b)
            if b.error == CorsError::HeaderDisallowedByPreflightResponse
                && b.parameter == "authorization" =>
        {
            vec![output::Warning {
                id: "authorization-covered-by-wildcard",
                message: format!(
                    "Allowed by Chromium 156 and Firefox 153 as tested, but not by the Fetch standard: `Access-Control-Allow-Headers: *` does not cover `Authorization` there, so a browser that follows it blocks this request (Chromium warns it will). {}",
                    b.hint
                ),
            }]
        }
        _ => Vec::new(),
    }
}

impl output::Check {
    /// The JSON output of a simulated `fetch()` (see [`output::Check`]).
    pub fn new(request: &FetchRequest, outcome: &Outcome) -> output::Check {
        let mut check = output::Check {
            allowed: false,
            browser: outcome.browser.as_str(),
            error: None,
            fixes: None,
            hint: String::new(),
            incomplete: None,
            message: String::new(),
            method: None,
            preflight: outcome.preflight,
            readable_headers: None,
            status: None,
            steps: outcome
                .steps
                .iter()
                .map(|s| step(s, outcome.browser))
                .collect(),
            url: None,
            verdict: "",
            warnings: warnings(request, outcome),
        };
        match &outcome.verdict {
            Verdict::Allowed {
                status,
                response_type,
                readable_headers,
                ..
            } => {
                check.allowed = true;
                check.verdict = "allowed";
                check.message =
                    format!("fetch() resolves with status {status} ({response_type:?})");
                check.status = Some(*status);
                check.readable_headers = Some(readable_headers.clone());
            }
            Verdict::Blocked(b) => {
                check.verdict = "blocked";
                check.error = Some(output::CheckError {
                    candidates: b.candidates.clone(),
                    kind: b.kind.as_str(),
                    parameter: b.parameter.clone(),
                });
                check.message = b.message.clone();
                let (hint, fixes) = remedy(request, outcome, b);
                check.hint = hint;
                check.fixes = Some(fixes);
            }
            Verdict::Failed {
                reason,
                console: Some(c),
            } => {
                check.verdict = "failed";
                check.error = Some(output::CheckError {
                    candidates: Vec::new(),
                    kind: c.kind.as_str(),
                    parameter: String::new(),
                });
                check.message = c.message.clone();
                check.hint = format!(
                    "The request failed below CORS ({reason}); {} reports it as a CORS error. Check that the URL is reachable (DNS, port, TLS certificate, timeout) and that no redirect carries credentials or loops.",
                    outcome.browser.name()
                );
            }
            Verdict::Failed { reason, .. } => {
                check.verdict = "failed";
                check.message = format!("fetch() rejects without a CORS error: {reason}");
                check.hint = "This is not a CORS problem: check that the URL is reachable (DNS, port, TLS certificate, timeout).".into();
            }
        }
        check
    }
}

/// [`output::Check`] as a JSON value: `{"allowed", "preflight", "error", "message", "hint",
/// "steps"}` (the public contract of `corsica check`), plus `verdict`, `status`,
/// `readable_headers` and `fixes`.
///
/// ```
/// use corsica::Origin;
/// use corsica::fetch::{FetchRequest, HttpRequest, HttpResponse, NetworkError, simulate};
/// let request = FetchRequest::new(Origin::parse("https://app.example.com")?, "https://api.example.com/x");
/// // A server that sends no CORS headers.
/// let mut server = |_: &HttpRequest| -> Result<HttpResponse, NetworkError> { Ok(HttpResponse::new(200)) };
/// let outcome = simulate(&request, &mut server, None);
/// let v = corsica_doctor::report::to_json(&request, &outcome);
/// assert_eq!(v["allowed"], false);
/// assert_eq!(v["verdict"], "blocked");
/// assert_eq!(v["error"]["kind"], "MissingAllowOriginHeader");
/// assert_eq!(v["steps"].as_array().map(Vec::len), Some(1));
/// assert!(v["fixes"]["nginx"].is_string());
/// # Ok::<(), corsica::OriginError>(())
/// ```
pub fn to_json(request: &FetchRequest, outcome: &Outcome) -> Value {
    output::to_value(&output::Check::new(request, outcome))
}

/// What the server must allow for this request.
struct Needs {
    origin: String,
    credentials: bool,
    methods: Vec<String>,
    headers: Vec<String>,
}

fn needs(request: &FetchRequest, blocked: &Blocked) -> Needs {
    // The engine's lists: what the server already allows, plus what this request needs.
    Needs {
        origin: blocked.origin.clone(),
        credentials: request.credentials == Credentials::Include,
        methods: blocked.fix_methods.clone(),
        headers: blocked.fix_headers.clone(),
    }
}

/// Server-specific lines that make this request pass: nginx, Express `cors()`,
/// tower-http and the corsica builder.
///
/// ```
/// use corsica::Origin;
/// use corsica::fetch::{Credentials, FetchRequest, HttpRequest, HttpResponse, NetworkError, simulate};
/// let request = FetchRequest::new(Origin::parse("https://app.example.com")?, "https://api.example.com/x")
///     .method("PUT")
///     .header("X-API-Key", "k")
///     .credentials(Credentials::Include);
/// // A server that does not answer preflights.
/// let mut server = |_: &HttpRequest| -> Result<HttpResponse, NetworkError> { Ok(HttpResponse::new(404)) };
/// let outcome = simulate(&request, &mut server, None);
/// let fixes = corsica_doctor::report::fixes(&request, outcome.blocked().unwrap());
/// let nginx = fixes.get("nginx").unwrap();
/// assert!(nginx.contains(r#"add_header Access-Control-Allow-Origin "https://app.example.com" always;"#));
/// assert!(nginx.contains(r#"add_header Access-Control-Allow-Methods "PUT" always;"#));
/// assert!(nginx.contains(r#"add_header Access-Control-Allow-Headers "x-api-key" always;"#));
/// assert!(fixes.get("corsica").unwrap().contains(".allow_credentials(true)"));
/// assert!(fixes.get("express").unwrap().starts_with("app.use(cors({ origin: 'https://app.example.com', credentials: true"));
///
/// // No header allows a Local Network Access refusal: a note instead of snippets.
/// let page = Origin::parse("https://app.example.com")?;
/// let lna = FetchRequest::new(page.clone(), "http://localhost:8080/x")
///     .local_network(corsica::fetch::LocalNetwork::for_page(&page));
/// let outcome = simulate(&lna, &mut server, None);
/// let fixes = corsica_doctor::report::fixes(&lna, outcome.blocked().unwrap());
/// assert!(matches!(fixes, corsica_doctor::output::Fixes::Note { .. }));
/// # Ok::<(), corsica::OriginError>(())
/// ```
pub fn fixes(request: &FetchRequest, blocked: &Blocked) -> Fixes {
    if blocked.tainted_origin {
        // Allowing `null` would trust every site (any page can send it from a sandboxed
        // iframe): the fix is on the redirect, not on the server's origin list.
        return Fixes::Note {
            note: "The request arrived with `Origin: null` because it was redirected through another origin. Do not allow `null` (any site can send it): call the final URL directly, or keep the redirect on the same origin.".into(),
        };
    }
    if matches!(
        blocked.error,
        CorsError::LocalNetworkAccessPermissionDenied
            | CorsError::InsecureLocalNetwork
            | CorsError::InvalidLocalNetworkAccess
    ) {
        // Local Network Access refuses before anything is sent: no header can allow it.
        return Fixes::Note {
            note: blocked.hint.clone(),
        };
    }
    if blocked.origin == "null" {
        // The page itself has an opaque origin (sandboxed iframe, `file:`, `data:`).
        return Fixes::Note {
            note: "The page's origin is opaque (`Origin: null`: a sandboxed iframe, a `file:` or `data:` page). Do not allow `null` (any site can send it): serve the page from a real origin, or make the API public (`*`, without credentials).".into(),
        };
    }
    let n = needs(request, blocked);
    let mut nginx = vec![
        format!(
            "add_header Access-Control-Allow-Origin \"{}\" always;",
            n.origin
        ),
        "add_header Vary \"Origin\" always;".to_owned(),
    ];
    if n.credentials {
        nginx.push("add_header Access-Control-Allow-Credentials \"true\" always;".into());
    }
    if !n.methods.is_empty() {
        nginx.push(format!(
            "add_header Access-Control-Allow-Methods \"{}\" always;",
            n.methods.join(", ")
        ));
    }
    if !n.headers.is_empty() {
        nginx.push(format!(
            "add_header Access-Control-Allow-Headers \"{}\" always;",
            n.headers.join(", ")
        ));
    }
    if !n.methods.is_empty() || !n.headers.is_empty() {
        nginx.push("if ($request_method = OPTIONS) { return 204; }".into());
    }
    let quoted = |v: &[String]| {
        v.iter()
            .map(|m| format!("'{m}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut express = vec![format!("origin: '{}'", n.origin)];
    if n.credentials {
        express.push("credentials: true".into());
    }
    if !n.methods.is_empty() {
        express.push(format!("methods: [{}]", quoted(&n.methods)));
    }
    if !n.headers.is_empty() {
        express.push(format!("allowedHeaders: [{}]", quoted(&n.headers)));
    }
    let dq = |v: &[String]| {
        v.iter()
            .map(|m| format!("\"{m}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut corsica = format!("Policy::builder().allow_origins([\"{}\"])", n.origin);
    if n.credentials {
        corsica.push_str(".allow_credentials(true)");
    }
    if !n.methods.is_empty() {
        // Corsica's list is complete (it replaces GET, HEAD, POST): keep those too.
        let mut methods: Vec<String> = ["GET", "HEAD", "POST"].map(String::from).to_vec();
        methods.extend(
            n.methods
                .iter()
                .filter(|m| !methods.contains(m))
                .cloned()
                .collect::<Vec<_>>(),
        );
        corsica.push_str(&format!(".allow_methods([{}])", dq(&methods)));
    }
    if !n.headers.is_empty() {
        corsica.push_str(&format!(".allow_headers([{}])", dq(&n.headers)));
    }
    corsica.push_str(".build()?");
    let mut tower = format!(
        "CorsLayer::new().allow_origin(HeaderValue::from_static(\"{}\"))",
        n.origin
    );
    if n.credentials {
        tower.push_str(".allow_credentials(true)");
    }
    for (setter, items, constructor) in [
        (
            "allow_methods",
            &n.methods,
            "Method::from_bytes(b\"{}\").unwrap()",
        ),
        (
            "allow_headers",
            &n.headers,
            "HeaderName::from_static(\"{}\")",
        ),
    ] {
        if !items.is_empty() {
            let values: Vec<String> = items.iter().map(|i| constructor.replace("{}", i)).collect();
            tower.push_str(&format!(".{setter}([{}])", values.join(", ")));
        }
    }
    Fixes::Snippets {
        corsica,
        express: format!("app.use(cors({{ {} }}))", express.join(", ")),
        nginx: nginx.join("\n"),
        tower_http: tower,
    }
}

/// Escapes control characters (a HAR or a server can carry terminal escape sequences).
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    fn red(&self, s: &str) -> String {
        self.paint("1;31", s)
    }
    fn green(&self, s: &str) -> String {
        self.paint("1;32", s)
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
}

/// The human trace: one block per exchange (preflight → redirects → request) with the CORS
/// headers sent and received (and the server's `corsica-reason`, if any), the offending
/// header highlighted (marked `<--` without colour). [`to_text`] adds the verdict.
///
/// ```
/// use corsica::Origin;
/// use corsica::fetch::{FetchRequest, HttpRequest, HttpResponse, NetworkError, simulate};
/// let request = FetchRequest::new(Origin::parse("https://app.example.com")?, "https://api.example.com/x");
/// let mut server = |_: &HttpRequest| -> Result<HttpResponse, NetworkError> {
///     // Allows another origin than the page's.
///     Ok(HttpResponse::new(200).header("Access-Control-Allow-Origin", "https://admin.example.com"))
/// };
/// let outcome = simulate(&request, &mut server, None);
/// let text = corsica_doctor::report::trace_text(&request, &outcome, false);
/// assert!(text.starts_with("fetch GET https://api.example.com/x from origin https://app.example.com"));
/// assert!(text.contains("Access-Control-Allow-Origin: https://admin.example.com  <--"));
/// assert!(!text.contains("BLOCKED"));
/// # Ok::<(), corsica::OriginError>(())
/// ```
pub fn trace_text(request: &FetchRequest, outcome: &Outcome, color: bool) -> String {
    let st = Style { color };
    let mut out = String::new();
    let push = |out: &mut String, s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    push(
        &mut out,
        format!(
            "{} {} {} from origin {} (credentials: {})",
            st.bold("fetch"),
            clean(&corsica::method::normalize(&request.method)),
            clean(&request.url),
            request.origin,
            request.credentials.as_str()
        ),
    );
    let failing = match &outcome.verdict {
        Verdict::Blocked(b) => b.error.header(),
        _ => None,
    };
    for (i, s) in outcome.steps.iter().enumerate() {
        let kind = if s.request.preflight {
            "preflight"
        } else if i > 0 && outcome.steps[i - 1].redirected {
            "redirected"
        } else {
            "request"
        };
        let status = s
            .response
            .as_ref()
            .map(|r| r.status.to_string())
            .unwrap_or_else(|| "no response".into());
        let mark = match s.error {
            Some(e) => {
                let kind = s.kind.unwrap_or_else(|| ErrorKind::of(outcome.browser, e));
                st.red(&format!("✘ {kind}"))
            }
            None if s.response.is_none() => st.red("✘"),
            None if s.redirected => st.dim("→ redirect"),
            None => st.green("✔"),
        };
        push(
            &mut out,
            format!(
                "\n{}. {kind:<10} {} {} → {status}  {mark}",
                i + 1,
                clean(&s.request.method),
                clean(&s.request.url)
            ),
        );
        let sent: Vec<String> = s
            .request
            .headers
            .iter()
            .filter(|(n, _)| {
                let n = n.to_ascii_lowercase();
                n == "origin"
                    || n.starts_with("access-control-request-")
                    || !s.request.preflight && n != "sec-fetch-mode"
            })
            .map(|(n, v)| clean(&format!("{n}: {v}")))
            .collect();
        if !sent.is_empty() {
            push(
                &mut out,
                format!("   {} {}", st.dim("sent"), sent.join(", ")),
            );
        }
        if let Some(reason) = server_reason(s) {
            push(&mut out, format!("   {} {reason}", st.dim("server reason")));
        }
        if let Some(r) = &s.response {
            let cors: Vec<&(String, String)> = r
                .headers
                .iter()
                .filter(|(n, _)| {
                    let n = n.to_ascii_lowercase();
                    n.starts_with("access-control-") || n == "vary" || n == "location"
                })
                .collect();
            if cors.is_empty() {
                let line = "(no Access-Control-* headers)";
                let flagged = s.error.is_some() && failing.is_some();
                push(
                    &mut out,
                    format!(
                        "   {} {}{}",
                        st.dim("got "),
                        if flagged {
                            st.red(line)
                        } else {
                            line.to_owned()
                        },
                        if flagged && !color { "  <--" } else { "" }
                    ),
                );
            }
            let absent = s.error.is_some()
                && !cors.is_empty()
                && failing
                    .is_some_and(|f| !r.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(f)));
            if let (true, Some(f)) = (absent, failing) {
                let line = format!("(no {f})");
                push(
                    &mut out,
                    format!(
                        "   {} {}{}",
                        st.dim("got "),
                        st.red(&line),
                        if color { "" } else { "  <--" }
                    ),
                );
            }
            for (n, v) in cors {
                let hit = s.error.is_some() && failing.is_some_and(|f| n.eq_ignore_ascii_case(f));
                let text = clean(&format!("{n}: {v}"));
                push(
                    &mut out,
                    format!(
                        "   {} {}{}",
                        st.dim("got "),
                        if hit { st.red(&text) } else { text },
                        if hit && !color { "  <--" } else { "" }
                    ),
                );
            }
        }
    }
    out
}

/// The human report of a simulated `fetch()`: the trace of every exchange, then the
/// verdict with Chromium's message, the fix and server snippets.
///
/// ```
/// use corsica::Origin;
/// use corsica::fetch::{FetchRequest, HttpRequest, HttpResponse, NetworkError, simulate};
/// let request = FetchRequest::new(Origin::parse("https://app.example.com")?, "https://api.example.com/x");
/// let mut server = |_: &HttpRequest| -> Result<HttpResponse, NetworkError> { Ok(HttpResponse::new(200)) };
/// let text = corsica_doctor::report::to_text(&request, &simulate(&request, &mut server, None), false);
/// assert!(text.contains("BLOCKED MissingAllowOriginHeader"));
/// # Ok::<(), corsica::OriginError>(())
/// ```
pub fn to_text(request: &FetchRequest, outcome: &Outcome, color: bool) -> String {
    let st = Style { color };
    let mut out = trace_text(request, outcome, color);
    let push = |out: &mut String, s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    out.push('\n');
    match &outcome.verdict {
        Verdict::Allowed {
            status,
            readable_headers,
            ..
        } => {
            push(
                &mut out,
                format!(
                    "{} fetch() resolves with status {status}",
                    st.green("ALLOWED")
                ),
            );
            push(
                &mut out,
                format!("script can read: {}", readable_headers.join(", ")),
            );
            for w in warnings(request, outcome) {
                push(&mut out, format!("{} {}", st.red("WARNING"), w.message));
            }
        }
        Verdict::Blocked(b) => {
            let param = if b.parameter.is_empty() {
                String::new()
            } else {
                format!(" ({})", b.parameter)
            };
            push(&mut out, format!("{} {}{param}", st.red("BLOCKED"), b.kind));
            let label = format!("{}:", b.browser.name());
            push(&mut out, format!("{} {}", st.bold(&label), b.message));
            let (hint, f) = remedy(request, outcome, b);
            push(&mut out, format!("{} {hint}", st.bold("Fix:")));
            if let Some(note) = f.get("note") {
                if note != hint {
                    push(&mut out, format!("{} {note}", st.bold("Note:")));
                }
            } else {
                push(
                    &mut out,
                    st.bold("Server snippets that allow this request:"),
                );
            }
            for key in ["nginx", "express", "tower-http", "corsica"] {
                if let Some(v) = f.get(key) {
                    let indented = v.replace('\n', "\n             ");
                    push(&mut out, format!("  {key:<10} {indented}"));
                }
            }
        }
        Verdict::Failed { reason, console } => {
            let what = if console.is_some() {
                "fetch() rejects (the request failed below CORS)"
            } else {
                "fetch() rejects without a CORS error"
            };
            push(&mut out, format!("{} {what}: {reason}", st.red("FAILED")));
            if let Some(c) = console {
                let label = format!("{}:", outcome.browser.name());
                push(&mut out, format!("{} {}", st.bold(&label), c.message));
            }
        }
    }
    out
}

/// The verdicts of several browsers on one `fetch()` side by side: whether they agree
/// (all allowed, all blocked, or all failed), a sentence saying where they differ, and the
/// fix that makes the request pass in every one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// Whether every browser gives the same verdict (allowed, blocked or failed).
    pub agree: bool,
    /// `allowed in Chromium, blocked in Firefox: CORSMissingAllowOrigin (…)`, or
    /// `allowed in Chromium and Firefox`.
    pub summary: String,
    /// What to change on the server so that every browser allows the request (empty when
    /// none blocks it), and the server snippets for it.
    pub fix: Option<(String, Fixes)>,
}

/// Compares the outcomes of one request in several browsers (one outcome per browser, in
/// the order to report them).
///
/// ```
/// use corsica::Origin;
/// use corsica::fetch::{Browser, FetchRequest, HttpRequest, HttpResponse, NetworkError, Options, simulate_with};
/// let request = FetchRequest::new(Origin::parse("https://app.example.com")?, "https://api.example.com/x")
///     .header("Save-Data", "on");
/// // The API answers the request itself, and no preflight.
/// let outcomes: Vec<_> = Browser::ALL.iter().map(|&browser| {
///     let mut api = |r: &HttpRequest| -> Result<HttpResponse, NetworkError> {
///         Ok(if r.preflight { HttpResponse::new(404) } else {
///             HttpResponse::new(200).header("Access-Control-Allow-Origin", "https://app.example.com")
///         })
///     };
///     simulate_with(&request, &mut api, Options { browser, ..Options::default() })
/// }).collect();
/// let c = corsica_doctor::report::compare(&request, &outcomes);
/// assert!(!c.agree);
/// assert!(c.summary.starts_with("allowed in Chromium, blocked in Firefox and WebKit: CORSMissingAllowOrigin in Firefox"));
/// let (hint, fixes) = c.fix.unwrap();
/// assert!(fixes.get("nginx").unwrap().contains("save-data"));
/// # Ok::<(), corsica::OriginError>(())
/// ```
pub fn compare(request: &FetchRequest, outcomes: &[Outcome]) -> Comparison {
    let word = |o: &Outcome| match o.verdict {
        Verdict::Allowed { .. } => "allowed",
        Verdict::Blocked(_) => "blocked",
        Verdict::Failed { .. } => "failed",
    };
    // Verdict words in order of first appearance, each with its browsers.
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for o in outcomes {
        let w = word(o);
        match groups.iter_mut().find(|(g, _)| *g == w) {
            Some((_, names)) => names.push(o.browser.name()),
            None => groups.push((w, vec![o.browser.name()])),
        }
    }
    let and = |names: &[&str]| match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    let mut summary = groups
        .iter()
        .map(|(w, names)| format!("{w} in {}", and(names)))
        .collect::<Vec<_>>()
        .join(", ");
    let agree = groups.len() <= 1;
    let blocked: Vec<(&Outcome, &Blocked)> = outcomes
        .iter()
        .filter_map(|o| o.blocked().map(|b| (o, b)))
        .collect();
    // Each blocking browser's own name for what failed.
    let kinds: Vec<String> = blocked
        .iter()
        .map(|(o, b)| {
            let param = if b.parameter.is_empty() {
                String::new()
            } else {
                format!(" ({})", b.parameter)
            };
            if blocked.len() == 1 {
                format!("{}{param}", b.kind)
            } else {
                format!("{}{param} in {}", b.kind, o.browser.name())
            }
        })
        .collect();
    if !kinds.is_empty() {
        summary.push_str(&format!(": {}", kinds.join(", ")));
    }
    for why in preflight_differences(outcomes) {
        summary.push_str(&format!(". {why}"));
    }
    let fix = blocked.first().map(|&(outcome, first)| {
        // The fix that works everywhere: every list the blocking browsers need.
        let mut merged = first.clone();
        for (_, b) in &blocked[1..] {
            for m in &b.fix_methods {
                if !merged.fix_methods.contains(m) {
                    merged.fix_methods.push(m.clone());
                }
            }
            for h in &b.fix_headers {
                if !merged.fix_headers.contains(h) {
                    merged.fix_headers.push(h.clone());
                }
            }
        }
        let mut hints: Vec<String> = Vec::new();
        for (o, b) in &blocked {
            let (hint, _) = remedy(request, o, b);
            if !hints.contains(&hint) {
                hints.push(hint);
            }
        }
        let (_, fixes) = remedy(request, outcome, &merged);
        (hints.join(" "), fixes)
    });
    Comparison {
        agree,
        summary,
        fix,
    }
}

/// Why the browsers sent different requests: the request headers one browser asked about
/// in a preflight (its `Access-Control-Request-Headers`) and another sent without asking.
fn preflight_differences(outcomes: &[Outcome]) -> Vec<String> {
    // Per browser: whether it preflighted, and the names its preflights asked about.
    let asked: Vec<(Browser, bool, Vec<String>)> = outcomes
        .iter()
        .map(|o| {
            let preflights: Vec<&Step> = o.steps.iter().filter(|s| s.request.preflight).collect();
            let mut names: Vec<String> = preflights
                .iter()
                .filter_map(|s| s.request.header("access-control-request-headers"))
                .flat_map(|v| v.split(','))
                .map(|n| n.trim().to_ascii_lowercase())
                .filter(|n| !n.is_empty())
                .collect();
            names.sort();
            names.dedup();
            (o.browser, !preflights.is_empty(), names)
        })
        .collect();
    let mut names: Vec<&String> = asked.iter().flat_map(|(_, _, n)| n).collect();
    names.sort();
    names.dedup();
    let and = |browsers: Vec<&str>| match browsers.as_slice() {
        [init @ .., last] if !init.is_empty() => format!("{} and {last}", init.join(", ")),
        _ => browsers.join(""),
    };
    let mut out = Vec::new();
    for name in names {
        let (ask, skip): (Vec<_>, Vec<_>) = asked.iter().partition(|(_, _, n)| n.contains(name));
        if skip.is_empty() {
            continue;
        }
        let verb = if ask.len() == 1 { "asks" } else { "ask" };
        out.push(format!(
            "`{name}` is CORS-safelisted in {} but not in {}, which {verb} about it in a preflight",
            and(skip.iter().map(|(b, _, _)| b.name()).collect()),
            and(ask.iter().map(|(b, _, _)| b.name()).collect()),
        ));
    }
    out
}

/// `corsica check --browser all` in text: each browser's trace and verdict, then where
/// they differ and the fix that works in every one.
pub fn compare_to_text(request: &FetchRequest, outcomes: &[Outcome], color: bool) -> String {
    let st = Style { color };
    let mut out = String::new();
    for o in outcomes {
        out.push_str(&st.bold(&format!("── {} ──", o.browser.name())));
        out.push('\n');
        out.push_str(&to_text(request, o, color));
        out.push('\n');
    }
    let c = compare(request, outcomes);
    out.push_str(&st.bold("── every browser ──"));
    out.push('\n');
    if c.agree {
        out.push_str(&format!("{} {}\n", st.green("AGREE"), c.summary));
    } else {
        out.push_str(&format!("{} {}\n", st.red("DIFFER"), c.summary));
    }
    if let Some((hint, fixes)) = &c.fix {
        out.push_str(&format!("{} {hint}\n", st.bold("Fix for every browser:")));
        for key in ["nginx", "express", "tower-http", "corsica"] {
            if let Some(v) = fixes.get(key) {
                let indented = v.replace('\n', "\n             ");
                out.push_str(&format!("  {key:<10} {indented}\n"));
            }
        }
    }
    out
}

impl output::CheckAll {
    /// The JSON output of `corsica check --browser all` (see [`output::CheckAll`]).
    pub fn new(request: &FetchRequest, outcomes: &[Outcome]) -> output::CheckAll {
        let c = compare(request, outcomes);
        let (hint, fixes) = match c.fix {
            Some((h, f)) => (h, Some(f)),
            None => (String::new(), None),
        };
        output::CheckAll {
            allowed: outcomes.iter().all(Outcome::is_allowed),
            agree: c.agree,
            browser: "all",
            fixes,
            hint,
            results: outcomes
                .iter()
                .map(|o| output::Check::new(request, o))
                .collect(),
            summary: c.summary,
        }
    }
}
