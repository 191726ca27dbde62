//! Shadow (report-only) policies, issue 17: a route's `[route.cors_shadow]` never answers,
//! but every request whose verdict it would change is counted (report and `/metrics`) and
//! sampled with the engine's reason; reloads that touch only the candidate keep the rest;
//! the admin listener serves the report as JSON; what requests send stays bounded.

use corsica_gateway::shadow::{Change, ShadowReport};
use corsica_testkit::gateway::{self, APP, EVIL, assert_sample, head, route};
use corsica_testkit::raw;

/// The policy in force: [`APP`], with credentials, GET/POST/PUT/DELETE.
const ACTIVE: &str = r#"origins = ["https://app.example.com"]
credentials = true
methods = ["GET", "POST", "PUT", "DELETE"]
expose = ["x-request-id"]"#;

/// A configuration with route `orders` (policy [`ACTIVE`]) whose candidate is `shadow`,
/// and route `other` without one.
fn config(shadow: &str) -> String {
    head("")
        + &route("orders", "path = \"/orders\"", "echo", ACTIVE)
        + &format!("\n[route.cors_shadow]\n{shadow}\n")
        + &route("other", "", "echo", ACTIVE)
}

/// A candidate that drops PUT and DELETE, and trusts [`EVIL`] too.
const DROPS_PUT: &str = r#"origins = ["https://app.example.com", "https://evil.example.net"]
credentials = true
methods = ["GET", "POST"]
expose = ["x-request-id"]"#;

/// A preflight from `origin` for `method` to `path`; the response, lower-cased.
async fn preflight(gw: &gateway::Running, path: &str, origin: &str, method: &str) -> String {
    let req = raw::request(
        "OPTIONS",
        path,
        &[
            ("host", "a"),
            ("origin", origin),
            ("access-control-request-method", method),
        ],
    );
    raw::text(gw.addr, &req).await
}

/// The counts of `route` in `report`: (would_deny, would_allow, would_change).
fn counts(report: &ShadowReport, route: &str) -> Option<(u64, u64, u64)> {
    report
        .routes
        .iter()
        .find(|r| r.route == route)
        .map(|r| (r.would_deny, r.would_allow, r.would_change))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_that_drops_a_method_counts_the_would_be_denials() {
    let gw = gateway::start(&config(DROPS_PUT)).await;
    let mut live = gw.shadow_subscribe();
    // The policy in force answers: PUT is allowed.
    let text = preflight(&gw, "/orders/7", APP, "PUT").await;
    assert!(text.starts_with("http/1.1 204"), "{text}");
    assert!(text.contains("access-control-allow-methods"), "{text}");
    // What both policies agree on is not counted: GET from APP, no Origin, the other route.
    raw::text(gw.addr, &raw::get("/orders", APP)).await;
    raw::text(gw.addr, &raw::request("PUT", "/orders", &[("host", "a")])).await;
    preflight(&gw, "/elsewhere", APP, "PUT").await;
    // An actual DELETE from APP: allowed now, the candidate would not let the page read it.
    let delete = raw::request(
        "DELETE",
        "/orders/7?secret=1",
        &[("host", "a"), ("origin", APP)],
    );
    let text = raw::text(gw.addr, &delete).await;
    assert!(
        text.contains("access-control-allow-origin: https://app.example.com"),
        "{text}"
    );
    // EVIL is denied now; the candidate would allow it.
    let text = raw::text(gw.addr, &raw::get("/orders", EVIL)).await;
    assert!(!text.contains("access-control-allow-origin"), "{text}");

    let report = gw.shadow_report();
    assert_eq!(counts(&report, "orders"), Some((2, 1, 0)), "{report:?}");
    assert_eq!(
        counts(&report, "other"),
        None,
        "only routes with a candidate"
    );
    assert_eq!(report.capacity, corsica_gateway::shadow::SAMPLES);
    let messages: Vec<&str> = report.samples.iter().map(|s| s.message.as_str()).collect();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert!(
        messages[0].starts_with(
            "would now deny https://app.example.com on PUT /orders/7: method `PUT` is not allowed"
        ),
        "{messages:#?}"
    );
    assert!(
        messages[1].starts_with("would now deny https://app.example.com on DELETE /orders/7: "),
        "the query is left out: {messages:#?}"
    );
    assert!(
        messages[2].starts_with(
            "would now allow https://evil.example.net on GET /orders: denied now: origin `https://evil.example.net` is not allowed"
        ),
        "{messages:#?}"
    );
    let first = &report.samples[0];
    assert_eq!(
        (
            first.seq,
            first.route.as_str(),
            first.kind.as_str(),
            first.method.as_str(),
            first.path.as_str(),
            first.origin.as_str(),
            first.change,
            first.reason.as_deref()
        ),
        (
            1,
            "orders",
            "preflight",
            "PUT",
            "/orders/7",
            APP,
            Change::WouldDeny,
            Some("method_not_allowed")
        )
    );
    assert!(first.unix_ms > 1_700_000_000_000, "{first:?}");
    assert_eq!(report.samples[1].kind, "actual");
    assert_eq!(
        report.samples[2].reason.as_deref(),
        Some("origin_not_allowed")
    );
    // The subscriber saw the same, in order.
    for want in &report.samples {
        assert_eq!(&live.recv().await.unwrap(), want);
    }
    let metrics = gw.metrics();
    let series = |change: &str| {
        format!("corsica_shadow_changes_total{{change=\"{change}\",route=\"orders\"}}")
    };
    assert_sample(&metrics, &series("would_deny"), Some(2.0));
    assert_sample(&metrics, &series("would_allow"), Some(1.0));
    assert_sample(&metrics, &series("would_change"), Some(0.0));
    assert!(
        !metrics.contains("corsica_shadow_changes_total{change=\"would_deny\",route=\"other\"}"),
        "{metrics}"
    );
    // The active policy's own counters are untouched by the candidate.
    assert_sample(
        &metrics,
        "corsica_requests_total{outcome=\"preflight_allowed\",route=\"orders\"}",
        Some(1.0),
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_page_may_read_is_a_change_too() {
    // Same origins and methods, but no credentials and another exposed header.
    let gw = gateway::start(&config(
        r#"origins = ["https://app.example.com"]
methods = ["GET", "POST", "PUT", "DELETE"]
expose = ["etag"]"#,
    ))
    .await;
    raw::text(gw.addr, &raw::get("/orders", APP)).await;
    let report = gw.shadow_report();
    assert_eq!(counts(&report, "orders"), Some((0, 0, 1)), "{report:?}");
    let sample = &report.samples[0];
    assert_eq!(
        (sample.change, sample.reason.as_deref()),
        (Change::WouldChange, None)
    );
    assert_eq!(
        sample.message,
        "would change what is allowed to https://app.example.com on GET /orders: credentials would no longer be allowed; exposed headers would be `etag` (now `x-request-id`)"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_serves_the_report_as_json() {
    let gw = gateway::start(&config(DROPS_PUT)).await;
    preflight(&gw, "/orders", APP, "DELETE").await;
    let admin = gw.admin_addr.expect("admin listener");
    // By a loopback name: without a token, /shadow is read only so (DNS rebinding).
    let response = raw::exchange(
        admin,
        raw::request("GET", "/shadow", &[("host", "127.0.0.1")]),
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.one("content-type"), Some("application/json"));
    let report: ShadowReport = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(report, gw.shadow_report());
    assert_eq!(counts(&report, "orders"), Some((1, 0, 0)));
    let json = String::from_utf8_lossy(&response.body);
    assert!(json.contains("\"change\":\"would_deny\""), "{json}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_carry_the_candidate_and_keep_the_counts() {
    let gw = gateway::start(&config(DROPS_PUT)).await;
    preflight(&gw, "/orders", APP, "PUT").await;
    // Only the candidate changes: it now drops POST instead; the policy in force is the same.
    let post_only = DROPS_PUT.replace("[\"GET\", \"POST\"]", "[\"GET\", \"PUT\", \"DELETE\"]");
    gw.reload_text(&config(&post_only), "new.toml").unwrap();
    let config = gw.config();
    assert!(config.routes()[0].policy().allows_method("PUT"));
    assert!(
        config.routes()[0]
            .shadow_policy()
            .unwrap()
            .allows_method("PUT")
    );
    assert!(
        preflight(&gw, "/orders", APP, "PUT")
            .await
            .starts_with("http/1.1 204")
    );
    let text = preflight(&gw, "/orders", APP, "POST").await;
    assert!(text.starts_with("http/1.1 204"), "{text}");
    let report = gw.shadow_report();
    assert_eq!(counts(&report, "orders"), Some((2, 0, 0)), "{report:?}");
    assert_eq!(report.samples[1].method, "POST");
    // A candidate the engine refuses is refused like any policy, with its prefix; the
    // running one stays.
    let err = gw
        .reload_text(&config_with_bad_shadow(), "bad.toml")
        .unwrap_err();
    assert!(
        err.first()
            .message()
            .starts_with("[route.cors_shadow] route \"orders\": "),
        "{err}"
    );
    assert!(gw.config().routes()[0].shadow_policy().is_some());
    // Promoted (or removed): no candidate, no report row; the samples stay until replaced.
    let promoted = head("") + &route("orders", "path = \"/orders\"", "echo", &post_only);
    gw.reload_text(&promoted, "promoted.toml").unwrap();
    preflight(&gw, "/orders", APP, "POST").await;
    let report = gw.shadow_report();
    assert!(report.routes.is_empty(), "{report:?}");
    assert_eq!(report.samples.len(), 2);
    gw.shutdown().await;
}

/// [`config`] with a candidate that allows credentials with `*`.
fn config_with_bad_shadow() -> String {
    config("origins = [\"*\"]\ncredentials = true")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_are_bounded_whatever_requests_send() {
    let gw = gateway::start(&config(DROPS_PUT)).await;
    let long_path = format!("/orders/{}", "p".repeat(5000));
    let long_origin = format!("https://{}.example.net", "o".repeat(3000));
    // The long origin is denied now and would be denied by the candidate: not a change.
    preflight(&gw, &long_path, &long_origin, "GET").await;
    preflight(&gw, &long_path, APP, "PUT").await;
    let report = gw.shadow_report();
    assert_eq!(report.samples.len(), 1, "{report:?}");
    let sample = &report.samples[0];
    assert!(
        sample.path.len() <= 200 && sample.path.ends_with("..."),
        "{sample:?}"
    );
    assert!(sample.message.len() < 1024, "{}", sample.message.len());
    // Many changes at once: every one counted, at most SAMPLES_PER_SECOND sampled a second.
    let many = 60u64;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..many {
        let addr = gw.addr;
        tasks.spawn(async move {
            let req = raw::request(
                "OPTIONS",
                "/orders",
                &[
                    ("host", "a"),
                    ("origin", APP),
                    ("access-control-request-method", "DELETE"),
                ],
            );
            raw::text(addr, &req).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        assert!(done.unwrap().starts_with("http/1.1 204"));
    }
    let report = gw.shadow_report();
    assert_eq!(counts(&report, "orders"), Some((many + 1, 0, 0)));
    let sampled = report.samples.last().unwrap().seq;
    assert_eq!(sampled + report.unsampled, many + 1, "{report:?}");
    assert!(report.samples.len() <= corsica_gateway::shadow::SAMPLES);
    gw.shutdown().await;
}

/// The README's shadow example says what the gateway does: its configuration (on the echo
/// upstream) samples its line for a preflight from the old front-end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_example_samples_the_line_it_shows() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = &readme[readme.find("### Shadow policies").expect("the section")..];
    let block = |fence: &str| {
        let start = section.find(fence).expect("the block") + fence.len();
        section[start..start + section[start..].find("```").unwrap()].to_owned()
    };
    let toml = block("```toml\n").replace("\"http://127.0.0.1:9002\"", "\"echo\"");
    let line = block("```text\n");
    let shown = line.trim_end().trim_end_matches('…');
    let gw = gateway::start(&(head("") + &toml)).await;
    let text = preflight(&gw, "/orders/7", "https://old.example.com", "PUT").await;
    assert!(text.starts_with("http/1.1 204"), "{text}");
    let report = gw.shadow_report();
    assert!(
        report.samples[0].message.starts_with(shown),
        "README: {shown}\ngateway: {}",
        report.samples[0].message
    );
    gw.shutdown().await;
}
