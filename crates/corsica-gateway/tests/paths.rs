//! Routing uses the path the upstream will understand: `/%61dmin` and `//admin` get the
//! `/admin/` route's policy, and ambiguous paths are refused.

use corsica_testkit::client::HttpClient;
use corsica_testkit::gateway::{self, LISTEN, Running, cors_route, route};
use corsica_testkit::headers::ACAO;
use corsica_testkit::raw;
use corsica_testkit::server::{Reply, Seen, TestServer};

/// A gateway whose routes (`matching` lines, the one origin allowed) all go to `echo`.
async fn echo_gateway(routes: &[(&str, &str)]) -> Running {
    let mut text = LISTEN.to_owned();
    for (i, (matching, origin)) in routes.iter().enumerate() {
        let cors = format!("origins = [\"{origin}\"]");
        text += &route(&format!("r{i}"), matching, "echo", &cors);
    }
    gateway::start(&text).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoded_paths_get_the_policy_of_the_resource() {
    let running = echo_gateway(&[
        ("path = \"/admin/\"", "https://admin.example.com"),
        ("path = \"/\"", "https://*.example.com"),
    ])
    .await;
    let a = running.addr;
    let wide = "https://blog.example.com";
    assert!(
        raw::text(a, &raw::get("/public/x", wide))
            .await
            .contains(&format!("access-control-allow-origin: {wide}"))
    );
    for sneaky in ["/admin/x", "/%61dmin/x", "//admin/x", "/%61%64%6d%69%6e/x"] {
        let r = raw::text(a, &raw::get(sneaky, wide)).await;
        assert!(r.starts_with("http/1.1 200"), "{sneaky}: {r}");
        assert!(
            !r.contains("access-control-allow-origin"),
            "{sneaky} must get the /admin/ policy: {r}"
        );
    }
    for ambiguous in ["/admin%2Fx", "/x/../admin/x", "/%2e%2e/admin"] {
        let r = raw::text(a, &raw::get(ambiguous, wide)).await;
        assert!(r.starts_with("http/1.1 400"), "{ambiguous}: {r}");
    }
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_cookie_fields_reach_an_http1_upstream_as_one_line() {
    // An HTTP/1.1 upstream that answers with every `cookie` line it got, one per line.
    let upstream = TestServer::start(|s: &Seen| Reply::ok(s.header_all("cookie").join("\n"))).await;
    let text = LISTEN.to_owned()
        + &cors_route(
            &upstream.base(),
            "origins = [\"https://a.example\"]\ncredentials = true",
        );
    let running = gateway::start(&text).await;
    let r = HttpClient::h2()
        .call(
            "GET",
            running.addr,
            "/x",
            &[
                ("origin", "https://a.example"),
                ("cookie", "a=1"),
                ("cookie", "b=2"),
            ],
        )
        .await;
    assert_eq!(r.headers[ACAO], "https://a.example");
    assert_eq!(r.text(), "a=1; b=2");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_are_normalized_and_ambiguous_ones_refused() {
    let running = echo_gateway(&[("host = \"api.example.com\"", "https://a.example")]).await;
    let a = running.addr;
    let ok = raw::text(
        a,
        &raw::request(
            "GET",
            "/x",
            &[
                ("host", "API.example.com.:8080"),
                ("origin", "https://a.example"),
            ],
        ),
    )
    .await;
    assert!(
        ok.starts_with("http/1.1 200")
            && ok.contains("access-control-allow-origin: https://a.example"),
        "{ok}"
    );
    // Absolute form: the target's host decides, not the Host header.
    let abs = raw::text(
        a,
        &raw::request(
            "GET",
            "http://api.example.com/x",
            &[("host", "other.example")],
        ),
    )
    .await;
    assert!(abs.starts_with("http/1.1 200"), "{abs}");
    let two = raw::text(
        a,
        &raw::request(
            "GET",
            "/x",
            &[("host", "api.example.com"), ("host", "evil.example")],
        ),
    )
    .await;
    assert!(two.starts_with("http/1.1 400"), "{two}");
    running.shutdown().await;
}
