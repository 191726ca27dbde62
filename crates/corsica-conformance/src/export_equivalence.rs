//! `--export nginx|caddy|haproxy`: the exported configuration proven equivalent to
//! `corsica serve`.
//!
//! For the README's example configuration (its upstreams pointed at the test's) and four
//! generated ones (many origins, patterns, `*`, credentials on and off, a public tier,
//! several hosts and overlapping routes, an unreachable upstream), it starts the real
//! server on the export and `corsica serve` on the same file, sends both the same battery
//! (allowed, denied, malformed and duplicate `Origin`s, preflights with odd
//! `Access-Control-Request-Method`/`-Headers`, unrouted paths, upstream errors), and
//! compares the status and every CORS header (values exactly; `Vary` as a set of tokens,
//! since the servers append their own line beside the upstream's where the engine merges
//! them). Then the browser model (`corsica check`'s engine and HTTP client) judges
//! `fetch()` calls against both servers: the verdicts must be the same. The last line is
//! `export TARGET: N configs, M requests, D differences`.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use corsica::fetch::{Credentials, FetchRequest, simulate};
use corsica_export::Target;

use crate::process::{Process, free_port, ready, serve};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The response headers compared exactly.
pub(crate) const COMPARED: [&str; 7] = [
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-expose-headers",
    "access-control-max-age",
    "corsica-route",
];

/// The test's upstream: 200 (or the status a `/status/NNN` path names) with CORS headers
/// of its own, which the gateway must replace, and a `Vary` the gateway must keep.
async fn upstream() -> Result<SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot bind the upstream: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = service_fn(|req: Request<Incoming>| async move {
                    let status = req
                        .uri()
                        .path()
                        .split("/status/")
                        .nth(1)
                        .and_then(|s| s.get(..3))
                        .and_then(|s| s.parse::<u16>().ok())
                        .unwrap_or(200);
                    let mut r = Response::new(Full::new(Bytes::from_static(b"ok")));
                    *r.status_mut() =
                        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
                    let h = r.headers_mut();
                    h.insert(
                        "access-control-allow-origin",
                        http::HeaderValue::from_static("https://evil.example"),
                    );
                    h.insert(
                        "access-control-allow-credentials",
                        http::HeaderValue::from_static("true"),
                    );
                    h.insert(
                        "access-control-max-age",
                        http::HeaderValue::from_static("86400"),
                    );
                    h.insert("vary", http::HeaderValue::from_static("Accept-Encoding"));
                    h.insert("x-request-id", http::HeaderValue::from_static("1"));
                    Ok::<_, Infallible>(r)
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// The configurations: the README's, then the generated ones. `UPSTREAM` and `DOWN`
/// stand for the upstream and for a port nothing listens on.
fn configs(readme: &str) -> Vec<(String, String)> {
    // The README's example: every upstream (echo included) pointed at the test upstream.
    let example = readme
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("upstream =") {
                "upstream = \"http://UPSTREAM\"".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let many: Vec<String> = (0..40)
        .map(|i| format!("\"https://app{i}.example.com\""))
        .collect();
    vec![
        ("README example (examples/gateway.toml)".to_owned(), example),
        (
            "many exact origins, credentials, two hosts".to_owned(),
            format!(
                r#"
[[route]]
name = "catalog"
host = "api.example.com"
path = "/catalog/"
upstream = "http://UPSTREAM"
[route.cors]
origins = [{}]
credentials = true
methods = ["GET", "POST", "PUT", "DELETE"]
headers = ["content-type", "authorization", "x-api-key"]
expose = ["x-request-id", "etag"]
max_age = 600

[[route]]
name = "admin"
host = "admin.example.com"
path = "/"
upstream = "http://UPSTREAM"
[route.cors]
origins = ["https://app0.example.com"]
methods = ["GET"]

[[route]]
name = "down"
host = "api.example.com"
path = "/down"
upstream = "http://DOWN"
[route.cors]
origins = ["https://app1.example.com"]
credentials = true
"#,
                many.join(", ")
            ),
        ),
        (
            "patterns, no credentials, every method and header".to_owned(),
            r#"
[[route]]
name = "api"
path = "/api"
upstream = "http://UPSTREAM"
[route.cors]
origins = ["https://*.example.com", "http://localhost:*", "https://*.example.org:8443", "null"]
allow_null_origin = true
methods = ["*"]
headers = ["*"]
expose = ["*"]
max_age = 0
"#
            .to_owned(),
        ),
        (
            "any origin, shadowed and overlapping routes".to_owned(),
            r#"
[[route]]
name = "v1"
path = "/v1/"
upstream = "http://UPSTREAM"
[route.cors]
origins = ["*"]
methods = ["GET", "HEAD"]
headers = ["x-api-key"]
expose = ["x-request-id"]

[[route]]
name = "root"
path = "/"
upstream = "http://UPSTREAM"
[route.cors]
origins = ["https://app.example.com"]
credentials = true
methods = ["GET", "POST", "PATCH"]
headers = ["*", "authorization"]

[[route]]
name = "shadowed"
path = "/v2/"
upstream = "http://UPSTREAM"
[route.cors]
origins = ["https://other.example.com"]
"#
            .to_owned(),
        ),
        (
            "public tier, credentials, custom statuses, host and host-less routes".to_owned(),
            r#"
[[route]]
name = "public"
host = "api.example.com"
path = "/items/"
upstream = "http://UPSTREAM"
[route.cors]
origins = ["https://app.example.com", "https://*.app.example.com"]
credentials = true
methods = ["GET", "HEAD", "POST", "DELETE"]
headers = ["content-type"]
expose = ["x-request-id"]
max_age = 3600
preflight_status = 200
denied_preflight_status = 404
[route.cors.public]
methods = ["GET"]
headers = ["x-trace"]
expose = ["etag"]

[[route]]
name = "anyhost"
path = "/health/"
upstream = "http://UPSTREAM"
[route.cors]
origins = ["http://localhost:3000"]
methods = ["GET"]
"#
            .to_owned(),
        ),
    ]
}

/// What the battery varies.
const ORIGINS: [&str; 26] = [
    "",
    "https://app.example.com",
    "https://app0.example.com",
    "https://app1.example.com",
    "https://a.example.com",
    "https://a.b.example.com",
    "https://x.app.example.com",
    "https://example.com",
    "https://example.com.evil.net",
    "https://evilexample.com",
    "http://localhost:3000",
    "http://localhost",
    "http://localhost:80",
    "https://a.example.org:8443",
    "https://a.example.org",
    "https://other.example.com",
    "null",
    "https://APP.example.com",
    "https://app.example.com/",
    "https://app.example.com:443",
    "https://app.example.com, https://a.example.com",
    "https://evil.example",
    "chrome-extension://abcdef",
    "https://-x.example.com",
    "DUP",
    "EMPTY",
];

const PATHS: [&str; 10] = [
    "/catalog/items",
    "/catalog",
    "/api/x?q=1",
    "/v1/a",
    "/v2/a",
    "/items/1",
    "/health/",
    "/down/x",
    "/nowhere",
    "/status/500/x",
];

const HOSTS: [&str; 3] = ["api.example.com", "admin.example.com", "elsewhere.example"];

/// One request of the battery, as raw HTTP/1.1.
pub(crate) fn request(
    method: &str,
    host: &str,
    path: &str,
    origin: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    match origin {
        "" => {}
        "DUP" => {
            r.push_str("Origin: https://app.example.com\r\nOrigin: https://app.example.com\r\n")
        }
        "EMPTY" => r.push_str("Origin:\r\n"),
        o => r.push_str(&format!("Origin: {o}\r\n")),
    }
    for (n, v) in extra {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    r.push_str("Connection: close\r\n\r\n");
    r
}

/// The battery: a deterministic walk over the variations, `per_config` requests.
fn battery(per_config: usize, target: Target) -> Vec<String> {
    let preflights: [&[(&str, &str)]; 10] = [
        &[("Access-Control-Request-Method", "GET")],
        &[
            ("Access-Control-Request-Method", "PUT"),
            ("Access-Control-Request-Headers", "content-type, x-api-key"),
        ],
        &[
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "X-Api-Key,,  Content-Type ",
            ),
        ],
        &[
            ("Access-Control-Request-Method", "DELETE"),
            ("Access-Control-Request-Headers", "authorization"),
        ],
        &[("Access-Control-Request-Method", "patch")],
        &[
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Method", "GET"),
        ],
        &[("Access-Control-Request-Method", "G E T")],
        &[
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "x-trace"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
        &[
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "x-undeclared"),
        ],
        &[
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "bad header"),
        ],
    ];
    // A lower-case method for all but nginx: nginx answers 400 to any (its request-line parser takes
    // upper-case letters only), where `corsica serve` serves `patch` as fetch() sends it.
    // A difference of nginx itself, said in the README, not of the export.
    let mut methods = vec![
        "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "CUSTOM",
    ];
    if target != Target::Nginx {
        methods.push("patch");
    }
    let mut out = Vec::new();
    let mut i = 0usize;
    while out.len() < per_config {
        // Strides walk the combinations in turn.
        let origin = ORIGINS[i % ORIGINS.len()];
        let path = PATHS[(i / 3) % PATHS.len()];
        let host = HOSTS[(i / 7) % HOSTS.len()];
        if i % 2 == 0 {
            let p = preflights[(i / 2) % preflights.len()];
            out.push(request("OPTIONS", host, path, origin, p));
        } else {
            let m = methods[(i / 5) % methods.len()];
            out.push(request(m, host, path, origin, &[]));
        }
        i += 1;
    }
    out
}

/// A response head: the status and the header lines (names lower-cased).
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
}

impl Head {
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Sends `raw` and reads the response head (the body is not compared: a HEAD answer
/// announces one it does not send).
pub(crate) async fn send(addr: SocketAddr, raw: &str) -> Result<Head, String> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.write_all(raw.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    if read.is_err() {
        return Err(format!("{addr}: no answer within 10 s"));
    }
    let text = String::from_utf8_lossy(&buf);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{addr}: not an HTTP response: {text:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Head { status, headers })
}

/// The `Vary` tokens, lower-cased.
fn vary(r: &Head) -> BTreeSet<String> {
    r.all("vary")
        .iter()
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Where the two answers differ (`b` is `target`'s).
fn differences(a: &Head, b: &Head, target: Target) -> Vec<String> {
    let mut out = Vec::new();
    if a.status != b.status {
        out.push(format!(
            "status: corsica {}, {target} {}",
            a.status, b.status
        ));
    }
    for name in COMPARED {
        let (x, y) = (a.all(name).join(", "), b.all(name).join(", "));
        if x != y {
            out.push(format!("{name}: corsica {x:?}, {target} {y:?}"));
        }
    }
    let (x, y) = (vary(a), vary(b));
    if x != y {
        out.push(format!("vary: corsica {x:?}, {target} {y:?}"));
    }
    out
}

/// Where `target`'s binary is, and the Debian packages it comes from.
fn binary(target: Target) -> Result<&'static str, String> {
    let (candidates, packages): (&[&'static str], &str) = match target {
        Target::Nginx => (
            &["/usr/sbin/nginx", "/usr/bin/nginx"],
            "nginx and libnginx-mod-http-js",
        ),
        Target::Caddy => (&["/usr/bin/caddy", "/usr/local/bin/caddy"], "caddy"),
        Target::Haproxy => (&["/usr/sbin/haproxy", "/usr/bin/haproxy"], "haproxy"),
    };
    candidates
        .iter()
        .copied()
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| format!("{target} not found: install Debian's {packages}"))
}

/// The command that runs `target` in the foreground on the export written in `dir`
/// (`main`: the main file's name).
fn launch(target: Target, program: &str, dir: &Path, main: &str) -> Command {
    let conf = dir.join(main);
    let mut c = Command::new(program);
    match target {
        Target::Nginx => {
            c.arg("-p")
                .arg(dir)
                .arg("-c")
                .arg(&conf)
                .args(["-g", "daemon off;"]);
        }
        Target::Caddy => {
            // Caddy keeps its state under the XDG directories: the test's, not the user's.
            c.args(["run", "--adapter", "caddyfile", "--config"])
                .arg(&conf)
                .env("XDG_DATA_HOME", dir.join("tmp"))
                .env("XDG_CONFIG_HOME", dir.join("tmp"))
                .env("HOME", dir.join("tmp"));
        }
        Target::Haproxy => {
            c.arg("-db").arg("-f").arg(&conf);
        }
    }
    c.current_dir(dir);
    c
}

/// A `fetch()` the browser model makes: page origin, host, path, headers, credentials.
type Fetch = (
    &'static str,
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
    Credentials,
);

/// The `fetch()` calls the browser model makes against both servers.
fn fetches() -> Vec<Fetch> {
    let mut out = Vec::new();
    for origin in [
        "https://app.example.com",
        "https://app0.example.com",
        "https://a.example.com",
        "https://evil.example",
        "http://localhost:3000",
    ] {
        for (path, host) in [
            ("/catalog/items", "api.example.com"),
            ("/api/x", "api.example.com"),
            ("/v1/a", "api.example.com"),
            ("/items/1", "api.example.com"),
            ("/nowhere", "api.example.com"),
        ] {
            out.push((origin, host, path, vec![], Credentials::SameOrigin));
            out.push((
                origin,
                host,
                path,
                vec![("x-api-key", "k"), ("content-type", "application/json")],
                Credentials::Include,
            ));
        }
    }
    out
}

/// Runs the whole check for `target`; returns (configs, requests, differences).
pub async fn run(target: &str, verbose: bool) -> Result<(usize, usize, usize), String> {
    let target: Target = target.parse()?;
    let program = binary(target)?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let corsica = exe.with_file_name("corsica");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("examples/gateway.toml"))
        .map_err(|e| format!("examples/gateway.toml: {e}"))?;
    let up = upstream().await?;
    let down = free_port()?;
    let work = std::env::temp_dir().join(format!("corsica-export-{}", std::process::id()));
    let (mut requests, mut differing) = (0usize, 0usize);
    let all = configs(&readme);
    for (n, (label, text)) in all.iter().enumerate() {
        let (a_port, b_port, admin) = (free_port()?, free_port()?, free_port()?);
        let text = text
            .replace("UPSTREAM", &up.to_string())
            .replace("DOWN", &format!("127.0.0.1:{down}"));
        // Both listen where the test says: the file's own `listen`/`admin` lines replaced.
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with("listen =") && !l.starts_with("admin ="))
            .collect::<Vec<_>>()
            .join("\n");
        let dir = work.join(format!("config{n}"));
        std::fs::create_dir_all(dir.join("tmp")).map_err(|e| e.to_string())?;
        let serve_file = dir.join("gateway.toml");
        std::fs::write(
            &serve_file,
            format!("listen = \"127.0.0.1:{a_port}\"\nadmin = \"127.0.0.1:{admin}\"\n{body}\n"),
        )
        .map_err(|e| e.to_string())?;
        let export_text = format!("listen = \"127.0.0.1:{b_port}\"\n{body}\n");
        let config = corsica_gateway::config::Config::parse(&export_text, "gateway.toml")
            .map_err(|e| format!("{label}: {e}"))?;
        let exported = corsica_export::export(&config, target)
            .map_err(|e| format!("{label}: export refused: {e}"))?;
        for (name, content) in exported.files() {
            std::fs::write(dir.join(name), content).map_err(|e| e.to_string())?;
        }
        let main = &exported.files()[0].0;
        // The server's log (upstream errors are part of the battery) is shown only when
        // it does not start.
        let log = dir.join("server.log");
        let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let _server = Process(
            launch(target, program, &dir, main)
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .map_err(|e| format!("cannot start {target}: {e}"))?,
        );
        let _serve = serve(&corsica, &serve_file, Stdio::null())?;
        let a: SocketAddr = format!("127.0.0.1:{a_port}")
            .parse()
            .map_err(|e| format!("{e}"))?;
        let b: SocketAddr = format!("127.0.0.1:{b_port}")
            .parse()
            .map_err(|e| format!("{e}"))?;
        ready(a, "corsica serve").await?;
        if let Err(e) = ready(b, target.as_str()).await {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("{e}; its log:\n{text}"));
        }
        let battery = battery(240, target);
        let mut differ = 0;
        for raw in &battery {
            let (x, y) = (send(a, raw).await?, send(b, raw).await?);
            let d = differences(&x, &y, target);
            if d.is_empty() {
                continue;
            }
            differ += 1;
            println!("DIFFER ({label})\n  request: {:?}", raw.trim_end());
            for p in d {
                println!("  - {p}");
            }
        }
        // The browser model on both sides: the same verdict for each fetch().
        let model_differ = tokio::task::spawn_blocking({
            let label = label.clone();
            move || model_pass(&label, target, a_port, b_port, verbose)
        })
        .await
        .map_err(|e| format!("the model pass panicked: {e}"))??;
        eprintln!(
            "export {target}: {label}: {} requests, {differ} differ; browser model: {model_differ} verdicts differ",
            battery.len()
        );
        requests += battery.len();
        differing += differ + model_differ;
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok((all.len(), requests, differing))
}

/// `corsica check`'s engine and client on both servers; returns how many verdicts differ.
fn model_pass(label: &str, target: Target, a: u16, b: u16, verbose: bool) -> Result<usize, String> {
    let options = corsica_doctor::LiveOptions {
        resolve: ["api.example.com", "admin.example.com"]
            .iter()
            .map(|h| ((*h).to_owned(), std::net::IpAddr::from([127, 0, 0, 1])))
            .collect(),
        ..corsica_doctor::LiveOptions::default()
    };
    let mut differ = 0;
    for (origin, host, path, headers, credentials) in fetches() {
        let verdict = |port: u16| -> Result<String, String> {
            let mut live = corsica_doctor::LiveServer::new(&options).map_err(|e| e.to_string())?;
            let page = corsica::Origin::parse(origin).map_err(|e| e.to_string())?;
            let mut r = FetchRequest::new(page, format!("http://{host}:{port}{path}"))
                .credentials(credentials);
            for (n, v) in &headers {
                r = r.header(*n, *v);
            }
            let outcome = simulate(&r, &mut live, None);
            // The verdict without the URL (the ports differ).
            Ok(outcome
                .verdict
                .to_string()
                .replace(&format!(":{port}"), ":PORT"))
        };
        let (x, y) = (verdict(a)?, verdict(b)?);
        if x != y {
            differ += 1;
            println!(
                "DIFFER (model, {label}) fetch from {origin} to {host}{path} {headers:?}\n  corsica: {x}\n  {target}: {y}"
            );
        } else if verbose {
            println!("same ({label}) {origin} {host}{path}: {x}");
        }
    }
    Ok(differ)
}
