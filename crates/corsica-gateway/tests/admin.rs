//! The admin listener (`/metrics`, `/healthz`) under abuse and at shutdown: idle sockets
//! are closed at the header deadline, connections beyond `max_admin_connections` are
//! closed at once, the client listener keeps answering meanwhile, and during the graceful
//! drain `/healthz` answers 503 `draining` instead of disappearing.

use std::net::SocketAddr;
use std::time::Duration;

use corsica_testkit::client::{HttpClient, request};
use corsica_testkit::gateway::{self, APP, APP_CORS, head, route};
use corsica_testkit::server::{Reply, TestServer, empty};
use corsica_testkit::{STEP, eventually, raw};
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A gateway with one route for [`APP`] to `upstream`, the admin listener, and `limits`.
async fn gateway_to(upstream: &str, limits: &str) -> gateway::Running {
    gateway::start(&(head(limits) + &route("app", "path = \"/\"", upstream, APP_CORS))).await
}

/// `n` connections to `addr`, in order.
async fn connect_many(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(TcpStream::connect(addr).await.unwrap());
    }
    out
}

/// The client listener answers a CORS request.
async fn assert_serves(addr: SocketAddr) {
    let text = raw::text(addr, &raw::get("/x", APP)).await;
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(
        text.contains("access-control-allow-origin: https://app.example.com"),
        "{text}"
    );
}

/// `GET path` on the admin listener: the status and body, or `None` when the connection is
/// closed without an answer.
async fn admin_get(admin: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(admin).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n");
    // A connection closed at once may refuse the write: that is "no answer" too.
    s.write_all(request.as_bytes()).await.ok()?;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(STEP, s.read_to_end(&mut out))
        .await
        .expect("the admin connection stayed open");
    let r = raw::parse(&out, true)?;
    Some((r.status, String::from_utf8_lossy(&r.body).into_owned()))
}

/// Whether the server closed `s` (end of file or reset) within `within`.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    matches!(
        tokio::time::timeout(within, s.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

// Finding 0: idle sockets to the admin port are closed at the header deadline, whatever
// they sent (nothing, half a request head, one whole request then silence).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_admin_sockets_are_closed_at_the_header_deadline() {
    let gw = gateway_to("echo", "header_read_timeout_ms = 300").await;
    let admin = gw.admin_addr.expect("admin listener");
    let mut idle = connect_many(admin, 20).await;
    let mut partial = TcpStream::connect(admin).await.unwrap();
    partial
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: admin\r\n")
        .await
        .unwrap();
    // A keep-alive connection that was served once and then says nothing more.
    let mut kept = TcpStream::connect(admin).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: admin\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 256];
    while !answer.ends_with(b"ok\n") {
        let n = tokio::time::timeout(STEP, kept.read(&mut buf))
            .await
            .expect("no /healthz answer")
            .unwrap();
        assert!(n > 0, "closed before answering /healthz");
        answer.extend_from_slice(&buf[..n]);
    }
    // The client listener answers while they are held.
    assert_serves(gw.addr).await;
    // Every one is closed well before the 15 s a test step may take (0.3 s configured).
    for (i, s) in idle.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(5)).await,
            "idle admin socket {i} still open"
        );
    }
    assert!(
        closed_within(&mut partial, Duration::from_secs(5)).await,
        "an admin socket with half a request head is still open"
    );
    assert!(
        closed_within(&mut kept, Duration::from_secs(5)).await,
        "an idle keep-alive admin socket is still open"
    );
    assert_eq!(
        admin_get(admin, "/healthz").await,
        Some((200, "ok\n".to_owned()))
    );
    gw.shutdown().await;
}

// Finding 0: beyond `max_admin_connections`, admin connections are closed at once (not held
// until the header deadline), and the client listener keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_connections_beyond_the_cap_are_closed_at_once() {
    // A header deadline far beyond the test's waits: only the cap can close them.
    let gw = gateway_to(
        "echo",
        "header_read_timeout_ms = 60000\nmax_admin_connections = 4",
    )
    .await;
    let admin = gw.admin_addr.expect("admin listener");
    let mut held = connect_many(admin, 4).await;
    // The first four hold the four slots (accepted in connection order); wait until the
    // gateway has taken them, seen from the admin's own answer: a fifth is closed unanswered.
    let full = eventually(200, Duration::from_millis(20), || async {
        admin_get(admin, "/healthz").await.is_none()
    })
    .await;
    assert!(
        full,
        "a fifth admin connection was served beside four idle ones"
    );
    let mut extra = connect_many(admin, 30).await;
    for (i, s) in extra.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(5)).await,
            "admin connection {i} beyond the cap is held"
        );
    }
    assert_serves(gw.addr).await;
    // The four within the cap are still open (their deadline is a minute away).
    for s in &mut held {
        assert!(!closed_within(s, Duration::from_millis(10)).await);
    }
    // Their slots come back when they go.
    drop(held);
    let served = eventually(250, Duration::from_millis(20), || async {
        admin_get(admin, "/healthz").await == Some((200, "ok\n".to_owned()))
    })
    .await;
    assert!(served, "the admin slots did not come back");
    gw.shutdown().await;
}

// Finding 9: during the graceful drain the admin listener stays up and `/healthz` says
// 503 `draining`, so a load balancer sees the state; it closes when the drain ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_says_draining_during_the_graceful_drain() {
    let slow = TestServer::start(
        Reply::ok("slow done")
            .header("access-control-allow-origin", "*")
            .delay(Duration::from_millis(1500)),
    )
    .await;
    let gw = gateway_to(
        &format!("http://{}", slow.addr()),
        "upstream_timeout_ms = 10000\nshutdown_grace_ms = 8000",
    )
    .await;
    let (addr, admin) = (gw.addr, gw.admin_addr.expect("admin listener"));
    assert_eq!(
        admin_get(admin, "/healthz").await,
        Some((200, "ok\n".to_owned()))
    );
    let in_flight = tokio::spawn(async move {
        HttpClient::h1()
            .call("GET", addr, "/slow", &[("origin", APP)])
            .await
    });
    let arrived = eventually(500, Duration::from_millis(10), || async {
        slow.count() == 1
    })
    .await;
    assert!(arrived, "the request did not reach the upstream");

    let shutdown = tokio::spawn(gw.shutdown());
    let refused = eventually(200, Duration::from_millis(10), || async {
        TcpStream::connect(addr).await.is_err()
    })
    .await;
    assert!(
        refused,
        "the client listener still accepts after shutdown began"
    );
    assert!(
        !in_flight.is_finished(),
        "the drain should still be running"
    );
    assert_eq!(
        admin_get(admin, "/healthz").await,
        Some((503, "draining\n".to_owned())),
        "/healthz during the drain"
    );
    let (status, metrics) = admin_get(admin, "/metrics").await.expect("metrics served");
    assert_eq!(status, 200);
    assert!(metrics.contains("corsica_client_connections"), "{metrics}");

    let r = tokio::time::timeout(STEP, in_flight)
        .await
        .expect("in-flight request stalled")
        .unwrap();
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    tokio::time::timeout(STEP, shutdown)
        .await
        .expect("shutdown did not return")
        .unwrap();
    assert!(
        TcpStream::connect(admin).await.is_err(),
        "admin port still open after the drain"
    );
    let after = HttpClient::h1()
        .try_send(request("GET", addr, "/slow", &[("origin", APP)], empty()))
        .await;
    assert!(after.is_err(), "a request after shutdown was answered");
}

const TOKEN: &str = "s3cret-admin-token-0123456789";

/// `GET path` on the admin listener with `authorization`, if any: the status.
async fn admin_status(admin: SocketAddr, path: &str, authorization: Option<&str>) -> u16 {
    let mut headers = vec![("host", "admin")];
    if let Some(a) = authorization {
        headers.push(("authorization", a));
    }
    raw::exchange(admin, raw::request("GET", path, &headers))
        .await
        .status
}

// Abuse resistance: the admin listener is refused on an address reachable from other
// hosts without a token, and with one, everything but /healthz requires it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exposed_admin_listener_needs_a_token() {
    let exposed = |token: &str| {
        format!(
            "{}{token}",
            head("").replace("admin = \"127.0.0.1:0\"", "admin = \"0.0.0.0:0\"")
        ) + &route("app", "path = \"/\"", "echo", APP_CORS)
    };
    // In the file: refused, with the fix named.
    let err = corsica_gateway::config::Config::parse(&exposed(""), "gw.toml").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("gw.toml:2:") && text.contains("set admin_token"),
        "{text}"
    );
    // A short token is refused too.
    let err = corsica_gateway::config::Config::parse(
        &format!("admin_token = \"short\"\n{}", exposed("")),
        "gw.toml",
    )
    .unwrap_err();
    assert!(err.to_string().contains("use at least 16"), "{err}");
    // By a command-line override: refused at start.
    let mut config = gateway::parse(
        &(head("") + &route("app", "path = \"/\"", "echo", APP_CORS)),
        "gw.toml",
    );
    config.set_admin(Some("0.0.0.0:0".parse().unwrap()));
    let refused = corsica_gateway::gateway::start(config, None).await;
    assert!(
        refused
            .as_ref()
            .err()
            .is_some_and(|e| e.to_string().contains("set admin_token")),
        "{:?}",
        refused.err()
    );

    // With a token: /metrics needs it, /healthz does not.
    let gw = gateway::start(&format!("admin_token = \"{TOKEN}\"\n{}", exposed(""))).await;
    let port = gw.admin_addr.unwrap().port();
    let admin: SocketAddr = ([127, 0, 0, 1], port).into();
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(admin_status(admin, "/metrics", None).await, 401);
    assert_eq!(
        admin_status(admin, "/metrics", Some("Bearer wrong-token-wrong-token-xx")).await,
        401
    );
    assert_eq!(
        admin_status(admin, "/metrics", Some(TOKEN)).await,
        401,
        "not a bearer value"
    );
    assert_eq!(admin_status(admin, "/metrics", Some(&bearer)).await, 200);
    let shouted = format!("BEARER {TOKEN}");
    assert_eq!(
        admin_status(admin, "/metrics", Some(&shouted)).await,
        200,
        "the scheme is case-insensitive"
    );
    assert_eq!(admin_status(admin, "/healthz", None).await, 200);
    // A reload that drops the token while the listener stays exposed is refused.
    let dropped = exposed("");
    assert!(gw.reload_text(&dropped, "new.toml").is_err());
    assert_eq!(admin_status(admin, "/metrics", None).await, 401);
    gw.shutdown().await;
}
