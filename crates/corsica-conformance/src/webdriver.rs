//! A small WebDriver classic client for WebKitGTK: starts Xvfb (the GTK port has no
//! headless mode) and `WebKitWebDriver` on it, opens a session whose browser is our own
//! shell (`webkit/wkshell.py`: MiniBrowser's automation handling, but a persistent data
//! directory and console messages written to stderr), and runs scripts with
//! `execute/async`. WebKitGTK has no WebDriver BiDi, so the reasons come from the shell's
//! stderr, which the driver passes on: [`WebKit::console`] holds its lines.
//!
//! Every process started (Xvfb, the driver, and through it the shell and its
//! WebKitNetworkProcess and WebKitWebProcess) is killed when [`WebKit`] drops, on every
//! exit path, and reaped: this process becomes a child subreaper, so the shell's children
//! that outlive it come back to us rather than stay zombies under a PID 1 that does not
//! reap.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::cdp::spawn_announcing;
use crate::driver::{Driver, find_binary, wait_loaded};

/// The script timeout set for the session: a batch of fetches must finish within it.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// The shell: `$WKSHELL`, else `webkit/wkshell.py` of this crate (an absolute path, as
/// WebKitWebDriver needs).
pub fn shell_path() -> PathBuf {
    std::env::var_os("WKSHELL").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("webkit/wkshell.py"),
        PathBuf::from,
    )
}

/// `WebKitWebDriver` (`$WEBKIT_WEBDRIVER`, else on the PATH: Debian's `webkit2gtk-driver`).
pub fn driver_path() -> Option<PathBuf> {
    find_binary("WEBKIT_WEBDRIVER", "WebKitWebDriver")
}

/// A process leading a process group of its own. Dropping it kills the group and every
/// descendant found before, then reaps them all (3 s at most).
struct Process {
    child: Child,
    pid: Option<u32>,
}

impl Process {
    fn new(child: Child) -> Process {
        Process {
            pid: child.id(),
            child,
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let Some(pid) = self.pid else { return };
        // Its group and its descendants: the shell and its WebKit processes stay in the
        // driver's group, and those orphaned by the shell's end come back to us.
        let mut others = family(pid);
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(std::process::Stdio::null())
            .status();
        for d in &others {
            kill(*d);
        }
        let _ = self.child.start_kill();
        let deadline = Instant::now() + Duration::from_secs(3);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        loop {
            others.retain(|d| !gone(*d));
            if others.is_empty() || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The processes of `pid`'s process group and those descending from it (children, their
/// children…), from `/proc`; `pid` left out.
fn family(pid: u32) -> Vec<u32> {
    // (pid, ppid, pgid) of every process.
    let table: Vec<(u32, u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // `pid (comm) state ppid pgrp …`: comm may hold spaces, so read after its `)`.
            let mut rest = stat[stat.rfind(')')? + 1..].split_whitespace().skip(1);
            let ppid = rest.next()?.parse().ok()?;
            let pgid = rest.next()?.parse().ok()?;
            Some((p, ppid, pgid))
        })
        .collect();
    let mut found = vec![pid];
    found.extend(
        table
            .iter()
            .filter(|(p, _, g)| *g == pid && *p != pid)
            .map(|(p, _, _)| *p),
    );
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        for (p, _, _) in table.iter().filter(|(_, pp, _)| *pp == parent) {
            if !found.contains(p) {
                found.push(*p);
            }
        }
        i += 1;
    }
    found.remove(0);
    found
}

fn kill(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) with a pid and a signal number touches no memory of ours.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// Whether `pid` is gone: reaped now (it had come back to us), or no longer in `/proc`.
fn gone(pid: u32) -> bool {
    let Ok(id) = i32::try_from(pid) else {
        return true;
    };
    let mut status = 0;
    // SAFETY: waitpid(2) writes only the status integer we pass.
    let r = unsafe { libc::waitpid(id, &raw mut status, libc::WNOHANG) };
    r == id || !Path::new(&format!("/proc/{pid}")).exists()
}

/// Makes this process a child subreaper: orphans of its descendants become its children
/// (and are reaped by [`Process`]'s drop) instead of PID 1's.
fn become_subreaper() {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) takes no pointers.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// A directory for the shell's data directories (`WKSHELL_DATA_ROOT`), removed when
/// dropped (the driver SIGKILLs the shell, which cannot remove its own).
struct DataRoot(PathBuf);

impl DataRoot {
    fn create() -> Result<DataRoot, String> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "corsica-webkit-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(DataRoot(dir))
    }
}

impl Drop for DataRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Xvfb, WebKitWebDriver and a session with the shell. Fields drop in order: the driver
/// (and the browser under it) first, then Xvfb, then the data directory.
pub struct WebKit {
    port: u16,
    session: String,
    /// The shell's stderr (through the driver's), line by line, in order.
    console: Arc<Mutex<Vec<String>>>,
    driver: Process,
    _xvfb: Process,
    _data: DataRoot,
    /// `wkshell 2.50.6`: the session's browserName and browserVersion (WebKitGTK's).
    pub version: String,
}

impl WebKit {
    /// Starts Xvfb, the driver on a free port, and a session with the shell (60 s at most
    /// for each).
    pub async fn launch(driver: &Path, shell: &Path) -> Result<WebKit, String> {
        become_subreaper();
        let data = DataRoot::create()?;
        let mut xvfb = Command::new("Xvfb");
        xvfb.args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x1024x24",
            "-nolisten",
            "tcp",
        ])
        .process_group(0);
        let (child, display) =
            spawn_announcing(&mut xvfb, false, |line| line.trim().parse::<u32>().ok())
                .await
                .map_err(|e| {
                    format!(
                        "Xvfb did not start ({e}): install Debian's `xvfb` (apt-get install xvfb)"
                    )
                })?;
        let xvfb = Process::new(child);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("cannot find a free port: {e}"))?
            .port();
        let mut child = Command::new(driver)
            .arg(format!("--port={port}"))
            .env("DISPLAY", format!(":{display}"))
            .env("WKSHELL_DATA_ROOT", &data.0)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", driver.display()))?;
        let stderr = child.stderr.take();
        let driver_process = Process::new(child);
        let console: Arc<Mutex<Vec<String>>> = Arc::default();
        if let Some(stderr) = stderr {
            let console = console.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(mut c) = console.lock() {
                        c.push(line);
                    }
                }
            });
        }
        let mut webkit = WebKit {
            port,
            session: String::new(),
            console,
            driver: driver_process,
            _xvfb: xvfb,
            _data: data,
            version: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while webkit.request("GET", "/status", None).await.is_err() {
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not answer on port {port} within 60 s",
                    driver.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"webkitgtk:browserOptions": {
            "binary": shell, "args": ["--automation"]}}}});
        let created = tokio::time::timeout(
            Duration::from_secs(60),
            webkit.request("POST", "/session", Some(caps)),
        )
        .await
        .map_err(|_| {
            format!(
                "the WebKit session was not created within 60 s: check that `{}` runs (Debian's python3-gi and gir1.2-webkit2-4.1)",
                shell.display()
            )
        })??;
        webkit.session = created["sessionId"]
            .as_str()
            .ok_or("POST /session gave no sessionId")?
            .to_owned();
        let caps = &created["capabilities"];
        webkit.version = format!(
            "{} {}",
            caps["browserName"].as_str().unwrap_or("webkit"),
            caps["browserVersion"]
                .as_str()
                .unwrap_or("(unknown version)")
        );
        webkit
            .command(
                "timeouts",
                json!({"script": u64::try_from(SCRIPT_TIMEOUT.as_millis()).unwrap_or(u64::MAX)}),
            )
            .await?;
        Ok(webkit)
    }

    /// One HTTP request to the driver on a connection of its own; returns `value` of the
    /// answer, or the WebDriver error it holds.
    async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .map_err(|e| format!("cannot connect to the WebDriver: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("WebDriver handshake: {e}"))?;
        tokio::spawn(connection);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("127.0.0.1:{}", self.port))
            .header("content-type", "application/json; charset=utf-8")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?
            .to_bytes();
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{method} {path}: no JSON ({e})"))?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        match value.get("error").and_then(Value::as_str) {
            Some(e) => Err(format!(
                "{method} {path}: {e}: {}",
                value["message"].as_str().unwrap_or_default()
            )),
            None => Ok(value),
        }
    }

    /// `POST /session/{id}/{what}`.
    async fn command(&self, what: &str, body: Value) -> Result<Value, String> {
        let path = format!("/session/{}/{what}", self.session);
        self.request("POST", &path, Some(body)).await
    }

    /// Navigates the session's window to `url` and waits until it has loaded.
    pub async fn open_page(&self, url: &str, origin: &str) -> Result<(), String> {
        self.command("url", json!({"url": url})).await?;
        wait_loaded(self, "", url, origin).await
    }

    /// The console lines printed so far, from line `from` on.
    pub fn console_since(&self, from: usize) -> Vec<String> {
        self.console
            .lock()
            .map(|c| c.get(from..).map(<[String]>::to_vec).unwrap_or_default())
            .unwrap_or_default()
    }

    /// Ends the session (the driver SIGKILLs the shell); everything left is killed and
    /// reaped when `self` drops.
    pub async fn close(mut self) {
        let path = format!("/session/{}", self.session);
        let _ =
            tokio::time::timeout(Duration::from_secs(5), self.request("DELETE", &path, None)).await;
        let _ = self.driver.child.start_kill();
    }
}

impl Driver for WebKit {
    /// The value travels as a JSON string; `page` is unused (one window per session).
    async fn evaluate(&self, _page: &str, expression: &str) -> Result<Value, String> {
        let script = format!(
            "const done = arguments[arguments.length - 1]; \
             Promise.resolve().then(async () => JSON.stringify(await ({expression}))) \
             .then(done, e => done(JSON.stringify({{harness_error: String(e)}})));"
        );
        let v = self
            .command("execute/async", json!({"script": script, "args": []}))
            .await?;
        let text = v.as_str().unwrap_or("null");
        let value: Value = serde_json::from_str(text)
            .map_err(|e| format!("execute/async gave no JSON ({e}): {text:.200}"))?;
        match value.get("harness_error").and_then(Value::as_str) {
            Some(e) => Err(format!("the script threw: {e}")),
            None => Ok(value),
        }
    }
}
