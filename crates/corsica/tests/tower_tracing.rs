//! The tower layer logs every denial with its reason. Alone in its test binary: `tracing`
//! caches each callsite's interest process-wide, so a test elsewhere in the same binary that
//! hits the callsite with no subscriber could hide the events from this one.

use std::convert::Infallible;
use std::io::Write;
use std::sync::{Arc, Mutex};

use corsica::Policy;
use corsica::tower::CorsLayer;
use http::{Request, Response};
use tower::{Layer, ServiceExt, service_fn};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn denials_are_traced_with_their_reason() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .init();
    let policy = Policy::builder()
        .allow_origins(["https://app.example.com"])
        .allow_methods(["GET", "PUT"])
        .allow_headers(["content-type"])
        .build()
        .unwrap();
    let app = CorsLayer::new(policy).layer(service_fn(|_: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    }));
    let preflight = Request::options("/items")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "x-secret")
        .body(String::new())
        .unwrap();
    app.clone().oneshot(preflight).await.unwrap();
    let actual = Request::get("/items")
        .header("origin", "https://evil.example")
        .body(String::new())
        .unwrap();
    app.oneshot(actual).await.unwrap();

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for line in [
        "kind=\"preflight\"",
        "reason=\"header_not_allowed\"",
        "request header `x-secret` is not allowed",
        "reason=\"origin_not_allowed\"",
        "origin `https://evil.example` is not allowed",
    ] {
        assert!(log.contains(line), "{line} in {log}");
    }
}
