//! `cargo xtask deny`: the supply-chain check, `cargo deny check` with `deny.toml`.
//!
//! - Installs `cargo-deny` (`cargo install cargo-deny --locked`, a few minutes to compile)
//!   when `cargo deny` is missing.
//! - Licenses, bans and sources are always checked, and fail the task (and `cargo xtask
//!   test`): a license outside the allowed permissive list, a `*` version, a crate from
//!   anywhere but crates.io.
//! - Advisories need the RustSec database. `cargo deny fetch db` is given
//!   [`FETCH_TIMEOUT`]; when it cannot reach the database (a machine without access
//!   beyond the package registries), the other checks run alone and the task says
//!   plainly that advisories were skipped. The database is never vendored into the repo.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long `cargo deny fetch db` may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `cargo deny check` (see the module's documentation).
pub fn run() -> Result<(), String> {
    crate::common::ensure_cargo_tool("deny", "cargo-deny", " (a few minutes)")?;
    let advisories = fetch_db();
    // The workspace's manifest and deny.toml, whatever the directory xtask runs in.
    let root = crate::workspace_root();
    let manifest = root.join("Cargo.toml").to_string_lossy().into_owned();
    let config = root.join("deny.toml").to_string_lossy().into_owned();
    let mut args = vec![
        "deny",
        "--all-features",
        "--manifest-path",
        &manifest,
        "--config",
        &config,
        "check",
        "--hide-inclusion-graph",
    ];
    if !advisories {
        args.extend(["bans", "licenses", "sources"]);
    }
    crate::cargo(&args, &[]).map_err(|e| {
        format!("{e}: a dependency breaks the supply-chain rules of deny.toml (the lines above say which and why)")
    })?;
    if !advisories {
        println!(
            "cargo deny: advisories skipped: no RustSec advisory database reachable (offline)"
        );
    }
    Ok(())
}

/// `cargo deny fetch db` within [`FETCH_TIMEOUT`]: whether the advisory database is there.
fn fetch_db() -> bool {
    eprintln!("xtask: cargo deny fetch db (the RustSec advisory database)");
    let Ok(mut child) = Command::new("cargo")
        .args(["deny", "fetch", "db"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if started.elapsed() < FETCH_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(200));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                eprintln!(
                    "xtask: cargo deny fetch db took over {}s; stopped",
                    FETCH_TIMEOUT.as_secs()
                );
                return false;
            }
        }
    }
}
