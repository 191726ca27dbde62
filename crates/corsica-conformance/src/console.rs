//! `--console`: the console's pages used end to end in headless Chromium, as a person
//! would use them, against a running `corsica serve`:
//!
//! - the playground: typed in field by field to reproduce a missing `X-API-Key` in
//!   `Access-Control-Allow-Headers`; the verdict, the preflight's reason, the highlighted
//!   header, the console message and the fix read from the page; the page's link opened
//!   in a new tab gives the same verdict (the case lives in the URL);
//! - the dashboard: a denied request sent through the gateway appears in the denials
//!   table without a reload (the page keeps a marker set before the request);
//! - a shadow policy that drops `DELETE`: requests it would deny are counted on the
//!   dashboard (and in `/metrics`) while the active policy still allows them.
//!
//! Screenshots of the three views are written to `target/console/`; `--bless` copies them
//! to `docs/console/`, where the README shows them. The last line is
//! `console: N views, D disagreements` (a disagreement: a check that failed).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::cdp::Browser;
use crate::driver::{Driver, wait_loaded};
use crate::process::{free_port, ready, serve};

/// The gateway the pages are served by: one route with a shadow policy that drops DELETE.
fn config(listen: u16, admin: u16) -> String {
    format!(
        r#"listen = "127.0.0.1:{listen}"
admin = "127.0.0.1:{admin}"

[[route]]
name = "orders"
path = "/orders"
upstream = "echo"

[route.cors]
origins = ["https://app.example.com"]
methods = ["GET", "POST", "PUT", "DELETE"]
headers = ["content-type"]

# The candidate: DELETE dropped. Reported, not enforced.
[route.cors_shadow]
origins = ["https://app.example.com"]
methods = ["GET", "POST", "PUT"]
headers = ["content-type"]
"#
    )
}

/// Sends one raw request to the gateway and returns the status line.
async fn send(addr: SocketAddr, raw: &str) -> Result<String, String> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.write_all(raw.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .map_err(|_| "no answer within 10 s".to_owned())?
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// One tab and what the test does in it.
struct Tab<'b> {
    browser: &'b Browser,
    session: String,
}

impl<'a> Tab<'a> {
    async fn open<'b>(browser: &'b Browser, url: &str, origin: &str) -> Result<Tab<'b>, String> {
        Tab::open_as(browser, url, origin, 1280, true).await
    }

    /// A tab `width` pixels wide (under 500: a phone), with or without page scripts.
    async fn open_as<'b>(
        browser: &'b Browser,
        url: &str,
        origin: &str,
        width: u32,
        scripts: bool,
    ) -> Result<Tab<'b>, String> {
        let (session, _events) = browser.new_tab().await?;
        browser
            .call(
                Some(&session),
                "Emulation.setDeviceMetricsOverride",
                json!({"width": width, "height": 1000, "deviceScaleFactor": 1, "mobile": width < 500}),
            )
            .await?;
        if !scripts {
            browser
                .call(
                    Some(&session),
                    "Emulation.setScriptExecutionDisabled",
                    json!({"value": true}),
                )
                .await?;
        }
        // Typing needs the page focused (a headless tab is not, unless told).
        browser
            .call(
                Some(&session),
                "Emulation.setFocusEmulationEnabled",
                json!({"enabled": true}),
            )
            .await?;
        browser
            .call(Some(&session), "Page.bringToFront", json!({}))
            .await?;
        browser
            .call(Some(&session), "Page.navigate", json!({ "url": url }))
            .await?;
        wait_loaded(browser, &session, url, origin).await?;
        Ok(Tab { browser, session })
    }

    async fn eval(&self, expression: &str) -> Result<Value, String> {
        self.browser.evaluate(&self.session, expression).await
    }

    /// Types `text` into the field `id` as a person would (focus, select all, insert).
    async fn type_into(&self, id: &str, text: &str) -> Result<(), String> {
        let found = self
            .eval(&format!(
                "(() => {{ const e = document.getElementById({}); if (!e) return false; e.focus(); e.select(); return true; }})()",
                json!(id)
            ))
            .await?;
        if found != json!(true) {
            return Err(format!("the playground has no field #{id}"));
        }
        self.browser
            .call(
                Some(&self.session),
                "Input.insertText",
                json!({ "text": text }),
            )
            .await?;
        Ok(())
    }

    /// Waits (10 s at most) until `expression` is true; its last value otherwise.
    async fn until(&self, what: &str, expression: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = self.eval(expression).await?;
            if v == json!(true) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("{what}: still false after 10 s: {expression}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of the element `selector`.
    async fn text(&self, selector: &str) -> Result<String, String> {
        let v = self
            .eval(&format!(
                "(document.querySelector({}) || {{}}).textContent || ''",
                json!(selector)
            ))
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// Saves a screenshot of the viewport as `path`.
    async fn screenshot(&self, path: &Path) -> Result<(), String> {
        let v = self
            .browser
            .call(
                Some(&self.session),
                "Page.captureScreenshot",
                json!({"format": "png"}),
            )
            .await?;
        let data = v["data"].as_str().ok_or("no screenshot data")?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| format!("screenshot: {e}"))?;
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// A check: prints it, and counts it as a disagreement when it failed.
fn check(failures: &mut usize, what: &str, result: Result<(), String>) {
    match result {
        Ok(()) => println!("ok: {what}"),
        Err(e) => {
            *failures += 1;
            println!("FAILED: {what}: {e}");
        }
    }
}

/// Runs the three views; returns (views, failed checks).
pub async fn run(bless: bool) -> Result<(usize, usize), String> {
    let binary = crate::cdp::chromium_path().ok_or("Chromium not found (set CHROMIUM)")?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let corsica = exe.with_file_name("corsica");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shots = root.join("target/console");
    std::fs::create_dir_all(&shots).map_err(|e| e.to_string())?;
    let (listen, admin) = (free_port()?, free_port()?);
    let work = std::env::temp_dir().join(format!("corsica-console-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let file = work.join("gateway.toml");
    std::fs::write(&file, config(listen, admin)).map_err(|e| e.to_string())?;
    let _serve = serve(&corsica, &file, Stdio::null())?;
    let gateway: SocketAddr = ([127, 0, 0, 1], listen).into();
    let console: SocketAddr = ([127, 0, 0, 1], admin).into();
    ready(gateway, "corsica serve").await?;
    ready(console, "the admin listener").await?;
    let base = format!("http://{console}");
    let browser = Browser::launch(&binary).await?;
    let mut failures = 0;

    // 1. The playground.
    let tab = Tab::open(&browser, &format!("{base}/_corsica/playground"), &base).await?;
    let filled = async {
        tab.type_into("origin", "https://app.example.com").await?;
        tab.type_into("url", "https://api.example.com/orders").await?;
        tab.type_into("headers", "X-API-Key: secret").await?;
        tab.type_into(
            "preflight",
            "HTTP/1.1 204 No Content\nAccess-Control-Allow-Origin: https://app.example.com\nAccess-Control-Allow-Methods: GET, POST\nAccess-Control-Allow-Headers: content-type",
        )
        .await?;
        tab.type_into(
            "response",
            "HTTP/1.1 200 OK\nAccess-Control-Allow-Origin: https://app.example.com",
        )
        .await?;
        tab.until(
            "the verdict",
            "(document.getElementById('verdict') || {}).textContent === 'Blocked by CORS' && (document.getElementById('console-message') || {textContent: ''}).textContent.includes('x-api-key')",
        )
        .await
    }
    .await;
    check(
        &mut failures,
        "playground: the case typed in, a verdict shown",
        filled,
    );
    let console_message = tab.text("#console-message").await?;
    check(
        &mut failures,
        "playground: the console message names x-api-key and Access-Control-Allow-Headers",
        if console_message.contains("Request header field x-api-key is not allowed by Access-Control-Allow-Headers in preflight response") {
            Ok(())
        } else {
            Err(format!("it reads {console_message:?}"))
        },
    );
    let why = tab.text("#preflight-why").await?;
    check(
        &mut failures,
        "playground: the preflight's reason is the header",
        if why.contains("x-api-key is not CORS-safelisted") {
            Ok(())
        } else {
            Err(format!("it reads {why:?}"))
        },
    );
    let culprit = tab.text(".headers li.culprit").await?;
    check(
        &mut failures,
        "playground: the failing response header is highlighted",
        if culprit.starts_with("Access-Control-Allow-Headers: content-type") {
            Ok(())
        } else {
            Err(format!("the highlighted line is {culprit:?}"))
        },
    );
    let fix = tab.text("#fix-corsica").await?;
    let nginx = tab.text("#fix-nginx").await?;
    check(
        &mut failures,
        "playground: the fix allows x-api-key (corsica and nginx lines)",
        if fix.contains("x-api-key") && nginx.contains("Access-Control-Allow-Headers") {
            Ok(())
        } else {
            Err(format!("corsica {fix:?}, nginx {nginx:?}"))
        },
    );
    tab.eval("document.activeElement.blur(); window.scrollTo(0, 0)")
        .await?;
    tab.screenshot(&shots.join("playground.png")).await?;
    let link = tab.eval("location.href").await?;
    let link = link.as_str().unwrap_or_default().to_owned();
    let reopened = async {
        if !link.contains("headers=X-API-Key") {
            return Err(format!("the link does not hold the case: {link}"));
        }
        let again = Tab::open(&browser, &link, &base).await?;
        again
            .until(
                "the verdict of the link",
                "(document.getElementById('verdict') || {}).textContent === 'Blocked by CORS' && document.getElementById('console-message').textContent.includes('x-api-key')",
            )
            .await
    }
    .await;
    check(
        &mut failures,
        "playground: its link reproduces the case",
        reopened,
    );

    // 2. The dashboard, live.
    let dash = Tab::open(&browser, &format!("{base}/_corsica/"), &base).await?;
    let live = async {
        dash.until(
            "the events stream",
            "document.getElementById('live').textContent.startsWith('Live')",
        )
        .await?;
        dash.eval("window.corsicaMarker = 'not reloaded'").await?;
        let status = send(
            gateway,
            "GET /orders/42 HTTP/1.1\r\nHost: api.example.com\r\nOrigin: https://evil.example\r\nConnection: close\r\n\r\n",
        )
        .await?;
        if !status.starts_with("HTTP/1.1 200") {
            return Err(format!("the gateway answered {status}"));
        }
        dash.until(
            "the denial on the dashboard",
            "[...document.querySelectorAll('#denials tbody tr')].some(r => r.textContent.includes('https://evil.example') && r.textContent.includes('GET /orders/42')) && window.corsicaMarker === 'not reloaded'",
        )
        .await
    }
    .await;
    check(
        &mut failures,
        "dashboard: a denied request appears without a reload",
        live,
    );

    // The dashboard without JavaScript: the server's tables hold the same denial.
    let plain = async {
        let t = Tab::open_as(&browser, &format!("{base}/_corsica/"), &base, 1280, false).await?;
        t.until(
            "the denial in the server-rendered table",
            "[...document.querySelectorAll('#denials tbody tr')].some(r => r.textContent.includes('https://evil.example'))",
        )
        .await
    }
    .await;
    check(
        &mut failures,
        "dashboard: its tables work without JavaScript",
        plain,
    );
    // On a phone, and for a keyboard or a screen reader.
    for page in ["/_corsica/", "/_corsica/playground"] {
        let fits = async {
            let t = Tab::open_as(&browser, &format!("{base}{page}"), &base, 390, true).await?;
            t.until(
                "the page within a phone's width",
                "document.documentElement.scrollWidth <= window.innerWidth + 1",
            )
            .await?;
            t.until(
                "labels, captions, landmarks",
                "[...document.querySelectorAll('input, select, textarea')].every(e => e.labels && e.labels.length > 0) \
                 && [...document.querySelectorAll('table')].every(t => t.caption && t.querySelector('th[scope]')) \
                 && !!document.querySelector('main#main') && !!document.querySelector('nav[aria-label]') \
                 && !!document.querySelector('a.skip[href=\"#main\"]')",
            )
            .await
        }
        .await;
        check(
            &mut failures,
            &format!("{page}: fits a phone; every control labelled, every table captioned"),
            fits,
        );
    }

    // 3. The shadow policy: DELETE allowed today, denied by the candidate.
    let shadow = async {
        for _ in 0..3 {
            let status = send(
                gateway,
                "OPTIONS /orders/7 HTTP/1.1\r\nHost: api.example.com\r\nOrigin: https://app.example.com\r\nAccess-Control-Request-Method: DELETE\r\nConnection: close\r\n\r\n",
            )
            .await?;
            if !status.starts_with("HTTP/1.1 204") {
                return Err(format!(
                    "the active policy should still allow DELETE: {status}"
                ));
            }
        }
        dash.until(
            "the would-be denials on the dashboard",
            "(document.getElementById('shadow-orders-would_deny') || {}).textContent === '3' && [...document.querySelectorAll('#shadow-samples tbody tr')].some(r => r.textContent.includes('would now deny') && r.textContent.includes('DELETE'))",
        )
        .await
    }
    .await;
    check(
        &mut failures,
        "shadow: the candidate's would-be denials are counted live",
        shadow,
    );
    dash.eval("document.getElementById('shadow-h').scrollIntoView()")
        .await?;
    dash.screenshot(&shots.join("shadow.png")).await?;
    dash.eval("window.scrollTo(0, 0)").await?;
    dash.screenshot(&shots.join("dashboard.png")).await?;
    browser.close().await;
    let _ = std::fs::remove_dir_all(&work);

    if bless {
        let docs = root.join("docs/console");
        std::fs::create_dir_all(&docs).map_err(|e| e.to_string())?;
        for name in ["playground.png", "dashboard.png", "shadow.png"] {
            std::fs::copy(shots.join(name), docs.join(name)).map_err(|e| format!("{name}: {e}"))?;
        }
        println!("blessed: docs/console/{{playground,dashboard,shadow}}.png");
    }
    println!("screenshots: {}", shots.display());
    Ok((3, failures))
}
