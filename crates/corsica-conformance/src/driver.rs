//! What the suite asks of a browser, whichever protocol drives it: Chromium over the
//! DevTools protocol ([`crate::cdp::Browser`]) or Firefox over WebDriver BiDi
//! ([`crate::bidi::Firefox`]). Each driver also reads its browser's verdicts from its own
//! events (Chromium's network events, Firefox's console); that part is the driver's own.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running browser that pages can be evaluated in.
pub trait Driver: Sync {
    /// Evaluates `expression` in `page` (a tab's session or browsing context), awaiting a
    /// promise, and returns its value as JSON.
    fn evaluate(
        &self,
        page: &str,
        expression: &str,
    ) -> impl Future<Output = Result<Value, String>> + Send;
}

/// Polls `page` until it has loaded `url` (`document.readyState` is `complete` and
/// `location.origin` is `origin`), within 30 s.
pub async fn wait_loaded(
    driver: &impl Driver,
    page: &str,
    url: &str,
    origin: &str,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = driver
            .evaluate(page, "document.readyState + ' ' + location.origin")
            .await?;
        let state = v.as_str().unwrap_or_default().to_owned();
        if state == format!("complete {origin}") {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the page {url} did not load: {state}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A browser binary: the path in the environment variable `env`, else `name` on the PATH.
pub fn find_binary(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}
