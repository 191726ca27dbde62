//! The scenario server: serves the page on the app origin and every scenario's hops on the
//! app, API and other origins (three loopback ports; Chromium resolves `*.localhost` to
//! loopback), and logs what the browser sent.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::scenario::{Host, Origins, Scenario};

/// One request the server received for a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The hop index.
    pub hop: usize,
    /// Which origin it reached.
    pub host: Host,
    /// The method.
    pub method: String,
    /// `Origin`, if sent.
    pub origin: Option<String>,
    /// `Access-Control-Request-Method`, if sent.
    pub acrm: Option<String>,
    /// `Access-Control-Request-Headers`, if sent.
    pub acrh: Option<String>,
    /// `Sec-Fetch-Site`, if sent.
    pub site: Option<String>,
}

/// Requests received, by scenario id.
pub type Log = Arc<Mutex<Vec<Vec<Received>>>>;

/// The running server.
pub struct ScenarioServer {
    /// The three origins.
    pub origins: Origins,
    /// What the browser sent.
    pub log: Log,
}

const PAGE: &str = "<!doctype html><html><head><meta charset=utf-8><title>corsica conformance</title></head><body>corsica conformance page</body></html>";

impl ScenarioServer {
    /// Binds three loopback ports and serves `scenarios` until the runtime stops.
    pub async fn start(scenarios: Arc<Vec<Scenario>>) -> std::io::Result<ScenarioServer> {
        let mut listeners = Vec::new();
        for _ in 0..3 {
            listeners.push(TcpListener::bind("127.0.0.1:0").await?);
        }
        let port = |i: usize| listeners[i].local_addr().map(|a: SocketAddr| a.port());
        let origins = Origins {
            app: format!("http://app.localhost:{}", port(0)?),
            api: format!("http://api.localhost:{}", port(1)?),
            other: format!("http://other.localhost:{}", port(2)?),
        };
        let log: Log = Arc::new(Mutex::new(vec![Vec::new(); scenarios.len()]));
        for (listener, host) in listeners
            .into_iter()
            .zip([Host::App, Host::Api, Host::Other])
        {
            let scenarios = scenarios.clone();
            let origins = origins.clone();
            let log = log.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let scenarios = scenarios.clone();
                    let origins = origins.clone();
                    let log = log.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req: Request<Incoming>| {
                            let response = handle(&req, host, &scenarios, &origins, &log);
                            async move { Ok::<_, Infallible>(response) }
                        });
                        // A header line hyper would refuse (a value with a control byte
                        // such as `\x01`, which browsers send) is skipped rather than
                        // answered 400: the scenario's reply stays what the model judges.
                        let _ = http1::Builder::new()
                            .ignore_invalid_headers(true)
                            .serve_connection(
                                TokioIo::new(crate::raw_bytes::RawBytes::new(stream)),
                                service,
                            )
                            .await;
                    });
                }
            });
        }
        Ok(ScenarioServer { origins, log })
    }
}

fn handle(
    req: &Request<Incoming>,
    host: Host,
    scenarios: &[Scenario],
    origins: &Origins,
    log: &Log,
) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    // The page, on every origin (Local Network Access runs pages on the `local` port too).
    if path == "/" {
        let mut r = Response::new(Full::new(Bytes::from_static(PAGE.as_bytes())));
        r.headers_mut().insert(
            "content-type",
            http::HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return r;
    }
    let mut parts = path.trim_start_matches('/').split('/');
    let (Some("s"), Some(id), Some(hop)) = (parts.next(), parts.next(), parts.next()) else {
        return status(404);
    };
    let Ok(id) = id.parse::<usize>() else {
        return status(404);
    };
    // A hop that is not a number (WebKit joins two `Location` lines into one URL) is
    // logged as hop 99 and answered 404, as the model's server does.
    let hop = hop.parse::<usize>().unwrap_or(99);
    let Some(scenario) = scenarios.get(id) else {
        return status(404);
    };
    let header = |name: &str| -> Option<String> {
        let mut values = req
            .headers()
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let first = values.next()?;
        Some(values.fold(first, |acc, v| acc + ", " + &v))
    };
    let preflight = req.method() == http::Method::OPTIONS;
    let received = Received {
        hop,
        host,
        method: req.method().as_str().to_owned(),
        origin: header("origin"),
        acrm: header("access-control-request-method"),
        acrh: header("access-control-request-headers"),
        site: header("sec-fetch-site"),
    };
    // The reply echoes what the request asked, as the log recorded it.
    let model = scenario.respond_asked(
        origins,
        hop,
        preflight,
        &crate::scenario::Asked {
            acrm: received.acrm.as_deref(),
            acrh: received.acrh.as_deref(),
            origin: received.origin.as_deref(),
        },
    );
    if let Ok(mut log) = log.lock() {
        log[id].push(received);
    }
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() =
        http::StatusCode::from_u16(model.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &model.headers {
        // A byte hyper refuses (NUL) goes out as a marker the connection replaces.
        let value = crate::raw_bytes::mark(value).unwrap_or_else(|| value.clone());
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    response
}

fn status(code: u16) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::NOT_FOUND);
    r
}
