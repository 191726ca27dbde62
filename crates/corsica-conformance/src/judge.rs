//! Judging the model against a browser observed in batches (Firefox, WebKit): each
//! scenario's verdict, kind, parameter and console text, what script reads of an allowed
//! response, and the requests the server received; the disagreements printed, the
//! browser's verdicts counted.

use std::collections::BTreeMap;

use corsica::fetch::{Browser, Outcome, Verdict};
use serde_json::Value;

use crate::observe::BrowserRun;
use crate::scenario::{Origins, Scenario};
use crate::server::Received;
use crate::{Observed, compare};

/// Judges the model speaking for `browser` against every scenario of `run`;
/// `observed_of` gives the browser's verdict and the key it is counted under. Prints each
/// disagreement (and each agreement when `verbose`) and the counts; returns the number
/// of disagreements.
pub(crate) fn judge_all<O>(
    browser: Browser,
    run: &BrowserRun<O>,
    verbose: bool,
    observed_of: impl Fn(&O) -> (Observed, String),
) -> usize {
    let (origins, name) = (&run.origins, browser.as_str());
    let mut disagreements = 0;
    let mut keys: BTreeMap<String, usize> = BTreeMap::new();
    let mut judged = Vec::new();
    for (s, o) in run.selected.iter().zip(&run.observed) {
        let model = crate::simulate_scenario_in(s, origins, browser);
        let received = run.log.get(s.id).map_or(&[][..], Vec::as_slice);
        let (seen, key) = observed_of(o);
        *keys.entry(key).or_default() += 1;
        if crate::wpt_run() {
            judged.push((s.clone(), seen.clone(), received.to_vec()));
        }
        let mut problems = judge(&model, &seen, s, origins, name);
        problems.extend(compare_requests(&model, received, origins, name));
        if problems.is_empty() {
            if verbose {
                println!("ok   #{} {}", s.id, s.name);
            }
            continue;
        }
        disagreements += 1;
        println!("DISAGREE ({name}) #{} {}", s.id, s.name);
        println!("  {name}: {}", crate::describe(&seen));
        println!("  model: {}", model.verdict);
        for p in problems {
            println!("  - {p}");
        }
    }
    if crate::wpt_run() {
        let pairs: Vec<_> = judged
            .iter()
            .map(|(s, seen, _)| (s.clone(), seen.clone()))
            .collect();
        disagreements += crate::six_cases::run(browser, &pairs, origins);
        crate::wpt::report(name, judged, |v| origins.expand(v));
    }
    eprintln!(
        "conformance {name}: ran in {:.1}s against {}; {} verdicts: {}",
        run.elapsed.as_secs_f64(),
        run.version,
        browser.name(),
        keys.iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    disagreements
}

/// An allowed `fetch()`'s result (`{ok, status, type, headers}`) in the suite's terms.
pub(crate) fn allowed_of(result: &Value) -> Observed {
    let headers = result["headers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Observed::Allowed {
        status: result["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(0),
        response_type: result["type"].as_str().unwrap_or("").to_owned(),
        headers,
    }
}

/// The model's verdict against the browser's (`name`: `firefox`, `webkit`): the verdict,
/// the kind, the parameter and the console text; for allowed responses, what script reads.
fn judge(
    model: &Outcome,
    seen: &Observed,
    s: &Scenario,
    origins: &Origins,
    name: &str,
) -> Vec<String> {
    let (kind, parameter, message) = match (&model.verdict, seen) {
        (Verdict::Allowed { .. }, Observed::Allowed { .. }) => {
            // What script reads: the same comparison as Chromium's.
            return compare(&model.verdict, seen, s, origins)
                .into_iter()
                .map(|p| p.replace("chromium", name))
                .collect();
        }
        (Verdict::Blocked(b), Observed::Cors { .. }) => {
            (b.kind.as_str(), b.parameter.as_str(), b.message.as_str())
        }
        (
            Verdict::Failed {
                console: Some(c), ..
            },
            Observed::Cors { .. },
        ) => {
            // The text names the URL itself; no parameter of its own to compare.
            let o_parameter = match seen {
                Observed::Cors { parameter, .. } => parameter.as_str(),
                _ => "",
            };
            (c.kind.as_str(), o_parameter, c.message.as_str())
        }
        (Verdict::Failed { console: None, .. }, Observed::Failed { .. }) => return Vec::new(),
        _ => return vec!["different verdicts".to_owned()],
    };
    let Observed::Cors {
        kind: o_kind,
        parameter: o_parameter,
        message: o_message,
    } = seen
    else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    if kind != o_kind {
        problems.push(format!("error: model {kind}, {name} {o_kind}"));
    } else if parameter != o_parameter {
        problems.push(format!(
            "parameter: model {parameter:?}, {name} {o_parameter:?}"
        ));
    }
    if let Some(m) = o_message {
        if m != message {
            problems.push(format!(
                "console message:\n      model:   {message}\n      {name}: {m}"
            ));
        }
    }
    problems
}

/// The requests the model sent against those the server received from Firefox: method,
/// host, hop, `Origin` and `Access-Control-Request-Headers`.
fn compare_requests(
    model: &Outcome,
    received: &[Received],
    origins: &Origins,
    name: &str,
) -> Vec<String> {
    let host_of = |url: &str| -> &'static str {
        if url.starts_with(&origins.api) {
            "api"
        } else if url.starts_with(&origins.other) {
            "other"
        } else {
            "app"
        }
    };
    let sent: Vec<String> = model
        .steps
        .iter()
        .map(|st| {
            line(
                &st.request.method,
                host_of(&st.request.url),
                crate::hop_of(&st.request.url).unwrap_or(99),
                st.request.header("origin"),
                st.request.header("access-control-request-headers"),
            )
        })
        .collect();
    let seen: Vec<String> = received
        .iter()
        .map(|r| {
            let host = r.host.label();
            line(
                &r.method,
                host,
                r.hop,
                r.origin.as_deref(),
                r.acrh.as_deref(),
            )
        })
        .collect();
    if sent == seen {
        Vec::new()
    } else {
        vec![format!(
            "requests:\n      model:   {sent:?}\n      {name}: {seen:?}"
        )]
    }
}

fn line(method: &str, host: &str, hop: usize, origin: Option<&str>, acrh: Option<&str>) -> String {
    format!("{method} {host}/{hop} origin={origin:?} acrh={acrh:?}")
}
