//! The tower layer over a real axum router: preflights answered by the layer, headers on
//! every actual response (errors included), upstream CORS headers replaced, bodies left
//! streaming, denials traced, and policies swapped under load without dropping a request.
#![cfg(feature = "tower")]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use corsica::Policy;
use corsica::tower::CorsLayer;
use corsica_testkit::headers::ACAO;
use corsica_testkit::raw;
use http_body_util::BodyExt;
use tower::ServiceExt;

const APP: &str = "https://app.example.com";
const EVIL: &str = "https://evil.example";

fn policy() -> Policy {
    Policy::builder()
        .allow_origins([APP])
        .allow_credentials(true)
        .allow_methods(["GET", "POST", "PUT", "DELETE"])
        .allow_headers(["content-type", "x-api-key"])
        .expose_headers(["x-request-id"])
        .max_age_secs(600)
        .build()
        .unwrap()
}

fn app(calls: Arc<AtomicUsize>) -> (Router, CorsLayer) {
    let layer = CorsLayer::new(policy());
    let counted = move |body: &'static str| {
        let calls = calls.clone();
        move || {
            let calls = calls.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                ([("x-request-id", "r-1")], body)
            }
        }
    };
    let router = Router::new()
        .route(
            "/items",
            get(counted("[]"))
                .post(counted("created"))
                .options(counted("inner options")),
        )
        .route(
            "/boom",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/upstream-cors",
            get(|| async {
                (
                    [
                        (ACAO, "*"),
                        ("access-control-allow-credentials", "false"),
                        ("vary", "Accept-Encoding"),
                    ],
                    "reflected",
                )
            }),
        )
        .layer(layer.clone());
    (router, layer)
}

fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(Body::empty()).unwrap()
}

/// Sends a bodiless request through (a clone of) `router`.
async fn call(router: &Router, method: &str, uri: &str, headers: &[(&str, &str)]) -> Response {
    router
        .clone()
        .oneshot(request(method, uri, headers))
        .await
        .unwrap()
}

async fn body_text(r: Response) -> String {
    String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn preflight_is_answered_by_the_layer() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (router, _) = app(calls.clone());
    let r = call(
        &router,
        "OPTIONS",
        "/items",
        &[
            ("origin", APP),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "content-type,x-api-key"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let h = r.headers();
    assert_eq!(h[ACAO], APP);
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(h["access-control-allow-methods"], "GET, POST, PUT, DELETE");
    assert_eq!(h["access-control-allow-headers"], "content-type, x-api-key");
    assert_eq!(h["access-control-max-age"], "600");
    assert_eq!(
        h["vary"],
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    );
    assert_eq!(body_text(r).await, "");

    let denied = call(
        &router,
        "OPTIONS",
        "/items",
        &[("origin", EVIL), ("access-control-request-method", "PUT")],
    )
    .await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert!(denied.headers().get(ACAO).is_none());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "preflights never reach the handler"
    );

    // OPTIONS without Access-Control-Request-Method is an ordinary request.
    let plain = call(&router, "OPTIONS", "/items", &[]).await;
    assert_eq!(body_text(plain).await, "inner options");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn actual_responses_get_headers_including_errors() {
    let (router, _) = app(Arc::new(AtomicUsize::new(0)));
    let origin = [("origin", APP)];
    for (uri, status) in [("/items", 200), ("/boom", 500), ("/no-such-route", 404)] {
        let r = call(&router, "GET", uri, &origin).await;
        assert_eq!(r.status().as_u16(), status, "{uri}");
        assert_eq!(r.headers()[ACAO], APP, "{uri}");
        assert_eq!(
            r.headers()["access-control-allow-credentials"],
            "true",
            "{uri}"
        );
        assert_eq!(
            r.headers()["access-control-expose-headers"],
            "x-request-id",
            "{uri}"
        );
        assert_eq!(r.headers()["vary"], "Origin", "{uri}");
    }
    // Denied actual request: the handler runs (CORS cannot stop a simple request), the
    // browser gets no CORS headers.
    let r = call(&router, "GET", "/items", &[("origin", EVIL)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get(ACAO).is_none());
    assert_eq!(r.headers()["vary"], "Origin");
    // No Origin: untouched but for Vary.
    let r = call(&router, "GET", "/items", &[]).await;
    assert!(r.headers().get(ACAO).is_none());
    assert_eq!(r.headers()["vary"], "Origin");
}

#[tokio::test]
async fn upstream_cors_headers_are_replaced() {
    let (router, _) = app(Arc::new(AtomicUsize::new(0)));
    let r = call(&router, "GET", "/upstream-cors", &[("origin", APP)]).await;
    assert_eq!(r.headers().get_all(ACAO).iter().count(), 1);
    assert_eq!(r.headers()[ACAO], APP);
    assert_eq!(r.headers()["access-control-allow-credentials"], "true");
    assert_eq!(r.headers()["vary"], "Accept-Encoding, Origin");
    // And a denied origin does not inherit the handler's `*`.
    let r = call(&router, "GET", "/upstream-cors", &[("origin", EVIL)]).await;
    assert!(r.headers().get(ACAO).is_none());
}

/// A response body fed by a channel: it produces a frame only when the test sends one.
struct ChannelBody(tokio::sync::mpsc::Receiver<&'static str>);

impl http_body::Body for ChannelBody {
    type Data = axum::body::Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.0.poll_recv(cx).map(|chunk| {
            chunk.map(|c| {
                Ok(http_body::Frame::data(axum::body::Bytes::from_static(
                    c.as_bytes(),
                )))
            })
        })
    }
}

#[tokio::test]
async fn bodies_keep_streaming() {
    let (tx, rx) = tokio::sync::mpsc::channel::<&'static str>(1);
    let rx = Arc::new(Mutex::new(Some(rx)));
    let router = Router::new()
        .route(
            "/stream",
            get(move || {
                let rx = rx.lock().unwrap().take().unwrap();
                async move { Body::new(ChannelBody(rx)).into_response() }
            }),
        )
        .layer(CorsLayer::new(policy()));
    let r = call(&router, "GET", "/stream", &[("origin", APP)]).await;
    // The head arrived while the body has not produced anything yet.
    assert_eq!(r.headers()[ACAO], APP);
    let mut body = r.into_body();
    tx.send("first").await.unwrap();
    let frame = body.frame().await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), "first");
    tx.send("second").await.unwrap();
    drop(tx);
    let rest = body.collect().await.unwrap().to_bytes();
    assert_eq!(rest, "second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_swaps_under_load_over_real_sockets() {
    let (router, layer) = app(Arc::new(AtomicUsize::new(0)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let preflight = |origin: &str| {
        format!(
            "OPTIONS /items HTTP/1.1\r\nhost: api.example.com\r\norigin: {origin}\r\n\
             access-control-request-method: PUT\r\nconnection: close\r\n\r\n"
        )
    };
    let head = raw::text(addr, &preflight(APP)).await;
    assert!(head.starts_with("http/1.1 204"), "{head}");
    assert!(
        head.contains("access-control-allow-origin: https://app.example.com\r\n"),
        "{head}"
    );

    let handle = layer.handle();
    let a = policy();
    let b = Policy::builder()
        .allow_origins([APP, "https://new.example.com"])
        .allow_methods(["GET", "PUT"])
        .build()
        .unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::SeqCst) {
                handle.store(if n % 2 == 0 { b.clone() } else { a.clone() });
                n += 1;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            n
        })
    };
    // 300 requests during the swaps: each one answered, and always allowed for the origin
    // both policies trust.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let req = preflight(APP);
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for _ in 0..75 {
                let head = raw::text(addr, &req).await;
                assert!(head.starts_with("http/1.1 204"), "{head}");
                assert!(head.contains("access-control-allow-origin: https://app.example.com\r\n"));
                ok += 1;
            }
            ok
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    let swaps = swapper.await.unwrap();
    assert_eq!(total, 300);
    assert!(swaps > 2, "the policy was swapped during the run ({swaps})");

    // After a final swap, the new policy decides.
    layer.handle().store(
        Policy::builder()
            .allow_origins(["https://new.example.com"])
            .build()
            .unwrap(),
    );
    let head = raw::text(addr, &preflight(APP)).await;
    assert!(head.starts_with("http/1.1 403"), "{head}");
    let head = raw::text(addr, &raw::get("/items", "https://new.example.com")).await;
    assert!(
        head.contains("access-control-allow-origin: https://new.example.com\r\n"),
        "{head}"
    );
    server.abort();
}
