//! WPT's server scripts, as the replies they give: each takes the request's query (the
//! parameters a test puts in the URL) and gives the reply to the preflight (`OPTIONS`)
//! and to the actual request, in the scenario's terms. Values the script echoes from the
//! request stay placeholders the scenario server fills from the request it receives:
//! `{request_origin}` (the `Origin` header; the line is left out when there is none, or
//! `{request_origin:*}` falls back to `*`), `{acrm}`, `{acrh}`.
//!
//! What a script records for a later check (the stash: "was there a preflight", the
//! `Access-Control-Request-Headers` it saw) becomes a check on the server log instead
//! ([`crate::wpt::Expect`]); the `x-*` headers that carry it back keep their names (what
//! script can read is compared) with placeholder values. Bodies are empty.

/// A reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
        }
    }

    /// Appends a header line.
    pub(crate) fn add(&mut self, name: &str, value: &str) {
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    /// Sets a header (replacing every line of that name, as `headers.set` does).
    fn set(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.add(name, value);
    }
}

/// A URL's query, decoded as the scripts' `request.GET` decodes it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query(pub Vec<(String, String)>);

impl Query {
    /// Parses `a=1&b=%20&c` (the part after `?`).
    pub(crate) fn parse(query: &str) -> Query {
        Query(
            url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `key` is present (with or without a value).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// This query with `other`'s parameters after it (what `redirect.py` copies into the
    /// `Location` it sends).
    pub(crate) fn then(&self, other: &Query) -> Query {
        let mut q = self.clone();
        q.0.extend(other.0.iter().cloned());
        q
    }
}

/// JavaScript's `encodeURIComponent`.
pub(crate) fn encode_uri_component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `fetch/api/resources/preflight.py`: `Content-Type: text/plain`; an
/// `Access-Control-Allow-Origin` line per `", "`-separated `origin` (default `*`); on
/// `OPTIONS` `max_age`, `allow_headers`, `allow_methods` and the status
/// `preflight_status`; otherwise the `x-*` report headers and their exposure.
pub(crate) fn fetch_preflight_py(q: &Query) -> (Reply, Reply) {
    let mut common = Reply::new(200);
    common.add("Content-Type", "text/plain");
    match q.get("origin") {
        Some(origins) => {
            for o in origins.split(", ") {
                common.add("Access-Control-Allow-Origin", o);
            }
        }
        None => common.add("Access-Control-Allow-Origin", "*"),
    }
    if q.has("credentials") {
        common.add("Access-Control-Allow-Credentials", "true");
    }
    let mut preflight = common.clone();
    if let Some(v) = q.get("max_age") {
        preflight.add("Access-Control-Max-Age", v);
    }
    if let Some(v) = q.get("allow_headers") {
        preflight.add("Access-Control-Allow-Headers", v);
    }
    if let Some(v) = q.get("allow_methods") {
        preflight.add("Access-Control-Allow-Methods", v);
    }
    if let Some(s) = q.get("preflight_status").and_then(|s| s.parse().ok()) {
        preflight.status = s;
    }
    let mut response = common;
    response.add(
        "Access-Control-Expose-Headers",
        "x-did-preflight, x-control-request-headers, x-referrer, x-preflight-referrer, x-origin",
    );
    for name in [
        "x-did-preflight",
        "x-control-request-headers",
        "x-preflight-referrer",
        "x-referrer",
    ] {
        response.add(name, "");
    }
    response.add("x-origin", "{request_origin:}");
    (preflight, response)
}

/// `fetch/api/resources/redirect.py`: `Access-Control-Allow-Origin` echoing `Origin`
/// with `Access-Control-Allow-Credentials: true` (`*` without `Origin`); `OPTIONS` is
/// answered 200 (with `allow_headers`) unless `redirect_preflight`; otherwise status
/// `redirect_status` (302) and `Location: location` (`location` is the next hop's URL in
/// the scenario's terms, given by the caller).
pub(crate) fn fetch_redirect_py(q: &Query, location: Option<&str>) -> (Reply, Reply) {
    let mut common = Reply::new(302);
    common.add("Content-Type", "text/plain");
    common.add("Cache-Control", "no-cache");
    common.add("Pragma", "no-cache");
    common.add("Access-Control-Allow-Origin", "{request_origin:*}");
    common.add("Access-Control-Allow-Credentials", "{if_origin:true}");
    let status = q
        .get("redirect_status")
        .and_then(|s| s.parse().ok())
        .unwrap_or(302);
    let mut response = common.clone();
    response.status = status;
    if let Some(l) = location {
        response.add("Location", l);
    }
    if let Some(p) = q.get("redirect_referrerpolicy") {
        response.add("Referrer-Policy", p);
    }
    let mut preflight = common;
    if let Some(v) = q.get("allow_headers") {
        preflight.add("Access-Control-Allow-Headers", v);
    }
    if q.has("redirect_preflight") {
        preflight.status = status;
        if let Some(l) = location {
            preflight.add("Location", l);
        }
    } else {
        preflight.status = 200;
    }
    (preflight, response)
}

/// `fetch/api/resources/inspect-headers.py` (as the inventory read it, `wpt/INVENTORY.md`
/// §4): `headers=a|b` reports each request header as `x-request-<a>` (only the request's
/// `Origin` is reproducible: `{request_origin}`); `cors` allows the request
/// (`Access-Control-Allow-Origin` echoing `Origin`, or `*`; credentials; `GET, POST,
/// HEAD`; the asked headers) and exposes the reports. Always `Cache-Control: no-cache`.
pub(crate) fn inspect_headers_py(q: &Query) -> Result<(Reply, Reply), String> {
    let mut r = Reply::new(200);
    r.add("Cache-Control", "no-cache");
    let names: Vec<String> = q
        .get("headers")
        .unwrap_or("")
        .split('|')
        .filter(|n| !n.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if q.has("cors") {
        r.add("Access-Control-Allow-Origin", "{request_origin:*}");
        r.add("Access-Control-Allow-Credentials", "true");
        r.add("Access-Control-Allow-Methods", "GET, POST, HEAD");
        let exposed: Vec<String> = names.iter().map(|n| format!("x-request-{n}")).collect();
        r.add("Access-Control-Expose-Headers", &exposed.join(", "));
    }
    let mut preflight = r.clone();
    if q.has("cors") {
        preflight.add(
            "Access-Control-Allow-Headers",
            q.get("allow_headers").unwrap_or("{acrh}"),
        );
    }
    for n in &names {
        if n != "origin" {
            return Err(format!(
                "inspect-headers.py reports `{n}`: only Origin is reproducible"
            ));
        }
        r.add("x-request-origin", "{request_origin}");
    }
    Ok((preflight, r))
}

/// `cors/resources/cors-makeheader.py`: `Access-Control-Allow-Origin` = `origin` (default:
/// the request's `Origin`), a second line `origin2`; `headers`, `credentials`, `methods`
/// as `Access-Control-Allow-Headers`/`-Credentials`/`-Methods`; status `code` (`preflight`
/// on `OPTIONS`); with `location`, status 302 unless given, and `Location` on a 3xx.
pub(crate) fn cors_makeheader_py(q: &Query, location: Option<&str>) -> (Reply, Reply) {
    let reply = |options: bool| {
        let mut r = Reply::new(200);
        match q.get("origin") {
            Some(o) => r.set("Access-Control-Allow-Origin", o),
            None => r.set("Access-Control-Allow-Origin", "{request_origin}"),
        }
        if let Some(o) = q.get("origin2") {
            r.add("Access-Control-Allow-Origin", o);
        }
        if let Some(v) = q.get("headers") {
            r.set("Access-Control-Allow-Headers", v);
        }
        if let Some(v) = q.get("credentials") {
            r.set("Access-Control-Allow-Credentials", v);
        }
        if let Some(v) = q.get("methods") {
            r.set("Access-Control-Allow-Methods", v);
        }
        let mut code: Option<u16> = q.get("code").and_then(|c| c.parse().ok());
        if options && let Some(p) = q.get("preflight").and_then(|c| c.parse().ok()) {
            code = Some(p);
        }
        if q.has("location") {
            let c = *code.get_or_insert(302);
            if (300..400).contains(&c)
                && let Some(l) = location
            {
                r.set("Location", l);
            }
        }
        r.status = code.unwrap_or(200);
        r
    };
    (reply(true), reply(false))
}

/// `cors/resources/preflight.py`: `OPTIONS` allows the asked method (`{acrm}`) and
/// `max_age`; both replies `Access-Control-Allow-Origin: *` and
/// `Access-Control-Allow-Headers: x-print`.
pub(crate) fn cors_preflight_py(q: &Query) -> (Reply, Reply) {
    let mut preflight = Reply::new(200);
    preflight.add("Content-Type", "text/plain");
    let mut response = preflight.clone();
    preflight.add("Access-Control-Allow-Methods", "{acrm}");
    if let Some(v) = q.get("max_age") {
        preflight.add("Access-Control-Max-Age", v);
    }
    for r in [&mut preflight, &mut response] {
        r.add("Access-Control-Allow-Origin", "*");
        r.add("Access-Control-Allow-Headers", "x-print");
    }
    (preflight, response)
}

/// `cors/resources/status.py`: `Access-Control-Allow-Origin` echoing `Origin`,
/// `Access-Control-Expose-Headers: X-Request-Method`; `OPTIONS` allows `GET, CHICKEN,
/// HEAD, POST, PUT`; `headers` → `Access-Control-Allow-Headers`; `X-Request-Method` (the
/// method, given: it is the scenario's) and `X-A-C-Request-Method` (`{acrm}`); status
/// `code` (200), `preflight` on `OPTIONS`; `type` → `Content-Type`.
pub(crate) fn status_py(q: &Query, method: &str) -> (Reply, Reply) {
    let reply = |options: bool| {
        let mut r = Reply::new(200);
        r.set("Access-Control-Allow-Origin", "{request_origin}");
        r.set("Access-Control-Expose-Headers", "X-Request-Method");
        if options {
            r.set(
                "Access-Control-Allow-Methods",
                "GET, CHICKEN, HEAD, POST, PUT",
            );
        }
        if let Some(v) = q.get("headers") {
            r.set("Access-Control-Allow-Headers", v);
        }
        r.set("X-Request-Method", if options { "OPTIONS" } else { method });
        r.set("X-A-C-Request-Method", "{acrm}");
        let mut code: u16 = q.get("code").and_then(|c| c.parse().ok()).unwrap_or(200);
        if options && let Some(p) = q.get("preflight").and_then(|c| c.parse().ok()) {
            code = p;
        }
        r.status = code;
        if let Some(t) = q.get("type") {
            r.set("Content-Type", t);
        }
        r
    };
    (reply(true), reply(false))
}

/// `cors/resources/cors-headers.py`: one fixed reply.
pub(crate) fn cors_headers_py() -> Reply {
    let mut r = Reply::new(200);
    r.set("Access-Control-Allow-Origin", "*");
    r.set(
        "Access-Control-Expose-Headers",
        "X-Custom-Header, X-Custom-Header-Empty, X-Custom-Header-Comma, X-Custom-Header-Bytes",
    );
    r.add("Access-Control-Expose-Headers", "X-Second-Expose");
    r.add("Access-Control-Expose-Headers", "Date");
    r.set("Content-Type", "text/plain");
    r.set("X-Custom-Header", "test");
    r.set("Set-Cookie", "test1=t1;max-age=2");
    r.set("Set-Cookie2", "test2=t2;Max-Age=2");
    r.set("X-Custom-Header-Empty", "");
    r.set("X-Custom-Header-Comma", "1");
    r.add("X-Custom-Header-Comma", "2");
    r.set("X-Custom-Header-Bytes", "\u{2026}");
    r.set("X-Nonexposed", "unicorn");
    r.set("X-Second-Expose", "flyingpig");
    r.set("Cache-Control", "no-cache");
    r.set("Content-Language", "nn");
    r.set("Expires", "Thu, 01 Dec 1994 16:00:00 GMT");
    r.set("Last-Modified", "Thu, 01 Dec 1994 10:00:00 GMT");
    r.set("Pragma", "no-cache");
    r
}

/// A static file (`top.txt`) with headers added by `?pipe=header(N,V)|header(N,V,True)`
/// (the third argument appends a line instead of replacing). `headers` are the file's
/// own (`cors-top.txt.headers`).
pub(crate) fn static_file(pipe: Option<&str>, headers: &[(&str, &str)]) -> Result<Reply, String> {
    let mut r = Reply::new(200);
    r.add("Content-Type", "text/plain");
    for (n, v) in headers {
        r.add(n, v);
    }
    let Some(pipe) = pipe else { return Ok(r) };
    for step in split_pipe(pipe) {
        let Some(args) = step
            .strip_prefix("header(")
            .and_then(|s| s.strip_suffix(')'))
        else {
            return Err(format!("pipe step `{step}` is not header(…)"));
        };
        let parts = split_args(args);
        match parts.as_slice() {
            [n, v] => r.set(n, v),
            [n, v, append] if append.eq_ignore_ascii_case("true") => r.add(n, v),
            _ => {
                return Err(format!(
                    "pipe step `{step}`: expected header(name,value[,True])"
                ));
            }
        }
    }
    Ok(r)
}

/// Splits `a(…)|b(…)` at `|` outside parentheses.
fn split_pipe(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0i32);
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            '|' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Splits a pipe function's arguments at `,` (`\,` is a literal comma).
fn split_args(s: &str) -> Vec<String> {
    let (mut out, mut cur) = (Vec::new(), String::new());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ',' => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preflight_py_replies_by_parameter() {
        let (p, r) = fetch_preflight_py(&Query::parse(
            "?token=t&max_age=0&origin=a%2C%20b, c&allow_methods=PUT&preflight_status=204",
        ));
        assert_eq!(p.status, 204);
        let acao: Vec<&str> = p
            .headers
            .iter()
            .filter(|(n, _)| n == "Access-Control-Allow-Origin")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(acao, ["a", "b", "c"]);
        assert!(
            p.headers
                .contains(&("Access-Control-Allow-Methods".into(), "PUT".into()))
        );
        assert_eq!(r.status, 200);
        assert!(
            !r.headers
                .iter()
                .any(|(n, _)| n == "Access-Control-Allow-Methods")
        );
    }

    #[test]
    fn makeheader_redirects_only_on_3xx() {
        let (p, r) = cors_makeheader_py(
            &Query::parse("location=x&code=200&preflight=301"),
            Some("L"),
        );
        assert_eq!(r.status, 200);
        assert!(!r.headers.iter().any(|(n, _)| n == "Location"));
        assert_eq!(p.status, 301);
        assert!(p.headers.iter().any(|(n, v)| n == "Location" && v == "L"));
    }

    #[test]
    fn pipes_set_and_append() {
        let r = static_file(Some("header(A,1)|header(A,2)|header(B,x\\,y,True)"), &[]).unwrap();
        assert_eq!(
            r.headers[1..],
            [("A".into(), "2".into()), ("B".into(), "x,y".into())]
        );
    }

    #[test]
    fn encodes_like_javascript() {
        assert_eq!(encode_uri_component("a b,c/é'"), "a%20b%2Cc%2F%C3%A9'");
    }
}
