//! A small Chrome DevTools Protocol client: launches Debian's Chromium headless, connects to
//! its browser endpoint over a WebSocket, and multiplexes flat sessions (one per tab).
//!
//! Written here rather than taken from `chromiumoxide` because the suite needs six CDP
//! methods and three events; a full binding would dominate the build time on CI.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;
type Sessions = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Value>>>>;

/// A running Chromium and the connection to it.
pub struct Browser {
    child: Child,
    profile: PathBuf,
    out: mpsc::UnboundedSender<Message>,
    pending: Pending,
    sessions: Sessions,
    next_id: AtomicU64,
    /// The browser's version string.
    pub version: String,
}

/// Where Chromium is: `$CHROMIUM`, else `chromium` on the PATH (Debian's package).
pub fn chromium_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("chromium"))
            .find(|p| p.is_file())
    })
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

        let (ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
            .await
            .map_err(|e| format!("cannot connect to {ws_url}: {e}"))?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let sessions: Sessions = Arc::default();
        {
            let pending = pending.clone();
            let sessions = sessions.clone();
            tokio::spawn(async move {
                while let Some(Ok(msg)) = stream.next().await {
                    let Message::Text(text) = msg else { continue };
                    let Ok(v) = serde_json::from_str::<Value>(&text) else {
                        continue;
                    };
                    if let Some(id) = v.get("id").and_then(Value::as_u64) {
                        let tx = pending.lock().ok().and_then(|mut p| p.remove(&id));
                        if let Some(tx) = tx {
                            let result = match v.get("error") {
                                Some(e) => Err(e.to_string()),
                                None => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
                            };
                            let _ = tx.send(result);
                        }
                    } else if let Some(session) = v.get("sessionId").and_then(Value::as_str) {
                        if let Some(tx) = sessions.lock().ok().and_then(|s| s.get(session).cloned())
                        {
                            let _ = tx.send(v);
                        }
                    }
                }
            });
        }
        let mut browser = Browser {
            child,
            profile,
            out,
            pending,
            sessions,
            next_id: AtomicU64::new(1),
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
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = Value::String(s.to_owned());
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().map_err(|_| "poisoned")?.insert(id, tx);
        self.out
            .send(Message::Text(msg.to_string().into()))
            .map_err(|_| "the DevTools connection is closed".to_owned())?;
        match tokio::time::timeout(Duration::from_secs(60), rx).await {
            Ok(Ok(r)) => r.map_err(|e| format!("{method}: {e}")),
            Ok(Err(_)) => Err(format!("{method}: connection closed")),
            Err(_) => Err(format!("{method}: no answer within 60 s")),
        }
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
        let (tx, rx) = mpsc::unbounded_channel();
        self.sessions
            .lock()
            .map_err(|_| "poisoned")?
            .insert(session.clone(), tx);
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
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let v = self
                .call(
                    Some(&session),
                    "Runtime.evaluate",
                    json!({"expression": "document.readyState + ' ' + location.origin", "returnByValue": true}),
                )
                .await?;
            let state = v["result"]["value"].as_str().unwrap_or_default().to_owned();
            if state == format!("complete {origin}") {
                return Ok((session, events));
            }
            if std::time::Instant::now() > deadline {
                return Err(format!("the page {url} did not load: {state}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops Chromium and removes its profile.
    pub async fn close(mut self) {
        let _ = self.call(None, "Browser.close", json!({})).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.profile);
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
