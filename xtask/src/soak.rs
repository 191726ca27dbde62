//! `cargo xtask soak [--short] [--only NAME[,NAME]] [--bless]`: the gateway tried as an
//! attacker and an operator would try it, with the tools the field uses (Debian's `wrk`,
//! `h2load` from `nghttp2-client`, `slowhttptest` and `nginx`, installed when missing, as
//! root). Every scenario runs the release `corsica serve` on loopback ports, prints its
//! figure on one line (`soak: NAME: …`) and fails the task when its assertion does not hold:
//!
//! 1. `connections`: 10,000 keep-alive HTTP/1.1 connections held open (one GET answered on
//!    each), resident memory before and during the hold (kB per connection), the
//!    `corsica_client_connections_parked` gauge, a wrk run's p99 during the hold; then as
//!    many h2 clients through `h2load`; the same hold against nginx. Zero errors.
//! 2. `slow-clients`: slowloris (`slowhttptest -H`) and slow bodies (`-B`) with a few
//!    hundred sockets while wrk measures normal clients: their p99 stays within
//!    3× the p99 without the attack + 5 ms, with zero errors, and every slow socket is closed
//!    (by `header_read_timeout_ms` and `body_read_timeout_ms`, 2 s here).
//! 3. `upstream-faults`: `corsica-bench faults` refuses, hangs, resets, declares a longer body
//!    than it sends, answers garbage, closes pooled connections (idle, and as the next
//!    request arrives): every client gets a
//!    complete response or a 502/504 with the route's CORS headers within
//!    `upstream_timeout_ms`, and the gateway's descriptors return to their baseline; nginx
//!    beside.
//! 4. `smuggling`: raw requests with ambiguous framing (CL+TE, two lengths,
//!    `chunked, identity`, `xchunked`, obs-fold, bare LF, NUL, oversized line and headers) to
//!    a recording upstream: each is refused (4xx/501) or reaches it as one unambiguous
//!    request, never with a second, smuggled one; nginx beside.
//! 5. `reloads`: 100 reloads under wrk, valid and invalid configurations alternating, half
//!    by SIGHUP and half by an atomic rewrite for the watcher: zero failed requests, the
//!    last valid configuration in force, each invalid one logged.
//! 6. `sigterm`: requests in flight to a slow upstream, SIGTERM: all complete, new
//!    connections are refused, `/healthz` says 503 `draining`, exit status 0.
//!
//! `--short` runs each with fewer connections, sockets and reloads (about two minutes in
//! all; `cargo xtask test` runs it). The full run writes `target/soak/report.md`; `--bless`
//! copies its table into the README's `<!-- soak -->` block.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{
    self, Proc, WrkResult, block, exchange, fd_count, free_port, nofile_hard_limit, replace_block,
    tree_rss_kib, with_nofile,
};

/// The usage line of `cargo xtask soak`.
pub const USAGE: &str = "soak [--short] [--only NAME[,NAME]] [--bless]";

/// The scenarios, in the order they run.
pub const SCENARIOS: [&str; 6] = [
    "connections",
    "slow-clients",
    "upstream-faults",
    "smuggling",
    "reloads",
    "sigterm",
];

/// The origin every route allows (with credentials).
const ORIGIN: &str = "https://app.example.com";

/// The options of `cargo xtask soak`.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub short: bool,
    pub only: Vec<String>,
    pub bless: bool,
}

impl Options {
    /// Parses the arguments after `soak`.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = Options {
            short: false,
            only: Vec::new(),
            bless: false,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--short" => o.short = true,
                "--bless" => o.bless = true,
                "--only" => {
                    let list = it
                        .next()
                        .ok_or("`--only` needs scenario names, e.g. `--only reloads,sigterm`")?;
                    for name in list.split(',').filter(|n| !n.is_empty()) {
                        if !SCENARIOS.contains(&name) {
                            return Err(format!(
                                "unknown soak scenario `{name}`; the scenarios are {}",
                                SCENARIOS.join(", ")
                            ));
                        }
                        o.only.push(name.to_owned());
                    }
                }
                other => {
                    return Err(format!(
                        "unknown soak option `{other}`; usage: cargo xtask {USAGE}"
                    ));
                }
            }
        }
        Ok(o)
    }

    fn selected(&self) -> Vec<&'static str> {
        SCENARIOS
            .iter()
            .copied()
            .filter(|s| self.only.is_empty() || self.only.iter().any(|o| o == s))
            .collect()
    }
}

/// One scenario's line of the table.
#[derive(Debug, Clone)]
struct Row {
    ours: String,
    nginx: String,
    /// Why the scenario failed; empty when it held.
    failures: Vec<String>,
}

impl Row {
    fn new() -> Row {
        Row {
            ours: String::new(),
            nginx: "–".into(),
            failures: Vec::new(),
        }
    }

    /// Records a failure unless `ok`.
    fn check(&mut self, ok: bool, why: impl FnOnce() -> String) {
        if !ok {
            self.failures.push(why());
        }
    }
}

/// What every scenario needs: the binaries, the scratch directory, the size.
struct Env {
    release: PathBuf,
    dir: PathBuf,
    short: bool,
    /// The open-file limit given to the servers and clients (soft and hard).
    nofile: u64,
}

fn soak_dir() -> PathBuf {
    crate::target_dir().join("soak")
}

/// Runs `cargo xtask soak`.
pub fn run(args: &[String]) -> Result<(), String> {
    let o = Options::parse(args)?;
    let report = soak_dir().join("report.md");
    if o.bless {
        return bless(&report, &crate::workspace_root().join("README.md"));
    }
    let started = Instant::now();
    common::ensure_packages(&[
        ("wrk", "wrk"),
        ("h2load", "nghttp2-client"),
        ("slowhttptest", "slowhttptest"),
        ("nginx", "nginx"),
        ("prlimit", "util-linux"),
    ])?;
    let release = common::build_release()?;
    let dir = soak_dir().join(if o.short { "run-short" } else { "run" });
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", dir.display()))?;
    // Two descriptors per gateway connection (client and upstream) for 10,000 connections,
    // and the client holding them: raise the hard limit for the children (root may).
    // Two descriptors per gateway connection (client and upstream) for 10,000 connections:
    // raise the children's hard limit when this process may (root outside a container);
    // otherwise `connections` holds as many as the hard limit allows, and says so.
    let want: u64 = 32_768;
    let hard = nofile_hard_limit();
    let raised = hard < want
        && Command::new("prlimit")
            .arg(format!("--nofile={want}:{want}"))
            .args(["--", "true"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    let nofile = if raised { want } else { hard };
    let env = Env {
        release,
        dir,
        short: o.short,
        nofile,
    };
    let mut rows: Vec<(&str, Row)> = Vec::new();
    for name in o.selected() {
        let t = Instant::now();
        eprintln!("xtask: soak: {name}…");
        let row = match name {
            "connections" => connections(&env),
            "slow-clients" => slow_clients(&env),
            "upstream-faults" => upstream_faults(&env),
            "smuggling" => smuggling(&env),
            "reloads" => reloads(&env),
            "sigterm" => sigterm(&env),
            _ => unreachable!("parse checks the names"),
        }
        .unwrap_or_else(|e| Row {
            ours: "could not run".into(),
            nginx: "–".into(),
            failures: vec![e],
        });
        println!(
            "soak: {name}: {}{} ({:.0} s)",
            row.ours,
            if row.nginx != "–" {
                format!("; nginx: {}", row.nginx)
            } else {
                String::new()
            },
            t.elapsed().as_secs_f64()
        );
        for f in &row.failures {
            println!("soak: {name}: FAILED: {f}");
        }
        rows.push((name, row));
    }
    let table = render(&rows, o.short);
    if !o.short {
        let text = format!(
            "# Corsica soak report\n\nWritten by `cargo xtask soak` in {:.0} s{}.\n\n<!-- soak -->\n{table}<!-- /soak -->\n",
            started.elapsed().as_secs_f64(),
            if o.only.is_empty() {
                String::new()
            } else {
                format!(" (only {})", o.only.join(", "))
            }
        );
        std::fs::write(&report, text)
            .map_err(|e| format!("cannot write {}: {e}", report.display()))?;
        eprintln!(
            "xtask: wrote {} (copy it into the README with `cargo xtask soak --bless`)",
            report.display()
        );
    }
    let failed: Vec<&str> = rows
        .iter()
        .filter(|(_, r)| !r.failures.is_empty())
        .map(|(n, _)| *n)
        .collect();
    println!(
        "soak: {} scenarios, {} failed{} in {:.0} s",
        rows.len(),
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(" ({})", failed.join(", "))
        },
        started.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "soak: {} failed; each failure is printed above as `soak: NAME: FAILED: …`",
            failed.join(", ")
        ))
    }
}

/// The table: one row per scenario.
fn render(rows: &[(&str, Row)], short: bool) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Machine: {} cores, Linux {}; {}; corsica at commit {}{}.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        common::command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        common::command_output("git", &["rev-parse", "--short=12", "HEAD"]),
        if short { " (short run)" } else { "" }
    );
    t.push_str("| scenario | corsica serve | nginx | outcome |\n|---|---|---|---|\n");
    for (name, r) in rows {
        let outcome = if r.failures.is_empty() {
            "held: zero lost or mis-headed responses".to_owned()
        } else {
            format!("**failed**: {}", r.failures.join("; "))
        };
        let _ = writeln!(
            t,
            "| {name} | {} | {} | {} |",
            r.ours.replace('|', "/"),
            r.nginx.replace('|', "/"),
            outcome.replace('|', "/").replace('\n', " ")
        );
    }
    t
}

/// Copies the report's table into the README's `soak` block.
fn bless(report: &Path, readme: &Path) -> Result<(), String> {
    let r = std::fs::read_to_string(report).map_err(|e| {
        format!(
            "cannot read {} ({e}): run `cargo xtask soak` (not `--short`) first",
            report.display()
        )
    })?;
    let content =
        block(&r, "soak").ok_or_else(|| format!("{} has no `soak` block", report.display()))?;
    let text = std::fs::read_to_string(readme)
        .map_err(|e| format!("cannot read {}: {e}", readme.display()))?;
    let text = replace_block(&text, "soak", content).ok_or_else(|| {
        format!(
            "{} has no `<!-- soak -->` … `<!-- /soak -->` block (in its Reliability section)",
            readme.display()
        )
    })?;
    std::fs::write(readme, text).map_err(|e| format!("cannot write {}: {e}", readme.display()))?;
    eprintln!(
        "xtask: README's soak table rewritten from {}",
        report.display()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Servers.

impl Env {
    /// Starts `corsica-bench ARGS --port P`; returns it and its port.
    fn bench_server(&self, name: &str, args: &[&str]) -> Result<(Proc, u16), String> {
        let port = free_port()?;
        let mut c = with_nofile(self.nofile, &self.release.join("corsica-bench"));
        c.args(args).args(["--port", &port.to_string()]);
        let mut p = Proc::spawn(name, c, &self.dir)?;
        p.wait_listening(port)?;
        Ok((p, port))
    }

    /// The shared fast upstream.
    fn upstream(&self) -> Result<(Proc, u16), String> {
        self.bench_server("upstream", &["upstream"])
    }

    /// The fault upstream, its slow path answering after `slow_ms`.
    fn faults(&self, slow_ms: u64) -> Result<(Proc, u16), String> {
        self.bench_server("faults", &["faults", "--slow-ms", &slow_ms.to_string()])
    }

    /// Starts `corsica serve` on the configuration `toml(port, admin)` written to
    /// `NAME.toml`.
    fn gateway(&self, name: &str, toml: impl Fn(u16, u16) -> String) -> Result<Gateway, String> {
        let port = free_port()?;
        let admin = free_port()?;
        let config = self.dir.join(format!("{name}.toml"));
        std::fs::write(&config, toml(port, admin))
            .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        let c = common::corsica_serve(
            with_nofile(self.nofile, &self.release.join("corsica")),
            &config,
        );
        let mut proc = Proc::spawn(name, c, &self.dir)?;
        proc.wait_listening(port)?;
        proc.wait_listening(admin)?;
        Ok(Gateway {
            proc,
            port,
            admin,
            config,
        })
    }

    /// Starts nginx (one worker) on `port` with [`nginx_conf`].
    fn nginx(
        &self,
        name: &str,
        port: u16,
        upstream: u16,
        faults: u16,
        closed: u16,
    ) -> Result<Proc, String> {
        let prefix = self.dir.join(name);
        std::fs::create_dir_all(&prefix)
            .map_err(|e| format!("cannot create {}: {e}", prefix.display()))?;
        let conf = prefix.join("nginx.conf");
        std::fs::write(
            &conf,
            nginx_conf(port, upstream, faults, closed, &prefix, self.nofile),
        )
        .map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
        let mut c = with_nofile(self.nofile, Path::new("nginx"));
        c.arg("-p")
            .arg(&prefix)
            .arg("-e")
            .arg(prefix.join("error.log"))
            .arg("-c")
            .arg(&conf);
        let mut p = Proc::spawn(name, c, &self.dir)?;
        p.wait_listening(port)?;
        Ok(p)
    }

    /// `short` or `full`.
    fn pick<T>(&self, short: T, full: T) -> T {
        if self.short { short } else { full }
    }
}

/// A running `corsica serve`.
struct Gateway {
    proc: Proc,
    port: u16,
    admin: u16,
    config: PathBuf,
}

impl Gateway {
    fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// The value of the metric line starting with `series` (name and labels) on /metrics.
    fn metric(&self, series: &str) -> Option<f64> {
        let text = exchange(
            self.admin,
            "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        )
        .ok()?;
        metric_value(&text, series)
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.proc.stderr).unwrap_or_default()
    }
}

/// The value of the Prometheus line `series value` in `text`.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// The gateway's configuration: `limits` lines under `[limits]`, then `routes` (each with
/// the soak's CORS policy appended by [`route`]).
fn gateway_toml(port: u16, admin: u16, limits: &str, routes: &str) -> String {
    format!(
        "# Written by `cargo xtask soak`.\nlisten = \"127.0.0.1:{port}\"\nadmin = \"127.0.0.1:{admin}\"\n\n[limits]\n{limits}\n\n{routes}"
    )
}

/// One route to `upstream` (`echo` or `http://…`) with the soak's policy: [`ORIGIN`] with
/// credentials, `expose` listed.
fn route(name: &str, path: Option<&str>, upstream: &str, expose: &str) -> String {
    format!(
        "[[route]]\nname = \"{name}\"\n{}upstream = \"{upstream}\"\n[route.cors]\norigins = [\"{ORIGIN}\"]\ncredentials = true\nmethods = [\"GET\", \"POST\"]\nexpose = [\"{expose}\"]\n\n",
        path.map_or(String::new(), |p| format!("path = \"{p}\"\n"))
    )
}

/// nginx for the soak: one worker, the CORS headers added `always` (502 and 504 too) for
/// [`ORIGIN`], keep-alive to `upstream` (and to `faults` for `/fault/`), `/fault/refused`
/// to the closed port `closed`, timeouts as the gateway's in the soak (1 s to the faults'
/// upstream, 30 s to the others, 2 s for a client's head and between two reads of its
/// body).
pub fn nginx_conf(
    port: u16,
    upstream: u16,
    faults: u16,
    closed: u16,
    prefix: &Path,
    nofile: u64,
) -> String {
    let http = format!(
        r#"    client_header_timeout 2s;
    client_body_timeout 2s;
    # As the gateway's: its default (30 s) for the backend, 1 s for the faults.
    proxy_connect_timeout 30s;
    proxy_read_timeout 30s;
    proxy_send_timeout 30s;

    map $http_origin $cors_origin {{
        default "";
        "{ORIGIN}" $http_origin;
    }}
    map $cors_origin $cors_credentials {{
        "" "";
        default "true";
    }}

    upstream backend {{
        server 127.0.0.1:{upstream};
        keepalive 256;
    }}
    upstream faults {{
        server 127.0.0.1:{faults};
        keepalive 256;
    }}
    upstream closed {{
        server 127.0.0.1:{closed};
    }}

    server {{
        listen 127.0.0.1:{port} backlog=4096;
        add_header Access-Control-Allow-Origin $cors_origin always;
        add_header Access-Control-Allow-Credentials $cors_credentials always;
        add_header Vary Origin always;
        proxy_hide_header Access-Control-Allow-Origin;
        proxy_hide_header Access-Control-Allow-Credentials;
        proxy_http_version 1.1;
        proxy_set_header Connection "";

        location /fault/refused {{
            proxy_connect_timeout 1s;
            proxy_pass http://closed;
        }}
        location /fault/ {{
            proxy_connect_timeout 1s;
            proxy_read_timeout 1s;
            proxy_send_timeout 1s;
            proxy_pass http://faults;
        }}
        location / {{
            proxy_pass http://backend;
        }}
    }}
"#
    );
    common::nginx_conf("soak", prefix, nofile, &http)
}

/// A wrk script sending `GET` with [`ORIGIN`], written into `dir`.
fn wrk_script(dir: &Path) -> Result<PathBuf, String> {
    let p = dir.join("get.lua");
    std::fs::write(
        &p,
        format!("wrk.method = \"GET\"\nwrk.headers[\"Origin\"] = \"{ORIGIN}\"\n"),
    )
    .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    Ok(p)
}

fn wrk(env: &Env, port: u16, path: &str, connections: u32, secs: u64) -> Result<WrkResult, String> {
    let script = wrk_script(&env.dir)?;
    common::run_wrk(
        &[],
        &format!("http://127.0.0.1:{port}{path}"),
        Some(&script),
        connections,
        secs,
    )
}

/// Sets its flag when dropped: a thread looping on it ends whichever way the scenario
/// returns.
struct StopOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// wrk in a thread, in runs of 2 s until `stop` is set: the runs' requests and errors
/// added up, the worst p99, when joined.
fn wrk_until(
    env: &Env,
    port: u16,
    path: &str,
    connections: u32,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Result<std::thread::JoinHandle<Result<WrkResult, String>>, String> {
    let script = wrk_script(&env.dir)?;
    let url = format!("http://127.0.0.1:{port}{path}");
    Ok(std::thread::spawn(move || {
        let mut total: Option<WrkResult> = None;
        while total.is_none() || !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let r = common::run_wrk(&[], &url, Some(&script), connections, 2)?;
            total = Some(match total {
                None => r,
                Some(t) => WrkResult {
                    requests: t.requests + r.requests,
                    rps: t.rps.min(r.rps),
                    p50_us: t.p50_us.max(r.p50_us),
                    p99_us: t.p99_us.max(r.p99_us),
                    errors: t.errors + r.errors,
                },
            });
        }
        Ok(total.expect("at least one run"))
    }))
}

fn ms(us: f64) -> String {
    format!("{:.1} ms", us / 1000.0)
}

fn kill(pid: u32, signal: &str) -> Result<(), String> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .map_err(|e| format!("cannot run kill: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`kill -{signal} {pid}` failed ({status})"))
    }
}

// ---------------------------------------------------------------------------------------
// A small blocking HTTP/1.1 client.

/// One response as the client saw it.
#[derive(Debug, Clone, Default)]
pub struct Resp {
    /// `None`: no status line came (refused, reset, empty reply).
    pub status: Option<u16>,
    /// Lowercased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body is as long as announced (`Content-Length`, or chunked to its last chunk).
    pub complete: bool,
    pub elapsed: Duration,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a raw response (the server closed the connection after it).
pub fn parse_response(raw: &[u8]) -> Resp {
    let mut r = Resp::default();
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return r;
    };
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !status.starts_with("HTTP/1.") {
        return r;
    }
    r.status = status
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok());
    for l in lines {
        if let Some((n, v)) = l.split_once(':') {
            r.headers
                .push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let body = &raw[end + 4..];
    if r.header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        let mut rest = body;
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = std::str::from_utf8(&rest[..eol])
                .ok()
                .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok());
            let Some(size) = size else { break };
            if size == 0 {
                r.complete = true;
                break;
            }
            let start = eol + 2;
            if rest.len() < start + size + 2 {
                r.body.extend_from_slice(&rest[start.min(rest.len())..]);
                break;
            }
            r.body.extend_from_slice(&rest[start..start + size]);
            rest = &rest[start + size + 2..];
        }
    } else if let Some(len) = r
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        r.body = body[..body.len().min(len)].to_vec();
        r.complete = body.len() >= len;
    } else {
        r.body = body.to_vec();
        r.complete = true;
    }
    r
}

/// `GET path` with [`ORIGIN`] on a new connection (`Connection: close`), read until the
/// server closes it or `timeout` passes.
fn get(port: u16, path: &str, timeout: Duration) -> Resp {
    let started = Instant::now();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {ORIGIN}\r\nConnection: close\r\n\r\n"
    );
    let raw = send_raw(port, req.as_bytes(), timeout).unwrap_or_default();
    let mut r = parse_response(&raw);
    r.elapsed = started.elapsed();
    r
}

/// Writes `bytes` on a new connection and reads until the server closes it, `timeout`
/// passes, or nothing comes for `timeout`.
fn send_raw(port: u16, bytes: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
    let started = Instant::now();
    let mut c = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    c.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    // The server may answer (and close) before reading everything: keep what came.
    let _ = c.write_all(bytes);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    while started.elapsed() < timeout {
        match c.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Ok(buf)
}

// ---------------------------------------------------------------------------------------
// 1. connections

fn connections(env: &Env) -> Result<Row, String> {
    let wanted: usize = env.pick(1_000, 10_000);
    // `corsica serve` sizes its slots at two descriptors per connection beside the admin's
    // and a reserve: hold no more than that (as `cargo xtask bench` does).
    let fit = (env.nofile.saturating_sub(200) / 2 / 100 * 100) as usize;
    let n = wanted.min(fit);
    if n == 0 {
        return Err(format!(
            "the open-file limit ({}) leaves no room for connections: raise it (`ulimit -Hn 32768`, as root)",
            env.nofile
        ));
    }
    let limited = if n < wanted {
        format!(
            " (not {}: the open-file hard limit, {}, holds {} through the gateway's two descriptors per connection; raise it with `ulimit -Hn 32768` as root)",
            common::fmt_int(wanted as u64),
            env.nofile,
            common::fmt_int(n as u64)
        )
    } else {
        String::new()
    };
    let wrk_secs = env.pick(3, 10);
    let (_upstream, up) = env.upstream()?;
    let gw = env.gateway("connections", |port, admin| {
        gateway_toml(
            port,
            admin,
            &format!(
                "max_connections = {}\nmax_connections_per_client = 0\nheader_read_timeout_ms = 120000",
                n + 2_000
            ),
            &route("api", None, &format!("http://127.0.0.1:{up}"), "x-request-id"),
        )
    })?;
    let mut row = Row::new();
    // Warm the gateway up (its pool, its allocator) before the baseline.
    wrk(env, gw.port, "/api", 32, 1)?;
    std::thread::sleep(Duration::from_millis(500));
    let before = tree_rss_kib(gw.pid());
    let idle = common::hold_idle(
        with_nofile(env.nofile, &env.release.join("corsica-bench")),
        gw.port,
        n,
        ORIGIN,
        &env.dir,
        "corsica serve",
    )?;
    // Parked after 1 s of quiet.
    std::thread::sleep(Duration::from_millis(1_500));
    let during = tree_rss_kib(gw.pid());
    let parked = gw
        .metric("corsica_client_connections_parked")
        .unwrap_or(-1.0);
    let open = gw.metric("corsica_client_connections").unwrap_or(-1.0);
    let w = wrk(env, gw.port, "/api", 32, wrk_secs)?;
    // Settled: after the wrk run, the connections still held and parked (the gateway
    // gives memory back once they are; see its memory.rs).
    let settled = tree_rss_kib(gw.pid());
    drop(idle);
    let per_conn = (during.saturating_sub(before)) as f64 / n as f64;
    let settled_per_conn = (settled.saturating_sub(before)) as f64 / n as f64;
    row.check(w.errors == 0, || {
        format!("wrk saw {} errors during the hold", w.errors)
    });
    row.check(open >= n as f64, || {
        format!("the gateway counted {open} open connections during the hold of {n}")
    });
    // Idle keep-alive connections are parked after 1 s quiet (parser and buffers
    // released): the mechanism that keeps them cheap.
    row.check(parked >= (n * 9 / 10) as f64, || {
        format!("{parked} of the {n} idle connections were parked 1.5 s after their last request")
    });

    // h2: as many clients through h2load, two requests each.
    std::thread::sleep(Duration::from_secs(2));
    let h2_before = tree_rss_kib(gw.pid());
    let (h2, h2_peak) = h2load(env, gw.port, n, gw.pid())?;
    let h2_per_conn = (h2_peak.saturating_sub(h2_before)) as f64 / n as f64;
    row.check(h2.ok && h2.succeeded == 2 * n as u64, || {
        format!(
            "h2load: {} of {} requests succeeded ({})",
            h2.succeeded,
            2 * n,
            h2.summary
        )
    });
    row.ours = format!(
        "{}{limited} h1 keep-alive connections: {per_conn:.1} kB each 1.5 s after their requests (RSS {:.1} → {:.1} MiB), {settled_per_conn:.1} kB each once settled (RSS {:.1} MiB after the wrk run), {} parked, wrk p99 {} during the hold, {} errors; {} h2 clients (h2load): {h2_per_conn:.1} kB each at the peak, {} of {} requests 2xx",
        common::fmt_int(n as u64),
        before as f64 / 1024.0,
        during as f64 / 1024.0,
        settled as f64 / 1024.0,
        parked,
        ms(w.p99_us),
        w.errors,
        common::fmt_int(n as u64),
        h2.succeeded,
        2 * n
    );
    drop(gw);

    // nginx, the same hold.
    let nport = free_port()?;
    let closed = free_port()?;
    let nginx = env.nginx("nginx-connections", nport, up, up, closed)?;
    wrk(env, nport, "/api", 32, 1)?;
    std::thread::sleep(Duration::from_millis(500));
    let nbefore = tree_rss_kib(nginx.pid());
    let idle = common::hold_idle(
        with_nofile(env.nofile, &env.release.join("corsica-bench")),
        nport,
        n,
        ORIGIN,
        &env.dir,
        "nginx",
    )?;
    std::thread::sleep(Duration::from_millis(1_500));
    let nduring = tree_rss_kib(nginx.pid());
    let nw = wrk(env, nport, "/api", 32, wrk_secs)?;
    drop(idle);
    row.nginx = format!(
        "{:.1} kB each (RSS {:.1} → {:.1} MiB), wrk p99 {}, {} errors",
        (nduring.saturating_sub(nbefore)) as f64 / n as f64,
        nbefore as f64 / 1024.0,
        nduring as f64 / 1024.0,
        ms(nw.p99_us),
        nw.errors
    );
    Ok(row)
}

/// h2load's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct H2load {
    pub succeeded: u64,
    pub ok: bool,
    pub summary: String,
}

/// Reads h2load's `requests:` line: `requests: N total, N started, N done, N succeeded,
/// F failed, E errored, T timeout`; `ok` when nothing failed, errored or timed out.
pub fn parse_h2load(out: &str) -> Option<H2load> {
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("requests:"))?;
    let field = |name: &str| -> Option<u64> {
        line.split(',')
            .find(|p| p.trim().ends_with(name))?
            .split_whitespace()
            .rev()
            .nth(1)?
            .parse()
            .ok()
    };
    let succeeded = field("succeeded")?;
    let bad = field("failed")? + field("errored")? + field("timeout").unwrap_or(0);
    Some(H2load {
        succeeded,
        ok: bad == 0,
        summary: line.trim().to_owned(),
    })
}

/// `h2load -c clients -n 2×clients` (h2c, prior knowledge) with [`ORIGIN`]; the gateway's
/// peak RSS (KiB) sampled while it runs.
fn h2load(env: &Env, port: u16, clients: usize, pid: u32) -> Result<(H2load, u64), String> {
    let mut c = with_nofile(env.nofile, Path::new("h2load"));
    c.args(["-c", &clients.to_string(), "-n", &(2 * clients).to_string()])
        .args(["-t", "1", "-m", "1", "-H", &format!("origin: {ORIGIN}")])
        .arg(format!("http://127.0.0.1:{port}/api"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().map_err(|e| format!("cannot run h2load: {e}"))?;
    let peak = Arc::new(Mutex::new(0u64));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let rss = tree_rss_kib(pid);
                let mut p = peak.lock().unwrap();
                *p = (*p).max(rss);
                drop(p);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let out = child
        .wait_with_output()
        .map_err(|e| format!("h2load: {e}"))?;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = sampler.join();
    let text = String::from_utf8_lossy(&out.stdout);
    let parsed = parse_h2load(&text).ok_or_else(|| {
        format!(
            "cannot read h2load's output ({}):\n{text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    let p = *peak.lock().unwrap();
    Ok((parsed, p))
}

// ---------------------------------------------------------------------------------------
// 2. slow clients

/// When slowhttptest ended because the server had closed every socket (`Exit status: No
/// open connections left`, before its `secs`): the sockets closed at its last sample
/// (`Seconds,Closed,…` in its CSV) and the second it ended on.
pub fn slowhttptest_closed(csv: &str, stdout: &str, secs: u64) -> Option<(u64, u64)> {
    if !stdout.contains("No open connections left") {
        return None;
    }
    let (at, closed) = csv
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',').map(|v| v.trim().parse::<u64>().ok());
            Some((f.next()??, f.next()??))
        })
        .last()?;
    (at < secs).then_some((closed, at))
}

fn slowhttptest(
    env: &Env,
    name: &str,
    mode: &str,
    port: u16,
    path: &str,
    sockets: usize,
    secs: u64,
) -> Result<Proc, String> {
    let prefix = env.dir.join(format!("{name}{mode}"));
    // The attackers stand for other machines: niced, they do not take the normal clients'
    // and the server's CPU on a small machine.
    let mut c = with_nofile(env.nofile, Path::new("nice"));
    c.args(["-n", "19", "slowhttptest"])
        .arg(mode)
        .args([
            "-c",
            &sockets.to_string(),
            "-r",
            "200",
            "-i",
            "5",
            "-s",
            "65536",
        ])
        .args(["-l", &secs.to_string(), "-p", "3", "-g", "-o"])
        .arg(&prefix)
        .args(["-u", &format!("http://127.0.0.1:{port}{path}")]);
    Proc::spawn(&format!("{name}{mode}"), c, &env.dir)
}

/// One slow-client attack's figures.
struct Slow {
    base: WrkResult,
    attacked: WrkResult,
    /// By mode (`-H`, `-B`): the sockets the server closed and the second slowhttptest
    /// ended on, when it ended because the server had closed them all.
    closed: Vec<(&'static str, Option<(u64, u64)>)>,
}

/// wrk alone, then wrk while slowloris (to `/api`) and slow bodies (to `/fault/ok`, which
/// reads the body) hold `sockets` each against `port`.
fn slow_attack(env: &Env, name: &str, port: u16, sockets: usize) -> Result<Slow, String> {
    let secs: u64 = env.pick(8, 16);
    let wrk_secs: u64 = env.pick(4, 10);
    wrk(env, port, "/api", 16, 1)?;
    let base = wrk(env, port, "/api", 16, wrk_secs)?;
    let mut attackers = Vec::new();
    for (mode, path) in [("-H", "/api"), ("-B", "/fault/ok")] {
        attackers.push(slowhttptest(env, name, mode, port, path, sockets, secs)?);
    }
    // Let the attack open its sockets (200 a second) before measuring.
    std::thread::sleep(Duration::from_millis(
        (sockets as u64 * 1000 / 200).max(1000),
    ));
    let attacked = wrk(env, port, "/api", 16, wrk_secs)?;
    let deadline = Instant::now() + Duration::from_secs(secs + 15);
    for p in &mut attackers {
        while matches!(p.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let closed = ["-H", "-B"]
        .into_iter()
        .map(|mode| {
            let read = |ext: &str| {
                std::fs::read_to_string(env.dir.join(format!("{name}{mode}.{ext}")))
                    .unwrap_or_default()
            };
            (
                mode,
                slowhttptest_closed(&read("csv"), &read("stdout"), secs),
            )
        })
        .collect();
    Ok(Slow {
        base,
        attacked,
        closed,
    })
}

impl Slow {
    /// The p99 bound under attack: 3× the p99 without + 5 ms.
    fn bound(&self) -> f64 {
        3.0 * self.base.p99_us + 5_000.0
    }

    fn closed_text(&self, sockets: usize) -> String {
        self.closed
            .iter()
            .map(|(mode, c)| match c {
                Some((c, at)) => format!("{mode}: all closed by the server by second {at} ({c}/{sockets} counted at its last sample)"),
                None => format!("{mode}: not all closed by the server"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn text(&self, sockets: usize) -> String {
        format!(
            "normal p99 {} under attack (without: {}; bound 3× + 5 ms = {}), {} errors; {}",
            ms(self.attacked.p99_us),
            ms(self.base.p99_us),
            ms(self.bound()),
            self.attacked.errors + self.base.errors,
            self.closed_text(sockets)
        )
    }
}

fn slow_clients(env: &Env) -> Result<Row, String> {
    let sockets: usize = env.pick(200, 400);
    let (_upstream, up) = env.upstream()?;
    let (_faults, fp) = env.faults(1000)?;
    let gw = env.gateway("slow-clients", |port, admin| {
        gateway_toml(
            port,
            admin,
            "max_connections = 4096\nmax_connections_per_client = 0\nheader_read_timeout_ms = 2000\nbody_read_timeout_ms = 2000",
            &(route("faults", Some("/fault"), &format!("http://127.0.0.1:{fp}"), "x-request-id")
                + &route("api", None, &format!("http://127.0.0.1:{up}"), "x-request-id")),
        )
    })?;
    let mut row = Row::new();
    let ours = slow_attack(env, "slowhttptest", gw.port, sockets)?;
    row.check(ours.attacked.p99_us <= ours.bound(), || {
        format!(
            "normal clients' p99 {} under attack > 3× {} + 5 ms",
            ms(ours.attacked.p99_us),
            ms(ours.base.p99_us)
        )
    });
    row.check(ours.attacked.errors == 0 && ours.base.errors == 0, || {
        format!(
            "wrk saw {} errors under attack ({} without)",
            ours.attacked.errors, ours.base.errors
        )
    });
    for (mode, c) in &ours.closed {
        row.check(c.is_some(), || {
            format!(
                "slowhttptest {mode}: the server did not close every slow socket within the test (see {}/slowhttptest{mode}.stdout and .csv)",
                env.dir.display()
            )
        });
    }
    let timeouts = gw
        .metric("corsica_client_errors_total{kind=\"body_timeout\",route=\"faults\"}")
        .unwrap_or(0.0);
    row.check(timeouts as usize >= sockets * 9 / 10, || {
        format!(
            "only {timeouts} slow bodies were answered 408 by body_read_timeout_ms (of {sockets})"
        )
    });
    row.ours = format!(
        "{sockets} slowloris + {sockets} slow-body sockets: {}; {timeouts} bodies timed out (408)",
        ours.text(sockets)
    );
    drop(gw);
    let nport = free_port()?;
    let _nginx = env.nginx("nginx-slow", nport, up, fp, free_port()?)?;
    let theirs = slow_attack(env, "nginx-slowhttptest", nport, sockets)?;
    row.nginx = theirs.text(sockets);
    Ok(row)
}

// ---------------------------------------------------------------------------------------
// 3. upstream faults

/// The faults, by the path the client asks.
const FAULTS: [&str; 8] = [
    "refused",
    "hang",
    "reset",
    "reset-body",
    "short",
    "garbage",
    "pooled",
    "pooled-race",
];

/// What one client got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Complete,
    BadGatewayCors,
    TimeoutCors,
    /// A 502/504 without the route's CORS headers.
    ErrorWithoutCors,
    /// `200` with the CORS headers and a body shorter than its `Content-Length`, the
    /// connection closed: the client can tell it was cut (the head had left before the
    /// upstream failed).
    Cut,
    /// Nothing, another status, an undetectable cut, or too late.
    Broken,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Complete => "complete",
            Outcome::BadGatewayCors => "502+CORS",
            Outcome::TimeoutCors => "504+CORS",
            Outcome::ErrorWithoutCors => "5xx without CORS",
            Outcome::Cut => "cut 200 (shorter than its Content-Length)",
            Outcome::Broken => "broken",
        }
    }
}

fn classify(r: &Resp, limit: Duration) -> Outcome {
    let cors = r.header("access-control-allow-origin") == Some(ORIGIN);
    if r.elapsed > limit {
        return Outcome::Broken;
    }
    match r.status {
        Some(200) if r.complete && r.body == FAULT_BODY => Outcome::Complete,
        Some(502) if cors => Outcome::BadGatewayCors,
        Some(504) if cors => Outcome::TimeoutCors,
        Some(502 | 504) => Outcome::ErrorWithoutCors,
        Some(200) if cors && !r.complete && r.header("content-length").is_some() => Outcome::Cut,
        _ => Outcome::Broken,
    }
}

/// The fault upstream's complete body (`corsica-bench`'s `faults::OK_BODY`).
const FAULT_BODY: &[u8] = b"fault upstream: complete body\n";

/// Sends `per_fault` requests for each fault (8 clients at once; `pooled` and
/// `pooled-race`: each client asks again 300 ms after its answer), counting outcomes.
fn fault_round(
    port: u16,
    per_fault: usize,
    limit: Duration,
) -> BTreeMap<&'static str, BTreeMap<Outcome, usize>> {
    let mut out = BTreeMap::new();
    for fault in FAULTS {
        let counts: Arc<Mutex<BTreeMap<Outcome, usize>>> = Arc::default();
        let clients = 8;
        let threads: Vec<_> = (0..clients)
            .map(|i| {
                let counts = counts.clone();
                let mine = per_fault / clients + usize::from(i < per_fault % clients);
                std::thread::spawn(move || {
                    for k in 0..mine {
                        if fault.starts_with("pooled") && k > 0 {
                            std::thread::sleep(Duration::from_millis(300));
                        }
                        let r = get(
                            port,
                            &format!("/fault/{fault}"),
                            limit + Duration::from_secs(2),
                        );
                        *counts
                            .lock()
                            .unwrap()
                            .entry(classify(&r, limit))
                            .or_default() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            let _ = t.join();
        }
        let c = counts.lock().unwrap().clone();
        out.insert(fault, c);
    }
    out
}

/// How many of `pid`'s sockets are in CLOSE_WAIT (the peer closed, the process has not).
fn close_wait_sockets(pid: u32) -> usize {
    let mut inodes = std::collections::BTreeSet::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for l in text.lines().skip(1) {
            let f: Vec<&str> = l.split_whitespace().collect();
            if let (Some(&"08"), Some(inode)) = (f.get(3), f.get(9)) {
                inodes.insert(format!("socket:[{inode}]"));
            }
        }
    }
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|t| inodes.contains(t.to_string_lossy().as_ref()))
                })
                .count()
        })
        .unwrap_or(0)
}

fn outcome_text(counts: &BTreeMap<Outcome, usize>) -> String {
    counts
        .iter()
        .map(|(o, n)| format!("{n} {}", o.name()))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn upstream_faults(env: &Env) -> Result<Row, String> {
    let per_fault: usize = env.pick(16, 48);
    let timeout_ms = 1000;
    // The answer must come within the upstream timeout (and the client's own round trip).
    let limit = Duration::from_millis(timeout_ms + 1000);
    let (_faults, fp) = env.faults(1000)?;
    let closed = free_port()?;
    let gw = env.gateway("upstream-faults", |port, admin| {
        gateway_toml(
            port,
            admin,
            &format!("max_connections_per_client = 0\nupstream_timeout_ms = {timeout_ms}\nupstream_body_timeout_ms = {timeout_ms}"),
            &(route("refused", Some("/fault/refused"), &format!("http://127.0.0.1:{closed}"), "x-request-id")
                + &route("faults", Some("/fault"), &format!("http://127.0.0.1:{fp}"), "x-request-id")),
        )
    })?;
    let mut row = Row::new();
    let warm = get(gw.port, "/fault/ok", limit);
    if classify(&warm, limit) != Outcome::Complete {
        return Err(format!(
            "the gateway does not pass the fault upstream's plain answer: {:?} {:?}",
            warm.status,
            String::from_utf8_lossy(&warm.body)
        ));
    }
    std::thread::sleep(Duration::from_millis(300));
    let fds_before = fd_count(gw.pid()).unwrap_or(0);
    let ours = fault_round(gw.port, per_fault, limit);
    // Descriptors back to the baseline (hung upstream sockets closed at the timeout, the
    // pooled ones closed by the upstream).
    let mut fds_after = fd_count(gw.pid()).unwrap_or(0);
    let settle = Instant::now();
    while fds_after > fds_before && settle.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
        fds_after = fd_count(gw.pid()).unwrap_or(0);
    }
    for (fault, counts) in &ours {
        let wanted: &[Outcome] = match *fault {
            // A retry on a fresh connection succeeds: a 502 here is a lost response.
            "pooled" | "pooled-race" => &[Outcome::Complete],
            "hang" => &[Outcome::TimeoutCors],
            // The head left before the reset: the client must see the cut.
            "reset-body" => &[Outcome::BadGatewayCors, Outcome::Cut],
            _ => &[Outcome::BadGatewayCors, Outcome::TimeoutCors],
        };
        row.check(counts.keys().all(|o| wanted.contains(o)), || {
            format!(
                "{fault}: {} (expected only {})",
                outcome_text(counts),
                wanted
                    .iter()
                    .map(|o| o.name())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        });
    }
    row.check(fds_after <= fds_before, || {
        format!(
            "open descriptors {fds_before} before, {fds_after} 5 s after the faults, {} of them sockets in CLOSE_WAIT (closed by the upstream, still held by the gateway)",
            close_wait_sockets(gw.pid())
        )
    });
    let text = |m: &BTreeMap<&str, BTreeMap<Outcome, usize>>| {
        m.iter()
            .map(|(f, c)| format!("{f}: {}", outcome_text(c)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    row.ours = format!(
        "{per_fault} requests per fault: {}; descriptors {fds_before} → {fds_after}",
        text(&ours)
    );
    drop(gw);
    let nport = free_port()?;
    let _nginx = env.nginx("nginx-faults", nport, fp, fp, closed)?;
    let theirs = fault_round(nport, per_fault, limit);
    row.nginx = text(&theirs);
    Ok(row)
}

// ---------------------------------------------------------------------------------------
// 4. smuggling

/// One request as the recording upstream read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub path: String,
    /// Why its framing or head is ambiguous, if it is.
    pub ambiguous: Option<String>,
}

/// Reads the requests in `bytes` (what one connection brought), strictly: a head with a
/// bare LF, a NUL, obs-fold, two lengths, a length beside chunked or a coding other than
/// `chunked` is ambiguous (and ends the reading).
pub fn read_requests(bytes: &[u8]) -> Vec<Recorded> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
            if rest.iter().any(|b| !b.is_ascii_whitespace()) {
                out.push(Recorded {
                    path: String::new(),
                    ambiguous: Some("bytes that are not a whole request head".into()),
                });
            }
            break;
        };
        let head = &rest[..end];
        let text = String::from_utf8_lossy(head);
        let path = text
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let mut problem = None;
        if head.contains(&0) {
            problem = Some("a NUL in the head".to_owned());
        } else if head
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'))
        {
            problem = Some("a bare LF in the head".into());
        } else if text
            .split("\r\n")
            .skip(1)
            .any(|l| l.starts_with([' ', '\t']))
        {
            problem = Some("obs-fold in the head".into());
        }
        let mut lengths = Vec::new();
        let mut codings = Vec::new();
        for l in text.split("\r\n").skip(1) {
            if let Some((n, v)) = l.split_once(':') {
                if n.eq_ignore_ascii_case("content-length") {
                    lengths.push(v.trim().to_owned());
                } else if n.eq_ignore_ascii_case("transfer-encoding") {
                    codings.push(v.trim().to_ascii_lowercase());
                }
            }
        }
        if problem.is_none() {
            problem = match (lengths.len(), codings.len()) {
                (_, 1..) if !lengths.is_empty() => {
                    Some("Content-Length beside Transfer-Encoding".into())
                }
                (2.., _) => Some("two Content-Length fields".into()),
                (_, 2..) => Some("two Transfer-Encoding fields".into()),
                (_, 1) if codings[0] != "chunked" => {
                    Some(format!("Transfer-Encoding: {}", codings[0]))
                }
                _ => None,
            };
        }
        if problem.is_some() {
            out.push(Recorded {
                path,
                ambiguous: problem,
            });
            break;
        }
        rest = &rest[end + 4..];
        if codings.len() == 1 {
            // Chunked: sizes and data until the last chunk and the empty trailer.
            loop {
                let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
                    rest = &[];
                    break;
                };
                let size = std::str::from_utf8(&rest[..eol])
                    .ok()
                    .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                    .unwrap_or(0);
                rest = &rest[(eol + 2).min(rest.len())..];
                if size == 0 {
                    let skip = rest
                        .windows(2)
                        .position(|w| w == b"\r\n")
                        .map_or(rest.len(), |i| i + 2);
                    rest = &rest[skip..];
                    break;
                }
                rest = &rest[(size + 2).min(rest.len())..];
            }
        } else if let Some(len) = lengths.first().and_then(|l| l.parse::<usize>().ok()) {
            rest = &rest[len.min(rest.len())..];
        }
        out.push(Recorded {
            path,
            ambiguous: None,
        });
    }
    out
}

/// The bytes each connection brought, in the order they were accepted.
type Connections = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

/// The recording upstream: every connection's bytes, answered `200 ok` per complete head.
struct Recorder {
    port: u16,
    conns: Connections,
}

impl Recorder {
    fn start() -> Result<Recorder, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("recorder: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let conns: Connections = Arc::default();
        let all = conns.clone();
        // The thread lives as long as xtask: it only ever blocks in accept.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let bytes: Arc<Mutex<Vec<u8>>> = Arc::default();
                all.lock().unwrap().push(bytes.clone());
                std::thread::spawn(move || record(stream, &bytes));
            }
        });
        Ok(Recorder { port, conns })
    }

    /// Forgets what was recorded.
    fn clear(&self) {
        for c in self.conns.lock().unwrap().iter() {
            c.lock().unwrap().clear();
        }
    }

    /// Every request recorded since the last `clear`.
    fn requests(&self) -> Vec<Recorded> {
        self.conns
            .lock()
            .unwrap()
            .iter()
            .flat_map(|c| read_requests(&c.lock().unwrap()))
            .collect()
    }
}

/// Reads one connection, keeping every byte; answers each request head it completes.
fn record(mut s: TcpStream, bytes: &Mutex<Vec<u8>>) {
    let mut chunk = [0u8; 65536];
    let mut answered = 0;
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    loop {
        let n = match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let all = {
            let mut b = bytes.lock().unwrap();
            b.extend_from_slice(&chunk[..n]);
            b.clone()
        };
        let reqs = read_requests(&all);
        let whole = reqs.iter().filter(|r| r.ambiguous.is_none()).count();
        while answered < whole {
            if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .is_err()
            {
                return;
            }
            answered += 1;
        }
        if reqs.iter().any(|r| r.ambiguous.is_some()) {
            let _ = s.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// The battery: `(name, bytes)`; where a second request hides in the bytes, it asks for
/// `/smuggled`.
pub fn attacks() -> Vec<(&'static str, Vec<u8>)> {
    let tail = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";
    let chunked_then_tail = format!("0\r\n\r\n{tail}");
    let post = "POST /api HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example.com\r\n";
    let mut v: Vec<(&'static str, String)> = vec![
        (
            "CL+TE",
            format!(
                "{post}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n{chunked_then_tail}"
            ),
        ),
        (
            "two Content-Lengths",
            format!(
                "{post}Content-Length: 0\r\nContent-Length: {}\r\n\r\n{tail}",
                tail.len()
            ),
        ),
        (
            "TE: chunked, identity",
            format!("{post}Transfer-Encoding: chunked, identity\r\n\r\n{chunked_then_tail}"),
        ),
        (
            "TE: xchunked",
            format!("{post}Transfer-Encoding: xchunked\r\n\r\n{chunked_then_tail}"),
        ),
        (
            "obs-fold",
            format!(
                "{post}Content-Length: {}\r\nTransfer-Encoding:\r\n chunked\r\n\r\n{chunked_then_tail}",
                chunked_then_tail.len()
            ),
        ),
        (
            "bare LF",
            format!(
                "{post}Content-Length: {}\r\nX-A: a\nTransfer-Encoding: chunked\r\n\r\n{chunked_then_tail}",
                chunked_then_tail.len()
            ),
        ),
        (
            "NUL",
            "GET /api HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n".into(),
        ),
        (
            "oversized request line",
            format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(70_000)),
        ),
    ];
    let mut big = "GET /api HTTP/1.1\r\nHost: h\r\n".to_owned();
    for i in 0..64 {
        let _ = write!(big, "X-Big-{i}: {}\r\n", "b".repeat(1000));
    }
    big.push_str("\r\n");
    v.push(("oversized headers", big));
    v.into_iter().map(|(n, s)| (n, s.into_bytes())).collect()
}

/// What the battery found against one server.
struct Battery {
    /// `name (status)` of each attack answered without reaching the upstream.
    refused: Vec<String>,
    /// The attacks that reached the upstream (as one request, unless in `failures`).
    processed: Vec<&'static str>,
    failures: Vec<String>,
}

impl Battery {
    fn text(&self) -> String {
        format!(
            "{} refused ({}), {} processed as one request{}, {} smuggled or ambiguous",
            self.refused.len(),
            self.refused.join(", "),
            self.processed.len(),
            if self.processed.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.processed.join(", "))
            },
            self.failures.len()
        )
    }
}

/// Runs the battery against `port`.
fn battery(port: u16, rec: &Recorder) -> Battery {
    let mut b = Battery {
        refused: Vec::new(),
        processed: Vec::new(),
        failures: Vec::new(),
    };
    for (name, bytes) in attacks() {
        rec.clear();
        let raw = send_raw(port, &bytes, Duration::from_secs(2)).unwrap_or_default();
        std::thread::sleep(Duration::from_millis(200));
        let status = parse_response(&raw).status;
        let seen = rec.requests();
        let smuggled = seen.iter().filter(|r| r.path.contains("smuggled")).count();
        let ambiguous: Vec<&str> = seen.iter().filter_map(|r| r.ambiguous.as_deref()).collect();
        if seen.is_empty() && !matches!(status, Some(200..=299)) {
            b.refused.push(format!(
                "{name}: {}",
                status.map_or("closed".into(), |s| s.to_string())
            ));
        } else {
            b.processed.push(name);
        }
        if smuggled > 0 || seen.len() > 1 || !ambiguous.is_empty() {
            b.failures.push(format!(
                "{name}: the upstream read {} request(s){}{} (client got {:?})",
                seen.len(),
                if smuggled > 0 {
                    ", one of them the smuggled /smuggled"
                } else {
                    ""
                },
                if ambiguous.is_empty() {
                    String::new()
                } else {
                    format!(", ambiguous: {}", ambiguous.join(", "))
                },
                status
            ));
        }
    }
    b
}

fn smuggling(env: &Env) -> Result<Row, String> {
    let rec = Recorder::start()?;
    let gw = env.gateway("smuggling", |port, admin| {
        gateway_toml(
            port,
            admin,
            "max_connections_per_client = 0",
            &route(
                "api",
                None,
                &format!("http://127.0.0.1:{}", rec.port),
                "x-request-id",
            ),
        )
    })?;
    let mut row = Row::new();
    let ours = battery(gw.port, &rec);
    row.ours = format!("{} attacks: {}", attacks().len(), ours.text());
    row.failures = ours.failures;
    drop(gw);
    let nport = free_port()?;
    let closed = free_port()?;
    let _nginx = env.nginx("nginx-smuggling", nport, rec.port, rec.port, closed)?;
    let theirs = battery(nport, &rec);
    row.nginx = theirs.text();
    if !theirs.failures.is_empty() {
        row.nginx
            .push_str(&format!(" ({})", theirs.failures.join("; ")));
    }
    Ok(row)
}

// ---------------------------------------------------------------------------------------
// 5. reloads

/// Writes `text` to `path` atomically: a sibling file, then a rename over it.
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension("toml.new");
    std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        format!(
            "cannot rename {} over {}: {e}",
            tmp.display(),
            path.display()
        )
    })
}

/// The `Access-Control-Expose-Headers` the gateway sends now.
fn exposed(port: u16) -> Option<String> {
    get(port, "/api", Duration::from_secs(2))
        .header("access-control-expose-headers")
        .map(str::to_owned)
}

fn reloads(env: &Env) -> Result<Row, String> {
    let count: usize = env.pick(10, 100);
    let (_upstream, up) = env.upstream()?;
    let upstream = format!("http://127.0.0.1:{up}");
    let valid = |port: u16, admin: u16, generation: usize| {
        gateway_toml(
            port,
            admin,
            "max_connections_per_client = 0",
            &route("api", None, &upstream, &format!("x-gen-{generation}")),
        )
    };
    let gw = env.gateway("reloads", |port, admin| valid(port, admin, 0))?;
    let mut row = Row::new();
    // wrk for the whole run, and a little after the last reload; stopped on every way out.
    let stop = StopOnDrop(Arc::new(std::sync::atomic::AtomicBool::new(false)));
    let load = wrk_until(env, gw.port, "/api", 8, stop.0.clone())?;
    std::thread::sleep(Duration::from_millis(500));
    let mut last_valid = 0;
    let mut not_applied = Vec::new();
    let (mut by_signal, mut by_watcher) = (0, 0);
    for i in 1..=count {
        let is_valid = i % 2 == 1;
        let signal = (i / 2) % 2 == 0;
        let text = if is_valid {
            valid(gw.port, gw.admin, i)
        } else {
            // An unknown key, named after the attempt, so its log lines can be counted.
            valid(gw.port, gw.admin, i)
                .replace("[limits]\n", &format!("[limits]\nbogus_{i} = true\n"))
        };
        write_atomically(&gw.config, &text)?;
        if signal {
            kill(gw.pid(), "HUP")?;
            by_signal += 1;
        } else {
            by_watcher += 1;
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        let applied = loop {
            let done = if is_valid {
                exposed(gw.port).as_deref() == Some(&format!("x-gen-{i}"))
            } else {
                gw.stderr().contains(&format!("bogus_{i}`"))
            };
            if done || Instant::now() > deadline {
                break done;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if is_valid {
            last_valid = i;
        }
        if !applied {
            not_applied.push(format!(
                "{} #{i} ({})",
                if is_valid { "valid" } else { "invalid" },
                if signal { "SIGHUP" } else { "watcher" }
            ));
        }
    }
    let in_force = exposed(gw.port);
    drop(stop);
    let w = load
        .join()
        .map_err(|_| "the wrk thread panicked".to_owned())??;
    // Let the watcher see the last file settle, then count the log lines.
    std::thread::sleep(Duration::from_millis(1_000));
    let log = gw.stderr();
    let failed_lines = log
        .lines()
        .filter(|l| l.contains("configuration reload failed"))
        .count();
    let invalid: Vec<usize> = (1..=count).filter(|i| i % 2 == 0).collect();
    let logged: Vec<usize> = invalid
        .iter()
        .map(|i| {
            log.lines()
                .filter(|l| l.contains(&format!("bogus_{i}`")))
                .count()
        })
        .collect();
    let never = invalid
        .iter()
        .zip(&logged)
        .filter(|(_, n)| **n == 0)
        .count();
    let twice: Vec<String> = invalid
        .iter()
        .zip(&logged)
        .filter(|(_, n)| **n > 1)
        .map(|(i, n)| {
            let how = if (i / 2) % 2 == 0 {
                "SIGHUP"
            } else {
                "watcher"
            };
            format!("#{i} ({how}) ×{n}")
        })
        .collect();
    row.check(w.errors == 0, || {
        format!(
            "wrk saw {} failed requests (non-2xx or socket errors)",
            w.errors
        )
    });
    row.check(in_force.as_deref() == Some(&format!("x-gen-{last_valid}")), || {
        format!("at the end the gateway exposes {in_force:?}, not the last valid configuration's x-gen-{last_valid}")
    });
    row.check(not_applied.is_empty(), || {
        format!(
            "not applied or not logged within 3 s: {}",
            not_applied.join(", ")
        )
    });
    row.check(never == 0, || {
        format!("{never} invalid configurations were never logged")
    });
    row.ours = format!(
        "{count} reloads ({by_signal} SIGHUP, {by_watcher} watcher; {} invalid) under wrk: {} requests, {} failed, worst p99 of its 2 s runs {}; last valid in force: {}; {failed_lines} `reload failed` lines for {} invalid files{}",
        invalid.len(),
        common::fmt_int(w.requests),
        w.errors,
        ms(w.p99_us),
        if in_force.as_deref() == Some(&format!("x-gen-{last_valid}")) {
            "yes"
        } else {
            "no"
        },
        invalid.len(),
        if twice.is_empty() {
            ", each logged once".to_owned()
        } else {
            format!(", logged more than once: {}", twice.join(", "))
        }
    );
    Ok(row)
}

// ---------------------------------------------------------------------------------------
// 6. sigterm

fn sigterm(env: &Env) -> Result<Row, String> {
    let clients: usize = env.pick(20, 100);
    let grace_ms: u64 = 5_000;
    let (_faults, fp) = env.faults(1000)?;
    let mut gw = env.gateway("sigterm", |port, admin| {
        gateway_toml(
            port,
            admin,
            &format!("max_connections_per_client = 0\nshutdown_grace_ms = {grace_ms}\nupstream_timeout_ms = 10000"),
            &route("faults", Some("/fault"), &format!("http://127.0.0.1:{fp}"), "x-request-id"),
        )
    })?;
    let mut row = Row::new();
    let port = gw.port;
    let threads: Vec<_> = (0..clients)
        .map(|_| std::thread::spawn(move || get(port, "/fault/slow", Duration::from_secs(15))))
        .collect();
    // Every request in flight (the upstream answers after 1 s).
    std::thread::sleep(Duration::from_millis(400));
    let in_flight = gw.metric("corsica_client_connections").unwrap_or(-1.0);
    let term = Instant::now();
    kill(gw.pid(), "TERM")?;
    let mut draining = false;
    let mut refused_after = None;
    let mut status = None;
    while term.elapsed() < Duration::from_millis(grace_ms + 3_000) {
        if !draining
            && let Ok(h) = exchange(
                gw.admin,
                "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            )
        {
            draining = h.starts_with("HTTP/1.1 503") && h.contains("draining");
        }
        if refused_after.is_none() && TcpStream::connect(("127.0.0.1", gw.port)).is_err() {
            refused_after = Some(term.elapsed());
        }
        if let Ok(Some(s)) = gw.proc.child.try_wait() {
            status = Some((s, term.elapsed()));
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let results: Vec<Resp> = threads.into_iter().filter_map(|t| t.join().ok()).collect();
    let complete = results
        .iter()
        .filter(|r| {
            r.status == Some(200)
                && r.complete
                && r.body == FAULT_BODY
                && r.header("access-control-allow-origin") == Some(ORIGIN)
        })
        .count();
    row.check(complete == clients, || {
        format!("{complete} of {clients} in-flight requests completed")
    });
    row.check(draining, || {
        "/healthz never answered 503 `draining` during the drain".into()
    });
    row.check(refused_after.is_some(), || {
        "new connections were still accepted after SIGTERM".into()
    });
    match status {
        Some((s, t)) => {
            row.check(s.success(), || format!("exit status {s}, not 0"));
            row.check(t <= Duration::from_millis(grace_ms + 500), || {
                format!(
                    "exited {:.1} s after SIGTERM (grace {grace_ms} ms)",
                    t.as_secs_f64()
                )
            });
        }
        None => row.failures.push(format!(
            "still running {} ms after SIGTERM",
            grace_ms + 3000
        )),
    }
    row.ours = format!(
        "{clients} requests in flight ({in_flight} connections) at SIGTERM: {complete} completed; new connections refused after {}; /healthz 503 draining: {}; exit {}",
        refused_after.map_or("never".into(), |t| format!("{} ms", t.as_millis())),
        if draining { "yes" } else { "no" },
        status.map_or("none".into(), |(s, t)| format!(
            "{} after {:.2} s",
            s.code().map_or("by signal".into(), |c| c.to_string()),
            t.as_secs_f64()
        ))
    );
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_select_scenarios_and_refuse_unknown_ones() {
        let o = Options::parse(&[]).unwrap();
        assert!(!o.short && !o.bless);
        assert_eq!(o.selected(), SCENARIOS.to_vec());
        let o = Options::parse(&s(&["--short", "--only", "sigterm,reloads"])).unwrap();
        assert!(o.short);
        assert_eq!(o.selected(), vec!["reloads", "sigterm"]);
        assert!(Options::parse(&s(&["--only", "nope"])).is_err());
        assert!(Options::parse(&s(&["--only"])).is_err());
        assert!(Options::parse(&s(&["--long"])).is_err());
    }

    #[test]
    fn responses_are_read_whole_or_cut() {
        let r = parse_response(b"HTTP/1.1 502 Bad Gateway\r\nAccess-Control-Allow-Origin: https://app.example.com\r\nContent-Length: 3\r\n\r\nbad");
        assert_eq!(r.status, Some(502));
        assert!(r.complete);
        assert_eq!(
            classify(&r, Duration::from_secs(1)),
            Outcome::BadGatewayCors
        );
        let cut = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
        assert!(!cut.complete);
        assert_eq!(classify(&cut, Duration::from_secs(1)), Outcome::Broken);
        let chunked = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        );
        assert!(chunked.complete);
        assert_eq!(chunked.body, b"hello");
        assert_eq!(parse_response(b"").status, None);
        let no_cors = parse_response(b"HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(
            classify(&no_cors, Duration::from_secs(1)),
            Outcome::ErrorWithoutCors
        );
    }

    #[test]
    fn the_recorder_reads_framing_strictly() {
        let two = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\n\r\n";
        let r = read_requests(two);
        assert_eq!(
            r.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
            ["/a", "/b", "/c"]
        );
        assert!(r.iter().all(|r| r.ambiguous.is_none()));
        let chunked =
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(read_requests(chunked).len(), 1);
        for (bad, why) in [
            (
                &b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
                "beside",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                "two Content-Length",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
                "identity",
            ),
            (b"GET / HTTP/1.1\r\nX: a\nY: b\r\n\r\n", "bare LF"),
            (b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", "obs-fold"),
            (b"GET / HTTP/1.1\r\nX: a\0\r\n\r\n", "NUL"),
        ] {
            let r = read_requests(bad);
            assert!(
                r[0].ambiguous.as_deref().is_some_and(|a| a.contains(why)),
                "{r:?}"
            );
        }
        // Every attack that hides a second request hides /smuggled.
        for (name, bytes) in attacks() {
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                text.starts_with("GET ") || text.contains("/smuggled"),
                "{name}"
            );
        }
    }

    #[test]
    fn tool_outputs_are_read() {
        let h2 = "finished in 1.2s, 1000 req/s\nrequests: 2000 total, 2000 started, 2000 done, 1990 succeeded, 10 failed, 0 errored, 0 timeout\nstatus codes: 1990 2xx\n";
        let r = parse_h2load(h2).unwrap();
        assert_eq!(r.succeeded, 1990);
        assert!(!r.ok);
        assert!(
            parse_h2load(
                "requests: 4 total, 4 started, 4 done, 4 succeeded, 0 failed, 0 errored, 0 timeout"
            )
            .unwrap()
            .ok
        );
        let csv = "Seconds,Closed,Pending,Connected,Service Available\n0,0,10,0,1\n1,3,0,7,1\n2,10,0,0,1\n";
        let done = "Test ended on 2th second\nExit status: No open connections left\n";
        assert_eq!(slowhttptest_closed(csv, done, 8), Some((10, 2)));
        assert_eq!(slowhttptest_closed(csv, done, 2), None);
        assert_eq!(
            slowhttptest_closed(csv, "Exit status: Hit test time limit\n", 8),
            None
        );
        assert_eq!(slowhttptest_closed("Seconds,Closed\n", done, 8), None);
        assert_eq!(metric_value("a{x=\"1\"} 2\nb 3.5\n", "b"), Some(3.5));
        assert_eq!(metric_value("a{x=\"1\"} 2\n", "a{x=\"1\"}"), Some(2.0));
        assert_eq!(metric_value("ab 2\n", "a"), None);
    }
}
