//! End-to-end tests of the gateway over real sockets on 127.0.0.1: the testkit's
//! scripted upstream servers, its hyper client (HTTP/1.1 and h2c) and its raw HTTP/1.1
//! client for exact bytes. Every loop and wait is bounded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corsica_testkit::client::{HttpClient, request};
use corsica_testkit::gateway::{
    self, APP, ConfigDir, EVIL, Running, app_gateway, assert_sample, head, route, sample,
};
use corsica_testkit::headers::{ACAC, ACAH, ACAM, ACAO, ACEH, ACMA, lower};
use corsica_testkit::server::{Reply, Seen, TestServer, channel_body, empty, full};
use corsica_testkit::{STEP, eventually, free_port, raw};
use http::{StatusCode, Version};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// An upstream that records every request and answers 200 `<name> got <n> bytes` with its
/// own CORS headers (`Access-Control-Allow-Origin: *`, credentials, an exposed header),
/// `Vary: Accept-Encoding`, `X-Upstream: <name>` and, on paths under `/hop`, hop-by-hop
/// headers of its own.
async fn recording_upstream(name: &'static str) -> TestServer {
    TestServer::start(move |s: &Seen| {
        let r = Reply::ok(format!("{name} got {} bytes\n", s.body.len()))
            .header("content-type", "text/plain")
            .header(ACAO, "*")
            .header(ACAC, "true")
            .header(ACEH, "x-upstream-secret")
            .header("vary", "Accept-Encoding")
            .header("x-upstream", name);
        if s.uri.path().starts_with("/hop") {
            r.header("connection", "x-up-hop")
                .header("x-up-hop", "1")
                .header("keep-alive", "timeout=5")
        } else {
            r
        }
    })
    .await
}

/// An upstream that waits `delay` before answering 200 `slow done`; its `count()` counts
/// the requests whose head arrived.
async fn slow_upstream(delay: Duration) -> TestServer {
    TestServer::start(Reply::ok("slow done").header(ACAO, "*").delay(delay)).await
}

/// An upstream that answers every request at once with a head and a body the test feeds
/// through the sender it receives from the returned channel (one sender per request).
async fn streaming_upstream() -> (TestServer, mpsc::UnboundedReceiver<mpsc::Sender<Bytes>>) {
    let (senders_tx, senders_rx) = mpsc::unbounded_channel();
    let up = TestServer::start(move |_: &Seen| {
        let (tx, body) = channel_body(4);
        let _ = senders_tx.send(tx);
        Reply::new(200)
            .header("content-type", "application/octet-stream")
            .stream(body)
    })
    .await;
    (up, senders_rx)
}

/// A recording upstream `app` and an [`app_gateway`] to it.
async fn app_setup(limits: &str) -> (TestServer, Running) {
    let up = recording_upstream("app").await;
    let gw = app_gateway(up.addr(), limits).await;
    (up, gw)
}

// 1. Preflights are answered at the edge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_is_answered_at_the_edge() {
    let (up, gw) = app_setup("").await;
    let client = HttpClient::h1();

    let allowed = client
        .preflight(
            gw.addr,
            "/api/items",
            APP,
            "PUT",
            Some("content-type, x-api-key"),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::NO_CONTENT, "{allowed:?}");
    assert_eq!(allowed.one(ACAO), Some(APP));
    assert_eq!(allowed.one(ACAC), Some("true"));
    assert!(lower(allowed.one(ACAM)).contains("put"), "{allowed:?}");
    let acah = lower(allowed.one(ACAH));
    assert!(
        acah.contains("content-type") && acah.contains("x-api-key"),
        "{allowed:?}"
    );
    assert_eq!(allowed.one(ACMA), Some("600"));
    let vary = allowed.vary();
    for t in [
        "origin",
        "access-control-request-method",
        "access-control-request-headers",
    ] {
        assert!(vary.contains(&t.to_owned()), "Vary lacks {t}: {allowed:?}");
    }
    assert!(allowed.body.is_empty());

    let denied = client
        .preflight(gw.addr, "/api/items", EVIL, "PUT", None)
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{denied:?}");
    assert_eq!(denied.count(ACAO), 0, "{denied:?}");
    assert_eq!(denied.count(ACAC), 0, "{denied:?}");
    assert_eq!(denied.count(ACAM), 0, "{denied:?}");

    // A method the policy does not allow, from an allowed origin: denied at the edge too.
    let bad_method = client
        .preflight(gw.addr, "/api/items", APP, "PATCH", None)
        .await;
    assert_eq!(bad_method.status, StatusCode::FORBIDDEN, "{bad_method:?}");
    assert_eq!(bad_method.count(ACAO), 0);

    // None of the three reached the upstream.
    assert_eq!(up.count(), 0, "preflights were forwarded: {:?}", up.seen());

    // The counter does count: an actual request reaches the upstream (and is not OPTIONS).
    let get = client
        .call("GET", gw.addr, "/api/items", &[("origin", APP)])
        .await;
    assert_eq!(get.status, StatusCode::OK);
    assert_eq!(up.count(), 1);
    assert!(up.seen().iter().all(|s| s.method != http::Method::OPTIONS));
    gw.shutdown().await;
}

// 2. Actual requests are forwarded; the upstream's CORS headers are replaced; Vary merged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actual_request_headers_are_replaced_and_vary_merged() {
    let (up, gw) = app_setup("").await;
    let client = HttpClient::h1();

    let ok = client
        .call("GET", gw.addr, "/things?id=1", &[("origin", APP)])
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    assert_eq!(ok.one("x-upstream"), Some("app"), "not forwarded: {ok:?}");
    assert_eq!(ok.count(ACAO), 1, "{ok:?}");
    assert_eq!(ok.one(ACAO), Some(APP));
    assert_eq!(ok.one(ACAC), Some("true"));
    assert_eq!(
        ok.one(ACEH),
        Some("x-request-id"),
        "the upstream's expose list leaked"
    );
    assert_eq!(
        ok.count("vary"),
        1,
        "Vary not merged into one header: {ok:?}"
    );
    let vary = ok.vary();
    assert!(vary.contains(&"accept-encoding".to_owned()), "{ok:?}");
    assert!(vary.contains(&"origin".to_owned()), "{ok:?}");
    assert_eq!(vary.len(), 2, "{ok:?}");
    assert_eq!(ok.text(), "app got 0 bytes\n");

    let denied = client
        .call("GET", gw.addr, "/things", &[("origin", EVIL)])
        .await;
    assert_eq!(
        denied.status,
        StatusCode::OK,
        "a denied actual request is still forwarded"
    );
    assert_eq!(denied.one("x-upstream"), Some("app"));
    assert_eq!(
        denied.count(ACAO),
        0,
        "the upstream's `*` leaked: {denied:?}"
    );
    assert_eq!(denied.count(ACAC), 0, "{denied:?}");
    assert_eq!(denied.count(ACEH), 0, "{denied:?}");
    assert!(denied.vary().contains(&"origin".to_owned()), "{denied:?}");

    // No Origin at all: not CORS, forwarded, and still no upstream CORS header.
    let plain = client.call("GET", gw.addr, "/things", &[]).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.count(ACAO), 0, "{plain:?}");
    assert!(plain.vary().contains(&"origin".to_owned()), "{plain:?}");

    // A POST with a body reaches the upstream with its body.
    let post = client
        .send(request(
            "POST",
            gw.addr,
            "/things",
            &[("origin", APP), ("content-type", "text/plain")],
            full("hello"),
        ))
        .await;
    assert_eq!(post.status, StatusCode::OK);
    assert_eq!(post.text(), "app got 5 bytes\n");
    assert_eq!(post.one(ACAO), Some(APP));

    let seen = up.seen();
    assert_eq!(seen.len(), 4);
    assert_eq!(
        seen[0].uri.path_and_query().unwrap().as_str(),
        "/things?id=1"
    );
    assert_eq!(
        seen[0].headers.get("origin").unwrap(),
        APP,
        "Origin is passed on"
    );
    gw.shutdown().await;
}

// 3. Upstream down: 502 with the CORS headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_upstream_is_502_with_cors_headers() {
    let dead = free_port();
    let gw = app_gateway(([127, 0, 0, 1], dead).into(), "upstream_timeout_ms = 5000").await;
    let client = HttpClient::h1();

    let started = Instant::now();
    let r = client.call("GET", gw.addr, "/x", &[("origin", APP)]).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{r:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "a refused connection is not a timeout"
    );
    assert_eq!(r.one(ACAO), Some(APP), "{r:?}");
    assert_eq!(r.one(ACAC), Some("true"));
    assert_eq!(r.one(ACEH), Some("x-request-id"));
    assert!(r.vary().contains(&"origin".to_owned()));

    let denied = client.call("GET", gw.addr, "/x", &[("origin", EVIL)]).await;
    assert_eq!(denied.status, StatusCode::BAD_GATEWAY);
    assert_eq!(denied.count(ACAO), 0, "{denied:?}");

    let m = gw.metrics();
    assert_sample(
        &m,
        r#"corsica_upstream_errors_total{kind="connect",route="app"}"#,
        Some(2.0),
    );
    gw.shutdown().await;
}

// 4. Slow upstream: 504 with the CORS headers, in about the configured time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_upstream_is_504_with_cors_headers() {
    let slow = slow_upstream(Duration::from_secs(10)).await;
    let gw = app_gateway(slow.addr(), "upstream_timeout_ms = 300").await;
    let client = HttpClient::h1();

    let started = Instant::now();
    let r = client
        .call("GET", gw.addr, "/slow", &[("origin", APP)])
        .await;
    let took = started.elapsed();
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT, "{r:?}");
    assert!(
        took >= Duration::from_millis(250),
        "504 after only {took:?}"
    );
    assert!(took < Duration::from_secs(5), "504 after {took:?}");
    assert_eq!(r.one(ACAO), Some(APP), "{r:?}");
    assert_eq!(r.one(ACAC), Some("true"));
    assert!(r.vary().contains(&"origin".to_owned()));
    assert_eq!(slow.count(), 1, "the request did reach the upstream");
    let m = gw.metrics();
    assert_sample(
        &m,
        r#"corsica_upstream_errors_total{kind="timeout",route="app"}"#,
        Some(1.0),
    );
    gw.shutdown().await;
}

// 5. Malformed Origin: answered without ACAO; the gateway keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_origin_gets_no_cors_headers() {
    let (up, gw) = app_setup("").await;
    let client = HttpClient::h1();

    for origin in [
        "https://app.example.com/",
        "https://app.example.com:443:443",
        "app.example.com",
    ] {
        let r = client
            .call("GET", gw.addr, "/", &[("origin", origin)])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{origin}: {r:?}");
        assert_eq!(r.count(ACAO), 0, "{origin}: {r:?}");
        assert_eq!(r.count(ACAC), 0, "{origin}: {r:?}");

        let p = client.preflight(gw.addr, "/", origin, "GET", None).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{origin}: {p:?}");
        assert_eq!(p.count(ACAO), 0, "{origin}: {p:?}");
    }

    // Two Origin headers, exact bytes.
    let two = raw::exchange(
        gw.addr,
        format!(
            "GET /two HTTP/1.1\r\nHost: gw.test\r\nOrigin: {APP}\r\nOrigin: {APP}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(two.status, 200, "{two:?}");
    assert!(two.all(ACAO).is_empty(), "{two:?}");
    assert!(two.all(ACAC).is_empty(), "{two:?}");

    let two_pre = raw::exchange(
        gw.addr,
        format!(
            "OPTIONS /two HTTP/1.1\r\nHost: gw.test\r\nOrigin: {APP}\r\nOrigin: {EVIL}\r\nAccess-Control-Request-Method: GET\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(two_pre.status, 403, "{two_pre:?}");
    assert!(two_pre.all(ACAO).is_empty(), "{two_pre:?}");

    // Still serving, and right.
    let ok = client.call("GET", gw.addr, "/", &[("origin", APP)]).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.one(ACAO), Some(APP));
    assert_eq!(
        up.count(),
        5,
        "3 bad origins, the request with 2 Origin headers and the good one, all forwarded"
    );

    let m = gw.metrics();
    assert!(
        sample(
            &m,
            r#"corsica_denials_total{reason="multiple_origins",route="app"}"#
        ) >= Some(2.0),
        "{m}"
    );
    assert!(
        sample(
            &m,
            r#"corsica_denials_total{reason="invalid_origin",route="app"}"#
        ) >= Some(1.0),
        "{m}"
    );
    gw.shutdown().await;
}

// 6. Oversized request heads: 431.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_head_is_431() {
    let (up, gw) = app_setup("max_header_bytes = 16384").await;

    // Under the limit: served.
    let small = raw::exchange(
        gw.addr,
        format!(
            "GET / HTTP/1.1\r\nHost: gw.test\r\nOrigin: {APP}\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(4 * 1024)
        ),
    )
    .await;
    assert_eq!(small.status, 200, "{small:?}");
    assert_eq!(up.count(), 1);

    let big = raw::exchange(
        gw.addr,
        format!(
            "GET / HTTP/1.1\r\nHost: gw.test\r\nOrigin: {APP}\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(64 * 1024)
        ),
    )
    .await;
    assert_eq!(big.status, 431, "{:?}", big.headers);
    assert_eq!(up.count(), 1, "the oversized request reached the upstream");

    // Somewhat over the limit (cookies that grew): a 431 the page can read, with the
    // route's CORS headers (issue 14, finding 9).
    for (name, extra) in [("X-Big", 20 * 1024), ("Cookie", 17 * 1024)] {
        let over = raw::exchange(
            gw.addr,
            format!(
                "GET / HTTP/1.1\r\nHost: gw.test\r\nOrigin: {APP}\r\n{name}: {}\r\nConnection: close\r\n\r\n",
                "a".repeat(extra)
            ),
        )
        .await;
        assert_eq!(over.status, 431, "{over:?}");
        assert_eq!(
            over.one(ACAO),
            Some(APP),
            "the route's CORS headers: {over:?}"
        );
        assert!(
            String::from_utf8_lossy(&over.body).contains("max_header_bytes"),
            "{over:?}"
        );
    }
    // Too many header lines, likewise.
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let over = raw::exchange(
        gw.addr,
        format!(
            "GET / HTTP/1.1\r\nHost: gw.test\r\nOrigin: {APP}\r\n{many}Connection: close\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(over.status, 431, "{over:?}");
    assert_eq!(over.one(ACAO), Some(APP), "{over:?}");
    assert_eq!(up.count(), 1, "none of them reached the upstream");

    // Over h2c too: the header list is bounded by the same limit (20 000 bytes of value,
    // which HPACK compresses into one frame).
    let big_value = "a".repeat(20_000);
    let h2_big = HttpClient::h2()
        .call(
            "GET",
            gw.addr,
            "/",
            &[("origin", APP), ("x-big", &big_value)],
        )
        .await;
    assert_eq!(
        h2_big.status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "{h2_big:?}"
    );
    // Far over it, h2 refuses the whole connection (GOAWAY); either way nothing is forwarded.
    let huge_value = "a".repeat(64 * 1024);
    let h2_huge = HttpClient::h2()
        .try_send(request(
            "GET",
            gw.addr,
            "/",
            &[("origin", APP), ("x-big", &huge_value)],
            empty(),
        ))
        .await;
    if let Ok(r) = &h2_huge {
        assert_eq!(
            r.status,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "{r:?}"
        );
    }
    assert_eq!(
        up.count(),
        1,
        "an oversized h2 request reached the upstream"
    );

    // The limit is the configured one: raised, the same 20 000-byte header passes on both.
    let roomy = app_gateway(up.addr(), "max_header_bytes = 65536").await;
    let h1_ok = raw::exchange(
        roomy.addr,
        format!(
            "GET / HTTP/1.1\r\nHost: gw.test\r\nOrigin: {APP}\r\nX-Big: {big_value}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(h1_ok.status, 200, "{:?}", h1_ok.headers);
    let h2_ok = HttpClient::h2()
        .call(
            "GET",
            roomy.addr,
            "/",
            &[("origin", APP), ("x-big", &big_value)],
        )
        .await;
    assert_eq!(h2_ok.status, StatusCode::OK, "{h2_ok:?}");
    assert_eq!(up.count(), 3);
    roomy.shutdown().await;

    // The gateway still works.
    let after = HttpClient::h1()
        .call("GET", gw.addr, "/", &[("origin", APP)])
        .await;
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(after.one(ACAO), Some(APP));
    assert_eq!(up.count(), 4);
    gw.shutdown().await;
}

// 7. Hop-by-hop headers are not forwarded (either way); X-Forwarded-* are added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_headers_are_stripped_and_forwarded_headers_added() {
    let (up, gw) = app_setup("").await;

    let r = raw::exchange(
        gw.addr,
        format!(
            "GET /hop/x?q=1 HTTP/1.1\r\n\
             Host: front.example.com\r\n\
             Origin: {APP}\r\n\
             Connection: x-custom-hop\r\n\
             X-Custom-Hop: secret\r\n\
             Keep-Alive: timeout=5\r\n\
             TE: trailers\r\n\
             Proxy-Connection: keep-alive\r\n\
             X-Forwarded-For: 203.0.113.7\r\n\
             X-End-To-End: kept\r\n\
             \r\n"
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.one(ACAO), Some(APP));
    // The upstream's own hop-by-hop headers did not come back.
    assert!(r.all("x-up-hop").is_empty(), "{r:?}");
    assert!(r.all("keep-alive").is_empty(), "{r:?}");
    assert!(
        !r.all("connection").iter().any(|c| c.contains("x-up-hop")),
        "{r:?}"
    );

    let seen = up.seen();
    assert_eq!(seen.len(), 1);
    let h = &seen[0].headers;
    for hop in [
        "connection",
        "x-custom-hop",
        "keep-alive",
        "te",
        "proxy-connection",
    ] {
        assert!(h.get(hop).is_none(), "{hop} was forwarded: {h:?}");
    }
    assert_eq!(h.get("x-end-to-end").unwrap(), "kept");
    assert_eq!(h.get("x-forwarded-for").unwrap(), "203.0.113.7, 127.0.0.1");
    assert_eq!(h.get("x-forwarded-proto").unwrap(), "http");
    assert_eq!(h.get("x-forwarded-host").unwrap(), "front.example.com");
    assert_eq!(
        h.get("host").unwrap().to_str().unwrap(),
        up.addr().to_string()
    );
    assert_eq!(seen[0].uri.path_and_query().unwrap().as_str(), "/hop/x?q=1");

    // Without a previous X-Forwarded-For, the client's address alone.
    let r2 = raw::exchange(
        gw.addr,
        b"GET /y HTTP/1.1\r\nHost: front.example.com:8443\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r2.status, 200);
    let seen = up.seen();
    assert_eq!(seen[1].headers.get("x-forwarded-for").unwrap(), "127.0.0.1");
    assert_eq!(
        seen[1].headers.get("x-forwarded-host").unwrap(),
        "front.example.com:8443"
    );
    gw.shutdown().await;
}

// 8a. Routing: first match wins; a preflight matches by the method it asks for; no route 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_routes_by_requested_method_and_first_match_wins() {
    let public = recording_upstream("public").await;
    let app = recording_upstream("app").await;
    let text = head("")
        + &route(
            "public",
            "path = \"/\"\nmethods = [\"GET\", \"HEAD\"]",
            &format!("http://{}", public.addr()),
            "origins = [\"*\"]",
        )
        + &route(
            "app",
            "path = \"/\"\nmethods = [\"GET\", \"POST\", \"PUT\"]",
            &format!("http://{}", app.addr()),
            "origins = [\"https://app.example.com\"]\ncredentials = true\nmethods = [\"GET\", \"POST\", \"PUT\"]",
        );
    let gw = gateway::start(&text).await;
    let client = HttpClient::h1();

    for origin in [EVIL, APP] {
        let r = client
            .call("GET", gw.addr, "/doc", &[("origin", origin)])
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.one("x-upstream"),
            Some("public"),
            "first match wins: {r:?}"
        );
        assert_eq!(r.one(ACAO), Some("*"), "{r:?}");
        assert_eq!(r.count(ACAC), 0, "{r:?}");
    }

    let put_pre = client.preflight(gw.addr, "/doc", APP, "PUT", None).await;
    assert_eq!(put_pre.status, StatusCode::NO_CONTENT, "{put_pre:?}");
    assert_eq!(put_pre.one(ACAO), Some(APP));
    assert_eq!(put_pre.one(ACAC), Some("true"));
    assert!(lower(put_pre.one(ACAM)).contains("put"), "{put_pre:?}");

    let put_pre_evil = client.preflight(gw.addr, "/doc", EVIL, "PUT", None).await;
    assert_eq!(
        put_pre_evil.status,
        StatusCode::FORBIDDEN,
        "{put_pre_evil:?}"
    );
    assert_eq!(put_pre_evil.count(ACAO), 0);

    // A GET preflight matches route 1 (anyone).
    let get_pre = client.preflight(gw.addr, "/doc", EVIL, "GET", None).await;
    assert_eq!(get_pre.status, StatusCode::NO_CONTENT, "{get_pre:?}");
    assert_eq!(get_pre.one(ACAO), Some("*"));

    let put = client
        .send(request(
            "PUT",
            gw.addr,
            "/doc",
            &[("origin", APP)],
            full("x"),
        ))
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(put.one("x-upstream"), Some("app"));
    assert_eq!(put.one(ACAO), Some(APP));
    assert_eq!(put.one(ACAC), Some("true"));

    // No route for DELETE: the request gets a readable 404, and its preflight is let
    // through (uncached) so that the browser reports that 404.
    let del = client
        .call("DELETE", gw.addr, "/doc", &[("origin", APP)])
        .await;
    assert_eq!(del.status, StatusCode::NOT_FOUND, "{del:?}");
    assert_eq!(del.one("corsica-route"), Some("none"));
    assert_eq!(del.one(ACAO), Some(APP), "{del:?}");
    let del_pre = client.preflight(gw.addr, "/doc", APP, "DELETE", None).await;
    assert_eq!(del_pre.status, StatusCode::NO_CONTENT, "{del_pre:?}");
    assert_eq!(del_pre.one(ACMA), Some("0"), "{del_pre:?}");

    assert_eq!(public.count(), 2);
    assert_eq!(app.count(), 1);
    gw.shutdown().await;
}

// 8b. Routing by host (port ignored, case-insensitive) and path prefix (on segment bounds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_by_host_and_path_prefix() {
    let a = recording_upstream("api-host").await;
    let b = recording_upstream("api").await;
    let c = recording_upstream("static").await;
    let any = "origins = [\"*\"]";
    let text = head("")
        + &route(
            "api-host",
            "host = \"api.example.com\"\npath = \"/api\"",
            &format!("http://{}", a.addr()),
            any,
        )
        + &route(
            "api",
            "path = \"/api\"",
            &format!("http://{}", b.addr()),
            any,
        )
        + &route(
            "static",
            "path = \"/static/\"",
            &format!("http://{}", c.addr()),
            any,
        );
    let gw = gateway::start(&text).await;
    let client = HttpClient::h1();

    let cases: &[(&str, &str, Option<&str>)] = &[
        ("api.example.com", "/api/users", Some("api-host")),
        ("API.Example.COM:8443", "/api", Some("api-host")),
        ("other.example.com", "/api/users", Some("api")),
        ("api.example.com", "/apis", None),
        ("api.example.com", "/static/app.js", Some("static")),
        // A prefix with a trailing slash matches its collection URL too.
        ("api.example.com", "/static", Some("static")),
        ("api.example.com", "/", None),
    ];
    for (host, path, expected) in cases {
        let r = client
            .call("GET", gw.addr, path, &[("host", host), ("origin", APP)])
            .await;
        match expected {
            Some(name) => {
                assert_eq!(r.status, StatusCode::OK, "{host}{path}: {r:?}");
                assert_eq!(r.one("x-upstream"), Some(*name), "{host}{path}");
                assert_eq!(r.one(ACAO), Some("*"), "{host}{path}");
            }
            None => {
                assert_eq!(r.status, StatusCode::NOT_FOUND, "{host}{path}: {r:?}");
                assert!(r.one("x-upstream").is_none());
            }
        }
    }
    let m = gw.metrics();
    assert_sample(
        &m,
        r#"corsica_requests_total{outcome="no_route",route=""}"#,
        Some(2.0),
    );
    gw.shutdown().await;
}

// 9a. Request bodies are streamed to the upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_body_is_streamed() {
    let up = recording_upstream("sink").await;
    let gw = app_gateway(up.addr(), "").await;
    let client = HttpClient::h1();

    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 128; // 8 MiB
    let (tx, body) = channel_body(4);
    let req = request("POST", gw.addr, "/upload", &[("origin", APP)], body);
    let c = client.clone();
    let pending = tokio::spawn(async move { c.send(req).await });

    tx.send(Bytes::from(vec![b'x'; CHUNK])).await.unwrap();
    // The first chunk reaches the upstream while the client has not sent the rest.
    let streamed = eventually(500, Duration::from_millis(10), || async {
        up.body_bytes() >= CHUNK as u64
    })
    .await;
    assert!(
        streamed,
        "the first chunk did not reach the upstream before the body ended"
    );
    assert_eq!(
        up.seen().len(),
        0,
        "the upstream's request is not finished yet"
    );

    for _ in 1..CHUNKS {
        tokio::time::timeout(STEP, tx.send(Bytes::from(vec![b'y'; CHUNK])))
            .await
            .expect("the upload stalled")
            .unwrap();
    }
    drop(tx);
    let r = tokio::time::timeout(STEP, pending)
        .await
        .expect("no answer")
        .unwrap();
    let total = (CHUNK * CHUNKS) as u64;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.text(), format!("sink got {total} bytes\n"));
    assert_eq!(r.one(ACAO), Some(APP));
    assert_eq!(up.seen()[0].body.len() as u64, total);
    gw.shutdown().await;
}

// 9b. Response bodies are streamed to the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_body_is_streamed() {
    let (up, mut senders) = streaming_upstream().await;
    let gw = app_gateway(up.addr(), "").await;
    let client = HttpClient::h1();

    let c = client.clone();
    let addr = gw.addr;
    let pending = tokio::spawn(async move {
        c.request(request(
            "GET",
            addr,
            "/download",
            &[("origin", APP)],
            empty(),
        ))
        .await
    });
    let tx = tokio::time::timeout(STEP, senders.recv())
        .await
        .expect("the upstream got no request")
        .unwrap();
    let first = Bytes::from_static(b"first chunk, sent while the upstream is far from done");
    tx.send(first.clone()).await.unwrap();

    let response = tokio::time::timeout(STEP, pending)
        .await
        .expect("no response head while the upstream streams")
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers().get(ACAO).unwrap(), APP);
    let mut body = response.into_body();
    let mut received = Vec::new();
    while received.len() < first.len() {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("the first chunk did not arrive before the upstream finished")
            .expect("body ended early")
            .unwrap();
        if let Some(d) = frame.data_ref() {
            received.extend_from_slice(d);
        }
    }
    assert_eq!(&received[..], &first[..]);
    assert!(!tx.is_closed(), "the upstream is still producing");

    // The rest, slowly: 4 MiB in 64 KiB chunks with pauses.
    const CHUNK: usize = 64 * 1024;
    let producer = tokio::spawn(async move {
        for i in 0..64u8 {
            tx.send(Bytes::from(vec![i; CHUNK])).await.unwrap();
            if i % 8 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    let rest = tokio::time::timeout(STEP, body.collect())
        .await
        .expect("the download stalled")
        .unwrap()
        .to_bytes();
    producer.await.unwrap();
    assert_eq!(rest.len(), 64 * CHUNK);
    assert!(rest[..CHUNK].iter().all(|b| *b == 0));
    assert!(rest[63 * CHUNK..].iter().all(|b| *b == 63));
    gw.shutdown().await;
}

// 10. h2c: same CORS answers over HTTP/2 prior knowledge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_gets_the_same_cors_answers() {
    let (up, gw) = app_setup("").await;
    let client = HttpClient::h2();

    let pre = client
        .preflight(gw.addr, "/h2", APP, "PUT", Some("x-api-key"))
        .await;
    assert_eq!(pre.version, Version::HTTP_2);
    assert_eq!(pre.status, StatusCode::NO_CONTENT, "{pre:?}");
    assert_eq!(pre.one(ACAO), Some(APP));
    assert_eq!(pre.one(ACAC), Some("true"));
    assert!(lower(pre.one(ACAM)).contains("put"));
    assert!(lower(pre.one(ACAH)).contains("x-api-key"));
    assert!(
        pre.vary()
            .contains(&"access-control-request-method".to_owned())
    );

    let denied_pre = client.preflight(gw.addr, "/h2", EVIL, "PUT", None).await;
    assert_eq!(denied_pre.status, StatusCode::FORBIDDEN);
    assert_eq!(denied_pre.count(ACAO), 0);
    assert_eq!(up.count(), 0, "h2 preflights were forwarded");

    let get = client
        .call("GET", gw.addr, "/h2?x=1", &[("origin", APP)])
        .await;
    assert_eq!(get.version, Version::HTTP_2);
    assert_eq!(get.status, StatusCode::OK, "{get:?}");
    assert_eq!(get.one("x-upstream"), Some("app"));
    assert_eq!(get.count(ACAO), 1);
    assert_eq!(get.one(ACAO), Some(APP));
    assert_eq!(get.one(ACAC), Some("true"));
    let vary = get.vary();
    assert!(vary.contains(&"origin".to_owned()) && vary.contains(&"accept-encoding".to_owned()));

    let denied = client
        .call("GET", gw.addr, "/h2", &[("origin", EVIL)])
        .await;
    assert_eq!(denied.status, StatusCode::OK);
    assert_eq!(denied.count(ACAO), 0, "{denied:?}");

    let seen = up.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].version,
        Version::HTTP_11,
        "the upstream is spoken to in HTTP/1.1"
    );
    assert_eq!(seen[0].uri.path_and_query().unwrap().as_str(), "/h2?x=1");
    assert_eq!(
        seen[0]
            .headers
            .get("x-forwarded-host")
            .unwrap()
            .to_str()
            .unwrap(),
        gw.addr.to_string()
    );
    gw.shutdown().await;
}

/// Two valid configurations that both allow [`APP`], told apart by the exposed header.
fn reload_config(upstream: std::net::SocketAddr, which: &str) -> String {
    let origins = match which {
        "a" => r#"["https://app.example.com"]"#,
        _ => r#"["https://app.example.com", "https://b.example.com"]"#,
    };
    head("")
        + &route(
            "app",
            "path = \"/\"",
            &format!("http://{upstream}"),
            &format!("origins = {origins}\ncredentials = true\nexpose = [\"x-config-{which}\"]"),
        )
}

// 11a. Reload under load: no request fails; an invalid file keeps the running configuration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_fails_no_request() {
    let up = recording_upstream("app").await;
    let dir = ConfigDir::new();
    let gw = dir.start(&reload_config(up.addr(), "a")).await;
    let gw = Arc::new(gw);
    let invalid = reload_config(up.addr(), "b").replace("[route.cors]", "bogus = 1\n[route.cors]");
    let invalid_line = invalid.lines().position(|l| l == "bogus = 1").unwrap() + 1;

    const TASKS: usize = 4;
    const REQUESTS: usize = 150;
    let client = HttpClient::h1();
    let mut clients = Vec::new();
    for _ in 0..TASKS {
        let client = client.clone();
        let addr = gw.addr;
        clients.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut seen_a = 0;
            let mut seen_b = 0;
            for _ in 0..REQUESTS {
                match client
                    .try_send(request("GET", addr, "/load", &[("origin", APP)], empty()))
                    .await
                {
                    Ok(r) if r.status.is_success() && r.one(ACAO) == Some(APP) => match r.one(ACEH)
                    {
                        Some("x-config-a") => seen_a += 1,
                        Some("x-config-b") => seen_b += 1,
                        other => failures.push(format!("expose {other:?}")),
                    },
                    Ok(r) => failures.push(format!("{} {:?}", r.status, r.headers)),
                    Err(e) => failures.push(e),
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            (failures, seen_a, seen_b)
        }));
    }

    let mut ok_reloads = 0;
    let mut errors = Vec::new();
    let mut current = "a";
    for i in 0..400 {
        // At least one round of four valid reloads and an invalid one, however fast the
        // clients finish; then as long as they run.
        if i >= 5 && clients.iter().all(|c| c.is_finished()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        if i % 5 == 4 {
            dir.write_config(&invalid);
            let e = gw.reload().expect_err("the invalid file was accepted");
            errors.push(e);
            // The running configuration stays.
            let r = client.call("GET", gw.addr, "/", &[("origin", APP)]).await;
            assert_eq!(r.one(ACEH), Some(format!("x-config-{current}").as_str()));
        } else {
            current = if current == "a" { "b" } else { "a" };
            dir.write_config(&reload_config(up.addr(), current));
            gw.reload()
                .unwrap_or_else(|e| panic!("valid reload failed: {e}"));
            ok_reloads += 1;
        }
    }

    let mut failures = Vec::new();
    let (mut seen_a, mut seen_b) = (0, 0);
    for c in clients {
        let (f, a, b) = tokio::time::timeout(Duration::from_secs(60), c)
            .await
            .expect("clients stalled")
            .unwrap();
        failures.extend(f);
        seen_a += a;
        seen_b += b;
    }
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(seen_a + seen_b, TASKS * REQUESTS);
    assert!(
        seen_a > 0 && seen_b > 0,
        "both configurations served under load: a {seen_a}, b {seen_b}"
    );
    assert!(ok_reloads >= 2, "{ok_reloads}");
    assert!(
        !errors.is_empty(),
        "no invalid reload happened during the load"
    );
    for errs in &errors {
        assert_eq!(errs.len(), 1, "{errs}");
        let e = errs.first();
        assert_eq!(e.line(), invalid_line, "{e}");
        assert!(e.to_string().contains(&format!(":{invalid_line}:")), "{e}");
        assert!(e.message().contains("bogus"), "{e}");
    }
    let m = gw.metrics();
    let err_count = sample(&m, r#"corsica_config_reloads_total{result="error"}"#).unwrap_or(0.0);
    assert!(err_count >= 1.0, "{m}");
    assert_eq!(err_count, errors.len() as f64);
    assert_eq!(
        sample(&m, r#"corsica_config_reloads_total{result="ok"}"#),
        Some(ok_reloads as f64)
    );
}

// 11b. The file watcher reloads on change (and keeps the configuration on an invalid file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_watcher_reloads_on_change() {
    let up = recording_upstream("app").await;
    let dir = ConfigDir::new();
    let gw = dir.start(&reload_config(up.addr(), "a")).await;
    let gw = Arc::new(gw);
    let watcher = gw
        .watch_file(Duration::from_millis(50))
        .expect("a file to watch");
    let client = HttpClient::h1();
    const B: &str = "https://b.example.com";

    let acao_for_b = |client: HttpClient, addr| async move {
        let r = client.call("GET", addr, "/", &[("origin", B)]).await;
        assert_eq!(r.status, StatusCode::OK);
        r.one(ACAO).map(str::to_owned)
    };
    assert_eq!(
        acao_for_b(client.clone(), gw.addr).await,
        None,
        "b is not allowed at first"
    );

    dir.write_config(&reload_config(up.addr(), "b"));
    let changed = eventually(100, Duration::from_millis(50), || {
        let client = client.clone();
        let addr = gw.addr;
        async move { acao_for_b(client, addr).await.as_deref() == Some(B) }
    })
    .await;
    assert!(changed, "the watcher did not reload within 5 s");

    // An invalid file: counted as an error, the running configuration stays.
    let invalid =
        reload_config(up.addr(), "a").replace("credentials = true", "credentials = \"yes\"");
    dir.write_config(&invalid);
    let failed = eventually(100, Duration::from_millis(50), || async {
        sample(
            &gw.metrics(),
            r#"corsica_config_reloads_total{result="error"}"#,
        ) >= Some(1.0)
    })
    .await;
    assert!(
        failed,
        "the watcher did not try the invalid file within 5 s"
    );
    assert_eq!(
        acao_for_b(client.clone(), gw.addr).await.as_deref(),
        Some(B)
    );

    dir.write_config(&reload_config(up.addr(), "a"));
    let back = eventually(100, Duration::from_millis(50), || {
        let client = client.clone();
        let addr = gw.addr;
        async move { acao_for_b(client, addr).await.is_none() }
    })
    .await;
    assert!(back, "the watcher did not reload the valid file within 5 s");

    gateway::shutdown_watched(gw, watcher).await;
}

// 12. Graceful shutdown: in-flight requests finish; new connections are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let slow = slow_upstream(Duration::from_millis(1500)).await;
    let gw = app_gateway(
        slow.addr(),
        "upstream_timeout_ms = 10000\nshutdown_grace_ms = 8000",
    )
    .await;
    let addr = gw.addr;
    let admin = gw.admin_addr.unwrap();
    let client = HttpClient::h1();

    let c = client.clone();
    let in_flight =
        tokio::spawn(async move { c.call("GET", addr, "/slow", &[("origin", APP)]).await });
    let arrived = eventually(500, Duration::from_millis(10), || async {
        slow.count() == 1
    })
    .await;
    assert!(arrived, "the request did not reach the upstream");

    // An idle keep-alive connection (one preflight answered) and a silent one (nothing
    // sent): shutdown closes both at once instead of waiting for them.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(
        format!(
            "OPTIONS / HTTP/1.1\r\nHost: gw.test\r\nOrigin: {APP}\r\nAccess-Control-Request-Method: GET\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(STEP, idle.read(&mut buf))
            .await
            .expect("no preflight answer")
            .unwrap();
        assert!(n > 0, "closed before answering");
        head.extend_from_slice(&buf[..n]);
    }
    assert!(head.starts_with(b"HTTP/1.1 204"), "{head:?}");
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;

    let shutdown = tokio::spawn(gw.shutdown());
    let refused = eventually(200, Duration::from_millis(10), || async {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
    assert!(
        refused,
        "new connections are still accepted after shutdown began"
    );
    for (name, conn) in [("idle", &mut idle), ("silent", &mut silent)] {
        let closed = tokio::time::timeout(Duration::from_secs(1), conn.read(&mut buf)).await;
        assert!(
            matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
            "the {name} connection was not closed at shutdown: {closed:?}"
        );
    }
    assert!(
        !in_flight.is_finished(),
        "the in-flight request should still be running"
    );
    assert!(
        !shutdown.is_finished(),
        "shutdown returned before the in-flight request finished"
    );

    let r = tokio::time::timeout(STEP, in_flight)
        .await
        .expect("in-flight request stalled")
        .unwrap();
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.text(), "slow done");
    assert_eq!(r.one(ACAO), Some(APP));

    // Nothing else holds the shutdown back (the grace is 8 s).
    tokio::time::timeout(Duration::from_secs(3), shutdown)
        .await
        .expect("shutdown did not return once the in-flight request was done")
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "client port still open"
    );
    assert!(
        tokio::net::TcpStream::connect(admin).await.is_err(),
        "admin port still open"
    );
    let after = HttpClient::h1()
        .try_send(request("GET", addr, "/slow", &[("origin", APP)], empty()))
        .await;
    assert!(
        after.is_err(),
        "a request after shutdown was answered: {after:?}"
    );
}

// 12b. The grace is a bound: a request still running when it elapses is cut off, and
// shutdown returns about when the grace ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_grace_bounds_in_flight_requests() {
    let slow = slow_upstream(Duration::from_secs(10)).await;
    let gw = app_gateway(
        slow.addr(),
        "upstream_timeout_ms = 30000\nshutdown_grace_ms = 300",
    )
    .await;
    let addr = gw.addr;
    let client = HttpClient::h1();

    let c = client.clone();
    let in_flight = tokio::spawn(async move {
        c.try_send(request("GET", addr, "/slow", &[("origin", APP)], empty()))
            .await
    });
    let arrived = eventually(500, Duration::from_millis(10), || async {
        slow.count() == 1
    })
    .await;
    assert!(arrived, "the request did not reach the upstream");

    let started = Instant::now();
    tokio::time::timeout(STEP, gw.shutdown())
        .await
        .expect("shutdown did not return");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250),
        "shutdown after {took:?}"
    );
    assert!(took < Duration::from_secs(5), "shutdown after {took:?}");

    // The connection is closed when the grace ends: the client sees an error at once, not
    // the upstream's answer 10 s later.
    let r = tokio::time::timeout(Duration::from_secs(3), in_flight)
        .await
        .expect("the in-flight connection outlived the shutdown grace")
        .unwrap();
    assert!(r.is_err(), "{r:?}");
}

// 13. Metrics and health on the admin listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_serves_metrics_and_health() {
    let (_up, gw) = app_setup("").await;
    let admin = gw.admin_addr.expect("admin listener");
    assert_ne!(admin, gw.addr);
    let client = HttpClient::h1();

    let pre = |origin: &'static str| {
        request(
            "OPTIONS",
            gw.addr,
            "/m",
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
            ],
            empty(),
        )
    };
    assert_eq!(client.send(pre(APP)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(client.send(pre(APP)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(client.send(pre(EVIL)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        client
            .call("GET", gw.addr, "/m", &[("origin", APP)])
            .await
            .status,
        StatusCode::OK
    );

    let metrics_url = |path: &str| {
        http::Request::get(format!("http://{admin}{path}"))
            .body(empty())
            .unwrap()
    };
    let m = client.send(metrics_url("/metrics")).await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.one("content-type").unwrap().starts_with("text/plain"));
    let text = m.text();
    assert_sample(
        &text,
        r#"corsica_requests_total{outcome="preflight_allowed",route="app"}"#,
        Some(2.0),
    );
    assert_sample(
        &text,
        r#"corsica_requests_total{outcome="preflight_denied",route="app"}"#,
        Some(1.0),
    );
    assert_sample(
        &text,
        r#"corsica_requests_total{outcome="actual_allowed",route="app"}"#,
        Some(1.0),
    );
    assert_sample(
        &text,
        r#"corsica_denials_total{reason="origin_not_allowed",route="app"}"#,
        Some(1.0),
    );
    assert!(
        text.contains("corsica_upstream_response_seconds_count{route=\"app\"} 1"),
        "{text}"
    );
    assert!(text.contains("corsica_client_connections"), "{text}");

    let health = client.send(metrics_url("/healthz")).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.text(), "ok\n");
    let other = client.send(metrics_url("/nope")).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);

    // The admin port is not a proxy, and the proxy port does not serve metrics.
    let on_proxy = client.call("GET", gw.addr, "/metrics", &[]).await;
    assert_eq!(on_proxy.one("x-upstream"), Some("app"), "{on_proxy:?}");
    gw.shutdown().await;
}

/// A raw HTTP/1.1 upstream answering every request `200 ok`; when `close_after_each`, it
/// closes the connection after each response (without saying so, as an upstream whose
/// keep-alive timeout ends does). Returns its address and the count of connections it
/// accepted.
async fn raw_upstream(
    close_after_each: bool,
) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if stream.write_all(reply).await.is_err() || close_after_each {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, accepted)
}

// Upstream connections are kept and reused; one the upstream closed while idle is not
// used again: the request goes on a new connection, not to a 502.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_connections_are_reused_and_closed_ones_replaced() {
    let client = HttpClient::h1();
    for close_after_each in [false, true] {
        let (up, accepted) = raw_upstream(close_after_each).await;
        let gw = app_gateway(up, "").await;
        for _ in 0..3 {
            let r = client.call("GET", gw.addr, "/x", &[("origin", APP)]).await;
            assert_eq!(r.status, StatusCode::OK, "{r:?}");
            assert_eq!(r.one(ACAO), Some(APP), "{r:?}");
            // Time for the upstream's close to reach the gateway.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let want = if close_after_each { 3 } else { 1 };
        assert_eq!(
            accepted.load(std::sync::atomic::Ordering::SeqCst),
            want,
            "close_after_each = {close_after_each}"
        );
        gw.shutdown().await;
    }
}
