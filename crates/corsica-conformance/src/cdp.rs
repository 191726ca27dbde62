//! A small Chrome DevTools Protocol client: launches Debian's Chromium headless, connects to
//! its browser endpoint over a WebSocket, and multiplexes flat sessions (one per tab).
//!
//! Written here rather than taken from `chromiumoxide` because the suite needs six CDP
//! methods and three events; a full binding would dominate the build time on CI.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::driver::{Driver, find_binary, wait_loaded};
use crate::wire::{Routes, Wire};

/// A running Chromium and the connection to it.
pub struct Browser {
    child: Child,
    profile: PathBuf,
    wire: Wire,
    sessions: Routes,
    /// The browser's version string.
    pub version: String,
}

/// Where Chromium is: `$CHROMIUM`, else `chromium` on the PATH (Debian's package).
pub fn chromium_path() -> Option<PathBuf> {
    find_binary("CHROMIUM", "chromium")
}

impl Browser {
    /// Starts Chromium headless with a fresh profile and connects.
    pub async fn launch(binary: &std::path::Path) -> Result<Browser, String> {
        Self::launch_with(binary, &[]).await
    }

    /// [`Browser::launch`] with extra command-line flags (e.g. `--host-resolver-rules`).
    pub async fn launch_with(
        binary: &std::path::Path,
        extra: &[String],
    ) -> Result<Browser, String> {
        let profile =
            std::env::temp_dir().join(format!("corsica-conformance-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        let mut command = Command::new(binary);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-port=0",
            ])
            .args(extra)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank");
        let (child, ws_url) = spawn_announcing(&mut command, true, |line| {
            line.strip_prefix("DevTools listening on ")
                .map(|url| url.trim().to_owned())
        })
        .await?;

        let sessions = Routes::default();
        let wire = Wire::connect(&ws_url, "DevTools", sessions.clone(), |v| {
            v.get("sessionId").and_then(Value::as_str)
        })
        .await?;
        let mut browser = Browser {
            child,
            profile,
            wire,
            sessions,
            version: String::new(),
        };
        let version = browser.call(None, "Browser.getVersion", json!({})).await?;
        browser.version = version
            .get("product")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned();
        Ok(browser)
    }

    /// Sends a command (to a session, or to the browser) and waits for its result.
    pub async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        self.wire.call(session, method, params).await
    }

    /// Opens a tab and attaches a flat session to it; returns the session id and its
    /// event stream.
    pub async fn new_tab(&self) -> Result<(String, mpsc::UnboundedReceiver<Value>), String> {
        let target = self
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await?;
        let target_id = string_field(&target, "targetId", "Target.createTarget")?;
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
            )
            .await?;
        let session = string_field(&attached, "sessionId", "Target.attachToTarget")?;
        let rx = self.sessions.open(&session)?;
        Ok((session, rx))
    }

    /// Opens a tab with the Network, Log, Page and Audits domains enabled, navigates it to
    /// `url` and waits until the page has loaded (`location.origin` is `origin`).
    pub async fn open_page(
        &self,
        url: &str,
        origin: &str,
    ) -> Result<(String, mpsc::UnboundedReceiver<Value>), String> {
        let (session, events) = self.new_tab().await?;
        for m in [
            "Network.enable",
            "Log.enable",
            "Page.enable",
            "Audits.enable",
        ] {
            self.call(Some(&session), m, json!({})).await?;
        }
        self.call(Some(&session), "Page.navigate", json!({ "url": url }))
            .await?;
        wait_loaded(self, &session, url, origin).await?;
        Ok((session, events))
    }

    /// Stops Chromium and removes its profile.
    pub async fn close(mut self) {
        let _ = self.call(None, "Browser.close", json!({})).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Driver for Browser {
    async fn evaluate(&self, page: &str, expression: &str) -> Result<Value, String> {
        let v = self
            .call(
                Some(page),
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )
            .await?;
        Ok(v["result"]["value"].clone())
    }
}

/// Starts `command` (killed when dropped) with its stderr (else its stdout) piped and
/// reads it line by line until `announce` finds what the process announces (within 30 s);
/// the rest of the stream is drained so the process never blocks on a full pipe.
pub async fn spawn_announcing<T>(
    command: &mut Command,
    from_stderr: bool,
    announce: impl Fn(&str) -> Option<T>,
) -> Result<(Child, T), String> {
    let program = command
        .as_std()
        .get_program()
        .to_string_lossy()
        .into_owned();
    let (out, err) = if from_stderr {
        (Stdio::null(), Stdio::piped())
    } else {
        (Stdio::piped(), Stdio::null())
    };
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let stream: Box<dyn tokio::io::AsyncRead + Unpin + Send> = match from_stderr {
        true => Box::new(child.stderr.take().ok_or("no stderr")?),
        false => Box::new(child.stdout.take().ok_or("no stdout")?),
    };
    let mut lines = BufReader::new(stream).lines();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(v) = announce(&line) {
                return Some(v);
            }
        }
        None
    })
    .await
    .map_err(|_| format!("{program} did not announce itself within 30 s"))?
    .ok_or_else(|| format!("{program} exited before announcing itself"))?;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, found))
}

/// A string field of a CDP result, or an error naming the method that did not give it.
fn string_field(result: &Value, field: &str, method: &str) -> Result<String, String> {
    result
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("{method} gave no {field}"))
}
