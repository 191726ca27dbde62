//! The playground's engine: a `fetch()` call and the server's answers as the user types
//! them (header lines, a raw HTTP response, `curl -i` output), judged by the browser model
//! with the same report as `corsica check`, plus what a page author needs to see at once:
//! why a preflight is sent, and which response header of which step failed.
//!
//! Pure: the answers come from the text or from a [`Server`] the caller gives (the gateway
//! answers from a configuration).
//!
//! ```
//! use corsica_doctor::playground::{Case, run};
//! let case = Case {
//!     origin: "https://app.example.com".into(),
//!     url: "https://api.example.com/orders".into(),
//!     method: "GET".into(),
//!     headers: "X-API-Key: secret".into(),
//!     preflight: "HTTP/1.1 204 No Content\nAccess-Control-Allow-Origin: https://app.example.com\nAccess-Control-Allow-Headers: content-type".into(),
//!     response: "HTTP/1.1 200 OK\nAccess-Control-Allow-Origin: https://app.example.com".into(),
//!     ..Case::default()
//! };
//! let v = run(&case, None)?;
//! assert_eq!(v["verdict"], "blocked");
//! assert_eq!(v["preflight_why"][0], "the header x-api-key is not CORS-safelisted");
//! assert_eq!(v["culprit"]["header"], "Access-Control-Allow-Headers");
//! assert_eq!(v["culprit"]["step"], 0);
//! assert!(v["message"].as_str().unwrap().contains("x-api-key"));
//! assert!(v["fixes"]["nginx"].as_str().unwrap().contains("x-api-key"));
//! # Ok::<(), corsica_doctor::playground::PlaygroundError>(())
//! ```

use corsica::fetch::safelist::{
    is_safelisted_method, is_safelisted_request_header_in, unsafe_header_names_in,
};
use corsica::fetch::{
    Browser, Credentials, FetchRequest, HttpRequest, HttpResponse, NetworkError, Options, Server,
    Verdict, simulate_with,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{CheckArgs, DoctorError, fetch_request, output};

/// The most bytes of a playground case (its fields together): the page posts it to the
/// admin listener, which refuses more.
pub const MAX_CASE_BYTES: usize = 64 * 1024;

/// The most response heads one answer field may hold (`curl -i -L` output: one per hop).
const MAX_HEADS: usize = 21;

/// The most lines the request's headers and each answer field may hold.
pub const MAX_LINES: usize = 200;

/// One case, as the playground's form (and its URL) holds it. Every field is text.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Case {
    /// The page's origin.
    pub origin: String,
    /// The URL passed to `fetch()` (default `https://api.example.com/data`).
    pub url: String,
    /// The method (default `GET`).
    pub method: String,
    /// The headers the page sets, one `Name: value` a line.
    pub headers: String,
    /// `omit`, `same-origin` (default) or `include`.
    pub credentials: String,
    /// `chromium` (default), `firefox` or `webkit`.
    pub browser: String,
    /// The server's answer to the preflight: a status line (optional; default 204) and
    /// header lines, or `curl -i` output. Several heads answer successive preflights.
    pub preflight: String,
    /// The server's answer to the request itself (default status 200); several heads
    /// (`curl -i -L`) answer each hop of a redirect in turn.
    pub response: String,
    /// Who answers: `typed` (default: the two fields above), `gateway` (the running
    /// gateway's configuration) or `config` (the configuration in `config`). The caller
    /// reads it and passes its [`Server`] to [`run`].
    pub answers: String,
    /// A gateway configuration (TOML), when `answers` is `config`.
    pub config: String,
}

/// What is wrong with a case, named so the page can show it beside its field.
#[derive(Debug, thiserror::Error)]
pub enum PlaygroundError {
    /// The `fetch()` call is not one (origin, URL, a header line).
    #[error("{0}")]
    Request(#[from] DoctorError),
    /// `browser` is not a browser the model speaks for.
    #[error("browser: `{0}` is not chromium, firefox or webkit")]
    Browser(String),
    /// `credentials` is not a credentials mode.
    #[error("credentials: `{0}` is not omit, same-origin or include")]
    Credentials(String),
    /// An answer's text is not an HTTP response head.
    #[error("{field}, line {line}: {message}")]
    Answer {
        /// `preflight` or `response`.
        field: &'static str,
        /// The line, from 1.
        line: usize,
        /// What is wrong and how to write it.
        message: String,
    },
    /// The case is larger than [`MAX_CASE_BYTES`].
    #[error("the case is over {MAX_CASE_BYTES} bytes")]
    TooLarge,
}

impl PlaygroundError {
    /// The form field the error belongs to (`origin`, `url`, `headers`, `browser`,
    /// `credentials`, `preflight`, `response`, or `case`).
    ///
    /// ```
    /// use corsica_doctor::playground::{Case, run};
    /// let case = Case { origin: "app.example.com".into(), ..Case::default() };
    /// assert_eq!(run(&case, None).unwrap_err().field(), "origin");
    /// ```
    pub fn field(&self) -> &'static str {
        match self {
            PlaygroundError::Request(DoctorError::Origin(_)) => "origin",
            PlaygroundError::Request(DoctorError::Url(_) | DoctorError::Port(_)) => "url",
            PlaygroundError::Request(_) => "headers",
            PlaygroundError::Browser(_) => "browser",
            PlaygroundError::Credentials(_) => "credentials",
            PlaygroundError::Answer { field, .. } => field,
            PlaygroundError::TooLarge => "case",
        }
    }
}

/// One response head of an answer field.
fn parse_head(
    field: &'static str,
    first_line: usize,
    lines: &[&str],
    default_status: u16,
) -> Result<HttpResponse, PlaygroundError> {
    let err = |line: usize, message: String| PlaygroundError::Answer {
        field,
        line,
        message,
    };
    let mut response = HttpResponse::new(default_status);
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.trim_end_matches('\r');
        let n = first_line + i;
        if i == 0 && line.starts_with("HTTP/") {
            let status = line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse::<u16>().ok())
                .filter(|s| (100..=999).contains(s))
                .ok_or_else(|| {
                    err(
                        n,
                        format!("`{line}` is not a status line: write `HTTP/1.1 204 No Content`"),
                    )
                })?;
            response = response.status(status);
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(err(
                n,
                format!(
                    "`{line}` is not a header line: write `Name: value`, e.g. `Access-Control-Allow-Origin: https://app.example.com`"
                ),
            ));
        };
        if !corsica::method::is_token(name.as_bytes()) {
            return Err(err(
                n,
                format!("`{name}` is not a header name (letters, digits and -, no spaces)"),
            ));
        }
        response = response.header(name, value.trim_matches([' ', '\t']));
    }
    Ok(response)
}

/// The heads of an answer field: a status line starts a new head; a body (after a blank
/// line) is skipped until the next status line. Empty text: one head with the default
/// status and no headers.
fn parse_answer(
    field: &'static str,
    text: &str,
    default_status: u16,
) -> Result<Vec<HttpResponse>, PlaygroundError> {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() > MAX_LINES * 2 {
        return Err(PlaygroundError::Answer {
            field,
            line: MAX_LINES * 2 + 1,
            message: format!("more than {} lines", MAX_LINES * 2),
        });
    }
    let mut heads = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim().is_empty() {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i + 1;
        while end < lines.len() && !lines[end].trim().is_empty() && !lines[end].starts_with("HTTP/")
        {
            end += 1;
        }
        heads.push(parse_head(
            field,
            start + 1,
            &lines[start..end],
            default_status,
        )?);
        if heads.len() > MAX_HEADS {
            return Err(PlaygroundError::Answer {
                field,
                line: start + 1,
                message: format!("more than {MAX_HEADS} responses"),
            });
        }
        // A body: skipped up to the next status line.
        i = end;
        if i < lines.len() && lines[i].trim().is_empty() {
            while i < lines.len() && !lines[i].starts_with("HTTP/") {
                i += 1;
            }
        }
    }
    if heads.is_empty() {
        heads.push(HttpResponse::new(default_status));
    }
    Ok(heads)
}

/// Answers from the heads typed in the form, each in turn (the last one again).
struct Typed {
    preflight: Vec<HttpResponse>,
    response: Vec<HttpResponse>,
    preflights: usize,
    requests: usize,
}

impl Server for Typed {
    fn send(&mut self, request: &HttpRequest) -> Result<HttpResponse, NetworkError> {
        let (heads, n) = if request.preflight {
            (&self.preflight, &mut self.preflights)
        } else {
            (&self.response, &mut self.requests)
        };
        let head = heads
            .get(*n)
            .or_else(|| heads.last())
            .cloned()
            .unwrap_or_else(|| HttpResponse::new(200));
        *n += 1;
        Ok(head)
    }
}

/// Why the browser sends a preflight for this call (empty when it does not need one).
fn preflight_why(request: &FetchRequest, browser: Browser) -> Vec<String> {
    let mut why = Vec::new();
    if !is_safelisted_method(&request.method) {
        why.push(format!(
            "the method {} is not GET, HEAD or POST",
            request.method
        ));
    }
    let headers = request
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()));
    for name in unsafe_header_names_in(browser, headers) {
        let value = request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        let safelisted_name = [
            "accept",
            "accept-language",
            "content-language",
            "content-type",
        ]
        .contains(&name.as_str());
        if safelisted_name && !is_safelisted_request_header_in(browser, &name, value) {
            why.push(format!(
                "the header {name}: {value} has a value that is not CORS-safelisted"
            ));
        } else {
            why.push(format!("the header {name} is not CORS-safelisted"));
        }
    }
    why
}

/// The response header (or part of the response) a CORS error kind is about.
fn culprit_header(kind: &str) -> &'static str {
    match kind {
        k if k.contains("AllowOrigin") || k == "WildcardOriginNotAllowed" => {
            "Access-Control-Allow-Origin"
        }
        k if k.contains("AllowCredentials") => "Access-Control-Allow-Credentials",
        k if k.contains("AllowMethods") || k == "MethodDisallowedByPreflightResponse" => {
            "Access-Control-Allow-Methods"
        }
        k if k.contains("AllowHeaders") || k == "HeaderDisallowedByPreflightResponse" => {
            "Access-Control-Allow-Headers"
        }
        k if k.contains("Redirect") => "Location",
        k if k.contains("LocalNetwork") => "Access-Control-Allow-Private-Network",
        "PreflightInvalidStatus" => "status",
        _ => "",
    }
}

/// Judges `case`: the report of `corsica check --format json` (`verdict`, `message` — the
/// browser's console message —, `steps`, `error`, `hint`, `fixes`) plus `preflight_why`
/// (why a preflight is sent), `culprit` (`{step, header}`: the response header that
/// failed, `status` for a preflight's status, in the step that failed) and `fetch` (the
/// call as page code). `server` answers instead of the typed answers when given.
///
/// ```
/// use corsica_doctor::playground::{Case, run};
/// // A malformed answer is named with its line.
/// let case = Case {
///     origin: "https://app.example.com".into(),
///     response: "HTTP/1.1 200 OK\nAccess-Control-Allow-Origin".into(),
///     ..Case::default()
/// };
/// let err = run(&case, None).unwrap_err();
/// assert_eq!(err.field(), "response");
/// assert!(err.to_string().starts_with("response, line 2:"));
/// ```
pub fn run(case: &Case, server: Option<&mut dyn Server>) -> Result<Value, PlaygroundError> {
    let size = [
        &case.origin,
        &case.url,
        &case.method,
        &case.headers,
        &case.credentials,
        &case.browser,
        &case.preflight,
        &case.response,
        &case.answers,
        &case.config,
    ]
    .iter()
    .map(|s| s.len())
    .sum::<usize>();
    if size > MAX_CASE_BYTES {
        return Err(PlaygroundError::TooLarge);
    }
    let or = |s: &str, d: &str| {
        if s.trim().is_empty() {
            d.to_owned()
        } else {
            s.trim().to_owned()
        }
    };
    let browser: Browser = or(&case.browser, "chromium")
        .parse()
        .map_err(|_| PlaygroundError::Browser(case.browser.clone()))?;
    let credentials: Credentials = or(&case.credentials, "same-origin")
        .parse()
        .map_err(|_| PlaygroundError::Credentials(case.credentials.clone()))?;
    let args = CheckArgs {
        url: or(&case.url, "https://api.example.com/data"),
        origin: case.origin.trim().to_owned(),
        method: or(&case.method, "GET"),
        headers: case
            .headers
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        credentials,
        live: Default::default(),
    };
    if args.headers.len() > MAX_LINES {
        return Err(PlaygroundError::Request(DoctorError::Header(format!(
            "{} header lines: at most {MAX_LINES}",
            args.headers.len()
        ))));
    }
    let request = fetch_request(&args)?;
    let mut typed;
    let server: &mut dyn Server = match server {
        Some(s) => s,
        None => {
            typed = Typed {
                preflight: parse_answer("preflight", &case.preflight, 204)?,
                response: parse_answer("response", &case.response, 200)?,
                preflights: 0,
                requests: 0,
            };
            &mut typed
        }
    };
    let outcome = simulate_with(
        &request,
        server,
        Options {
            browser,
            ..Options::default()
        },
    );
    let check = output::Check::new(&request, &outcome);
    let culprit = match &outcome.verdict {
        Verdict::Blocked(b) => {
            let step = outcome.steps.len().saturating_sub(1);
            Some(
                json!({ "step": step, "header": culprit_header(b.kind.as_str()), "parameter": b.parameter }),
            )
        }
        _ => None,
    };
    let mut v = output::to_value(&check);
    if let Value::Object(map) = &mut v {
        map.insert(
            "preflight_why".into(),
            json!(if outcome.preflight {
                preflight_why(&request, browser)
            } else {
                Vec::new()
            }),
        );
        map.insert("culprit".into(), culprit.unwrap_or(Value::Null));
        map.insert("fetch".into(), json!(fetch_code(&request)));
    }
    Ok(v)
}

/// The call as page code: `fetch(url, {method, headers, credentials})`.
fn fetch_code(request: &FetchRequest) -> String {
    let s = |x: &str| serde_json::to_string(x).unwrap_or_default();
    let mut options = Vec::new();
    if request.method != "GET" {
        options.push(format!("method: {}", s(&request.method)));
    }
    if !request.headers.is_empty() {
        let h: Vec<String> = request
            .headers
            .iter()
            .map(|(n, v)| format!("{}: {}", s(n), s(v)))
            .collect();
        options.push(format!("headers: {{ {} }}", h.join(", ")));
    }
    if request.credentials != Credentials::SameOrigin {
        options.push(format!("credentials: {}", s(request.credentials.as_str())));
    }
    if options.is_empty() {
        format!("fetch({})", s(&request.url))
    } else {
        format!("fetch({}, {{ {} }})", s(&request.url), options.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(preflight: &str, response: &str) -> Case {
        Case {
            origin: "https://app.example.com".into(),
            url: "https://api.example.com/x".into(),
            preflight: preflight.into(),
            response: response.into(),
            ..Case::default()
        }
    }

    #[test]
    fn curl_output_with_bodies_and_redirects_reads_each_head() {
        let heads = parse_answer(
            "response",
            "HTTP/1.1 301 Moved\r\nLocation: https://api.example.com/y\r\n\r\n<html>moved</html>\r\nHTTP/2 200\r\naccess-control-allow-origin: *\r\n\r\n{}",
            200,
        )
        .unwrap();
        assert_eq!(heads.len(), 2);
        assert_eq!(heads[0].status, 301);
        assert_eq!(
            heads[1].get("access-control-allow-origin").as_deref(),
            Some("*")
        );
    }

    #[test]
    fn header_lines_alone_take_the_default_status() {
        let heads = parse_answer("preflight", "Access-Control-Allow-Origin: *", 204).unwrap();
        assert_eq!(heads[0].status, 204);
        assert_eq!(parse_answer("preflight", "", 204).unwrap()[0].status, 204);
    }

    #[test]
    fn a_simple_request_sends_no_preflight_and_names_no_reason() {
        let v = run(
            &case("", "Access-Control-Allow-Origin: https://app.example.com"),
            None,
        )
        .unwrap();
        assert_eq!(v["verdict"], "allowed");
        assert_eq!(v["preflight"], false);
        assert_eq!(v["preflight_why"].as_array().map(Vec::len), Some(0));
        assert!(v["culprit"].is_null());
        assert_eq!(v["fetch"], "fetch(\"https://api.example.com/x\")");
    }

    #[test]
    fn method_and_content_type_are_named_as_reasons() {
        let mut c = case("Access-Control-Allow-Origin: *", "");
        c.method = "PUT".into();
        c.headers = "Content-Type: application/json".into();
        let v = run(&c, None).unwrap();
        assert_eq!(v["preflight"], true);
        assert_eq!(
            v["preflight_why"],
            json!([
                "the method PUT is not GET, HEAD or POST",
                "the header content-type: application/json has a value that is not CORS-safelisted"
            ])
        );
        assert_eq!(v["culprit"]["header"], "Access-Control-Allow-Methods");
    }

    #[test]
    fn every_field_error_names_its_field() {
        let mut c = case("", "");
        c.browser = "netscape".into();
        assert_eq!(run(&c, None).unwrap_err().field(), "browser");
        let mut c = case("", "");
        c.url = "ftp://x".into();
        assert_eq!(run(&c, None).unwrap_err().field(), "url");
        let mut c = case("", "");
        c.headers = "X-API-Key".into();
        assert_eq!(run(&c, None).unwrap_err().field(), "headers");
        let mut c = case("", "");
        c.credentials = "always".into();
        assert_eq!(run(&c, None).unwrap_err().field(), "credentials");
        let c = case("HTTP/1.1 abc", "");
        assert_eq!(run(&c, None).unwrap_err().field(), "preflight");
        let mut c = case("", "");
        c.config = "x".repeat(MAX_CASE_BYTES + 1);
        assert_eq!(run(&c, None).unwrap_err().field(), "case");
    }
}
