//! `--browser firefox`: Firefox as the second judge. Runs every generated scenario in real
//! Firefox (over WebDriver BiDi, batched as in [`crate::observe`]) and compares what it did
//! with the model speaking for Firefox (`Options { browser: Browser::Firefox, .. }`):
//! allowed or not; the `security.properties` key of its blocking console text; the value
//! that text quotes; the console text itself, exactly; what script can read of an allowed
//! response; and the requests the server received (method, hop, `Origin`,
//! `Access-Control-Request-Headers`).

use corsica::fetch::{Browser, Outcome, Verdict};

use crate::observe::{Observation, run_in_firefox};
use crate::scenario::{Host, Origins, Scenario};
use crate::server::Received;
use crate::{Observed, compare};

/// What to run.
pub struct Options {
    /// Only scenarios whose name contains this.
    pub filter: Option<String>,
    /// Only these scenario ids.
    pub ids: Option<Vec<usize>>,
    /// Fetches per `Promise.all` batch.
    pub batch: usize,
    /// Print every agreement too.
    pub verbose: bool,
}

/// Runs the selected scenarios in Firefox and judges the model. Returns (scenarios,
/// disagreements).
pub async fn run(opts: &Options) -> Result<(usize, usize), String> {
    let run = run_in_firefox(
        "conformance firefox",
        opts.filter.as_deref(),
        opts.ids.as_deref(),
        opts.batch,
    )
    .await?;
    let (origins, log) = (&run.origins, &run.log);
    let mut disagreements = 0;
    let mut keys: std::collections::BTreeMap<String, usize> = Default::default();
    for (s, o) in run.selected.iter().zip(&run.observed) {
        let model = crate::simulate_scenario_in(s, origins, Browser::Firefox);
        let received = log.get(s.id).map_or(&[][..], Vec::as_slice);
        let seen = observed_of(o);
        *keys.entry(word(&seen)).or_default() += 1;
        let mut problems = judge(&model, &seen, s, origins, "firefox");
        problems.extend(compare_requests(&model, received, origins, "firefox"));
        if problems.is_empty() {
            if opts.verbose {
                println!("ok   #{} {}", s.id, s.name);
            }
            continue;
        }
        disagreements += 1;
        println!("DISAGREE (firefox) #{} {}", s.id, s.name);
        println!("  firefox: {}", crate::describe(&seen));
        println!("  model:   {}", model.verdict);
        for p in problems {
            println!("  - {p}");
        }
    }
    eprintln!(
        "conformance firefox: ran in {:.1}s against {}; Firefox verdicts: {}",
        run.elapsed.as_secs_f64(),
        run.version,
        keys.iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok((run.selected.len(), disagreements))
}

/// Firefox's verdict in the suite's terms: allowed, a CORS error (the key of its first
/// blocking console text, the value the text quotes, the text), or a rejection without
/// a CORS text.
fn observed_of(o: &Observation) -> Observed {
    if o.allowed() {
        let headers = o.result["headers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        return Observed::Allowed {
            status: o.result["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(0),
            response_type: o.result["type"].as_str().unwrap_or("").to_owned(),
            headers,
        };
    }
    match (o.blocked_text(), o.recognised()) {
        (Some(text), Some(r)) => Observed::Cors {
            kind: r.key.to_owned(),
            parameter: r.parameter.unwrap_or_default(),
            message: Some(text.to_owned()),
        },
        _ => Observed::Failed {
            error: o.result["error"].as_str().unwrap_or("").to_owned(),
        },
    }
}

fn word(o: &Observed) -> String {
    match o {
        Observed::Allowed { .. } => "allowed".into(),
        Observed::Cors { kind, .. } => kind.clone(),
        Observed::Failed { .. } => "rejected without a CORS text".into(),
    }
}

/// The model's verdict for Firefox against Firefox's.
/// The model's verdict against the browser's (`name`: `firefox`, `webkit`): the verdict,
/// the kind, the parameter and the console text; for allowed responses, what script reads.
pub(crate) fn judge(
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
pub(crate) fn compare_requests(
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
            let host = match r.host {
                Host::App => "app",
                Host::Api => "api",
                Host::Other => "other",
            };
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
