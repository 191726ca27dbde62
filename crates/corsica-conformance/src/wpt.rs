//! The browsers' own CORS tests: web-platform-tests (WPT) cases, imported as scenarios.
//!
//! `wpt/scenarios.jsonl` holds one scenario per line, written by the importer
//! (`corsica-conformance --wpt-import DIR`, see `wpt_import/`) from WPT's test files and
//! their server scripts. Each line names every WPT test it stands for (file, test name,
//! the WPT commit read) and keeps WPT's own expectation beside the scenario. The suite
//! runs them like the generated scenarios (`--wpt`) and judges the model against the
//! browser; WPT's expectation is compared with the browser too, and where they part the
//! browser is the truth (the differences are printed, not failed).

use std::collections::HashMap;
use std::sync::OnceLock;

use corsica::fetch::{Credentials, Mode, RedirectMode};
use serde::{Deserialize, Serialize};

use crate::Observed;
use crate::scenario::{Before, Hop, Host, Reply, Scenario};
use crate::server::Received;

/// The imported scenarios, one JSON object per line.
const SCENARIOS: &str = include_str!("../wpt/scenarios.jsonl");

/// Every scenario name from WPT starts with this.
pub(crate) const PREFIX: &str = "wpt/";

/// A WPT test a scenario stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Source {
    /// The test file, from WPT's root (`fetch/api/cors/cors-preflight-status.any.js`).
    pub file: String,
    /// The test's name as WPT reports it.
    pub test: String,
    /// The WPT commit the file was read at.
    pub commit: String,
}

/// What WPT asserts, in the suite's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Expect {
    /// `true`: the promise resolves; `false`: it rejects with a `TypeError`.
    pub ok: bool,
    /// The response's status, when WPT checks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The response's type (`cors`, `opaque`, `opaqueredirect`, `basic`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub response_type: Option<String>,
    /// Header names script must be able to read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed: Vec<String>,
    /// Header names script must not be able to read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<String>,
    /// How many preflights the server saw over the whole scenario (earlier fetches too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflights: Option<usize>,
    /// `Origin` of the last actual (non-`OPTIONS`) request to a hop: `(hop, value)`, the
    /// value `None` when WPT expects no `Origin` (placeholders such as `{origin}` allowed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origin: Vec<(usize, Option<String>)>,
    /// `Access-Control-Request-Headers` of the first preflight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acrh: Option<String>,
}

/// A reply as a line stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReplyLine {
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

/// A hop as a line stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HopLine {
    /// `app`, `api` or `other`.
    pub host: String,
    pub preflight: ReplyLine,
    pub response: ReplyLine,
}

/// An earlier fetch as a line stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BeforeLine {
    pub method: String,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    pub credentials: String,
    pub wait_ms: u64,
}

/// One line of `wpt/scenarios.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Line {
    /// `wpt/<file stem>/<case>`.
    pub name: String,
    /// The WPT tests this scenario stands for (several when WPT repeats a case).
    pub sources: Vec<Source>,
    pub method: String,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    pub credentials: String,
    pub redirect: String,
    pub mode: String,
    pub hops: Vec<HopLine>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<BeforeLine>,
    /// WPT's expectation.
    pub expect: Expect,
    /// WPT assertions the suite cannot check (response bodies, values, XHR API).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<String>,
}

fn credentials(s: &str) -> Result<Credentials, String> {
    match s {
        "omit" => Ok(Credentials::Omit),
        "same-origin" => Ok(Credentials::SameOrigin),
        "include" => Ok(Credentials::Include),
        other => Err(format!("credentials `{other}`")),
    }
}

fn host(s: &str) -> Result<Host, String> {
    match s {
        "app" => Ok(Host::App),
        "api" => Ok(Host::Api),
        "other" => Ok(Host::Other),
        other => Err(format!("host `{other}`")),
    }
}

fn reply(r: &ReplyLine) -> Reply {
    Reply {
        status: r.status,
        headers: r.headers.clone(),
    }
}

impl Line {
    /// The scenario, numbered `id`.
    pub(crate) fn scenario(&self, id: usize) -> Result<Scenario, String> {
        let redirect = match self.redirect.as_str() {
            "follow" => RedirectMode::Follow,
            "error" => RedirectMode::Error,
            "manual" => RedirectMode::Manual,
            other => return Err(format!("redirect `{other}`")),
        };
        let mode = match self.mode.as_str() {
            "cors" => Mode::Cors,
            "no-cors" => Mode::NoCors,
            "same-origin" => Mode::SameOrigin,
            other => return Err(format!("mode `{other}`")),
        };
        Ok(Scenario {
            id,
            name: self.name.clone(),
            method: self.method.clone(),
            headers: self.headers.clone(),
            credentials: credentials(&self.credentials)?,
            redirect,
            mode,
            hops: self
                .hops
                .iter()
                .map(|h| {
                    Ok(Hop {
                        host: host(&h.host)?,
                        preflight: reply(&h.preflight),
                        response: reply(&h.response),
                    })
                })
                .collect::<Result<_, String>>()?,
            before: self
                .before
                .iter()
                .map(|b| {
                    Ok(Before {
                        method: b.method.clone(),
                        headers: b.headers.clone(),
                        credentials: credentials(&b.credentials)?,
                        wait_ms: b.wait_ms,
                    })
                })
                .collect::<Result<_, String>>()?,
        })
    }
}

/// The imported lines, parsed once.
pub(crate) fn lines() -> &'static [Line] {
    static LINES: OnceLock<Vec<Line>> = OnceLock::new();
    LINES.get_or_init(|| {
        SCENARIOS
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(n, l)| match serde_json::from_str::<Line>(l) {
                Ok(line) => line,
                // Checked in and covered by a unit test: a bad line is a bug of the importer.
                Err(e) => panic!("wpt/scenarios.jsonl line {}: {e}", n + 1),
            })
            .collect()
    })
}

/// Appends the imported scenarios to `out`, numbered after what it holds.
pub(crate) fn push_all(out: &mut Vec<Scenario>) {
    for line in lines() {
        let id = out.len();
        match line.scenario(id) {
            Ok(s) => out.push(s),
            Err(e) => panic!("wpt/scenarios.jsonl `{}`: {e}", line.name),
        }
    }
}

/// The line a scenario came from, by name.
fn line_of(name: &str) -> Option<&'static Line> {
    static BY_NAME: OnceLock<HashMap<&'static str, &'static Line>> = OnceLock::new();
    BY_NAME
        .get_or_init(|| lines().iter().map(|l| (l.name.as_str(), l)).collect())
        .get(name)
        .copied()
}

/// Where the browser's result departs from WPT's expectation for scenario `s` (empty when
/// it agrees, or when `s` is not from WPT). `expand` resolves placeholders in expected
/// `Origin` values.
pub(crate) fn differences(
    s: &Scenario,
    seen: &Observed,
    received: &[Received],
    expand: impl Fn(&str) -> String,
) -> Vec<String> {
    let Some(line) = line_of(&s.name) else {
        return Vec::new();
    };
    let e = &line.expect;
    let mut out = Vec::new();
    match seen {
        Observed::Allowed {
            status,
            response_type,
            headers,
        } => {
            if !e.ok {
                out.push(format!("WPT expects a TypeError; it resolved ({status})"));
            }
            if let Some(want) = e.status.filter(|w| w != status) {
                out.push(format!("WPT expects status {want}; got {status}"));
            }
            if let Some(want) = e.response_type.as_ref().filter(|w| *w != response_type) {
                out.push(format!("WPT expects type {want}; got {response_type}"));
            }
            for name in &e.exposed {
                if !headers.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                    out.push(format!("WPT expects `{name}` readable; it is not"));
                }
            }
            for name in &e.hidden {
                if headers.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                    out.push(format!("WPT expects `{name}` hidden; it is readable"));
                }
            }
        }
        _ if e.ok => out.push("WPT expects the fetch to resolve; it failed".to_owned()),
        _ => {}
    }
    if let Some(want) = e.preflights {
        let got = received.iter().filter(|r| r.method == "OPTIONS").count();
        if got != want {
            out.push(format!(
                "WPT expects {want} preflight(s); the server saw {got}"
            ));
        }
    }
    for (hop, want) in &e.origin {
        let Some(actual) = received
            .iter()
            .rev()
            .find(|r| r.hop == *hop && r.method != "OPTIONS")
        else {
            continue;
        };
        let want = want.as_deref().map(&expand);
        if actual.origin != want {
            out.push(format!(
                "WPT expects Origin {want:?} at hop {hop}; the server saw {:?}",
                actual.origin
            ));
        }
    }
    if let Some(want) = &e.acrh {
        let got = received
            .iter()
            .find(|r| r.method == "OPTIONS")
            .and_then(|r| r.acrh.clone());
        if got.as_deref() != Some(want.as_str()) {
            out.push(format!(
                "WPT expects Access-Control-Request-Headers {want:?}; the server saw {got:?}"
            ));
        }
    }
    out
}

/// Prints, after a run, where `browser` departs from WPT's expectations; returns how many
/// scenarios do.
pub(crate) fn report(
    browser: &str,
    judged: impl IntoIterator<Item = (Scenario, Observed, Vec<Received>)>,
    expand: impl Fn(&str) -> String,
) -> usize {
    let mut n = 0;
    for (s, seen, received) in judged {
        let d = differences(&s, &seen, &received, &expand);
        if d.is_empty() {
            continue;
        }
        n += 1;
        let source = line_of(&s.name)
            .and_then(|l| l.sources.first())
            .map(|src| format!("{}: {}", src.file, src.test))
            .unwrap_or_default();
        println!("wpt≠{browser} #{} {} ({source})", s.id, s.name);
        for p in d {
            println!("  - {p}");
        }
    }
    eprintln!(
        "conformance wpt {browser}: {n} scenarios where {browser} departs from WPT's expectation (the browser is the truth)"
    );
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_parses_and_names_its_wpt_test() {
        let mut names = std::collections::HashSet::new();
        for l in lines() {
            assert!(l.name.starts_with(PREFIX), "{}", l.name);
            assert!(names.insert(l.name.clone()), "duplicate name {}", l.name);
            assert!(!l.sources.is_empty(), "{} names no WPT test", l.name);
            for s in &l.sources {
                assert!(!s.file.is_empty() && !s.test.is_empty() && s.commit.len() == 40);
            }
            l.scenario(0).unwrap_or_else(|e| panic!("{}: {e}", l.name));
        }
    }
}
