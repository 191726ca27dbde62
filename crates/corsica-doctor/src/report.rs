//! Rendering a simulated `fetch()`: the JSON contract of `corsica check --json`, the
//! human step-by-step trace, and server-specific fix snippets.

use corsica::fetch::{
    Blocked, CorsError, Credentials, FetchRequest, HttpRequest, HttpResponse, NetworkError,
    Options, Outcome, Server, Step, Verdict, simulate_with,
};
use serde_json::Value;

use crate::output::{self, Fixes};

/// The exit code of a verdict: 0 allowed, 1 blocked by CORS, 2 network or usage error.
///
/// ```
/// use corsica::fetch::{Outcome, Verdict};
/// let o = Outcome { verdict: Verdict::Failed { reason: "timeout".into() }, preflight: false, steps: vec![] };
/// assert_eq!(corsica_doctor::report::exit_code(&o), 2);
/// ```
pub fn exit_code(outcome: &Outcome) -> u8 {
    match outcome.verdict {
        Verdict::Allowed { .. } => 0,
        Verdict::Blocked(_) => 1,
        Verdict::Failed { .. } => 2,
    }
}

fn step(s: &Step) -> output::Step {
    output::Step {
        error: s.error.map(|e| e.as_str()),
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

/// What passes in Chromium but not by the Fetch standard: the same responses judged with
/// [`Options::authorization_needs_listing`] (`*` in `Access-Control-Allow-Headers` does
/// not cover `Authorization` in Firefox and Safari, and Chromium warns it will stop).
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
                    "Allowed in Chromium only: `Access-Control-Allow-Headers: *` does not cover `Authorization` by the Fetch standard (Firefox and Safari block this request, and Chromium warns it will). {}",
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
            error: None,
            fixes: None,
            hint: String::new(),
            incomplete: None,
            message: String::new(),
            method: None,
            preflight: outcome.preflight,
            readable_headers: None,
            status: None,
            steps: outcome.steps.iter().map(step).collect(),
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
                    kind: b.error.as_str(),
                    parameter: b.parameter.clone(),
                });
                check.message = b.message.clone();
                let (hint, fixes) = remedy(request, outcome, b);
                check.hint = hint;
                check.fixes = Some(fixes);
            }
            Verdict::Failed { reason } => {
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
            Some(e) => st.red(&format!("✘ {e}")),
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
            push(
                &mut out,
                format!("{} {}{param}", st.red("BLOCKED"), b.error),
            );
            push(&mut out, format!("{} {}", st.bold("Chromium:"), b.message));
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
        Verdict::Failed { reason } => {
            push(
                &mut out,
                format!(
                    "{} fetch() rejects without a CORS error: {reason}",
                    st.red("FAILED")
                ),
            );
        }
    }
    out
}
