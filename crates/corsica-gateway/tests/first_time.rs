//! "First time right", over real sockets: the readable no-route answer, the routing
//! conveniences (collection URLs, localhost's other names) and the opt-in edge guard.

use corsica_testkit::client::{HttpClient, request};
use corsica_testkit::gateway::{self, APP, APP_CORS, EVIL, Running, assert_sample, head, route};
use corsica_testkit::headers::{ACAC, ACAM, ACAO, ACMA};
use corsica_testkit::server::{Reply, TestServer, full};
use http::StatusCode;

/// An upstream that answers 200 `up` and counts what reaches it.
async fn upstream() -> TestServer {
    TestServer::start(Reply::ok("up").header("x-upstream", "up")).await
}

/// An [`upstream`] behind a gateway with one route `name` (`matching` lines, policy `cors`).
async fn one_route(name: &str, matching: &str, cors: &str) -> (TestServer, Running) {
    let up = upstream().await;
    let upstream = format!("http://{}", up.addr());
    let gw = gateway::start(&(head("") + &route(name, matching, &upstream, cors))).await;
    (up, gw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_is_a_readable_404_that_never_reaches_an_upstream() {
    let (up, gw) = one_route("orders", "path = \"/orders/\"", APP_CORS).await;
    let client = HttpClient::h1();

    // The collection URL matches the `/orders/` prefix.
    let r = client
        .call("GET", gw.addr, "/orders", &[("origin", APP)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.count("corsica-route"), 0);

    // A trusted origin reads the 404 with credentials; any other origin reads it as `*`.
    let r = client
        .call("POST", gw.addr, "/users", &[("origin", APP)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    assert_eq!(r.one("corsica-route"), Some("none"));
    assert_eq!(r.one(ACAO), Some(APP));
    assert_eq!(r.one(ACAC), Some("true"));
    assert!(r.text().contains("no route"), "{r:?}");
    let r = client
        .call("GET", gw.addr, "/users", &[("origin", EVIL)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.one(ACAO), Some("*"));
    assert_eq!(r.count(ACAC), 0);

    // A preflight for no route is let through, uncached, so the 404 is what the page sees.
    let pre = client
        .preflight(gw.addr, "/users", APP, "PATCH", Some("content-type"))
        .await;
    assert_eq!(pre.status, StatusCode::NO_CONTENT, "{pre:?}");
    assert_eq!(pre.one(ACAO), Some(APP));
    assert_eq!(pre.one(ACAM), Some("PATCH"));
    assert_eq!(pre.one(ACMA), Some("0"));
    assert_eq!(pre.one("corsica-route"), Some("none"));

    assert_eq!(
        up.count(),
        1,
        "only the routed request reached the upstream"
    );
    assert_sample(
        &gw.metrics(),
        r#"corsica_requests_total{outcome="no_route",route=""}"#,
        Some(3.0),
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_localhost_route_answers_to_the_loopback_addresses() {
    let (_up, gw) = one_route(
        "dev",
        "host = \"localhost\"",
        "origins = [\"http://localhost:*\"]",
    )
    .await;
    let client = HttpClient::h1();
    for (host, status) in [
        ("localhost:8080", StatusCode::OK),
        ("127.0.0.1:8080", StatusCode::OK),
        ("[::1]:8080", StatusCode::OK),
        ("127.0.0.2", StatusCode::NOT_FOUND),
        ("example.com", StatusCode::NOT_FOUND),
    ] {
        let r = client.call("GET", gw.addr, "/", &[("host", host)]).await;
        assert_eq!(r.status, status, "{host}: {r:?}");
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_guard_refuses_cross_origin_writes_the_policy_denies() {
    let up = upstream().await;
    let target = format!("http://{}", up.addr());
    let text = head("")
        + &route("guarded", "path = \"/g/\"\nguard = true", &target, APP_CORS)
        + &route("open", "path = \"/o/\"", &target, APP_CORS);
    let gw = gateway::start(&text).await;
    let client = HttpClient::h1();
    let send = |method: &'static str, path: &'static str, headers: &'static [(&str, &str)]| {
        client.send(request(method, gw.addr, path, headers, full("a=1")))
    };

    // Refused at the edge: never forwarded, a 403 with the decision's Vary.
    for headers in [
        &[("origin", EVIL), ("sec-fetch-site", "cross-site")][..],
        &[("origin", EVIL)][..],
        &[("sec-fetch-site", "cross-site")][..],
    ] {
        let r = send("POST", "/g/transfer", headers).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{headers:?}: {r:?}");
        assert_eq!(r.count(ACAO), 0);
        assert!(r.text().contains("edge guard"), "{r:?}");
    }
    assert_eq!(up.count(), 0);

    // Passed: the allowed origin, reads, same-origin pages, non-browser clients.
    let passes: &[(&str, &[(&str, &str)])] = &[
        ("POST", &[("origin", APP), ("sec-fetch-site", "cross-site")]),
        ("GET", &[("origin", EVIL), ("sec-fetch-site", "cross-site")]),
        (
            "POST",
            &[("origin", EVIL), ("sec-fetch-site", "same-origin")],
        ),
        ("PUT", &[("sec-fetch-site", "none")]),
        ("DELETE", &[]),
    ];
    for (method, headers) in passes {
        let r = client
            .send(request(method, gw.addr, "/g/x", headers, full("")))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{method} {headers:?}: {r:?}");
    }
    // Without the guard, CORS guards reading only: the write reaches the upstream.
    let r = send(
        "POST",
        "/o/transfer",
        &[("origin", EVIL), ("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.count(ACAO), 0, "the page cannot read it: {r:?}");
    assert_eq!(up.count(), passes.len() + 1);

    // Three refusals; the two passed requests from EVIL that CORS then denied count too.
    let m = gw.metrics();
    for (series, value) in [
        (
            r#"requests_total{outcome="guard_refused",route="guarded"}"#,
            3.0,
        ),
        (
            r#"requests_total{outcome="actual_denied",route="guarded"}"#,
            2.0,
        ),
        (
            r#"denials_total{reason="origin_not_allowed",route="guarded"}"#,
            4.0,
        ),
        (
            r#"denials_total{reason="cross_site_without_origin",route="guarded"}"#,
            1.0,
        ),
    ] {
        assert_sample(&m, &format!("corsica_{series}"), Some(value));
    }
    gw.shutdown().await;
}
