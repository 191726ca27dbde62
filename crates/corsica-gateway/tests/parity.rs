//! The tower layer and the gateway answer the same preflights with the same bytes: both
//! call the engine's `preflight_method` and `Decision::preflight_response`, and this test
//! proves that no face adds or changes a status or a CORS header of its own.

use std::convert::Infallible;

use bytes::Bytes;
use corsica::tower::CorsLayer;
use corsica_gateway::config::Config;
use corsica_gateway::gateway;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Layer, ServiceExt, service_fn};

/// Two routes: one with the default statuses (none configured), one with its own.
const CONFIG: &str = r#"
listen = "127.0.0.1:0"

[[route]]
name = "defaults"
path = "/defaults"
upstream = "echo"
[route.cors]
origins = ["https://app.example", "https://*.tenant.example"]
credentials = true
methods = ["GET", "PUT"]
headers = ["content-type", "x-api-key"]
expose = ["x-request-id"]
max_age = 600

[[route]]
name = "statuses"
path = "/statuses"
upstream = "echo"
[route.cors]
origins = ["*"]
headers = ["*"]
preflight_status = 200
denied_preflight_status = 400
"#;

/// One preflight: (description, Origin lines, ACRM bytes, ACRH).
type Case = (
    &'static str,
    Vec<&'static [u8]>,
    Option<&'static [u8]>,
    Option<&'static str>,
);

/// The preflights.
fn preflights() -> Vec<Case> {
    vec![
        (
            "allowed",
            vec![b"https://app.example"],
            Some(b"PUT"),
            Some("x-api-key"),
        ),
        (
            "allowed by pattern",
            vec![b"https://a.tenant.example"],
            Some(b"GET"),
            None,
        ),
        (
            "origin denied",
            vec![b"https://evil.example"],
            Some(b"PUT"),
            None,
        ),
        (
            "method denied",
            vec![b"https://app.example"],
            Some(b"DELETE"),
            None,
        ),
        (
            "header denied",
            vec![b"https://app.example"],
            Some(b"PUT"),
            Some("x-secret"),
        ),
        (
            "non-ASCII method",
            vec![b"https://app.example"],
            Some(b"P\xc3\xbcT"),
            None,
        ),
        (
            "method not a token",
            vec![b"https://app.example"],
            Some(b"P T"),
            None,
        ),
        ("null origin", vec![b"null"], Some(b"PUT"), None),
        (
            "malformed origin",
            vec![b"https://app.example/path"],
            Some(b"PUT"),
            None,
        ),
        (
            "two origins",
            vec![b"https://app.example", b"https://app.example"],
            Some(b"PUT"),
            None,
        ),
        (
            "bad header list",
            vec![b"https://app.example"],
            Some(b"PUT"),
            Some("x-api-key,,"),
        ),
        // Not preflights: OPTIONS without ACRM, and without Origin.
        (
            "plain OPTIONS with Origin",
            vec![b"https://app.example"],
            None,
            None,
        ),
        ("OPTIONS without Origin", vec![], Some(b"PUT"), None),
    ]
}

fn request(
    path: &str,
    origins: &[&[u8]],
    acrm: Option<&[u8]>,
    acrh: Option<&str>,
) -> Request<Empty<Bytes>> {
    let mut r = Request::builder().method(Method::OPTIONS).uri(path);
    for o in origins {
        r = r.header("origin", HeaderValue::from_bytes(o).unwrap());
    }
    if let Some(m) = acrm {
        r = r.header(
            "access-control-request-method",
            HeaderValue::from_bytes(m).unwrap(),
        );
    }
    if let Some(h) = acrh {
        r = r.header("access-control-request-headers", h);
    }
    r.body(Empty::new()).unwrap()
}

/// The status and every CORS-relevant header line, in order.
fn cors_view(status: StatusCode, headers: &HeaderMap) -> (u16, Vec<(String, Vec<u8>)>) {
    let mut lines: Vec<(String, Vec<u8>)> = headers
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("access-control-") || *n == "vary")
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    lines.sort();
    (status.as_u16(), lines)
}

#[tokio::test]
async fn layer_and_gateway_send_the_same_preflight_answers() {
    let config = Config::parse(CONFIG, "parity.toml").unwrap_or_else(|e| panic!("{e}"));
    let policies: Vec<(String, corsica::Policy)> = config
        .routes()
        .iter()
        .map(|r| (r.path().unwrap().to_owned(), r.policy().clone()))
        .collect();
    let running = gateway::start(config, None).await.unwrap();
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();

    let mut compared = 0;
    let mut statuses = std::collections::BTreeSet::new();
    for (path, policy) in &policies {
        // The application behind the layer answers 299 so that a request reaching it shows.
        let app =
            CorsLayer::new(policy.clone()).layer(service_fn(|_req: Request<Empty<Bytes>>| async {
                let mut r = Response::new(Empty::<Bytes>::new());
                *r.status_mut() = StatusCode::from_u16(299).unwrap();
                Ok::<_, Infallible>(r)
            }));
        for (what, origins, acrm, acrh) in preflights() {
            let layer = app
                .clone()
                .oneshot(request(path, &origins, acrm, acrh))
                .await
                .unwrap();
            let mut to_gateway = request(
                &format!("http://{}{path}", running.addr),
                &origins,
                acrm,
                acrh,
            );
            *to_gateway.uri_mut() = format!("http://{}{path}", running.addr).parse().unwrap();
            let gw = client.request(to_gateway).await.unwrap();
            let is_preflight = layer.status().as_u16() != 299;
            let layer_view = cors_view(layer.status(), layer.headers());
            if is_preflight {
                let gw_view = cors_view(gw.status(), gw.headers());
                assert_eq!(layer_view, gw_view, "{path}: {what}");
                statuses.insert(layer_view.0);
                compared += 1;
            } else {
                // Not a preflight: the layer passed it on, and the gateway proxied it (the
                // echo upstream answers 200) with the same CORS headers.
                assert_eq!(gw.status(), StatusCode::OK, "{path}: {what}");
                assert_eq!(
                    layer_view.1,
                    cors_view(gw.status(), gw.headers()).1,
                    "{path}: {what}"
                );
            }
            let _ = gw.into_body().collect().await;
        }
    }
    assert_eq!(
        compared,
        2 * 11,
        "every preflight reached both faces as a preflight"
    );
    // Default and configured statuses both occurred: 204/403 and 200/400.
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        [200, 204, 400, 403]
    );
    running.shutdown().await;
}
