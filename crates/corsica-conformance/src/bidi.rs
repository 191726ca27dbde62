//! A small WebDriver BiDi client: launches Debian's Firefox ESR headless with a fresh
//! profile, connects to its built-in BiDi endpoint over a WebSocket (no geckodriver), and
//! routes events to the browsing context (tab) they are about.
//!
//! Firefox gives a blocked `fetch()` no reason in its error object (a bare `TypeError`);
//! the reason is in the console (`log.entryAdded`), one text per request, naming its URL
//! (see [`crate::firefox_reasons`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::cdp::spawn_announcing;
use crate::driver::{Driver, find_binary, wait_loaded};
use crate::wire::{Routes, Wire};

/// Where Firefox is: `$FIREFOX`, else `firefox-esr` on the PATH (Debian's package).
pub fn firefox_path() -> Option<PathBuf> {
    find_binary("FIREFOX", "firefox-esr")
}

/// Preferences written to the fresh profile's `user.js`: no first-run pages, no update or
/// telemetry traffic, no default-browser question. (Firefox adds its own recommended
/// preferences for remote control on top.)
const USER_JS: &str = r#"user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.startup.page", 0);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.disabledForTesting", true);
user_pref("app.normandy.enabled", false);
user_pref("browser.safebrowsing.update.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
"#;

/// A profile directory made for one run, removed when dropped.
struct Profile(PathBuf);

impl Profile {
    fn create() -> Result<Profile, String> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "corsica-firefox-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("user.js"), USER_JS))
            .map_err(|e| format!("cannot create the Firefox profile {}: {e}", dir.display()))?;
        Ok(Profile(dir))
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The Firefox process, leading a process group of its own; dropping it kills the whole
/// group (the content processes too) and waits a moment for the parent to go.
struct Process {
    child: Child,
    /// The process group Firefox leads (its pid).
    group: Option<u32>,
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(pid) = self.group {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(std::process::Stdio::null())
                .status();
        }
        let _ = self.child.start_kill();
        let deadline = Instant::now() + Duration::from_secs(3);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A running Firefox and the BiDi session with it. Dropping it kills Firefox (its whole
/// process group) and then removes the profile, on every exit path: the guards are taken
/// as soon as each exists, so a launch that fails half-way cleans up too.
pub struct Firefox {
    wire: Wire,
    contexts: Routes,
    /// Dropped before the profile (fields drop in order).
    process: Process,
    /// Held for its `Drop`: removed after Firefox is killed.
    _profile: Profile,
    /// The browser's name and version (`firefox 153.8.0`).
    pub version: String,
}

impl Firefox {
    /// Starts Firefox headless with a fresh profile, waits for its BiDi endpoint (30 s at
    /// most), opens a session and subscribes to the console.
    pub async fn launch(binary: &Path) -> Result<Firefox, String> {
        let profile = Profile::create()?;
        let mut command = Command::new(binary);
        command
            .args(["--headless", "--no-remote", "--profile"])
            .arg(&profile.0)
            // Port 0: Firefox picks a free port and announces it.
            .args(["--remote-debugging-port", "0"])
            .env("MOZ_CRASHREPORTER_DISABLE", "1")
            .process_group(0);
        let (child, url) = spawn_announcing(&mut command, true, |line| {
            line.find("WebDriver BiDi listening on ")
                .map(|i| line[i + "WebDriver BiDi listening on ".len()..].trim().to_owned())
        })
        .await
        .map_err(|e| {
            format!(
                "Firefox's WebDriver BiDi endpoint did not come up ({e}): check that `{} --headless --remote-debugging-port 0` starts and prints `WebDriver BiDi listening on ws://…` on stderr (install Debian's package with `apt-get install firefox-esr`, or set FIREFOX to a Firefox binary with WebDriver BiDi, version 129 or later)",
                binary.display()
            )
        })?;
        let process = Process {
            group: child.id(),
            child,
        };
        let contexts = Routes::default();
        // Console entries name their context in `source`, other events at the top.
        let wire = Wire::connect(
            &format!("{url}/session"),
            "WebDriver BiDi",
            contexts.clone(),
            |v| {
                let p = &v["params"];
                p["source"]["context"]
                    .as_str()
                    .or_else(|| p["context"].as_str())
            },
        )
        .await?;
        let mut firefox = Firefox {
            wire,
            contexts,
            process,
            _profile: profile,
            version: String::new(),
        };
        let session = firefox
            .call("session.new", json!({"capabilities": {}}))
            .await?;
        let caps = &session["capabilities"];
        firefox.version = format!(
            "{} {}",
            caps["browserName"].as_str().unwrap_or("firefox"),
            caps["browserVersion"]
                .as_str()
                .unwrap_or("(unknown version)")
        );
        firefox
            .call("session.subscribe", json!({"events": ["log.entryAdded"]}))
            .await?;
        Ok(firefox)
    }

    /// Sends a command and waits for its result.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        self.wire.call(None, method, params).await
    }

    /// Opens a tab, navigates it to `url` and waits until the page has loaded
    /// (`location.origin` is `origin`); returns the browsing context and its events.
    pub async fn open_page(
        &self,
        url: &str,
        origin: &str,
    ) -> Result<(String, mpsc::UnboundedReceiver<Value>), String> {
        let created = self
            .call("browsingContext.create", json!({"type": "tab"}))
            .await?;
        let context = created["context"]
            .as_str()
            .ok_or("browsingContext.create gave no context")?
            .to_owned();
        let rx = self.contexts.open(&context)?;
        self.call(
            "browsingContext.navigate",
            json!({"context": context, "url": url, "wait": "complete"}),
        )
        .await?;
        wait_loaded(self, &context, url, origin).await?;
        Ok((context, rx))
    }

    /// Ends the session (`browser.close`), gives Firefox 5 s to exit, then kills what is
    /// left; the profile is removed when `self` drops.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            self.call("browser.close", json!({})),
        )
        .await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.process.child.wait()).await;
    }
}

impl Driver for Firefox {
    /// The value travels as a JSON string (BiDi's own serialization of objects is a tree
    /// of typed remote values).
    async fn evaluate(&self, page: &str, expression: &str) -> Result<Value, String> {
        let v = self
            .call(
                "script.evaluate",
                json!({
                    "expression": format!("(async () => JSON.stringify(await ({expression})))()"),
                    "target": {"context": page},
                    "awaitPromise": true,
                    "resultOwnership": "none",
                }),
            )
            .await?;
        if v["type"] == "exception" {
            return Err(format!(
                "script.evaluate threw: {}",
                v["exceptionDetails"]["text"]
                    .as_str()
                    .unwrap_or("(no text)")
            ));
        }
        match v["result"]["value"].as_str() {
            Some(text) => serde_json::from_str(text)
                .map_err(|e| format!("script.evaluate gave no JSON ({e}): {text:.200}")),
            None => Ok(Value::Null),
        }
    }
}
