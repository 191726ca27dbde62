//! Project automation: `cargo xtask <task>`.
//!
//! - `test`: everything CI checks, in order: formatting, clippy (`-D warnings`), docs
//!   without warnings, then every test of the workspace in one cargo invocation.
//! - `bench`: the engine's criterion benchmarks.
//! - `fuzz-build`: builds the cargo-fuzz targets (needs the nightly toolchain and cargo-fuzz).

use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let result = match task {
        "test" => test(),
        "bench" => bench(&args[1..]),
        "fuzz-build" => fuzz_build(),
        "help" | "-h" | "--help" => {
            println!("usage: cargo xtask <test | bench [criterion args] | fuzz-build>");
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
    cargo(&["test", "--workspace", "--all-features"], &[])?;
    eprintln!("xtask: all checks passed");
    Ok(())
}

fn bench(extra: &[String]) -> Result<(), String> {
    let mut args = vec![
        "bench",
        "-p",
        "corsica",
        "--all-features",
        "--bench",
        "decide",
        "--",
    ];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args, &[])
}

fn fuzz_build() -> Result<(), String> {
    let started = Instant::now();
    let status = Command::new("cargo")
        .args(["+nightly", "fuzz", "build", "--fuzz-dir", "fuzz"])
        .status()
        .map_err(|e| {
            format!("cannot run cargo fuzz: {e} (install it with `cargo install cargo-fuzz`)")
        })?;
    eprintln!("xtask: done in {:.1}s", started.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo +nightly fuzz build` failed ({status})"))
    }
}
