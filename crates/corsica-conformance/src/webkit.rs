//! `--browser webkit --observe`: runs every generated scenario in real WebKit (WebKitGTK,
//! over WebDriver classic, [`crate::webdriver`]) and records what it did, for the browser
//! model's WebKit branch to be built from: `target/conformance/webkit-observed.json`, one
//! record per scenario in the shape of the Firefox one (verdict, the kind its console text
//! is — see [`crate::webkit_reasons`] — the parameter, the text, the requests the server
//! received). Nothing is judged: the summary compares WebKit's allowed/blocked with the
//! Chromium model's and the Firefox model's and groups the differences by cause.
//!
//! The fetches run in batches (`Promise.all`) in one window, each scenario on its own URLs
//! (`/s/{id}/{hop}`). WebKit's rejection is always `TypeError: Load failed`; the reason is
//! the `CONSOLE SECURITY ERROR` line the shell prints, attributed to the URL of the
//! `CONSOLE JS ERROR Fetch API cannot load …` line right after it.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use corsica::fetch::{Browser, Outcome, Verdict};
use serde_json::{Value, json};

use crate::observe::{BrowserRun, model_word, placeholders, requests, run_batches, write_lines};
use crate::scenario::{self, Origins, Scenario};
use crate::server::{Received, ScenarioServer};
use crate::webdriver::{WebKit, driver_path, shell_path};
use crate::webkit_reasons::{self, Recognised};

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

/// What WebKit did with one scenario's `fetch()`.
#[derive(Debug, Clone)]
struct Observation {
    /// The script's result: `{ok, status, type, headers}` or `{ok: false, error}`.
    result: Value,
    /// The `CONSOLE SECURITY ERROR` texts attributed to the scenario's URLs, in order
    /// (an earlier `fetch()` of the scenario comes first).
    console: Vec<String>,
}

impl Observation {
    fn allowed(&self) -> bool {
        self.result["ok"] == true
    }

    /// The text of the blocked `fetch()`: the scenario's last one.
    fn blocked_text(&self) -> Option<&str> {
        if self.allowed() {
            return None;
        }
        self.console.last().map(String::as_str)
    }

    fn recognised(&self) -> Option<Recognised> {
        self.blocked_text().and_then(webkit_reasons::recognise)
    }

    /// The key counted: `allowed`, a kind (`Redirect/OriginNotAllowed`), `NetworkError`
    /// for a rejection without a console text, or an unrecognised text.
    fn key(&self) -> String {
        if self.allowed() {
            return "allowed".into();
        }
        match (self.blocked_text(), self.recognised()) {
            (_, Some(r)) => r.key(),
            (Some(_), None) => "(blocked: unrecognised console text)".into(),
            (None, None) => "NetworkError".into(),
        }
    }
}

/// One scenario's observation beside both models' outcomes.
struct Case<'a> {
    scenario: &'a Scenario,
    observation: &'a Observation,
    received: &'a [Received],
    chromium: Outcome,
    firefox: Outcome,
    origins: &'a Origins,
}

/// The Firefox model's verdict as a word, with its `security.properties` key.
fn firefox_word(outcome: &Outcome) -> String {
    match &outcome.verdict {
        Verdict::Blocked(b) => format!("blocked: {}", b.kind.as_str()),
        _ => model_word(outcome),
    }
}

fn allowed(o: &Outcome) -> bool {
    matches!(o.verdict, Verdict::Allowed { .. })
}

/// A cause of differences from a model: the first that applies names a difference; what
/// none explains is grouped by WebKit's key and the model's word.
struct Cause {
    label: &'static str,
    applies: fn(&Case, &Outcome) -> bool,
}

/// Whether WebKit sent a preflight whose `Access-Control-Request-Headers` names a header
/// that Chromium safelists and the Fetch standard does not (client hints).
fn preflighted_chromium_extra(c: &Case) -> bool {
    c.received.iter().any(|r| {
        r.method == "OPTIONS"
            && r.acrh.as_deref().is_some_and(|h| {
                h.split(',')
                    .any(|n| corsica::fetch::safelist::is_chromium_extra(n.trim()))
            })
    })
}

fn model_preflighted(model: &Outcome) -> bool {
    model.steps.iter().any(|s| s.request.preflight)
}

/// Whether WebKit's preflight asked only for CORS-safelisted names (so it was sent for
/// their total length, over 1,024 bytes).
fn preflighted_safelisted_only(c: &Case) -> bool {
    const SAFELISTED: [&str; 5] = [
        "accept",
        "accept-language",
        "content-language",
        "content-type",
        "range",
    ];
    c.received.iter().any(|r| {
        r.method == "OPTIONS"
            && r.acrh.as_deref().is_some_and(|h| {
                h.split(',')
                    .all(|n| SAFELISTED.contains(&n.trim().to_ascii_lowercase().as_str()))
            })
    })
}

/// The values of the response header `name` at hop `hop`.
fn hop_header<'s>(s: &'s Scenario, hop: usize, name: &str) -> Vec<&'s str> {
    s.hops.get(hop).map_or_else(Vec::new, |h| {
        h.response
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    })
}

const CAUSES: &[Cause] = &[
    Cause {
        label: "a same-origin redirect to a Location with credentials (user:pass@): WebKit follows it (as Firefox and the Fetch standard do), Chromium fails it",
        applies: |c, _| c.observation.allowed() && c.scenario.name.contains("userinfo"),
    },
    Cause {
        label: "a client-hint request header Chromium safelists (DPR, Save-Data…) is not safelisted in WebKit: it is preflighted, and the preflight does not allow it",
        applies: |c, m| allowed(m) && preflighted_chromium_extra(c),
    },
    Cause {
        label: "safelisted request headers over 1,024 bytes in total: WebKit preflights them (as the Fetch standard and Chromium do; Firefox does not), and the preflight does not allow them",
        applies: |c, m| {
            !c.observation.allowed() && preflighted_safelisted_only(c) && !model_preflighted(m)
        },
    },
    Cause {
        label: "after a redirect to a third origin, WebKit's new preflight carries `Origin: null` (as Chromium's does; Firefox's carries the page's origin), so the third origin's answer is judged against `null`",
        applies: |c, m| {
            let webkit_null = c
                .received
                .iter()
                .any(|r| r.method == "OPTIONS" && r.hop > 0 && r.origin.as_deref() == Some("null"));
            let model_null = m
                .steps
                .iter()
                .any(|s| s.request.preflight && s.request.header("origin") == Some("null"));
            webkit_null && !model_null
        },
    },
    Cause {
        label: "an empty Location: WebKit fails with a network error and no console text (as Firefox fails it), Chromium hands back the redirect response",
        applies: |c, _| hop_header(c.scenario, 0, "location") == [""],
    },
    Cause {
        label: "two Location headers with the same value: WebKit (libsoup) joins them with \", \" and follows the joined URL, which the server does not know (404 without CORS headers: OriginNotAllowed), where the models take the one value",
        applies: |c, _| {
            let l = hop_header(c.scenario, 0, "location");
            l.len() == 2 && l[0] == l[1]
        },
    },
    Cause {
        label: "`Access-Control-Allow-Origin: null` after a cross-origin redirect: WebKit matches the `null` origin (the model blocks)",
        applies: |c, m| {
            c.observation.allowed()
                && !allowed(m)
                && (1..c.scenario.hops.len())
                    .any(|h| hop_header(c.scenario, h, "access-control-allow-origin") == ["null"])
        },
    },
];

async fn run_in_webkit(
    filter: Option<&str>,
    ids: Option<&[usize]>,
    batch: usize,
) -> Result<BrowserRun<Observation>, String> {
    let all = scenario::all();
    let selected = crate::select(&all, filter, ids);
    let driver = driver_path().ok_or(
        "WebKitWebDriver not found: install Debian's packages (apt-get install webkit2gtk-driver xvfb gir1.2-webkit2-4.1 python3-gi) or set WEBKIT_WEBDRIVER",
    )?;
    let server = ScenarioServer::start(std::sync::Arc::new(all))
        .await
        .map_err(|e| format!("cannot start the scenario server: {e}"))?;
    let origins = server.origins.clone();
    let webkit = WebKit::launch(&driver, &shell_path()).await?;
    eprintln!(
        "webkit-observe: {} scenarios in {} (batches of {batch}); page {}, API {}",
        selected.len(),
        webkit.version,
        origins.app,
        origins.api
    );
    let started = Instant::now();
    // Ctrl-C ends the run through the same path as an error: every process goes.
    let observed = tokio::select! {
        r = observe_all(&webkit, &selected, &origins, batch) => r,
        _ = tokio::signal::ctrl_c() => Err("interrupted".to_owned()),
    };
    let version = webkit.version.clone();
    webkit.close().await;
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

/// Runs `scenarios` in the session's window, `batch` at a time, and returns their
/// observations in order.
async fn observe_all(
    webkit: &WebKit,
    scenarios: &[Scenario],
    origins: &Origins,
    batch: usize,
) -> Result<Vec<Observation>, String> {
    webkit
        .open_page(&format!("{}/", origins.app), &origins.app)
        .await?;
    let from = webkit.console_since(0).len();
    let results = run_batches(webkit, "", scenarios, origins, batch, || {}).await?;
    // Console lines can trail the rejections: wait (3 s at most) until every rejected
    // fetch has its text (a network error never gets one).
    let texts = |lines: &[String]| -> HashMap<usize, Vec<String>> {
        let mut by_id: HashMap<usize, Vec<String>> = HashMap::new();
        for (url, text) in webkit_reasons::pair(lines) {
            if let Some(id) = crate::scenario_of(&url) {
                by_id.entry(id).or_default().push(text);
            }
        }
        by_id
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut console = texts(&webkit.console_since(from));
    loop {
        let missing = scenarios
            .iter()
            .zip(&results)
            .any(|(s, r)| r["ok"] != true && !console.contains_key(&s.id));
        if !missing || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        console = texts(&webkit.console_since(from));
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

/// Runs the selected scenarios in WebKit, writes the observations and prints the summary.
/// Returns (scenarios observed, differences from the Chromium model, differences from the
/// Firefox model).
pub async fn run(opts: &Options) -> Result<(usize, usize, usize), String> {
    let BrowserRun {
        selected,
        observed,
        log,
        origins,
        version,
        elapsed,
    } = run_in_webkit(opts.filter.as_deref(), opts.ids.as_deref(), opts.batch).await?;
    let cases: Vec<Case> = selected
        .iter()
        .zip(&observed)
        .map(|(s, o)| Case {
            scenario: s,
            observation: o,
            received: log.get(s.id).map_or(&[][..], Vec::as_slice),
            chromium: crate::simulate_scenario_in(s, &origins, Browser::Chromium),
            firefox: crate::simulate_scenario_in(s, &origins, Browser::Firefox),
            origins: &origins,
        })
        .collect();
    write_records(&opts.out, &version, &cases)?;
    if opts.verbose {
        for c in &cases {
            println!(
                "#{} {}: {} (chromium model: {}; firefox model: {})",
                c.scenario.id,
                c.scenario.name,
                c.observation.key(),
                model_word(&c.chromium),
                firefox_word(&c.firefox)
            );
        }
    }
    println!(
        "webkit-observe: {} scenarios in {:.1}s with {version}; written to {}",
        selected.len(),
        elapsed.as_secs_f64(),
        opts.out.display()
    );
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for c in &cases {
        *kinds.entry(c.observation.key()).or_default() += 1;
    }
    println!("WebKit's verdicts by kind:");
    for (k, n) in &kinds {
        println!("  {n:5}  {k}");
    }
    let chromium = summarize(&cases, "Chromium", |c| &c.chromium, model_word);
    let firefox = summarize(&cases, "Firefox", |c| &c.firefox, firefox_word);
    Ok((selected.len(), chromium, firefox))
}

/// Writes the observations: one record per line, origins as placeholders.
fn write_records(out: &std::path::Path, version: &str, cases: &[Case]) -> Result<(), String> {
    let mut lines = Vec::new();
    for c in cases {
        let (o, origins) = (c.observation, c.origins);
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
            let recognised = o.recognised();
            r["error"] = o.result["error"].clone();
            r["key"] = json!(o.key());
            r["parameter"] = json!(
                recognised
                    .as_ref()
                    .and_then(|r| r.parameter.as_deref())
                    .map(|p| placeholders(p, origins))
            );
            let status = recognised.as_ref().and_then(|r| {
                r.status
                    .clone()
                    .or_else(|| r.inner.as_ref()?.status.clone())
            });
            r["status_code"] = json!(status);
            if let Some(inner) = recognised.as_ref().and_then(|r| r.inner.as_ref()) {
                r["inner_parameter"] =
                    json!(inner.parameter.as_deref().map(|p| placeholders(p, origins)));
            }
            r["console"] = json!(o.blocked_text().map(|t| placeholders(t, origins)));
        }
        let others: Vec<String> = o
            .console
            .iter()
            .take(o.console.len() - usize::from(o.blocked_text().is_some()))
            .map(|t| placeholders(t, origins))
            .collect();
        if !others.is_empty() {
            r["other_console"] = json!(others);
        }
        r["requests"] = json!(requests(c.received, origins));
        r["chromium_model"] = json!(model_word(&c.chromium));
        r["firefox_model"] = json!(firefox_word(&c.firefox));
        lines.push(r.to_string());
    }
    write_lines(out, version, &lines)
}

/// The requests the model sent, written as [`requests`] writes what the server received
/// (method, host, hop, `Origin`, `Access-Control-Request-Headers`).
fn model_requests(c: &Case, model: &Outcome) -> Vec<String> {
    let sent: Vec<String> = model
        .steps
        .iter()
        .map(|st| {
            let url = &st.request.url;
            let host = if url.starts_with(&c.origins.api) {
                "api"
            } else if url.starts_with(&c.origins.other) {
                "other"
            } else {
                "app"
            };
            let mut line = format!(
                "{} {host}/{}",
                st.request.method,
                crate::hop_of(url).unwrap_or(99)
            );
            match st.request.header("origin") {
                None => line.push_str(" no-origin"),
                Some(o) if o == c.origins.app => {}
                Some(o) => line.push_str(&format!(" origin={}", placeholders(o, c.origins))),
            }
            if let Some(h) = st.request.header("access-control-request-headers") {
                line.push_str(&format!(" acrh={h}"));
            }
            line
        })
        .collect();
    sent
}

/// Prints WebKit's allowed/blocked differences from one model by cause, the kinds WebKit
/// gives for each of the model's errors, and the scenarios whose requests differ. Returns
/// the number of allowed/blocked differences.
fn summarize(
    cases: &[Case],
    name: &str,
    model: for<'c> fn(&'c Case<'_>) -> &'c Outcome,
    model_word: fn(&Outcome) -> String,
) -> usize {
    let differences: Vec<&Case> = cases
        .iter()
        .filter(|c| c.observation.allowed() != allowed(model(c)))
        .collect();
    let mut groups: BTreeMap<String, Vec<&Case>> = BTreeMap::new();
    for c in &differences {
        let m = model(c);
        let label = CAUSES
            .iter()
            .find(|cause| (cause.applies)(c, m))
            .map_or_else(
                || {
                    format!(
                        "other: WebKit {} where the {name} model says {}",
                        c.observation.key(),
                        model_word(m)
                    )
                },
                |cause| cause.label.to_owned(),
            );
        groups.entry(label).or_default().push(c);
    }
    println!(
        "WebKit's allowed/blocked differs from the {name} model in {} of {} scenarios:",
        differences.len(),
        cases.len()
    );
    for (label, cs) in &groups {
        println!("  {} × {label}", cs.len());
        for c in cs {
            println!(
                "      #{} {}: WebKit {}, model {}; sent {:?}",
                c.scenario.id,
                c.scenario.name,
                c.observation.key(),
                model_word(model(c)),
                requests(c.received, c.origins)
            );
        }
    }
    let mut mapping: BTreeMap<(String, String), usize> = BTreeMap::new();
    for c in cases {
        if !c.observation.allowed() && !allowed(model(c)) {
            *mapping
                .entry((model_word(model(c)), c.observation.key()))
                .or_default() += 1;
        }
    }
    println!("Blocked by both: the {name} model's error → WebKit's kind:");
    for ((m, key), n) in &mapping {
        println!("  {n:5}  {m} → {key}");
    }
    let unlike: Vec<&Case> = cases
        .iter()
        .filter(|c| model_requests(c, model(c)) != requests(c.received, c.origins))
        .collect();
    println!(
        "Requests WebKit sent differ from the {name} model's in {} scenarios:",
        unlike.len()
    );
    for c in unlike {
        println!(
            "      #{} {}: WebKit {:?}, model {:?}; WebKit {}",
            c.scenario.id,
            c.scenario.name,
            requests(c.received, c.origins),
            model_requests(c, model(c)),
            c.observation.key()
        );
    }
    differences.len()
}

/// `--browser webkit`: WebKit judges the model speaking for WebKit (`Browser::WebKit`):
/// allowed or not; the kind of its console text (`Redirect/X` as `RedirectX`), the value
/// the text names, the whole text (`CONSOLE SECURITY ERROR` without its prefix); what
/// script reads of an allowed response; the requests the server received. Returns
/// (scenarios, disagreements).
pub async fn judge(
    filter: Option<&str>,
    ids: Option<&[usize]>,
    batch: usize,
    verbose: bool,
) -> Result<(usize, usize), String> {
    let run = run_in_webkit(filter, ids, batch).await?;
    let disagreements = crate::judge::judge_all(Browser::WebKit, &run, verbose, |o| {
        (observed_of(o), o.key())
    });
    Ok((run.selected.len(), disagreements))
}

/// WebKit's verdict in the suite's terms: allowed, a CORS error (its kind, `Redirect/X`
/// written `RedirectX`, the value the text names, the text), or a network error without
/// a text.
fn observed_of(o: &Observation) -> crate::Observed {
    if o.allowed() {
        return crate::judge::allowed_of(&o.result);
    }
    match (o.blocked_text(), o.recognised()) {
        (Some(text), Some(r)) => crate::Observed::Cors {
            kind: r.key().replace('/', ""),
            parameter: r.parameter.clone().unwrap_or_default(),
            message: Some(text.to_owned()),
        },
        _ => crate::Observed::Failed {
            error: o.result["error"].as_str().unwrap_or("").to_owned(),
        },
    }
}
