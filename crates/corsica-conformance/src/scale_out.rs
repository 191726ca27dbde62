//! `--scale-out`: three `corsica serve` instances behind HAProxy, reloaded and restarted
//! one by one under traffic.
//!
//! Each instance reads its own copy of the configuration (as a config-management system
//! writes one per host: a shared file would be reloaded by every watcher at once) and has
//! its own admin listener; HAProxy balances round robin and checks each `/healthz`. With
//! `wrk` and a checker sending requests through HAProxy the whole time:
//!
//! 1. baseline: every answer is the old policy;
//! 2. reload: each instance's file is replaced by the new policy and the instance gets
//!    SIGHUP, one after the other; each is asked directly until it answers the new policy;
//! 3. after the last reload, every answer must be the new policy;
//! 4. rolling restart: each instance is drained in HAProxy (runtime API), stopped with
//!    SIGTERM, started again on the same ports, and put back once its check passes.
//!
//! The checker cycles through four requests whose answers tell the two policies apart
//! (the origins, exposed headers, methods, request headers, max-age and credentials all
//! differ), and classifies every answer as old, new, or neither (a mixture, an error, a
//! failure). No request may fail (wrk: no non-2xx answer, no socket error; checker: none),
//! none may be neither policy, and none sent after the last reload may be the old one. The
//! last line is `scale-out: 3 instances behind HAProxy, N requests (wrk W, checker C),
//! F failed, M mixed, O old after the last reload`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::export_equivalence::{COMPARED, Head, request, send};
use crate::process::{Process, ready};

/// How many `corsica serve` behind HAProxy.
pub(crate) const INSTANCES: usize = 3;
/// The checker's concurrent clients.
const CHECKERS: usize = 2;
/// wrk's connections.
const WRK_CONNECTIONS: &str = "12";
/// Answers of the new policy the checker must see after the last reload.
const AFTER_MIN: usize = 200;

/// The two policies. Only `https://app.example.com` is allowed by both, with different
/// exposed headers, methods, request headers, max-age and credentials.
fn config(listen: u16, admin: u16, new: bool) -> String {
    let cors = if new {
        r#"origins = ["https://app.example.com", "https://new.example.com"]
credentials = true
methods = ["GET", "PUT"]
headers = ["x-new"]
expose = ["x-new"]
max_age = 120"#
    } else {
        r#"origins = ["https://app.example.com", "https://old.example.com"]
methods = ["GET", "POST"]
headers = ["x-old"]
expose = ["x-old"]
max_age = 60"#
    };
    format!(
        "listen = \"127.0.0.1:{listen}\"\nadmin = \"127.0.0.1:{admin}\"\n\n[limits]\n\
         max_connections_per_client = 0\n\n[[route]]\nname = \"api\"\npath = \"/\"\n\
         upstream = \"echo\"\n[route.cors]\n{cors}\n"
    )
}

/// What a policy answers to one probe: the status and the CORS headers present.
type Expected = (u16, &'static [(&'static str, &'static str)]);

/// One of the checker's requests and what each policy answers to it.
struct Probe {
    raw: String,
    old: Expected,
    new: Expected,
}

fn probes() -> Vec<Probe> {
    let get = |origin| request("GET", "localhost", "/", origin, &[]);
    vec![
        Probe {
            raw: get("https://app.example.com"),
            old: (
                200,
                &[
                    ("access-control-allow-origin", "https://app.example.com"),
                    ("access-control-expose-headers", "x-old"),
                ],
            ),
            new: (
                200,
                &[
                    ("access-control-allow-origin", "https://app.example.com"),
                    ("access-control-allow-credentials", "true"),
                    ("access-control-expose-headers", "x-new"),
                ],
            ),
        },
        Probe {
            raw: request(
                "OPTIONS",
                "localhost",
                "/",
                "https://app.example.com",
                &[("Access-Control-Request-Method", "GET")],
            ),
            old: (
                204,
                &[
                    ("access-control-allow-origin", "https://app.example.com"),
                    ("access-control-allow-methods", "GET, POST"),
                    ("access-control-allow-headers", "x-old"),
                    ("access-control-max-age", "60"),
                ],
            ),
            new: (
                204,
                &[
                    ("access-control-allow-origin", "https://app.example.com"),
                    ("access-control-allow-credentials", "true"),
                    ("access-control-allow-methods", "GET, PUT"),
                    ("access-control-allow-headers", "x-new"),
                    ("access-control-max-age", "120"),
                ],
            ),
        },
        Probe {
            raw: get("https://old.example.com"),
            old: (
                200,
                &[
                    ("access-control-allow-origin", "https://old.example.com"),
                    ("access-control-expose-headers", "x-old"),
                ],
            ),
            new: (200, &[]),
        },
        Probe {
            raw: get("https://new.example.com"),
            old: (200, &[]),
            new: (
                200,
                &[
                    ("access-control-allow-origin", "https://new.example.com"),
                    ("access-control-allow-credentials", "true"),
                    ("access-control-expose-headers", "x-new"),
                ],
            ),
        },
    ]
}

/// Which policy produced an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Class {
    Old,
    New,
    /// Neither: what differs from each.
    Mixed(String),
    /// No answer.
    Failed(String),
}

/// Whether `head` is exactly `want`: the status, and every CORS header present with the
/// same value or absent from both.
fn matches(head: &Head, want: &Expected) -> bool {
    head.status == want.0
        && COMPARED.iter().all(|name| {
            let got = head.all(name).join(", ");
            let expected = want
                .1
                .iter()
                .find(|(n, _)| n == name)
                .map_or("", |(_, v)| *v);
            got == expected
        })
}

fn classify(probe: &Probe, answer: Result<Head, String>) -> Class {
    match answer {
        Err(e) => Class::Failed(e),
        Ok(h) if matches(&h, &probe.old) => Class::Old,
        Ok(h) if matches(&h, &probe.new) => Class::New,
        // An error answer (HAProxy's 503 with no server, a 502) is a failed request.
        Ok(h) if h.status != probe.old.0 && h.status != probe.new.0 => Class::Failed(format!(
            "{} {:?} -> {}",
            probe.raw.lines().next().unwrap_or_default(),
            probe.raw.lines().find(|l| l.starts_with("Origin")),
            h.status
        )),
        Ok(h) => {
            let cors: Vec<String> = h
                .headers
                .iter()
                .filter(|(n, _)| COMPARED.contains(&n.as_str()))
                .map(|(n, v)| format!("{n}: {v}"))
                .collect();
            Class::Mixed(format!(
                "{} {:?} -> {} [{}]",
                probe.raw.lines().next().unwrap_or_default(),
                probe.raw.lines().find(|l| l.starts_with("Origin")),
                h.status,
                cors.join("; ")
            ))
        }
    }
}

/// What the checker saw.
#[derive(Default)]
struct Counts {
    old: usize,
    new: usize,
    mixed: usize,
    failed: usize,
    /// Sent after the last reload completed.
    after_old: usize,
    after_new: usize,
    /// The first few mixtures and failures, for the report.
    examples: Vec<String>,
}

impl Counts {
    fn example(&mut self, what: String) {
        if self.examples.len() < 10 {
            self.examples.push(what);
        }
    }
}

/// Sends the probes through `front` in turn until `stop`; `done` marks the requests sent
/// after the last reload.
async fn checker(
    front: SocketAddr,
    offset: usize,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    counts: Arc<Mutex<Counts>>,
) {
    let probes = probes();
    let mut i = offset;
    while !stop.load(Ordering::SeqCst) {
        let probe = &probes[i % probes.len()];
        i += 1;
        let after = done.load(Ordering::SeqCst);
        let class = classify(probe, send(front, &probe.raw).await);
        let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
        match &class {
            Class::Old => c.old += 1,
            Class::New => c.new += 1,
            Class::Mixed(what) => {
                c.mixed += 1;
                c.example(format!("mixed: {what}"));
            }
            Class::Failed(what) => {
                c.failed += 1;
                c.example(format!("failed: {what}"));
            }
        }
        if after {
            match class {
                Class::Old => c.after_old += 1,
                Class::New => c.after_new += 1,
                _ => {}
            }
        }
    }
}

/// One `corsica serve` instance.
struct Instance {
    name: String,
    listen: SocketAddr,
    admin: SocketAddr,
    file: PathBuf,
    log: PathBuf,
    process: Option<Process>,
}

impl Instance {
    fn start(&mut self, corsica: &Path) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        self.process = Some(crate::process::serve(
            corsica,
            &self.file,
            Stdio::from(log),
        )?);
        Ok(())
    }

    fn pid(&self) -> Result<i32, String> {
        self.process
            .as_ref()
            .and_then(|p| i32::try_from(p.0.id()).ok())
            .ok_or_else(|| format!("{} is not running", self.name))
    }

    async fn ready(&self) -> Result<(), String> {
        ready(self.listen, &self.name).await?;
        ready(self.admin, &format!("{}'s admin listener", self.name)).await
    }

    /// SIGTERM, then waits for a clean exit (the drain of idle connections is immediate).
    async fn stop(&mut self) -> Result<(), String> {
        signal(self.pid()?, libc::SIGTERM)?;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if let Some(p) = self.process.as_mut() {
                match p.0.try_wait() {
                    Ok(Some(status)) if status.success() => return Ok(()),
                    Ok(Some(status)) => {
                        return Err(format!("{} exited with {status} on SIGTERM", self.name));
                    }
                    Ok(None) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(format!("{} did not exit within 15 s of SIGTERM", self.name))
    }
}

fn signal(pid: i32, sig: i32) -> Result<(), String> {
    // SAFETY: kill(2) on a child of ours that has not been reaped.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(format!(
            "kill({pid}, {sig}): {}",
            std::io::Error::last_os_error()
        ))
    }
}

/// A free loopback port below the ephemeral range (`ip_local_port_range`): while an
/// instance restarts, its port is free, and a port the kernel hands out to the checker's
/// outgoing connections could be taken as their source port and make the new process's
/// bind fail. Ports of this range are only ever taken by an explicit bind.
fn stable_port(next: &mut u16) -> Result<u16, String> {
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (ephemeral.saturating_sub(12000).max(1024), ephemeral);
    for _ in low..high {
        let port = low + (*next % (high - low));
        *next = next.wrapping_add(1);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(format!("no free loopback port in {low}..{high}"))
}

/// Writes `text` to `path` atomically (beside it, then renamed over it), as the README
/// says to replace a configuration.
fn replace(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension("toml.new");
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The HAProxy configuration: round robin over the instances, each checked on its admin
/// listener's `/healthz`.
fn haproxy_config(front: u16, socket: &Path, instances: &[Instance]) -> String {
    let mut servers = String::new();
    for i in instances {
        servers.push_str(&format!(
            "    server {} {} check port {}\n",
            i.name,
            i.listen,
            i.admin.port()
        ));
    }
    format!(
        "global
    stats socket {socket} level admin
    maxconn 2000

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 1s
    retries 3
    option redispatch
    retry-on conn-failure empty-response response-timeout

frontend api
    bind 127.0.0.1:{front}
    default_backend corsica

backend corsica
    balance roundrobin
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    default-server check inter 200ms fall 2 rise 2
{servers}",
        socket = socket.display()
    )
}

/// One command on HAProxy's runtime API; its answer.
async fn runtime_api(socket: &Path, command: &str) -> Result<String, String> {
    let mut s = UnixStream::connect(socket)
        .await
        .map_err(|e| format!("{}: {e}", socket.display()))?;
    s.write_all(format!("{command}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out))
        .await
        .map_err(|_| format!("HAProxy's runtime API did not answer `{command}`"))?
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// `show stat`: one map per proxy or server line, keyed by `pxname/svname`.
async fn stats(socket: &Path) -> Result<HashMap<String, HashMap<String, String>>, String> {
    let text = runtime_api(socket, "show stat").await?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .and_then(|l| l.strip_prefix("# "))
        .ok_or_else(|| format!("unexpected `show stat` answer: {text:?}"))?
        .split(',')
        .collect();
    let mut out = HashMap::new();
    for l in lines.filter(|l| !l.is_empty()) {
        let row: HashMap<String, String> = header
            .iter()
            .zip(l.split(','))
            .map(|(k, v)| ((*k).to_owned(), v.to_owned()))
            .collect();
        let key = format!(
            "{}/{}",
            row.get("pxname").map_or("", String::as_str),
            row.get("svname").map_or("", String::as_str)
        );
        out.insert(key, row);
    }
    Ok(out)
}

/// One statistic of `pxname/svname`.
async fn stat(socket: &Path, key: &str, field: &str) -> Result<String, String> {
    stats(socket)
        .await?
        .get(key)
        .and_then(|r| r.get(field))
        .cloned()
        .ok_or_else(|| format!("`show stat` has no {field} for {key}"))
}

/// Waits until HAProxy says `status` for `server` (`UP`, `DRAIN`...).
async fn wait_status(socket: &Path, server: &str, status: &str) -> Result<(), String> {
    let key = format!("corsica/{server}");
    let mut last = String::new();
    for _ in 0..200 {
        last = stat(socket, &key, "status").await?;
        if last == status {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "HAProxy: {server} is {last}, not {status}, after 10 s"
    ))
}

/// What wrk reported.
struct Wrk {
    requests: u64,
    non_2xx: u64,
    socket_errors: u64,
    text: String,
}

fn parse_wrk(text: &str) -> Result<Wrk, String> {
    let number = |s: &str| s.trim().trim_end_matches(',').parse::<u64>().ok();
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(number)
        .ok_or_else(|| format!("wrk printed no request count:\n{text}"))?;
    let non_2xx = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(number)
        .unwrap_or(0);
    // `Socket errors: connect 0, read 0, write 0, timeout 0`
    let socket_errors = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Socket errors:"))
        .map(|l| {
            l.split(',')
                .filter_map(|p| p.split_whitespace().nth(1).and_then(number))
                .sum()
        })
        .unwrap_or(0);
    Ok(Wrk {
        requests,
        non_2xx,
        socket_errors,
        text: text.to_owned(),
    })
}

/// What the run measured.
pub struct Summary {
    pub wrk: u64,
    pub checker: usize,
    pub failed: u64,
    pub mixed: usize,
    pub old_after: usize,
    /// Other reasons the run failed (no baseline, too few answers after the reload, 5xx).
    pub problems: usize,
}

impl Summary {
    pub fn passed(&self) -> bool {
        self.failed == 0 && self.mixed == 0 && self.old_after == 0 && self.problems == 0
    }
}

/// Runs the test; `Err` when it could not run (or broke off).
pub async fn run(verbose: bool) -> Result<Summary, String> {
    let haproxy = ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or("haproxy not found: install Debian's haproxy")?;
    let wrk = ["/usr/bin/wrk", "/usr/local/bin/wrk"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or("wrk not found: install Debian's wrk")?;
    let corsica = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("corsica");
    let work = std::env::temp_dir().join(format!("corsica-scale-out-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let result = scale_out(haproxy, wrk, &corsica, &work, verbose).await;
    match &result {
        Ok(s) if s.passed() => {
            let _ = std::fs::remove_dir_all(&work);
        }
        _ => eprintln!(
            "scale-out: logs kept in {} (haproxy.log, cN.log)",
            work.display()
        ),
    }
    result
}

async fn scale_out(
    haproxy: &str,
    wrk: &str,
    corsica: &Path,
    work: &Path,
    verbose: bool,
) -> Result<Summary, String> {
    let addr = |port: u16| -> SocketAddr { SocketAddr::from(([127, 0, 0, 1], port)) };
    // The instances, each with its own copy of the old policy; the ports start at a place
    // of this process's own, so that runs side by side do not try the same ones.
    let mut next = (std::process::id() % 1000 * 11) as u16;
    let mut instances = Vec::new();
    for n in 1..=INSTANCES {
        let (listen, admin) = (stable_port(&mut next)?, stable_port(&mut next)?);
        let name = format!("c{n}");
        let file = work.join(format!("{name}.toml"));
        replace(&file, &config(listen, admin, false))?;
        instances.push(Instance {
            log: work.join(format!("{name}.log")),
            name,
            listen: addr(listen),
            admin: addr(admin),
            file,
            process: None,
        });
    }
    for i in &mut instances {
        i.start(corsica)?;
    }
    for i in &instances {
        i.ready().await?;
    }
    // HAProxy in front.
    let front = addr(stable_port(&mut next)?);
    let socket = work.join("haproxy.sock");
    let cfg = work.join("haproxy.cfg");
    std::fs::write(&cfg, haproxy_config(front.port(), &socket, &instances))
        .map_err(|e| e.to_string())?;
    let check = Command::new(haproxy)
        .args(["-c", "-q", "-f"])
        .arg(&cfg)
        .output()
        .map_err(|e| format!("cannot run haproxy -c: {e}"))?;
    if !check.status.success() {
        return Err(format!(
            "haproxy -c refused the configuration: {}",
            String::from_utf8_lossy(&check.stderr)
        ));
    }
    let haproxy_log = std::fs::File::create(work.join("haproxy.log")).map_err(|e| e.to_string())?;
    let _haproxy = Process(
        Command::new(haproxy)
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(haproxy_log)
            .spawn()
            .map_err(|e| format!("cannot start haproxy: {e}"))?,
    );
    ready(front, "haproxy").await?;
    // HAProxy binds the frontend before it renames the stats socket into place.
    let mut api = Err(String::new());
    for _ in 0..100 {
        api = runtime_api(&socket, "show info").await;
        if api.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    api.map_err(|e| format!("HAProxy's runtime API did not come up: {e}"))?;
    for i in &instances {
        wait_status(&socket, &i.name, "UP").await?;
    }
    eprintln!(
        "scale-out: {INSTANCES} corsica serve up behind HAProxy on {front} (round robin, /healthz checked every 200 ms)"
    );

    // Traffic: wrk and the checker, for the whole run.
    let wrk_child = tokio::process::Command::new(wrk)
        .args([
            "-t1",
            "-c",
            WRK_CONNECTIONS,
            "-d",
            "300s",
            "--latency",
            "-H",
        ])
        .arg("Origin: https://app.example.com")
        .arg(format!("http://{front}/"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start wrk: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Mutex::new(Counts::default()));
    let checkers: Vec<_> = (0..CHECKERS)
        .map(|n| {
            tokio::spawn(checker(
                front,
                n,
                stop.clone(),
                done.clone(),
                counts.clone(),
            ))
        })
        .collect();
    let snapshot = |counts: &Mutex<Counts>| {
        let c = counts.lock().unwrap_or_else(|e| e.into_inner());
        (c.old, c.new, c.mixed, c.failed)
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (old, new, mixed, failed) = snapshot(&counts);
    eprintln!(
        "scale-out: phase 1 baseline: checker {old} old, {new} new, {mixed} mixed, {failed} failed"
    );

    // Phase 2: the new policy, one instance at a time.
    let probes = probes();
    for i in &instances {
        let started = Instant::now();
        replace(&i.file, &config(i.listen.port(), i.admin.port(), true))?;
        signal(i.pid()?, libc::SIGHUP)?;
        // The instance itself, asked directly, answers the new policy to every probe.
        'wait: loop {
            if started.elapsed() > Duration::from_secs(10) {
                return Err(format!(
                    "{} still answers the old policy after 10 s",
                    i.name
                ));
            }
            for p in &probes {
                if classify(p, send(i.listen, &p.raw).await) != Class::New {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue 'wait;
                }
            }
            break;
        }
        let took = started.elapsed();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (old, new, mixed, failed) = snapshot(&counts);
        eprintln!(
            "scale-out: phase 2 reload: {} answers the new policy {} ms after SIGHUP; checker so far {old} old, {new} new, {mixed} mixed, {failed} failed",
            i.name,
            took.as_millis()
        );
    }
    done.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (after_old, after_new) = {
        let c = counts.lock().unwrap_or_else(|e| e.into_inner());
        (c.after_old, c.after_new)
    };
    // What Prometheus scrapes: each instance's `/metrics`.
    for i in &instances {
        let h = send(i.admin, &request("GET", "localhost", "/metrics", "", &[])).await?;
        if h.status != 200
            || !h
                .all("content-type")
                .iter()
                .any(|t| t.starts_with("text/plain"))
        {
            return Err(format!(
                "{}'s /metrics answered {} {:?}",
                i.name,
                h.status,
                h.all("content-type")
            ));
        }
    }
    eprintln!(
        "scale-out: phase 3 after the last reload: checker {after_new} new, {after_old} old; /metrics answers on each admin listener"
    );

    // Phase 4: rolling restart, each instance drained in HAProxy first.
    for i in &mut instances {
        let started = Instant::now();
        let name = i.name.clone();
        let key = format!("corsica/{name}");
        runtime_api(&socket, &format!("set server {key} state drain")).await?;
        // Its sessions end (SIGTERM would let them finish anyway, within the grace).
        for _ in 0..250 {
            if stat(&socket, &key, "scur").await? == "0" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        i.stop().await?;
        i.start(corsica)?;
        i.ready().await?;
        // Checked healthy while still drained, then back in the rotation.
        wait_status(&socket, &name, "DRAIN").await?;
        runtime_api(&socket, &format!("set server {key} state ready")).await?;
        wait_status(&socket, &name, "UP").await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (old, new, mixed, failed) = snapshot(&counts);
        eprintln!(
            "scale-out: phase 4 rolling restart: {name} drained, stopped, started and back UP in {} ms; checker so far {old} old, {new} new, {mixed} mixed, {failed} failed",
            started.elapsed().as_millis()
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The end: wrk's report (SIGINT makes it print), the checker's counts, HAProxy's.
    stop.store(true, Ordering::SeqCst);
    for c in checkers {
        let _ = c.await;
    }
    if let Some(pid) = wrk_child.id().and_then(|p| i32::try_from(p).ok()) {
        signal(pid, libc::SIGINT)?;
    }
    let out = tokio::time::timeout(Duration::from_secs(10), wrk_child.wait_with_output())
        .await
        .map_err(|_| "wrk did not stop on SIGINT".to_owned())?
        .map_err(|e| e.to_string())?;
    let wrk_report = parse_wrk(&String::from_utf8_lossy(&out.stdout))?;
    if verbose {
        eprintln!("{}", wrk_report.text);
    }
    let all = stats(&socket).await?;
    let get = |key: &str, field: &str| {
        all.get(key)
            .and_then(|r| r.get(field))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (h5xx, retries, redispatches) = (
        get("api/FRONTEND", "hrsp_5xx"),
        get("corsica/BACKEND", "wretr"),
        get("corsica/BACKEND", "wredis"),
    );
    let c = counts.lock().unwrap_or_else(|e| e.into_inner());
    let checked = c.old + c.new + c.mixed + c.failed;
    eprintln!(
        "scale-out: wrk {} requests, {} non-2xx, {} socket errors; checker {checked} requests: {} old, {} new, {} mixed, {} failed; HAProxy {h5xx} 5xx answers, {retries} retries, {redispatches} redispatches",
        wrk_report.requests,
        wrk_report.non_2xx,
        wrk_report.socket_errors,
        c.old,
        c.new,
        c.mixed,
        c.failed
    );
    for e in &c.examples {
        println!("FAILED {e}");
    }
    let mut problems = Vec::new();
    if c.old == 0 {
        problems.push("the checker never saw the old policy (baseline)".to_owned());
    }
    if c.after_new < AFTER_MIN {
        problems.push(format!(
            "only {} answers after the last reload (want {AFTER_MIN})",
            c.after_new
        ));
    }
    if h5xx > 0 {
        problems.push(format!("HAProxy answered {h5xx} requests with 5xx"));
    }
    if wrk_report.requests == 0 {
        problems.push("wrk sent no request".to_owned());
    }
    for p in &problems {
        println!("FAILED {p}");
    }
    Ok(Summary {
        wrk: wrk_report.requests,
        checker: checked,
        failed: wrk_report.non_2xx + wrk_report.socket_errors + c.failed as u64,
        mixed: c.mixed,
        old_after: c.after_old,
        problems: problems.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(status: u16, headers: &[(&str, &str)]) -> Head {
        Head {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn one_answer_tells_the_policy_and_a_mixture_is_neither() {
        let probes = probes();
        for p in &probes {
            // The two policies never answer a probe alike.
            assert!(!matches(&head(p.old.0, p.old.1), &p.new));
            assert_eq!(classify(p, Ok(head(p.old.0, p.old.1))), Class::Old);
            assert_eq!(classify(p, Ok(head(p.new.0, p.new.1))), Class::New);
        }
        // The preflight: the old policy's max-age with the new one's other headers.
        let preflight = &probes[1];
        let mut mixed: Vec<(&str, &str)> = preflight.new.1.to_vec();
        mixed.retain(|(n, _)| *n != "access-control-max-age");
        mixed.push(("access-control-max-age", "60"));
        assert!(matches!(
            classify(preflight, Ok(head(204, &mixed))),
            Class::Mixed(_)
        ));
        // An extra header of the other policy; an error status and no answer are failures.
        let mut extra: Vec<(&str, &str)> = probes[0].old.1.to_vec();
        extra.push(("access-control-allow-credentials", "true"));
        assert!(matches!(
            classify(&probes[0], Ok(head(200, &extra))),
            Class::Mixed(_)
        ));
        assert!(matches!(
            classify(&probes[0], Ok(head(502, probes[0].old.1))),
            Class::Failed(_)
        ));
        assert!(matches!(
            classify(&probes[0], Err("reset".into())),
            Class::Failed(_)
        ));
    }

    #[test]
    fn wrk_report_parsed() {
        let text = "Running 5s test @ http://127.0.0.1:1/\n  1 threads and 12 connections\n\
                    1234 requests in 5.00s, 1.00MB read\n  Socket errors: connect 1, read 2, write 0, timeout 3\n\
                    \x20 Non-2xx or 3xx responses: 7\nRequests/sec: 246.80\n";
        let w = parse_wrk(text).expect("parsed");
        assert_eq!((w.requests, w.non_2xx, w.socket_errors), (1234, 7, 6));
        let clean = parse_wrk("  99 requests in 1.00s, 1KB read\n").expect("parsed");
        assert_eq!(
            (clean.requests, clean.non_2xx, clean.socket_errors),
            (99, 0, 0)
        );
        assert!(parse_wrk("unable to connect").is_err());
    }
}
