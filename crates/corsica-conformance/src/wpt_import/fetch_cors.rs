//! `fetch/api/cors/`: the Fetch API's CORS tests. Each translator reads the file's helper
//! calls and loop tables and repeats what the helper does: the URL parameters it sends to
//! `fetch/api/resources/preflight.py`, `redirect.py` or `top.txt`, the `fetch()` init,
//! and what it asserts.

use super::js::{self, Js};
use super::servers;
use super::{Case, File, HTTPS, HopSpec, Host, Request, Translator, Url, hop_url, scenario};
use crate::wpt::Expect;

/// The translated files of `fetch/api/cors/`.
pub(crate) fn translators() -> Vec<Translator> {
    vec![
        Translator {
            path: "fetch/api/cors/cors-basic.any.js",
            tests: 15,
            translate: cors_basic,
        },
        Translator {
            path: "fetch/api/cors/cors-origin.any.js",
            tests: 17,
            translate: cors_origin,
        },
        Translator {
            path: "fetch/api/cors/cors-no-preflight.any.js",
            tests: 15,
            translate: cors_no_preflight,
        },
        Translator {
            path: "fetch/api/cors/cors-preflight-status.any.js",
            tests: 27,
            translate: cors_preflight_status,
        },
        Translator {
            path: "fetch/api/cors/cors-preflight.any.js",
            tests: 16,
            translate: cors_preflight,
        },
        Translator {
            path: "fetch/api/cors/cors-preflight-not-cors-safelisted.any.js",
            tests: 14,
            translate: cors_preflight_not_safelisted,
        },
        Translator {
            path: "fetch/api/cors/cors-preflight-response-validation.any.js",
            tests: 2,
            translate: cors_preflight_response_validation,
        },
        Translator {
            path: "fetch/api/cors/cors-preflight-star.any.js",
            tests: 10,
            translate: cors_preflight_star,
        },
        Translator {
            path: "fetch/api/cors/cors-preflight-cache.any.js",
            tests: 1,
            translate: cors_preflight_cache,
        },
        Translator {
            path: "fetch/api/cors/cors-preflight-redirect.any.js",
            tests: 10,
            translate: cors_preflight_redirect,
        },
        Translator {
            path: "fetch/api/cors/cors-redirect.any.js",
            tests: 20,
            translate: cors_redirect,
        },
        Translator {
            path: "fetch/api/cors/cors-redirect-preflight.any.js",
            tests: 30,
            translate: cors_redirect_preflight,
        },
        Translator {
            path: "fetch/api/cors/cors-redirect-credentials.any.js",
            tests: 65,
            translate: cors_redirect_credentials,
        },
        Translator {
            path: "fetch/api/cors/cors-filtering.js",
            tests: 18,
            translate: cors_filtering,
        },
        Translator {
            path: "fetch/api/cors/cors-expose-star.js",
            tests: 3,
            translate: cors_expose_star,
        },
        Translator {
            path: "fetch/api/cors/cors-multiple-origins.js",
            tests: 6,
            translate: cors_multiple_origins,
        },
    ]
}

/// The hops a request to `start` goes through on `fetch/api/resources`' scripts:
/// `redirect.py` sends it on to its `location` (its own parameters appended, as it does
/// for http(s) URLs), the others answer it.
pub(super) fn chain(start: Url) -> Result<Vec<HopSpec>, String> {
    let mut hops = Vec::new();
    let mut cur = start;
    loop {
        if hops.len() > 20 {
            return Err("more than 20 redirects".into());
        }
        let (preflight, response) = match cur.resource.as_str() {
            "redirect.py" => {
                let location = cur
                    .query
                    .get("location")
                    .ok_or("redirect.py without a location")?
                    .to_owned();
                if location.contains(':') && !location.contains('{') {
                    // Another scheme (`data:`): sent as is, the chain ends.
                    let (p, r) = servers::fetch_redirect_py(&cur.query, Some(&location));
                    hops.push(HopSpec {
                        host: cur.host,
                        preflight: p,
                        response: r,
                    });
                    return Ok(hops);
                }
                let next = Url::parse(&location, cur.host)?;
                let i = hops.len() + 1;
                let target = match &next.userinfo {
                    Some(u) => format!(
                        "http://{u}@{{{}_hostport}}/s/{{id}}/{i}",
                        next.host.origin().trim_matches(['{', '}'])
                    ),
                    None => hop_url(next.host, i),
                };
                let (p, r) = servers::fetch_redirect_py(&cur.query, Some(&target));
                hops.push(HopSpec {
                    host: cur.host,
                    preflight: p,
                    response: r,
                });
                let query = if cur.query.has("omit_parameters") {
                    next.query.clone()
                } else {
                    next.query.then(&cur.query)
                };
                cur = Url { query, ..next };
                continue;
            }
            "preflight.py" => servers::fetch_preflight_py(&cur.query),
            "top.txt" => {
                let r = servers::static_file(cur.query.get("pipe"), &[])?;
                (r.clone(), r)
            }
            "cors-top.txt" => {
                let r = servers::static_file(
                    cur.query.get("pipe"),
                    &[("Access-Control-Allow-Origin", "*")],
                )?;
                (r.clone(), r)
            }
            "inspect-headers.py" => servers::inspect_headers_py(&cur.query)?,
            other => return Err(format!("no model of the server resource `{other}`")),
        };
        hops.push(HopSpec {
            host: cur.host,
            preflight,
            response,
        });
        return Ok(hops);
    }
}

/// One call of a redirect helper for one code of the file's `for (… of [301, …])` table:
/// the arguments evaluated with the loop variable bound (`desc` at `first`, then the
/// redirecting URL, the location and the status).
pub(super) struct RedirectCall {
    pub desc: String,
    pub redirect_url: String,
    pub location: String,
    pub status: String,
    pub args: Vec<Js>,
    pub vars: Vec<(&'static str, Js)>,
}

/// Every call of `helper` for every code of the file's first loop table (bound to `var`),
/// the code loop outside as in the file. `skip` is the index of an argument between the
/// description and the URL that is not one of them (`method`).
pub(super) fn redirect_calls(
    file: &File,
    helper: &str,
    var: &'static str,
    skip: Option<usize>,
) -> Result<Vec<RedirectCall>, String> {
    let codes = js::loop_arrays(&file.script)?
        .into_iter()
        .next()
        .ok_or("no code table")?;
    let calls = file.calls(helper)?;
    let mut out = Vec::new();
    for code in codes {
        let vars = vec![(var, code.clone())];
        for args in &calls {
            let at = |i: usize| {
                if skip.is_some_and(|s| i >= s) {
                    i + 1
                } else {
                    i
                }
            };
            out.push(RedirectCall {
                desc: arg(file, args, 0, &vars)?,
                redirect_url: arg(file, args, at(1), &vars)?,
                location: arg(file, args, at(2), &vars)?,
                status: arg(file, args, at(3), &vars)?,
                args: args.clone(),
                vars: vars.clone(),
            });
        }
    }
    Ok(out)
}

/// A short, stable case id from a test name.
pub(super) fn slug(test: &str) -> String {
    let mut s = String::new();
    for c in test.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    s.trim_matches('-').to_owned()
}

/// Argument `i` of a call, evaluated to a string.
pub(super) fn arg(
    file: &File,
    args: &[Js],
    i: usize,
    vars: &[(&str, Js)],
) -> Result<String, String> {
    file.eval(args.get(i).unwrap_or(&Js::Undefined), vars)
}

/// The `[[name, value], …]` headers an argument holds (a literal or a name bound to one);
/// `None` for `null`/`undefined`.
fn header_list(file: &File, value: Option<&Js>) -> Result<Option<Vec<(String, String)>>, String> {
    let value = match value {
        None | Some(Js::Null | Js::Undefined) => return Ok(None),
        Some(Js::Name(n)) => {
            js::binding(&file.script, n)?.ok_or(format!("`{n}` is not defined"))?
        }
        Some(v) => v.clone(),
    };
    let items = value
        .array()
        .ok_or(format!("`{value}` is not a header list"))?;
    items
        .iter()
        .map(|pair| match pair.array() {
            Some([n, v]) => Ok((file.eval(n, &[])?, file.eval(v, &[])?)),
            _ => Err(format!("`{pair}` is not a [name, value] pair")),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// A case, or a skipped one when `build` meets an `https:` origin.
fn case_or_https(
    test: String,
    build: impl FnOnce() -> Result<Case, String>,
) -> Result<Case, String> {
    match build() {
        Err(e) if e == HTTPS => Ok(Case::Skipped {
            test,
            reason: HTTPS.to_owned(),
        }),
        other => other,
    }
}

/// A scenario on the hops `url` leads through.
pub(super) fn simple(
    file: &File,
    test: &str,
    request: &Request,
    url: &str,
    expect: Expect,
    dropped: &[&str],
) -> Result<Case, String> {
    let hops = chain(Url::parse(url, Host::App)?)?;
    Ok(scenario(
        file.name(&slug(test)),
        file.source(test),
        request,
        hops,
        Vec::new(),
        expect,
        dropped,
    ))
}

fn ok(status: u16) -> Expect {
    Expect {
        ok: true,
        status: Some(status),
        ..Expect::default()
    }
}

fn fails() -> Expect {
    Expect::default()
}

/// `cors(desc, origin)`: `top.txt` in no-cors mode (opaque), in cors mode without
/// `Access-Control-Allow-Origin` (TypeError) and with `*` (200, `cors`).
fn cors_basic(file: &File) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for args in file.calls("cors")? {
        let desc = arg(file, &args, 0, &[])?;
        let origin = arg(file, &args, 1, &[]);
        let pipe = "?pipe=header(Access-Control-Allow-Origin,*)";
        let cases: [(String, Request, String, Expect, &[&str]); 3] = [
            (
                format!("{desc} [no-cors mode]"),
                Request::get().mode("no-cors"),
                pipe.to_owned(),
                Expect {
                    ok: true,
                    status: Some(0),
                    response_type: Some("opaque".into()),
                    ..Expect::default()
                },
                &["statusText is empty", "the body is empty"],
            ),
            (
                format!("{desc} [server forbid CORS]"),
                Request::get(),
                String::new(),
                fails(),
                &[],
            ),
            (
                format!("{desc} [cors mode]"),
                Request::get(),
                pipe.to_owned(),
                Expect {
                    response_type: Some("cors".into()),
                    ..ok(200)
                },
                &[],
            ),
        ];
        for (test, request, query, expect, dropped) in cases {
            out.push(case_or_https(test.clone(), || {
                let origin = origin.clone()?;
                simple(
                    file,
                    &test,
                    &request,
                    &format!("{origin}/../resources/top.txt{query}"),
                    expect,
                    dropped,
                )
            })?);
        }
    }
    Ok(out)
}

/// `corsOrigin(desc, baseURL, method, origin, shouldPass)`: `preflight.py` allowing
/// `origin` (the target's own origin when falsy) and `method`.
fn cors_origin(file: &File) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for args in file.calls("corsOrigin")? {
        let desc = arg(file, &args, 0, &[])?;
        let method = arg(file, &args, 2, &[])?;
        let pass = args
            .get(4)
            .and_then(Js::truthy)
            .ok_or("shouldPass is not a literal")?;
        out.push(case_or_https(desc.clone(), || {
            let base = arg(file, &args, 1, &[])?;
            let origin = match args.get(3) {
                Some(v) if v.truthy() == Some(true) || matches!(v, Js::Name(_)) => file.eval(v, &[])?,
                _ => base.clone(),
            };
            let url = format!(
                "{base}/../resources/preflight.py?token=T&max_age=0&origin={}&allow_methods={method}",
                servers::encode_uri_component(&origin)
            );
            let expect = if pass { ok(200) } else { fails() };
            simple(file, &desc, &Request::get().method(&method), &url, expect, &[])
        })?);
    }
    Ok(out)
}

/// `corsNoPreflight(desc, baseURL, method, headerName, headerValue)`: no preflight.
fn cors_no_preflight(file: &File) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for args in file.calls("corsNoPreflight")? {
        let desc = arg(file, &args, 0, &[])?;
        out.push(case_or_https(desc.clone(), || {
            let base = arg(file, &args, 1, &[])?;
            let mut request = Request::get().method(&arg(file, &args, 2, &[])?);
            if args.get(3).and_then(Js::truthy) == Some(true) {
                request = request.header(&arg(file, &args, 3, &[])?, &arg(file, &args, 4, &[])?);
            }
            let expect = Expect {
                preflights: Some(0),
                ..ok(200)
            };
            let url = format!("{base}/../resources/preflight.py?token=T&max_age=0");
            simple(file, &desc, &request, &url, expect, &[])
        })?);
    }
    Ok(out)
}

/// `corsPreflightStatus(desc, corsUrl, status)` over the file's status table: only a 2xx
/// preflight lets the request through.
fn cors_preflight_status(file: &File) -> Result<Vec<Case>, String> {
    let statuses = js::loop_arrays(&file.script)?
        .into_iter()
        .next()
        .ok_or("no status table")?;
    let [call] = file
        .calls("corsPreflightStatus")?
        .try_into()
        .map_err(|_| "one call expected")?;
    let mut out = Vec::new();
    for status in statuses {
        let n = status.num().ok_or("status is not a number")? as u16;
        let vars = [("status", status.clone())];
        let desc = arg(file, &call, 0, &vars)?;
        let url = arg(file, &call, 1, &vars)?
            + &format!("?token=T&max_age=0&allow_headers=x-force-preflight&preflight_status={n}");
        let expect = if (200..=299).contains(&n) {
            Expect {
                preflights: Some(1),
                ..ok(200)
            }
        } else {
            fails()
        };
        let request = Request::get().header("x-force-preflight", "");
        out.push(simple(file, &desc, &request, &url, expect, &[])?);
    }
    Ok(out)
}

/// `corsPreflight(desc, corsUrl, method, allowed, headers, safeHeaders)`
/// (`resources/corspreflight.js`): allowed → `allow_methods`, `allow_headers` (the
/// headers' names), a preflight that asked for exactly the headers' names, sorted.
fn cors_preflight_case(
    file: &File,
    desc: &str,
    cors_url: &str,
    method: &str,
    allowed: bool,
    headers: Option<Vec<(String, String)>>,
    safe: Option<Vec<(String, String)>>,
) -> Result<Case, String> {
    let mut url = format!(
        "{cors_url}{}token=T&max_age=0",
        if cors_url.contains('?') { "&" } else { "?" }
    );
    let mut request = Request::get().method(method);
    for (n, v) in headers.iter().flatten().chain(safe.iter().flatten()) {
        request = request.header(n, v);
    }
    let mut dropped = Vec::new();
    if cors_url.contains("checkUserAgentHeaderInPreflight") {
        dropped.push("the preflight's User-Agent equals the request's (not logged)");
    }
    let expect = if allowed {
        url += &format!("&allow_methods={method}&control_request_headers");
        let names: Option<Vec<String>> = headers
            .as_ref()
            .map(|h| h.iter().map(|(n, _)| n.to_ascii_lowercase()).collect());
        if let Some(names) = &names {
            url += &format!("&allow_headers={}", names.join("%20%2C"));
        } else {
            dropped.push("x-control-request-headers is null (no Access-Control-Request-Headers)");
        }
        Expect {
            preflights: Some(1),
            acrh: names.map(|mut n| {
                n.sort();
                n.join(",")
            }),
            ..ok(200)
        }
    } else {
        fails()
    };
    simple(file, desc, &request, &url, expect, &dropped)
}

fn cors_preflight(file: &File) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for args in file.calls("corsPreflight")? {
        let desc = arg(file, &args, 0, &[])?;
        let url = arg(file, &args, 1, &[])?;
        let method = arg(file, &args, 2, &[])?;
        let allowed = args
            .get(3)
            .and_then(Js::truthy)
            .ok_or("allowed is not a literal")?;
        let headers = header_list(file, args.get(4))?;
        let safe = header_list(file, args.get(5))?;
        out.push(cors_preflight_case(
            file, &desc, &url, &method, allowed, headers, safe,
        )?);
    }
    Ok(out)
}

/// `runTests` over `resources/not-cors-safelisted.json`: each header needs a preflight.
fn cors_preflight_not_safelisted(file: &File) -> Result<Vec<Case>, String> {
    let mut out = vec![Case::Skipped {
        test: "Loading data…".into(),
        reason: "loads the JSON table the other tests come from; not a CORS case".into(),
    }];
    let table: Vec<(String, String)> =
        serde_json::from_str(&file.read("fetch/api/cors/resources/not-cors-safelisted.json")?)
            .map_err(|e| format!("not-cors-safelisted.json: {e}"))?;
    let cors_url = file.eval(
        &js::binding(&file.script, "corsURL")?.ok_or("no corsURL")?,
        &[],
    )?;
    for (name, value) in table {
        let desc = format!("Need CORS-preflight for {name}/{value} header");
        out.push(cors_preflight_case(
            file,
            &desc,
            &cors_url,
            "GET",
            true,
            Some(vec![(name, value)]),
            None,
        )?);
    }
    Ok(out)
}

/// `corsPreflightResponseValidation(desc, corsUrl, allowHeaders, allowMethods)`: a
/// preflight answer with an invalid header name or method fails the request.
fn cors_preflight_response_validation(file: &File) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for args in file.calls("corsPreflightResponseValidation")? {
        let desc = arg(file, &args, 0, &[])?;
        let mut url =
            arg(file, &args, 1, &[])? + "?token=T&max_age=0&allow_headers=x-force-preflight";
        if args.get(2).and_then(Js::truthy) == Some(true) {
            url += &format!(",{}", arg(file, &args, 2, &[])?);
        }
        if args.get(3).and_then(Js::truthy) == Some(true) {
            url += &format!("&allow_methods={}", arg(file, &args, 3, &[])?);
        }
        let expect = Expect {
            preflights: Some(1),
            ..fails()
        };
        let request = Request::get().header("x-force-preflight", "");
        out.push(simple(
            file,
            &desc,
            &request,
            &url,
            expect,
            &["the second fetch reading the stash (the preflight is checked in the server log)"],
        )?);
    }
    Ok(out)
}

/// `preflightTest(succeeds, withCredentials, allowMethod, allowHeader, useMethod,
/// useHeader)`: `*` in `Access-Control-Allow-Methods`/`-Headers` with and without
/// credentials.
fn cors_preflight_star(file: &File) -> Result<Vec<Case>, String> {
    let base = file.eval(&js::binding(&file.script, "url")?.ok_or("no url")?, &[])?;
    let mut out = Vec::new();
    for args in file.calls("preflightTest")? {
        let lit = |i: usize| {
            args.get(i)
                .and_then(Js::truthy)
                .ok_or(format!("argument {i} is not a literal"))
        };
        let (succeeds, creds) = (lit(0)?, lit(1)?);
        let allow_method = arg(file, &args, 2, &[])?;
        let allow_header = arg(file, &args, 3, &[])?;
        let use_method = arg(file, &args, 4, &[])?;
        let use_header: Vec<String> = args
            .get(5)
            .and_then(Js::array)
            .ok_or("useHeader is not an array")?
            .iter()
            .map(|v| file.eval(v, &[]))
            .collect::<Result<_, _>>()?;
        let mut url = format!("{base}?");
        let mut request = Request::get().method(&use_method);
        if creds {
            url += "origin={app}&credentials&";
            request = request.credentials("include");
        }
        if let [n, v] = use_header.as_slice() {
            request = request.header(n, v);
        }
        url += &format!("allow_methods={allow_method}&allow_headers={allow_header}&");
        let test = format!(
            "CORS that {} with credentials: {creds}; method: {use_method} (allowed: {allow_method}); header: {} (allowed: {allow_header})",
            if succeeds { "succeeds" } else { "fails" },
            use_header.join(",")
        );
        let expect = if succeeds {
            Expect {
                ok: true,
                exposed: vec!["x-origin".into()],
                origin: vec![(0, Some("{origin}".into()))],
                ..Expect::default()
            }
        } else {
            fails()
        };
        out.push(simple(
            file,
            &test,
            &request,
            &url,
            expect,
            &["x-origin's value (the Origin the server saw is checked in its log)"],
        )?);
    }
    Ok(out)
}

/// The single test: a POST with `x-test-header` preflights once, and a second one within
/// `max_age` does not.
fn cors_preflight_cache(file: &File) -> Result<Vec<Case>, String> {
    let base = file.eval(
        &js::binding(&file.script, "cors_url")?.ok_or("no cors_url")?,
        &[],
    )?;
    let url =
        format!("{base}?token=T&max_age=12000&allow_methods=POST&allow_headers=x-test-header");
    let hops = chain(Url::parse(&url, Host::App)?)?;
    let first = Request::get()
        .method("POST")
        .header("x-test-header", "test1");
    let second = Request::get()
        .method("POST")
        .header("x-test-header", "test2");
    // An unnamed promise_test is reported under the page's title.
    let test = "cors-preflight-cache";
    Ok(vec![scenario(
        file.name("second-fetch-cached"),
        file.source(test),
        &second,
        hops,
        vec![(first, 0)],
        Expect {
            preflights: Some(1),
            ..ok(200)
        },
        &["the test is unnamed; WPT reports it under the page title"],
    )])
}

/// `corsPreflightRedirect(desc, redirectUrl, locationUrl, code, redirectPreflight)`: a
/// preflight that is redirected fails; WPT also expects a redirect *after* a preflight to
/// fail.
fn cors_preflight_redirect(file: &File) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for c in redirect_calls(file, "corsPreflightRedirect", "code", None)? {
        let mut url = format!(
            "{}?token=T&max_age=0&redirect_status={}&location={}",
            c.redirect_url,
            c.status,
            servers::encode_uri_component(&c.location)
        );
        if c.args.get(4).and_then(Js::truthy) == Some(true) {
            url += "&redirect_preflight";
        }
        url += "&allow_headers=x-force-preflight";
        let request = Request::get().header("x-force-preflight", "");
        out.push(simple(file, &c.desc, &request, &url, fails(), &[])?);
    }
    Ok(out)
}

/// `corsRedirect(desc, redirectUrl, location, code, expectedOrigin)`: a simple GET
/// redirected; no preflight; the `Origin` the target saw.
fn cors_redirect(file: &File) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for c in redirect_calls(file, "corsRedirect", "code", None)? {
        let origin = arg(file, &c.args, 4, &c.vars)?.replace("{app}", "{origin}");
        let url = format!(
            "{}?token=T&max_age=0&redirect_status={}&location={}",
            c.redirect_url,
            c.status,
            servers::encode_uri_component(&c.location)
        );
        let expect = Expect {
            preflights: Some(0),
            exposed: vec!["x-origin".into()],
            origin: vec![(1, Some(origin))],
            ..ok(200)
        };
        out.push(simple(
            file,
            &c.desc,
            &Request::get(),
            &url,
            expect,
            &["x-origin's value (checked in the server log)"],
        )?);
    }
    Ok(out)
}

/// `corsRedirect(desc, redirectUrl, location, code)` with `x-w3c`: the target allows the
/// header (through the parameters `redirect.py` copies) and is preflighted, or does not.
fn cors_redirect_preflight(file: &File) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for c in redirect_calls(file, "corsRedirect", "code", None)? {
        let base = format!("&redirect_status={}", c.status);
        let success = format!(
            "{base}&allow_headers=x-w3c&location={}",
            servers::encode_uri_component(&format!("{}?allow_headers=x-w3c", c.location))
        );
        let failure = format!(
            "{base}&location={}",
            servers::encode_uri_component(&c.location)
        );
        let request = Request::get().header("x-w3c", "test");
        let pass = Expect {
            exposed: vec!["x-did-preflight".into()],
            ..ok(200)
        };
        out.push(simple(
            file,
            &format!("{} (preflight after redirection success case)", c.desc),
            &request,
            &format!("{}?token=T&max_age=0{success}", c.redirect_url),
            pass,
            &["x-did-preflight is 1 (the preflight is in the server log)"],
        )?);
        out.push(simple(
            file,
            &format!("{} (preflight after redirection failure case)", c.desc),
            &request,
            &format!("{}?token=T&max_age=0{failure}", c.redirect_url),
            fails(),
            &[],
        )?);
    }
    Ok(out)
}

/// `corsRedirectCredentials(desc, redirectUrl, location, code, credentials)`: a redirect
/// whose `Location` carries `user:password@` fails; without, it passes.
fn cors_redirect_credentials(file: &File) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for c in redirect_calls(file, "corsRedirectCredentials", "code", None)? {
        let credentials = arg(file, &c.args, 4, &c.vars)?;
        // `redirectLocation.replace("://", "://" + credentials + "@")`, on the scenario's
        // origin placeholder (`user:password@{api}/…`).
        if !c.location.starts_with('{') {
            return Err(format!("location `{}` has no origin", c.location));
        }
        let location = if credentials.is_empty() {
            c.location.clone()
        } else {
            format!("{credentials}@{}", c.location)
        };
        let url = format!(
            "{}?redirect_status={}&location={location}",
            c.redirect_url, c.status
        );
        let expect = if credentials.is_empty() {
            Expect {
                ok: true,
                ..Expect::default()
            }
        } else {
            fails()
        };
        out.push(simple(file, &c.desc, &Request::get(), &url, expect, &[])?);
    }
    Ok(out)
}

/// `corsFilter(url, name, value, filtered)` and `corsExposeFilter(…)`: which response
/// headers script can read, without and with `Access-Control-Expose-Headers`.
fn cors_filtering(file: &File) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for (helper, exposed) in [("corsFilter", false), ("corsExposeFilter", true)] {
        for args in file.calls(helper)? {
            let url = arg(file, &args, 0, &[])?;
            let name = arg(file, &args, 1, &[])?;
            let value = arg(file, &args, 2, &[])?;
            let hidden = args
                .get(3)
                .and_then(Js::truthy)
                .ok_or("isFiltered is not a literal")?;
            let value = servers::encode_uri_component(&value);
            // The stored version writes the exposing step without its `|` separator;
            // imported as meant.
            let pipe = if exposed {
                format!(
                    "header({name},{value})|header(Access-Control-Allow-Origin,*)|header(Access-Control-Expose-Headers,{name})"
                )
            } else {
                format!("header({name},{value})|header(Access-Control-Allow-Origin,*)")
            };
            let test = if exposed {
                format!("CORS filter on {name} header, header is exposed")
            } else {
                format!("CORS filter on {name} header")
            };
            let lower = name.to_ascii_lowercase();
            let expect = Expect {
                response_type: Some("cors".into()),
                exposed: if hidden { vec![] } else { vec![lower.clone()] },
                hidden: if hidden { vec![lower] } else { vec![] },
                ..ok(200)
            };
            let url = format!("{url}?pipe={}", servers::encode_uri_component(&pipe));
            out.push(simple(
                file,
                &test,
                &Request::get(),
                &url,
                expect,
                &["the header's value"],
            )?);
        }
    }
    Ok(out)
}

/// `Access-Control-Expose-Headers: *` with and without credentials. The three tests are
/// written out inline rather than through a helper: their shared pipe and URL are read
/// from the file, their own pipe steps and assertions are repeated here, and their names
/// are checked against the file's.
fn cors_expose_star(file: &File) -> Result<Vec<Case>, String> {
    let url = file.eval(&js::binding(&file.script, "url")?.ok_or("no url")?, &[])?;
    let shared = file.eval(
        &js::binding(&file.script, "sharedHeaders")?.ok_or("no sharedHeaders")?,
        &[],
    )?;
    let tests = [
        (
            "Basic Access-Control-Expose-Headers: * support",
            format!("{shared}header(Access-Control-Allow-Origin,*)"),
            Request::get(),
            vec!["test", "*"],
            vec!["set-cookie"],
        ),
        (
            "* for credentialed fetches only matches literally",
            format!("{shared}header(Access-Control-Allow-Origin,{{app}})|header(Access-Control-Allow-Credentials,true)"),
            Request::get().credentials("include"),
            vec!["content-type", "*"],
            vec!["test", "set-cookie"],
        ),
        (
            "* can be one of several values",
            "?pipe=header(Access-Control-Allow-Origin,*)|header(Access-Control-Expose-Headers,*)|header(Access-Control-Expose-Headers,set-cookie)|header(Test,X)|header(Set-Cookie,X)".to_owned(),
            Request::get(),
            vec!["test"],
            vec!["set-cookie"],
        ),
    ];
    // The file's own test names, in order, must be these.
    let names: Vec<String> = file
        .calls("promise_test")?
        .iter()
        .map(|a| arg(file, a, 1, &[]))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (i, (test, query, request, exposed, hidden)) in tests.into_iter().enumerate() {
        if names.get(i).map(String::as_str) != Some(test) {
            return Err(format!(
                "test {} is `{:?}`, not `{test}`",
                i + 1,
                names.get(i)
            ));
        }
        let (_, pipe) = query.split_once("pipe=").ok_or("no pipe")?;
        let url = format!("{url}?pipe={}", servers::encode_uri_component(pipe));
        let expect = Expect {
            response_type: Some("cors".into()),
            exposed: exposed.into_iter().map(str::to_owned).collect(),
            hidden: hidden.into_iter().map(str::to_owned).collect(),
            ..ok(200)
        };
        out.push(simple(
            file,
            test,
            &request,
            &url,
            expect,
            &["header values"],
        )?);
    }
    Ok(out)
}

/// `corsMultipleOrigins(desc, originList, shouldPass)`: `preflight.py` sends one
/// `Access-Control-Allow-Origin` line per listed origin.
fn cors_multiple_origins(file: &File) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for args in file.calls("corsMultipleOrigins")? {
        let desc = arg(file, &args, 0, &[])?;
        let list: Vec<String> = args
            .get(1)
            .and_then(Js::array)
            .ok_or("originList is not an array")?
            .iter()
            .map(|v| file.eval(v, &[]))
            .collect::<Result<_, _>>()?;
        let pass = args
            .get(2)
            .and_then(Js::truthy)
            .ok_or("shouldPass is not a literal")?;
        // The helper's own `url`: `http://www1.{{host}}:{{ports[http][0]}}…/preflight.py`.
        let url = format!(
            "{{api}}/../resources/preflight.py?origin={}",
            servers::encode_uri_component(&list.join(", "))
        );
        let expect = if pass { ok(200) } else { fails() };
        out.push(simple(file, &desc, &Request::get(), &url, expect, &[])?);
    }
    Ok(out)
}
