//! Records a HAR 1.2 file from Chromium's own DevTools events (`Network.*`), for
//! `corsica explain`'s fixtures: what Chromium sent and received, hop by hop, with the
//! CORS error Chromium reported kept in a `_corsicaChromium` field of the failing entry.

use std::collections::HashMap;

use serde_json::{Value, json};

/// One hop being assembled.
#[derive(Debug, Default, Clone)]
struct Hop {
    method: String,
    url: String,
    resource_type: String,
    request_headers: Vec<(String, String)>,
    extra_request_headers: Option<Vec<(String, String)>>,
    status: u16,
    response_headers: Vec<(String, String)>,
    redirect_url: String,
    chromium: Option<Value>,
    error: Option<String>,
    wall_time: f64,
}

/// Splits CDP's header object (`{name: "v1\nv2"}`) into lines.
fn lines(obj: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(map) = obj.as_object() {
        for (name, value) in map {
            for v in value.as_str().unwrap_or_default().split('\n') {
                out.push((name.clone(), v.to_owned()));
            }
        }
    }
    out
}

/// Builds a HAR document from CDP events (in arrival order) of one tab.
pub fn build(
    events: &[Value],
    page_url: &str,
    browser: &str,
    keep: impl Fn(&str) -> bool,
) -> Value {
    let mut hops: Vec<Hop> = Vec::new();
    // requestId → indexes of its hops (redirects add hops).
    let mut by_id: HashMap<String, Vec<usize>> = HashMap::new();
    let mut sent_extra: HashMap<String, Vec<Vec<(String, String)>>> = HashMap::new();
    type Received = (u16, Vec<(String, String)>);
    let mut received_extra: HashMap<String, Vec<Received>> = HashMap::new();
    for ev in events {
        let p = &ev["params"];
        let Some(id) = p["requestId"].as_str() else {
            continue;
        };
        let last = by_id.get(id).and_then(|v| v.last().copied());
        match ev["method"].as_str() {
            Some("Network.requestWillBeSent") => {
                let url = p["request"]["url"].as_str().unwrap_or_default().to_owned();
                if !keep(&url) {
                    continue;
                }
                if let (Some(prev), Some(r)) = (last, p.get("redirectResponse")) {
                    let h = &mut hops[prev];
                    h.status = u16::try_from(r["status"].as_u64().unwrap_or(0)).unwrap_or(0);
                    if h.response_headers.is_empty() {
                        h.response_headers = lines(&r["headers"]);
                    }
                    h.redirect_url = url.clone();
                }
                let method = p["request"]["method"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let request_headers = lines(&p["request"]["headers"]);
                let preflight = method == "OPTIONS"
                    && request_headers
                        .iter()
                        .any(|(n, _)| n.eq_ignore_ascii_case("access-control-request-method"));
                hops.push(Hop {
                    method,
                    url,
                    resource_type: if preflight {
                        "preflight".into()
                    } else {
                        p["type"].as_str().unwrap_or("other").to_ascii_lowercase()
                    },
                    request_headers,
                    wall_time: p["wallTime"].as_f64().unwrap_or(0.0),
                    ..Hop::default()
                });
                by_id.entry(id.to_owned()).or_default().push(hops.len() - 1);
            }
            // The headers actually sent (with `Origin`) and received, per hop. These may
            // arrive before or after the hop's `requestWillBeSent` (a redirect's response
            // after the next hop began): they are matched to the hops by order at the end.
            Some("Network.requestWillBeSentExtraInfo") => {
                sent_extra
                    .entry(id.to_owned())
                    .or_default()
                    .push(lines(&p["headers"]));
            }
            Some("Network.responseReceivedExtraInfo") => {
                let status = u16::try_from(p["statusCode"].as_u64().unwrap_or(0)).unwrap_or(0);
                received_extra
                    .entry(id.to_owned())
                    .or_default()
                    .push((status, lines(&p["headers"])));
            }
            Some("Network.responseReceived") => {
                if let Some(idx) = last {
                    let r = &p["response"];
                    if hops[idx].status == 0 {
                        hops[idx].status =
                            u16::try_from(r["status"].as_u64().unwrap_or(0)).unwrap_or(0);
                    }
                    if hops[idx].response_headers.is_empty() {
                        hops[idx].response_headers = lines(&r["headers"]);
                    }
                    if p["type"] == "Preflight" {
                        hops[idx].resource_type = "preflight".into();
                    }
                }
            }
            Some("Network.loadingFailed") => {
                if let Some(idx) = last {
                    hops[idx].error = p["errorText"].as_str().map(str::to_owned);
                    if let Some(c) = p.get("corsErrorStatus") {
                        hops[idx].chromium = Some(c.clone());
                    }
                }
            }
            _ => {}
        }
    }
    for (id, sent) in sent_extra {
        for (&idx, sent) in by_id.get(&id).into_iter().flatten().zip(sent) {
            if hops[idx].method == "OPTIONS"
                && sent
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("access-control-request-method"))
            {
                hops[idx].resource_type = "preflight".into();
            }
            hops[idx].extra_request_headers = Some(sent);
        }
    }
    for (id, received) in received_extra {
        for (&idx, (status, headers)) in by_id.get(&id).into_iter().flatten().zip(received) {
            hops[idx].status = status;
            hops[idx].response_headers = headers;
        }
    }
    let header_list = |h: &[(String, String)]| -> Value {
        Value::Array(
            h.iter()
                .map(|(n, v)| json!({"name": n, "value": v}))
                .collect(),
        )
    };
    let entries: Vec<Value> = hops
        .iter()
        .map(|h| {
            let sent = h
                .extra_request_headers
                .as_deref()
                .unwrap_or(&h.request_headers);
            let mut e = json!({
                "startedDateTime": iso8601(h.wall_time),
                "time": 0,
                "request": {
                    "method": h.method,
                    "url": h.url,
                    "httpVersion": "HTTP/1.1",
                    "headers": header_list(sent),
                    "cookies": [],
                    "queryString": [],
                    "headersSize": -1,
                    "bodySize": 0
                },
                "response": {
                    "status": h.status,
                    "statusText": "",
                    "httpVersion": "HTTP/1.1",
                    "headers": header_list(&h.response_headers),
                    "cookies": [],
                    "content": {"size": 0, "mimeType": ""},
                    "redirectURL": h.redirect_url,
                    "headersSize": -1,
                    "bodySize": -1
                },
                "cache": {},
                "timings": {"send": 0, "wait": 0, "receive": 0},
                "pageref": "page_1",
                "_resourceType": h.resource_type,
            });
            if let Some(err) = &h.error {
                // As DevTools' HAR export records a failed load.
                e["response"]["_error"] = json!(err);
            }
            if let Some(c) = &h.chromium {
                e["_corsicaChromium"] = c.clone();
            }
            e
        })
        .collect();
    json!({
        "log": {
            "version": "1.2",
            "creator": {"name": "corsica-conformance", "version": env!("CARGO_PKG_VERSION")},
            "browser": {"name": "Chromium", "version": browser},
            "pages": [{"id": "page_1", "title": page_url, "startedDateTime": iso8601(0.0), "pageTimings": {}}],
            "entries": entries
        }
    })
}

/// Seconds since the epoch as an ISO 8601 timestamp (UTC, milliseconds).
fn iso8601(secs: f64) -> String {
    let total_ms = (secs.max(0.0) * 1000.0) as i64;
    let (days, ms_of_day) = (
        total_ms.div_euclid(86_400_000),
        total_ms.rem_euclid(86_400_000),
    );
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s, ms) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps() {
        assert_eq!(super::iso8601(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::iso8601(1_795_577_223.5), "2026-11-25T03:27:03.500Z");
    }
}
