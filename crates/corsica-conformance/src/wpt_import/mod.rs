//! The importer: turns web-platform-tests' CORS tests into the suite's scenarios
//! (`corsica-conformance --wpt-import DIR`, a dev-time command; the suite itself never
//! needs WPT or the network).
//!
//! `DIR` holds WPT files at their WPT paths (`fetch/api/cors/cors-preflight.any.js`, …)
//! and `SOURCE-*.tsv` files naming the WPT commit each was read at (`path<TAB>commit`).
//! For each test file, a translator (`fetch_cors.rs`, `fetch_redirect.rs`, `cors_dir.rs`)
//! reads its tables with [`js`] (helper calls and the arrays it loops over; nothing is
//! executed) and writes what each case asks of the server through the server scripts'
//! own parameters ([`servers`]: `preflight.py`, `redirect.py`, `cors-makeheader.py`,
//! `status.py`), so each scenario's replies are what WPT's server would send.
//!
//! Every file states how many cases it holds; an import whose count differs fails, so a
//! WPT bump cannot drop or add cases silently. Identical scenarios (WPT repeats some
//! cases across files) are written once, naming every test they stand for. The cases
//! that cannot become scenarios are listed with their reason in the conformance crate's
//! README (between `<!-- wpt:not-converted -->` markers), and the totals in
//! `wpt/SOURCE.md`.

pub(crate) mod js;
pub(crate) mod servers;

mod cors_dir;
mod fetch_cors;
mod fetch_redirect;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::wpt::{BeforeLine, Expect, HopLine, Line, ReplyLine, Source};
use js::Js;

/// One WPT test, after translation.
pub(crate) enum Case {
    /// A scenario.
    Scenario(Box<Line>),
    /// Not convertible; the reason.
    Skipped { test: String, reason: String },
}

/// The request a test makes (`fetch()`, or an XHR turned into one).
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub credentials: &'static str,
    pub redirect: &'static str,
    pub mode: &'static str,
}

impl Request {
    /// A `fetch(url)` with the defaults: GET, `same-origin` credentials, `follow`, `cors`.
    pub(crate) fn get() -> Request {
        Request {
            method: "GET".into(),
            headers: Vec::new(),
            credentials: "same-origin",
            redirect: "follow",
            mode: "cors",
        }
    }

    pub(crate) fn method(mut self, m: &str) -> Request {
        self.method = m.to_owned();
        self
    }

    pub(crate) fn header(mut self, n: &str, v: &str) -> Request {
        self.headers.push((n.to_owned(), v.to_owned()));
        self
    }

    pub(crate) fn credentials(mut self, c: &'static str) -> Request {
        self.credentials = c;
        self
    }

    pub(crate) fn redirect(mut self, r: &'static str) -> Request {
        self.redirect = r;
        self
    }

    pub(crate) fn mode(mut self, m: &'static str) -> Request {
        self.mode = m;
        self
    }

    /// An XHR's request: `withCredentials` true → `include`, false → `same-origin`.
    pub(crate) fn xhr(method: &str, with_credentials: bool) -> Request {
        Request::get()
            .method(method)
            .credentials(if with_credentials {
                "include"
            } else {
                "same-origin"
            })
    }
}

/// Where a hop is served, in the suite's three origins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Host {
    App,
    Api,
    Other,
}

impl Host {
    fn label(self) -> &'static str {
        match self {
            Host::App => "app",
            Host::Api => "api",
            Host::Other => "other",
        }
    }

    /// The placeholder of its origin in a scenario (`{app}`, `{api}`, `{other}`).
    pub(crate) fn origin(self) -> &'static str {
        match self {
            Host::App => "{app}",
            Host::Api => "{api}",
            Host::Other => "{other}",
        }
    }
}

/// WPT's origin names (`get_host_info()`'s fields) on the suite's origins: the page is
/// `HTTP_ORIGIN`; the remote and other-port origins are cross-origin (`api`). `https:`
/// origins are `Err` with the reason a case is skipped.
pub(crate) fn host_of(name: &str) -> Result<Host, String> {
    let field = name.rsplit('.').next().unwrap_or(name);
    match field {
        "HTTP_ORIGIN" | "origin" => Ok(Host::App),
        "HTTP_REMOTE_ORIGIN" | "REMOTE_ORIGIN" | "CROSSDOMAIN" => Ok(Host::Api),
        // Another port is another origin: a third one, so that a test going from the
        // remote origin to another one keeps them apart.
        "HTTP_REMOTE_ORIGIN_WITH_DIFFERENT_PORT" | "HTTP_ORIGIN_WITH_DIFFERENT_PORT" => {
            Ok(Host::Other)
        }
        f if f.starts_with("HTTPS_") => Err(HTTPS.to_owned()),
        other => Err(format!("unknown origin `{other}`")),
    }
}

/// Why `https:` cases are not imported.
pub(crate) const HTTPS: &str = "targets an https: origin: the suite serves http:// origins only, and its http:// twin is imported";

/// A hop of a scenario under construction.
#[derive(Debug, Clone)]
pub(crate) struct HopSpec {
    pub host: Host,
    pub preflight: servers::Reply,
    pub response: servers::Reply,
}

/// The path of hop `i` of the scenario, as a redirect's `Location` names it.
pub(crate) fn hop_url(host: Host, i: usize) -> String {
    format!("{}/s/{{id}}/{i}", host.origin())
}

/// Builds a scenario line.
pub(crate) fn scenario(
    name: String,
    source: Source,
    request: &Request,
    hops: Vec<HopSpec>,
    before: Vec<(Request, u64)>,
    expect: Expect,
    dropped: &[&str],
) -> Case {
    let reply = |r: &servers::Reply| ReplyLine {
        status: r.status,
        headers: r.headers.clone(),
    };
    Case::Scenario(Box::new(Line {
        name,
        sources: vec![source],
        method: request.method.clone(),
        headers: request.headers.clone(),
        credentials: request.credentials.to_owned(),
        redirect: request.redirect.to_owned(),
        mode: request.mode.to_owned(),
        hops: hops
            .iter()
            .map(|h| HopLine {
                host: h.host.label().to_owned(),
                preflight: reply(&h.preflight),
                response: reply(&h.response),
            })
            .collect(),
        before: before
            .into_iter()
            .map(|(r, wait_ms)| BeforeLine {
                method: r.method,
                headers: r.headers,
                credentials: r.credentials.to_owned(),
                wait_ms,
            })
            .collect(),
        expect,
        dropped: dropped.iter().map(|d| (*d).to_owned()).collect(),
    }))
}

/// What a translator sees of one WPT file.
pub(crate) struct File {
    /// Its WPT path.
    pub path: &'static str,
    /// Its script (the `<script>` elements of an HTML test).
    pub script: String,
    /// The WPT commit it was read at.
    pub commit: String,
    /// The directory the files are in (for the JSON tables some tests load).
    pub dir: PathBuf,
}

impl File {
    /// The source record of test `test` of this file. A name built from an origin says
    /// it as WPT's default configuration does (`http://web-platform.test:8000`), so it is
    /// the name WPT reports.
    pub(crate) fn source(&self, test: &str) -> Source {
        let test = test
            .replace("{app}", "http://web-platform.test:8000")
            .replace("{api}", "http://www1.web-platform.test:8000")
            .replace("{other}", "http://web-platform.test:8001");
        Source {
            file: self.path.to_owned(),
            test,
            commit: self.commit.clone(),
        }
    }

    /// `calls` on this file's script.
    pub(crate) fn calls(&self, name: &str) -> Result<Vec<Vec<Js>>, String> {
        js::calls(&self.script, name)
    }

    /// A sibling file's text (a JSON table the test loads).
    pub(crate) fn read(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(self.dir.join(path)).map_err(|e| format!("{path}: {e}"))
    }

    /// Evaluates a string expression of the test: literals and sums, `vars` (the loop
    /// variables in scope), the file's own `var`/`const` bindings, and WPT's helpers:
    /// origins become the scenario's placeholders (`{app}`, `{api}`, `{other}`; an
    /// `https:` origin is `Err(HTTPS)`), `RESOURCES_DIR` is `../resources/`,
    /// `dirname(…)` is `/`, `encodeURIComponent` encodes, `{{host}}` templates map as
    /// WPT's `.sub` substitution would.
    pub(crate) fn eval(&self, value: &Js, vars: &[(&str, Js)]) -> Result<String, String> {
        self.eval_depth(value, vars, 0)
    }

    fn eval_depth(&self, value: &Js, vars: &[(&str, Js)], depth: usize) -> Result<String, String> {
        if depth > 20 {
            return Err(format!("`{value}` refers to itself"));
        }
        let again = |v: &Js| self.eval_depth(v, vars, depth + 1);
        match value {
            Js::Str(s) => Ok(sub_hosts(s)),
            Js::Num(n) => Ok(n.to_string()),
            Js::Bool(b) => Ok(b.to_string()),
            Js::Null => Ok("null".into()),
            Js::Undefined => Ok("undefined".into()),
            Js::Sum(parts) => parts.iter().map(again).collect(),
            Js::Array(items) => Ok(items
                .iter()
                .map(again)
                .collect::<Result<Vec<_>, _>>()?
                .join(",")),
            Js::Call(f, args) if f == "encodeURIComponent" => {
                let [arg] = args.as_slice() else {
                    return Err("encodeURIComponent takes one argument".into());
                };
                Ok(servers::encode_uri_component(&again(arg)?))
            }
            Js::Call(f, _) if f == "dirname" => Ok("/".into()),
            Js::Call(f, _) if f == "token" || f == "make_token" => Ok("TOKEN".into()),
            Js::Name(n) => {
                if let Some((_, v)) = vars.iter().find(|(k, _)| k == n) {
                    return again(v);
                }
                match n.as_str() {
                    "RESOURCES_DIR" => return Ok("../resources/".into()),
                    "location.origin" | "self.origin" => return Ok("{app}".into()),
                    _ => {}
                }
                let field = n.rsplit('.').next().unwrap_or(n);
                if n.contains("host_info") || n.starts_with("get_host_info()") {
                    return host_of(field).map(|h| h.origin().to_owned());
                }
                match js::binding(&self.script, n)? {
                    Some(v) => again(&v),
                    None => Err(format!("`{n}` is not defined in {}", self.path)),
                }
            }
            other => Err(format!("cannot evaluate `{other}`")),
        }
    }

    /// The scenario name `wpt/<file stem>/<case>`.
    pub(crate) fn name(&self, case: &str) -> String {
        let stem = self
            .path
            .rsplit('/')
            .next()
            .unwrap_or(self.path)
            .split('.')
            .next()
            .unwrap_or(self.path);
        let dir = if self.path.starts_with("cors/") {
            "cors-"
        } else {
            ""
        };
        format!("wpt/{dir}{stem}/{case}")
    }
}

/// WPT's `.sub` host templates on the suite's origins: `www1.{{host}}` (any port) is
/// the remote origin, `www2.{{host}}` a third one, `{{host}}` on the first HTTP port the
/// page's origin and on the second another origin.
fn sub_hosts(s: &str) -> String {
    s.replace("http://www1.{{host}}:{{ports[http][0]}}", "{api}")
        .replace("http://www1.{{host}}:{{ports[http][1]}}", "{api}")
        .replace("http://www2.{{host}}:{{ports[http][0]}}", "{other}")
        .replace("http://{{host}}:{{ports[http][0]}}", "{app}")
        .replace("http://{{host}}:{{ports[http][1]}}", "{other}")
}

/// A URL a test requests or redirects to, in the scenario's terms.
#[derive(Debug, Clone)]
pub(crate) struct Url {
    /// Its origin (`None`: the page's origin by a relative URL).
    pub host: Host,
    /// The last path segment: the script or file (`preflight.py`, `top.txt`).
    pub resource: String,
    /// Its query, decoded.
    pub query: servers::Query,
    /// Credentials written in the URL (`user:password`), when any.
    pub userinfo: Option<String>,
}

impl Url {
    /// Parses an evaluated URL (`{api}/../resources/preflight.py?a=b`); a URL without an
    /// origin placeholder is relative, so on `base`.
    /// A URL written `user:password@{api}/…` carries those credentials.
    pub(crate) fn parse(url: &str, base: Host) -> Result<Url, String> {
        let (userinfo, url) = match url.split_once("@{") {
            Some((u, rest)) if !u.contains('/') => (Some(u.to_owned()), format!("{{{rest}")),
            _ => (None, url.to_owned()),
        };
        let url = url.as_str();
        let (host, rest) = [Host::App, Host::Api, Host::Other]
            .into_iter()
            .find_map(|h| url.strip_prefix(h.origin()).map(|r| (h, r)))
            .unwrap_or((base, url));
        if rest.starts_with("http:") || rest.starts_with("https:") {
            return Err(format!(
                "absolute URL `{url}` on an origin the suite does not map"
            ));
        }
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        Ok(Url {
            host,
            resource: path.rsplit('/').next().unwrap_or(path).to_owned(),
            query: servers::Query::parse(query),
            userinfo,
        })
    }
}

/// A translator: a WPT file, how many tests it holds, and the function that turns it into
/// cases.
pub(crate) struct Translator {
    pub path: &'static str,
    pub tests: usize,
    pub translate: fn(&File) -> Result<Vec<Case>, String>,
}

/// Every translated file.
fn translators() -> Vec<Translator> {
    let mut all = fetch_cors::translators();
    all.extend(fetch_redirect::translators());
    all.extend(cors_dir::translators());
    all
}

/// `path → commit` from the `SOURCE-*.tsv` files in `dir`.
fn commits(dir: &Path) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("SOURCE") && name.ends_with(".tsv")) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).map_err(|e| format!("{name}: {e}"))?;
        for l in text.lines() {
            let mut f = l.split('\t');
            if let (Some(path), Some(commit)) = (f.next(), f.next())
                && commit.len() == 40
            {
                out.insert(path.to_owned(), commit.to_owned());
            }
        }
    }
    Ok(out)
}

/// The crate's directory (where `wpt/` and the README are).
fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Imports every translated file from `dir`, writes `wpt/scenarios.jsonl`, `wpt/SOURCE.md`
/// and the README's list of tests not converted; returns a summary line.
pub fn run(dir: &Path) -> Result<String, String> {
    let commits = commits(dir)?;
    let mut lines: Vec<Line> = Vec::new();
    let mut skipped: Vec<(String, String, String)> = Vec::new();
    let mut per_file: Vec<(String, String, usize, usize, usize)> = Vec::new();
    let mut errors = Vec::new();
    for t in translators() {
        let Some(commit) = commits.get(t.path) else {
            errors.push(format!("{}: no commit in SOURCE-*.tsv", t.path));
            continue;
        };
        let text = match std::fs::read_to_string(dir.join(t.path)) {
            Ok(text) => text,
            Err(e) => {
                errors.push(format!("{}: {e}", t.path));
                continue;
            }
        };
        let file = File {
            path: t.path,
            script: js::script_of(t.path, &text),
            commit: commit.clone(),
            dir: dir.to_owned(),
        };
        let cases = match (t.translate)(&file) {
            Ok(c) => c,
            Err(e) => {
                errors.push(format!("{}: {e}", t.path));
                continue;
            }
        };
        if cases.len() != t.tests {
            errors.push(format!(
                "{}: {} tests found, {} expected (did WPT change? update the translator)",
                t.path,
                cases.len(),
                t.tests
            ));
            continue;
        }
        let (mut converted, mut not) = (0, 0);
        for c in cases {
            match c {
                Case::Scenario(l) => {
                    converted += 1;
                    lines.push(*l);
                }
                Case::Skipped { test, reason } => {
                    not += 1;
                    skipped.push((t.path.to_owned(), test, reason));
                }
            }
        }
        per_file.push((t.path.to_owned(), commit.clone(), t.tests, converted, not));
    }
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    let tests_converted = lines.len();
    let lines = merge(lines)?;
    let mut jsonl = String::new();
    for l in &lines {
        let text = serde_json::to_string(l).map_err(|e| e.to_string())?;
        jsonl.push_str(&text);
        jsonl.push('\n');
    }
    let wpt_dir = crate_dir().join("wpt");
    std::fs::write(wpt_dir.join("scenarios.jsonl"), jsonl).map_err(|e| e.to_string())?;
    std::fs::write(
        wpt_dir.join("SOURCE.md"),
        source_md(&per_file, tests_converted, lines.len()),
    )
    .map_err(|e| e.to_string())?;
    write_not_converted(&skipped)?;
    Ok(format!(
        "wpt-import: {} files, {} tests: {tests_converted} converted into {} scenarios, {} not converted",
        per_file.len(),
        per_file.iter().map(|f| f.2).sum::<usize>(),
        lines.len(),
        skipped.len()
    ))
}

/// Writes identical scenarios once: a scenario WPT tests twice (in two files, or twice in
/// one) names both tests. Names stay unique.
fn merge(lines: Vec<Line>) -> Result<Vec<Line>, String> {
    let key = |l: &Line| {
        let mut k = l.clone();
        k.name.clear();
        k.sources.clear();
        k.dropped.clear();
        serde_json::to_string(&k).unwrap_or_default()
    };
    let mut out: Vec<Line> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for l in lines {
        let k = key(&l);
        if let Some(&i) = by_key.get(&k) {
            out[i].sources.extend(l.sources);
            continue;
        }
        let mut l = l;
        if names.contains_key(&l.name) {
            // Two different cases whose names read alike (`\u0001` and `@` both slug to
            // nothing): numbered in source order.
            let base = l.name.clone();
            let n = (2..)
                .find(|n| !names.contains_key(&format!("{base}-{n}")))
                .unwrap_or(2);
            l.name = format!("{base}-{n}");
        }
        names.insert(l.name.clone(), out.len());
        by_key.insert(k, out.len());
        out.push(l);
    }
    Ok(out)
}

fn source_md(
    per_file: &[(String, String, usize, usize, usize)],
    tests: usize,
    scenarios: usize,
) -> String {
    let mut s = String::from(
        "# Where `scenarios.jsonl` comes from\n\n\
         Written by `cargo run -p corsica-conformance -- --wpt-import DIR` from the\n\
         web-platform-tests files below, each read at the commit shown (the index the\n\
         files were read from holds each file at its own commit; none holds one commit of\n\
         the whole tree). Do not edit by hand.\n\n\
         | WPT file | commit | tests | converted | not converted |\n|---|---|---:|---:|---:|\n",
    );
    for (path, commit, n, c, not) in per_file {
        let _ = writeln!(s, "| `{path}` | `{}` | {n} | {c} | {not} |", &commit[..12]);
    }
    let total: usize = per_file.iter().map(|f| f.2).sum();
    let not: usize = per_file.iter().map(|f| f.4).sum();
    let _ = writeln!(
        s,
        "| **all** | | **{total}** | **{tests}** | **{not}** |\n\n\
         {tests} converted tests make **{scenarios} distinct scenarios** (a test WPT repeats\n\
         becomes one scenario naming every test it stands for)."
    );
    s
}

/// Rewrites the README's list of WPT tests not converted (between the markers).
fn write_not_converted(skipped: &[(String, String, String)]) -> Result<(), String> {
    let path = crate_dir().join("README.md");
    let readme = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    const START: &str = "<!-- wpt:not-converted -->";
    const END: &str = "<!-- /wpt:not-converted -->";
    let (Some(a), Some(b)) = (readme.find(START), readme.find(END)) else {
        return Err(format!(
            "{}: add the markers {START} and {END} where the list goes",
            path.display()
        ));
    };
    let mut table = String::from("\n| WPT file | test | why not |\n|---|---|---|\n");
    for (file, test, reason) in skipped {
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let _ = writeln!(table, "| `{file}` | {} | {} |", cell(test), cell(reason));
    }
    let text = format!("{}{START}{table}{}", &readme[..a], &readme[b..]);
    std::fs::write(&path, text).map_err(|e| e.to_string())
}
