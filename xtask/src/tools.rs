//! Cargo subcommands the tasks need, installed from crates.io when missing.

use std::process::{Command, Stdio};
use std::time::Instant;

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
