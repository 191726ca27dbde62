//! What the tasks share: Debian packages and cargo subcommands installed when missing, the processes
//! they start (killed with every descendant when dropped), the release `corsica` binary
//! with a configuration, `/proc` readings (CPU ticks, RSS, open descriptors), wrk's output,
//! and the README's generated blocks.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The text between `<!-- NAME -->\n` and `<!-- /NAME -->` in `text` (`NAME`: `bench:gateway`,
/// `soak`...).
pub fn block<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<!-- {name} -->\n");
    let close = format!("<!-- /{name} -->");
    let start = text.find(&open)? + open.len();
    let len = text[start..].find(&close)?;
    Some(&text[start..start + len])
}

/// `text` with the block `name` replaced by `content`; `None` when `text` has no such block.
pub fn replace_block(text: &str, name: &str, content: &str) -> Option<String> {
    let open = format!("<!-- {name} -->\n");
    let close = format!("<!-- /{name} -->");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&close)?;
    Some(format!("{}{}{}", &text[..start], content, &text[end..]))
}

/// One wrk run's numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct WrkResult {
    pub requests: u64,
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// Non-2xx/3xx answers plus socket errors.
    pub errors: u64,
}

/// A process started by the harness: killed (with every descendant) when dropped.
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub stderr: PathBuf,
}

impl Proc {
    /// Starts `cmd`, its stderr to `dir/NAME.stderr` and its stdout to `dir/NAME.stdout`.
    pub fn spawn(name: &str, mut cmd: Command, dir: &Path) -> Result<Self, String> {
        let file = |ext: &str| {
            let path = dir.join(format!("{}.{ext}", name.replace(' ', "-")));
            std::fs::File::create(&path)
                .map(|f| (f, path.clone()))
                .map_err(|e| format!("cannot create {}: {e}", path.display()))
        };
        let (err, stderr) = file("stderr")?;
        let (out, _) = file("stdout")?;
        let child = cmd
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {name} ({cmd:?}): {e}"))?;
        Ok(Proc {
            name: name.to_owned(),
            child,
            stderr,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails with the process's stderr when it has exited.
    pub fn check_alive(&mut self) -> Result<(), String> {
        if let Ok(Some(status)) = self.child.try_wait() {
            let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
            return Err(format!(
                "{} exited ({status}); its stderr:\n{}",
                self.name,
                tail(&err, 30)
            ));
        }
        Ok(())
    }

    /// Waits until 127.0.0.1:`port` accepts connections (up to 15 s).
    pub fn wait_listening(&mut self, port: u16) -> Result<(), String> {
        let started = Instant::now();
        loop {
            self.check_alive()?;
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(15) {
                let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
                return Err(format!(
                    "{} does not accept connections on 127.0.0.1:{port} after 15 s (is the port taken?); its stderr:\n{}",
                    self.name,
                    tail(&err, 30)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let descendants = descendants(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !descendants.is_empty() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(descendants.iter().map(u32::to_string))
                .stderr(Stdio::null())
                .status();
        }
    }
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Every process whose parent chain leads to `pid` (not `pid` itself).
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(stat) = read_stat(p) {
                parents.push((p, stat.ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(p, pp) in &parents {
            if pp == parent && !out.contains(&p) {
                out.push(p);
                frontier.push(p);
            }
        }
    }
    out
}

/// The fields of `/proc/PID/stat` the harness reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub ppid: u32,
    /// utime + stime, in clock ticks.
    pub ticks: u64,
}

pub fn read_stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses `/proc/PID/stat`: fields after the `comm` in parentheses (which may hold spaces);
/// ppid is field 4, utime and stime fields 14 and 15.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state).
    let ppid = f.get(1)?.parse().ok()?;
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(Stat {
        ppid,
        ticks: utime + stime,
    })
}

/// CPU ticks of `pid` and all its descendants.
pub fn tree_ticks(pid: u32) -> u64 {
    std::iter::once(pid)
        .chain(descendants(pid))
        .filter_map(read_stat)
        .map(|s| s.ticks)
        .sum()
}

/// VmRSS (KiB) of `pid` and all its descendants.
pub fn tree_rss_kib(pid: u32) -> u64 {
    std::iter::once(pid)
        .chain(descendants(pid))
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| parse_vmrss(&s))
        .sum()
}

/// The `VmRSS:` line of `/proc/PID/status`, in KiB.
pub fn parse_vmrss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// The hard limit on open files (`/proc/self/limits`), which every process may raise its
/// soft limit to without privileges.
pub fn nofile_hard_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            let line = t.lines().find(|l| l.starts_with("Max open files"))?;
            let hard = line.split_whitespace().nth(4)?;
            Some(if hard == "unlimited" {
                1 << 20
            } else {
                hard.parse().ok()?
            })
        })
        .unwrap_or(1024)
}

/// A wrk latency such as `530.00us`, `1.20ms` or `2.01s`, in microseconds.
pub fn parse_duration_us(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e6)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60e6)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|v| v * scale)
}

/// Reads `wrk --latency`'s output: requests, req/s, p50, p99 and errors.
pub fn parse_wrk(out: &str) -> Option<WrkResult> {
    let mut requests = None;
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut errors = 0;
    for line in out.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        if line.contains(" requests in ") {
            requests = first.parse().ok();
        } else if first == "Requests/sec:" {
            rps = words.next().and_then(|v| v.parse().ok());
        } else if first == "50%" {
            p50 = words.next().and_then(parse_duration_us);
        } else if first == "99%" {
            p99 = words.next().and_then(parse_duration_us);
        } else if let Some(n) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += n.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(list) = line.strip_prefix("Socket errors:") {
            errors += list
                .split(',')
                .filter_map(|p| p.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    Some(WrkResult {
        requests: requests?,
        rps: rps?,
        p50_us: p50?,
        p99_us: p99?,
        errors,
    })
}

pub fn clk_tck() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

/// Installs the Debian packages whose binaries are missing (as root, with apt-get).
pub fn ensure_packages(needed: &[(&str, &str)]) -> Result<(), String> {
    let missing: Vec<&str> = needed
        .iter()
        .filter(|(binary, _)| {
            !crate::on_path(binary) && !Path::new("/usr/sbin").join(binary).is_file()
        })
        .map(|&(_, package)| package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !crate::is_root() {
        return Err(format!(
            "this task needs {}: install Debian's packages with `sudo apt-get update && sudo apt-get install {}`, then run again",
            missing.join(", "),
            missing.join(" ")
        ));
    }
    eprintln!(
        "xtask: {} missing; installing Debian's packages with apt-get",
        missing.join(", ")
    );
    crate::apt_get_install(&missing)
}

pub fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            s.lines().next().unwrap_or_default().trim().to_owned()
        })
        .unwrap_or_else(|e| format!("({program}: {e})"))
}

/// The median of `v` (the mean of the middle two for an even count).
pub fn median(v: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// `12345` → `12,345`.
pub fn fmt_int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Sends `req` on a new connection to 127.0.0.1:`port` and reads until the server closes
/// it (10 s at most between two reads).
pub fn exchange(port: u16, req: &str) -> Result<String, String> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    c.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    c.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// `prlimit --nofile=N:N -- program`: the program with its open-file limits at `n`.
pub fn with_nofile(n: u64, program: &Path) -> Command {
    let mut c = Command::new("prlimit");
    c.arg(format!("--nofile={n}:{n}")).arg("--").arg(program);
    c
}

/// `corsica serve --config CONFIG` on the command `c` (which runs the release binary),
/// logging at `warn` unless `RUST_LOG` says otherwise.
pub fn corsica_serve(mut c: Command, config: &Path) -> Command {
    c.args(["serve", "--config"]).arg(config);
    if std::env::var_os("RUST_LOG").is_none() {
        c.env("RUST_LOG", "warn");
    }
    c
}

/// Builds `corsica` and `corsica-bench` in release; returns the directory holding them.
pub fn build_release() -> Result<PathBuf, String> {
    crate::cargo(
        &[
            "build",
            "--release",
            "--quiet",
            "-p",
            "corsica-cli",
            "-p",
            "corsica-bench",
        ],
        &[],
    )?;
    Ok(crate::target_dir().join("release"))
}

/// Runs wrk (`prefix` before it, e.g. `taskset -c 1`) with `--latency` against `url`:
/// one thread, `connections`, `secs` seconds, the Lua `script` if any.
pub fn run_wrk(
    prefix: &[&str],
    url: &str,
    script: Option<&Path>,
    connections: u32,
    secs: u64,
) -> Result<WrkResult, String> {
    let (program, before) = match prefix.split_first() {
        Some((p, rest)) => (*p, rest),
        None => ("wrk", &[][..]),
    };
    let mut cmd = Command::new(program);
    cmd.args(before);
    if !prefix.is_empty() {
        cmd.arg("wrk");
    }
    cmd.args(["-t1", "--latency"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"));
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    let out = cmd
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "wrk failed ({}): {}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    parse_wrk(&stdout).ok_or_else(|| format!("cannot read wrk's output:\n{stdout}"))
}

/// Open file descriptors of `pid` (entries of `/proc/PID/fd`).
pub fn fd_count(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// Starts `corsica-bench idle` (`cmd` runs the binary) holding `count` keep-alive
/// connections to 127.0.0.1:`port`, one `GET` with `origin` answered on each; returns once
/// they are all open (the client holds them until the returned process is dropped).
/// `server` names the server in errors.
pub fn hold_idle(
    mut cmd: Command,
    port: u16,
    count: usize,
    origin: &str,
    dir: &Path,
    server: &str,
) -> Result<Proc, String> {
    cmd.args(["idle", "--port", &port.to_string()])
        .args(["--connections", &count.to_string()])
        .args(["--origin", origin])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let stderr = dir.join("idle.stderr");
    let file = std::fs::File::create(&stderr)
        .map_err(|e| format!("cannot create {}: {e}", stderr.display()))?;
    let child = cmd
        .stderr(file)
        .spawn()
        .map_err(|e| format!("cannot start the idle client: {e}"))?;
    let mut client = Proc {
        name: "the idle client".into(),
        child,
        stderr,
    };
    let stdout = client.child.stdout.take().expect("piped");
    // The client prints `ready N` once every connection got its answer; a server that
    // never answers must not hang the run.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(120)).map_err(|_| {
        format!("the idle client did not get answers on its {count} connections to {server} within 120 s")
    })?;
    if !line.starts_with("ready") {
        client.check_alive()?;
        return Err(format!(
            "the idle client did not open its connections to {server}: `{}`",
            line.trim()
        ));
    }
    Ok(client)
}

/// A whole nginx configuration for `cargo xtask TASK`: one worker in the foreground, its
/// files under `prefix`, `nofile` connections, no access log, long keep-alive, and `http`
/// (maps, upstreams, servers) inside the `http` block.
pub fn nginx_conf(task: &str, prefix: &Path, nofile: u64, http: &str) -> String {
    let p = prefix.display();
    format!(
        r#"# Written by `cargo xtask {task}`.
worker_processes 1;
daemon off;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
worker_rlimit_nofile {nofile};

events {{
    worker_connections {nofile};
}}

http {{
    access_log off;
    client_body_temp_path {p}/body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    keepalive_timeout 300s;
    keepalive_requests 1000000;

{http}}}
"#
    )
}

/// Installs `krate` with `cargo install KRATE --locked` unless `cargo SUBCOMMAND
/// --version` works; `note` is added to the announcement (e.g. how long it takes).
pub fn ensure_cargo_tool(subcommand: &str, krate: &str, note: &str) -> Result<(), String> {
    let present = Command::new("cargo")
        .args([subcommand, "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    eprintln!(
        "xtask: `cargo {subcommand}` is missing; installing it with `cargo install {krate} --locked`{note}"
    );
    let started = Instant::now();
    let status = Command::new("cargo")
        .args(["install", krate, "--locked"])
        .status()
        .map_err(|e| format!("cannot run cargo install: {e}"))?;
    if !status.success() {
        return Err(format!(
            "`cargo install {krate} --locked` failed ({status}); install it by hand and run again"
        ));
    }
    eprintln!(
        "xtask: {krate} installed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 3s test @ http://127.0.0.1:1/api/orders
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms  220.00us   5.00ms   90.00%
    Req/Sec    42.00k     1.00k   44.00k    80.00%
  Latency Distribution
     50%  530.00us
     75%    1.60ms
     90%    1.80ms
     99%    2.00s
  126000 requests in 3.00s, 12.34MB read
  Non-2xx or 3xx responses: 5
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:  41999.50
Transfer/sec:      4.11MB
";

    #[test]
    fn wrk_output_is_read() {
        let r = parse_wrk(WRK).unwrap();
        assert_eq!(r.requests, 126_000);
        assert_eq!(r.rps, 41_999.5);
        assert_eq!(r.p50_us, 530.0);
        assert_eq!(r.p99_us, 2_000_000.0);
        assert_eq!(r.errors, 8);
        assert!(parse_wrk("garbage").is_none());
        assert_eq!(parse_duration_us("1.20ms"), Some(1200.0));
    }

    #[test]
    fn proc_files_are_read() {
        let stat = "1234 (nginx: worker (x)) S 1200 1234 1234 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 1 0 100 1000 100";
        assert_eq!(
            parse_stat(stat),
            Some(Stat {
                ppid: 1200,
                ticks: 280
            })
        );
        assert_eq!(parse_vmrss("Name:\tx\nVmRSS:\t   12345 kB\n"), Some(12345));
    }

    #[test]
    fn medians_and_numbers() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(fmt_int(1234567), "1,234,567");
        assert_eq!(fmt_int(999), "999");
    }

    #[test]
    fn readme_blocks_are_replaced() {
        let text = "a\n<!-- bench:gateway -->\nold\n<!-- /bench:gateway -->\nb\n";
        assert_eq!(block(text, "bench:gateway"), Some("old\n"));
        let new = replace_block(text, "bench:gateway", "new\n").unwrap();
        assert_eq!(
            new,
            "a\n<!-- bench:gateway -->\nnew\n<!-- /bench:gateway -->\nb\n"
        );
        assert!(replace_block(text, "bench:layer", "x").is_none());
    }
}
