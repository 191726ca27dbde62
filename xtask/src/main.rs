//! Project automation: `cargo xtask <task>`.
//!
//! - `test`: everything CI checks, in order: formatting, clippy (`-D warnings`), docs
//!   without warnings, every test of the workspace in one cargo invocation, `soak --short`,
//!   then the real-browser conformance suite against Chromium, Firefox and WebKit (installing
//!   Debian's `chromium`, `firefox-esr`, and `webkit2gtk-driver`, `xvfb`, `gir1.2-webkit2-4.1`,
//!   `python3-gi` when missing), then the README's situations end to end. The suites print
//!   `conformance chromium: N scenarios, D disagreements`, the same for `firefox` and
//!   `webkit`, then web-platform-tests' CORS tests in each (`conformance wpt chromium: N
//!   scenarios, D disagreements`, …), `situations: N end to end, D disagreements`, and
//!   each export against `corsica serve` in the real server (`export nginx: N configs, M
//!   requests, D differences`, then `caddy`, `haproxy`; installs `nginx`,
//!   `libnginx-mod-http-js`, `caddy`, `haproxy`), then three `corsica serve` behind HAProxy
//!   reloaded and restarted one by one under wrk (`scale-out: …, F failed, M mixed, …`;
//!   installs `haproxy` and `wrk`), then the console's pages in Chromium (`console: N
//!   views, D disagreements`).
//! - `scale-out`: that suite alone (`corsica-conformance --scale-out`).
//! - `conformance [args]`: the conformance suite alone (`--filter TEXT`, `--jobs N`, `--verbose`).
//!   `conformance -- --browser firefox|webkit` judges the model against Firefox or WebKit
//!   (WebKitGTK under Xvfb, over WebDriver classic) instead; `--wpt` runs the scenarios
//!   imported from web-platform-tests instead of the generated ones; with `--observe` it only
//!   records what the browser does in `target/conformance/{firefox,webkit}-observed.json`.
//! - `situations [--bless] [--verbose]`: the README's situations alone: the real
//!   `corsica serve`, real Chromium, `corsica check` and `explain` agreeing, and the README's
//!   blocks equal to the run's output (`--bless` rewrites them).
//! - `bench [--gateway-only | --layer-only] [--rounds N] [--duration SECS] [--bless]`: the
//!   engine's criterion benchmarks (the engine alone; the tower layer beside tower-http and
//!   actix-cors) and the gateway beside nginx, Caddy and a bare hyper server (installing
//!   Debian's `nginx`, `caddy` and `wrk` when missing; servers pinned to core 0, wrk to
//!   core 1); writes `target/bench/report.md`. `--bless` copies its tables into the README.
//!   The peers stay out of `test`. See [`mod@bench`].
//! - `soak [--short] [--only NAME[,NAME]] [--bless]`: the gateway under 10,000 held
//!   connections (HTTP/1.1 and h2), slow clients, broken upstreams, smuggling attempts,
//!   reloads under load and SIGTERM, with nginx beside it where the same test applies
//!   (installing Debian's `wrk`, `nghttp2-client`, `slowhttptest` and `nginx` when
//!   missing); each scenario prints one line and fails the task when its assertion does not
//!   hold. Writes `target/soak/report.md`; `--bless` copies its table into the README;
//!   `--short` (about two minutes) runs in `test`. See [`mod@soak`].
//! - `deny`: `cargo deny check` with the workspace's `deny.toml` (licenses, bans, sources
//!   must pass; advisories when the RustSec database is reachable), installing
//!   `cargo-deny --locked` when missing; also run by `test`, after the docs. See [`mod@deny`].
//! - `fuzz [--minutes N | --runs N] [--target NAME] [--bless]`: builds and runs the
//!   cargo-fuzz targets of `fuzz/` one after the other (installing cargo-fuzz when missing;
//!   the nightly toolchain must be installed), fails with the crash's input and the command
//!   reproducing it, and keeps `target/fuzz/report.md` (executions summed over runs);
//!   `--bless` copies its table into the README. `fuzz-build` only builds. See [`mod@fuzz`].

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

mod bench;
mod common;
mod deny;
mod fuzz;
mod soak;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let result = match task {
        "test" => test(),
        "conformance" => conformance(&args[1..]),
        "situations" => situations(&args[1..]),
        "scale-out" => scale_out(),
        "bench" => bench::run(&args[1..]),
        "soak" => soak::run(&args[1..]),
        "deny" => deny::run(),
        "fuzz" => fuzz::run(&args[1..]),
        "fuzz-build" => fuzz::build(None),
        "help" | "-h" | "--help" => {
            println!(
                "usage: cargo xtask <test | conformance [args] | situations [--bless] | scale-out | {} | {} | deny | {} | fuzz-build>",
                bench::USAGE,
                soak::USAGE,
                fuzz::USAGE
            );
            Ok(())
        }
        other => Err(format!("unknown task `{other}`; try `cargo xtask help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a cargo command, echoing it, failing with its description.
fn cargo(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let started = Instant::now();
    eprintln!("xtask: cargo {}", args.join(" "));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(args)
        .envs(env.iter().copied())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    eprintln!("xtask: done in {:.1}s", started.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

fn test() -> Result<(), String> {
    cargo(&["fmt", "--all", "--", "--check"], &[])?;
    cargo(
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    cargo(
        &["doc", "--workspace", "--no-deps", "--all-features"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    deny::run()?;
    cargo(&["test", "--workspace", "--all-features"], &[])?;
    eprintln!("xtask: unit, integration and doc tests passed");
    soak::run(&["--short".to_owned()])?;
    conformance(&[])?;
    conformance(&["--browser".to_owned(), "firefox".to_owned()])?;
    conformance(&["--browser".to_owned(), "webkit".to_owned()])?;
    // The browsers' own CORS tests (web-platform-tests), imported as scenarios.
    for browser in ["chromium", "firefox", "webkit"] {
        conformance(&[
            "--wpt".to_owned(),
            "--browser".to_owned(),
            browser.to_owned(),
        ])?;
    }
    situations(&[])?;
    // `corsica export TARGET` against `corsica serve`, in the real servers.
    for target in ["nginx", "caddy", "haproxy"] {
        suite(
            &format!("export {target}"),
            "configs",
            &["--export".to_owned(), target.to_owned()],
        )?;
    }
    scale_out()?;
    // The console's pages, used in Chromium.
    suite("console", "views", &["--console".to_owned()])
}

/// Three `corsica serve` behind HAProxy, reloaded and restarted one by one under wrk.
fn scale_out() -> Result<(), String> {
    suite("scale-out", "requests", &["--scale-out".to_owned()])
}

/// Installs Debian's `chromium` when it is missing (as root, with apt-get).
fn ensure_chromium() -> Result<(), String> {
    ensure_browser("Chromium", "CHROMIUM", "chromium", "chromium")
}

/// Installs Debian's `firefox-esr` when it is missing (as root, with apt-get): the browser
/// `--browser firefox --observe` drives over WebDriver BiDi (no geckodriver).
fn ensure_firefox() -> Result<(), String> {
    ensure_browser("Firefox", "FIREFOX", "firefox-esr", "firefox-esr")
}

/// The Debian packages `--browser webkit --observe` needs: WebKitWebDriver (which pulls
/// WebKitGTK), an X server for the GTK port, and what the suite's own shell
/// (`crates/corsica-conformance/webkit/wkshell.py`, PyGObject) imports.
const WEBKIT_PACKAGES: [&str; 4] = [
    "webkit2gtk-driver",
    "xvfb",
    "gir1.2-webkit2-4.1",
    "python3-gi",
];

/// Installs [`WEBKIT_PACKAGES`] that are missing (as root, with apt-get); names the fix
/// otherwise. `WEBKIT_WEBDRIVER` set means the caller brings its own WebKit.
fn ensure_webkit() -> Result<(), String> {
    if std::env::var_os("WEBKIT_WEBDRIVER").is_some() {
        return Ok(());
    }
    ensure_packages("the WebKit suite", &WEBKIT_PACKAGES)
}

/// Debian's nginx and its JavaScript module, which the nginx export needs.
const NGINX_PACKAGES: &[&str] = &["nginx", "libnginx-mod-http-js"];

/// HAProxy (the load balancer in front) and wrk (the traffic), which the scale-out test
/// needs.
const SCALE_OUT_PACKAGES: &[&str] = &["haproxy", "wrk"];

/// Installs the Debian `packages` that are missing (as root, with apt-get); `what` needs
/// them.
fn ensure_packages(what: &str, packages: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        return Err(format!(
            "{what} needs Debian's {}: install them with `sudo apt-get update && sudo apt-get install {}`, then run again",
            missing.join(", "),
            missing.join(" ")
        ));
    }
    eprintln!(
        "xtask: {} missing; installing Debian's packages with apt-get",
        missing.join(", ")
    );
    apt_get_install(&missing)?;
    match missing.iter().find(|p| !dpkg_installed(p)) {
        None => Ok(()),
        Some(p) => Err(format!("apt-get did not install {p}")),
    }
}

/// Whether dpkg has the package `name` installed.
fn dpkg_installed(name: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", name])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).ends_with(" installed"))
        .unwrap_or(false)
}

/// Installs the Debian package `package` when neither `$env` nor `binary` on the PATH is
/// there (as root, with apt-get); names the fix otherwise.
fn ensure_browser(name: &str, env: &str, binary: &str, package: &str) -> Result<(), String> {
    if std::env::var_os(env).is_some() || on_path(binary) {
        return Ok(());
    }
    if !is_root() {
        return Err(format!(
            "the conformance suite needs {name}: install Debian's package with `sudo apt-get update && sudo apt-get install {package}` (or set {env} to a {name} binary), then run again"
        ));
    }
    eprintln!("xtask: {binary} is missing; installing Debian's package with apt-get");
    apt_get_install(&[package])?;
    if on_path(binary) {
        Ok(())
    } else {
        Err(format!(
            "apt-get installed {package} but `{binary}` is not on the PATH"
        ))
    }
}

/// Whether xtask runs as root (and may use apt-get).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `apt-get update && apt-get install -y PACKAGES`, non-interactive.
fn apt_get_install(packages: &[&str]) -> Result<(), String> {
    let mut install = vec!["install", "-y", "-qq"];
    install.extend_from_slice(packages);
    for args in [&["update", "-qq"][..], &install[..]] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("cannot run apt-get: {e}"))?;
        if !status.success() {
            return Err(format!("`apt-get {}` failed ({status})", args.join(" ")));
        }
    }
    Ok(())
}

/// The workspace's root directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// cargo's target directory (`CARGO_TARGET_DIR`, else the workspace's `target`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

fn on_path(binary: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(binary).is_file()))
        .unwrap_or(false)
}

/// Runs the conformance suite; its summary line is the last line printed
/// (`conformance chromium: …`, or `conformance firefox: …` / `conformance webkit: …` with
/// `--browser firefox|webkit`). With `--observe` it only records what Firefox or WebKit
/// does (summary lines `firefox-observe: …`, `webkit-observe: …`).
fn conformance(extra: &[String]) -> Result<(), String> {
    let firefox = extra
        .windows(2)
        .any(|w| w[0] == "--browser" && w[1] == "firefox");
    let observe = extra.iter().any(|a| a == "--observe");
    let webkit = extra
        .windows(2)
        .any(|w| w[0] == "--browser" && w[1] == "webkit");
    let wpt = if extra.iter().any(|a| a == "--wpt") {
        "wpt "
    } else {
        ""
    };
    let browser = if webkit {
        "webkit"
    } else if firefox {
        "firefox"
    } else {
        "chromium"
    };
    let name = match (observe, browser) {
        (true, "chromium") => format!("conformance {wpt}chromium"),
        (true, b) => format!("{b}-observe"),
        (false, b) => format!("conformance {wpt}{b}"),
    };
    suite(&name, "scenarios", extra)
}

/// Runs the README's situations with the `corsica` binary built beside the suite's.
fn situations(extra: &[String]) -> Result<(), String> {
    let mut args = vec!["--situations".to_owned()];
    args.extend(extra.iter().cloned());
    suite("situations", "end to end", &args)
}

/// Runs the conformance binary with `extra`; its summary line (`NAME: N WHAT, D
/// disagreements`) is the last line printed. The binary and `corsica` (which the
/// situations start) are built by one cargo invocation, so both suites share one build.
fn suite(name: &str, what: &str, extra: &[String]) -> Result<(), String> {
    if let Some(target) = name.strip_prefix("export ") {
        let packages: &[&str] = match target {
            "nginx" => NGINX_PACKAGES,
            "caddy" => &["caddy"],
            _ => &["haproxy"],
        };
        ensure_packages(&format!("the {target} export's equivalence test"), packages)?;
    } else if name == "scale-out" {
        ensure_packages("the scale-out test", SCALE_OUT_PACKAGES)?;
    } else if name.ends_with("firefox") || name == "firefox-observe" {
        ensure_firefox()?;
    } else if name.ends_with("webkit") || name == "webkit-observe" {
        ensure_webkit()?;
    } else {
        ensure_chromium()?;
    }
    cargo(
        &[
            "build",
            "--quiet",
            "-p",
            "corsica-conformance",
            "-p",
            "corsica-cli",
        ],
        &[],
    )?;
    let started = Instant::now();
    let output = Command::new(target_dir().join("debug/corsica-conformance"))
        .args(extra)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run the {name} suite: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines: Vec<&str> = stdout.lines().collect();
    let prefix = format!("{name}: ");
    let summary = lines
        .iter()
        .rposition(|l| l.starts_with(&prefix))
        .map(|i| lines.remove(i).to_owned());
    for l in &lines {
        println!("{l}");
    }
    eprintln!(
        "xtask: {name} suite done in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    match summary {
        Some(s) => println!("{s}"),
        None => println!("{name}: 0 {what}, 0 disagreements (the suite printed no summary)"),
    }
    if output.status.success() {
        Ok(())
    } else {
        // The summary line stays last: report the failure through the exit code only.
        std::process::exit(1)
    }
}
