//! Local Network Access, and URLs that are not HTTP(S), against real Chromium.
//!
//! The main run's pages and servers are all on loopback, where Local Network Access checks
//! nothing. This pass starts its own scenario server and its own Chromium with
//! `--ip-address-space-overrides=127.0.0.1:P1=public,127.0.0.1:P3=local`, so the first
//! port (pages, and the `{app}` target) is `public`, the third (`{other}`) `local`, and
//! the second (`{api}`) stays `loopback`; and with
//! `--host-resolver-rules=MAP *.test 127.0.0.1`, so `http://app.test:P1` is a page that is
//! not a secure context (`*.localhost` pages are). Four pages on the public port:
//!
//! - `http://app.localhost:P1`: secure, no permission (headless Chromium denies the prompt);
//! - `http://granted.localhost:P1`: `Browser.setPermission` granted `loopback-network` and
//!   `local-network`;
//! - `http://loop.localhost:P1`: granted `loopback-network` only;
//! - `http://app.test:P1`: not a secure context.
//!
//! Each scenario is compared like the main run's: Chromium's `corsError`,
//! `failedParameter` and console message (or the resolved response) with the model's,
//! and the requests the server received with those the model sent.

use std::sync::Arc;
use std::time::Instant;

use corsica::fetch::{
    AddressSpace, Credentials, FetchRequest, HttpRequest, HttpResponse, LocalNetwork, Mode,
    NetworkError, RedirectMode, simulate,
};
use serde_json::{Value, json};

use crate::scenario::{Hop, Host, Origins, Reply, Scenario};
use crate::server::ScenarioServer;
use crate::{Observed, Tab, cdp, compare, compare_requests, describe};

/// The page a scenario runs in (all on the public port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    /// Secure, no permission.
    Denied,
    /// Secure, `loopback-network` and `local-network` granted.
    Granted,
    /// Secure, `loopback-network` granted.
    LoopbackOnly,
    /// Not a secure context.
    Insecure,
    /// Secure, on the `local` port.
    Local,
    /// Not a secure context, on the `local` port.
    LocalInsecure,
}

const PAGES: [Page; 6] = [
    Page::Denied,
    Page::Granted,
    Page::LoopbackOnly,
    Page::Insecure,
    Page::Local,
    Page::LocalInsecure,
];

impl Page {
    fn host(self) -> &'static str {
        match self {
            Page::Denied => "app.localhost",
            Page::Granted => "granted.localhost",
            Page::LoopbackOnly => "loop.localhost",
            Page::Insecure => "app.test",
            Page::Local => "local.localhost",
            Page::LocalInsecure => "local.test",
        }
    }

    /// Where the page is (what the override says of its port).
    fn space(self) -> AddressSpace {
        match self {
            Page::Local | Page::LocalInsecure => AddressSpace::Local,
            _ => AddressSpace::Public,
        }
    }

    /// The permissions granted to the page, by their CDP names.
    fn granted(self) -> &'static [&'static str] {
        match self {
            Page::Granted => &["loopback-network", "local-network"],
            Page::LoopbackOnly => &["loopback-network"],
            _ => &[],
        }
    }

    fn origin(self, origins: &Origins) -> String {
        let server = match self.space() {
            AddressSpace::Local => &origins.other,
            _ => &origins.app,
        };
        let port = server.rsplit(':').next().unwrap_or_default();
        format!("http://{}:{port}", self.host())
    }
}

/// One scenario of this pass.
struct Case {
    scenario: Scenario,
    page: Page,
    /// `targetAddressSpace`, as the page passes it (`unknown` and `private` included).
    target: Option<&'static str>,
    /// A URL instead of the first hop's (`{id}` and `{page}` expanded): not HTTP(S) for
    /// the `scheme/` cases, the page's own origin for others.
    url: Option<String>,
}

impl Case {
    fn url(&self, origins: &Origins) -> String {
        match &self.url {
            Some(u) => u
                .as_str()
                .replace("{id}", &self.scenario.id.to_string())
                .replace("{page}", &self.page.origin(origins)),
            None => self.scenario.url(origins, 0),
        }
    }

    /// The page's `fetch()`: the main run's script with this case's URL and option.
    fn script(&self, origins: &Origins) -> String {
        let mut js = self.scenario.script(origins);
        let quoted = |s: String| Value::String(s).to_string();
        js = js.replacen(
            &quoted(self.scenario.url(origins, 0)),
            &quoted(self.url(origins)),
            1,
        );
        if let Some(t) = self.target {
            js = js.replacen(
                "{method: ",
                &format!("{{targetAddressSpace: {t:?}, method: "),
                1,
            );
        }
        js
    }

    /// The model's view: the page, the URL, and where everything is (Local Network Access
    /// scenarios only; the scheme ones leave it out).
    fn request(&self, origins: &Origins) -> FetchRequest {
        let page = corsica::Origin::parse(&self.page.origin(origins)).expect("the page parses");
        let mut r = self.scenario.fetch_request(origins);
        r.origin = page.clone();
        r.url = self.url(origins);
        if let Some(space) = self.target.and_then(|t| t.parse::<AddressSpace>().ok()) {
            r = r.target_address_space(space);
        }
        if self.scenario.name.starts_with("scheme/") {
            return r;
        }
        let authority = |o: &str| o.trim_start_matches("http://").to_owned();
        let mut network = LocalNetwork::for_page(&page)
            .page(self.page.space())
            .host(authority(&origins.app), AddressSpace::Public)
            .host(authority(&origins.other), AddressSpace::Local);
        for name in self.page.granted() {
            network = network.grant(match *name {
                "local-network" => AddressSpace::Local,
                _ => AddressSpace::Loopback,
            });
        }
        r.local_network(network)
    }
}

/// The answer of a target that allows any page: `*`, and `PUT` on the preflight.
fn open_hop(host: Host) -> Hop {
    Hop {
        host,
        preflight: Reply {
            status: 204,
            headers: vec![
                ("Access-Control-Allow-Origin".into(), "*".into()),
                ("Access-Control-Allow-Methods".into(), "PUT".into()),
            ],
        },
        response: Reply {
            status: 200,
            headers: vec![("Access-Control-Allow-Origin".into(), "*".into())],
        },
    }
}

/// A redirect (allowed by `*`) to the scenario's next hop on `to`.
fn redirect_hop(host: Host, to: &str) -> Hop {
    let mut hop = open_hop(host);
    hop.response.status = 302;
    hop.response
        .headers
        .push(("Location".into(), format!("{{{to}}}/s/{{id}}/1")));
    hop
}

/// Every scenario of the pass.
fn cases() -> Vec<Case> {
    use Host::{Api, App, Other};
    // (name, page, method, mode, targetAddressSpace, hops)
    type Row = (
        &'static str,
        Page,
        &'static str,
        Mode,
        Option<&'static str>,
        Vec<Hop>,
    );
    let cors = Mode::Cors;
    let rows: Vec<Row> = vec![
        // Secure public page, no permission.
        (
            "denied loopback",
            Page::Denied,
            "GET",
            cors,
            None,
            vec![open_hop(Api)],
        ),
        (
            "denied local",
            Page::Denied,
            "GET",
            cors,
            None,
            vec![open_hop(Other)],
        ),
        (
            "denied preflight",
            Page::Denied,
            "PUT",
            cors,
            None,
            vec![open_hop(Api)],
        ),
        (
            "denied no-cors",
            Page::Denied,
            "GET",
            Mode::NoCors,
            None,
            vec![open_hop(Api)],
        ),
        (
            "denied public",
            Page::Denied,
            "GET",
            cors,
            None,
            vec![open_hop(App)],
        ),
        (
            "denied redirect",
            Page::Denied,
            "GET",
            cors,
            None,
            vec![redirect_hop(App, "api"), open_hop(Api)],
        ),
        (
            "target public on loopback",
            Page::Denied,
            "GET",
            cors,
            Some("public"),
            vec![open_hop(Api)],
        ),
        (
            "target local on loopback",
            Page::Denied,
            "GET",
            cors,
            Some("local"),
            vec![open_hop(Api)],
        ),
        (
            "target private on loopback",
            Page::Denied,
            "GET",
            cors,
            Some("private"),
            vec![open_hop(Api)],
        ),
        (
            "target loopback on loopback",
            Page::Denied,
            "GET",
            cors,
            Some("loopback"),
            vec![open_hop(Api)],
        ),
        (
            "target unknown on loopback",
            Page::Denied,
            "GET",
            cors,
            Some("unknown"),
            vec![open_hop(Api)],
        ),
        (
            "target public on public",
            Page::Denied,
            "GET",
            cors,
            Some("public"),
            vec![open_hop(App)],
        ),
        (
            "own origin target local (exempt)",
            Page::Denied,
            "GET",
            cors,
            Some("local"),
            vec![open_hop(App)],
        ),
        (
            "target public, redirect to loopback",
            Page::Denied,
            "GET",
            cors,
            Some("public"),
            vec![redirect_hop(App, "api"), open_hop(Api)],
        ),
        // Secure public page, both permissions.
        (
            "granted loopback",
            Page::Granted,
            "GET",
            cors,
            None,
            vec![open_hop(Api)],
        ),
        (
            "granted local",
            Page::Granted,
            "GET",
            cors,
            None,
            vec![open_hop(Other)],
        ),
        (
            "granted preflight",
            Page::Granted,
            "PUT",
            cors,
            None,
            vec![open_hop(Api)],
        ),
        (
            "granted redirect",
            Page::Granted,
            "GET",
            cors,
            None,
            vec![redirect_hop(App, "api"), open_hop(Api)],
        ),
        (
            "granted target loopback",
            Page::Granted,
            "GET",
            cors,
            Some("loopback"),
            vec![open_hop(Api)],
        ),
        (
            "granted target local on loopback",
            Page::Granted,
            "GET",
            cors,
            Some("local"),
            vec![open_hop(Api)],
        ),
        (
            "granted target local on local",
            Page::Granted,
            "GET",
            cors,
            Some("local"),
            vec![open_hop(Other)],
        ),
        (
            "granted target local on public",
            Page::Granted,
            "GET",
            cors,
            Some("local"),
            vec![open_hop(App)],
        ),
        // Secure public page, `loopback-network` only.
        (
            "loopback-only loopback",
            Page::LoopbackOnly,
            "GET",
            cors,
            None,
            vec![open_hop(Api)],
        ),
        (
            "loopback-only local",
            Page::LoopbackOnly,
            "GET",
            cors,
            None,
            vec![open_hop(Other)],
        ),
        // Public page that is not a secure context.
        (
            "insecure loopback",
            Page::Insecure,
            "GET",
            cors,
            None,
            vec![open_hop(Api)],
        ),
        (
            "insecure local",
            Page::Insecure,
            "GET",
            cors,
            None,
            vec![open_hop(Other)],
        ),
        (
            "insecure preflight",
            Page::Insecure,
            "PUT",
            cors,
            None,
            vec![open_hop(Api)],
        ),
        (
            "insecure no-cors",
            Page::Insecure,
            "GET",
            Mode::NoCors,
            None,
            vec![open_hop(Api)],
        ),
        (
            "insecure public",
            Page::Insecure,
            "GET",
            cors,
            None,
            vec![open_hop(App)],
        ),
        (
            "insecure target local on loopback",
            Page::Insecure,
            "GET",
            cors,
            Some("local"),
            vec![open_hop(Api)],
        ),
        (
            "insecure target loopback",
            Page::Insecure,
            "GET",
            cors,
            Some("loopback"),
            vec![open_hop(Api)],
        ),
        (
            "insecure own origin target local",
            Page::Insecure,
            "GET",
            cors,
            Some("local"),
            vec![open_hop(App)],
        ),
        (
            "insecure redirect",
            Page::Insecure,
            "GET",
            cors,
            None,
            vec![redirect_hop(App, "api"), open_hop(Api)],
        ),
        // Pages on the local network: Chromium 156 checks neither local → loopback nor
        // local → local (only `targetAddressSpace`).
        (
            "local page to loopback",
            Page::Local,
            "GET",
            cors,
            None,
            vec![open_hop(Api)],
        ),
        (
            "local page to loopback preflight",
            Page::Local,
            "PUT",
            cors,
            None,
            vec![open_hop(Api)],
        ),
        (
            "local page to public",
            Page::Local,
            "GET",
            cors,
            None,
            vec![open_hop(App)],
        ),
        (
            "local page target public on loopback",
            Page::Local,
            "GET",
            cors,
            Some("public"),
            vec![open_hop(Api)],
        ),
        (
            "insecure local page to loopback",
            Page::LocalInsecure,
            "GET",
            cors,
            None,
            vec![open_hop(Api)],
        ),
        (
            "insecure local page to local",
            Page::LocalInsecure,
            "GET",
            cors,
            None,
            vec![open_hop(Other)],
        ),
    ];
    // Which rows fetch the page's own origin (the first hop on `{page}`, not `{app}`).
    let own_origin = |name: &str| name.contains("own origin");
    let mut out: Vec<Case> = Vec::new();
    for (name, page, method, mode, target, hops) in rows {
        let id = out.len();
        out.push(Case {
            scenario: scenario(
                id,
                format!("lna/{name}"),
                method,
                mode,
                RedirectMode::Follow,
                hops,
            ),
            page,
            target,
            url: own_origin(name).then(|| "{page}/s/{id}/0".to_owned()),
        });
    }
    // URLs that are not HTTP(S), from the secure page (renderer-side, before any LNA check).
    let schemes: [(&str, &str, Mode, RedirectMode); 9] = [
        (
            "ftp",
            "ftp://ftp.example/s/{id}/0",
            Mode::Cors,
            RedirectMode::Follow,
        ),
        (
            "ws",
            "ws://ws.example/s/{id}/0",
            Mode::Cors,
            RedirectMode::Follow,
        ),
        (
            "custom",
            "web+corsica://x/s/{id}/0",
            Mode::Cors,
            RedirectMode::Follow,
        ),
        (
            "ftp no-cors",
            "ftp://ftp.example/s/{id}/0",
            Mode::NoCors,
            RedirectMode::Follow,
        ),
        (
            "ftp same-origin",
            "ftp://ftp.example/s/{id}/0",
            Mode::SameOrigin,
            RedirectMode::Follow,
        ),
        (
            "ftp no-cors manual",
            "ftp://ftp.example/s/{id}/0",
            Mode::NoCors,
            RedirectMode::Manual,
        ),
        (
            "data",
            "data:text/plain,s/{id}/0",
            Mode::Cors,
            RedirectMode::Follow,
        ),
        (
            "data same-origin",
            "data:text/plain,s/{id}/0",
            Mode::SameOrigin,
            RedirectMode::Follow,
        ),
        ("file", "file:///s/{id}/0", Mode::Cors, RedirectMode::Follow),
    ];
    for (name, url, mode, redirect) in schemes {
        let id = out.len();
        out.push(Case {
            scenario: scenario(
                id,
                format!("scheme/{name}"),
                "GET",
                mode,
                redirect,
                vec![open_hop(Api)],
            ),
            page: Page::Denied,
            target: None,
            url: Some(url.to_owned()),
        });
    }
    out
}

fn scenario(
    id: usize,
    name: String,
    method: &str,
    mode: Mode,
    redirect: RedirectMode,
    hops: Vec<Hop>,
) -> Scenario {
    Scenario {
        id,
        name,
        method: method.to_owned(),
        headers: Vec::new(),
        credentials: Credentials::Omit,
        redirect,
        mode,
        hops,
        before: Vec::new(),
    }
}

/// The addresses this machine sends from (what the kernel picks toward a documentation
/// address), other than loopback, each with a listener that accepts connections and never
/// answers: Chromium resolves their address space without an override, and a
/// `targetAddressSpace` of `loopback` makes it refuse after connecting, naming the space.
fn machine_addresses() -> Vec<(std::net::TcpListener, std::net::SocketAddr)> {
    ["198.51.100.1:9", "[2001:db8::1]:9"]
        .iter()
        .filter_map(|toward| {
            let any = if toward.starts_with('[') {
                "[::]:0"
            } else {
                "0.0.0.0:0"
            };
            let probe = std::net::UdpSocket::bind(any).ok()?;
            probe.connect(toward).ok()?;
            let ip = probe.local_addr().ok()?.ip();
            if ip.is_loopback() || ip.is_unspecified() {
                return None;
            }
            let listener = std::net::TcpListener::bind((ip, 0)).ok()?;
            let addr = listener.local_addr().ok()?;
            Some((listener, addr))
        })
        .collect()
}

/// The names of the pass's scenarios (for `--list`).
pub fn names() -> Vec<String> {
    cases().into_iter().map(|c| c.scenario.name).collect()
}

/// Runs the pass's scenarios whose name contains `filter` in their own Chromium; returns
/// (scenarios, disagreements).
pub async fn run(
    binary: &std::path::Path,
    filter: Option<&str>,
    verbose: bool,
) -> Result<(usize, usize), String> {
    let mut all = cases();
    // The machine's own addresses, checked without an override (kept bound until the end).
    let machine = machine_addresses();
    for (_, addr) in &machine {
        let id = all.len();
        all.push(Case {
            scenario: scenario(
                id,
                format!("lna/machine address {} target loopback", addr.ip()),
                "GET",
                Mode::Cors,
                RedirectMode::Follow,
                vec![open_hop(Host::Api)],
            ),
            page: Page::Denied,
            target: Some("loopback"),
            url: Some(format!("http://{addr}/s/{{id}}/0")),
        });
    }
    let selected: Vec<usize> = (0..all.len())
        .filter(|&i| filter.is_none_or(|f| all[i].scenario.name.contains(f)))
        .collect();
    if selected.is_empty() {
        return Ok((0, 0));
    }
    let started = Instant::now();
    let scenarios = Arc::new(all.iter().map(|c| c.scenario.clone()).collect::<Vec<_>>());
    let server = ScenarioServer::start(scenarios)
        .await
        .map_err(|e| format!("cannot start the Local Network Access server: {e}"))?;
    let origins = server.origins.clone();
    let port = |o: &str| o.rsplit(':').next().unwrap_or_default().to_owned();
    let flags = vec![
        format!(
            "--ip-address-space-overrides=127.0.0.1:{}=public,127.0.0.1:{}=local",
            port(&origins.app),
            port(&origins.other)
        ),
        "--host-resolver-rules=MAP *.test 127.0.0.1".to_owned(),
    ];
    let browser = Arc::new(cdp::Browser::launch_with(binary, &flags).await?);
    for page in PAGES {
        for name in page.granted() {
            browser
                .call(
                    None,
                    "Browser.setPermission",
                    json!({"permission": {"name": name}, "setting": "granted", "origin": page.origin(&origins)}),
                )
                .await?;
        }
    }
    let cases = Arc::new(all);
    let mut workers = Vec::new();
    for page in PAGES {
        let mine: Vec<usize> = selected
            .iter()
            .copied()
            .filter(|&i| cases[i].page == page)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let (browser, cases, origins) = (browser.clone(), cases.clone(), origins.clone());
        workers.push(tokio::spawn(async move {
            let page_origin = page.origin(&origins);
            let mut tab = Tab::open_at(&browser, &page_origin).await?;
            let mut observed = Vec::new();
            for i in mine {
                let c = &cases[i];
                let o = tab
                    .run_script(&browser, c.scenario.id, &c.script(&origins))
                    .await;
                observed.push((i, o));
            }
            Ok::<_, String>(observed)
        }));
    }
    let mut results = Vec::new();
    for w in workers {
        results.extend(
            w.await
                .map_err(|e| format!("a Local Network Access tab panicked: {e}"))??,
        );
    }
    let version = browser.version.clone();
    if let Ok(b) = Arc::try_unwrap(browser) {
        b.close().await;
    }
    results.sort_by_key(|(i, _)| *i);
    let log = server.log.lock().map_err(|_| "poisoned")?.clone();
    let mut disagreements = 0;
    let mut messages = 0;
    for (i, observed) in &results {
        let c = &cases[*i];
        let s = &c.scenario;
        let mut respond = |r: &HttpRequest| -> Result<HttpResponse, NetworkError> {
            match crate::hop_of(&r.url) {
                Some(hop) => Ok(s.respond(&origins, hop, r.preflight)),
                None => Ok(HttpResponse::new(404)),
            }
        };
        let model = simulate(&c.request(&origins), &mut respond, None);
        let observed = observed.clone().unwrap_or_else(|e| Observed::Failed {
            error: format!("harness error: {e}"),
        });
        if matches!(
            &observed,
            Observed::Cors {
                message: Some(_),
                ..
            }
        ) {
            messages += 1;
        }
        let mut problems = compare(&model.verdict, &observed, s, &origins);
        problems.extend(compare_requests(&model.steps, &log[s.id], s, &origins));
        if problems.is_empty() {
            if verbose {
                println!("ok   #{} {}: {}", s.id, s.name, model.verdict);
            }
            continue;
        }
        disagreements += 1;
        println!(
            "DISAGREE #{} {} (page {})",
            s.id,
            s.name,
            c.page.origin(&origins)
        );
        println!("  chromium: {}", describe(&observed));
        println!("  model:    {}", model.verdict);
        for p in problems {
            println!("  - {p}");
        }
    }
    eprintln!(
        "conformance: Local Network Access and schemes: {} scenarios ({messages} console messages compared) against {version} with {} in {:.1}s, {disagreements} disagreements",
        results.len(),
        flags.join(" "),
        started.elapsed().as_secs_f64()
    );
    Ok((results.len(), disagreements))
}
