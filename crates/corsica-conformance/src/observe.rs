//! `--browser firefox --observe`: runs every generated scenario in real Firefox (over
//! WebDriver BiDi, [`crate::bidi`]) and records what it did, for the browser model's
//! Firefox branch to be tested against: `target/conformance/firefox-observed.json`, one
//! record per scenario with Firefox's verdict, the `security.properties` key its console
//! text is (see [`crate::firefox_reasons`]), the failed parameter the text names, and the
//! text itself. Nothing is judged against Firefox yet; the summary compares Firefox's
//! allowed/blocked with the *Chromium* model's and groups the differences by cause.
//!
//! The fetches run in batches in one tab (`Promise.all`), each scenario on its own URLs
//! (`/s/{id}/{hop}`), so each console text belongs to the scenario its URL names.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use corsica::fetch::{Outcome, Verdict};
use serde_json::{Value, json};

use crate::bidi::{Firefox, firefox_path};
use crate::driver::Driver;
use crate::firefox_reasons::{self, Recognised};
use crate::scenario::{self, Origins, Scenario};
use crate::server::{Received, ScenarioServer};

/// What to observe, and where to write it.
pub struct Options {
    /// Only scenarios whose name contains this.
    pub filter: Option<String>,
    /// Only these scenario ids.
    pub ids: Option<Vec<usize>>,
    /// Fetches per `Promise.all` batch.
    pub batch: usize,
    /// The JSON file to write.
    pub out: PathBuf,
    /// Print every scenario's observation.
    pub verbose: bool,
}

/// What Firefox did with one scenario's `fetch()`.
#[derive(Debug, Clone)]
pub(crate) struct Observation {
    /// The script's result: `{ok, status, type, headers}` or `{ok: false, error}`.
    pub(crate) result: Value,
    /// Every console text naming the scenario's URLs, in arrival order.
    pub(crate) console: Vec<String>,
}

impl Observation {
    pub(crate) fn allowed(&self) -> bool {
        self.result["ok"] == true
    }

    /// The first console text that reports the request blocked: Firefox's verdict.
    pub(crate) fn blocked_text(&self) -> Option<&str> {
        self.console
            .iter()
            .map(String::as_str)
            .find(|t| firefox_reasons::is_blocked(t))
    }

    pub(crate) fn recognised(&self) -> Option<Recognised> {
        self.blocked_text().and_then(firefox_reasons::recognise)
    }

    /// The key counted in the summary: `allowed`, a `security.properties` key, or why
    /// there is none.
    fn key(&self) -> String {
        if self.allowed() {
            return "allowed".into();
        }
        match (self.blocked_text(), self.recognised()) {
            (_, Some(r)) => r.key.to_owned(),
            (Some(_), None) => "(blocked: unrecognised console text)".into(),
            (None, None) => "(rejected without a CORS console text)".into(),
        }
    }
}

/// The Chromium model's verdict, as a word and the error kind.
pub(crate) fn model_word(outcome: &Outcome) -> String {
    match &outcome.verdict {
        Verdict::Allowed { .. } => "allowed".into(),
        Verdict::Blocked(b) => format!("blocked: {}", b.error),
        Verdict::Failed { .. } => "failed (no CORS error)".into(),
    }
}

/// One scenario's observation beside the Chromium model's outcome.
struct Case<'a> {
    scenario: &'a Scenario,
    observation: &'a Observation,
    /// What the server received from Firefox.
    received: &'a [Received],
    model: &'a Outcome,
    origins: &'a Origins,
}

impl Case<'_> {
    fn model_allowed(&self) -> bool {
        matches!(self.model.verdict, Verdict::Allowed { .. })
    }

    fn firefox_key(&self) -> Option<&'static str> {
        self.observation.recognised().map(|r| r.key)
    }

    /// Whether Firefox sent a preflight.
    fn preflighted(&self) -> bool {
        self.received.iter().any(|r| r.method == "OPTIONS")
    }
}

/// A cause of differences: a label and the cases it explains. The first that applies
/// names a difference; what none explains is grouped by Firefox's key and the model's word.
struct Cause {
    label: &'static str,
    applies: fn(&Case) -> bool,
}

const CAUSES: &[Cause] = &[
    Cause {
        label: "a client-hint request header Chromium safelists (DPR, Width, Save-Data…) is not safelisted in Firefox: it is preflighted, and the preflight does not allow it",
        applies: |c| {
            c.model_allowed()
                && c.received.iter().any(|r| {
                    r.method == "OPTIONS"
                        && r.acrh.as_deref().is_some_and(|h| {
                            h.split(',')
                                .any(|n| corsica::fetch::safelist::is_chromium_extra(n.trim()))
                        })
                })
        },
    },
    Cause {
        label: "safelisted request headers over 1,024 bytes in total: Firefox sends no preflight (the Fetch standard and Chromium do)",
        applies: |c| {
            c.observation.allowed()
                && !c.preflighted()
                && c.model.steps.iter().any(|s| s.request.preflight)
        },
    },
    Cause {
        label: "after a redirect to a third origin, Firefox's new preflight carries the page's Origin, not `null` (its actual request then sends `null`; the Chromium model's preflight sends `null`)",
        applies: |c| {
            let page = Some(c.origins.app.as_str());
            let model_null = c
                .model
                .steps
                .iter()
                .any(|s| s.request.header("origin") == Some("null"));
            let firefox_page = c
                .received
                .iter()
                .any(|r| r.method == "OPTIONS" && r.hop > 0 && r.origin.as_deref() == page);
            model_null && firefox_page
        },
    },
    Cause {
        label: "a same-origin redirect to a Location with credentials (user:pass@): Firefox follows it (as the Fetch standard does), Chromium fails it",
        applies: |c| c.observation.allowed() && c.scenario.name.contains("userinfo"),
    },
    Cause {
        label: "an empty Location: Firefox follows it to the same URL until the redirect limit (CORSDidNotSucceed), Chromium hands back the redirect response",
        applies: |c| {
            c.firefox_key() == Some("CORSDidNotSucceed")
                && c.scenario.hops.first().is_some_and(|h| {
                    h.response
                        .headers
                        .iter()
                        .any(|(n, v)| n == "location" && v.is_empty())
                })
        },
    },
];

/// Writes `text` with the run's origins as `{app}`, `{api}`, `{other}` (and their
/// authorities as `{app_authority}`…), so observations do not depend on the run's ports.
pub(crate) fn placeholders(text: &str, origins: &Origins) -> String {
    let mut t = text.to_owned();
    for (origin, name) in [
        (&origins.app, "app"),
        (&origins.api, "api"),
        (&origins.other, "other"),
    ] {
        t = t.replace(origin.as_str(), &format!("{{{name}}}"));
        if let Some(authority) = origin.strip_prefix("http://") {
            t = t.replace(authority, &format!("{{{name}_authority}}"));
        }
    }
    t
}

/// What the server received for a scenario, compactly: `OPTIONS api/0 acrh=x-a`, with
/// `origin=…` when `Origin` is not the page's and `no-origin` when there is none.
pub(crate) fn requests(received: &[Received], origins: &Origins) -> Vec<String> {
    received
        .iter()
        .map(|r| {
            let host = r.host.label();
            let mut line = format!("{} {host}/{}", r.method, r.hop);
            match r.origin.as_deref() {
                None => line.push_str(" no-origin"),
                Some(o) if o == origins.app => {}
                Some(o) => line.push_str(&format!(" origin={}", placeholders(o, origins))),
            }
            if let Some(h) = &r.acrh {
                line.push_str(&format!(" acrh={h}"));
            }
            line
        })
        .collect()
}

/// One run of scenarios in a real browser (Firefox, WebKit): what each did (`O`, the
/// browser's observation), and what the server received.
pub(crate) struct BrowserRun<O> {
    pub(crate) selected: Vec<Scenario>,
    pub(crate) observed: Vec<O>,
    /// What the server received, by scenario id.
    pub(crate) log: Vec<Vec<Received>>,
    pub(crate) origins: Origins,
    /// The browser's version, as its driver reports it.
    pub(crate) version: String,
    pub(crate) elapsed: Duration,
}

/// Starts the scenario server and Firefox, runs the scenarios that `filter` and `ids`
/// select in batches of `batch`, and closes Firefox. `label` prefixes the progress line.
pub(crate) async fn run_in_firefox(
    label: &str,
    filter: Option<&str>,
    ids: Option<&[usize]>,
    batch: usize,
) -> Result<BrowserRun<Observation>, String> {
    let all = scenario::all();
    let selected = crate::select(&all, filter, ids);
    let binary = firefox_path().ok_or(
        "Firefox not found: install Debian's `firefox-esr` package (apt-get install firefox-esr) or set FIREFOX to a Firefox binary",
    )?;
    let server = ScenarioServer::start(std::sync::Arc::new(all))
        .await
        .map_err(|e| format!("cannot start the scenario server: {e}"))?;
    let origins = server.origins.clone();
    let firefox = Firefox::launch(&binary).await?;
    eprintln!(
        "{label}: {} scenarios in {} (batches of {batch}); page {}, API {}",
        selected.len(),
        firefox.version,
        origins.app,
        origins.api
    );
    let started = Instant::now();
    // Ctrl-C ends the run through the same path as an error: Firefox and its profile go.
    let observed = tokio::select! {
        r = observe_all(&firefox, &selected, &origins, batch) => r,
        _ = tokio::signal::ctrl_c() => Err("interrupted".to_owned()),
    };
    let version = firefox.version.clone();
    firefox.close().await;
    let observed = observed?;
    let elapsed = started.elapsed();
    let log = server
        .log
        .lock()
        .map_err(|_| "the server's log is poisoned")?
        .clone();
    Ok(BrowserRun {
        selected,
        observed,
        log,
        origins,
        version,
        elapsed,
    })
}

/// Runs the selected scenarios in Firefox, writes the observations and prints the
/// summary. Returns (scenarios observed, differences from the Chromium model).
pub async fn run(opts: &Options) -> Result<(usize, usize), String> {
    let BrowserRun {
        selected,
        observed,
        log,
        origins,
        version,
        elapsed,
    } = run_in_firefox(
        "firefox-observe",
        opts.filter.as_deref(),
        opts.ids.as_deref(),
        opts.batch,
    )
    .await?;
    let models: Vec<Outcome> = selected
        .iter()
        .map(|s| crate::simulate_scenario(s, &origins))
        .collect();
    let cases: Vec<Case> = selected
        .iter()
        .zip(observed.iter().zip(&models))
        .map(|(s, (o, model))| Case {
            scenario: s,
            observation: o,
            received: log.get(s.id).map_or(&[][..], Vec::as_slice),
            model,
            origins: &origins,
        })
        .collect();
    write_records(&opts.out, &version, &cases)?;
    if opts.verbose {
        for c in &cases {
            let (id, name) = (c.scenario.id, &c.scenario.name);
            let (key, model) = (c.observation.key(), model_word(c.model));
            println!("#{id} {name}: {key} (model: {model})");
        }
    }
    println!(
        "firefox-observe: {} scenarios in {:.1}s with {version}; written to {}",
        selected.len(),
        elapsed.as_secs_f64(),
        opts.out.display()
    );
    let differences = summarize(&cases);
    Ok((selected.len(), differences))
}

/// Writes the observations: one record per line, origins as placeholders.
fn write_records(out: &std::path::Path, version: &str, cases: &[Case]) -> Result<(), String> {
    let mut lines = Vec::new();
    for c in cases {
        let (o, origins) = (c.observation, c.origins);
        let recognised = o.recognised();
        let mut r = json!({
            "id": c.scenario.id,
            "name": c.scenario.name,
            "verdict": if o.allowed() { "allowed" } else { "blocked" },
        });
        if o.allowed() {
            r["status"] = o.result["status"].clone();
            r["type"] = o.result["type"].clone();
            r["headers"] = o.result["headers"].clone();
        } else {
            r["error"] = o.result["error"].clone();
            r["key"] = json!(recognised.as_ref().map(|r| r.key));
            r["parameter"] = json!(
                recognised
                    .as_ref()
                    .and_then(|r| r.parameter.as_deref())
                    .map(|p| placeholders(p, origins))
            );
            r["status_code"] = json!(recognised.as_ref().and_then(|r| r.status.clone()));
            r["console"] = json!(o.blocked_text().map(|t| placeholders(t, origins)));
        }
        let others: Vec<String> = o
            .console
            .iter()
            .filter(|t| Some(t.as_str()) != o.blocked_text())
            .map(|t| placeholders(t, origins))
            .collect();
        if !others.is_empty() {
            r["other_console"] = json!(others);
        }
        r["requests"] = json!(requests(c.received, origins));
        r["chromium_model"] = json!(model_word(c.model));
        lines.push(r.to_string());
    }
    write_lines(out, version, &lines)
}

/// Writes an observation file: its head (`browser`, `scenarios`, what the placeholders
/// stand for), then `records`, one per line (diffable, and a third of the size of
/// pretty-printed JSON).
pub(crate) fn write_lines(
    out: &std::path::Path,
    version: &str,
    lines: &[String],
) -> Result<(), String> {
    let head = json!({
        "browser": version,
        "scenarios": lines.len(),
        "placeholders": "{app}, {api}, {other}: the run's page, API and third origins; {app_authority}… their host:port",
    })
    .to_string();
    let text = format!(
        "{},\n\"records\": [\n{}\n]}}\n",
        head.trim_end_matches('}'),
        lines.join(",\n")
    );
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(out, text).map_err(|e| format!("cannot write {}: {e}", out.display()))
}

/// Prints the counts per key, the differences from the Chromium model by cause, the keys
/// Firefox gives for each of the model's errors, and the responses that read differently.
/// Returns the number of allowed/blocked differences.
fn summarize(cases: &[Case]) -> usize {
    let mut keys: BTreeMap<String, usize> = BTreeMap::new();
    for c in cases {
        *keys.entry(c.observation.key()).or_default() += 1;
    }
    println!("Firefox's verdicts by key:");
    for (k, n) in &keys {
        println!("  {n:5}  {k}");
    }
    let differences: Vec<&Case> = cases
        .iter()
        .filter(|c| c.observation.allowed() != c.model_allowed())
        .collect();
    let mut groups: BTreeMap<String, Vec<&Case>> = BTreeMap::new();
    for c in &differences {
        let label = CAUSES.iter().find(|cause| (cause.applies)(c)).map_or_else(
            || {
                format!(
                    "other: Firefox {} where the Chromium model says {}",
                    c.observation.key(),
                    model_word(c.model)
                )
            },
            |cause| cause.label.to_owned(),
        );
        groups.entry(label).or_default().push(c);
    }
    println!(
        "Firefox's allowed/blocked differs from the Chromium model in {} of {} scenarios:",
        differences.len(),
        cases.len()
    );
    for (label, cs) in &groups {
        println!("  {} × {label}", cs.len());
        for c in cs {
            println!(
                "      #{} {}: Firefox {}, model {}",
                c.scenario.id,
                c.scenario.name,
                c.observation.key(),
                model_word(c.model)
            );
        }
    }
    let mut mapping: BTreeMap<(String, String), usize> = BTreeMap::new();
    for c in cases {
        if !c.observation.allowed() && !c.model_allowed() {
            *mapping
                .entry((model_word(c.model), c.observation.key()))
                .or_default() += 1;
        }
    }
    println!("Blocked by both: the Chromium model's error → Firefox's key:");
    for ((model, key), n) in &mapping {
        println!("  {n:5}  {model} → {key}");
    }
    // Where both block and Firefox's text names a parameter: is it one the model names?
    let mut named = 0usize;
    let mut other_parameter = Vec::new();
    for c in cases {
        let (Verdict::Blocked(b), Some(p)) = (
            &c.model.verdict,
            c.observation.recognised().and_then(|r| r.parameter),
        ) else {
            continue;
        };
        named += 1;
        if !b.candidates.iter().any(|m| m.eq_ignore_ascii_case(&p)) {
            other_parameter.push((c, p, b.parameter.clone()));
        }
    }
    println!(
        "Blocked by both, Firefox's text names a parameter: {named}; not one the model names: {}",
        other_parameter.len()
    );
    for (c, p, m) in &other_parameter {
        println!(
            "      #{} {}: Firefox {} ‘{}’, model {:?}",
            c.scenario.id,
            c.scenario.name,
            c.observation.key(),
            placeholders(p, c.origins),
            placeholders(m, c.origins)
        );
    }
    let mut unlike = Vec::new();
    for c in cases {
        let o = &c.observation.result;
        if !(c.observation.allowed() && c.model_allowed()) {
            continue;
        }
        let observed = crate::Observed::Allowed {
            status: o["status"]
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .unwrap_or(0),
            response_type: o["type"].as_str().unwrap_or_default().to_owned(),
            headers: o["headers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|h| h.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        };
        let problems = crate::compare(&c.model.verdict, &observed, c.scenario, c.origins);
        if !problems.is_empty() {
            unlike.push((c, problems));
        }
    }
    println!(
        "Allowed by both, but the response reads differently in Firefox: {}",
        unlike.len()
    );
    for (c, problems) in &unlike {
        println!(
            "      #{} {}: {}",
            c.scenario.id,
            c.scenario.name,
            problems.join("; ").replace("chromium", "firefox")
        );
    }
    differences.len()
}

/// Runs the scripts of `scenarios` in `page`, `batch` at a time (one `Promise.all` each),
/// calling `after_each` after every batch; returns each script's result in order.
pub(crate) async fn run_batches(
    driver: &impl Driver,
    page: &str,
    scenarios: &[Scenario],
    origins: &Origins,
    batch: usize,
    mut after_each: impl FnMut(),
) -> Result<Vec<Value>, String> {
    let mut results: Vec<Value> = Vec::with_capacity(scenarios.len());
    for (n, chunk) in scenarios.chunks(batch.max(1)).enumerate() {
        let scripts: Vec<String> = chunk.iter().map(|s| s.script(origins)).collect();
        let expression = format!("Promise.all([{}])", scripts.join(",\n"));
        let value = driver.evaluate(page, &expression).await.map_err(|e| {
            format!(
                "batch {n} (scenarios {}…): {e}",
                chunk.first().map_or(0, |s| s.id)
            )
        })?;
        let values = value.as_array().cloned().unwrap_or_default();
        for i in 0..chunk.len() {
            results.push(values.get(i).cloned().unwrap_or_else(
                || json!({"ok": false, "error": "harness: the batch gave no result"}),
            ));
        }
        after_each();
    }
    Ok(results)
}

/// Runs `scenarios` in one tab, `batch` at a time, and returns their observations in order.
pub(crate) async fn observe_all(
    firefox: &Firefox,
    scenarios: &[Scenario],
    origins: &Origins,
    batch: usize,
) -> Result<Vec<Observation>, String> {
    let (page, mut events) = firefox
        .open_page(&format!("{}/", origins.app), &origins.app)
        .await?;
    let mut console: HashMap<usize, Vec<String>> = HashMap::new();
    let file = |ev: Value, console: &mut HashMap<usize, Vec<String>>| {
        if ev["method"] != "log.entryAdded" {
            return;
        }
        if let Some(text) = ev["params"]["text"].as_str() {
            if let Some(id) = crate::scenario_of(text) {
                console.entry(id).or_default().push(text.to_owned());
            }
        }
    };
    let results = run_batches(firefox, &page, scenarios, origins, batch, || {
        while let Ok(ev) = events.try_recv() {
            file(ev, &mut console);
        }
    })
    .await?;
    // Console texts can trail the rejections: wait (3 s at most) until every rejected
    // fetch has its blocking text.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let missing = scenarios.iter().zip(&results).any(|(s, r)| {
            r["ok"] != true
                && !console
                    .get(&s.id)
                    .is_some_and(|c| c.iter().any(|t| firefox_reasons::is_blocked(t)))
        });
        if !missing || Instant::now() > deadline {
            break;
        }
        match tokio::time::timeout(Duration::from_millis(200), events.recv()).await {
            Ok(Some(ev)) => file(ev, &mut console),
            Ok(None) => break,
            Err(_) => {}
        }
    }
    while let Ok(ev) = events.try_recv() {
        file(ev, &mut console);
    }
    Ok(scenarios
        .iter()
        .zip(results)
        .map(|(s, result)| Observation {
            result,
            console: console.remove(&s.id).unwrap_or_default(),
        })
        .collect())
}
