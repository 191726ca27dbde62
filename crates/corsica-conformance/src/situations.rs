//! The README's situations, end to end: the real `corsica serve` (the binary beside this
//! one) with each situation's TOML on an ephemeral loopback port, upstream servers on
//! loopback, and the request made by real headless Chromium from a page on a real name
//! (`*.firma.de` and `*.shop.example` mapped to 127.0.0.1 with `--host-resolver-rules`).
//!
//! Every run asserts Chromium's outcome (the expected verdict), that `corsica check` with
//! the same `fetch()` parameters and `corsica explain --har` on the HAR recorded from that
//! very run reach the same verdict (allowed, or blocked with the same error and
//! parameter), and renders the run (config, `fetch()`, Chromium's result, `corsica check`'s
//! text) with the ephemeral ports and temporary paths replaced by the ones the README
//! shows. The rendered blocks must equal the README's, between `<!-- situation:SLUG -->`
//! and `<!-- /situation -->`; `--bless` rewrites them.
//!
//! Everything on `firma.de` is HTTPS (a self-signed `*.firma.de` certificate; Chromium runs
//! with `--ignore-certificate-errors`, `corsica check` with `-k`): the configurations are
//! the ones a real deployment would use, `https://` origins with credentials and no
//! insecure opt-in, and the outputs show `https://api.firma.de` without a port.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use corsica_testkit::server::{Reply, Seen, TestServer};
use corsica_testkit::tls::Leaf;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::cdp::Browser;

/// `listen` and `[tls]` of every `firma.de` gateway configuration (the README shows them
/// once, and each situation's routes).
const TLS: &str = "listen = \"0.0.0.0:443\"

[tls]
cert = \"{cert}\"
key = \"{key}\"
";

/// Where the page's request goes.
#[derive(Clone)]
enum Gateway {
    /// No gateway: the page calls a server directly.
    None,
    /// `corsica serve` without a file (the embedded default).
    Embedded,
    /// `corsica serve --config` with [`TLS`] and these routes (placeholders in braces).
    Toml(String),
    /// The API's own nginx adding static CORS headers, `Access-Control-Allow-Headers` these.
    Nginx(&'static str),
}

/// The nginx lines [`Gateway::Nginx`] behaves as.
fn nginx_lines(allow_headers: &str) -> String {
    format!(
        "# the API's own nginx (server api.firma.de), in front of the catalogue service
add_header Access-Control-Allow-Origin \"{{app}}\" always;
add_header Access-Control-Allow-Methods \"GET\" always;
add_header Access-Control-Allow-Headers \"{allow_headers}\" always;
add_header Vary \"Origin\" always;
if ($request_method = OPTIONS) {{ return 204; }}
"
    )
}

/// A server that answers as [`nginx_lines`] says, with the catalogue's JSON.
async fn nginx(leaf: &Leaf, app: String, allow_headers: &'static str) -> TestServer {
    TestServer::start_tls(leaf, move |s: &Seen| {
        let reply = if s.is_options() {
            Reply::new(204)
        } else {
            json_reply(CATALOG)
        };
        reply
            .header("access-control-allow-origin", app.clone())
            .header("access-control-allow-methods", "GET")
            .header("access-control-allow-headers", allow_headers)
            .header("vary", "Origin")
    })
    .await
}

const CATALOG: &str = r#"[{"sku":"A-1","name":"Anchor"}]"#;

/// What the harness expects Chromium to do.
#[derive(Clone, Copy)]
enum Expect {
    Allowed,
    Blocked(&'static str),
}

/// One `fetch()` from one page against one gateway instance.
struct Run {
    /// A sentence before the run in the README (empty for none).
    note: &'static str,
    gateway: Gateway,
    /// The page's origin (a placeholder such as `{app}`).
    page: &'static str,
    /// The URL passed to `fetch()` (with placeholders).
    url: &'static str,
    method: &'static str,
    headers: &'static [(&'static str, &'static str)],
    /// A JavaScript expression for the body.
    body: Option<&'static str>,
    credentials: Option<&'static str>,
    /// A cookie the page sets before the call (`document.cookie = ...`).
    cookie: Option<&'static str>,
    /// Whether the README shows the response body (only deterministic ones).
    show_body: bool,
    expect: Expect,
}

impl Run {
    fn new(page: &'static str, url: &'static str, gateway: Gateway, expect: Expect) -> Run {
        Run {
            note: "",
            gateway,
            page,
            url,
            method: "GET",
            headers: &[],
            body: None,
            credentials: None,
            cookie: None,
            show_body: true,
            expect,
        }
    }
}

/// One situation of the README.
struct Situation {
    slug: &'static str,
    runs: Vec<Run>,
}

fn cfg(routes: &str) -> Gateway {
    Gateway::Toml(routes.to_owned())
}

/// A route of `api.firma.de` for the service `name` on `/{name}/`, with these
/// `[route.cors]` lines.
fn route(name: &str, cors: &str) -> String {
    format!(
        "[[route]]\nname = \"{name}\"\nhost = \"api.firma.de\"\npath = \"/{name}/\"\nupstream = \"{{{name}}}\"\n[route.cors]\n{cors}\n"
    )
}

const JSON: &[(&str, &str)] = &[("Content-Type", "application/json")];

/// The situations, in README order.
fn situations() -> Vec<Situation> {
    let spa = cfg(&route(
        "orders",
        "origins = [\"{app}\"]\nmethods = [\"GET\", \"POST\"]\nheaders = [\"content-type\"]",
    ));
    let saas = cfg(&route(
        "catalog",
        r#"# the company's front-end: writes and credentialed reads
origins = ["{app}"]
credentials = true
methods = ["GET", "HEAD", "POST", "PUT", "DELETE"]
headers = ["content-type", "authorization"]
# any other origin: `Access-Control-Allow-Origin: *`, without credentials
[route.cors.public]
methods = ["GET", "HEAD"]
expose = ["x-total-count"]"#,
    ));
    let finance = |credentials: &str| {
        cfg(&route(
            "accounts",
            &format!("origins = [\"{{portal}}\"]{credentials}\nmethods = [\"GET\"]"),
        ))
    };
    let shared = "origins = [\"{app}\", \"{portal}\"]\ncredentials = true\nmethods = [\"GET\", \"POST\"]\nheaders = [\"content-type\"]";
    let services = || {
        cfg(&format!(
            "{}\n{}",
            route("orders", shared),
            route("users", shared)
        ))
    };
    let redirect = cfg(&route(
        "reports",
        "origins = [\"{portal}\"]\ncredentials = true\nmethods = [\"GET\"]",
    ));
    use Expect::{Allowed, Blocked};
    vec![
        Situation {
            slug: "spa",
            runs: vec![Run {
                method: "POST",
                headers: JSON,
                body: Some("JSON.stringify({ item: 'A-1' })"),
                ..Run::new("{app}", "{api}/orders/", spa, Allowed)
            }],
        },
        Situation {
            slug: "public-saas",
            runs: vec![
                Run {
                    note: "A partner's shop reads the catalogue without credentials:",
                    ..Run::new("{shop}", "{api}/catalog/products", saas.clone(), Allowed)
                },
                Run {
                    note: "It cannot write (the public tier allows `GET` and `HEAD`):",
                    method: "POST",
                    headers: JSON,
                    body: Some("JSON.stringify({ sku: 'A-2' })"),
                    ..Run::new(
                        "{shop}",
                        "{api}/catalog/products",
                        saas.clone(),
                        Blocked("PreflightMissingAllowOriginHeader"),
                    )
                },
                Run {
                    note: "The company's front-end reads it with the user's cookies:",
                    credentials: Some("include"),
                    ..Run::new("{app}", "{api}/catalog/products", saas, Allowed)
                },
            ],
        },
        Situation {
            slug: "api-key",
            runs: vec![
                Run {
                    headers: &[("X-API-Key", "demo-key")],
                    ..Run::new(
                        "{app}",
                        "{api}/catalog/products",
                        Gateway::Nginx("content-type"),
                        Blocked("HeaderDisallowedByPreflightResponse"),
                    )
                },
                Run {
                    note: "Fixed by listing the header, as `corsica check`'s fix says:",
                    headers: &[("X-API-Key", "demo-key")],
                    ..Run::new(
                        "{app}",
                        "{api}/catalog/products",
                        Gateway::Nginx("content-type, x-api-key"),
                        Allowed,
                    )
                },
            ],
        },
        Situation {
            slug: "finance",
            runs: vec![
                Run {
                    note: "Without `credentials = true` the gateway does not send `Access-Control-Allow-Credentials`:",
                    credentials: Some("include"),
                    cookie: Some("session=7f3a9c; Domain=firma.de; Path=/; Secure; SameSite=Lax"),
                    ..Run::new(
                        "{portal}",
                        "{api}/accounts/me",
                        finance(""),
                        Blocked("InvalidAllowCredentials"),
                    )
                },
                Run {
                    note: "With it, the cookie reaches the accounts service and the page reads the answer:",
                    credentials: Some("include"),
                    cookie: Some("session=7f3a9c; Domain=firma.de; Path=/; Secure; SameSite=Lax"),
                    ..Run::new(
                        "{portal}",
                        "{api}/accounts/me",
                        finance("\ncredentials = true"),
                        Allowed,
                    )
                },
            ],
        },
        Situation {
            slug: "gateway",
            runs: vec![
                Run::new("{app}", "{api}/orders/4711", services(), Allowed),
                Run {
                    credentials: Some("include"),
                    ..Run::new("{portal}", "{api}/users/me", services(), Allowed)
                },
            ],
        },
        Situation {
            slug: "localhost",
            runs: vec![Run {
                method: "POST",
                headers: JSON,
                body: Some("JSON.stringify({ title: 'try corsica' })"),
                credentials: Some("include"),
                show_body: false,
                ..Run::new(
                    "{dev-page}",
                    "{dev-api}/api/todos",
                    Gateway::Embedded,
                    Allowed,
                )
            }],
        },
        Situation {
            slug: "preflight-no-cors",
            runs: vec![Run {
                method: "PUT",
                headers: JSON,
                body: Some("JSON.stringify({ status: 'paid' })"),
                ..Run::new(
                    "{app}",
                    "{legacy}/api/orders/4711",
                    Gateway::None,
                    Blocked("PreflightMissingAllowOriginHeader"),
                )
            }],
        },
        Situation {
            slug: "redirect",
            runs: vec![Run {
                credentials: Some("include"),
                ..Run::new(
                    "{portal}",
                    "{api}/reports/latest",
                    redirect,
                    Blocked("MissingAllowOriginHeader"),
                )
            }],
        },
    ]
}

/// Placeholders: the value used in the run and the value the README shows.
#[derive(Clone, Default)]
struct Names(Vec<(String, String, String)>);

impl Names {
    fn set(&mut self, key: &str, actual: String, shown: &str) {
        self.0.retain(|(k, _, _)| k != key);
        self.0
            .push((format!("{{{key}}}"), actual, shown.to_owned()));
    }

    /// The template with the run's values.
    fn actual(&self, template: &str) -> String {
        self.0
            .iter()
            .fold(template.to_owned(), |t, (k, a, _)| t.replace(k, a))
    }

    /// The template with the README's values.
    fn shown(&self, template: &str) -> String {
        self.0
            .iter()
            .fold(template.to_owned(), |t, (k, _, s)| t.replace(k, s))
    }

    /// An output of the run with the README's values (longest first, so that no value
    /// replaces part of a longer one).
    fn normalize(&self, text: &str) -> String {
        let mut pairs: Vec<&(String, String, String)> = self.0.iter().collect();
        pairs.sort_by_key(|(_, a, _)| std::cmp::Reverse(a.len()));
        pairs
            .iter()
            .fold(text.to_owned(), |t, (_, a, s)| t.replace(a.as_str(), s))
    }
}

/// Allowed, or blocked with Chromium's error and failed parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Allowed,
    Blocked { kind: String, parameter: String },
    Failed(String),
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Allowed => f.write_str("allowed"),
            Verdict::Blocked { kind, parameter } if parameter.is_empty() => {
                write!(f, "blocked: {kind}")
            }
            Verdict::Blocked { kind, parameter } => write!(f, "blocked: {kind} ({parameter})"),
            Verdict::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

/// The verdict of a `check` object of `corsica_doctor::output`.
fn verdict_of(check: &Value) -> Verdict {
    if check["allowed"] == true {
        return Verdict::Allowed;
    }
    match check["error"]["kind"].as_str() {
        Some(kind) => Verdict::Blocked {
            kind: kind.to_owned(),
            parameter: check["error"]["parameter"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        },
        None => Verdict::Failed(check.to_string()),
    }
}

/// What the harness started once for every run.
struct World {
    corsica: PathBuf,
    dir: PathBuf,
    names: Names,
    leaf: Leaf,
    /// Kept alive for the whole run.
    _servers: Vec<TestServer>,
}

fn json_reply(body: &str) -> Reply {
    Reply::ok(body.to_owned()).header("content-type", "application/json")
}

const PAGE: &str = "<!doctype html><html><head><meta charset=utf-8><title>firma.de</title></head><body>page</body></html>";

impl World {
    async fn start(corsica: PathBuf) -> Result<World, String> {
        let dir = std::env::temp_dir().join(format!("corsica-situations-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let leaf = Leaf::self_signed(&["*.firma.de", "firma.de", "*.shop.example"]);
        let (cert, key) = (dir.join("firma.de.pem"), dir.join("firma.de.key"));
        std::fs::write(&cert, &leaf.cert_pem).map_err(|e| e.to_string())?;
        std::fs::write(&key, &leaf.key_pem).map_err(|e| e.to_string())?;
        let mut names = Names::default();
        names.set(
            "cert",
            cert.display().to_string(),
            "/etc/corsica/firma.de.pem",
        );
        names.set(
            "key",
            key.display().to_string(),
            "/etc/corsica/firma.de.key",
        );
        let page = |_: &Seen| Reply::ok(PAGE).header("content-type", "text/html; charset=utf-8");
        let pages = TestServer::start_tls(&leaf, page).await;
        let dev = TestServer::start(page).await;
        let p = pages.addr().port();
        names.set(
            "app",
            format!("https://app.firma.de:{p}"),
            "https://app.firma.de",
        );
        names.set(
            "portal",
            format!("https://portal.firma.de:{p}"),
            "https://portal.firma.de",
        );
        names.set(
            "shop",
            format!("https://www.shop.example:{p}"),
            "https://www.shop.example",
        );
        names.set(
            "dev-page",
            format!("http://localhost:{}", dev.addr().port()),
            "http://localhost:3000",
        );
        // A legacy API whose framework answers OPTIONS itself: 200, no CORS headers.
        let legacy = TestServer::start_tls(&leaf, |s: &Seen| {
            if s.is_options() {
                Reply::new(200).header("allow", "GET, PUT, OPTIONS")
            } else {
                json_reply(r#"{"status":"paid"}"#).header("access-control-allow-origin", "*")
            }
        })
        .await;
        names.set(
            "legacy",
            format!("https://legacy.firma.de:{}", legacy.addr().port()),
            "https://legacy.firma.de",
        );
        let login = TestServer::start_tls(&leaf, |_: &Seen| {
            Reply::ok("<!doctype html><title>Sign in</title>").header("content-type", "text/html")
        })
        .await;
        let login_url = format!("https://login.firma.de:{}", login.addr().port());
        names.set("login", login_url.clone(), "https://login.firma.de");
        let upstreams = [
            (
                "orders",
                9001,
                TestServer::start(|s: &Seen| {
                    if s.method == http::Method::POST {
                        json_reply(r#"{"order":4711,"status":"created"}"#).status_code(201)
                    } else {
                        json_reply(r#"{"order":4711,"status":"shipped"}"#)
                    }
                })
                .await,
            ),
            (
                "users",
                9002,
                TestServer::start(|_: &Seen| json_reply(r#"{"user":"anna","role":"controller"}"#))
                    .await,
            ),
            (
                "catalog",
                9003,
                TestServer::start(|_: &Seen| json_reply(CATALOG).header("x-total-count", "1"))
                    .await,
            ),
            (
                "accounts",
                9004,
                TestServer::start(|s: &Seen| {
                    let cookie = s.header("cookie");
                    let session = if cookie.is_empty() {
                        "none".to_owned()
                    } else {
                        format!("{cookie:?}")
                    };
                    json_reply(&format!(
                        r#"{{"iban":"DE89 3704 0044 0532 0130 00","cookie":{session}}}"#
                    ))
                })
                .await,
            ),
            (
                "reports",
                9005,
                TestServer::start(move |_: &Seen| {
                    // The session expired: the application sends the browser to the login page.
                    Reply::new(302).header(
                        "location",
                        format!("{login_url}/sso?next=%2Freports%2Flatest"),
                    )
                })
                .await,
            ),
        ];
        let mut servers = vec![pages, dev, legacy, login];
        for (name, shown, server) in upstreams {
            names.set(name, server.base(), &format!("http://127.0.0.1:{shown}"));
            servers.push(server);
        }
        Ok(World {
            corsica,
            dir,
            names,
            leaf,
            _servers: servers,
        })
    }
}

/// A running `corsica serve`.
struct Serve {
    child: Child,
    port: u16,
}

impl Serve {
    async fn start(corsica: &Path, config: Option<&Path>) -> Result<Serve, String> {
        let mut cmd = Command::new(corsica);
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--format",
            "json",
        ]);
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        let (child, port) = crate::cdp::spawn_announcing(&mut cmd, false, |line| {
            let banner: Value = serde_json::from_str(line).ok()?;
            banner["listen"]
                .as_str()?
                .rsplit(':')
                .next()?
                .parse::<u16>()
                .ok()
        })
        .await
        .map_err(|e| format!("corsica serve: {e} (is its configuration valid?)"))?;
        Ok(Serve { child, port })
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// One run's results.
struct Outcome {
    chromium: Verdict,
    check: Verdict,
    explain: Verdict,
    /// How Chromium's console line differs from the one `check` predicts.
    message: Option<String>,
    /// The README block of this run.
    rendered: String,
}

/// The JavaScript `fetch()` call of a run.
fn fetch_call(run: &Run, url: &str) -> String {
    let mut init = Vec::new();
    if run.method != "GET" {
        init.push(format!("method: '{}'", run.method));
    }
    if !run.headers.is_empty() {
        let h: Vec<String> = run
            .headers
            .iter()
            .map(|(n, v)| format!("'{n}': '{v}'"))
            .collect();
        init.push(format!("headers: {{ {} }}", h.join(", ")));
    }
    if let Some(b) = run.body {
        init.push(format!("body: {b}"));
    }
    if let Some(c) = run.credentials {
        init.push(format!("credentials: '{c}'"));
    }
    if init.is_empty() {
        format!("fetch('{url}')")
    } else {
        format!("fetch('{url}', {{ {} }})", init.join(", "))
    }
}

/// `corsica check`'s arguments for a run (without the harness's `-k` and `--resolve`).
fn check_args(run: &Run, url: &str, origin: &str) -> Vec<String> {
    let mut args = vec![
        "check".to_owned(),
        url.to_owned(),
        "--origin".to_owned(),
        origin.to_owned(),
    ];
    if run.method != "GET" {
        args.extend(["-X".to_owned(), run.method.to_owned()]);
    }
    for (n, v) in run.headers {
        args.extend(["-H".to_owned(), format!("{n}: {v}")]);
    }
    if let Some(c) = run.credentials {
        args.extend(["--credentials".to_owned(), c.to_owned()]);
    }
    args
}

/// The command line as the README shows it.
fn shell_line(args: &[String]) -> String {
    let quoted: Vec<String> = args
        .iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect();
    match quoted.len() {
        n if n > 4 => format!(
            "$ corsica {} \\\n    {}",
            quoted[..4].join(" "),
            quoted[4..].join(" ")
        ),
        _ => format!("$ corsica {}", quoted.join(" ")),
    }
}

async fn corsica(bin: &Path, args: &[String]) -> Result<(String, i32), String> {
    let out = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run corsica: {e}"))?;
    let code = out.status.code().unwrap_or(-1);
    // Exit 2 with an explanation on stdout is a network failure the model explains.
    if code == 2 && out.stdout.is_empty() {
        return Err(format!(
            "`corsica {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok((String::from_utf8_lossy(&out.stdout).into_owned(), code))
}

/// What Chromium did, from the script's result and the tab's events.
async fn chromium_verdict(
    result: &Value,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<Value>,
    recorded: &mut Vec<Value>,
) -> (Verdict, String) {
    let r = &result["result"]["value"];
    let allowed = r["ok"] == true;
    let mut deadline = Instant::now() + Duration::from_millis(if allowed { 300 } else { 3000 });
    let mut settling = false;
    let (mut cors, mut message) = (None, None);
    loop {
        while let Ok(ev) = events.try_recv() {
            let p = &ev["params"];
            match ev["method"].as_str() {
                Some("Network.loadingFailed") if cors.is_none() => {
                    cors = p.get("corsErrorStatus").map(|c| Verdict::Blocked {
                        kind: c["corsError"].as_str().unwrap_or_default().to_owned(),
                        parameter: c["failedParameter"].as_str().unwrap_or_default().to_owned(),
                    });
                }
                Some("Log.entryAdded")
                    if p["entry"]["source"] == "javascript" && p["entry"]["category"] == "cors" =>
                {
                    message = p["entry"]["text"].as_str().map(str::to_owned);
                }
                _ => {}
            }
            recorded.push(ev);
        }
        if Instant::now() > deadline {
            break;
        }
        if !allowed && cors.is_some() && message.is_some() && !settling {
            // The verdict is in; late `*ExtraInfo` events still belong in the HAR.
            settling = true;
            deadline = Instant::now() + Duration::from_millis(300);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if allowed {
        let status = r["status"].as_u64().unwrap_or(0);
        return (
            Verdict::Allowed,
            format!("{status} {}", r["body"].as_str().unwrap_or_default()),
        );
    }
    let error = r["error"].as_str().unwrap_or("no result").to_owned();
    match cors {
        Some(v) => (
            v,
            message.unwrap_or_else(|| format!("{error} (no console message)")),
        ),
        None => (Verdict::Failed(error.clone()), error),
    }
}

async fn run_one(
    world: &World,
    browser: &Browser,
    slug: &str,
    i: usize,
    run: &Run,
) -> Result<Outcome, String> {
    let mut names = world.names.clone();
    let (mut config, mut serve, mut server) = (None, None, None);
    match &run.gateway {
        Gateway::None => {}
        Gateway::Embedded => serve = Some(Serve::start(&world.corsica, None).await?),
        Gateway::Toml(t) => {
            let path = world.dir.join(format!("{slug}-{i}.toml"));
            std::fs::write(&path, names.actual(&format!("{TLS}\n{t}")))
                .map_err(|e| e.to_string())?;
            config = Some(format!("```toml\n{t}```\n\n"));
            serve = Some(Serve::start(&world.corsica, Some(&path)).await?);
        }
        Gateway::Nginx(h) => {
            config = Some(format!("```nginx\n{}```\n\n", nginx_lines(h)));
            server = Some(nginx(&world.leaf, names.actual("{app}"), h).await);
        }
    }
    let port = serve
        .as_ref()
        .map(|s| s.port)
        .or(server.as_ref().map(|s| s.addr().port()));
    if let Some(port) = port {
        names.set(
            "api",
            format!("https://api.firma.de:{port}"),
            "https://api.firma.de",
        );
        names.set(
            "dev-api",
            format!("http://localhost:{port}"),
            "http://localhost:8080",
        );
    }
    let origin = names.actual(run.page);
    let url = names.actual(run.url);
    let (session, mut events) = browser.open_page(&format!("{origin}/"), &origin).await?;
    let mut recorded = Vec::new();
    let cookie = run
        .cookie
        .map(|c| format!("document.cookie = '{c}'; "))
        .unwrap_or_default();
    let script = format!(
        "(async () => {{ {cookie}try {{ const r = await {}; return {{ ok: true, status: r.status, body: await r.text() }}; }} catch (e) {{ return {{ ok: false, error: String(e) }}; }} }})()",
        fetch_call(run, &url)
    );
    let result = browser
        .call(
            Some(&session),
            "Runtime.evaluate",
            json!({"expression": script, "awaitPromise": true, "returnByValue": true}),
        )
        .await?;
    let (chromium, said) = chromium_verdict(&result, &mut events, &mut recorded).await;
    let _ = browser
        .call(
            Some(&session),
            "Page.navigate",
            json!({"url": "about:blank"}),
        )
        .await;

    // `corsica explain` on the HAR of this run.
    let har = crate::har::build(&recorded, &format!("{origin}/"), &browser.version, |u| {
        !u.starts_with(&origin)
    });
    let har_path = world.dir.join(format!("{slug}-{i}.har"));
    std::fs::write(&har_path, har.to_string()).map_err(|e| e.to_string())?;
    let (explained, _) = corsica(
        &world.corsica,
        &[
            "explain".into(),
            "--har".into(),
            har_path.display().to_string(),
            "--json".into(),
        ],
    )
    .await?;
    let explained: Value = serde_json::from_str(&explained).map_err(|e| format!("explain: {e}"))?;
    let requests = explained["requests"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let explain = requests
        .iter()
        .find(|r| r["url"] == url.as_str())
        .or(requests.first())
        .map_or_else(
            || Verdict::Failed(format!("explain found no request: {explained}")),
            verdict_of,
        );

    // `corsica check` with the same fetch() parameters.
    let args = check_args(run, &url, &origin);
    let mut live = args.clone();
    if !url.starts_with("http://localhost") {
        live.push("-k".to_owned());
        for host in ["api", "legacy", "login"] {
            live.extend([
                "--resolve".to_owned(),
                format!("{host}.firma.de:443:127.0.0.1"),
            ]);
        }
    }
    let (text, _) = corsica(&world.corsica, &live).await?;
    let mut json_args = live.clone();
    json_args.push("--json".into());
    let (checked, _) = corsica(&world.corsica, &json_args).await?;
    let check = verdict_of(&serde_json::from_str(&checked).map_err(|e| format!("check: {e}"))?);
    if let Some(s) = serve {
        s.stop().await;
    }

    let mut block = String::new();
    if !run.note.is_empty() {
        block += &format!("{}\n\n", run.note);
    }
    if let Some(c) = &config {
        block += &names.shown(c);
    }
    block += &format!("```js\n// on {}\n", names.shown(run.page));
    if let Some(c) = run.cookie {
        block += &format!("document.cookie = '{c}'; // at sign-in\n");
    }
    block += &format!(
        "await {}\n```\n\n```text\n",
        fetch_call(run, &names.shown(run.url))
    );
    block += &match &chromium {
        Verdict::Allowed if run.show_body => format!("Chromium: {}\n", names.normalize(&said)),
        Verdict::Allowed => format!("Chromium: {}\n", said.split(' ').next().unwrap_or_default()),
        _ => format!("Chromium (console): {}\n", names.normalize(&said)),
    };
    let shown_args = check_args(run, &names.shown(run.url), &names.shown(run.page));
    block += &format!(
        "\n{}\n{}\n```\n",
        shell_line(&shown_args),
        names.normalize(text.trim_end())
    );
    // Chromium's console line, word for word, is the one `check` predicts.
    let predicted = text.lines().find_map(|l| l.strip_prefix("Chromium: "));
    let message = match (&chromium, predicted) {
        (Verdict::Blocked { .. }, Some(p)) if p != said => {
            Some(format!("console: chromium {said:?}, check {p:?}"))
        }
        _ => None,
    };
    Ok(Outcome {
        chromium,
        check,
        explain,
        message,
        rendered: block,
    })
}

/// The README blocks between `<!-- situation:SLUG -->` and `<!-- /situation -->`.
fn readme_blocks(readme: &str) -> HashMap<String, (usize, usize)> {
    let mut blocks = HashMap::new();
    let mut at = 0;
    while let Some(start) = readme[at..].find("<!-- situation:").map(|i| i + at) {
        let Some(close) = readme[start..].find(" -->").map(|i| i + start) else {
            break;
        };
        let slug = readme[start + "<!-- situation:".len()..close].to_owned();
        let body = close + " -->\n".len();
        let Some(end) = readme[body..].find("<!-- /situation -->").map(|i| i + body) else {
            break;
        };
        blocks.insert(slug, (body.min(end), end));
        at = end;
    }
    blocks
}

/// Runs every situation; returns (situations run, disagreements).
pub async fn run(bless: bool, verbose: bool) -> Result<(usize, usize), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let corsica = exe.with_file_name("corsica");
    if !corsica.is_file() {
        return Err(format!(
            "{} is missing: build it first (`cargo build -p corsica-cli`)",
            corsica.display()
        ));
    }
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let mut readme = std::fs::read_to_string(&readme_path)
        .map_err(|e| format!("{}: {e}", readme_path.display()))?;
    let binary = crate::cdp::chromium_path().ok_or("Chromium not found (set CHROMIUM)")?;
    let world = World::start(corsica).await?;
    let browser = Browser::launch_with(
        &binary,
        &[
            "--host-resolver-rules=MAP *.firma.de 127.0.0.1, MAP *.shop.example 127.0.0.1"
                .to_owned(),
            "--ignore-certificate-errors".to_owned(),
        ],
    )
    .await?;
    let started = Instant::now();
    let (mut ran, mut disagreements) = (0, 0);
    let mut rendered: Vec<(&str, String)> =
        vec![("tls", format!("```toml\n{}```\n", world.names.shown(TLS)))];
    for s in situations() {
        ran += 1;
        let mut block = String::new();
        let mut last_config = None;
        for (i, r) in s.runs.iter().enumerate() {
            let o = match run_one(&world, &browser, s.slug, i, r).await {
                Ok(o) => o,
                Err(e) => {
                    disagreements += 1;
                    println!("DISAGREE {} run {i}: harness error: {e}", s.slug);
                    continue;
                }
            };
            let expected = match r.expect {
                Expect::Allowed => o.chromium == Verdict::Allowed,
                Expect::Blocked(k) => {
                    matches!(&o.chromium, Verdict::Blocked { kind, .. } if kind == k)
                }
            };
            if !expected || o.check != o.chromium || o.explain != o.chromium || o.message.is_some()
            {
                disagreements += 1;
                println!("DISAGREE {} run {i}", s.slug);
                println!(
                    "  chromium: {}\n  check:    {}\n  explain:  {}",
                    o.chromium, o.check, o.explain
                );
                if let Some(m) = &o.message {
                    println!("  {m}");
                }
            } else if verbose {
                println!("ok   {} run {i}: {}", s.slug, o.chromium);
            }
            // A configuration shown once for consecutive runs that share it.
            let config = match &r.gateway {
                Gateway::Toml(t) => Some(t.clone()),
                _ => None,
            };
            let mut text = o.rendered;
            if config.is_some() && config == last_config {
                if let (Some(a), Some(b)) = (text.find("```toml\n"), text.find("```\n\n```js")) {
                    text.replace_range(a..b + "```\n\n".len(), "");
                }
            }
            last_config = config;
            if i > 0 {
                block.push('\n');
            }
            block += &text;
        }
        rendered.push((s.slug, block));
    }
    let elapsed = started.elapsed();
    browser.close().await;
    let _ = std::fs::remove_dir_all(&world.dir);

    // The README's blocks are these outputs.
    let mut stale = Vec::new();
    for (slug, block) in rendered.iter().rev() {
        let Some(&(a, b)) = readme_blocks(&readme).get(*slug) else {
            stale.push(format!(
                "{slug} (no `<!-- situation:{slug} -->` … `<!-- /situation -->` in README.md)"
            ));
            continue;
        };
        if readme[a..b] != **block {
            if bless {
                readme.replace_range(a..b, block);
            } else {
                stale.push((*slug).to_owned());
                if verbose {
                    println!(
                        "--- README.md {slug}\n{}--- rendered\n{block}",
                        &readme[a..b]
                    );
                }
            }
        }
    }
    if bless {
        std::fs::write(&readme_path, &readme).map_err(|e| e.to_string())?;
        eprintln!("situations: README.md blessed");
    } else if !stale.is_empty() {
        disagreements += stale.len();
        stale.reverse();
        println!(
            "README.md differs from the run for: {} (see --verbose; `cargo xtask situations --bless` rewrites them)",
            stale.join(", ")
        );
    }
    eprintln!("situations: ran in {:.1}s", elapsed.as_secs_f64());
    Ok((ran, disagreements))
}
