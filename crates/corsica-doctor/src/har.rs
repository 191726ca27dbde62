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
    Credentials, FetchRequest, HttpRequest, HttpResponse, NetworkError, Outcome, Server, Verdict,
    simulate,
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
    /// The page (`pageref`) the request belongs to.
    page: Option<String>,
    /// [`canonical_url`] of `url`.
    key: String,
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
                resource_type: e["_resourceType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                // `net::ERR_FAILED` is how Chromium fails a load for CORS; a cancelled
                // load (`net::ERR_ABORTED`, e.g. a body nobody read) is no failure.
                failed: [&resp["_error"], &e["_error"]]
                    .iter()
                    .any(|v| v.as_str().is_some_and(|s| s.contains("ERR_FAILED"))),
            })
        })
        .collect())
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

/// Replays recorded responses: each request gets the next unused entry with the same
/// method and URL.
struct Replay<'a> {
    entries: &'a [Entry],
    used: Vec<bool>,
    /// The first entry this request may use (its preflight or first hop).
    start: usize,
}

impl Server for Replay<'_> {
    fn send(&mut self, request: &HttpRequest) -> Result<HttpResponse, NetworkError> {
        let wanted = canonical_url(&request.url);
        let found = self
            .entries
            .iter()
            .enumerate()
            .skip(self.start)
            .find_map(|(i, e)| {
                (!self.used[i]
                    && e.method == request.method
                    && e.key == wanted
                    && e.is_preflight() == request.preflight)
                    .then_some(i)
            });
        let Some(i) = found else {
            return Err(NetworkError(if request.preflight {
                format!(
                    "the HAR has no preflight for {}: it was probably answered from Chromium's preflight cache, so this request cannot be explained from the file",
                    request.url
                )
            } else {
                format!(
                    "the HAR has no {} {} to replay",
                    request.method, request.url
                )
            }));
        };
        self.used[i] = true;
        let e = &self.entries[i];
        if e.status == 0 {
            return Err(NetworkError(format!(
                "the HAR recorded no response for {} {}",
                e.method, e.url
            )));
        }
        let mut r = HttpResponse::new(e.status);
        for (n, v) in &e.response_headers {
            r = r.header(n.clone(), v.clone());
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
                .map(|r| output::Check {
                    method: Some(r.request.method.clone()),
                    url: Some(r.request.url.clone()),
                    ..output::Check::new(&r.request, &r.outcome)
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
            out.push_str(&crate::report::to_text(&r.request, &r.outcome, color));
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
        // Follow the redirect chain so that its hops are not explained twice.
        let mut chain = vec![i];
        let mut cur = i;
        while let Some(next_url) = entries[cur].redirect_url.as_deref() {
            let next_key = canonical_url(next_url);
            let Some(j) = (cur + 1..entries.len()).find(|&j| {
                !consumed[j] && !entries[j].is_preflight() && entries[j].key == next_key
            }) else {
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
        // The preflight of the first hop (DevTools may list it before or after the
        // request), for the page's header names.
        let preflight = (0..entries.len())
            .filter(|&j| !consumed[j] && entries[j].is_preflight() && entries[j].key == e.key)
            .min_by_key(|&j| j.abs_diff(i));
        if let Some(j) = preflight {
            consumed[j] = true;
        }
        let mut request = FetchRequest::new(page.clone(), e.url.clone()).method(e.method.clone());
        if chain.iter().any(|&j| entries[j].has_cookies) {
            request = request.credentials(Credentials::Include);
        }
        // A list the engine cannot parse names nothing (the browser never sends one).
        let mut names: Vec<String> = preflight
            .and_then(|j| entries[j].header("access-control-request-headers"))
            .and_then(|v| {
                corsica::HeaderList::parse_lowercase([v.as_bytes()], Default::default()).ok()
            })
            .map(|list| list.items().to_vec())
            .unwrap_or_default();
        for n in corsica::fetch::safelist::PAGE_SET_SAFELISTED_NAMES {
            if e.header(n).is_some() && !names.iter().any(|x| x == n) {
                names.push(n.to_owned());
            }
        }
        for n in names {
            let value = e.header(&n).unwrap_or("1").to_owned();
            request = request.header(n, value);
        }
        let start = preflight.map_or(i, |j| j.min(i));
        let run = |request: &FetchRequest| {
            let mut replay = Replay {
                entries: &entries,
                used: vec![false; entries.len()],
                start,
            };
            simulate(request, &mut replay, None)
        };
        let mut outcome = run(&request);
        // The HAR does not record the credentials mode. If the load failed but the model
        // allows it without credentials, it was a credentialed request (`include`): only
        // those fail on a response that passes the other checks.
        let failed = chain.iter().any(|&j| entries[j].failed);
        if failed && outcome.is_allowed() && request.credentials != Credentials::Include {
            let with = request.clone().credentials(Credentials::Include);
            let retry = run(&with);
            if !retry.is_allowed() {
                request = with;
                outcome = retry;
            }
        }
        requests.push(Explained {
            request,
            outcome,
            failed_in_browser: failed,
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
