//! `corsica-conformance`: proves the browser model against real Chromium.
//!
//! Starts the scenario server on loopback, launches Debian's Chromium headless, runs every
//! generated scenario's `fetch()` in a page on `http://app.localhost:P1` over several tabs,
//! reads Chromium's verdict over the DevTools protocol (`Network.loadingFailed` →
//! `corsErrorStatus.corsError` and `.failedParameter`, the `cors` console message, or the
//! resolved response), and compares it with `corsica::fetch::simulate` on the same
//! responses. It also compares the requests Chromium sent (preflights, `Origin`,
//! `Access-Control-Request-Method`/`-Headers`) with the model's.
//!
//! Then `local_network.rs` runs the Local Network Access and non-HTTP(S) scenarios in a
//! Chromium of its own, whose address-space overrides make loopback ports `public` and
//! `local` (skipped with `--ids`; `--filter lna/` or `--filter scheme/` selects them).
//!
//! Usage: `corsica-conformance [--jobs N] [--filter TEXT] [--list] [--verbose]`.
//! The last line of output is always `conformance chromium: N scenarios, D disagreements`.
//!
//! `corsica-conformance --browser firefox [--batch N]` judges the model speaking for
//! Firefox against real Firefox instead (over WebDriver BiDi, see `firefox.rs`); its last
//! line is `conformance firefox: N scenarios, D disagreements`. With `--observe [--out
//! FILE]` it only records what Firefox did (`target/conformance/firefox-observed.json`)
//! beside the Chromium model (last line `firefox-observe: N scenarios, D differ from the
//! Chromium model`).
//!
//! `corsica-conformance --browser webkit --observe [--batch N] [--out FILE]` records what
//! WebKit (WebKitGTK under Xvfb, over WebDriver classic, see `webkit.rs`) did
//! (`target/conformance/webkit-observed.json`) beside the Chromium and Firefox models (last
//! line `webkit-observe: N scenarios, C differ from the Chromium model, F from the Firefox
//! model`).
//!
//! `corsica-conformance --situations [--bless]` runs the README's situations end to end
//! instead (see `situations.rs`); its last line is `situations: N end to end, D disagreements`.
//!
//! `corsica-conformance --scale-out` runs three `corsica serve` behind HAProxy and reloads
//! and restarts them one by one under traffic (see `scale_out.rs`); its last line is
//! `scale-out: 3 instances behind HAProxy, N requests (...), F failed, M mixed, ...`.

mod bidi;
mod browser_differences;
mod cdp;
mod console;
mod driver;
mod export_equivalence;
mod firefox;
mod firefox_reasons;
mod har;
mod header_order_scenarios;
mod judge;
mod local_network;
mod observe;
mod policy_scenarios;
mod process;
mod raw_bytes;
mod scale_out;
mod scenario;
mod server;
mod situations;
mod six_cases;
mod webdriver;
mod webkit;
mod webkit_reasons;
mod wire;
mod wpt;
mod wpt_import;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corsica::fetch::{Browser, HttpRequest, HttpResponse, NetworkError, ResponseType, Verdict};
use scenario::{Host, Origins, Scenario};
use serde_json::{Value, json};
use server::{Received, ScenarioServer};

/// What Chromium did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Observed {
    Allowed {
        status: u16,
        response_type: String,
        headers: Vec<String>,
    },
    Cors {
        kind: String,
        parameter: String,
        message: Option<String>,
    },
    Failed {
        error: String,
    },
}

struct Options {
    jobs: usize,
    filter: Option<String>,
    ids: Option<Vec<usize>>,
    list: bool,
    verbose: bool,
    record_har: Option<std::path::PathBuf>,
    situations: bool,
    bless: bool,
    /// `--browser firefox`: Firefox judges the model instead of Chromium.
    firefox: bool,
    /// `--browser firefox --observe`: the Firefox observation run.
    observe: bool,
    /// `--browser webkit --observe`: the WebKit observation run.
    webkit: bool,
    batch: usize,
    out: Option<std::path::PathBuf>,
    /// `--wpt-import DIR`: rewrite `wpt/scenarios.jsonl` from the WPT files under DIR.
    wpt_import: Option<std::path::PathBuf>,
    /// `--export TARGET`: the exported configuration against `corsica serve`.
    export: Option<String>,
    /// `--console`: the console's pages in Chromium.
    console: bool,
    /// `--scale-out`: `corsica serve` behind HAProxy, reloaded and restarted under traffic.
    scale_out: bool,
}

/// Prints a suite's summary line `NAME: TEXT` (the last line, which `cargo xtask`
/// reads) and gives its exit code: 0 when it passed, 1 when it ran and failed, 2 when it
/// could not run (then `NAME: EMPTY (not run: why)`).
fn summary(name: &str, empty: &str, result: Result<(String, bool), String>) -> ExitCode {
    match result {
        Ok((text, passed)) => {
            println!("{name}: {text}");
            if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("corsica-conformance: {name}: {e}");
            println!("{name}: {empty} (not run: {e})");
            ExitCode::from(2)
        }
    }
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        jobs: 6,
        filter: None,
        ids: None,
        list: false,
        verbose: false,
        record_har: None,
        situations: false,
        bless: false,
        firefox: false,
        observe: false,
        webkit: false,
        batch: 40,
        out: None,
        wpt_import: None,
        export: None,
        console: false,
        scale_out: false,
    };
    let mut browser = "chromium".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--jobs" | "-j" => {
                o.jobs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n: &usize| n > 0)
                    .ok_or("--jobs needs a positive number")?;
            }
            "--filter" => o.filter = Some(args.next().ok_or("--filter needs a text")?),
            "--list" => o.list = true,
            "--ids" => {
                let v = args
                    .next()
                    .ok_or("--ids needs a comma-separated list of scenario ids")?;
                o.ids = Some(
                    v.split(',')
                        .map(|x| {
                            x.trim()
                                .parse::<usize>()
                                .map_err(|_| format!("--ids: `{x}` is not a number"))
                        })
                        .collect::<Result<_, _>>()?,
                );
            }
            "--record-har" => {
                o.record_har = Some(args.next().ok_or("--record-har needs a file")?.into());
                o.jobs = 1;
            }
            "--verbose" | "-v" => o.verbose = true,
            "--situations" => o.situations = true,
            "--console" => o.console = true,
            "--bless" => o.bless = true,
            "--browser" => {
                browser = args
                    .next()
                    .ok_or("--browser needs chromium, firefox or webkit")?;
            }
            "--observe" => o.observe = true,
            "--batch" => {
                o.batch = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n: &usize| n > 0)
                    .ok_or("--batch needs a positive number")?;
            }
            "--out" => o.out = Some(args.next().ok_or("--out needs a file")?.into()),
            "--wpt" => WPT_RUN.store(true, Ordering::Relaxed),
            "--scale-out" => o.scale_out = true,
            "--export" => {
                o.export = Some(
                    args.next()
                        .ok_or("--export needs a target: nginx, caddy or haproxy")?,
                )
            }
            "--wpt-import" => {
                o.wpt_import = Some(
                    args.next()
                        .ok_or("--wpt-import needs a WPT checkout directory")?
                        .into(),
                );
            }
            // `cargo xtask conformance -- ARGS` passes the separator on.
            "--" => {}
            "--help" | "-h" => {
                println!(
                    "usage: corsica-conformance [--jobs N] [--filter TEXT] [--ids 1,2,3] [--list] [--verbose] [--record-har FILE] | --situations [--bless] [--verbose] | --browser firefox|webkit --observe [--filter TEXT] [--ids 1,2,3] [--batch N] [--out FILE] [--verbose] | --wpt [--browser chromium|firefox|webkit] [...] | --wpt-import WPT_DIR | --export nginx|caddy|haproxy | --console [--bless] | --scale-out [--verbose]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    match (browser.as_str(), o.observe) {
        ("chromium", false) => Ok(o),
        ("firefox", _) => {
            o.firefox = true;
            Ok(o)
        }
        ("webkit", _) => {
            o.webkit = true;
            Ok(o)
        }
        ("chromium", true) => Err(
            "--observe is for --browser firefox or webkit (it records what the browser does without judging)"
                .into(),
        ),
        (other, _) => Err(format!(
            "--browser: `{other}` is not chromium, firefox or webkit"
        )),
    }
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("corsica-conformance: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = &opts.wpt_import {
        return match wpt_import::run(dir) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("corsica-conformance: --wpt-import: {e}");
                ExitCode::from(2)
            }
        };
    }
    let situations = opts.situations;
    let observing = opts.observe;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("corsica-conformance: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    if opts.console {
        let result = runtime
            .block_on(console::run(opts.bless))
            .map(|(views, failures)| {
                (
                    format!("{views} views, {failures} disagreements"),
                    failures == 0,
                )
            });
        return summary("console", "0 views, 0 disagreements", result);
    }
    if let Some(target) = opts.export.clone() {
        let result = runtime
            .block_on(export_equivalence::run(&target, opts.verbose))
            .map(|(configs, requests, d)| {
                (
                    format!("{configs} configs, {requests} requests, {d} differences"),
                    d == 0,
                )
            });
        return summary(
            &format!("export {target}"),
            "0 configs, 0 requests, 0 differences",
            result,
        );
    }
    if opts.scale_out {
        let result = runtime.block_on(scale_out::run(opts.verbose)).map(|s| {
            (
                format!(
                    "{} instances behind HAProxy, {} requests (wrk {}, checker {}), {} failed, {} mixed, {} old after the last reload",
                    scale_out::INSTANCES,
                    s.wrk + s.checker as u64,
                    s.wrk,
                    s.checker,
                    s.failed,
                    s.mixed,
                    s.old_after
                ),
                s.passed(),
            )
        });
        return summary("scale-out", "0 requests, 0 failed", result);
    }
    if observing && opts.webkit {
        return webkit_main(&runtime, opts);
    }
    if observing {
        return observe_main(&runtime, opts);
    }
    let wpt = if wpt_run() { "wpt " } else { "" };
    let (name, what) = if situations {
        ("situations".to_owned(), "end to end")
    } else if opts.firefox {
        (format!("conformance {wpt}firefox"), "scenarios")
    } else if opts.webkit {
        (format!("conformance {wpt}webkit"), "scenarios")
    } else {
        (format!("conformance {wpt}chromium"), "scenarios")
    };
    let result = if opts.situations {
        runtime.block_on(situations::run(opts.bless, opts.verbose))
    } else if opts.firefox {
        let options = firefox::Options {
            filter: opts.filter,
            ids: opts.ids,
            batch: opts.batch,
            verbose: opts.verbose,
        };
        runtime.block_on(firefox::run(&options))
    } else if opts.webkit {
        runtime.block_on(webkit::judge(
            opts.filter.as_deref(),
            opts.ids.as_deref(),
            opts.batch,
            opts.verbose,
        ))
    } else {
        runtime.block_on(run(opts))
    };
    match result {
        Ok((n, d)) => {
            println!("{name}: {n} {what}, {d} disagreements");
            if d == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("corsica-conformance: {e}");
            println!("{name}: 0 {what}, 0 disagreements (not run: {e})");
            ExitCode::from(2)
        }
    }
}

/// The Firefox observation run: its last line is `firefox-observe: N scenarios, D differ
/// from the Chromium model`; differences are findings, not failures (exit 0).
fn observe_main(runtime: &tokio::runtime::Runtime, opts: Options) -> ExitCode {
    let out = opts.out.unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| "target".into(), std::path::PathBuf::from)
            .join("conformance/firefox-observed.json")
    });
    let options = observe::Options {
        filter: opts.filter,
        ids: opts.ids,
        batch: opts.batch,
        out,
        verbose: opts.verbose,
    };
    match runtime.block_on(observe::run(&options)) {
        Ok((n, d)) => {
            println!("firefox-observe: {n} scenarios, {d} differ from the Chromium model");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("corsica-conformance: {e}");
            println!(
                "firefox-observe: 0 scenarios, 0 differ from the Chromium model (not run: {e})"
            );
            ExitCode::from(2)
        }
    }
}

/// The WebKit observation run: its last line is `webkit-observe: N scenarios, C differ
/// from the Chromium model, F from the Firefox model`; differences are findings (exit 0).
fn webkit_main(runtime: &tokio::runtime::Runtime, opts: Options) -> ExitCode {
    let out = opts.out.unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| "target".into(), std::path::PathBuf::from)
            .join("conformance/webkit-observed.json")
    });
    let options = webkit::Options {
        filter: opts.filter,
        ids: opts.ids,
        batch: opts.batch,
        out,
        verbose: opts.verbose,
    };
    match runtime.block_on(webkit::run(&options)) {
        Ok((n, c, f)) => {
            println!(
                "webkit-observe: {n} scenarios, {c} differ from the Chromium model, {f} from the Firefox model"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("corsica-conformance: {e}");
            println!(
                "webkit-observe: 0 scenarios, 0 differ from the Chromium model, 0 from the Firefox model (not run: {e})"
            );
            ExitCode::from(2)
        }
    }
}

/// `--wpt`: the run judges the scenarios imported from web-platform-tests (and only them).
static WPT_RUN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this run judges the WPT scenarios (`--wpt`) rather than the generated ones.
pub(crate) fn wpt_run() -> bool {
    WPT_RUN.load(Ordering::Relaxed)
}

/// The scenarios of this run (WPT's with `--wpt`, the generated ones without) whose name
/// contains `filter` and whose id is in `ids` (each when given).
fn select(all: &[Scenario], filter: Option<&str>, ids: Option<&[usize]>) -> Vec<Scenario> {
    all.iter()
        .filter(|s| s.name.starts_with(wpt::PREFIX) == wpt_run())
        .filter(|s| filter.is_none_or(|f| s.name.contains(f)))
        .filter(|s| ids.is_none_or(|ids| ids.contains(&s.id)))
        .cloned()
        .collect()
}

async fn run(opts: Options) -> Result<(usize, usize), String> {
    let all = scenario::all();
    let selected = select(&all, opts.filter.as_deref(), opts.ids.as_deref());
    if opts.list {
        for s in &selected {
            println!("{:5} {}", s.id, s.name);
        }
        let lna: Vec<String> = local_network::names()
            .into_iter()
            .filter(|n| {
                !wpt_run()
                    && opts.ids.is_none()
                    && opts.filter.as_deref().is_none_or(|f| n.contains(f))
            })
            .collect();
        for n in &lna {
            println!("      {n}");
        }
        return Ok((selected.len() + lna.len(), 0));
    }
    let binary = cdp::chromium_path().ok_or(
        "Chromium not found: install Debian's `chromium` package (apt-get install chromium) or set CHROMIUM",
    )?;
    let scenarios = Arc::new(all);
    let server = ScenarioServer::start(scenarios.clone())
        .await
        .map_err(|e| format!("cannot start the scenario server: {e}"))?;
    let browser = Arc::new(cdp::Browser::launch(&binary).await?);
    eprintln!(
        "conformance: {} scenarios against {} ({} tabs); page {}, API {}",
        selected.len(),
        browser.version,
        opts.jobs,
        server.origins.app,
        server.origins.api
    );
    let started = Instant::now();
    let queue = Arc::new(selected);
    let next = Arc::new(AtomicUsize::new(0));
    type Results = Vec<(usize, Result<Observed, String>)>;
    let results: Arc<Mutex<Results>> = Arc::default();
    let recorded: Arc<Mutex<Vec<Value>>> = Arc::default();
    let record = opts.record_har.is_some();
    let mut workers = Vec::new();
    for _ in 0..opts.jobs.min(queue.len().max(1)) {
        let browser = browser.clone();
        let queue = queue.clone();
        let next = next.clone();
        let results = results.clone();
        let origins = server.origins.clone();
        let recorded = recorded.clone();
        workers.push(tokio::spawn(async move {
            let mut tab = match Tab::open(&browser, &origins).await {
                Ok(t) => t,
                Err(e) => return Err(e),
            };
            if record {
                tab.recorded = Some(Vec::new());
            }
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(s) = queue.get(i) else { break };
                let observed = tab.run(&browser, s, &origins).await;
                if let Ok(mut r) = results.lock() {
                    r.push((i, observed));
                }
            }
            // Let late events arrive, then hand the recording over.
            if record {
                tokio::time::sleep(Duration::from_millis(300)).await;
                tab.drain();
            }
            if let (Some(events), Ok(mut all)) = (tab.recorded.take(), recorded.lock()) {
                all.extend(events);
            }
            Ok(())
        }));
    }
    for w in workers {
        w.await
            .map_err(|e| format!("a tab worker panicked: {e}"))??;
    }
    let elapsed = started.elapsed();
    if let Some(path) = &opts.record_har {
        let events = recorded.lock().map_err(|_| "poisoned")?.clone();
        let ids: Vec<usize> = queue.iter().map(|s| s.id).collect();
        let doc = har::build(
            &events,
            &format!("{}/", server.origins.app),
            &browser.version,
            |url| scenario_of(url).is_some_and(|id| ids.contains(&id)),
        );
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("conformance: HAR recorded to {}", path.display());
    }
    if let Ok(b) = Arc::try_unwrap(browser) {
        b.close().await;
    }

    let mut results = results.lock().map_err(|_| "poisoned")?.clone();
    results.sort_by_key(|(i, _)| *i);
    let log = server.log.lock().map_err(|_| "poisoned")?.clone();
    let mut disagreements = 0usize;
    let mut messages_compared = 0usize;
    let mut kinds: HashMap<String, usize> = HashMap::new();
    for (i, observed) in &results {
        let s = &queue[*i];
        let model = simulate_scenario(s, &server.origins);
        let observed = match observed {
            Ok(o) => o.clone(),
            Err(e) => Observed::Failed {
                error: format!("harness error: {e}"),
            },
        };
        let key = match &observed {
            Observed::Allowed { .. } => "allowed".to_owned(),
            Observed::Cors { kind, .. } => kind.clone(),
            Observed::Failed { .. } => "failed (no CORS error)".to_owned(),
        };
        *kinds.entry(key).or_default() += 1;
        if matches!(
            &observed,
            Observed::Cors {
                message: Some(_),
                ..
            }
        ) {
            messages_compared += 1;
        }
        let mut problems = compare(&model.verdict, &observed, s, &server.origins);
        problems.extend(compare_requests(
            &model.steps,
            &log[s.id],
            s,
            &server.origins,
        ));
        if problems.is_empty() {
            if opts.verbose {
                println!("ok   #{} {}: {}", s.id, s.name, model.verdict);
            }
            continue;
        }
        disagreements += 1;
        println!("DISAGREE #{} {}", s.id, s.name);
        println!("  chromium: {}", describe(&observed));
        println!("  model:    {}", model.verdict);
        for p in problems {
            println!("  - {p}");
        }
    }
    // The doctor: `corsica check`'s live client against the same scenario server must
    // reach Chromium's verdict too.
    // Each scenario with what Chromium did, for the doctor's pass and the WPT checks.
    let judged: Arc<Vec<(Scenario, Observed)>> = Arc::new(
        results
            .iter()
            .map(|(i, o)| {
                let observed = o.clone().unwrap_or_else(|e| Observed::Failed {
                    error: format!("harness error: {e}"),
                });
                (queue[*i].clone(), observed)
            })
            .collect(),
    );
    let doctor_disagreements = {
        let (pairs, origins, verbose) = (judged.clone(), server.origins.clone(), opts.verbose);
        tokio::task::spawn_blocking(move || doctor_pass(&pairs, &origins, verbose))
            .await
            .map_err(|e| format!("the doctor pass panicked: {e}"))??
    };
    disagreements += doctor_disagreements;
    if wpt_run() {
        let (pairs, origins) = (judged.clone(), server.origins.clone());
        disagreements += tokio::task::spawn_blocking(move || {
            six_cases::run(Browser::Chromium, &pairs, &origins)
        })
        .await
        .map_err(|e| format!("the six cases panicked: {e}"))?;
        wpt::report(
            "chromium",
            judged.iter().map(|(s, seen)| {
                let received = log.get(s.id).cloned().unwrap_or_default();
                (s.clone(), seen.clone(), received)
            }),
            |v| server.origins.expand(v),
        );
    }
    // Local Network Access and non-HTTP(S) URLs, in a Chromium of their own (not with --ids).
    let (lna_run, lna_disagreements) = if wpt_run() || opts.ids.is_some() {
        (0, 0)
    } else {
        local_network::run(&binary, opts.filter.as_deref(), opts.verbose).await?
    };
    disagreements += lna_disagreements;
    let mut kinds: Vec<_> = kinds.into_iter().collect();
    kinds.sort();
    eprintln!(
        "conformance: ran in {:.1}s; {messages_compared} console messages compared; Chromium verdicts: {}",
        elapsed.as_secs_f64(),
        kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok((results.len() + lna_run, disagreements))
}

/// Runs every scenario again through `corsica check`'s live HTTP client and compares with
/// Chromium. Returns the number of disagreements.
fn doctor_pass(
    pairs: &[(Scenario, Observed)],
    origins: &Origins,
    verbose: bool,
) -> Result<usize, String> {
    let mut live = corsica_doctor::LiveServer::new(&corsica_doctor::LiveOptions::default())
        .map_err(|e| e.to_string())?;
    let mut disagreements = 0;
    for (s, observed) in pairs {
        let outcome = simulate_on(s, origins, &mut live, Browser::Chromium);
        let problems = compare(&outcome.verdict, observed, s, origins);
        if problems.is_empty() {
            if verbose {
                println!("ok   doctor #{} {}", s.id, s.name);
            }
            continue;
        }
        disagreements += 1;
        println!("DISAGREE (corsica check) #{} {}", s.id, s.name);
        println!("  chromium: {}", describe(observed));
        println!("  check:    {}", outcome.verdict);
        for p in problems {
            println!("  - {p}");
        }
    }
    eprintln!(
        "conformance: corsica check's live client: {} scenarios, {disagreements} disagreements",
        pairs.len()
    );
    Ok(disagreements)
}

fn describe(o: &Observed) -> String {
    match o {
        Observed::Allowed {
            status,
            response_type,
            headers,
        } => format!("allowed ({status}, {response_type}, readable {headers:?})"),
        Observed::Cors {
            kind, parameter, ..
        } if parameter.is_empty() => format!("blocked: {kind}"),
        Observed::Cors {
            kind, parameter, ..
        } => format!("blocked: {kind} ({parameter})"),
        Observed::Failed { error } => format!("failed: {error}"),
    }
}

/// Which hop a URL of the run addresses.
fn hop_of(url: &str) -> Option<usize> {
    let path = url::Url::parse(url).ok()?.path().to_owned();
    let mut parts = path.trim_start_matches('/').split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("s"), Some(_), Some(hop)) => hop.parse().ok(),
        _ => None,
    }
}

fn simulate_scenario(s: &Scenario, origins: &Origins) -> corsica::fetch::Outcome {
    simulate_scenario_in(s, origins, Browser::Chromium)
}

/// [`simulate_scenario`] for `browser`.
fn simulate_scenario_in(
    s: &Scenario,
    origins: &Origins,
    browser: Browser,
) -> corsica::fetch::Outcome {
    let mut server = |r: &HttpRequest| -> Result<HttpResponse, NetworkError> {
        match hop_of(&r.url) {
            Some(hop) => Ok(s.respond_asked(
                origins,
                hop,
                r.preflight,
                &scenario::Asked {
                    acrm: r.header("access-control-request-method"),
                    acrh: r.header("access-control-request-headers"),
                    origin: r.header("origin"),
                },
            )),
            None => Ok(HttpResponse::new(404)),
        }
    };
    simulate_on(s, origins, &mut server, browser)
}

/// Runs a scenario's `fetch()` (after its earlier one, sharing a preflight cache) on any
/// server; the outcome's steps hold both.
fn simulate_on(
    s: &Scenario,
    origins: &Origins,
    server: &mut dyn corsica::fetch::Server,
    browser: Browser,
) -> corsica::fetch::Outcome {
    let befores = s.before_requests(origins);
    if befores.is_empty() {
        let options = corsica::fetch::Options {
            browser,
            ..Default::default()
        };
        return corsica::fetch::simulate_with(&s.fetch_request(origins), server, options);
    }
    // The earlier fetches, then the scenario's, through one cache, each at its time.
    fn at(
        cache: &mut corsica::fetch::preflight::PreflightCache,
        elapsed_ms: u64,
        browser: Browser,
    ) -> corsica::fetch::Options<'_> {
        corsica::fetch::Options {
            cache: Some(cache),
            now: elapsed_ms.div_ceil(1000),
            browser,
            ..Default::default()
        }
    }
    let mut cache = corsica::fetch::preflight::PreflightCache::default();
    let mut steps = Vec::new();
    let mut elapsed_ms: u64 = 0;
    for (earlier, wait_ms) in befores {
        let outcome =
            corsica::fetch::simulate_with(&earlier, server, at(&mut cache, elapsed_ms, browser));
        steps.extend(outcome.steps);
        elapsed_ms += wait_ms;
    }
    let request = s.fetch_request(origins);
    let mut outcome =
        corsica::fetch::simulate_with(&request, server, at(&mut cache, elapsed_ms, browser));
    steps.append(&mut outcome.steps);
    outcome.steps = steps;
    outcome
}

/// The header names a scenario's responses define (the only ones both sides know of:
/// the server adds `date` and `content-length` on its own).
fn defined_headers(s: &Scenario) -> Vec<String> {
    s.hops
        .iter()
        .flat_map(|h| {
            h.response
                .headers
                .iter()
                .map(|(n, _)| n.to_ascii_lowercase())
        })
        .collect()
}

fn compare(model: &Verdict, observed: &Observed, s: &Scenario, origins: &Origins) -> Vec<String> {
    let mut problems = Vec::new();
    match (model, observed) {
        (
            Verdict::Allowed {
                status,
                response_type,
                readable_headers,
                ..
            },
            Observed::Allowed {
                status: o_status,
                response_type: o_type,
                headers,
            },
        ) => {
            if status != o_status {
                problems.push(format!("status: model {status}, chromium {o_status}"));
            }
            let t = match response_type {
                ResponseType::Basic => "basic",
                ResponseType::Cors => "cors",
                ResponseType::Opaque => "opaque",
                ResponseType::OpaqueRedirect => "opaqueredirect",
            };
            if t != o_type {
                problems.push(format!("response type: model {t}, chromium {o_type}"));
            }
            let defined = defined_headers(s);
            let keep = |v: &[String]| -> Vec<String> {
                let mut v: Vec<String> =
                    v.iter().filter(|h| defined.contains(h)).cloned().collect();
                v.sort();
                v.dedup();
                v
            };
            let (m, c) = (keep(readable_headers), keep(headers));
            if m != c {
                problems.push(format!("readable headers: model {m:?}, chromium {c:?}"));
            }
        }
        (
            Verdict::Blocked(b),
            Observed::Cors {
                kind,
                parameter,
                message,
            },
        ) => {
            // Exactly the failed parameter Chromium names, even among several disallowed
            // headers (the model replays Blink's header order).
            if b.error.as_str() != kind || b.parameter != *parameter {
                problems.push(format!(
                    "error: model {} ({:?}), chromium {kind} ({parameter:?})",
                    b.error, b.parameter
                ));
            } else if let Some(m) = message {
                if *m != b.message {
                    problems.push(format!(
                        "console message:\n      model:    {}\n      chromium: {m}",
                        b.message
                    ));
                }
            }
        }
        (Verdict::Failed { .. }, Observed::Failed { .. }) => {}
        _ => problems.push("different verdicts".to_owned()),
    }
    let _ = origins;
    problems
}

/// Compares the requests the model sent with those the server received.
fn compare_requests(
    steps: &[corsica::fetch::Step],
    received: &[Received],
    s: &Scenario,
    origins: &Origins,
) -> Vec<String> {
    let model: Vec<String> = steps
        .iter()
        .map(|st| {
            let host = url::Url::parse(&st.request.url)
                .ok()
                .and_then(|u| u.port())
                .map(|p| p.to_string())
                .unwrap_or_default();
            format!(
                "{} hop{} port{} origin={:?} acrm={:?} acrh={:?} site={:?}",
                st.request.method,
                hop_of(&st.request.url).unwrap_or(99),
                host,
                st.request.header("origin"),
                st.request.header("access-control-request-method"),
                st.request.header("access-control-request-headers"),
                st.request.header("sec-fetch-site"),
            )
        })
        .collect();
    let port = |h: Host| {
        url::Url::parse(origins.of(h))
            .ok()
            .and_then(|u| u.port())
            .map(|p| p.to_string())
            .unwrap_or_default()
    };
    let seen: Vec<String> = received
        .iter()
        .map(|r| {
            format!(
                "{} hop{} port{} origin={:?} acrm={:?} acrh={:?} site={:?}",
                r.method,
                r.hop,
                port(r.host),
                r.origin.as_deref(),
                r.acrm.as_deref(),
                r.acrh.as_deref(),
                r.site.as_deref()
            )
        })
        .collect();
    // Chromium's network stack resends a request answered 408 when it went out on a
    // reused connection (`HttpNetworkTransaction`, retry reason "HTTP 408"): how often
    // depends on the connection pool, and it is transport, not CORS. Repeats of a request
    // the scenario answers 408 count once.
    let answered_408 = |r: &Received| {
        s.hops.get(r.hop).is_some_and(|h| {
            let reply = if r.method == "OPTIONS" {
                &h.preflight
            } else {
                &h.response
            };
            reply.status == 408
        })
    };
    let mut seen_once: Vec<String> = Vec::new();
    for (i, line) in seen.into_iter().enumerate() {
        let repeat = seen_once.last() == Some(&line) && received.get(i).is_some_and(answered_408);
        if !repeat {
            seen_once.push(line);
        }
    }
    let seen = seen_once;
    if model == seen {
        return Vec::new();
    }
    vec![format!(
        "requests:\n      model:    {model:?}\n      chromium: {seen:?}"
    )]
}

/// One tab on the page origin.
struct Tab {
    session: String,
    events: tokio::sync::mpsc::UnboundedReceiver<Value>,
    /// requestId → URL of `Fetch` requests.
    urls: HashMap<String, String>,
    /// Scenario id → loadingFailed (corsError, failedParameter) or plain failure text.
    failures: HashMap<usize, (Option<(String, String)>, String)>,
    /// Scenario id → CORS console message.
    messages: HashMap<usize, String>,
    /// Every event, when recording a HAR.
    recorded: Option<Vec<Value>>,
    /// Scenario id → the `CorsIssue` of the Issues panel (renderer-side errors, such as
    /// `DisallowedByMode` before any request, are reported only there).
    issues: HashMap<usize, (String, String)>,
}

fn scenario_of(url: &str) -> Option<usize> {
    let i = url.find("/s/")?;
    url[i + 3..].split('/').next()?.parse().ok()
}

impl Tab {
    async fn open(browser: &cdp::Browser, origins: &Origins) -> Result<Tab, String> {
        Self::open_at(browser, &origins.app).await
    }

    /// A tab on the page at `origin` (served at `{origin}/`).
    async fn open_at(browser: &cdp::Browser, origin: &str) -> Result<Tab, String> {
        let (session, events) = browser.open_page(&format!("{origin}/"), origin).await?;
        let mut tab = Tab {
            session,
            events,
            urls: HashMap::new(),
            failures: HashMap::new(),
            messages: HashMap::new(),
            issues: HashMap::new(),
            recorded: None,
        };
        tab.drain();
        Ok(tab)
    }

    /// Files pending events.
    fn drain(&mut self) {
        while let Ok(ev) = self.events.try_recv() {
            self.file(&ev);
        }
    }

    fn file(&mut self, ev: &Value) {
        if let Some(r) = &mut self.recorded {
            if ev["method"]
                .as_str()
                .is_some_and(|m| m.starts_with("Network."))
            {
                r.push(ev.clone());
            }
        }
        let p = &ev["params"];
        match ev["method"].as_str() {
            Some("Network.requestWillBeSent")
                if p["type"] == "Fetch" && p.get("redirectResponse").is_none() =>
            {
                if let (Some(id), Some(url)) =
                    (p["requestId"].as_str(), p["request"]["url"].as_str())
                {
                    self.urls.insert(id.to_owned(), url.to_owned());
                }
            }
            Some("Network.loadingFailed") => {
                let Some(url) = p["requestId"].as_str().and_then(|id| self.urls.get(id)) else {
                    return;
                };
                let Some(sid) = scenario_of(url) else { return };
                let cors = p.get("corsErrorStatus").map(|c| {
                    (
                        c["corsError"].as_str().unwrap_or_default().to_owned(),
                        c["failedParameter"].as_str().unwrap_or_default().to_owned(),
                    )
                });
                let text = p["errorText"].as_str().unwrap_or_default().to_owned();
                self.failures.insert(sid, (cors, text));
            }
            Some("Audits.issueAdded") => {
                let d = &p["issue"]["details"]["corsIssueDetails"];
                // Local Network Access failures are network-side (`loadingFailed` tells);
                // Chromium files extra issues for them, of other LNA kinds at times.
                let network_side = d["corsErrorStatus"]["corsError"]
                    .as_str()
                    .is_some_and(|k| k.contains("LocalNetwork"));
                if let (Some(url), false) = (d["request"]["url"].as_str(), network_side) {
                    if let Some(sid) = scenario_of(url) {
                        let c = &d["corsErrorStatus"];
                        self.issues.insert(
                            sid,
                            (
                                c["corsError"].as_str().unwrap_or_default().to_owned(),
                                c["failedParameter"].as_str().unwrap_or_default().to_owned(),
                            ),
                        );
                    }
                }
            }
            Some("Log.entryAdded") => {
                let e = &p["entry"];
                if e["source"] == "javascript" && e["category"] == "cors" {
                    if let Some(text) = e["text"].as_str() {
                        if let Some(sid) = scenario_of(text) {
                            self.messages.insert(sid, text.to_owned());
                        }
                    }
                }
            }
            _ => {}
        }
    }

    async fn run(
        &mut self,
        browser: &cdp::Browser,
        s: &Scenario,
        origins: &Origins,
    ) -> Result<Observed, String> {
        self.run_script(browser, s.id, &s.script(origins)).await
    }

    /// Runs scenario `id`'s `script` (its URLs name the scenario) and reads the verdict.
    async fn run_script(
        &mut self,
        browser: &cdp::Browser,
        id: usize,
        script: &str,
    ) -> Result<Observed, String> {
        let v = browser
            .call(
                Some(&self.session),
                "Runtime.evaluate",
                json!({"expression": script, "awaitPromise": true, "returnByValue": true}),
            )
            .await?;
        let r = &v["result"]["value"];
        if r["ok"] == true {
            let headers = r["headers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|h| h.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            return Ok(Observed::Allowed {
                status: u16::try_from(r["status"].as_u64().unwrap_or(0)).unwrap_or(0),
                response_type: r["type"].as_str().unwrap_or_default().to_owned(),
                headers,
            });
        }
        let error = r["error"].as_str().unwrap_or("no result").to_owned();
        // Wait for the network-side verdict (and, for CORS errors, the console message).
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            self.drain();
            let failure = self.failures.get(&id).cloned();
            if let Some((cors, text)) = failure {
                match cors {
                    Some((kind, parameter)) => {
                        if self.messages.contains_key(&id) || Instant::now() > deadline {
                            return Ok(Observed::Cors {
                                kind,
                                parameter,
                                message: self.messages.remove(&id),
                            });
                        }
                    }
                    None => {
                        return Ok(Observed::Failed {
                            error: format!("{error} ({text})"),
                        });
                    }
                }
            } else if let Some((kind, parameter)) = self.issues.remove(&id) {
                // Renderer-side errors: no network request, only the issue (and the console).
                if self.messages.contains_key(&id) || Instant::now() > deadline {
                    return Ok(Observed::Cors {
                        kind,
                        parameter,
                        message: self.messages.remove(&id),
                    });
                }
                self.issues.insert(id, (kind, parameter));
            } else if Instant::now() > deadline {
                return Ok(Observed::Failed { error });
            }
            match tokio::time::timeout(Duration::from_millis(200), self.events.recv()).await {
                Ok(Some(ev)) => self.file(&ev),
                Ok(None) => return Err("the tab's event stream closed".into()),
                Err(_) => {}
            }
        }
    }
}
