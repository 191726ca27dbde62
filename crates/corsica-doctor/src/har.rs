//! `corsica explain --har`: explains, offline, every cross-origin request of a HAR file
//! exported from Chrome or Firefox DevTools.
//!
//! For each cross-origin `fetch`/XHR (a redirect chain counts as one request; its preflight
//! is paired with it), the doctor rebuilds the page's `fetch()` call and replays the
//! recorded responses through the browser model: the verdict, Chromium's error and the fix
//! come out exactly as for a live `corsica check`.
//!
//! What a HAR cannot say, and how it is inferred:
//! - the page's origin: the first page's URL, else the first document request;
//! - the credentials mode: `include` when the request carried cookies (or an
//!   `Authorization` it could only get from the browser), otherwise the default;
//! - the page's own headers: the names listed in the preflight's
//!   `Access-Control-Request-Headers` (with the values the actual request carried), plus
//!   `Content-Type`, `Content-Language` and `Range` if present (the browser adds the rest).

use corsica::Origin;
use corsica::fetch::{
    Browser, Credentials, FetchRequest, HttpRequest, HttpResponse, NetworkError, Options, Outcome,
    Server, Verdict, simulate_with,
};
use serde_json::Value;

use crate::output;

/// Errors reading a HAR file (exit code 2).
///
/// ```
/// use corsica_doctor::har::{HarError, explain};
/// assert!(matches!(explain("<html>"), Err(HarError::Json(_))));
/// let err = explain(r#"{"log": {}}"#).unwrap_err();
/// assert!(matches!(err, HarError::Shape));
/// assert!(err.to_string().contains("Export HAR"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum HarError {
    /// Not JSON.
    #[error("not a HAR file: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON without `log.entries`.
    #[error(
        "not a HAR file: no `log.entries` array (export it from DevTools: Network panel → Export HAR)"
    )]
    Shape,
}

/// One recorded exchange.
#[derive(Debug, Clone)]
struct Entry {
    method: String,
    url: String,
    request_headers: Vec<(String, String)>,
    has_cookies: bool,
    status: u16,
    response_headers: Vec<(String, String)>,
    redirect_url: Option<String>,
    resource_type: String,
    /// The load failed (DevTools' `_error` is `net::ERR_FAILED`).
    failed: bool,
    /// What the file recorded as the load's error (Chromium's `_error`, e.g.
    /// `net::ERR_CONNECTION_REFUSED`); Firefox records none.
    error: Option<String>,
    /// The page (`pageref`) the request belongs to.
    page: Option<String>,
    /// [`canonical_url`] of `url`.
    key: String,
    /// `startedDateTime` in milliseconds since the epoch.
    started: Option<i64>,
    /// DevTools' `_initiator`: a preflight's names the URL of its request (`url`); the hops
    /// of a redirect chain share their request's.
    initiator: Value,
}

impl Entry {
    fn header(&self, name: &str) -> Option<&str> {
        self.request_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn is_preflight(&self) -> bool {
        self.method == "OPTIONS"
            && (self.resource_type == "preflight"
                || self.header("access-control-request-method").is_some())
    }
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| {
                    Some((
                        h["name"].as_str()?.to_owned(),
                        h["value"].as_str()?.to_owned(),
                    ))
                })
                .filter(|(n, _)| !n.starts_with(':'))
                .collect()
        })
        .unwrap_or_default()
}

fn parse_entries(har: &Value) -> Result<Vec<Entry>, HarError> {
    let entries = har["log"]["entries"].as_array().ok_or(HarError::Shape)?;
    Ok(entries
        .iter()
        .filter_map(|e| {
            let req = &e["request"];
            let resp = &e["response"];
            Some(Entry {
                method: req["method"].as_str()?.to_owned(),
                url: req["url"].as_str()?.to_owned(),
                key: canonical_url(req["url"].as_str()?),
                request_headers: pairs(&req["headers"]),
                has_cookies: req["cookies"].as_array().is_some_and(|c| !c.is_empty())
                    || pairs(&req["headers"])
                        .iter()
                        .any(|(n, _)| n.eq_ignore_ascii_case("cookie")),
                status: u16::try_from(resp["status"].as_u64().unwrap_or(0)).unwrap_or(0),
                response_headers: pairs(&resp["headers"]),
                // DevTools records the raw `Location`, which may be relative.
                redirect_url: resp["redirectURL"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(|r| {
                        url::Url::parse(req["url"].as_str().unwrap_or_default())
                            .and_then(|base| base.join(r))
                            .map(|u| u.to_string())
                            .unwrap_or_else(|_| r.to_owned())
                    }),
                page: e["pageref"].as_str().map(str::to_owned),
                started: e["startedDateTime"].as_str().and_then(epoch_millis),
                initiator: e["_initiator"].clone(),
                resource_type: e["_resourceType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                // `net::ERR_FAILED` is how Chromium fails a load for CORS; a cancelled
                // load (`net::ERR_ABORTED`, e.g. a body nobody read) is no failure.
                failed: [&resp["_error"], &e["_error"]]
                    .iter()
                    .any(|v| v.as_str().is_some_and(|s| s.contains("ERR_FAILED"))),
                error: [&resp["_error"], &e["_error"]]
                    .iter()
                    .find_map(|v| v.as_str().filter(|s| !s.is_empty()))
                    .map(str::to_owned),
            })
        })
        .collect())
}

/// The browser that wrote the file, from `log.creator` or `log.browser`: Firefox names
/// itself there (`"name": "Firefox"`), Safari's Web Inspector says `WebKit` (`"WebKit Web
/// Inspector"`) or `Safari`; Chrome's exporter is `WebInspector`. Anything else is judged
/// as Chromium.
fn recording_browser(har: &Value) -> Browser {
    let named = |needle: &str| {
        [&har["log"]["creator"], &har["log"]["browser"]]
            .iter()
            .any(|v| {
                v["name"]
                    .as_str()
                    .is_some_and(|n| n.to_ascii_lowercase().contains(needle))
            })
    };
    if named("firefox") {
        Browser::Firefox
    } else if named("webkit") || named("safari") {
        Browser::WebKit
    } else {
        Browser::Chromium
    }
}

fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| u.origin().ascii_serialization())
}

/// A URL in canonical form without its fragment, to compare URLs as strings (each URL is
/// parsed once, not at every comparison).
fn canonical_url(u: &str) -> String {
    url::Url::parse(u)
        .map(|mut x| {
            x.set_fragment(None);
            x.to_string()
        })
        .unwrap_or_else(|_| u.to_owned())
}

/// An RFC 3339 timestamp (`2026-11-30T09:15:01.100Z`, `...+01:00`) in milliseconds since
/// the epoch.
fn epoch_millis(s: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = s.get(19..)?;
    let (frac, zone) = match rest.strip_prefix('.') {
        Some(r) => {
            let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            let digits = format!("{:0<3}", &r[..end]);
            (digits[..3].parse::<i64>().ok()?, &r[end..])
        }
        None => (0, rest),
    };
    let offset = match zone {
        "" | "Z" | "z" => 0,
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let zh = z.get(1..3)?.parse::<i64>().ok()?;
            let zm = z.get(4..6)?.parse::<i64>().ok()?;
            sign * (zh * 60 + zm)
        }
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((((days * 24 + h) * 60 + mi - offset) * 60 + sec) * 1000 + frac)
}

/// How far apart two entries started: by their timestamps, else by their positions.
fn distance(entries: &[Entry], a: usize, b: usize) -> u64 {
    match (entries[a].started, entries[b].started) {
        (Some(x), Some(y)) => x.abs_diff(y),
        _ => a.abs_diff(b) as u64,
    }
}

/// The header names a preflight asks about (`Access-Control-Request-Headers` through the
/// engine's list parser; a list it cannot parse names nothing: a browser never sends one).
fn asked_headers(preflight: &Entry) -> Vec<String> {
    preflight
        .header("access-control-request-headers")
        .and_then(|v| corsica::HeaderList::parse_lowercase([v.as_bytes()], Default::default()).ok())
        .map(|list| list.items().to_vec())
        .unwrap_or_default()
}

/// The unconsumed preflight recorded for the request of entry `hop`: for its URL (and,
/// when DevTools recorded it, naming that URL as `_initiator`), asking about its method and
/// headers (`corsica::fetch::recorded::preflight_asks_about`; failing that, asking only
/// about headers the request carried), nearest in time.
fn paired_preflight(entries: &[Entry], consumed: &[bool], hop: usize) -> Option<usize> {
    let e = &entries[hop];
    let recorded = || {
        e.request_headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
    };
    let candidates: Vec<usize> = (0..entries.len())
        .filter(|&j| {
            let p = &entries[j];
            !consumed[j]
                && p.is_preflight()
                && p.key == e.key
                && p.initiator["url"]
                    .as_str()
                    .is_none_or(|u| canonical_url(u) == e.key)
        })
        .collect();
    let asked = |j: usize| {
        (
            entries[j]
                .header("access-control-request-method")
                .unwrap_or_default(),
            entries[j].header("access-control-request-headers"),
        )
    };
    let nearest = |ok: &dyn Fn(usize) -> bool| {
        candidates
            .iter()
            .copied()
            .filter(|&j| ok(j))
            .min_by_key(|&j| distance(entries, hop, j))
    };
    nearest(&|j| {
        let (method, headers) = asked(j);
        corsica::fetch::recorded::preflight_asks_about(method, headers, &e.method, recorded())
    })
    .or_else(|| {
        nearest(&|j| {
            let (method, headers) = asked(j);
            method == corsica::method::normalize(&e.method)
                && headers.is_some()
                && asked_headers(&entries[j])
                    .iter()
                    .all(|n| e.header(n).is_some())
        })
    })
}

/// Replays the recorded exchanges of one `fetch()`: its redirect chain, hop by hop, and
/// the preflights paired with it.
struct Replay<'a> {
    entries: &'a [Entry],
    /// The hops of the chain, in order.
    hops: &'a [usize],
    /// How many hops were served.
    next: usize,
    /// The preflights paired with the hops, each served once.
    preflights: Vec<(usize, bool)>,
    /// The URL of a preflight the model needed and the file does not have.
    missing_preflight: Option<String>,
}

impl Server for Replay<'_> {
    fn send(&mut self, request: &HttpRequest) -> Result<HttpResponse, NetworkError> {
        let wanted = canonical_url(&request.url);
        let i = if request.preflight {
            let found = self
                .preflights
                .iter_mut()
                .find(|(j, used)| !*used && self.entries[*j].key == wanted);
            let Some((j, used)) = found else {
                self.missing_preflight = Some(request.url.clone());
                return Err(NetworkError(format!(
                    "the HAR has no preflight for {}",
                    request.url
                )));
            };
            *used = true;
            *j
        } else {
            match self.hops.get(self.next) {
                Some(&j) if self.entries[j].key == wanted => {
                    self.next += 1;
                    j
                }
                _ => {
                    return Err(NetworkError(format!(
                        "the HAR has no {} {} to replay",
                        request.method, request.url
                    )));
                }
            }
        };
        let e = &self.entries[i];
        if e.status == 0 {
            let why = e
                .error
                .as_deref()
                .map(|err| format!(": the browser recorded {err}"))
                .unwrap_or_default();
            return Err(NetworkError(format!(
                "the HAR recorded no response for {} {}{why}",
                e.method, e.url
            )));
        }
        let mut r = HttpResponse::new(e.status);
        for (n, v) in &e.response_headers {
            r = r.header(n.clone(), v.clone());
        }
        // The chain is recorded by `redirectURL`; a file that lost the `Location` line
        // still redirected there.
        if let Some(to) = &e.redirect_url {
            if r.get("location").is_none() {
                r = r.header("Location", to.clone());
            }
        }
        Ok(r)
    }
}

/// One explained request.
///
/// ```
/// use corsica_doctor::har::{Explained, explain};
/// let har = r#"{"log": {"pages": [{"title": "https://app.example.com/"}], "entries": [
///   {"request": {"method": "GET", "url": "https://api.example.com/x", "headers": []},
///    "response": {"status": 200, "headers": [{"name": "Access-Control-Allow-Origin", "value": "*"}]},
///    "_resourceType": "fetch"}]}}"#;
/// let explanation = explain(har)?;
/// let explained: &Explained = &explanation.requests[0];
/// assert_eq!(explained.request.url, "https://api.example.com/x");
/// assert_eq!(explained.request.origin.as_str(), "https://app.example.com");
/// assert!(explained.outcome.is_allowed());
/// # Ok::<(), corsica_doctor::har::HarError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Explained {
    /// The rebuilt `fetch()` call.
    pub request: FetchRequest,
    /// The model's verdict on the recorded responses.
    pub outcome: Outcome,
    /// Whether the browser recorded the load as failed (`net::ERR_FAILED`).
    pub failed_in_browser: bool,
    /// Why the file cannot explain this request (a preflight it needed is not recorded).
    pub incomplete: Option<String>,
}

/// The result of explaining a HAR file.
///
/// The page's origin comes from the first document request here; the same-origin request
/// is left out.
///
/// ```
/// let har = r#"{"log": {"entries": [
///   {"request": {"method": "GET", "url": "https://app.example.com/", "headers": []},
///    "response": {"status": 200, "headers": []}, "_resourceType": "document"},
///   {"request": {"method": "GET", "url": "https://app.example.com/api/me", "headers": []},
///    "response": {"status": 200, "headers": []}, "_resourceType": "fetch"},
///   {"request": {"method": "GET", "url": "https://cdn.example.net/data.json", "headers": []},
///    "response": {"status": 200, "headers": []}, "_resourceType": "fetch"}]}}"#;
/// let explanation = corsica_doctor::har::explain(har)?;
/// assert_eq!(explanation.page_origin.as_deref(), Some("https://app.example.com"));
/// assert_eq!(explanation.requests.len(), 1);
/// assert_eq!(explanation.requests[0].request.url, "https://cdn.example.net/data.json");
/// # Ok::<(), corsica_doctor::har::HarError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The page's origin, if it could be found.
    pub page_origin: Option<String>,
    /// Every cross-origin request, in order.
    pub requests: Vec<Explained>,
}

impl Explanation {
    /// 0 when no request is blocked, 1 otherwise.
    ///
    /// ```
    /// let har = r#"{"log": {"pages": [{"title": "https://app.example.com/"}], "entries": [
    ///   {"request": {"method": "GET", "url": "https://api.example.com/x", "headers": []},
    ///    "response": {"status": 200, "headers": []}, "_resourceType": "fetch"}]}}"#;
    /// let blocked = corsica_doctor::har::explain(har)?;
    /// assert_eq!(blocked.exit_code(), 1);
    /// let empty = corsica_doctor::har::explain(r#"{"log": {"entries": []}}"#)?;
    /// assert_eq!(empty.exit_code(), 0);
    /// # Ok::<(), corsica_doctor::har::HarError>(())
    /// ```
    pub fn exit_code(&self) -> u8 {
        // A load the browser failed counts too when the file lacks what the model needs to
        // name the error (DevTools often records such responses with status 0).
        u8::from(self.requests.iter().any(|r| {
            matches!(r.outcome.verdict, Verdict::Blocked(_))
                || (r.failed_in_browser && !r.outcome.is_allowed())
        }))
    }

    /// The JSON output (see [`output::Explain`]): `{"page_origin": str | null, "requests":
    /// [{"url", "method", ...the check object...}]}`.
    ///
    /// ```
    /// let har = r#"{"log": {"pages": [{"title": "https://app.example.com/"}], "entries": [
    ///   {"request": {"method": "GET", "url": "https://api.example.com/x", "headers": []},
    ///    "response": {"status": 200, "headers": []}, "_resourceType": "fetch"}]}}"#;
    /// let out = corsica_doctor::har::explain(har)?.output();
    /// assert_eq!(out.page_origin.as_deref(), Some("https://app.example.com"));
    /// let r = &out.requests[0];
    /// assert_eq!((r.method.as_deref(), r.url.as_deref()), (Some("GET"), Some("https://api.example.com/x")));
    /// assert!(!r.allowed);
    /// assert_eq!(r.error.as_ref().map(|e| e.kind), Some("MissingAllowOriginHeader"));
    /// # Ok::<(), corsica_doctor::har::HarError>(())
    /// ```
    pub fn output(&self) -> output::Explain {
        output::Explain {
            page_origin: self.page_origin.clone(),
            requests: self
                .requests
                .iter()
                .map(|r| {
                    let check = output::Check {
                        method: Some(r.request.method.clone()),
                        url: Some(r.request.url.clone()),
                        ..output::Check::new(&r.request, &r.outcome)
                    };
                    match &r.incomplete {
                        Some(why) => output::Check {
                            error: None,
                            fixes: None,
                            hint: String::new(),
                            incomplete: Some(why.clone()),
                            message: format!("cannot be explained from this file: {why}"),
                            verdict: "incomplete",
                            ..check
                        },
                        None => check,
                    }
                })
                .collect(),
        }
    }

    /// [`Explanation::output`] as a JSON value.
    ///
    /// ```
    /// let har = r#"{"log": {"pages": [{"title": "https://app.example.com/"}], "entries": [
    ///   {"request": {"method": "GET", "url": "https://api.example.com/x", "headers": []},
    ///    "response": {"status": 200, "headers": []}, "_resourceType": "fetch"}]}}"#;
    /// let v = corsica_doctor::har::explain(har)?.to_json();
    /// assert_eq!(v["page_origin"], "https://app.example.com");
    /// assert_eq!(v["requests"][0]["error"]["kind"], "MissingAllowOriginHeader");
    /// # Ok::<(), corsica_doctor::har::HarError>(())
    /// ```
    pub fn to_json(&self) -> Value {
        output::to_value(&self.output())
    }

    /// The human report: each request's trace and verdict.
    ///
    /// ```
    /// let har = r#"{"log": {"pages": [{"title": "https://app.example.com/"}], "entries": [
    ///   {"request": {"method": "GET", "url": "https://api.example.com/x", "headers": []},
    ///    "response": {"status": 200, "headers": []}, "_resourceType": "fetch"}]}}"#;
    /// let text = corsica_doctor::har::explain(har)?.to_text(false);
    /// assert!(text.starts_with("page origin: https://app.example.com\n1 cross-origin request(s)\n"));
    /// assert!(text.contains("=== #1 ==="));
    /// assert!(text.contains("BLOCKED MissingAllowOriginHeader"));
    /// # Ok::<(), corsica_doctor::har::HarError>(())
    /// ```
    pub fn to_text(&self, color: bool) -> String {
        let mut out = format!(
            "page origin: {}\n{} cross-origin request(s)\n",
            self.page_origin.as_deref().unwrap_or("unknown"),
            self.requests.len()
        );
        for (i, r) in self.requests.iter().enumerate() {
            out.push_str(&format!("\n=== #{} ===\n", i + 1));
            match &r.incomplete {
                Some(why) => {
                    out.push_str(&crate::report::trace_text(&r.request, &r.outcome, color));
                    out.push_str(&format!("\nINCOMPLETE HAR: {why}\n"));
                }
                None => out.push_str(&crate::report::to_text(&r.request, &r.outcome, color)),
            }
        }
        out
    }
}

/// Explains every cross-origin request of a HAR document.
///
/// ```
/// let har = r#"{"log": {"pages": [{"title": "https://app.example.com/"}], "entries": [
///   {"request": {"method": "GET", "url": "https://api.example.com/x", "headers": [{"name": "Origin", "value": "https://app.example.com"}]},
///    "response": {"status": 200, "headers": []}, "_resourceType": "fetch"}]}}"#;
/// let e = corsica_doctor::har::explain(har)?;
/// assert_eq!(e.page_origin.as_deref(), Some("https://app.example.com"));
/// let b = e.requests[0].outcome.blocked().unwrap();
/// assert_eq!(b.error.as_str(), "MissingAllowOriginHeader");
/// # Ok::<(), corsica_doctor::har::HarError>(())
/// ```
pub fn explain(text: &str) -> Result<Explanation, HarError> {
    let har: Value = serde_json::from_str(text)?;
    let entries = parse_entries(&har)?;
    let browser = recording_browser(&har);
    let page_origin = har["log"]["pages"]
        .as_array()
        .and_then(|p| p.first())
        .and_then(|p| p["title"].as_str())
        .and_then(origin_of)
        .or_else(|| {
            entries
                .iter()
                .find(|e| e.resource_type == "document")
                .and_then(|e| origin_of(&e.url))
        })
        .or_else(|| {
            entries
                .iter()
                .filter_map(|e| e.header("origin"))
                .find(|o| *o != "null")
                .map(str::to_owned)
        });
    let Some(default_page) = page_origin.clone().and_then(|o| Origin::parse(&o).ok()) else {
        return Ok(Explanation {
            page_origin,
            requests: Vec::new(),
        });
    };
    // Each page of a multi-page HAR has its own origin: its URL (Chrome writes it as the
    // title), else its document request, else the file's first page.
    let page_origins: Vec<(String, Origin)> = har["log"]["pages"]
        .as_array()
        .map(|pages| {
            pages
                .iter()
                .filter_map(|p| {
                    let id = p["id"].as_str()?.to_owned();
                    let origin = p["title"]
                        .as_str()
                        .and_then(origin_of)
                        .or_else(|| {
                            entries
                                .iter()
                                .find(|e| {
                                    e.page.as_deref() == Some(id.as_str())
                                        && e.resource_type == "document"
                                })
                                .and_then(|e| origin_of(&e.url))
                        })
                        .and_then(|o| Origin::parse(&o).ok())?;
                    Some((id, origin))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut consumed = vec![false; entries.len()];
    let mut requests = Vec::new();
    for i in 0..entries.len() {
        let e = &entries[i];
        if consumed[i] || e.is_preflight() {
            continue;
        }
        let page = e
            .page
            .as_deref()
            .and_then(|id| page_origins.iter().find(|(p, _)| p == id))
            .map_or(&default_page, |(_, o)| o);
        // Chrome marks fetch/XHR; Firefox records no type, so a request counts when it
        // carried `Origin` and, if recorded, `Sec-Fetch-Mode: cors`.
        let scripted = match e.resource_type.as_str() {
            "fetch" | "xhr" => true,
            "" => {
                e.header("origin").is_some()
                    && e.header("sec-fetch-mode").is_none_or(|m| m == "cors")
            }
            _ => false,
        };
        let relevant = scripted
            && (origin_of(&e.url).as_deref() != Some(page.as_str()) || e.redirect_url.is_some());
        if !relevant {
            continue;
        }
        // Follow the redirect chain by `redirectURL` so that its hops are not explained
        // twice: the next hop is a later entry for that URL, preferably with the same
        // `_initiator` (a redirect keeps its request's), else the nearest in time.
        let mut chain = vec![i];
        let mut cur = i;
        while let Some(next_url) = entries[cur].redirect_url.as_deref() {
            let next_key = canonical_url(next_url);
            let Some(j) = (cur + 1..entries.len())
                .filter(|&j| {
                    !consumed[j] && !entries[j].is_preflight() && entries[j].key == next_key
                })
                .min_by_key(|&j| {
                    (
                        entries[j].initiator != entries[cur].initiator,
                        distance(&entries, cur, j),
                    )
                })
            else {
                break;
            };
            chain.push(j);
            cur = j;
        }
        let crosses = chain
            .iter()
            .any(|&j| origin_of(&entries[j].url).as_deref() != Some(page.as_str()));
        if !crosses {
            continue;
        }
        for &j in &chain {
            consumed[j] = true;
        }
        // The preflight of each hop: the one that asks about this hop's method and headers
        // (and names its URL as initiator), nearest in time; never one for another request
        // of the same URL.
        let mut preflights = Vec::new();
        for &hop in &chain {
            if let Some(j) = paired_preflight(&entries, &consumed, hop) {
                consumed[j] = true;
                preflights.push(j);
            }
        }
        let mut request = FetchRequest::new(page.clone(), e.url.clone()).method(e.method.clone());
        if chain.iter().any(|&j| entries[j].has_cookies) {
            request = request.credentials(Credentials::Include);
        }
        // The page's header names: those its preflight asked about, else those the
        // recorded request shows the page set.
        let recorded = || {
            e.request_headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
        };
        let mut names: Vec<String> = match preflights.first().filter(|&&j| entries[j].key == e.key)
        {
            Some(&j) => asked_headers(&entries[j]),
            None => corsica::fetch::recorded::page_header_names(recorded()),
        };
        for n in corsica::fetch::safelist::PAGE_SET_SAFELISTED_NAMES {
            if e.header(n).is_some() && !names.iter().any(|x| x == n) {
                names.push(n.to_owned());
            }
        }
        for n in names {
            let value = e.header(&n).unwrap_or("1").to_owned();
            request = request.header(n, value);
        }
        let run = |request: &FetchRequest| {
            let mut replay = Replay {
                entries: &entries,
                hops: &chain,
                next: 0,
                preflights: preflights.iter().map(|&j| (j, false)).collect(),
                missing_preflight: None,
            };
            let options = Options {
                browser,
                ..Options::default()
            };
            let outcome = simulate_with(request, &mut replay, options);
            (outcome, replay.missing_preflight)
        };
        let (mut outcome, mut missing) = run(&request);
        // The HAR does not record the credentials mode. If the load failed but the model
        // allows it without credentials, it was a credentialed request (`include`): only
        // those fail on a response that passes the other checks.
        let failed = chain.iter().any(|&j| entries[j].failed);
        if failed && outcome.is_allowed() && request.credentials != Credentials::Include {
            let with = request.clone().credentials(Credentials::Include);
            let (retry, retry_missing) = run(&with);
            if !retry.is_allowed() {
                request = with;
                outcome = retry;
                missing = retry_missing;
            }
        }
        let incomplete = missing.map(|url| {
            format!(
                "this request needed a preflight, and the HAR has none that asks about it (OPTIONS {url} with Access-Control-Request-Method: {}{}): {} probably answered it from its preflight cache (an earlier preflight's Access-Control-Max-Age), so the file cannot show whether it passed. Record the HAR again with the cache empty (a new private window) to explain it.",
                corsica::method::normalize(&request.method),
                corsica::fetch::preflight::request_headers_value(
                    &corsica::fetch::safelist::unsafe_header_names_in(
                        browser,
                        request.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
                    )
                )
                .map(|h| format!(", Access-Control-Request-Headers: {h}"))
                .unwrap_or_default(),
                browser.name()
            )
        });
        requests.push(Explained {
            request,
            outcome,
            failed_in_browser: failed,
            incomplete,
        });
    }
    Ok(Explanation {
        page_origin,
        requests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        method: &str,
        url: &str,
        headers: &str,
        status: u16,
        resp_headers: &str,
        extra: &str,
    ) -> String {
        format!(
            r#"{{"request": {{"method": "{method}", "url": "{url}", "headers": [{headers}]}},
               "response": {{"status": {status}, "headers": [{resp_headers}]{extra}}}}}"#
        )
    }

    fn har(entries: &[String]) -> String {
        format!(
            r#"{{"log": {{"pages": [{{"id": "p1", "title": "https://app.example.com/"}}], "entries": [{}]}}}}"#,
            entries.join(",")
        )
    }

    const ORIGIN: &str = r#"{"name": "Origin", "value": "https://app.example.com"}"#;

    #[test]
    fn firefox_style_entries_without_resource_type() {
        // An image (no Origin, no type) is not a fetch; a request with Origin is.
        let text = har(&[
            entry("GET", "https://cdn.example.net/logo.png", "", 200, "", ""),
            entry("GET", "https://api.example.net/x", ORIGIN, 200, "", ""),
        ]);
        let e = explain(&text).unwrap();
        assert_eq!(e.requests.len(), 1);
        assert_eq!(e.requests[0].request.url, "https://api.example.net/x");
    }

    #[test]
    fn relative_redirect_urls_keep_the_chain_together() {
        let text = har(&[
            entry(
                "GET",
                "https://api.example.net/a",
                ORIGIN,
                302,
                r#"{"name": "Location", "value": "/b"}, {"name": "Access-Control-Allow-Origin", "value": "*"}"#,
                r#", "redirectURL": "/b""#,
            ),
            entry(
                "GET",
                "https://api.example.net/b",
                ORIGIN,
                200,
                r#"{"name": "Access-Control-Allow-Origin", "value": "*"}"#,
                "",
            ),
        ]);
        let e = explain(&text).unwrap();
        assert_eq!(e.requests.len(), 1, "one request through one redirect");
        assert!(
            e.requests[0].outcome.is_allowed(),
            "{}",
            e.requests[0].outcome.verdict
        );
    }

    #[test]
    fn a_failed_load_without_a_recorded_response_still_fails_the_exit_code() {
        let text = har(&[entry(
            "GET",
            "https://api.example.net/x",
            ORIGIN,
            0,
            "",
            r#", "_error": "net::ERR_FAILED""#,
        )]);
        let e = explain(&text).unwrap();
        assert_eq!(e.requests.len(), 1);
        assert!(!e.requests[0].outcome.is_allowed());
        assert_eq!(e.exit_code(), 1);
    }
}
