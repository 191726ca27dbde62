//! Findings 6 and 7 of issue 14: what the client got wrong is a client error (400), never
//! an upstream error. A malformed chunked request body was answered 502 "the upstream is
//! unreachable" and counted as an upstream connect error; an HTTP/1.1 request without
//! `Host` was forwarded. Raw sockets send the exact bytes.

use corsica_testkit::free_port;
use corsica_testkit::gateway::{APP, app_gateway, assert_sample};
use corsica_testkit::headers::ACAO;
use corsica_testkit::raw;
use corsica_testkit::server::{Reply, Seen, TestServer};

/// An upstream that answers 200 `got <n> bytes`.
async fn upstream() -> TestServer {
    TestServer::start(|s: &Seen| Reply::ok(format!("got {} bytes\n", s.body.len()))).await
}

/// A chunked POST from [`APP`] whose body is `body` as it is.
fn chunked_post(body: &str) -> String {
    format!(
        "POST /upload HTTP/1.1\r\nhost: a\r\norigin: {APP}\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n{body}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_request_body_is_a_client_error() {
    let up = upstream().await;
    let gw = app_gateway(up.addr(), "upstream_timeout_ms = 5000").await;
    // A well-formed chunked body goes through.
    let ok = raw::exchange(gw.addr, chunked_post("5\r\nhello\r\n0\r\n\r\n")).await;
    assert_eq!(ok.status, 200, "{ok:?}");

    for body in [
        // A chunk size that overflows 64 bits.
        "FFFFFFFFFFFFFFFF1\r\nhello\r\n0\r\n\r\n",
        // A bare LF in a chunk extension.
        "5;ext=1\nhello\r\n0\r\n\r\n",
    ] {
        let r = raw::exchange(gw.addr, chunked_post(body)).await;
        assert_eq!(r.status, 400, "{body:?}: {r:?}");
        assert_eq!(r.one(ACAO), Some(APP), "the route's CORS headers: {r:?}");
        let text = String::from_utf8_lossy(&r.body);
        assert!(text.contains("request body"), "{text}");
    }
    let m = gw.metrics();
    for kind in ["connect", "timeout"] {
        let series = format!("corsica_upstream_errors_total{{kind=\"{kind}\",route=\"app\"}}");
        assert_sample(&m, &series, Some(0.0));
    }
    assert_sample(
        &m,
        r#"corsica_client_errors_total{kind="request_body",route="app"}"#,
        Some(2.0),
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_latency_observes_only_responses_that_arrived() {
    let up = upstream().await;
    let gw = app_gateway(up.addr(), "upstream_timeout_ms = 5000").await;
    let r = raw::exchange(gw.addr, raw::get("/x", APP)).await;
    assert_eq!(r.status, 200, "{r:?}");
    let bad = raw::exchange(gw.addr, chunked_post("FFFFFFFFFFFFFFFF1\r\n")).await;
    assert_eq!(bad.status, 400, "{bad:?}");
    let m = gw.metrics();
    assert_sample(
        &m,
        r#"corsica_upstream_response_seconds_count{route="app"}"#,
        Some(1.0),
    );
    gw.shutdown().await;

    // A refused connection is no latency either.
    let gw = app_gateway(
        ([127, 0, 0, 1], free_port()).into(),
        "upstream_timeout_ms = 5000",
    )
    .await;
    let r = raw::exchange(gw.addr, raw::get("/x", APP)).await;
    assert_eq!(r.status, 502, "{r:?}");
    let m = gw.metrics();
    assert_sample(
        &m,
        r#"corsica_upstream_errors_total{kind="connect",route="app"}"#,
        Some(1.0),
    );
    assert_sample(
        &m,
        r#"corsica_upstream_response_seconds_count{route="app"}"#,
        Some(0.0),
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_1_1_without_host_is_400() {
    let up = upstream().await;
    let gw = app_gateway(up.addr(), "upstream_timeout_ms = 5000").await;
    let no_host = format!("GET /x HTTP/1.1\r\norigin: {APP}\r\nconnection: close\r\n\r\n");
    let r = raw::exchange(gw.addr, no_host).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(String::from_utf8_lossy(&r.body).contains("Host"), "{r:?}");
    assert_eq!(up.count(), 0, "forwarded without Host: {:?}", up.seen());

    // HTTP/1.0 has no Host requirement; an absolute-form target names the authority.
    let old = format!("GET /x HTTP/1.0\r\norigin: {APP}\r\n\r\n");
    let r = raw::exchange(gw.addr, old).await;
    assert_eq!(r.status, 200, "{r:?}");
    let absolute = format!("GET http://a/x HTTP/1.1\r\norigin: {APP}\r\nconnection: close\r\n\r\n");
    let r = raw::exchange(gw.addr, absolute).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(up.count(), 2);
    let m = gw.metrics();
    assert_sample(
        &m,
        r#"corsica_requests_total{outcome="bad_host",route=""}"#,
        Some(1.0),
    );
    gw.shutdown().await;
}
