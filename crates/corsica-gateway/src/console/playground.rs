//! The playground's JSON endpoint: a case posted by the page, judged by the browser model
//! (`corsica_doctor::playground`), with the server's answers typed in the page or given by
//! a gateway configuration: the running one, or one pasted in the page. A configuration
//! answers as `corsica serve` would (routing, the route's policy, the readable 404), with
//! `200 OK` standing for the upstream's answer.

use corsica::fetch::{HttpRequest, HttpResponse, NetworkError, Server};
use corsica_doctor::playground::{Case, run};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::config::Config;
use crate::proxy::{Routed, Shared, no_route, route_request};

/// A gateway configuration answering the browser model's requests.
struct Configured<'a> {
    config: &'a Config,
}

impl Server for Configured<'_> {
    fn send(&mut self, r: &HttpRequest) -> Result<HttpResponse, NetworkError> {
        let url = url::Url::parse(&r.url).map_err(|e| NetworkError(format!("{}: {e}", r.url)))?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(NetworkError(format!("{}: no host", r.url))),
        };
        let method = Method::from_bytes(r.method.as_bytes())
            .map_err(|_| NetworkError(format!("`{}` is not a method", r.method)))?;
        let mut headers = HeaderMap::new();
        for (n, v) in &r.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(n.as_bytes()),
                HeaderValue::from_bytes(v.as_bytes()),
            ) {
                headers.append(n, v);
            }
        }
        if let Ok(h) = HeaderValue::from_str(&host) {
            headers.insert(http::header::HOST, h);
        }
        let mut request = Request::new(());
        *request.method_mut() = method;
        *request.uri_mut() = url[url::Position::BeforePath..url::Position::AfterQuery]
            .parse()
            .map_err(|_| NetworkError(format!("{}: not a request target", r.url)))?;
        *request.headers_mut() = headers;
        let answer = |status: StatusCode, headers: &HeaderMap| {
            let mut out = HttpResponse::new(status.as_u16());
            for (n, v) in headers {
                out = out.header(n.as_str(), String::from_utf8_lossy(v.as_bytes()));
            }
            out
        };
        Ok(match route_request(self.config, &request) {
            Routed::Route(_, route) => {
                let decision = route.policy.decide(request.method(), request.headers());
                // The edge guard answers 403 before any upstream, as in the gateway.
                if route.guard()
                    && corsica::guard(request.method(), request.headers(), &decision).is_err()
                {
                    let mut h = HeaderMap::new();
                    decision.apply(&mut h);
                    return Ok(answer(StatusCode::FORBIDDEN, &h));
                }
                match decision.preflight_response(()) {
                    Some(p) => answer(p.status(), p.headers()),
                    None => {
                        let mut h = HeaderMap::new();
                        decision.apply(&mut h);
                        answer(StatusCode::OK, &h)
                    }
                }
            }
            Routed::NoRoute { .. } => {
                let r = no_route(self.config, &request);
                answer(r.status(), r.headers())
            }
            Routed::BadHost(_) | Routed::BadPath => {
                answer(StatusCode::BAD_REQUEST, &HeaderMap::new())
            }
        })
    }
}

/// Whether a pasted configuration has a `[tls]` table (or a `tls` key).
fn pasted_tls(text: &str) -> bool {
    text.parse::<toml::Table>()
        .is_ok_and(|t| t.contains_key("tls"))
}

fn error(field: &str, message: impl Into<String>) -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({"error": message.into(), "field": field}),
    )
}

/// Cases judged at once, at most (each runs on the blocking pool, so a large case never
/// holds the runtime that serves the clients).
static RUNNING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// [`answer`] on the blocking pool, two at a time.
pub(crate) async fn answer_off_runtime(
    shared: std::sync::Arc<Shared>,
    body: bytes::Bytes,
) -> (StatusCode, Value) {
    let Ok(_permit) = RUNNING.acquire().await else {
        return error("case", "the playground is stopping");
    };
    tokio::task::spawn_blocking(move || answer(&shared, &body))
        .await
        .unwrap_or_else(|_| error("case", "the case could not be judged"))
}

/// The answer to a posted case: 200 and the report, or 400 and `{error, field}` (the form
/// field to mark).
pub(crate) fn answer(shared: &Shared, body: &[u8]) -> (StatusCode, Value) {
    let case: Case = match serde_json::from_slice(body) {
        Ok(c) => c,
        Err(e) => return error("case", format!("not a playground case: {e}")),
    };
    let result = match case.answers.as_str() {
        "" | "typed" => run(&case, None),
        "gateway" => {
            let state = shared.load();
            run(
                &case,
                Some(&mut Configured {
                    config: &state.config,
                }),
            )
        }
        // The playground reads no file: a `[tls]` table names certificate files.
        "config" if pasted_tls(&case.config) => {
            return error(
                "config",
                "[tls] names files on this server, which the playground does not read: remove the [tls] table (CORS does not depend on it)",
            );
        }
        "config" => match Config::parse(&case.config, "playground.toml") {
            Ok(config) => run(&case, Some(&mut Configured { config: &config })),
            Err(errors) => {
                let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
                return error("config", text.join("\n"));
            }
        },
        other => {
            return error(
                "answers",
                format!("`{other}` is not typed, gateway or config"),
            );
        }
    };
    match result {
        Ok(v) => (StatusCode::OK, v),
        Err(e) => error(e.field(), e.to_string()),
    }
}
