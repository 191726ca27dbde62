//! `cargo xtask fuzz [--minutes N] [--runs N] [--target NAME] [--bless]`: runs the
//! cargo-fuzz targets of `fuzz/` and keeps `target/fuzz/report.md`.
//!
//! 1. Installs `cargo-fuzz` (`cargo install cargo-fuzz --locked`) when `cargo fuzz` is
//!    missing, and checks that a nightly toolchain is installed (it downloads none).
//! 2. Copies the workspace's `Cargo.lock` to `fuzz/Cargo.lock` (git-ignored), so the
//!    targets are built with the dependency versions the workspace is tested with, then
//!    builds with `cargo +nightly fuzz build --sanitizer none` into `target/fuzz/build`.
//!    No sanitizer: the crates are `#![forbid(unsafe_code)]`, and AddressSanitizer's
//!    instrumentation slows every execution; debug assertions and overflow checks stay on.
//! 3. Copies the committed seeds (`fuzz/seeds/<target>/`, small) into the working corpus
//!    `target/fuzz/corpus/<target>/`, which grows from run to run and is never committed.
//! 4. Runs each target (or `--target NAME`) for `--minutes N` (default 1; libFuzzer's
//!    `-max_total_time`) or `--runs N` executions, one after the other, never in parallel,
//!    with `-print_final_stats=1`, and reads the execution count and rate from libFuzzer's
//!    final `stat::number_of_executed_units` / `stat::average_exec_per_sec` lines (else
//!    its `Done N runs in S second(s)` line). Output goes to `target/fuzz/logs/<target>.log`.
//! 5. A crash (libFuzzer exits non-zero) fails the task with the artifact's path
//!    (`target/fuzz/artifacts/<target>/crash-…`) and the exact command that reproduces it.
//!    A fuzzer stopped with SIGINT (`kill -INT`, Ctrl-C) is no crash: its executions count.
//!
//! **The report** sums the executions of successive runs of the same target, so several
//! short runs add up to one total. Each target's total is kept under a key: an FNV-1a hash
//! of the target's source (`fuzz/fuzz_targets/<target>.rs`), `fuzz/Cargo.toml`, the git
//! tree of `crates/` at HEAD and any uncommitted change under `crates/`. When the key
//! changes (the fuzzed code or the target changed), that target's total starts again
//! from zero: the figures always describe the code as it is. The totals live in
//! `target/fuzz/state.tsv`; `report.md` is rendered from them after every run.
//!
//! `--bless` writes the report's table (target, what it fuzzes, executions, exec/s,
//! crashes) into README.md between `<!-- fuzz -->` and `<!-- /fuzz -->`. Without
//! `--minutes`/`--runs` it only writes what the report holds; with them it runs first.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use crate::common::fmt_int as thousands;
use crate::{target_dir, workspace_root};

/// Usage line.
pub const USAGE: &str = "fuzz [--minutes N | --runs N] [--target NAME] [--bless]";

/// Every target of `fuzz/Cargo.toml` and what it fuzzes (the report's second column).
pub const TARGETS: &[(&str, &str)] = &[
    (
        "origin_parse",
        "`Origin::from_header_bytes` (strict) and `Origin::parse` (lenient): canonical serializations, fixed points",
    ),
    (
        "pattern_parse",
        "`OriginEntry::parse` (origins, `*.domain` and `:*` patterns): the `Display` form round-trips",
    ),
    (
        "header_list",
        "`HeaderList::parse` (comma lists of `Access-Control-Request-Headers`): bounds, no empty or padded item",
    ),
    (
        "decide",
        "`Policy::decide` + `Decision::apply` on arbitrary request heads: ACAO exactly when allowed",
    ),
    (
        "config_toml",
        "the gateway's TOML configuration (`Config::parse`): errors inside the text, never a panic",
    ),
    (
        "har",
        "the doctor's HAR reader (`har::explain`) and its text/JSON renderings",
    ),
    (
        "gateway_request",
        "raw HTTP/1.1 client bytes through the gateway's hyper server and request path (routing, preflights, guard, echo, 502)",
    ),
];

/// The options of one invocation.
#[derive(Debug, Default, PartialEq)]
struct Options {
    minutes: Option<f64>,
    runs: Option<u64>,
    target: Option<String>,
    bless: bool,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value; usage: cargo xtask {USAGE}"))
        };
        match arg.as_str() {
            "--minutes" => {
                let v = value("--minutes")?;
                o.minutes = Some(
                    v.parse::<f64>()
                        .ok()
                        .filter(|m| m.is_finite() && *m > 0.0)
                        .ok_or_else(|| {
                            format!("--minutes {v}: expected a positive number of minutes")
                        })?,
                );
            }
            "--runs" => {
                let v = value("--runs")?;
                o.runs = Some(v.parse::<u64>().ok().filter(|r| *r > 0).ok_or_else(|| {
                    format!("--runs {v}: expected a positive number of executions")
                })?);
            }
            "--target" => {
                let v = value("--target")?;
                if !TARGETS.iter().any(|(t, _)| *t == v) {
                    return Err(format!(
                        "--target {v}: no such fuzz target; the targets are {}",
                        target_names().join(", ")
                    ));
                }
                o.target = Some(v);
            }
            "--bless" => o.bless = true,
            other => {
                return Err(format!(
                    "unknown option `{other}`; usage: cargo xtask {USAGE}"
                ));
            }
        }
    }
    Ok(o)
}

fn target_names() -> Vec<&'static str> {
    TARGETS.iter().map(|(t, _)| *t).collect()
}

/// `cargo xtask fuzz ...`.
pub fn run(args: &[String]) -> Result<(), String> {
    let options = parse_options(args)?;
    let only_bless = options.bless && options.minutes.is_none() && options.runs.is_none();
    if !only_bless {
        let targets: Vec<&str> = match &options.target {
            Some(t) => vec![t.as_str()],
            None => target_names(),
        };
        build(options.target.as_deref())?;
        let minutes = match (options.minutes, options.runs) {
            (None, None) => Some(1.0),
            (m, _) => m,
        };
        let mut failures = Vec::new();
        for target in targets {
            if let Err(e) = fuzz_one(target, minutes, options.runs) {
                failures.push(e);
            }
        }
        eprintln!(
            "xtask: fuzz report: {}",
            fuzz_dir().join("report.md").display()
        );
        if !failures.is_empty() {
            return Err(failures.join("\n"));
        }
    }
    if options.bless {
        bless()?;
    }
    Ok(())
}

/// `target/fuzz`.
fn fuzz_dir() -> PathBuf {
    target_dir().join("fuzz")
}

/// Installs cargo-fuzz when missing; checks for the nightly toolchain.
fn ensure_tools() -> Result<(), String> {
    crate::common::ensure_cargo_tool("fuzz", "cargo-fuzz", "")?;
    let toolchains = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .map_err(|e| format!("cannot run rustup (cargo-fuzz needs a nightly toolchain): {e}"))?;
    if !String::from_utf8_lossy(&toolchains.stdout)
        .lines()
        .any(|l| l.starts_with("nightly"))
    {
        return Err("no nightly toolchain is installed (cargo-fuzz needs one): install it with `rustup toolchain install nightly`, then run again".into());
    }
    Ok(())
}

/// Builds every target, or `only`.
pub fn build(only: Option<&str>) -> Result<(), String> {
    ensure_tools()?;
    let root = workspace_root();
    // The workspace's versions, so that the fuzzed code is the tested code (cargo adds what
    // only the fuzz crate needs).
    std::fs::copy(root.join("Cargo.lock"), root.join("fuzz/Cargo.lock"))
        .map_err(|e| format!("cannot copy Cargo.lock to fuzz/Cargo.lock: {e}"))?;
    let build_dir = fuzz_dir().join("build");
    let build_dir = build_dir.to_string_lossy();
    let mut args = vec![
        "+nightly",
        "fuzz",
        "build",
        "--fuzz-dir",
        "fuzz",
        "--sanitizer",
        "none",
        "--target-dir",
        &build_dir,
    ];
    args.extend(only);
    let started = Instant::now();
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = Command::new("cargo")
        .args(&args)
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
    eprintln!("xtask: done in {:.1}s", started.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

/// The built binary of `target` (`target/fuzz/build/<host triple>/release/<target>`).
fn binary(target: &str) -> Result<PathBuf, String> {
    let build = fuzz_dir().join("build");
    std::fs::read_dir(&build)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("release").join(target))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "no fuzz binary for {target} under {}: the build did not produce it",
                build.display()
            )
        })
}

/// Copies the seeds of `target` that the working corpus lacks; returns the corpus.
fn corpus(target: &str) -> Result<PathBuf, String> {
    let corpus = fuzz_dir().join("corpus").join(target);
    std::fs::create_dir_all(&corpus)
        .map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
    let seeds = workspace_root().join("fuzz/seeds").join(target);
    let entries = std::fs::read_dir(&seeds).map_err(|e| {
        format!(
            "cannot read the seeds of {target} in {} ({e}): every target needs a seed corpus there",
            seeds.display()
        )
    })?;
    for entry in entries.flatten() {
        let to = corpus.join(format!("seed-{}", entry.file_name().to_string_lossy()));
        if !to.exists() {
            std::fs::copy(entry.path(), &to)
                .map_err(|e| format!("cannot copy {}: {e}", entry.path().display()))?;
        }
    }
    Ok(corpus)
}

/// What libFuzzer's output says about a run.
#[derive(Debug, Default, PartialEq)]
struct RunStats {
    executions: u64,
    exec_per_sec: u64,
    /// The crash (or timeout, leak, out-of-memory) input libFuzzer wrote.
    artifact: Option<String>,
    /// libFuzzer was stopped by SIGINT (Ctrl-C, `kill -INT`): its executions count, and
    /// its exit code is no crash.
    interrupted: bool,
}

fn parse_stats(log: &str) -> RunStats {
    let mut stats = RunStats::default();
    let number = |s: &str| s.trim().parse::<u64>().ok();
    for line in log.lines() {
        if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
            stats.executions = number(v).unwrap_or(stats.executions);
        } else if let Some(v) = line.strip_prefix("stat::average_exec_per_sec:") {
            stats.exec_per_sec = number(v).unwrap_or(stats.exec_per_sec);
        } else if let Some(rest) = line.strip_prefix("Done ") {
            // `Done 344723 runs in 21 second(s)`, when the stats lines are missing.
            let words: Vec<&str> = rest.split_whitespace().collect();
            if let [runs, "runs", "in", secs, ..] = words[..] {
                if stats.executions == 0 {
                    stats.executions = number(runs).unwrap_or(0);
                }
                if stats.exec_per_sec == 0 {
                    stats.exec_per_sec = stats.executions / number(secs).unwrap_or(1).max(1);
                }
            }
        } else if line.contains("libFuzzer: run interrupted") {
            stats.interrupted = true;
        } else if let Some(i) = line.find("Test unit written to ") {
            stats.artifact = Some(line[i + "Test unit written to ".len()..].trim().to_owned());
        }
    }
    stats
}

/// Runs `target` once and adds the run to the report.
fn fuzz_one(target: &str, minutes: Option<f64>, runs: Option<u64>) -> Result<(), String> {
    let binary = binary(target)?;
    let corpus = corpus(target)?;
    let artifacts = fuzz_dir().join("artifacts").join(target);
    let logs = fuzz_dir().join("logs");
    for dir in [&artifacts, &logs] {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut args = vec![
        corpus.to_string_lossy().into_owned(),
        format!("-artifact_prefix={}/", artifacts.display()),
        "-print_final_stats=1".into(),
        // One input taking this long is a hang (the gateway harness gives up after 10 s).
        "-timeout=30".into(),
    ];
    if let Some(m) = minutes {
        args.push(format!(
            "-max_total_time={}",
            (m * 60.0).round().max(1.0) as u64
        ));
    }
    if let Some(r) = runs {
        args.push(format!("-runs={r}"));
    }
    let log_path = logs.join(format!("{target}.log"));
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let budget = match (minutes, runs) {
        (Some(m), Some(r)) => format!("{m} min or {r} executions"),
        (Some(m), None) => format!("{m} min"),
        (None, Some(r)) => format!("{r} executions"),
        (None, None) => "until stopped".into(),
    };
    eprintln!(
        "xtask: fuzzing {target} for {budget} (log: {})",
        log_path.display()
    );
    let started = Instant::now();
    let status = Command::new(&binary)
        .args(&args)
        .stdout(log)
        .stderr(log_err)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let stats = parse_stats(&text);
    let crashed = !status.success() && !stats.interrupted;
    record(target, &stats, seconds, crashed)?;
    eprintln!(
        "xtask: {target}: {} executions in {seconds:.0}s, {} exec/s{}",
        thousands(stats.executions),
        thousands(stats.exec_per_sec),
        if crashed {
            ", CRASHED"
        } else if stats.interrupted {
            " (interrupted)"
        } else {
            ""
        }
    );
    if crashed {
        let artifact = stats
            .artifact
            .unwrap_or_else(|| format!("(no artifact named in {})", log_path.display()));
        return Err(format!(
            "fuzz target {target} failed ({status}); the input is {artifact}\n  \
             reproduce: cargo +nightly fuzz run {target} --fuzz-dir fuzz --sanitizer none {artifact}\n  \
             (or: {} {artifact}); the log is {}",
            binary.display(),
            log_path.display()
        ));
    }
    Ok(())
}

/// One target's totals in `state.tsv`.
#[derive(Debug, Clone, PartialEq)]
struct Totals {
    key: String,
    executions: u64,
    seconds: f64,
    crashes: u64,
    runs: u64,
}

fn state_path() -> PathBuf {
    fuzz_dir().join("state.tsv")
}

fn load_state() -> BTreeMap<String, Totals> {
    let text = std::fs::read_to_string(state_path()).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let [target, key, executions, seconds, crashes, runs] = f[..] else {
                return None;
            };
            Some((
                target.to_owned(),
                Totals {
                    key: key.to_owned(),
                    executions: executions.parse().ok()?,
                    seconds: seconds.parse().ok()?,
                    crashes: crashes.parse().ok()?,
                    runs: runs.parse().ok()?,
                },
            ))
        })
        .collect()
}

/// Adds a run to `target`'s totals (starting over if its key changed) and rewrites the
/// state and the report.
fn record(target: &str, stats: &RunStats, seconds: f64, crashed: bool) -> Result<(), String> {
    let mut state = load_state();
    let key = source_key(target)?;
    let totals = state.entry(target.to_owned()).or_insert(Totals {
        key: key.clone(),
        executions: 0,
        seconds: 0.0,
        crashes: 0,
        runs: 0,
    });
    if totals.key != key {
        eprintln!(
            "xtask: {target}: the fuzzed sources changed since its last run; its total starts again"
        );
        *totals = Totals {
            key,
            executions: 0,
            seconds: 0.0,
            crashes: 0,
            runs: 0,
        };
    }
    totals.executions += stats.executions;
    totals.seconds += seconds;
    totals.crashes += u64::from(crashed);
    totals.runs += 1;
    let tsv: String = state
        .iter()
        .map(|(t, s)| {
            format!(
                "{t}\t{}\t{}\t{:.1}\t{}\t{}\n",
                s.key, s.executions, s.seconds, s.crashes, s.runs
            )
        })
        .collect();
    let report = render_report(&state, true);
    for (path, text) in [(state_path(), tsv), (fuzz_dir().join("report.md"), report)] {
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// FNV-1a, 64 bits: a hash that stays the same across Rust versions.
fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The key under which `target`'s executions add up (see the module's documentation).
fn source_key(target: &str) -> Result<String, String> {
    let root = workspace_root();
    let mut hash = 0xcbf2_9ce4_8422_2325;
    for file in [
        format!("fuzz/fuzz_targets/{target}.rs"),
        "fuzz/Cargo.toml".to_owned(),
    ] {
        let bytes =
            std::fs::read(root.join(&file)).map_err(|e| format!("cannot read {file}: {e}"))?;
        hash = fnv1a(hash, &bytes);
    }
    for args in [
        &["rev-parse", "HEAD:crates"][..],
        &["diff", "HEAD", "--", "crates"][..],
    ] {
        let out = Command::new("git")
            .args(args)
            .current_dir(&root)
            .output()
            .map_err(|e| format!("cannot run git (the report is keyed by the git tree): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`git {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        hash = fnv1a(hash, &out.stdout);
    }
    Ok(format!("{hash:016x}"))
}

/// The report: one row per target of [`TARGETS`] (those never run say so). `full` adds
/// the runs, time and key columns (the report file; the README gets the short table).
fn render_report(state: &BTreeMap<String, Totals>, full: bool) -> String {
    let mut out = String::new();
    if full {
        out.push_str("# Fuzzing report\n\nWritten by `cargo xtask fuzz`: executions summed over the runs since the fuzzed sources last changed (see xtask/src/fuzz.rs).\n\n");
        out.push_str("| Target | What it fuzzes | Executions | exec/s | Crashes | Runs | Time | Key |\n|---|---|--:|--:|--:|--:|--:|---|\n");
    } else {
        out.push_str(
            "| Target | What it fuzzes | Executions | exec/s | Crashes |\n|---|---|--:|--:|--:|\n",
        );
    }
    for (target, what) in TARGETS {
        let row = match state.get(*target) {
            Some(s) => {
                let rate = if s.seconds > 0.0 {
                    (s.executions as f64 / s.seconds) as u64
                } else {
                    0
                };
                let mut row = format!(
                    "| `{target}` | {what} | {} | {} | {} |",
                    thousands(s.executions),
                    thousands(rate),
                    s.crashes
                );
                if full {
                    row.push_str(&format!(
                        " {} | {:.1} min | `{}` |",
                        s.runs,
                        s.seconds / 60.0,
                        s.key
                    ));
                }
                row
            }
            None if full => format!("| `{target}` | {what} | not run | | | | | |"),
            None => format!("| `{target}` | {what} | not run | | |"),
        };
        out.push_str(&row);
        out.push('\n');
    }
    out
}

/// Writes the report's table into README.md between the fuzz markers.
fn bless() -> Result<(), String> {
    let state = load_state();
    if state.is_empty() {
        return Err(format!(
            "no fuzzing results in {}: run `cargo xtask fuzz` (with --minutes or --runs) first",
            state_path().display()
        ));
    }
    let table = render_report(&state, false);
    let crashes: u64 = state.values().map(|t| t.crashes).sum();
    let verdict = if crashes == 0 {
        "No target crashed."
    } else {
        "Each crash found is a regression test in its crate, fixed at its root."
    };
    let text = format!(
        "{table}\nlibFuzzer through `cargo xtask fuzz` (no sanitizer; debug assertions and overflow\n\
         checks on), one target at a time. Executions are summed over the runs since the fuzzed\n\
         sources last changed; exec/s is their average. {verdict}\n"
    );
    let readme = workspace_root().join("README.md");
    let old =
        std::fs::read_to_string(&readme).map_err(|e| format!("cannot read README.md: {e}"))?;
    let new = crate::common::replace_block(&old, "fuzz", &text).ok_or(
        "README.md lacks the markers `<!-- fuzz -->` and `<!-- /fuzz -->` around the fuzzing table: put them back where the table goes",
    )?;
    std::fs::write(&readme, new).map_err(|e| format!("cannot write README.md: {e}"))?;
    eprintln!("xtask: README.md: the fuzzing table is updated");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_of_the_fuzz_crate_is_described() {
        let manifest = std::fs::read_to_string(workspace_root().join("fuzz/Cargo.toml")).unwrap();
        let mut bins: Vec<&str> = manifest
            .lines()
            .filter_map(|l| l.strip_prefix("name = \""))
            .filter_map(|l| l.strip_suffix('"'))
            .filter(|n| *n != "corsica-fuzz")
            .collect();
        let mut known = target_names();
        bins.sort_unstable();
        known.sort_unstable();
        assert_eq!(bins, known, "fuzz/Cargo.toml's [[bin]]s and TARGETS differ");
        for t in known {
            assert!(
                workspace_root().join("fuzz/seeds").join(t).is_dir(),
                "no seeds for {t}"
            );
        }
    }

    #[test]
    fn libfuzzer_final_lines_are_read() {
        let log = "#2\tINITED cov: 10\nDone 344723 runs in 21 second(s)\nstat::number_of_executed_units: 344724\nstat::average_exec_per_sec:     16415\n";
        assert_eq!(
            parse_stats(log),
            RunStats {
                executions: 344_724,
                exec_per_sec: 16_415,
                artifact: None,
                interrupted: false,
            }
        );
        let stopped =
            "==7== libFuzzer: run interrupted; exiting\nstat::number_of_executed_units: 5\n";
        assert!(parse_stats(stopped).interrupted);
        assert_eq!(parse_stats(stopped).executions, 5);
        let old = "Done 100 runs in 4 second(s)\n";
        assert_eq!(parse_stats(old).executions, 100);
        assert_eq!(parse_stats(old).exec_per_sec, 25);
        let crash = "==1== ERROR: libFuzzer: deadly signal\nartifact_prefix='a/'; Test unit written to a/crash-12ab\n";
        assert_eq!(parse_stats(crash).artifact.as_deref(), Some("a/crash-12ab"));
    }

    #[test]
    fn options_are_checked() {
        let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(
            parse_options(&args("--minutes 2.5 --target har --bless")),
            Ok(Options {
                minutes: Some(2.5),
                runs: None,
                target: Some("har".into()),
                bless: true
            })
        );
        assert!(
            parse_options(&args("--target nope"))
                .unwrap_err()
                .contains("origin_parse")
        );
        assert!(parse_options(&args("--runs 0")).is_err());
        assert!(parse_options(&args("--minutes")).is_err());
    }
}
