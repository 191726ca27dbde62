//! Findings 2 and 3 of issue 14: a request body or an upstream response body that stalls
//! is ended. A POST sending a byte now and then held its connection (and an upstream
//! connection) forever; so did an upstream that sent its head and a few bytes, then
//! nothing. Raw sockets and a scripted upstream; the timeouts are small and the
//! assertions only say "within a few seconds".

use std::net::SocketAddr;
use std::time::Duration;

use corsica_testkit::gateway::{APP, app_gateway, assert_sample};
use corsica_testkit::headers::ACAO;
use corsica_testkit::raw;
use corsica_testkit::server::{Reply, Seen, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a stalled exchange may take to be ended (the timeouts are far shorter: this
/// only allows for a loaded machine).
const WITHIN: Duration = Duration::from_secs(5);

/// Reads from `stream` until the end of the connection (or an error), at most [`WITHIN`];
/// `None` if the connection was still open then.
async fn read_to_close(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    tokio::time::timeout(WITHIN, async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| buf)
}

/// What the gateway answers to a POST that sends 3 bytes of its 100 and stalls, checked
/// to be a 408 with the route's CORS headers, once the connection is closed.
async fn stalled_post_answer(gw: SocketAddr) -> raw::RawResponse {
    let mut stalled = TcpStream::connect(gw).await.unwrap();
    stalled.write_all(post_head().as_bytes()).await.unwrap();
    stalled.write_all(b"abc").await.unwrap();
    let wire = read_to_close(&mut stalled)
        .await
        .expect("the connection closes within a few seconds");
    let r = raw::parse(&wire, true).expect("a complete response");
    assert_eq!(r.status, 408, "{r:?}");
    assert_eq!(r.one(ACAO), Some(APP), "the route's CORS headers: {r:?}");
    r
}

/// The head of a POST from [`APP`] announcing a 100-byte body.
fn post_head() -> String {
    format!("POST /upload HTTP/1.1\r\nhost: a\r\norigin: {APP}\r\ncontent-length: 100\r\n\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_body_is_408_and_the_connection_closes() {
    let up = TestServer::start(|s: &Seen| Reply::ok(format!("got {} bytes\n", s.body.len()))).await;
    let gw = app_gateway(
        up.addr(),
        "upstream_timeout_ms = 5000\nbody_read_timeout_ms = 300",
    )
    .await;

    // A body that keeps coming, a byte at a time, in all longer than the timeout: each
    // read resets it, and the request goes through.
    let mut slow = TcpStream::connect(gw.addr).await.unwrap();
    slow.write_all(post_head().replace("100", "8").as_bytes())
        .await
        .unwrap();
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(75)).await;
        slow.write_all(b"x").await.unwrap();
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let ok = tokio::time::timeout(WITHIN, async {
        loop {
            if let Some(r) = raw::parse(&buf, false) {
                return r;
            }
            let n = slow.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&buf));
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("a response");
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(String::from_utf8_lossy(&ok.body), "got 8 bytes\n");

    // A body that stops: 408 with the route's CORS headers, and the connection closes.
    let r = stalled_post_answer(gw.addr).await;
    assert_eq!(r.one("connection"), Some("close"), "{r:?}");

    let m = gw.metrics();
    assert_sample(
        &m,
        r#"corsica_client_errors_total{kind="body_timeout",route="app"}"#,
        Some(1.0),
    );
    assert_sample(
        &m,
        r#"corsica_client_errors_total{kind="request_body",route="app"}"#,
        Some(0.0),
    );
    for kind in ["connect", "timeout"] {
        let series = format!("corsica_upstream_errors_total{{kind=\"{kind}\",route=\"app\"}}");
        assert_sample(&m, &series, Some(0.0));
    }
    gw.shutdown().await;
}

/// A scripted upstream for one connection: reads a request head, answers with a head
/// announcing `len` bytes and then each of `pieces` after a pause of `pause`, then keeps
/// the connection open; the receiver reports when the gateway closes it.
async fn scripted_upstream(
    len: usize,
    pieces: Vec<&'static str>,
    pause: Duration,
) -> (SocketAddr, tokio::sync::oneshot::Receiver<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {len}\r\n\r\n");
        s.write_all(head.as_bytes()).await.unwrap();
        for p in pieces {
            tokio::time::sleep(pause).await;
            s.write_all(p.as_bytes()).await.unwrap();
        }
        // Nothing more: wait for the gateway to give up (end of file or a reset).
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = closed_tx.send(());
    });
    (addr, closed_rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upstream_body_closes_the_client_connection() {
    // A body that keeps coming, in all longer than the timeout: each read resets it.
    let (up, _) = scripted_upstream(6, vec!["ab", "cd", "ef"], Duration::from_millis(100)).await;
    let gw = app_gateway(
        up,
        "upstream_timeout_ms = 5000\nupstream_body_timeout_ms = 400",
    )
    .await;
    let r = raw::exchange(gw.addr, raw::get("/x", APP)).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, b"abcdef");
    gw.shutdown().await;

    // A small body (read whole before the head goes out): a head and 3 bytes of 100, then
    // nothing: 504 with the route's CORS headers, and the upstream's connection closes.
    let (up, upstream_closed) = scripted_upstream(100, vec!["abc"], Duration::ZERO).await;
    let gw = app_gateway(
        up,
        "upstream_timeout_ms = 5000\nupstream_body_timeout_ms = 300",
    )
    .await;
    let r = raw::exchange(gw.addr, raw::get("/x", APP)).await;
    assert_eq!(r.status, 504, "{r:?}");
    assert_eq!(r.one(ACAO), Some(APP), "the route's CORS headers: {r:?}");
    tokio::time::timeout(WITHIN, upstream_closed)
        .await
        .expect("the upstream connection closes within a few seconds")
        .expect("the upstream saw its connection end");
    assert_sample(
        &gw.metrics(),
        r#"corsica_upstream_errors_total{kind="body_timeout",route="app"}"#,
        Some(1.0),
    );
    gw.shutdown().await;

    // A streamed body (larger than what is read whole): a head and 3 bytes of 100,000,
    // then nothing: the client gets the head (with the route's CORS headers) and the 3
    // bytes, then its connection closes, and so does the upstream's.
    let (up, upstream_closed) = scripted_upstream(100_000, vec!["abc"], Duration::ZERO).await;
    let gw = app_gateway(
        up,
        "upstream_timeout_ms = 5000\nupstream_body_timeout_ms = 300",
    )
    .await;
    let mut client = TcpStream::connect(gw.addr).await.unwrap();
    client
        .write_all(raw::get("/x", APP).as_bytes())
        .await
        .unwrap();
    let wire = read_to_close(&mut client)
        .await
        .expect("the client's connection closes within a few seconds");
    let text = String::from_utf8_lossy(&wire);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("{ACAO}: {APP}")),
        "{head}"
    );
    assert_eq!(body, "abc", "cut after what the upstream sent");
    tokio::time::timeout(WITHIN, upstream_closed)
        .await
        .expect("the upstream connection closes within a few seconds")
        .expect("the upstream saw its connection end");

    let m = gw.metrics();
    assert_sample(
        &m,
        r#"corsica_upstream_errors_total{kind="body_timeout",route="app"}"#,
        Some(1.0),
    );
    for kind in ["connect", "timeout"] {
        let series = format!("corsica_upstream_errors_total{{kind=\"{kind}\",route=\"app\"}}");
        assert_sample(&m, &series, Some(0.0));
    }
    gw.shutdown().await;
}

// The soak's finding: the built-in echo upstream read a trickled body forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_to_the_echo_upstream_is_408() {
    let gw = corsica_testkit::gateway::start(
        &(corsica_testkit::gateway::head("body_read_timeout_ms = 300")
            + &corsica_testkit::gateway::route(
                "app",
                "path = \"/\"",
                "echo",
                corsica_testkit::gateway::APP_CORS,
            )),
    )
    .await;
    stalled_post_answer(gw.addr).await;
    gw.shutdown().await;
}
