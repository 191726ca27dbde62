//! `--browser firefox`: Firefox as the second judge. Runs every generated scenario in real
//! Firefox (over WebDriver BiDi, batched as in [`crate::observe`]) and compares what it did
//! with the model speaking for Firefox (`Options { browser: Browser::Firefox, .. }`):
//! allowed or not; the `security.properties` key of its blocking console text; the value
//! that text quotes; the console text itself, exactly; what script can read of an allowed
//! response; and the requests the server received (method, hop, `Origin`,
//! `Access-Control-Request-Headers`).

use corsica::fetch::Browser;

use crate::Observed;
use crate::observe::{Observation, run_in_firefox};

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
    let disagreements = crate::judge::judge_all(Browser::Firefox, &run, opts.verbose, |o| {
        let seen = observed_of(o);
        let key = word(&seen);
        (seen, key)
    });
    Ok((run.selected.len(), disagreements))
}

/// Firefox's verdict in the suite's terms: allowed, a CORS error (the key of its first
/// blocking console text, the value the text quotes, the text), or a rejection without
/// a CORS text.
fn observed_of(o: &Observation) -> Observed {
    if o.allowed() {
        return crate::judge::allowed_of(&o.result);
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
