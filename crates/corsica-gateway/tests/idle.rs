//! A connection that brings no request within the header timeout is closed, whatever it
//! sends (nothing, part of the h2 preface), so idle sockets cannot hold every slot.

use std::time::{Duration, Instant};

use corsica_testkit::gateway::{self, LISTEN, cors_route};
use corsica_testkit::raw;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_stalled_connections_are_closed_and_free_their_slot() {
    let text = format!("{LISTEN}[limits]\nmax_connections = 2\nheader_read_timeout_ms = 300\n")
        + &cors_route("echo", "origins = [\"https://a.example\"]");
    let running = gateway::start(&text).await;
    let addr = running.addr;
    // Two silent clients take both slots: one sends nothing, one half an h2 preface.
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    stalled.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let started = Instant::now();
    for s in [&mut silent, &mut stalled] {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("closed in time");
        assert!(
            matches!(n, Ok(0) | Err(_)),
            "the gateway closes the idle connection"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // The slots are free again: a real request is served.
    let text = raw::text(addr, &raw::get("/x", "https://a.example")).await;
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(
        text.contains("access-control-allow-origin: https://a.example"),
        "{text}"
    );
    running.shutdown().await;
}
