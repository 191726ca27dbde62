//! The cases where trying web-platform-tests' requests showed `corsica check` and the
//! browser parting ways (issue "The browsers' own CORS tests"), each run through the
//! `corsica check` binary itself (its `-H` parsing and its HTTP client included) against
//! the scenario server, and compared with what the real browser did on the same
//! scenario: allowed or not, the error kind, the failed parameter, and for a network
//! error Chromium's `net::ERR_*` code.

use std::path::Path;
use std::process::Command;

use corsica::fetch::{Browser, Credentials};
use serde_json::Value;

use crate::Observed;
use crate::scenario::{Origins, Scenario};

/// (what the case is, the WPT scenario that shows it).
pub(crate) const CASES: [(&str, &str); 8] = [
    (
        "Content-Type ending in a vertical tab",
        "wpt/cors-cors-safelisted-request-header/content-type-9",
    ),
    (
        "Content-Type ending in a form feed",
        "wpt/cors-cors-safelisted-request-header/content-type-10",
    ),
    (
        "a request header value with \\x01 \\x02",
        "wpt/cors-cors-safelisted-request-header/content-type-4",
    ),
    (
        "a request header value that is \\x01",
        "wpt/cors-preflight-not-cors-safelisted/Need-CORS-preflight-for-accept-language-header",
    ),
    (
        "a NUL byte in a response header",
        "wpt/cors-origin/disallow-15",
    ),
    (
        "a preflight answered 300 with a Location",
        "wpt/cors-preflight-failure/status-300",
    ),
    (
        "a preflight answered 407",
        "wpt/cors-preflight-failure/status-407",
    ),
    (
        "several request headers missing from Access-Control-Allow-Headers",
        "wpt/cors-preflight/CORS-GET-several-headers-server-refuses",
    ),
];

/// Runs `corsica check --browser <browser>` on each case the run holds and compares it with
/// the browser's result; prints one line per case and returns the disagreements.
pub(crate) fn run(browser: Browser, judged: &[(Scenario, Observed)], origins: &Origins) -> usize {
    let Ok(exe) = std::env::current_exe() else {
        println!("DISAGREE (six cases): cannot find the corsica binary");
        return 1;
    };
    let corsica = exe.with_file_name("corsica");
    let mut disagreements = 0;
    for (label, name) in CASES {
        let Some((s, seen)) = judged.iter().find(|(s, _)| s.name == name) else {
            continue;
        };
        match check(&corsica, browser, s, origins) {
            Ok(got) => {
                let problems = differences(browser, seen, &got);
                if problems.is_empty() {
                    println!(
                        "case ({}) {label}: corsica check agrees: {}",
                        browser.as_str(),
                        crate::describe(seen)
                    );
                } else {
                    disagreements += 1;
                    println!(
                        "DISAGREE (corsica check, {}) {label} #{} {name}",
                        browser.as_str(),
                        s.id
                    );
                    println!("  {}: {}", browser.as_str(), crate::describe(seen));
                    for p in problems {
                        println!("  - {p}");
                    }
                }
            }
            Err(e) => {
                disagreements += 1;
                println!(
                    "DISAGREE (corsica check, {}) {label}: {e}",
                    browser.as_str()
                );
            }
        }
    }
    disagreements
}

/// `corsica check --format json` on the scenario's `fetch()`.
fn check(
    corsica: &Path,
    browser: Browser,
    s: &Scenario,
    origins: &Origins,
) -> Result<Value, String> {
    let mut cmd = Command::new(corsica);
    cmd.arg("check")
        .arg(s.url(origins, 0))
        .args(["--origin", &origins.app])
        .args(["-X", &s.method])
        .args(["--browser", browser.as_str()])
        .args(["--format", "json"])
        .args([
            "--credentials",
            match s.credentials {
                Credentials::Omit => "omit",
                Credentials::SameOrigin => "same-origin",
                Credentials::Include => "include",
            },
        ]);
    for (n, v) in &s.headers {
        cmd.arg("-H").arg(format!("{n}: {v}"));
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", corsica.display()))?;
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "corsica check printed no JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

/// Where `corsica check`'s JSON departs from what the browser did.
fn differences(browser: Browser, seen: &Observed, got: &Value) -> Vec<String> {
    let verdict = got["verdict"].as_str().unwrap_or("");
    let kind = got["error"]["kind"].as_str().unwrap_or("");
    let parameter = got["error"]["parameter"].as_str().unwrap_or("");
    let message = got["message"].as_str().unwrap_or("");
    let mut out = Vec::new();
    match seen {
        Observed::Allowed { status, .. } => {
            if verdict != "allowed" {
                out.push(format!("check: {verdict} {kind} ({message})"));
            } else if got["status"].as_u64() != Some(u64::from(*status)) {
                out.push(format!("check: status {}", got["status"]));
            }
        }
        Observed::Cors {
            kind: k,
            parameter: p,
            ..
        } => {
            // A failure the browser reports with a CORS text (Firefox's
            // `CORSDidNotSucceed`) is `failed` with that kind in the check.
            if !matches!(verdict, "blocked" | "failed") || kind != k || parameter != p {
                out.push(format!("check: {verdict} {kind} ({parameter}) {message}"));
            }
        }
        Observed::Failed { error } => {
            if verdict != "failed" {
                out.push(format!("check: {verdict} {kind} ({parameter})"));
            }
            // Chromium names its network error: the check must name the same one.
            let code = error
                .split_whitespace()
                .find(|w| w.starts_with("net::ERR_"));
            if let Some(code) = code.filter(|_| browser == Browser::Chromium)
                && !message.contains(code)
            {
                out.push(format!("check says `{message}`, Chromium `{code}`"));
            }
        }
    }
    out
}
