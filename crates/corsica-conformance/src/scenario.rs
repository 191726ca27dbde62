//! Scenarios: a page's `fetch()` call and the responses the API gives, generated
//! combinatorially. The same [`Scenario::respond`] feeds the real scenario server and the
//! engine's model, so both judge identical bytes.

use std::fmt::Write as _;

use corsica::fetch::{Credentials, FetchRequest, HttpResponse, Mode, RedirectMode};

/// Where a hop is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// The page's own origin (`http://app.localhost:P1`).
    App,
    /// The API (`http://api.localhost:P2`).
    Api,
    /// A third origin (`http://other.localhost:P3`).
    Other,
}

impl Host {
    /// Its short name in compact request lines: `app`, `api`, `other`.
    pub fn label(self) -> &'static str {
        match self {
            Host::App => "app",
            Host::Api => "api",
            Host::Other => "other",
        }
    }
}

/// The three origins of a run.
#[derive(Debug, Clone)]
pub struct Origins {
    /// `http://app.localhost:P1`
    pub app: String,
    /// `http://api.localhost:P2`
    pub api: String,
    /// `http://other.localhost:P3`
    pub other: String,
}

impl Origins {
    /// The origin serving `host`.
    pub fn of(&self, host: Host) -> &str {
        match host {
            Host::App => &self.app,
            Host::Api => &self.api,
            Host::Other => &self.other,
        }
    }

    /// Replaces `{app}`, `{api}`, `{other}` and `{origin}` (the page's origin),
    /// `{app_hostport}`, `{api_hostport}`, `{other_hostport}` (an origin without its scheme),
    /// `{app_tld_port}` (the page's last host label and port: `localhost:P1`) and
    /// `{origin_upper}` (the page's origin upper-cased).
    pub fn expand(&self, s: &str) -> String {
        let hostport = |o: &str| o.trim_start_matches("http://").to_owned();
        let app = hostport(&self.app);
        let tld_port = app.rsplit_once('.').map_or(app.as_str(), |(_, t)| t);
        s.replace("{app_tld_port}", tld_port)
            .replace("{origin_upper}", &self.app.to_uppercase())
            .replace("{app_hostport}", &hostport(&self.app))
            .replace("{api_hostport}", &hostport(&self.api))
            .replace("{other_hostport}", &hostport(&self.other))
            .replace("{origin}", &self.app)
            .replace("{app}", &self.app)
            .replace("{api}", &self.api)
            .replace("{other}", &self.other)
    }
}

/// A response, with placeholders in header values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Header lines (placeholders allowed in values).
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub(crate) fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
        }
    }

    fn with(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn with_all(mut self, headers: &[(&str, &str)]) -> Reply {
        for (n, v) in headers {
            self.headers.push(((*n).to_owned(), (*v).to_owned()));
        }
        self
    }
}

/// One URL of a scenario: `/s/{id}/{index}` on `host`, with its preflight answer and its
/// answer to the actual request (possibly a redirect to the next hop).
#[derive(Debug, Clone)]
pub struct Hop {
    /// Where it is served.
    pub host: Host,
    /// The answer to `OPTIONS`.
    pub preflight: Reply,
    /// The answer to anything else.
    pub response: Reply,
}

/// A scenario: a `fetch()` and the hops.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Index in the generated list (also the URL path segment).
    pub id: usize,
    /// A readable name: family and parameters.
    pub name: String,
    /// The method passed to `fetch()`.
    pub method: String,
    /// The headers passed to `fetch()`.
    pub headers: Vec<(String, String)>,
    /// The credentials mode.
    pub credentials: Credentials,
    /// The redirect mode.
    pub redirect: RedirectMode,
    /// The request mode.
    pub mode: Mode,
    /// The hops; the first is the URL passed to `fetch()`.
    pub hops: Vec<Hop>,
    /// Earlier `fetch()`es of the same URL made before this one, in order
    /// (preflight-cache scenarios).
    pub before: Vec<Before>,
}

/// An earlier `fetch()` of the scenario's URL, and the wait after it.
#[derive(Debug, Clone)]
pub struct Before {
    /// Its method.
    pub method: String,
    /// Its headers.
    pub headers: Vec<(String, String)>,
    /// Its credentials mode.
    pub credentials: Credentials,
    /// Milliseconds to wait before the scenario's own `fetch()`.
    pub wait_ms: u64,
}

impl Scenario {
    /// The engine's view of the earlier `fetch()`es, each with the wait after it.
    pub fn before_requests(&self, origins: &Origins) -> Vec<(FetchRequest, u64)> {
        let Ok(origin) = corsica::Origin::parse(&origins.app) else {
            return Vec::new();
        };
        self.before
            .iter()
            .map(|b| {
                let mut r = FetchRequest::new(origin.clone(), self.url(origins, 0))
                    .method(b.method.clone())
                    .credentials(b.credentials);
                for (n, v) in &b.headers {
                    r = r.header(n.clone(), v.clone());
                }
                (r, b.wait_ms)
            })
            .collect()
    }

    /// The URL of hop `i`.
    pub fn url(&self, origins: &Origins, i: usize) -> String {
        format!("{}/s/{}/{}", origins.of(self.hops[i].host), self.id, i)
    }

    /// The engine's view of the `fetch()` call.
    pub fn fetch_request(&self, origins: &Origins) -> FetchRequest {
        let origin = corsica::Origin::parse(&origins.app).expect("the page origin parses");
        let mut r = FetchRequest::new(origin, self.url(origins, 0))
            .method(self.method.clone())
            .credentials(self.credentials)
            .redirect(self.redirect)
            .mode(self.mode);
        for (n, v) in &self.headers {
            r = r.header(n.clone(), v.clone());
        }
        r
    }

    /// The response to a request for hop `i` (placeholders expanded).
    pub fn respond(&self, origins: &Origins, i: usize, preflight: bool) -> HttpResponse {
        self.respond_asked(origins, i, preflight, &Asked::default())
    }

    /// [`Scenario::respond`] to a request that asked for `acrm` and `acrh`
    /// (`Access-Control-Request-Method`/`-Headers`), which replies echo where they say
    /// `{acrm}` and `{acrh}` (a server that allows what each preflight asks for).
    ///
    /// Replies imported from WPT echo the request's `Origin` as its server scripts do:
    /// `{request_origin}` is replaced by it (the line is left out when the request has
    /// none), `{request_origin:X}` falls back to `X`, and `{if_origin:X}` is `X` only when
    /// the request has an `Origin` (the line is left out otherwise).
    pub fn respond_asked(
        &self,
        origins: &Origins,
        i: usize,
        preflight: bool,
        asked: &Asked,
    ) -> HttpResponse {
        let Some(hop) = self.hops.get(i) else {
            return HttpResponse::new(404);
        };
        let reply = if preflight {
            &hop.preflight
        } else {
            &hop.response
        };
        let mut r = HttpResponse::new(reply.status);
        for (n, v) in &reply.headers {
            let Some(v) = echo_origin(v, asked.origin) else {
                continue;
            };
            let v = v
                .replace("{acrm}", asked.acrm.unwrap_or_default())
                .replace("{acrh}", asked.acrh.unwrap_or_default());
            r = r.header(n.clone(), expand_scenario(&v, self, origins));
        }
        r
    }

    /// The JavaScript the page runs: the `fetch()` call, resolved to a plain object.
    pub fn script(&self, origins: &Origins) -> String {
        let headers = serde_json::Value::Array(
            self.headers
                .iter()
                .map(|(n, v)| serde_json::json!([n, v]))
                .collect(),
        );
        let redirect = match self.redirect {
            RedirectMode::Follow => "follow",
            RedirectMode::Error => "error",
            RedirectMode::Manual => "manual",
        };
        let mode = match self.mode {
            Mode::Cors => "cors",
            Mode::SameOrigin => "same-origin",
            Mode::NoCors => "no-cors",
        };
        let before: String = self
            .before
            .iter()
            .map(|b| {
                format!(
                    "try {{ await (await fetch({url}, {{method: {method}, headers: {headers}, credentials: {creds}}})).text(); }} catch (e) {{}} \
                     await new Promise(ok => setTimeout(ok, {wait})); ",
                    url = serde_json::Value::String(self.url(origins, 0)),
                    method = serde_json::Value::String(b.method.clone()),
                    headers = serde_json::Value::Array(
                        b.headers
                            .iter()
                            .map(|(n, v)| serde_json::json!([n, v]))
                            .collect()
                    ),
                    creds = serde_json::Value::String(b.credentials.as_str().to_owned()),
                    wait = b.wait_ms,
                )
            })
            .collect();
        let mut s = String::new();
        let _ = write!(
            s,
            "(async () => {{ {before}try {{ const r = await fetch({url}, {{method: {method}, headers: {headers}, credentials: {creds}, redirect: {redirect}, mode: {mode}}}); \
             return {{ok: true, status: r.status, type: r.type, headers: [...r.headers.keys()]}}; }} \
             catch (e) {{ return {{ok: false, error: String(e)}}; }} }})()",
            url = serde_json::Value::String(self.url(origins, 0)),
            method = serde_json::Value::String(self.method.clone()),
            creds = serde_json::Value::String(self.credentials.as_str().to_owned()),
            redirect = serde_json::Value::String(redirect.to_owned()),
            mode = serde_json::Value::String(mode.to_owned()),
        );
        s
    }
}

/// What a request asked, for the replies that echo it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Asked<'a> {
    /// `Access-Control-Request-Method`.
    pub acrm: Option<&'a str>,
    /// `Access-Control-Request-Headers`.
    pub acrh: Option<&'a str>,
    /// `Origin`.
    pub origin: Option<&'a str>,
}

/// `value` with `{request_origin}`, `{request_origin:X}` and `{if_origin:X}` resolved
/// against the request's `Origin`; `None` when the line is to be left out.
fn echo_origin(value: &str, origin: Option<&str>) -> Option<String> {
    let mut out = value.to_owned();
    for (open, fallback_only) in [("{request_origin", false), ("{if_origin:", true)] {
        while let Some(start) = out.find(open) {
            let end = start + out[start..].find('}')?;
            let inner = &out[start + open.len()..end];
            let replacement = match (fallback_only, origin) {
                (false, Some(o)) => o.to_owned(),
                (false, None) => inner.strip_prefix(':')?.to_owned(),
                (true, Some(_)) => inner.to_owned(),
                (true, None) => return None,
            };
            out.replace_range(start..=end, &replacement);
        }
    }
    Some(out)
}

const CREDS: [Credentials; 3] = [
    Credentials::Omit,
    Credentials::SameOrigin,
    Credentials::Include,
];

/// `Access-Control-Allow-Origin` variants: (label, header lines).
const ACAO: [(&str, &[&str]); 14] = [
    ("acao-missing", &[]),
    ("acao-star", &["*"]),
    ("acao-exact", &["{origin}"]),
    ("acao-slash", &["{origin}/"]),
    ("acao-other", &["{other}"]),
    ("acao-null", &["null"]),
    ("acao-hostonly", &["app.localhost"]),
    ("acao-two-values", &["{origin}, {other}"]),
    ("acao-two-lines", &["{origin}", "{origin}"]),
    ("acao-upper", &["HTTP://APP.LOCALHOST"]),
    ("acao-empty", &[""]),
    ("acao-space-separated", &["{origin} {other}"]),
    ("acao-padded", &["  {origin}  "]),
    ("acao-scheme-only", &["http://"]),
];

/// `Access-Control-Allow-Credentials` variants.
const ACAC: [(&str, &[&str]); 5] = [
    ("acac-missing", &[]),
    ("acac-true", &["true"]),
    ("acac-True", &["True"]),
    ("acac-false", &["false"]),
    ("acac-two-lines", &["true", "true"]),
];

/// `Access-Control-Expose-Headers` variants (rotated, not multiplied).
const ACEH: [&[&str]; 5] = [&[], &["x-a"], &["*"], &["X-A, x-b"], &["x-b", "x-a"]];

fn lines(name: &str, values: &[&str]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|v| (name.to_owned(), (*v).to_owned()))
        .collect()
}

fn cred_label(c: Credentials) -> &'static str {
    c.as_str()
}

/// A preflight answer that allows everything for the page's origin (with credentials).
fn allow_all_preflight(method: &str, headers: &str) -> Reply {
    Reply::new(204).with_all(&[
        ("access-control-allow-origin", "{origin}"),
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-methods", method),
        ("access-control-allow-headers", headers),
    ])
}

/// Generates every scenario.
pub fn generate() -> Vec<Scenario> {
    let mut out: Vec<Scenario> = Vec::new();
    let mut push = |name: String,
                    method: &str,
                    headers: Vec<(String, String)>,
                    credentials: Credentials,
                    redirect: RedirectMode,
                    hops: Vec<Hop>| {
        let id = out.len();
        out.push(Scenario {
            id,
            name,
            method: method.to_owned(),
            headers,
            credentials,
            redirect,
            mode: Mode::Cors,
            hops,
            before: Vec::new(),
        });
    };

    // F1: simple requests (no preflight): the CORS check on the actual response, and which
    // headers scripts can read.
    let mut rot = 0usize;
    for method in ["GET", "POST"] {
        for creds in CREDS {
            for (acao_l, acao) in ACAO {
                for (acac_l, acac) in ACAC {
                    for status in [200u16, 500] {
                        let aceh = ACEH[rot % ACEH.len()];
                        rot += 1;
                        let mut reply = Reply::new(status).with_all(&[
                            ("content-type", "text/plain"),
                            ("x-a", "1"),
                            ("x-b", "2"),
                        ]);
                        reply
                            .headers
                            .extend(lines("access-control-allow-origin", acao));
                        reply
                            .headers
                            .extend(lines("access-control-allow-credentials", acac));
                        reply
                            .headers
                            .extend(lines("access-control-expose-headers", aceh));
                        push(
                            format!(
                                "simple {method} {} {acao_l} {acac_l} {status} aceh={aceh:?}",
                                cred_label(creds)
                            ),
                            method,
                            Vec::new(),
                            creds,
                            RedirectMode::Follow,
                            vec![Hop {
                                host: Host::Api,
                                preflight: Reply::new(500),
                                response: reply,
                            }],
                        );
                    }
                }
            }
        }
    }

    // F2: the CORS check on preflight responses, and the preflight status.
    for method in ["PUT", "patch"] {
        for creds in [Credentials::Omit, Credentials::Include] {
            for pf_status in [200u16, 204, 299, 404, 500] {
                for (acao_l, acao) in [ACAO[0], ACAO[1], ACAO[2], ACAO[4], ACAO[6], ACAO[7]] {
                    for (acac_l, acac) in [ACAC[0], ACAC[1], ACAC[2]] {
                        let mut pf = Reply::new(pf_status)
                            .with("access-control-allow-methods", "PUT, patch");
                        pf.headers
                            .extend(lines("access-control-allow-origin", acao));
                        pf.headers
                            .extend(lines("access-control-allow-credentials", acac));
                        push(
                            format!(
                                "preflight-check {method} {} status={pf_status} {acao_l} {acac_l}",
                                cred_label(creds)
                            ),
                            method,
                            Vec::new(),
                            creds,
                            RedirectMode::Follow,
                            vec![Hop {
                                host: Host::Api,
                                preflight: pf,
                                response: Reply::new(200).with_all(&[
                                    ("access-control-allow-origin", "{origin}"),
                                    ("access-control-allow-credentials", "true"),
                                ]),
                            }],
                        );
                    }
                }
            }
        }
    }

    // F3: Access-Control-Allow-Methods parsing and matching (methods are case-sensitive).
    let acams: [&[&str]; 12] = [
        &[],
        &["PUT"],
        &["put"],
        &["PATCH"],
        &["patch"],
        &["*"],
        &["PUT DELETE"],
        &["PUT,,DELETE"],
        &[" PUT , patch "],
        &["GET, POST"],
        &["DELETE", "PUT"],
        &["PUT;"],
    ];
    for method in ["PUT", "PATCH", "patch", "DELETE", "Custom", "GET"] {
        for creds in [Credentials::Omit, Credentials::Include] {
            for acam in acams {
                let headers = if method == "GET" {
                    vec![("X-Trigger".to_owned(), "1".to_owned())]
                } else {
                    Vec::new()
                };
                let mut pf = Reply::new(204).with_all(&[
                    ("access-control-allow-origin", "{origin}"),
                    ("access-control-allow-credentials", "true"),
                    ("access-control-allow-headers", "x-trigger"),
                ]);
                pf.headers
                    .extend(lines("access-control-allow-methods", acam));
                push(
                    format!("allow-methods {method} {} acam={acam:?}", cred_label(creds)),
                    method,
                    headers,
                    creds,
                    RedirectMode::Follow,
                    vec![Hop {
                        host: Host::Api,
                        preflight: pf,
                        response: Reply::new(200).with_all(&[
                            ("access-control-allow-origin", "{origin}"),
                            ("access-control-allow-credentials", "true"),
                        ]),
                    }],
                );
            }
        }
    }

    // F4: request headers: which are safelisted (values, lengths, Chromium's extras), and
    // Access-Control-Allow-Headers parsing and matching (`*`, `authorization`).
    let long_accept = "a".repeat(129);
    let mid_accept = "a".repeat(128);
    let big_lang = "a".repeat(120);
    #[rustfmt::skip]
    let header_sets: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("x-api-key", vec![("X-API-Key", "k".into())]),
        ("authorization", vec![("Authorization", "Bearer t".into())]),
        ("ct-json", vec![("Content-Type", "application/json".into())]),
        ("ct-plain", vec![("Content-Type", "text/plain;charset=UTF-8".into())]),
        ("ct-plain-quoted", vec![("Content-Type", "text/plain; charset=\"utf-8\"".into())]),
        ("ct-form-upper", vec![("Content-Type", "APPLICATION/X-WWW-FORM-URLENCODED".into())]),
        ("two-custom", vec![("X-B", "2".into()), ("X-A", "1".into())]),
        ("accept-unsafe-byte", vec![("Accept", "text/{html}".into())]),
        ("accept-128", vec![("Accept", mid_accept.clone())]),
        ("accept-129", vec![("Accept", long_accept.clone())]),
        ("dpr", vec![("DPR", "2".into())]),
        ("width-decimal", vec![("Width", "1.5".into())]),
        ("save-data", vec![("Save-Data", "on".into())]),
        ("range-ok", vec![("Range", "bytes=0-".into())]),
        ("range-suffix", vec![("Range", "bytes=-5".into())]),
        ("content-language-space", vec![("Content-Language", "de DE".into())]),
        ("content-language-slash", vec![("Content-Language", "de/DE".into())]),
        ("safelisted-over-1024", (0..9).map(|i| (["Accept", "Accept-Language", "Content-Language"][i % 3], big_lang.clone())).collect()),
        ("cookie-forbidden", vec![("Cookie", "a=b".into()), ("X-A", "1".into())]),
        ("same-name-twice", vec![("X-A", "1".into()), ("x-a", "2".into())]),
    ];
    let acahs: [&[&str]; 11] = [
        &[],
        &["*"],
        &["*, authorization"],
        &["x-api-key"],
        &["X-API-KEY"],
        &["content-type"],
        &["x-a"],
        &["x-a, x-b"],
        &["x-a x-b"],
        &["authorization"],
        &["accept, accept-language, content-language, range, width, x-a"],
    ];
    for (set_l, set) in &header_sets {
        for creds in [Credentials::Omit, Credentials::Include] {
            for acah in acahs {
                let mut pf = Reply::new(204).with_all(&[
                    ("access-control-allow-origin", "{origin}"),
                    ("access-control-allow-credentials", "true"),
                    ("access-control-allow-methods", "GET"),
                ]);
                pf.headers
                    .extend(lines("access-control-allow-headers", acah));
                push(
                    format!(
                        "request-headers {set_l} {} acah={acah:?}",
                        cred_label(creds)
                    ),
                    "GET",
                    set.iter()
                        .map(|(n, v)| ((*n).to_owned(), v.clone()))
                        .collect(),
                    creds,
                    RedirectMode::Follow,
                    vec![Hop {
                        host: Host::Api,
                        preflight: pf,
                        response: Reply::new(200).with_all(&[
                            ("access-control-allow-origin", "{origin}"),
                            ("access-control-allow-credentials", "true"),
                        ]),
                    }],
                );
            }
        }
    }

    // F5: redirects: status, target, userinfo, method change, tainted origin, the CORS
    // check on the redirect response and on the final one.
    let redirect_acao: [(&str, &str); 3] = [
        ("racao-exact", "{origin}"),
        ("racao-star", "*"),
        ("racao-missing", ""),
    ];
    let final_acao: [(&str, &str); 4] = [
        ("facao-exact", "{origin}"),
        ("facao-star", "*"),
        ("facao-null", "null"),
        ("facao-missing", ""),
    ];
    let targets: [(&str, Host, bool); 5] = [
        ("to-same-host", Host::Api, false),
        ("to-other", Host::Other, false),
        ("to-app", Host::App, false),
        ("to-other-userinfo", Host::Other, true),
        ("to-app-userinfo", Host::App, true),
    ];
    for start in [Host::Api, Host::App] {
        for status in [301u16, 302, 303, 307, 308] {
            for (t_l, target, userinfo) in targets {
                for method in ["GET", "POST"] {
                    for creds in [Credentials::Omit, Credentials::Include] {
                        for (r_l, racao) in redirect_acao {
                            for (f_l, facao) in final_acao {
                                if start == Host::App && r_l != "racao-missing" {
                                    // Same-origin redirect responses are not CORS-checked: one variant is enough.
                                    continue;
                                }
                                let location = format!(
                                    "{}{}",
                                    match (target, userinfo) {
                                        (Host::Api, _) => "{api}".to_owned(),
                                        (Host::Other, false) => "{other}".to_owned(),
                                        (Host::Other, true) =>
                                            "{other}".replace("{other}", "{other_userinfo}"),
                                        (Host::App, false) => "{app}".to_owned(),
                                        (Host::App, true) => "{app_userinfo}".to_owned(),
                                    },
                                    "/s/{id}/1"
                                );
                                let mut first = Reply::new(status).with("location", &location);
                                if !racao.is_empty() {
                                    first = first.with("access-control-allow-origin", racao);
                                    first = first.with("access-control-allow-credentials", "true");
                                }
                                let mut last = Reply::new(200);
                                if !facao.is_empty() {
                                    last = last.with("access-control-allow-origin", facao);
                                    last = last.with("access-control-allow-credentials", "true");
                                }
                                push(
                                    format!(
                                        "redirect from-{start:?} {status} {t_l} {method} {} {r_l} {f_l}",
                                        cred_label(creds)
                                    ),
                                    method,
                                    Vec::new(),
                                    creds,
                                    RedirectMode::Follow,
                                    vec![
                                        Hop {
                                            host: start,
                                            preflight: allow_all_preflight("GET, POST", "x-a"),
                                            response: first,
                                        },
                                        Hop {
                                            host: target,
                                            preflight: allow_all_preflight("GET, POST", "x-a"),
                                            response: last,
                                        },
                                    ],
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    // F6: preflights that redirect, redirects that need a new preflight, and redirect modes.
    for (name, method, headers) in [
        ("put", "PUT", vec![]),
        ("get-x-a", "GET", vec![("X-A".to_owned(), "1".to_owned())]),
    ] {
        for pf_status in [301u16, 302, 307, 308] {
            push(
                format!("preflight-redirect {name} {pf_status}"),
                method,
                headers.clone(),
                Credentials::SameOrigin,
                RedirectMode::Follow,
                vec![Hop {
                    host: Host::Api,
                    preflight: Reply::new(pf_status).with_all(&[
                        ("location", "{api}/s/{id}/0"),
                        ("access-control-allow-origin", "*"),
                    ]),
                    response: Reply::new(200).with("access-control-allow-origin", "*"),
                }],
            );
        }
        for second_pf in ["allow", "deny-origin", "deny-method"] {
            let pf2 = match second_pf {
                "allow" => allow_all_preflight("PUT", "x-a"),
                "deny-origin" => Reply::new(204).with("access-control-allow-methods", "PUT"),
                _ => Reply::new(204).with_all(&[
                    ("access-control-allow-origin", "null"),
                    ("access-control-allow-headers", "x-a"),
                ]),
            };
            for status in [307u16, 302] {
                push(
                    format!("redirect-then-preflight {name} {status} second={second_pf}"),
                    method,
                    headers.clone(),
                    Credentials::Omit,
                    RedirectMode::Follow,
                    vec![
                        Hop {
                            host: Host::Api,
                            preflight: Reply::new(204).with_all(&[
                                ("access-control-allow-origin", "{origin}"),
                                ("access-control-allow-methods", "PUT"),
                                ("access-control-allow-headers", "x-a"),
                            ]),
                            response: Reply::new(status).with_all(&[
                                ("location", "{other}/s/{id}/1"),
                                ("access-control-allow-origin", "{origin}"),
                            ]),
                        },
                        Hop {
                            host: Host::Other,
                            preflight: pf2.clone(),
                            response: Reply::new(200).with("access-control-allow-origin", "*"),
                        },
                    ],
                );
            }
        }
    }
    // Odd Location headers: empty, and two different ones.
    for (name, locations) in [
        ("empty", vec![""]),
        ("two-different", vec!["{api}/s/{id}/1", "{other}/s/{id}/1"]),
        ("two-same", vec!["{api}/s/{id}/1", "{api}/s/{id}/1"]),
    ] {
        let mut first = Reply::new(302).with("access-control-allow-origin", "*");
        for l in &locations {
            first = first.with("location", l);
        }
        push(
            format!("location {name}"),
            "GET",
            Vec::new(),
            Credentials::Omit,
            RedirectMode::Follow,
            vec![
                Hop {
                    host: Host::Api,
                    preflight: Reply::new(500),
                    response: first,
                },
                Hop {
                    host: Host::Api,
                    preflight: Reply::new(500),
                    response: Reply::new(200).with("access-control-allow-origin", "*"),
                },
            ],
        );
    }
    for mode in [RedirectMode::Error, RedirectMode::Manual] {
        for start in [Host::Api, Host::App] {
            push(
                format!("redirect-mode {mode:?} from-{start:?}"),
                "GET",
                Vec::new(),
                Credentials::Omit,
                mode,
                vec![
                    Hop {
                        host: start,
                        preflight: Reply::new(500),
                        response: Reply::new(302).with_all(&[
                            ("location", "{api}/s/{id}/1"),
                            ("access-control-allow-origin", "*"),
                        ]),
                    },
                    Hop {
                        host: Host::Api,
                        preflight: Reply::new(500),
                        response: Reply::new(200).with("access-control-allow-origin", "*"),
                    },
                ],
            );
        }
    }
    // F8: the CORS-preflight cache: max-age (absent = 5 s, 0, unparsable, negative),
    // an entry that does not cover the next method or header, credentials, expiry.
    /// (method, headers, credentials) of one `fetch()`.
    type Call<'a> = (&'a str, Vec<(String, String)>, Credentials);
    #[rustfmt::skip]
    let cache_cases: Vec<(&str, Option<&str>, Call, Call, u64)> = vec![
        ("max-age absent", None, ("PUT", vec![], Credentials::Omit), ("PUT", vec![], Credentials::Omit), 0),
        ("max-age 0", Some("0"), ("PUT", vec![], Credentials::Omit), ("PUT", vec![], Credentials::Omit), 0),
        ("max-age 600", Some("600"), ("PUT", vec![], Credentials::Omit), ("PUT", vec![], Credentials::Omit), 0),
        ("max-age unparsable", Some("ten"), ("PUT", vec![], Credentials::Omit), ("PUT", vec![], Credentials::Omit), 0),
        ("max-age negative", Some("-1"), ("PUT", vec![], Credentials::Omit), ("PUT", vec![], Credentials::Omit), 0),
        ("other method", Some("600"), ("PUT", vec![], Credentials::Omit), ("DELETE", vec![], Credentials::Omit), 0),
        ("other header", Some("600"), ("PUT", vec![("X-A".into(), "1".into())], Credentials::Omit), ("PUT", vec![("X-B".into(), "1".into())], Credentials::Omit), 0),
        ("omit then include", Some("600"), ("PUT", vec![], Credentials::Omit), ("PUT", vec![], Credentials::Include), 0),
        ("include then omit", Some("600"), ("PUT", vec![], Credentials::Include), ("PUT", vec![], Credentials::Omit), 0),
        ("max-age absent, 6 s later", None, ("PUT", vec![], Credentials::Omit), ("PUT", vec![], Credentials::Omit), 6000),
        ("max-age 2, 3 s later", Some("2"), ("PUT", vec![], Credentials::Omit), ("PUT", vec![], Credentials::Omit), 3000),
    ];
    for (name, max_age, first, second, wait_ms) in cache_cases {
        // The preflight answer lists exactly what the *first* request needs, so a cache hit
        // for anything else would be wrong, and a new preflight denies the extra method or
        // header only if the browser really sends one.
        let methods = if first.0 == second.0 {
            first.0.to_owned()
        } else {
            format!("{}, {}", first.0, second.0)
        };
        let mut pf = Reply::new(204).with_all(&[
            ("access-control-allow-origin", "{origin}"),
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-methods", &methods),
            ("access-control-allow-headers", "x-a, x-b"),
        ]);
        if let Some(age) = max_age {
            pf = pf.with("access-control-max-age", age);
        }
        let id = out.len();
        out.push(Scenario {
            id,
            name: format!("preflight-cache {name}"),
            method: second.0.to_owned(),
            headers: second.1,
            credentials: second.2,
            redirect: RedirectMode::Follow,
            mode: Mode::Cors,
            hops: vec![Hop {
                host: Host::Api,
                preflight: pf,
                response: Reply::new(200).with_all(&[
                    ("access-control-allow-origin", "{origin}"),
                    ("access-control-allow-credentials", "true"),
                ]),
            }],
            before: vec![Before {
                method: first.0.to_owned(),
                headers: first.1,
                credentials: first.2,
                wait_ms,
            }],
        });
    }
    // F8b: several preflights to one URL, each answered with what it asks for (max-age
    // 600): does the cache keep the earlier answers beside the last?
    let x = |n: &str| vec![(n.to_owned(), "1".to_owned())];
    #[rustfmt::skip]
    let gathered: Vec<(&str, Vec<Call>, Call)> = vec![
        ("methods of two preflights", vec![("PUT", vec![], Credentials::Omit), ("DELETE", vec![], Credentials::Omit)], ("PUT", vec![], Credentials::Omit)),
        ("headers of two preflights", vec![("GET", x("X-A"), Credentials::Omit), ("GET", x("X-B"), Credentials::Omit)], ("GET", x("X-A"), Credentials::Omit)),
        ("method and header of two preflights", vec![("PUT", vec![], Credentials::Omit), ("GET", x("X-A"), Credentials::Omit)], ("PUT", x("X-A"), Credentials::Omit)),
        ("three methods", vec![("PUT", vec![], Credentials::Omit), ("DELETE", vec![], Credentials::Omit), ("PATCH", vec![], Credentials::Omit)], ("DELETE", vec![], Credentials::Omit)),
    ];
    for (name, befores, last) in gathered {
        let id = out.len();
        out.push(Scenario {
            id,
            name: format!("preflight-cache {name}"),
            method: last.0.to_owned(),
            headers: last.1,
            credentials: last.2,
            redirect: RedirectMode::Follow,
            mode: Mode::Cors,
            hops: vec![Hop {
                host: Host::Api,
                preflight: Reply::new(204).with_all(&[
                    ("access-control-allow-origin", "{origin}"),
                    ("access-control-allow-methods", "{acrm}"),
                    ("access-control-allow-headers", "{acrh}"),
                    ("access-control-max-age", "600"),
                ]),
                response: Reply::new(200).with_all(&[("access-control-allow-origin", "{origin}")]),
            }],
            before: befores
                .into_iter()
                .map(|(method, headers, credentials)| Before {
                    method: method.to_owned(),
                    headers,
                    credentials,
                    wait_ms: 0,
                })
                .collect(),
        });
    }
    // F7: request modes `same-origin` and `no-cors`, direct and through redirects.
    for mode in [Mode::SameOrigin, Mode::NoCors] {
        for start in [Host::App, Host::Api] {
            for (r_l, next) in [
                ("direct", None),
                ("via-api", Some("{api}")),
                ("via-app", Some("{app}")),
            ] {
                for (m_l, method, headers) in [
                    ("get", "GET", vec![]),
                    (
                        "post-json",
                        "POST",
                        vec![("Content-Type".to_owned(), "application/json".to_owned())],
                    ),
                    ("put", "PUT", vec![]),
                    ("get-x-a", "GET", vec![("X-A".to_owned(), "1".to_owned())]),
                ] {
                    for redirect in [RedirectMode::Follow, RedirectMode::Manual] {
                        let ok = Reply::new(200).with_all(&[
                            ("access-control-allow-origin", "{origin}"),
                            ("x-a", "1"),
                            ("content-type", "text/plain"),
                        ]);
                        let hops = match next {
                            None => vec![Hop {
                                host: start,
                                preflight: allow_all_preflight("PUT", "x-a"),
                                response: ok.clone(),
                            }],
                            Some(target) => vec![
                                Hop {
                                    host: start,
                                    preflight: allow_all_preflight("PUT", "x-a"),
                                    response: Reply::new(307).with_all(&[
                                        ("location", &format!("{target}/s/{{id}}/1")),
                                        ("access-control-allow-origin", "{origin}"),
                                    ]),
                                },
                                Hop {
                                    host: if target == "{api}" {
                                        Host::Api
                                    } else {
                                        Host::App
                                    },
                                    preflight: allow_all_preflight("PUT", "x-a"),
                                    response: ok.clone(),
                                },
                            ],
                        };
                        let id = out.len();
                        out.push(Scenario {
                            id,
                            name: format!("mode {mode:?} from-{start:?} {r_l} {m_l} {redirect:?}"),
                            method: method.to_owned(),
                            headers: headers.clone(),
                            credentials: Credentials::SameOrigin,
                            redirect,
                            mode,
                            hops,
                            before: Vec::new(),
                        });
                    }
                }
            }
        }
    }
    // The engine's own answers, judged by the browser.
    crate::policy_scenarios::push_all(&mut out);
    // Where browsers part ways.
    crate::browser_differences::push_all(&mut out);
    // Several disallowed request headers: which one Chromium names.
    crate::header_order_scenarios::push_all(&mut out);
    out
}

/// Every scenario the server knows: the generated ones, then those imported from
/// web-platform-tests (`wpt.rs`), numbered after them.
pub fn all() -> Vec<Scenario> {
    let mut out = generate();
    crate::wpt::push_all(&mut out);
    out
}

/// Replaces the per-scenario placeholders (`{id}`, userinfo origins) in a generated value.
pub fn expand_scenario(value: &str, scenario: &Scenario, origins: &Origins) -> String {
    let with_userinfo = |origin: &str| origin.replacen("http://", "http://user:pass@", 1);
    origins.expand(
        &value
            .replace("{id}", &scenario.id.to_string())
            .replace("{other_userinfo}", &with_userinfo(&origins.other))
            .replace("{app_userinfo}", &with_userinfo(&origins.app)),
    )
}
