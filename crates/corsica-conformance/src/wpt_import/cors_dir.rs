//! Translators for web-platform-tests' top-level `cors/` directory (XHR tests, turned
//! into `fetch()`).
//!
//! The tests build their URLs from the page's location (`location.host`, `CROSSDOMAIN`,
//! …). They are evaluated here with WPT's default hosts (`web-platform.test:8000`, its
//! `www1.`/`www2.` subdomains), which gives the test names WPT reports; the scenario's
//! values then name those origins by placeholder (`{origin}`, `{api}`, `{other}`), and a
//! value built from the bare host (no placeholder says it) makes its case skipped.

use super::js::{self, Js};
use super::servers::{self, Query, Reply, encode_uri_component};
use super::{Case, File, HTTPS, HopSpec, Host, Request, Translator, hop_url};
use crate::wpt::Expect;

/// The translated files of this directory.
pub(crate) fn translators() -> Vec<Translator> {
    vec![
        Translator {
            path: "cors/preflight-failure.htm",
            tests: 37,
            translate: preflight_failure,
        },
        Translator {
            path: "cors/cors-safelisted-request-header.any.js",
            tests: 42,
            translate: safelisted_request_header,
        },
        Translator {
            path: "cors/simple-requests.htm",
            tests: 24,
            translate: simple_requests,
        },
        Translator {
            path: "cors/status-async.htm",
            tests: 24,
            translate: status_async,
        },
        Translator {
            path: "cors/status-preflight.htm",
            tests: 16,
            translate: status_preflight,
        },
        Translator {
            path: "cors/status.htm",
            tests: 5,
            translate: status,
        },
        Translator {
            path: "cors/origin.htm",
            tests: 58,
            translate: origin,
        },
        Translator {
            path: "cors/redirect-origin.htm",
            tests: 43,
            translate: redirect_origin,
        },
        Translator {
            path: "cors/redirect-preflight.htm",
            tests: 5,
            translate: redirect_preflight,
        },
        Translator {
            path: "cors/redirect-preflight-2.htm",
            tests: 2,
            translate: redirect_preflight_2,
        },
        Translator {
            path: "cors/request-headers.htm",
            tests: 6,
            translate: request_headers,
        },
        Translator {
            path: "cors/client-hint-request-headers.htm",
            tests: 5,
            translate: request_headers,
        },
        Translator {
            path: "cors/credentials-flag.htm",
            tests: 10,
            translate: credentials_flag,
        },
        Translator {
            path: "cors/basic.htm",
            tests: 12,
            translate: basic,
        },
        Translator {
            path: "cors/preflight-cache.htm",
            tests: 5,
            translate: preflight_cache,
        },
        Translator {
            path: "cors/response-headers.htm",
            tests: 15,
            translate: response_headers,
        },
        Translator {
            path: "cors/redirect-userinfo.htm",
            tests: 6,
            translate: redirect_userinfo,
        },
    ]
}

// ---------------------------------------------------------------------------------------
// WPT's hosts, and reading the scripts' values.

/// `location.host` of a WPT page (WPT's default configuration).
const HOST: &str = "web-platform.test:8000";
/// The page's origin.
const ORIGIN: &str = "http://web-platform.test:8000";
/// [`ORIGIN`] without its scheme.
const HOSTPORT: &str = "web-platform.test:8000";
/// [`ORIGIN`]'s last host label and port.
const TLD_PORT: &str = "test:8000";
/// `support.js`'s `SUBDOMAIN` (`www1`) origin: `CROSSDOMAIN`, `REMOTE_ORIGIN`.
const REMOTE: &str = "http://www1.web-platform.test:8000";
/// The `SUBDOMAIN2` (`www2`) origin.
const REMOTE2: &str = "http://www2.web-platform.test:8000";

/// Why a value built from the bare host is skipped.
const BARE_HOST: &str = "the value is built from a form of the page's host that no placeholder of the suite names (whole origins, `host:port`, the last label with the port, the origin upper-cased)";

/// The script, with `get_host_info().X` read as the name `host_info.X`.
fn script(file: &File) -> String {
    file.script.replace("get_host_info().", "host_info.")
}

/// A JavaScript number as `String(n)` writes it.
fn num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// The value of a name the scripts use (`support.js`, `get-host-info.sub.js`,
/// `location`), or one of `vars`.
fn name(n: &str, file: &File, vars: &[(&str, String)]) -> Result<String, String> {
    if let Some((_, v)) = vars.iter().find(|(k, _)| *k == n) {
        return Ok(v.clone());
    }
    let dir = file.path.rsplit_once('/').map_or("", |(d, _)| d);
    Ok(match n {
        "location.protocol" | "REMOTE_PROTOCOL" => "http:".to_owned(),
        "location.host" => HOST.to_owned(),
        "location.hostname" => "web-platform.test".to_owned(),
        "location.port" => "8000".to_owned(),
        "location.origin" | "host_info.HTTP_ORIGIN" => ORIGIN.to_owned(),
        "location.href" => format!("{ORIGIN}/{}", file.path),
        "location.pathname" => format!("/{}", file.path),
        "SUBDOMAIN" => "www1".to_owned(),
        "SUBDOMAIN2" => "www2".to_owned(),
        "CROSSDOMAIN" => format!("{REMOTE}/{dir}/"),
        "REMOTE_HOST" => format!("www1.{HOST}"),
        "REMOTE_ORIGIN" | "host_info.HTTP_REMOTE_ORIGIN" => REMOTE.to_owned(),
        _ => return Err(format!("unknown name `{n}`")),
    })
}

/// `support.js`'s `dirname`: up to the last `/`.
fn dirname(s: &str) -> String {
    s.rfind('/').map_or(s, |i| &s[..=i]).to_owned()
}

/// Evaluates a value built from literals and the names above.
fn eval(v: &Js, file: &File, vars: &[(&str, String)]) -> Result<String, String> {
    match v {
        Js::Str(s) => Ok(s.clone()),
        Js::Num(n) => Ok(num(*n)),
        Js::Bool(b) => Ok(b.to_string()),
        Js::Null => Ok("null".to_owned()),
        Js::Undefined => Ok("undefined".to_owned()),
        Js::Name(n) => name(n, file, vars),
        Js::Sum(parts) => parts.iter().map(|p| eval(p, file, vars)).collect(),
        Js::Call(f, args) => match (f.as_str(), args.as_slice()) {
            ("dirname", [a]) => Ok(dirname(&eval(a, file, vars)?)),
            ("encodeURIComponent", [a]) => Ok(encode_uri_component(&eval(a, file, vars)?)),
            (f, []) if f.ends_with(".toUpperCase") => {
                let recv = &f[..f.len() - ".toUpperCase".len()];
                Ok(name(recv, file, vars)?.to_uppercase())
            }
            // `x.replace(/^[^\.]+\./, "")`: the host without its first label.
            (f, [Js::Other(re), Js::Str(with)])
                if f.ends_with(".replace") && re.replace(' ', "") == "/^[^\\.]+\\./" =>
            {
                let recv = name(&f[..f.len() - ".replace".len()], file, vars)?;
                Ok(match recv.split_once('.') {
                    Some((_, rest)) => format!("{with}{rest}"),
                    None => recv,
                })
            }
            _ => Err(format!("cannot evaluate `{v}`")),
        },
        Js::Other(t) if t.starts_with('`') => template(t),
        _ => Err(format!("cannot evaluate `{v}`")),
    }
}

/// A template literal whose `${…}` are `'c'.repeat(n)`.
fn template(t: &str) -> Result<String, String> {
    let mut rest = t.trim_matches('`');
    let mut out = String::new();
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = start
            + rest[start..]
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {t}"))?;
        let inner: String = rest[start + 2..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let (lit, n) = inner
            .strip_suffix(')')
            .and_then(|s| s.split_once(".repeat("))
            .ok_or_else(|| format!("cannot evaluate `${{{inner}}}`"))?;
        let lit = lit.trim_matches(|c| c == '\'' || c == '"');
        let n: usize = n.parse().map_err(|_| format!("repeat count `{n}`"))?;
        out.push_str(&lit.repeat(n));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A WPT value in the scenario's terms: WPT's origins become `{origin}`, `{api}`,
/// `{other}`; a value still naming WPT's host cannot be expressed.
fn placeholders(s: &str) -> Result<String, String> {
    // Whole origins first, then the page's bare host with its port, then its last label
    // with the port (`web-platform.test` is the suite's `app.localhost`: `test:8000` is
    // `localhost:P1`).
    let out = s
        .replace(&ORIGIN.to_uppercase(), "{origin_upper}")
        .replace(REMOTE2, "{other}")
        .replace(REMOTE, "{api}")
        .replace(ORIGIN, "{origin}")
        .replace(HOSTPORT, "{app_hostport}")
        .replace(TLD_PORT, "{app_tld_port}");
    let lower = out.to_ascii_lowercase();
    if lower.contains("web-platform") || lower.contains(":8000") || lower.contains("https:") {
        return Err(BARE_HOST.to_owned());
    }
    Ok(out)
}

/// Where a URL the test requests is served, and its query (relative URLs are the page's).
fn locate(url: &str) -> Result<(Host, Query), String> {
    if url.starts_with("https:") {
        return Err(HTTPS.to_owned());
    }
    let (host, rest) = if let Some(r) = url.strip_prefix(REMOTE2) {
        (Host::Other, r)
    } else if let Some(r) = url.strip_prefix(REMOTE) {
        (Host::Api, r)
    } else if let Some(r) = url.strip_prefix(ORIGIN) {
        (Host::App, r)
    } else if url.contains("://") {
        return Err(format!("unknown origin in `{url}`"));
    } else {
        (Host::App, url)
    };
    let query = rest.split_once('?').map_or("", |(_, q)| q);
    // The scripts echo the query's values: name WPT's origins by placeholder there too.
    let q = Query::parse(query);
    Ok((
        host,
        Query(
            q.0.into_iter()
                .map(|(k, v)| {
                    let v = v
                        .replace(REMOTE2, "{other}")
                        .replace(REMOTE, "{api}")
                        .replace(ORIGIN, "{origin}");
                    (k, v)
                })
                .collect(),
        ),
    ))
}

/// The hops a request to `url` on `cors-makeheader.py` goes through: each `location`
/// parameter names the next hop (the script's `Location`).
fn makeheader_chain(url: &str) -> Result<Vec<HopSpec>, String> {
    let mut hops = Vec::new();
    let mut next = Some(url.to_owned());
    while let Some(u) = next.take() {
        let (host, q) = locate(&u)?;
        // The raw `location` (before placeholders): the next hop's URL.
        let raw = Query::parse(u.split_once('?').map_or("", |(_, q)| q));
        let loc = raw.get("location").map(str::to_owned);
        let location = match &loc {
            Some(l) => Some(hop_url(locate(l)?.0, hops.len() + 1)),
            None => None,
        };
        let (preflight, response) = servers::cors_makeheader_py(&q, location.as_deref());
        hops.push(HopSpec {
            host,
            preflight,
            response,
        });
        next = loc;
    }
    Ok(hops)
}

/// One hop.
fn one(host: Host, (preflight, response): (Reply, Reply)) -> Vec<HopSpec> {
    vec![HopSpec {
        host,
        preflight,
        response,
    }]
}

fn expect(ok: bool) -> Expect {
    Expect {
        ok,
        ..Expect::default()
    }
}

/// The calls of method `m` (`x.m(…)`) in `src`.
fn method_calls(src: &str, m: &str) -> Result<Vec<Vec<Js>>, String> {
    let alias = format!("__{m}");
    js::calls(
        &src.replace(&format!(".{m}("), &format!(" {alias}(")),
        &alias,
    )
}

/// The text of each test in `src`: from each `marker` (not part of a longer name) to the
/// next.
fn segments<'a>(src: &'a str, markers: &[&str]) -> Vec<&'a str> {
    let mut starts: Vec<usize> = Vec::new();
    for m in markers {
        for (i, _) in src.match_indices(m) {
            let before = src[..i].chars().next_back();
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                starts.push(i);
            }
        }
    }
    starts.sort_unstable();
    starts
        .iter()
        .enumerate()
        .map(|(n, &s)| &src[s..starts.get(n + 1).copied().unwrap_or(src.len())])
        .collect()
}

/// The value of `var name = …` written on one line without `;`.
fn line_binding(src: &str, name: &str) -> Result<Js, String> {
    let decl = format!("var {name} =");
    let line = src
        .lines()
        .find(|l| l.contains(&decl))
        .ok_or_else(|| format!("no {decl}"))?;
    js::binding(&format!("{};", line.trim().trim_end_matches(';')), name)?
        .ok_or_else(|| format!("no {decl}"))
}

/// The last argument of the first call of `f` in `src` (a test's name), as a string.
fn test_name(src: &str, f: &str, file: &File) -> Result<String, String> {
    let calls = js::calls(src, f)?;
    let last = calls
        .first()
        .and_then(|c| c.last())
        .ok_or_else(|| format!("no {f}(…) call"))?;
    eval(last, file, &[])
}

fn int(v: &Js) -> Result<i64, String> {
    v.num()
        .map(|n| n as i64)
        .ok_or_else(|| format!("number expected, found `{v}`"))
}

fn arg(args: &[Js], i: usize) -> &Js {
    args.get(i).unwrap_or(&Js::Undefined)
}

/// `JSON.stringify` of a string.
fn json(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// `JSON.stringify` of an object of strings.
fn json_object(fields: &[(String, String)]) -> String {
    let inner: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{}", json(k), json(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// An XHR as a test segment makes it: `open(method, url)`, `setRequestHeader(n, v)`,
/// `withCredentials = true`.
struct Xhr {
    method: String,
    url: String,
    request: Request,
}

fn xhr(seg: &str, file: &File, vars: &[(&str, String)]) -> Result<Option<Xhr>, String> {
    let Some(open) = method_calls(seg, "open")?.into_iter().next() else {
        return Ok(None);
    };
    let method = eval(arg(&open, 0), file, vars)?;
    let url = eval(arg(&open, 1), file, vars)?;
    let with_credentials = seg.contains("withCredentials = true");
    let mut request = Request::xhr(&method, with_credentials);
    for h in method_calls(seg, "setRequestHeader")? {
        request = request.header(
            &eval(arg(&h, 0), file, vars)?,
            &eval(arg(&h, 1), file, vars)?,
        );
    }
    Ok(Some(Xhr {
        method,
        url,
        request,
    }))
}

// ---------------------------------------------------------------------------------------
// The files.

/// `preflight-failure.htm`: a preflighted GET (`x-test`) whose preflight and response
/// have status `code` and redirect (on a 3xx) to a second `cors-makeheader.py`. Only a
/// 2xx preflight passes.
fn preflight_failure(file: &File) -> Result<Vec<Case>, String> {
    let src = script(file);
    let base = js::binding(&src, "CROSSDOMAIN_URL")?.ok_or("no CROSSDOMAIN_URL")?;
    let base = eval(&base, file, &[])?;
    let mut out = Vec::new();
    let mut req_c = 0;
    for table in js::for_each_arrays(&src, "preflight_failure")? {
        for c in table {
            let code = int(&c)?;
            let ok = (200..=299).contains(&code);
            let desc = format!(
                "Should {} if preflight has status {code}",
                if ok { "succeed" } else { "throw error" }
            );
            let redirect = encode_uri_component(&format!("{base}headers=x-test&{req_c}"));
            req_c += 1;
            let url = format!(
                "{base}headers=x-test&location={redirect}&code={code}&preflight={code}&{req_c}"
            );
            req_c += 1;
            let request = Request::xhr("GET", false).header("x-test", "test");
            out.push(super::scenario(
                file.name(&format!("status-{code}")),
                file.source(&desc),
                &request,
                makeheader_chain(&url)?,
                Vec::new(),
                expect(ok),
                &[],
            ));
        }
    }
    Ok(out)
}

/// `cors-safelisted-request-header.any.js`: a POST with one header to `preflight.py`;
/// WPT says whether it is preflighted (then it fails: only `x-print` is allowed).
fn safelisted_request_header(file: &File) -> Result<Vec<Case>, String> {
    // The tables are `[…].forEach(([value, preflight = false]) => safelist({name: value}, …))`.
    let src = script(file).replace(".forEach(([", ".forEach(__row, ([");
    let tables = js::for_each_arrays(&src, "__row")?;
    let uses = js::calls(&src, "safelist")?;
    if tables.len() != uses.len() {
        return Err(format!(
            "{} tables, {} safelist(…) calls",
            tables.len(),
            uses.len()
        ));
    }
    let url = format!(
        "{}resources/preflight.py?token=TOKEN",
        name("CROSSDOMAIN", file, &[])?
    );
    let (host, q) = locate(&url)?;
    let mut out = Vec::new();
    for (table, call) in tables.iter().zip(&uses) {
        let Some(Js::Object(fields)) = call.first() else {
            return Err("safelist(…) without a header object".into());
        };
        let header = &fields.first().ok_or("empty header object")?.0;
        for (i, row) in table.iter().enumerate() {
            let row = row.array().ok_or("table row is not an array")?;
            let value = eval(arg(row, 0), file, &[])?;
            let preflight = arg(row, 1).truthy().unwrap_or(false);
            let test = format!(
                "{} for {}",
                if preflight {
                    "Preflight"
                } else {
                    "No preflight"
                },
                json_object(&[(header.clone(), value.clone())])
            );
            let request = Request::get().method("POST").header(header, &value);
            let mut e = expect(!preflight);
            e.preflights = Some(usize::from(preflight));
            if !preflight {
                e.exposed = vec!["content-type".into()];
            }
            out.push(super::scenario(
                file.name(&format!("{header}-{i}")),
                file.source(&test),
                &request,
                one(host, servers::cors_preflight_py(&q)),
                Vec::new(),
                e,
                if preflight {
                    &[]
                } else {
                    &[
                        "the response body (\"NO\")",
                        "the Content-Type value (text/plain)",
                    ]
                },
            ));
        }
    }
    Ok(out)
}

/// `simple-requests.htm`: simple requests to `preflight.py` are not preflighted.
fn simple_requests(file: &File) -> Result<Vec<Case>, String> {
    let src = script(file);
    let url = format!(
        "{}resources/preflight.py?token=TOKEN",
        name("CROSSDOMAIN", file, &[])?
    );
    let (host, q) = locate(&url)?;
    let case = |method: &str, headers: &[(String, String)], test: String, id: String| {
        let mut request = Request::xhr(method, false);
        for (n, v) in headers {
            request = request.header(n, v);
        }
        let mut e = expect(true);
        e.preflights = Some(0);
        e.exposed = vec!["content-type".into()];
        super::scenario(
            file.name(&id),
            file.source(&test),
            &request,
            one(host, servers::cors_preflight_py(&q)),
            Vec::new(),
            e,
            &[
                "the response body (\"NO\", empty for HEAD)",
                "the Content-Type value (text/plain)",
            ],
        )
    };
    let object = |v: &Js| -> Result<Vec<(String, String)>, String> {
        match v {
            Js::Object(f) => f
                .iter()
                .map(|(k, v)| Ok((k.clone(), eval(v, file, &[])?)))
                .collect(),
            other => Err(format!("header object expected, found `{other}`")),
        }
    };
    let calls = js::calls(&src, "check_simple")?;
    // `check_simple_headers(h)` calls `check_simple(m, headers)` for each method.
    let methods: Vec<String> = calls
        .iter()
        .filter(|c| matches!(c.get(1), Some(Js::Name(_))))
        .map(|c| eval(arg(c, 0), file, &[]))
        .collect::<Result<_, _>>()?;
    let mut cases: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for c in js::calls(&src, "check_simple_headers")? {
        let headers = object(arg(&c, 0))?;
        for m in &methods {
            cases.push((m.clone(), headers.clone()));
        }
    }
    for c in calls
        .iter()
        .filter(|c| matches!(c.get(1), Some(Js::Object(_))))
    {
        cases.push((eval(arg(c, 0), file, &[])?, object(arg(c, 1))?));
    }
    let mut out = Vec::new();
    for (i, (method, headers)) in cases.iter().enumerate() {
        let test = format!("No preflight {method} and {}", json_object(headers));
        out.push(case(
            method,
            headers,
            test,
            format!("{}-{i}", method.to_lowercase()),
        ));
    }
    // The async test.
    for seg in segments(&src, &["async_test("]) {
        let test = eval(
            js::calls(seg, "async_test")?
                .first()
                .and_then(|c| c.first())
                .ok_or("async_test without a name")?,
            file,
            &[],
        )?;
        let vars = [("uuid_token", "TOKEN".to_owned())];
        let x = xhr(seg, file, &vars)?.ok_or("async test without open()")?;
        out.push(case(
            &x.method,
            &x.request.headers,
            test,
            "async".to_owned(),
        ));
    }
    Ok(out)
}

/// `status-async.htm`: `status.py` answering with `code`; 2xx through `statusRequest`,
/// the others through `statusRequestFail` (0: the preflight failed).
fn status_async(file: &File) -> Result<Vec<Case>, String> {
    let src = script(file);
    let base = format!("{}resources/status.py?", name("CROSSDOMAIN", file, &[])?);
    let mut out = Vec::new();
    for c in js::calls(&src, "statusRequest")? {
        let method = eval(arg(&c, 0), file, &[])?;
        let code = int(arg(&c, 1))?;
        let text = eval(arg(&c, 2), file, &[])?;
        let content = eval(arg(&c, 3), file, &[])?;
        let ty = eval(arg(&c, 4), file, &[])?;
        let url = format!("{base}code={code}&text={text}&content={content}&type={ty}");
        let (host, q) = locate(&url)?;
        let mut e = expect(true);
        e.status = Some(code as u16);
        e.exposed = vec!["x-request-method".into()];
        out.push(super::scenario(
            file.name(&format!("{}-{code}", method.to_lowercase())),
            file.source(&format!("Status on {method} {code}")),
            &Request::xhr(&method, false),
            one(host, servers::status_py(&q, &method)),
            Vec::new(),
            e,
            &[
                "statusText",
                "the X-Request-Method value",
                "the response body",
                "responseXML",
            ],
        ));
    }
    for c in js::calls(&src, "statusRequestFail")? {
        let method = eval(arg(&c, 0), file, &[])?;
        let code = int(arg(&c, 1))?;
        let expect_code = match arg(&c, 2) {
            Js::Undefined => code,
            v => int(v)?,
        };
        let nonsimple = arg(&c, 3).truthy().unwrap_or(false);
        let url = format!("{base}code={code}&headers=x-nonsimple&text=OHAI");
        let (host, q) = locate(&url)?;
        let mut request = Request::xhr(&method, false);
        if nonsimple {
            request = request.header("x-nonsimple", "true");
        }
        let mut e = expect(expect_code != 0);
        if expect_code != 0 {
            e.status = Some(expect_code as u16);
        }
        let suffix = if nonsimple { " (nonsimple)" } else { "" };
        out.push(super::scenario(
            file.name(&format!(
                "{}-{code}{}",
                method.to_lowercase(),
                if nonsimple { "-nonsimple" } else { "" }
            )),
            file.source(&format!("Status on {method} {code}{suffix}")),
            &request,
            one(host, servers::status_py(&q, &method)),
            Vec::new(),
            e,
            &["statusText", "the response body (empty)"],
        ));
    }
    Ok(out)
}

/// `status-preflight.htm`: a preflighted request (`x-nonsimple`, preflight 200) whose
/// response status `code` reaches script.
fn status_preflight(file: &File) -> Result<Vec<Case>, String> {
    let src = script(file);
    let raw = file.read(file.path)?;
    let title = raw
        .split_once("<title>")
        .and_then(|(_, t)| t.split_once("</title>"))
        .map(|(t, _)| t.trim().to_owned())
        .ok_or("no <title>")?;
    let base = format!("{}resources/status.py?", name("CROSSDOMAIN", file, &[])?);
    let mut out = Vec::new();
    for (n, c) in js::calls(&src, "statusAfterPreflight")?.iter().enumerate() {
        let counter = n + 1;
        let method = eval(arg(c, 0), file, &[])?;
        let code = int(arg(c, 1))?;
        let url = format!("{base}{counter}&code={code}&headers=x-nonsimple&preflight=200");
        let (host, q) = locate(&url)?;
        let mut e = expect(true);
        e.status = Some(code as u16);
        out.push(super::scenario(
            file.name(&format!("{}-{code}", method.to_lowercase())),
            file.source(&format!("{title} on {method} {code}")),
            &Request::xhr(&method, false).header("x-nonsimple", "true"),
            one(host, servers::status_py(&q, &method)),
            Vec::new(),
            e,
            &["the response body (empty)", "no error event after load"],
        ));
    }
    Ok(out)
}

/// `status.htm`: allowed or not × preflight status × response status.
fn status(file: &File) -> Result<Vec<Case>, String> {
    let src = script(file);
    let base = format!(
        "{}resources/cors-makeheader.py?",
        name("CROSSDOMAIN", file, &[])?
    );
    let mut out = Vec::new();
    for (n, c) in js::calls(&src, "testit")?.iter().enumerate() {
        let counter = n + 1;
        let allow = arg(c, 0).truthy().unwrap_or(false);
        let preflight = match arg(c, 1) {
            Js::Null | Js::Undefined => None,
            v => Some(int(v)?),
        };
        let response = match arg(c, 2) {
            Js::Null | Js::Undefined => None,
            v => Some(int(v)?),
        };
        let want = int(arg(c, 3))?;
        let test = format!(
            "{counter}. {}{}{}.",
            if allow {
                "CORS allowed"
            } else {
                "CORS disallowed"
            },
            preflight.map_or(String::new(), |p| format!(", preflight status {p}")),
            response.map_or(String::new(), |r| format!(", response status {r}")),
        );
        let url = format!(
            "{base}{counter}{}{}{}",
            if allow {
                "&headers=x-custom"
            } else {
                "&origin=none"
            },
            response.map_or(String::new(), |r| format!("&code={r}")),
            preflight.map_or(String::new(), |p| format!("&preflight={p}")),
        );
        let mut request = Request::xhr("GET", false);
        if preflight.is_some() {
            request = request.header("X-Custom", "preflight");
        }
        let mut e = expect(want != 0);
        if want != 0 {
            e.status = Some(want as u16);
        }
        out.push(super::scenario(
            file.name(&format!("case-{counter}")),
            file.source(&test),
            &request,
            makeheader_chain(&url)?,
            Vec::new(),
            e,
            &["readyState"],
        ));
    }
    Ok(out)
}

/// `origin.htm`: `Access-Control-Allow-Origin` values that allow the page, that do not,
/// and two lines.
fn origin(file: &File) -> Result<Vec<Case>, String> {
    let src = script(file);
    let base = format!(
        "{}/resources/cors-makeheader.py?",
        name("CROSSDOMAIN", file, &[])?
    );
    let mut out = Vec::new();
    let mut push =
        |id: String, test: String, query: Result<String, String>, ok: bool, dropped: &[&str]| {
            let case = match query.and_then(|q| locate(&format!("{base}{q}"))) {
                Err(reason) => Case::Skipped { test, reason },
                Ok((host, q)) => {
                    let mut e = expect(ok);
                    if ok {
                        e.origin = vec![(0, Some("{origin}".to_owned()))];
                    }
                    super::scenario(
                        file.name(&id),
                        file.source(&test),
                        &Request::xhr("GET", false),
                        one(host, servers::cors_makeheader_py(&q, None)),
                        Vec::new(),
                        e,
                        dropped,
                    )
                }
            };
            out.push(case);
        };
    let param = |v: &str| placeholders(v).map(|v| encode_uri_component(&v));
    for (i, c) in js::calls(&src, "shouldPass")?.iter().enumerate() {
        let v = eval(arg(c, 0), file, &[])?;
        let test = format!(
            "Allow origin: {}",
            v.replace('\t', "[tab]").replace(' ', "_")
        );
        push(
            format!("allow-{i}"),
            test,
            param(&v).map(|p| format!("origin={p}")),
            true,
            &[],
        );
    }
    for (i, c) in js::calls(&src, "shouldFail")?.iter().enumerate() {
        let test_of = |v: &str| format!("Disallow origin: {}", v.replace('\0', "\\0"));
        match eval(arg(c, 0), file, &[]) {
            Ok(v) => push(
                format!("disallow-{i}"),
                test_of(&v),
                param(&v).map(|p| format!("origin={p}")),
                false,
                &[
                    "WPT requests `cors-makeheader.pu` (a typo: a 404 that fails whatever the value); the scenario serves the intended cors-makeheader.py reply",
                ],
            ),
            // `(…).toUpperCase()` of a sum: the name is still WPT's.
            Err(_) if matches!(arg(c, 0), Js::Other(t) if t.ends_with(". toUpperCase ( )")) => {
                let Js::Other(t) = arg(c, 0) else { continue };
                let inner = t
                    .trim_start_matches("( ")
                    .trim_end_matches(" ) . toUpperCase ( )");
                let v = if inner == "location . protocol + \"//\" + location . host" {
                    ORIGIN.to_uppercase()
                } else {
                    return Err(format!("cannot evaluate `{t}`"));
                };
                push(
                    format!("disallow-{i}"),
                    test_of(&v),
                    Ok("origin={origin_upper}".to_owned()),
                    false,
                    &[],
                );
            }
            Err(e) => return Err(e),
        }
    }
    for (i, c) in js::calls(&src, "doubleOrigin")?.iter().enumerate() {
        let a = eval(arg(c, 0), file, &[])?;
        let b = eval(arg(c, 1), file, &[])?;
        let test = format!("Disallow multiple headers ({a}, {b})");
        let q = param(&a).and_then(|a| Ok(format!("origin={a}&origin2={}", param(&b)?)));
        push(format!("double-{i}"), test, q, false, &[]);
    }
    Ok(out)
}

/// `redirect-origin.htm`: two `cors-makeheader.py` hops on local/remote/remote2 with an
/// `Access-Control-Allow-Origin` each; the second sees `Origin` = the page or `null`.
fn redirect_origin(file: &File) -> Result<Vec<Case>, String> {
    let src = script(file);
    // `var … origin = location.protocol + "//" + location.host, remote_origin = …,
    // local = dirname(location.href) + 'resources/cors-makeheader.py', remote = …`.
    let local = format!(
        "{}resources/cors-makeheader.py",
        dirname(&name("location.href", file, &[])?)
    );
    let vars = [
        ("origin", ORIGIN.to_owned()),
        ("remote_origin", REMOTE.to_owned()),
    ];
    let urls = [
        ("local", local.clone()),
        ("remote", local.replacen("://", "://www1.", 1)),
        ("remote2", local.replacen("://", "://www2.", 1)),
    ];
    let url_of = |n: &str| {
        urls.iter()
            .find(|(k, _)| *k == n)
            .map(|(_, u)| u.clone())
            .ok_or_else(|| format!("unknown host `{n}`"))
    };
    let mut out = Vec::new();
    for (id, c) in js::calls(&src, "redir_test")?.iter().enumerate() {
        let pair = |v: &Js| -> Result<(String, String), String> {
            let a = v.array().ok_or("redir_test: array expected")?;
            Ok((eval(arg(a, 0), file, &vars)?, eval(arg(a, 1), file, &vars)?))
        };
        let (h1, o1) = pair(arg(c, 0))?;
        let (h2, o2) = pair(arg(c, 1))?;
        let want = eval(arg(c, 2), file, &vars)?;
        let first = format!("{}?origin={o1}", url_of(&h1)?);
        let second = format!("{}?origin={o2}", url_of(&h2)?);
        // buildURL
        let last = format!("{second}&get_value=last&{id}_1");
        let url = format!("{first}&location={}&{id}_0", encode_uri_component(&last));
        let ok = want != "disallow";
        let test = if ok {
            format!("{h1} ({o1}) to {h2} ({o2}), expect origin={want}")
        } else {
            format!("{h1} ({o1}) to {h2} ({o2}), expect to fail")
        };
        let mut e = expect(ok);
        if ok {
            e.origin = vec![(1, Some(placeholders(&want)?))];
        }
        out.push(super::scenario(
            file.name(&format!("case-{id}")),
            file.source(&test),
            &Request::xhr("GET", false),
            makeheader_chain(&url)?,
            Vec::new(),
            e,
            &["get_value=last echoed in the body"],
        ));
    }
    Ok(out)
}

/// `redirect-preflight.htm`: a 200 preflight, then a 301–308 redirect to a second
/// `cors-makeheader.py` that allows `x-test` too.
fn redirect_preflight(file: &File) -> Result<Vec<Case>, String> {
    let src = script(file);
    let cross = name("CROSSDOMAIN", file, &[])?;
    let mut out = Vec::new();
    let mut req_c = 0;
    for table in js::for_each_arrays(&src, "redir_after_successfull_preflight")? {
        for c in table {
            let code = int(&c)?;
            let redirect = encode_uri_component(&format!(
                "{cross}resources/cors-makeheader.py?headers=x-test&{req_c}"
            ));
            req_c += 1;
            let url = format!(
                "{cross}resources/cors-makeheader.py?preflight=200&headers=x-test&location={redirect}&code={code}&{req_c}"
            );
            req_c += 1;
            let mut e = expect(true);
            e.status = Some(200);
            out.push(super::scenario(
                file.name(&format!("redirect-{code}")),
                file.source(&format!(
                    "Should allow redirect {code} after successful (200) preflight"
                )),
                &Request::xhr("GET", false).header("x-test", "test"),
                makeheader_chain(&url)?,
                Vec::new(),
                e,
                &[],
            ));
        }
    }
    Ok(out)
}

/// `redirect-preflight-2.htm`: a same-origin request with `custom-header` redirected
/// cross-origin needs a preflight there.
fn redirect_preflight_2(file: &File) -> Result<Vec<Case>, String> {
    let src = script(file);
    let mut out = Vec::new();
    for (i, seg) in segments(&src, &["async_test("]).iter().enumerate() {
        let test = test_name(seg, "async_test", file)?;
        let vars = [
            ("test_id", "ID".to_owned()),
            ("uuid_token", "TOKEN".to_owned()),
        ];
        let last = line_binding(seg, "last_url")?;
        let last = eval(&last, file, &vars)?;
        let mut vars = vars.to_vec();
        vars.push(("last_url", last));
        let x = xhr(seg, file, &vars)?.ok_or("no open()")?;
        // The first `onerror` handler ends the test (expected failure) or is unreached.
        let onerror = seg
            .split_once("client.onerror")
            .map_or("", |(_, r)| r.split_once("})").map_or(r, |(h, _)| h));
        let ok = !onerror.contains("this.done()");
        let mut e = expect(ok);
        if seg.contains("did preflight") {
            e.preflights = Some(1);
        }
        out.push(super::scenario(
            file.name(&format!("case-{i}")),
            file.source(&test),
            &x.request,
            makeheader_chain(&x.url)?,
            Vec::new(),
            e,
            &[],
        ));
    }
    Ok(out)
}

/// `request-headers.htm`, `client-hint-request-headers.htm`: sync XHRs with headers to
/// `cors-makeheader.py?headers=…`; `assert_throws` → the request fails.
fn request_headers(file: &File) -> Result<Vec<Case>, String> {
    let src = script(file);
    let mut out = Vec::new();
    for (i, seg) in segments(&src, &["test(function"]).iter().enumerate() {
        let test = test_name(seg, "test", file)?;
        if seg.contains("INVALID_STATE_ERR") {
            out.push(Case::Skipped {
                test,
                reason: "XHR API (setRequestHeader's INVALID_STATE_ERR), not a fetch".into(),
            });
            continue;
        }
        let x = xhr(seg, file, &[])?.ok_or("no open()")?;
        let ok = !seg.contains("assert_throws");
        out.push(super::scenario(
            file.name(&format!("case-{i}")),
            file.source(&test),
            &x.request,
            makeheader_chain(&x.url)?,
            Vec::new(),
            expect(ok),
            if ok {
                &["the request headers the server echoes in the body"]
            } else {
                &[]
            },
        ));
    }
    Ok(out)
}

/// `credentials-flag.htm`: `Access-Control-Allow-Credentials` values other than `true`
/// fail a credentialed request; the cookie round trips are not converted.
fn credentials_flag(file: &File) -> Result<Vec<Case>, String> {
    let src = script(file);
    let mut out = Vec::new();
    for seg in segments(&src, &["test(function", "promise_test(function"]) {
        let f = if seg.starts_with("promise_test") {
            "promise_test"
        } else {
            "test"
        };
        let Ok(test) = test_name(seg, f, file) else {
            continue; // the test inside `test_response_header`, below
        };
        let reason = if seg.contains("cors-cookie") || seg.contains("url + id") {
            "a cookie round trip through cors-cookie.py, read back from the response body"
        } else {
            "XHR API (setting withCredentials on a sync XHR), not a fetch"
        };
        out.push(Case::Skipped {
            test,
            reason: reason.into(),
        });
    }
    let cross = name("CROSSDOMAIN", file, &[])?;
    for c in js::calls(&src, "test_response_header")? {
        let allow = eval(arg(&c, 0), file, &[])?;
        let url = format!("{cross}resources/cors-makeheader.py?credentials={}", allow);
        out.push(super::scenario(
            file.name(&format!("acac-{}", allow.replace('"', "quoted-"))),
            file.source(&format!(
                "Access-Control-Allow-Credentials: {allow} should be disallowed (async)"
            )),
            &Request::xhr("GET", true),
            makeheader_chain(&url)?,
            Vec::new(),
            expect(false),
            &["readyState"],
        ));
    }
    Ok(out)
}

/// `basic.htm`: not convertible at this commit.
fn basic(file: &File) -> Result<Vec<Case>, String> {
    let src = script(file);
    let mut out = Vec::new();
    for c in js::calls(&src, "cors")? {
        let desc = eval(arg(&c, 0), file, &[])?;
        let scheme = eval(arg(&c, 1), file, &[])?;
        for variant in ["none", "echo"] {
            let reason = if scheme == "https" {
                HTTPS.to_owned()
            } else {
                "at this commit the test never calls send() (it times out) and requests cross-origin URLs as relative (same-origin) ones: nothing faithful to translate".to_owned()
            };
            out.push(Case::Skipped {
                test: format!("{desc}: origin: {variant}"),
                reason,
            });
        }
    }
    Ok(out)
}

/// `preflight-cache.htm`: GETs with `x-print` to `preflight.py`, repeated; WPT checks
/// after each whether it was preflighted.
fn preflight_cache(file: &File) -> Result<Vec<Case>, String> {
    let src = script(file);
    let cross = name("CROSSDOMAIN", file, &[])?;
    let mut out = Vec::new();
    for (i, seg) in segments(&src, &["test(function", "async_test("])
        .iter()
        .enumerate()
    {
        // (request, wait before it)
        let mut requests: Vec<(Request, u64)> = Vec::new();
        let mut preflights = 0;
        let test;
        let url;
        if seg.starts_with("async_test") {
            test = eval(
                js::calls(seg, "async_test")?
                    .first()
                    .and_then(|c| c.first())
                    .ok_or("async_test without a name")?,
                file,
                &[],
            )?;
            let vars = [("token1", "TOKEN".to_owned())];
            let u = js::binding(seg, "request_url")?.ok_or("no request_url")?;
            url = eval(&u, file, &vars)?;
            let (before_wait, after_wait) = seg.split_once("step_timeout(").ok_or("no wait")?;
            let wait: u64 = after_wait
                .rsplit_once("}), ")
                .and_then(|(_, r)| r.split(')').next())
                .and_then(|n| n.trim().parse().ok())
                .ok_or("no wait time")?;
            // How many calls come before the wait.
            let before_n = before_wait.matches("dothing(").count();
            for (n, c) in js::calls(seg, "dothing")?.iter().enumerate() {
                let msg = eval(arg(c, 1), file, &vars)?;
                if arg(c, 2).truthy().unwrap_or(false) {
                    let w = if n >= before_n && requests.iter().all(|r| r.1 == 0) {
                        wait
                    } else {
                        0
                    };
                    requests.push((Request::xhr("GET", false).header("x-print", &msg), w));
                } else if msg == "1" {
                    preflights += 1;
                }
            }
        } else {
            test = test_name(seg, "test", file)?;
            let mut u = None;
            for c in js::calls(seg, "did_preflight")? {
                let settings = arg(&c, 2);
                let extra = match settings.get("extra") {
                    Some(e) => format!("&{}", eval(e, file, &[])?),
                    None => String::new(),
                };
                let method = match settings.get("method") {
                    Some(m) => eval(m, file, &[])?,
                    None => "GET".to_owned(),
                };
                u = Some(format!("{cross}resources/preflight.py?token=TOKEN{extra}"));
                if arg(&c, 0).truthy().unwrap_or(false) {
                    preflights += 1;
                }
                requests.push((Request::xhr(&method, false).header("x-print", "TOKEN"), 0));
            }
            url = u.ok_or("no did_preflight(…)")?;
        }
        let (host, q) = locate(&url)?;
        let (last, last_wait) = requests.pop().ok_or("no request")?;
        // `before` holds each earlier fetch with the wait *after* it (the wait before
        // the next one).
        let mut waits: Vec<u64> = requests.iter().skip(1).map(|r| r.1).collect();
        waits.push(last_wait);
        let before = requests
            .into_iter()
            .zip(waits)
            .map(|((r, _), w)| (r, w))
            .collect();
        let mut e = expect(true);
        e.preflights = Some(preflights);
        out.push(super::scenario(
            file.name(&format!("case-{i}")),
            file.source(&test),
            &last,
            one(host, servers::cors_preflight_py(&q)),
            before,
            e,
            &["the response body (the x-print value)"],
        ));
    }
    Ok(out)
}

/// `response-headers.htm`: one `cors-headers.py` reply; which names script can read.
fn response_headers(file: &File) -> Result<Vec<Case>, String> {
    let src = script(file);
    let url = format!(
        "{}resources/cors-headers.py",
        name("CROSSDOMAIN", file, &[])?
    );
    let (host, _) = locate(&url)?;
    let reply = servers::cors_headers_py();
    let mut out = Vec::new();
    let case =
        |id: String, test: String, exposed: Vec<String>, hidden: Vec<String>, dropped: &[&str]| {
            let mut e = expect(true);
            e.exposed = exposed;
            e.hidden = hidden;
            super::scenario(
                file.name(&id),
                file.source(&test),
                &Request::xhr("GET", false),
                one(host, (reply.clone(), reply.clone())),
                Vec::new(),
                e,
                dropped,
            )
        };
    for (i, c) in js::calls(&src, "check_response_header")?.iter().enumerate() {
        let (Js::Str(head), Js::Str(desc)) = (arg(c, 0), arg(c, 2)) else {
            continue; // inside default_readable / default_unreadable
        };
        if head.trim() != head {
            out.push(Case::Skipped {
                test: desc.clone(),
                reason: "XHR API (whitespace in getResponseHeader's name argument), not a fetch"
                    .into(),
            });
            continue;
        }
        match arg(c, 1) {
            Js::Null => out.push(case(
                format!("check-{i}"),
                desc.clone(),
                vec![],
                vec![head.to_lowercase()],
                &[],
            )),
            _ => out.push(case(
                format!("check-{i}"),
                desc.clone(),
                vec![head.to_lowercase()],
                vec![],
                &["the header's value"],
            )),
        }
    }
    for c in js::calls(&src, "default_readable")? {
        let head = eval(arg(&c, 0), file, &[])?;
        out.push(case(
            format!("readable-{}", head.to_lowercase()),
            format!("getResponseHeader: {head}: readable by default"),
            vec![head.to_lowercase()],
            vec![],
            &["the header's value"],
        ));
    }
    for c in js::calls(&src, "default_unreadable")? {
        let head = eval(arg(&c, 0), file, &[])?;
        out.push(case(
            format!("unreadable-{}", head.to_lowercase()),
            format!("getResponseHeader: {head}: unreadable by default"),
            vec![],
            vec![head.to_lowercase()],
            &[],
        ));
    }
    // The tests written out: `assert_equals(client.getResponseHeader(n), v)` (null:
    // hidden) and `h.indexOf(n) >= 0` / `=== -1` on getAllResponseHeaders().
    let tail = src
        .split_once("function default_unreadable")
        .map_or("", |(_, t)| t);
    for (i, seg) in segments(tail, &["test(function", "async_test("])
        .iter()
        .enumerate()
    {
        let test = if seg.starts_with("async_test") {
            eval(
                js::calls(seg, "async_test")?
                    .first()
                    .and_then(|c| c.first())
                    .ok_or("async_test without a name")?,
                file,
                &[],
            )?
        } else {
            test_name(seg, "test", file)?
        };
        // Before the response (readyState 1) nothing is readable: XHR API.
        let body = seg.split_once("readyState > 1").map_or(*seg, |(_, r)| r);
        let (mut exposed, mut hidden) = (Vec::new(), Vec::new());
        for a in js::calls(body, "assert_equals")? {
            let Js::Call(f, args) = arg(&a, 0) else {
                continue;
            };
            if !f.ends_with("getResponseHeader") {
                continue;
            }
            let n = eval(arg(args, 0), file, &[])?.to_lowercase();
            match arg(&a, 1) {
                Js::Null => hidden.push(n),
                _ => exposed.push(n),
            }
        }
        for a in js::calls(body, "assert_true")? {
            let Js::Other(t) = arg(&a, 0) else { continue };
            let Some((_, rest)) = t.split_once("indexOf ( \"") else {
                continue;
            };
            let Some((n, cmp)) = rest.split_once('"') else {
                continue;
            };
            if cmp.contains(">= 0") {
                exposed.push(n.to_owned());
            } else if cmp.contains("=== - 1") || cmp.contains("=== -1") {
                hidden.push(n.to_owned());
            }
        }
        if exposed.is_empty() && hidden.is_empty() {
            return Err(format!("`{test}`: no header checks read"));
        }
        let dropped: &[&str] = if seg.starts_with("async_test") {
            &[
                "the header values",
                "nothing readable at readyState 1 (XHR API)",
            ]
        } else {
            &["the header values"]
        };
        out.push(case(
            format!("combined-{i}"),
            test,
            exposed,
            hidden,
            dropped,
        ));
    }
    Ok(out)
}

/// `redirect-userinfo.htm`: a redirect from the cross origin to the same cross origin
/// with userinfo in the `Location` (`test:test@`, `user:@`, `:pass@`: refused; `:@` and
/// `@`, which URL parsing drops: followed).
fn redirect_userinfo(file: &File) -> Result<Vec<Case>, String> {
    let src = script(file);
    let base = format!(
        "{}resources/cors-makeheader.py?",
        name("CROSSDOMAIN", file, &[])?
    );
    let mut out = Vec::new();
    let mut id = 0;
    for (f, ok) in [("shouldFail", false), ("shouldPass", true)] {
        for c in js::calls(&src, f)? {
            let test = eval(arg(&c, 0), file, &[])?;
            let urls = arg(&c, 1)
                .array()
                .ok_or("redirect-userinfo: array expected")?;
            // `CROSSDOMAIN.replace("http://", "http://USERINFO@") + "resources/…"`.
            let userinfo = match arg(urls, 1) {
                Js::Sum(parts) => match parts.first() {
                    Some(Js::Call(f, args)) if f == "CROSSDOMAIN.replace" => match args.get(1) {
                        Some(Js::Str(with)) => with
                            .strip_prefix("http://")
                            .and_then(|u| u.strip_suffix('@'))
                            .map(str::to_owned),
                        _ => None,
                    },
                    _ => None,
                },
                _ => None,
            }
            .ok_or_else(|| format!("redirect-userinfo: unexpected {:?}", arg(urls, 1)))?;
            // `buildURL`: the first hop redirects to the second, which answers.
            let (host, q1) = locate(&format!("{base}location=next"))?;
            let (_, q2) = locate(&base)?;
            let location = format!(
                "http://{userinfo}@{}/s/{{id}}/1",
                host.origin().replace('}', "_hostport}")
            );
            let (p1, r1) = servers::cors_makeheader_py(&q1, Some(&location));
            let (p2, r2) = servers::cors_makeheader_py(&q2, None);
            let mut e = expect(ok);
            if ok {
                e.origin = vec![(1, Some("{origin}".to_owned()))];
            }
            out.push(super::scenario(
                file.name(&format!("case-{id}")),
                file.source(&test),
                &Request::xhr("GET", false),
                vec![
                    HopSpec {
                        host,
                        preflight: p1,
                        response: r1,
                    },
                    HopSpec {
                        host,
                        preflight: p2,
                        response: r2,
                    },
                ],
                Vec::new(),
                e,
                &[],
            ));
            id += 1;
        }
    }
    Ok(out)
}
