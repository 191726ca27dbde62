//! `cargo xtask bench`: the engine's criterion benchmarks and the gateway side by side with
//! nginx, Caddy and a bare hyper server; writes `target/bench/report.md`.
//!
//! The gateway part (std only, like the rest of xtask):
//! - installs Debian's `nginx`, `caddy` and `wrk` when missing (as root), builds `corsica`
//!   and `corsica-bench` in release;
//! - starts, pinned to core 0 with `taskset -c 0`: nginx (one worker), Caddy
//!   (`GOMAXPROCS=1`), the bare hyper server (`corsica-bench bare`) and `corsica serve`, all
//!   with the same CORS policy ([`POLICY`]); pinned to core 1: the shared upstream
//!   (`corsica-bench upstream`), wrk and the idle-connection client;
//! - checks that every server answers the probes (preflight and GET from the exact origin,
//!   a pattern origin and a denied origin) with corsica's status and CORS headers, and
//!   reports no ratio for a peer that differs;
//! - runs interleaved rounds (each server, preflight then GET, the order rotated per round),
//!   and takes medians of the per-round ratios to nginx, CPU per request (user+system ticks
//!   of the server's processes from `/proc/PID/stat` ÷ requests), wrk's p50/p99, and the RSS
//!   with 10,000 idle keep-alive connections.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::{
    self, Proc, WrkResult, block, clk_tck, command_output, ensure_packages, exchange, fmt_int,
    free_port, median, nofile_hard_limit, replace_block, tree_rss_kib, tree_ticks,
};

/// The policy every server applies: one exact origin and one subdomain pattern, with
/// credentials.
pub struct Policy {
    pub exact: &'static str,
    /// The pattern's domain: `https://*.` + this.
    pub domain: &'static str,
    pub methods: &'static str,
    pub headers: &'static str,
    pub expose: &'static str,
    pub max_age: u32,
}

/// The benchmark's policy.
pub const POLICY: Policy = Policy {
    exact: "https://app.example.com",
    domain: "example.net",
    methods: "GET, POST, PUT, DELETE",
    headers: "content-type, authorization",
    expose: "x-request-id",
    max_age: 7200,
};

/// An origin the pattern allows (wrk sends it: the pattern is the costlier match).
const PATTERN_ORIGIN: &str = "https://shop.example.net";
/// An origin the policy denies.
const DENIED_ORIGIN: &str = "https://evil.example.org";
/// The request path every run uses.
const PATH: &str = "/api/orders";
/// The preflight's `Access-Control-Request-Method` and `-Headers`.
const ACRM: &str = "PUT";
const ACRH: &str = "content-type, authorization";
/// The CORS headers compared between servers.
const CORS_HEADERS: [&str; 7] = [
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-expose-headers",
    "access-control-max-age",
    "vary",
];

/// The options of `cargo xtask bench`.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub gateway: bool,
    pub layer: bool,
    pub rounds: usize,
    pub duration: u64,
    pub connections: u32,
    pub idle: usize,
    pub bless: bool,
    /// Arguments after `--`, for criterion.
    pub criterion: Vec<String>,
}

/// The usage line of `cargo xtask bench`.
pub const USAGE: &str = "bench [--gateway-only | --layer-only] [--rounds N (3)] [--duration SECS (10)] [--connections N (64)] [--idle N (10000)] [--bless] [-- criterion args]";

impl Options {
    /// Parses the arguments after `bench`.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = Options {
            gateway: true,
            layer: true,
            rounds: 3,
            duration: 10,
            connections: 64,
            idle: 10_000,
            bless: false,
            criterion: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut number = |name: &str| -> Result<u64, String> {
                let v = it
                    .next()
                    .ok_or_else(|| format!("`{name}` needs a number"))?;
                v.parse::<u64>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("`{name} {v}`: expected a positive number"))
            };
            match a.as_str() {
                "--gateway-only" => o.layer = false,
                "--layer-only" => o.gateway = false,
                "--rounds" => o.rounds = number(a)? as usize,
                "--duration" => o.duration = number(a)?,
                "--connections" => o.connections = number(a)? as u32,
                "--idle" => o.idle = number(a)? as usize,
                "--bless" => o.bless = true,
                "--" => o.criterion.extend(it.by_ref().cloned()),
                other => {
                    return Err(format!(
                        "unknown bench option `{other}`; usage: cargo xtask {USAGE}"
                    ));
                }
            }
        }
        if !o.gateway && !o.layer {
            return Err("`--gateway-only` and `--layer-only` exclude each other".into());
        }
        Ok(o)
    }
}

/// Where the report goes, and the run's scratch directory.
fn bench_dir() -> PathBuf {
    crate::target_dir().join("bench")
}

/// Runs `cargo xtask bench`.
pub fn run(args: &[String]) -> Result<(), String> {
    let o = Options::parse(args)?;
    let report = bench_dir().join("report.md");
    if o.bless {
        return bless(&report, &crate::workspace_root().join("README.md"));
    }
    if o.layer {
        // Every criterion bench of the engine: `decide` (the engine alone) and `layer` (the
        // tower layer beside tower-http and actix-cors, and the harnesses without middleware).
        let mut args = vec!["bench", "-p", "corsica", "--all-features", "--"];
        args.extend(o.criterion.iter().map(String::as_str));
        crate::cargo(&args, &[])?;
    }
    let previous = std::fs::read_to_string(&report).unwrap_or_default();
    let gateway = if o.gateway {
        gateway(&o)?
    } else {
        block(&previous, "bench:gateway").map_or_else(
            || {
                "The gateway part was not run (`--layer-only`) and no earlier report holds it.\n"
                    .to_owned()
            },
            |b| format!("{b}\n_(kept from the previous report: this run was `--layer-only`.)_\n"),
        )
    };
    let layer = layer_table(&crate::target_dir().join("criterion/layer"));
    let text = report_text(&gateway, &layer);
    std::fs::create_dir_all(bench_dir()).map_err(|e| format!("cannot create target/bench: {e}"))?;
    std::fs::write(&report, &text)
        .map_err(|e| format!("cannot write {}: {e}", report.display()))?;
    println!("{text}");
    eprintln!(
        "xtask: wrote {} (copy it into the README with `cargo xtask bench --bless`)",
        report.display()
    );
    Ok(())
}

/// The report: machine, versions and method come inside the gateway block.
fn report_text(gateway: &str, layer: &str) -> String {
    format!(
        "# Corsica benchmark report\n\nWritten by `cargo xtask bench`.\n\n## The gateway beside nginx, Caddy and a bare hyper server\n\n<!-- bench:gateway -->\n{}<!-- /bench:gateway -->\n\n## The tower layer beside tower-http and actix-cors\n\n<!-- bench:layer -->\n{}<!-- /bench:layer -->\n",
        ensure_newline(gateway),
        ensure_newline(layer)
    )
}

fn ensure_newline(s: &str) -> String {
    if s.ends_with('\n') {
        s.to_owned()
    } else {
        format!("{s}\n")
    }
}

/// Copies the report's blocks into the README's.
fn bless(report: &Path, readme: &Path) -> Result<(), String> {
    let r = std::fs::read_to_string(report).map_err(|e| {
        format!(
            "cannot read {} ({e}): run `cargo xtask bench` first",
            report.display()
        )
    })?;
    let mut text = std::fs::read_to_string(readme)
        .map_err(|e| format!("cannot read {}: {e}", readme.display()))?;
    for name in ["bench:gateway", "bench:layer"] {
        let content =
            block(&r, name).ok_or_else(|| format!("{} has no `{name}` block", report.display()))?;
        text = replace_block(&text, name, content).ok_or_else(|| {
            format!(
                "{} has no `<!-- {name} -->` … `<!-- /{name} -->` block",
                readme.display()
            )
        })?;
    }
    std::fs::write(readme, text).map_err(|e| format!("cannot write {}: {e}", readme.display()))?;
    eprintln!(
        "xtask: README's benchmark tables rewritten from {}",
        report.display()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The gateway part.

/// The servers, in the report's column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Peer {
    Nginx,
    Caddy,
    Bare,
    Corsica,
}

const PEERS: [Peer; 4] = [Peer::Nginx, Peer::Caddy, Peer::Bare, Peer::Corsica];

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Nginx => "nginx",
            Peer::Caddy => "Caddy",
            Peer::Bare => "bare hyper",
            Peer::Corsica => "corsica serve",
        }
    }

    /// Whether it proxies `GET` to the upstream (the bare server answers it itself).
    fn proxies(self) -> bool {
        self != Peer::Bare
    }
}

/// The two request kinds wrk sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Preflight,
    Get,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Preflight => "preflight",
            Kind::Get => "GET",
        }
    }
}

/// One measured run: wrk's numbers and the server's CPU microseconds over it.
#[derive(Debug, Clone)]
struct Sample {
    wrk: WrkResult,
    cpu_us: f64,
}

/// One running server under test.
struct Server {
    peer: Peer,
    port: u16,
    proc: Proc,
}

/// A command pinned to `core` with its open-files limit raised to the hard limit.
fn pinned(core: u32, program: &Path) -> Command {
    let n = nofile_hard_limit();
    let mut c = Command::new("taskset");
    c.args([
        "-c",
        &core.to_string(),
        "prlimit",
        &format!("--nofile={n}:{n}"),
        "--",
    ])
    .arg(program);
    c
}

fn gateway(o: &Options) -> Result<String, String> {
    ensure_packages(&[("nginx", "nginx"), ("caddy", "caddy"), ("wrk", "wrk")])?;
    for tool in ["taskset", "prlimit"] {
        if !crate::on_path(tool) {
            return Err(format!(
                "`{tool}` is missing: install Debian's util-linux (`apt-get install util-linux`)"
            ));
        }
    }
    // `corsica serve` counts two descriptors per client connection (the client's and an
    // upstream's) beside a reserve; measure with as many idle connections as it can hold.
    let nofile = nofile_hard_limit();
    let fit = (nofile.saturating_sub(200) / 2 / 100 * 100) as usize;
    let mut o = o.clone();
    if o.idle > fit {
        eprintln!(
            "xtask: the hard open-file limit ({nofile}) holds {fit} idle connections through `corsica serve` (two descriptors each, client and upstream): measuring memory with {fit}, not {}",
            o.idle
        );
        o.idle = fit;
    }
    if o.idle == 0 {
        return Err(format!(
            "the hard open-file limit ({nofile}) leaves no room for idle connections: raise it (`ulimit -Hn`, as root)"
        ));
    }
    let o = &o;
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return Err("the gateway benchmark pins servers to core 0 and wrk to core 1: it needs at least 2 cores".into());
    }
    let release = common::build_release()?;
    let dir = bench_dir().join("run");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", dir.display()))?;

    // The shared upstream, on core 1 beside wrk.
    let up_port = free_port()?;
    let mut upstream = Proc::spawn(
        "upstream",
        {
            let mut c = pinned(1, &release.join("corsica-bench"));
            c.args(["upstream", "--port", &up_port.to_string()]);
            c
        },
        &dir,
    )?;
    upstream.wait_listening(up_port)?;

    let mut servers = Vec::new();
    for peer in PEERS {
        let port = free_port()?;
        // Idle upstream connections kept by the proxies: well above wrk's connections (Caddy's
        // Go transport reconnects under load when its pool only equals them).
        let cmd = server_command(peer, port, up_port, o.connections * 4, &dir, &release)?;
        let mut proc = Proc::spawn(peer.name(), cmd, &dir)?;
        proc.wait_listening(port)?;
        servers.push(Server { peer, port, proc });
    }

    // Same job: every server's answers against corsica's.
    let mut differs: BTreeMap<Peer, String> = BTreeMap::new();
    let reference = probes(servers.iter().find(|s| s.peer == Peer::Corsica).unwrap())?;
    for s in &servers {
        let got = probes(s)?;
        let mut diff = String::new();
        for ((what, want), (_, have)) in reference.iter().zip(&got) {
            if s.peer == Peer::Bare && what.contains("GET") {
                continue;
            }
            if want != have {
                let _ = writeln!(
                    diff,
                    "  {what}:\n    corsica: {want}\n    {}: {have}",
                    s.peer.name()
                );
            }
        }
        if diff.is_empty() {
            eprintln!(
                "xtask: {} answers every probe as corsica serve does",
                s.peer.name()
            );
        } else {
            eprintln!(
                "xtask: {} answers differently from corsica serve; no ratio will be reported for it:\n{diff}",
                s.peer.name()
            );
            differs.insert(s.peer, diff);
        }
    }

    let scripts = wrk_scripts(&dir)?;
    let clk_tck = clk_tck();
    let measure = |s: &mut Server, kind: Kind, secs: u64| -> Result<Sample, String> {
        s.proc.check_alive()?;
        let before = tree_ticks(s.proc.pid());
        let wrk = run_wrk(s.port, &scripts[&kind], o.connections, secs)?;
        let after = tree_ticks(s.proc.pid());
        s.proc.check_alive()?;
        let cpu_us = (after.saturating_sub(before)) as f64 * 1e6 / clk_tck as f64;
        Ok(Sample { wrk, cpu_us })
    };

    eprintln!("xtask: warming every server up (1 s per path)");
    for s in &mut servers {
        for &kind in kinds(s.peer) {
            measure(s, kind, 1)?;
        }
    }
    let mut samples: BTreeMap<(Peer, Kind), Vec<Sample>> = BTreeMap::new();
    for round in 0..o.rounds {
        let n = servers.len();
        for i in 0..n {
            let s = &mut servers[(i + round) % n];
            for &kind in kinds(s.peer) {
                let sample = measure(s, kind, o.duration)?;
                eprintln!(
                    "xtask: round {}/{}: {:<13} {:<9} {:>9.0} req/s, {:>6.2} µs CPU/request, p50 {:.0} µs, p99 {:.0} µs{}",
                    round + 1,
                    o.rounds,
                    s.peer.name(),
                    kind.name(),
                    sample.wrk.rps,
                    sample.cpu_us / sample.wrk.requests.max(1) as f64,
                    sample.wrk.p50_us,
                    sample.wrk.p99_us,
                    if sample.wrk.errors > 0 {
                        format!(", {} errors", sample.wrk.errors)
                    } else {
                        String::new()
                    }
                );
                samples.entry((s.peer, kind)).or_default().push(sample);
            }
        }
    }

    // Memory: each server holding the idle keep-alive connections.
    let mut rss: BTreeMap<Peer, (u64, u64)> = BTreeMap::new();
    for s in &mut servers {
        let base = tree_rss_kib(s.proc.pid());
        let loaded = idle_rss(s, o.idle, &release, &dir)?;
        eprintln!(
            "xtask: {:<13} RSS {} KiB, {} KiB with {} idle connections",
            s.peer.name(),
            base,
            loaded,
            o.idle
        );
        rss.insert(s.peer, (base, loaded));
        // Let the server close them before the next one is measured.
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(servers);
    drop(upstream);

    let results = Results {
        samples,
        rss,
        differs,
    };
    Ok(format!(
        "{}\n{}",
        machine_and_method(o)?,
        results.render(o.idle)
    ))
}

fn kinds(peer: Peer) -> &'static [Kind] {
    if peer.proxies() {
        &[Kind::Preflight, Kind::Get]
    } else {
        &[Kind::Preflight]
    }
}

/// The command that starts `peer` on `port` (configuration files written into `dir`).
fn server_command(
    peer: Peer,
    port: u16,
    upstream: u16,
    pool: u32,
    dir: &Path,
    release: &Path,
) -> Result<Command, String> {
    let write = |name: &str, text: String| -> Result<PathBuf, String> {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        Ok(p)
    };
    Ok(match peer {
        Peer::Nginx => {
            let prefix = dir.join("nginx");
            std::fs::create_dir_all(&prefix)
                .map_err(|e| format!("cannot create {}: {e}", prefix.display()))?;
            let conf = write(
                "nginx.conf",
                nginx_conf(port, upstream, &prefix, nofile_hard_limit(), pool),
            )?;
            let mut c = pinned(0, Path::new("nginx"));
            c.arg("-p")
                .arg(&prefix)
                .arg("-e")
                .arg(prefix.join("error.log"))
                .arg("-c")
                .arg(conf);
            c
        }
        Peer::Caddy => {
            let conf = write("Caddyfile", caddyfile(port, upstream, pool))?;
            let home = dir.join("caddy-home");
            let mut c = pinned(0, Path::new("caddy"));
            c.args(["run", "--adapter", "caddyfile", "--config"])
                .arg(conf)
                .env("GOMAXPROCS", "1")
                .env("HOME", &home)
                .env("XDG_DATA_HOME", home.join("data"))
                .env("XDG_CONFIG_HOME", home.join("config"));
            c
        }
        Peer::Bare => {
            let mut c = pinned(0, &release.join("corsica-bench"));
            c.args(["bare", "--port", &port.to_string()])
                .args(["--exact", POLICY.exact])
                .args(["--suffix", &format!(".{}", POLICY.domain)])
                .args(["--methods", POLICY.methods, "--headers", POLICY.headers])
                .args(["--expose", POLICY.expose])
                .args(["--max-age", &POLICY.max_age.to_string()]);
            c
        }
        Peer::Corsica => {
            let conf = write("corsica.toml", corsica_toml(port, upstream))?;
            common::corsica_serve(pinned(0, &release.join("corsica")), &conf)
        }
    })
}

fn quoted_list(list: &str) -> String {
    list.split(", ")
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `corsica serve`'s configuration: one route doing the benchmark's CORS job.
pub fn corsica_toml(port: u16, upstream: u16) -> String {
    format!(
        r#"# Written by `cargo xtask bench`.
listen = "127.0.0.1:{port}"

[limits]
max_connections = 20000           # the idle connections of the RSS test (as many as the open-file limit holds)
max_connections_per_client = 0    # every connection comes from 127.0.0.1
header_read_timeout_ms = 60000

[[route]]
name = "api"
upstream = "http://127.0.0.1:{upstream}"
[route.cors]
origins = ["{exact}", "https://*.{domain}"]
credentials = true
methods = [{methods}]
headers = [{headers}]
expose = [{expose}]
max_age = {max_age}
"#,
        exact = POLICY.exact,
        domain = POLICY.domain,
        methods = quoted_list(POLICY.methods),
        headers = quoted_list(POLICY.headers),
        expose = quoted_list(POLICY.expose),
        max_age = POLICY.max_age,
    )
}

/// A regular expression for an origin: `s` with its dots escaped.
fn escaped(s: &str) -> String {
    s.replace('.', "\\.")
}

/// The origin regex: the exact origin, or `https://` + labels + `.domain` (anchored).
pub fn origin_regex() -> String {
    format!(
        "^({}|https://([a-z0-9-]+\\.)+{})$",
        escaped(POLICY.exact),
        escaped(POLICY.domain)
    )
}

/// nginx's configuration: one worker, its own files under `prefix`, the CORS snippet a
/// careful operator writes (anchored origin map, `always`, upstream CORS headers hidden,
/// `204` for allowed preflights), and keep-alive to the upstream.
///
/// `pool`: idle upstream connections kept (at least the client connections, so that no
/// server reconnects to the upstream under load).
pub fn nginx_conf(port: u16, upstream: u16, prefix: &Path, nofile: u64, pool: u32) -> String {
    let preflight_vary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
    let http = format!(
        r#"    # The request's Origin when the policy allows it, else empty (no header is added).
    map $http_origin $cors_origin {{
        default "";
        "~^{exact_re}$" $http_origin;
        "~^https://([a-z0-9-]+\.)+{domain_re}$" $http_origin;
    }}
    map $cors_origin $cors_credentials {{
        "" "";
        default "true";
    }}
    map $cors_origin $cors_expose {{
        "" "";
        default "{expose}";
    }}
    # A CORS preflight: OPTIONS with Origin and Access-Control-Request-Method.
    map "$request_method:$http_access_control_request_method:$http_origin:$cors_origin" $preflight {{
        default "";
        "~^OPTIONS:[^:]+:.+::?$" denied;
        "~^OPTIONS:[^:]+:.+:.+$" allowed;
    }}

    upstream backend {{
        server 127.0.0.1:{upstream};
        keepalive {pool};
    }}

    server {{
        listen 127.0.0.1:{port} backlog=4096;

        location / {{
            if ($preflight = allowed) {{
                add_header Access-Control-Allow-Origin $cors_origin always;
                add_header Access-Control-Allow-Credentials true always;
                add_header Access-Control-Allow-Methods "{methods}" always;
                add_header Access-Control-Allow-Headers "{headers}" always;
                add_header Access-Control-Max-Age {max_age} always;
                add_header Vary "{preflight_vary}" always;
                return 204;
            }}
            if ($preflight = denied) {{
                add_header Vary "{preflight_vary}" always;
                return 403;
            }}
            add_header Access-Control-Allow-Origin $cors_origin always;
            add_header Access-Control-Allow-Credentials $cors_credentials always;
            add_header Access-Control-Expose-Headers $cors_expose always;
            add_header Vary Origin always;
            proxy_hide_header Access-Control-Allow-Origin;
            proxy_hide_header Access-Control-Allow-Credentials;
            proxy_hide_header Access-Control-Allow-Methods;
            proxy_hide_header Access-Control-Allow-Headers;
            proxy_hide_header Access-Control-Expose-Headers;
            proxy_hide_header Access-Control-Max-Age;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://backend;
        }}
    }}
"#,
        exact_re = escaped(POLICY.exact),
        domain_re = escaped(POLICY.domain),
        expose = POLICY.expose,
        methods = POLICY.methods,
        headers = POLICY.headers,
        max_age = POLICY.max_age,
    );
    common::nginx_conf("bench", prefix, nofile, &http)
}

/// Caddy's configuration: admin off, HTTP only, the same CORS job, keep-alive upstream
/// (`pool` idle connections, as nginx's).
pub fn caddyfile(port: u16, upstream: u16, pool: u32) -> String {
    let re = origin_regex();
    let preflight_vary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
    format!(
        r#"# Written by `cargo xtask bench`.
{{
    admin off
    auto_https off
    servers {{
        protocols h1
        timeouts {{
            idle 5m
        }}
    }}
}}

http://127.0.0.1:{port} {{
    @preflight_allowed {{
        method OPTIONS
        header Access-Control-Request-Method *
        header_regexp Origin {re}
    }}
    @preflight_denied {{
        method OPTIONS
        header Access-Control-Request-Method *
        header Origin *
        not header_regexp Origin {re}
    }}
    @allowed header_regexp Origin {re}

    handle @preflight_allowed {{
        header {{
            Access-Control-Allow-Origin {{http.request.header.Origin}}
            Access-Control-Allow-Credentials true
            Access-Control-Allow-Methods "{methods}"
            Access-Control-Allow-Headers "{headers}"
            Access-Control-Max-Age {max_age}
            Vary "{preflight_vary}"
        }}
        respond 204
    }}
    handle @preflight_denied {{
        header Vary "{preflight_vary}"
        respond 403
    }}
    handle {{
        header {{
            -Access-Control-Allow-Methods
            -Access-Control-Allow-Headers
            -Access-Control-Max-Age
            Vary Origin
            defer
        }}
        header @allowed {{
            Access-Control-Allow-Origin {{http.request.header.Origin}}
            Access-Control-Allow-Credentials true
            Access-Control-Expose-Headers "{expose}"
            defer
        }}
        reverse_proxy 127.0.0.1:{upstream} {{
            header_down -Access-Control-Allow-Origin
            header_down -Access-Control-Allow-Credentials
            header_down -Access-Control-Expose-Headers
            transport http {{
                keepalive 5m
                keepalive_idle_conns {pool}
                keepalive_idle_conns_per_host {pool}
            }}
        }}
    }}
}}
"#,
        methods = POLICY.methods,
        headers = POLICY.headers,
        expose = POLICY.expose,
        max_age = POLICY.max_age,
    )
}

/// wrk scripts for both kinds, written into `dir`.
fn wrk_scripts(dir: &Path) -> Result<BTreeMap<Kind, PathBuf>, String> {
    let mut out = BTreeMap::new();
    for (kind, text) in [
        (
            Kind::Preflight,
            format!(
                "wrk.method = \"OPTIONS\"\nwrk.headers[\"Origin\"] = \"{PATTERN_ORIGIN}\"\nwrk.headers[\"Access-Control-Request-Method\"] = \"{ACRM}\"\nwrk.headers[\"Access-Control-Request-Headers\"] = \"{ACRH}\"\n"
            ),
        ),
        (
            Kind::Get,
            format!("wrk.method = \"GET\"\nwrk.headers[\"Origin\"] = \"{PATTERN_ORIGIN}\"\n"),
        ),
    ] {
        let p = dir.join(format!("{}.lua", kind.name().to_lowercase()));
        std::fs::write(&p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        out.insert(kind, p);
    }
    Ok(out)
}

fn run_wrk(port: u16, script: &Path, connections: u32, secs: u64) -> Result<WrkResult, String> {
    common::run_wrk(
        &["taskset", "-c", "1"],
        &format!("http://127.0.0.1:{port}{PATH}"),
        Some(script),
        connections,
        secs,
    )
}

/// Opens `count` idle keep-alive connections to the server (one GET answered on each), then
/// reads the RSS of its processes.
fn idle_rss(s: &mut Server, count: usize, release: &Path, dir: &Path) -> Result<u64, String> {
    let client = common::hold_idle(
        pinned(1, &release.join("corsica-bench")),
        s.port,
        count,
        PATTERN_ORIGIN,
        dir,
        s.peer.name(),
    )?;
    std::thread::sleep(Duration::from_secs(1));
    s.proc.check_alive()?;
    let rss = tree_rss_kib(s.proc.pid());
    drop(client);
    Ok(rss)
}

// ---------------------------------------------------------------------------------------
// Probes: is it the same job?

/// Status and CORS headers of each probe, as `(what, summary)`.
fn probes(s: &Server) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for origin in [POLICY.exact, PATTERN_ORIGIN, DENIED_ORIGIN] {
        for kind in [Kind::Preflight, Kind::Get] {
            let extra = match kind {
                Kind::Preflight => format!(
                    "Access-Control-Request-Method: {ACRM}\r\nAccess-Control-Request-Headers: {ACRH}\r\n"
                ),
                Kind::Get => String::new(),
            };
            let method = if kind == Kind::Preflight {
                "OPTIONS"
            } else {
                "GET"
            };
            let req = format!(
                "{method} {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nOrigin: {origin}\r\n{extra}Connection: close\r\n\r\n",
                s.port
            );
            let raw =
                exchange(s.port, &req).map_err(|e| format!("probing {}: {e}", s.peer.name()))?;
            out.push((format!("{} from {origin}", kind.name()), summarize(&raw)));
        }
    }
    Ok(out)
}

/// A response's status and CORS headers, normalized: names lowercased, repeated headers
/// joined, list values split on commas (case kept for methods and origins, lowercased for
/// header names), in a fixed order.
pub fn summarize(raw: &str) -> String {
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?")
        .to_owned();
    let mut values: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let Some(&known) = CORS_HEADERS.iter().find(|&&h| h == name) else {
            continue;
        };
        let lower = matches!(
            known,
            "vary" | "access-control-allow-headers" | "access-control-expose-headers"
        );
        for item in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
            values.entry(known).or_default().push(if lower {
                item.to_ascii_lowercase()
            } else {
                item.to_owned()
            });
        }
    }
    let mut s = status;
    for h in CORS_HEADERS {
        if let Some(v) = values.get(h) {
            let _ = write!(s, "; {h}: {}", v.join(", "));
        }
    }
    s
}

// ---------------------------------------------------------------------------------------
// Packages, machine, versions.

fn machine_and_method(o: &Options) -> Result<String, String> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let commit = command_output("git", &["rev-parse", "--short=12", "HEAD"]);
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    let nginx = command_output("nginx", &["-v"]);
    let nginx = nginx.trim_start_matches("nginx version: ");
    let caddy = command_output("caddy", &["version"]);
    let wrk = command_output("wrk", &["-v"]);
    let wrk = wrk.split(" Copyright").next().unwrap_or(&wrk).to_owned();
    let rustc = command_output("rustc", &["-V"]);
    Ok(format!(
        "Machine: {cpu}, {cores} cores, Linux {kernel}; {date}.\n\
         Versions: {nginx}; Caddy {caddy}; {wrk}; {rustc}; corsica at commit {commit}{dirty}.\n\n\
         Method: every server on core 0 (`taskset -c 0`), wrk, the shared upstream and the idle client on core 1; \
         nginx with 1 worker, Caddy with `GOMAXPROCS=1`, the bare hyper server and `corsica serve` on one core's runtime. \
         One route: the exact origin `{exact}` and the pattern `https://*.{domain}`, credentials, methods, headers, \
         max-age and an exposed header; every peer's answers to a preflight and a GET from an exact, a pattern \
         and a denied origin were compared with corsica's first. `wrk -t1 -c{conns} -d{dur}s --latency` with the \
         origin `{PATTERN_ORIGIN}`: a preflight (`OPTIONS`, `PUT`, two request headers) and a GET proxied to the \
         upstream ({body} bytes of JSON; nginx and Caddy keep up to {pool} idle upstream connections); {rounds} interleaved rounds (every server, preflight then GET, \
         the order rotated per round), medians of the per-round values (range in parentheses). CPU per request: \
         user+system ticks of all the server's processes (`/proc/PID/stat`) over the run ÷ the requests wrk completed. \
         RSS: VmRSS of all the server's processes holding {idle} idle keep-alive connections (one GET answered on each).\n",
        dirty = if dirty {
            " (with uncommitted changes)"
        } else {
            ""
        },
        exact = POLICY.exact,
        domain = POLICY.domain,
        conns = o.connections,
        dur = o.duration,
        rounds = o.rounds,
        body = 30,
        pool = o.connections * 4,
        idle = fmt_int(o.idle as u64),
    ))
}

// ---------------------------------------------------------------------------------------
// Results and the tables.

struct Results {
    samples: BTreeMap<(Peer, Kind), Vec<Sample>>,
    rss: BTreeMap<Peer, (u64, u64)>,
    differs: BTreeMap<Peer, String>,
}

impl Results {
    fn per_round<F: Fn(&Sample) -> f64>(&self, peer: Peer, kind: Kind, f: F) -> Vec<f64> {
        self.samples
            .get(&(peer, kind))
            .map(|v| v.iter().map(f).collect())
            .unwrap_or_default()
    }

    /// Per-round ratio of `peer`'s req/s to `base`'s.
    fn ratios(&self, peer: Peer, base: Peer, kind: Kind) -> Vec<f64> {
        let a = self.per_round(peer, kind, |s| s.wrk.rps);
        let b = self.per_round(base, kind, |s| s.wrk.rps);
        a.iter().zip(&b).map(|(x, y)| x / y).collect()
    }

    fn cpu_per_request(&self, peer: Peer, kind: Kind) -> Vec<f64> {
        self.per_round(peer, kind, |s| s.cpu_us / s.wrk.requests.max(1) as f64)
    }

    fn comparable(&self, peer: Peer) -> bool {
        !self.differs.contains_key(&peer)
    }

    fn render(&self, idle: usize) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "| | nginx | Caddy | bare hyper | corsica serve |\n|---|---|---|---|---|"
        );
        let with_range = |v: &[f64], digits: usize| -> String {
            let Some(m) = median(v) else {
                return "–".into();
            };
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if v.len() > 1 {
                format!("{m:.digits$} ({lo:.digits$}–{hi:.digits$})")
            } else {
                format!("{m:.digits$}")
            }
        };
        for kind in [Kind::Preflight, Kind::Get] {
            let label = match kind {
                Kind::Preflight => "preflight req/s, ratio to nginx",
                Kind::Get => "proxied GET req/s, ratio to nginx",
            };
            let cells: Vec<String> = PEERS
                .iter()
                .map(|&p| {
                    if !kinds(p).contains(&kind) {
                        "–".into()
                    } else if p == Peer::Nginx {
                        format!(
                            "1.00 ({} req/s)",
                            fmt_int(
                                median(&self.per_round(p, kind, |s| s.wrk.rps)).unwrap_or(0.0)
                                    as u64
                            )
                        )
                    } else if !self.comparable(p) || !self.comparable(Peer::Nginx) {
                        format!(
                            "not the same job ({} req/s)",
                            fmt_int(
                                median(&self.per_round(p, kind, |s| s.wrk.rps)).unwrap_or(0.0)
                                    as u64
                            )
                        )
                    } else {
                        with_range(&self.ratios(p, Peer::Nginx, kind), 2)
                    }
                })
                .collect();
            let _ = writeln!(t, "| {label} | {} |", cells.join(" | "));
        }
        for kind in [Kind::Preflight, Kind::Get] {
            let cells: Vec<String> = PEERS
                .iter()
                .map(|&p| {
                    if kinds(p).contains(&kind) {
                        with_range(&self.cpu_per_request(p, kind), 1)
                    } else {
                        "–".into()
                    }
                })
                .collect();
            let _ = writeln!(
                t,
                "| CPU µs per {} (user+system) | {} |",
                kind.name(),
                cells.join(" | ")
            );
        }
        for kind in [Kind::Preflight, Kind::Get] {
            let cells: Vec<String> = PEERS
                .iter()
                .map(|&p| {
                    if !kinds(p).contains(&kind) {
                        return "–".into();
                    }
                    let p50 = median(&self.per_round(p, kind, |s| s.wrk.p50_us));
                    let p99 = median(&self.per_round(p, kind, |s| s.wrk.p99_us));
                    match (p50, p99) {
                        (Some(a), Some(b)) => format!("{a:.0} / {b:.0}"),
                        _ => "–".into(),
                    }
                })
                .collect();
            let _ = writeln!(
                t,
                "| {} latency p50 / p99, µs | {} |",
                kind.name(),
                cells.join(" | ")
            );
        }
        let rss_cells: Vec<String> = PEERS
            .iter()
            .map(|&p| {
                self.rss.get(&p).map_or("–".into(), |&(base, loaded)| {
                    format!(
                        "{:.1} MiB (idle: {:.1})",
                        loaded as f64 / 1024.0,
                        base as f64 / 1024.0
                    )
                })
            })
            .collect();
        let _ = writeln!(
            t,
            "| RSS with {} idle connections | {} |",
            fmt_int(idle as u64),
            rss_cells.join(" | ")
        );
        let errors: Vec<String> = self
            .samples
            .iter()
            .filter(|(_, v)| v.iter().any(|s| s.wrk.errors > 0))
            .map(|((p, k), v)| {
                format!(
                    "{} {}: {} errors",
                    p.name(),
                    k.name(),
                    v.iter().map(|s| s.wrk.errors).sum::<u64>()
                )
            })
            .collect();
        if !errors.is_empty() {
            let _ = writeln!(
                t,
                "\nwrk saw non-2xx answers or socket errors: {}.",
                errors.join("; ")
            );
        }
        for (p, diff) in &self.differs {
            let _ = writeln!(
                t,
                "\n{} does not answer as corsica serve does, so no ratio is reported for it:\n\n```text\n{diff}```",
                p.name()
            );
        }
        t.push_str(
            "\nTargets (`corsica serve`, medians):\n\n| target | measured | |\n|---|---|---|\n",
        );
        for row in self.targets() {
            let _ = writeln!(t, "{row}");
        }
        t
    }

    /// The issue's targets as table rows.
    fn targets(&self) -> Vec<String> {
        let c = Peer::Corsica;
        let row = |what: &str, value: Option<f64>, unit: &str, ok: &dyn Fn(f64) -> bool| match value
        {
            Some(v) => format!(
                "| {what} | {v:.2}{unit} | {} |",
                if ok(v) { "met" } else { "**missed**" }
            ),
            None => format!("| {what} | not measured | – |"),
        };
        let nginx_ok = self.comparable(Peer::Nginx);
        let ratio = |peer, kind| -> Option<f64> {
            if self.comparable(peer) {
                median(&self.ratios(c, peer, kind))
            } else {
                None
            }
        };
        let cpu_ratio = |kind| -> Option<f64> {
            Some(
                median(&self.cpu_per_request(c, kind))?
                    / median(&self.cpu_per_request(Peer::Nginx, kind))?,
            )
            .filter(|_| nginx_ok)
        };
        let p99_ratio = |kind| -> Option<f64> {
            Some(
                median(&self.per_round(c, kind, |s| s.wrk.p99_us))?
                    / median(&self.per_round(Peer::Nginx, kind, |s| s.wrk.p99_us))?,
            )
            .filter(|_| nginx_ok)
        };
        let rss_ratio = match (self.rss.get(&c), self.rss.get(&Peer::Nginx)) {
            (Some(a), Some(b)) if nginx_ok => Some(a.1 as f64 / b.1 as f64),
            _ => None,
        };
        let mut rows = vec![
            row(
                "preflight req/s ≥ 1.0× nginx's",
                ratio(Peer::Nginx, Kind::Preflight),
                "×",
                &|v| v >= 1.0,
            ),
            row(
                "preflight req/s ≥ 0.95× the bare hyper server's",
                ratio(Peer::Bare, Kind::Preflight),
                "×",
                &|v| v >= 0.95,
            ),
            row(
                "proxied GET req/s ≥ 1.0× nginx's",
                ratio(Peer::Nginx, Kind::Get),
                "×",
                &|v| v >= 1.0,
            ),
        ];
        for kind in [Kind::Preflight, Kind::Get] {
            let r = cpu_ratio(kind);
            rows.push(row(
                &format!("CPU per {} ≤ nginx's (stretch: ≤ 0.8×)", kind.name()),
                r,
                "× nginx's",
                &|v| v <= 1.0,
            ));
            if let Some(v) = r {
                let last = rows.last_mut().unwrap();
                if v <= 1.0 {
                    last.truncate(last.len() - 2);
                    last.push_str(if v <= 0.8 {
                        ", stretch met |"
                    } else {
                        ", stretch missed |"
                    });
                }
            }
        }
        for kind in [Kind::Preflight, Kind::Get] {
            rows.push(row(
                &format!("{} p99 ≤ nginx's", kind.name()),
                p99_ratio(kind),
                "× nginx's",
                &|v| v <= 1.0,
            ));
        }
        rows.push(row(
            "RSS with the idle connections < nginx's",
            rss_ratio,
            "× nginx's",
            &|v| v < 1.0,
        ));
        rows
    }
}

// ---------------------------------------------------------------------------------------
// The layer table, from criterion's files.

/// The value of `"key":"..."` in a JSON text (criterion's compact files).
pub fn json_str<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\":\"");
    let start = json.find(&pat)? + pat.len();
    let len = json[start..].find('"')?;
    Some(&json[start..start + len])
}

/// The median's `point_estimate` (ns) in criterion's `estimates.json`.
pub fn median_estimate(json: &str) -> Option<f64> {
    let at = json.find("\"median\"")?;
    let rest = &json[at..];
    let pat = "\"point_estimate\":";
    let start = rest.find(pat)? + pat.len();
    let end = rest[start..]
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+')))
        .map_or(rest.len(), |i| start + i);
    rest[start..end].parse().ok()
}

/// Every `(function_id, value_str)` → median ns found under `dir` (criterion's
/// `target/criterion/layer`).
fn criterion_medians(dir: &Path) -> BTreeMap<(String, String), f64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "new") {
                    let bench =
                        std::fs::read_to_string(p.join("benchmark.json")).unwrap_or_default();
                    let est = std::fs::read_to_string(p.join("estimates.json")).unwrap_or_default();
                    if let (Some(f), Some(v), Some(m)) = (
                        json_str(&bench, "function_id"),
                        json_str(&bench, "value_str"),
                        median_estimate(&est),
                    ) {
                        out.insert((f.to_owned(), v.to_owned()), m);
                    }
                } else {
                    stack.push(p);
                }
            }
        }
    }
    out
}

/// The layer table: each middleware's own cost (total − the same harness without it).
pub fn layer_table(dir: &Path) -> String {
    render_layer(&criterion_medians(dir))
}

/// Renders the layer table from `(function_id, origins)` → median ns.
pub fn render_layer(m: &BTreeMap<(String, String), f64>) -> String {
    let cost = |mw: &str, base: &str, kind: &str, n: &str| -> Option<f64> {
        let total = m.get(&(format!("{mw}/{kind}"), n.to_owned()))?;
        let base = m.get(&(format!("{base}/{kind}"), n.to_owned()))?;
        Some(total - base)
    };
    // A cell: the cost, else the total when the baseline is missing, else "not measured".
    let cell = |mw: &str, base: &str, kind: &str, n: &str| -> String {
        match (
            cost(mw, base, kind, n),
            m.get(&(format!("{mw}/{kind}"), n.to_owned())),
        ) {
            (Some(c), _) => format!("{c:.0} ns"),
            (None, Some(total)) => {
                format!("not measured (total {total:.0} ns, no `{base}` baseline)")
            }
            (None, None) => "not measured".to_owned(),
        }
    };
    let mut t = String::from(
        "Criterion medians of `layer` (`crates/corsica/benches/layer.rs`): each middleware's own cost = \
         its total − the same harness around no middleware (`none-tower` for corsica and tower-http, \
         `none-actix` for actix-cors).\n\n\
         | request | origins | corsica | tower-http | actix-cors | corsica ≥ 2× lower than both | corsica < 100 ns at 10,000 |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut any = false;
    for kind in ["preflight", "actual"] {
        for n in ["1", "100", "10000"] {
            let c = cost("corsica", "none-tower", kind, n);
            let tw = cost("tower-http", "none-tower", kind, n);
            let ax = cost("actix-cors", "none-actix", kind, n);
            any |= c.is_some();
            let twice = match (c, tw, ax) {
                (Some(c), Some(tw), Some(ax)) => format!(
                    "{} ({:.1}× / {:.1}×)",
                    if c * 2.0 <= tw && c * 2.0 <= ax {
                        "met"
                    } else {
                        "**missed**"
                    },
                    tw / c.max(0.1),
                    ax / c.max(0.1)
                ),
                _ => "not measured".into(),
            };
            let fast = if n == "10000" {
                match c {
                    Some(c) if c < 100.0 => "met".to_owned(),
                    Some(_) => "**missed**".to_owned(),
                    None => "not measured".to_owned(),
                }
            } else {
                "–".to_owned()
            };
            let _ = writeln!(
                t,
                "| {kind} | {} | {} | {} | {} | {twice} | {fast} |",
                fmt_int(n.parse().unwrap_or(0)),
                cell("corsica", "none-tower", kind, n),
                cell("tower-http", "none-tower", kind, n),
                cell("actix-cors", "none-actix", kind, n)
            );
        }
    }
    if !any {
        t.push_str("\nNot measured: a cost needs criterion results for the middleware and for its baseline (`layer/none-tower/*`, `layer/none-actix/*`) under target/criterion; run `cargo xtask bench --layer-only` with a `benches/layer.rs` that measures them.\n");
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_have_defaults_and_refuse_unknown_ones() {
        let o = Options::parse(&[]).unwrap();
        assert!(o.gateway && o.layer && !o.bless);
        assert_eq!((o.rounds, o.duration, o.idle), (3, 10, 10_000));
        let o = Options::parse(&s(&[
            "--gateway-only",
            "--rounds",
            "1",
            "--duration",
            "3",
            "--",
            "--noplot",
        ]))
        .unwrap();
        assert!(o.gateway && !o.layer);
        assert_eq!((o.rounds, o.duration), (1, 3));
        assert_eq!(o.criterion, s(&["--noplot"]));
        assert!(Options::parse(&s(&["--rounds", "0"])).is_err());
        assert!(Options::parse(&s(&["--rounds"])).is_err());
        assert!(Options::parse(&s(&["--fast"])).is_err());
        assert!(Options::parse(&s(&["--gateway-only", "--layer-only"])).is_err());
    }

    #[test]
    fn probes_compare_cors_headers_only_and_normalized() {
        let a = "HTTP/1.1 204 No Content\r\naccess-control-allow-methods: GET, POST\r\nVary: Origin, Access-Control-Request-Method\r\ndate: x\r\n\r\n";
        let b = "HTTP/1.1 204 No Content\r\nServer: nginx\r\nAccess-Control-Allow-Methods: GET,POST\r\nvary: origin\r\nVary: access-control-request-method\r\n\r\n";
        assert_eq!(summarize(a), summarize(b));
        assert_eq!(
            summarize(a),
            "204; access-control-allow-methods: GET, POST; vary: origin, access-control-request-method"
        );
        assert_ne!(summarize(a), summarize("HTTP/1.1 403 Forbidden\r\n\r\n"));
    }

    #[test]
    fn criterion_files_are_read() {
        let bench = r#"{"group_id":"layer","function_id":"corsica/preflight","value_str":"100","throughput":null}"#;
        assert_eq!(json_str(bench, "function_id"), Some("corsica/preflight"));
        let est = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0},"point_estimate":9.5,"standard_error":0.1},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0},"point_estimate":412.25,"standard_error":0.1}}"#;
        assert_eq!(median_estimate(est), Some(412.25));
    }

    #[test]
    fn the_layer_table_subtracts_the_baseline_and_says_what_is_missing() {
        let mut m = BTreeMap::new();
        for (f, v) in [
            ("corsica/preflight", 150.0),
            ("none-tower/preflight", 100.0),
            ("tower-http/preflight", 300.0),
            ("actix-cors/preflight", 400.0),
            ("none-actix/preflight", 200.0),
        ] {
            m.insert((f.to_owned(), "10000".to_owned()), v);
        }
        let t = render_layer(&m);
        assert!(
            t.contains(
                "| preflight | 10,000 | 50 ns | 200 ns | 200 ns | met (4.0× / 4.0×) | met |"
            ),
            "{t}"
        );
        assert!(t.contains("| actual | 1 | not measured |"), "{t}");
        m.insert(("corsica/actual".to_owned(), "1".to_owned()), 300.0);
        let t = render_layer(&m);
        assert!(
            t.contains("| actual | 1 | not measured (total 300 ns, no `none-tower` baseline) |"),
            "{t}"
        );
        assert!(render_layer(&BTreeMap::new()).contains("Not measured"));
    }

    #[test]
    fn configurations_carry_the_policy() {
        let toml = corsica_toml(8080, 9000);
        assert!(toml.contains(r#"origins = ["https://app.example.com", "https://*.example.net"]"#));
        assert!(toml.contains(r#"methods = ["GET", "POST", "PUT", "DELETE"]"#));
        let nginx = nginx_conf(8080, 9000, Path::new("/tmp/x"), 20000, 256);
        assert!(nginx.contains(r#""~^https://app\.example\.com$" $http_origin;"#));
        assert!(nginx.contains("keepalive 256;"));
        assert_eq!(
            origin_regex(),
            r"^(https://app\.example\.com|https://([a-z0-9-]+\.)+example\.net)$"
        );
        assert!(caddyfile(8080, 9000, 256).contains("keepalive_idle_conns_per_host 256"));
    }
}
