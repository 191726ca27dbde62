//! Upstream faults the soak found (issue 14): an upstream body shorter than its
//! `Content-Length`, a response cut in the middle of a chunked body, and a pooled
//! keep-alive connection that the upstream closed while it sat idle. Each client must get a
//! complete response, or a 502/504 with the route's CORS headers, or (once the head is on
//! its way) a response visibly cut, never an empty reply.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use corsica_testkit::gateway::{APP, app_gateway, assert_sample};
use corsica_testkit::headers::ACAO;
use corsica_testkit::raw;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Reads one request head from `s`; `false` at the end of the connection.
async fn read_head(s: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte).await {
            Ok(0) | Err(_) => return false,
            Ok(_) => buf.push(byte[0]),
        }
    }
    true
}

/// An upstream answering every request of every connection with `answer` (written in one
/// piece), then closing the connection after `close_after` (`None`: kept open for the
/// next request). Counts the connections it accepted.
async fn upstream(
    answer: &'static str,
    close_after: Option<Duration>,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                while read_head(&mut s).await {
                    if s.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                    if let Some(after) = close_after {
                        // Jitter of up to ±25%: some connections close just as the
                        // gateway reuses them.
                        let jitter = (s.peer_addr().map_or(0, |a| a.port()) as u64 * 7919) % 50;
                        let after = after.mul_f64(0.75 + jitter as f64 / 100.0);
                        tokio::time::sleep(after).await;
                        return;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

/// Sends a GET from [`APP`] to the gateway at `addr` and reads what comes back until the
/// gateway closes (at most 5 s).
async fn get_to_close(addr: SocketAddr) -> Vec<u8> {
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(raw::get("/x", APP).as_bytes()).await.unwrap();
    read_to_close(&mut c).await
}

/// The gateway counted `n` upstream bodies that failed on route `app`.
fn assert_body_errors(gw: &corsica_testkit::gateway::Running, n: u32) {
    assert_sample(
        &gw.metrics(),
        r#"corsica_upstream_errors_total{kind="body",route="app"}"#,
        Some(f64::from(n)),
    );
}

/// Reads what the gateway sends until it closes (at most 5 s).
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    buf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_shorter_than_its_content_length_is_a_502_with_cors() {
    let (up, _) = upstream(
        "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b",
        Some(Duration::ZERO),
    )
    .await;
    let gw = app_gateway(up, "upstream_timeout_ms = 3000").await;
    for _ in 0..20 {
        let wire = get_to_close(gw.addr).await;
        let r = raw::parse(&wire, true)
            .unwrap_or_else(|| panic!("a complete response: {:?}", String::from_utf8_lossy(&wire)));
        assert_eq!(r.status, 502, "{r:?}");
        assert_eq!(r.one(ACAO), Some(APP), "the route's CORS headers: {r:?}");
    }
    assert_body_errors(&gw, 20);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_body_cut_short_reaches_the_client_visibly_cut() {
    for answer in [
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
        // Too long to be read whole before the head goes out.
        "HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\nhello",
    ] {
        cut_visibly(answer).await;
    }
}

async fn cut_visibly(answer: &'static str) {
    let (up, _) = upstream(answer, Some(Duration::ZERO)).await;
    let gw = app_gateway(up, "upstream_timeout_ms = 3000").await;
    for _ in 0..20 {
        let wire = get_to_close(gw.addr).await;
        let text = String::from_utf8_lossy(&wire).to_ascii_lowercase();
        assert!(
            text.starts_with("http/1.1 200"),
            "the head, not an empty reply: {text:?}"
        );
        assert!(text.contains(&format!("{ACAO}: {APP}")), "{text}");
        assert!(
            !text.ends_with("0\r\n\r\n"),
            "never ended as if complete: {text:?}"
        );
        assert!(
            text.ends_with("hello") || text.ends_with("hello\r\n"),
            "{text:?}"
        );
    }
    assert_body_errors(&gw, 20);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_response_is_a_502_with_cors_not_a_connect_error() {
    let (up, _) = upstream("HTTP/1.1 two hundred\r\n\r\n", Some(Duration::ZERO)).await;
    let gw = app_gateway(up, "upstream_timeout_ms = 3000").await;
    let r = raw::exchange(gw.addr, raw::get("/x", APP)).await;
    assert_eq!(r.status, 502, "{r:?}");
    assert_eq!(r.one(ACAO), Some(APP), "the route's CORS headers: {r:?}");
    let m = gw.metrics();
    assert_sample(
        &m,
        r#"corsica_upstream_errors_total{kind="response",route="app"}"#,
        Some(1.0),
    );
    assert_sample(
        &m,
        r#"corsica_upstream_errors_total{kind="connect",route="app"}"#,
        Some(0.0),
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_connection_the_upstream_closed_is_not_a_502() {
    // The upstream answers with keep-alive, then closes the idle connection 100 ms later;
    // the clients come back after 300 ms.
    let (up, accepted) = upstream(
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        Some(Duration::from_millis(300)),
    )
    .await;
    let gw = app_gateway(up, "upstream_timeout_ms = 3000").await;
    let client = Arc::new(corsica_testkit::client::HttpClient::h1());
    let url = format!("http://{}/x", gw.addr);
    for round in 0..10 {
        let mut answers = tokio::task::JoinSet::new();
        for _ in 0..40 {
            let (client, url) = (client.clone(), url.clone());
            answers.spawn(async move { client.try_get(&url, &[("origin", APP)]).await });
        }
        while let Some(a) = answers.join_next().await {
            let r = a.unwrap().unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert_eq!(r.status, 200, "round {round}: {r:?}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(accepted.load(Ordering::SeqCst) >= 5);
    gw.shutdown().await;
}

/// The gateway's sockets to `port` in state `CLOSE_WAIT` (the peer closed, this side has
/// not), from `/proc/net/tcp`.
fn close_wait_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[3] == "08" && f[2].rsplit(':').next() == Some(&format!("{port:04X}"))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_the_upstream_closed_do_not_linger_in_close_wait() {
    let (up, _) = upstream(
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        Some(Duration::from_millis(50)),
    )
    .await;
    let gw = app_gateway(up, "upstream_timeout_ms = 3000").await;
    let client = corsica_testkit::client::HttpClient::h1();
    let url = format!("http://{}/x", gw.addr);
    for _ in 0..5 {
        assert_eq!(client.get(&url, &[("origin", APP)]).await.status, 200);
    }
    // The upstream closed them after 50 ms; the sweep runs every second.
    let gone = corsica_testkit::eventually(40, Duration::from_millis(100), || async {
        close_wait_to(up.port()) == 0
    })
    .await;
    assert!(
        gone,
        "{} sockets still in CLOSE_WAIT",
        close_wait_to(up.port())
    );
    gw.shutdown().await;
}
