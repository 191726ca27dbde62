//! Connection slots under attack (issue 14, finding 1): sockets that connect and never send
//! a request cannot keep every slot busy, because when the slots run out the oldest
//! connection that has not sent a complete request head is closed for the newcomer; a
//! connection with a request in flight is never closed for it; and one client address
//! holds at most `max_connections_per_client` connections.

use std::net::SocketAddr;
use std::time::Duration;

use corsica_testkit::gateway::{self, APP, LISTEN, cors_route, sample};
use corsica_testkit::raw;
use corsica_testkit::server::{Reply, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Whether the gateway has closed `stream` (EOF or reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    matches!(
        tokio::time::timeout(within, stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// A connection to `addr` from the loopback address `from` (any 127.x.y.z is local).
async fn connect_from(from: [u8; 4], addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind a loopback address");
    socket.connect(addr).await.expect("connect")
}

/// Sends a keep-alive `GET` from [`APP`] on `stream` and asserts, within 2 s, a 200 with
/// the CORS header.
async fn assert_served(stream: &mut TcpStream, what: &str) {
    let request = format!("GET /x HTTP/1.1\r\nhost: a\r\norigin: {APP}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within 2 s"))
        .unwrap();
    let reply = String::from_utf8_lossy(&buf[..n]).to_lowercase();
    assert!(reply.starts_with("http/1.1 200"), "{what}: {reply}");
    assert!(
        reply.contains(&format!("access-control-allow-origin: {APP}")),
        "{what}: {reply}"
    );
}

fn config(limits: &str, upstream: &str) -> String {
    format!("{LISTEN}admin = \"127.0.0.1:0\"\n[limits]\n{limits}\n")
        + &cors_route(upstream, &format!("origins = [\"{APP}\"]"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_holding_every_slot_give_way_to_a_real_request() {
    // Before the fix, the request below waited for the 30 s header timeout.
    let text = config(
        "max_connections = 8\nmax_connections_per_client = 0\nheader_read_timeout_ms = 30000",
        "echo",
    );
    let running = gateway::start(&text).await;
    let addr = running.addr;
    let mut silent = Vec::new();
    for _ in 0..8 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    // Let the gateway take all eight.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Each newcomer keeps its connection open (keep-alive), so each needs a slot of its
    // own: three evictions.
    let mut newcomers = Vec::new();
    for round in 0..3 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert_served(&mut s, &format!("newcomer {round}")).await;
        newcomers.push(s);
    }
    // The three oldest silent sockets made room; the others are still open.
    for (i, s) in silent.iter_mut().enumerate() {
        let wait = Duration::from_millis(if i < 3 { 2000 } else { 100 });
        assert_eq!(
            closed_within(s, wait).await,
            i < 3,
            "silent socket {i}: the three oldest are closed for the newcomers"
        );
    }
    let metrics = running.metrics();
    assert_eq!(
        sample(
            &metrics,
            "corsica_connections_shed_total{reason=\"evicted\"}"
        ),
        Some(3.0),
        "{metrics}"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_with_a_request_in_flight_is_never_evicted() {
    // An upstream that answers after 1.5 s.
    let upstream = TestServer::start(Reply::ok("slow").delay(Duration::from_millis(1500))).await;
    let text = config(
        "max_connections = 2\nmax_connections_per_client = 0\nheader_read_timeout_ms = 30000",
        &upstream.base(),
    );
    let running = gateway::start(&text).await;
    let addr = running.addr;
    let slow = tokio::spawn(async move { raw::text(addr, &raw::get("/slow", APP)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // One silent socket takes the other slot; newcomers evict it (and each other), never
    // the request in flight.
    let _silent = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut newcomers = Vec::new();
    for _ in 0..3 {
        newcomers.push(TcpStream::connect(addr).await.unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = running.metrics();
    assert_eq!(
        sample(
            &metrics,
            "corsica_connections_shed_total{reason=\"evicted\"}"
        ),
        Some(3.0),
        "each newcomer evicted the silent connection before it: {metrics}"
    );
    let reply = tokio::time::timeout(Duration::from_secs(5), slow)
        .await
        .expect("the request in flight completes")
        .unwrap();
    assert!(reply.starts_with("http/1.1 200"), "{reply}");
    assert!(
        reply.contains(&format!("access-control-allow-origin: {APP}")),
        "{reply}"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_address_holds_at_most_its_share() {
    let text = config(
        "max_connections = 16\nmax_connections_per_client = 3\nheader_read_timeout_ms = 30000",
        "echo",
    );
    let running = gateway::start(&text).await;
    let addr = running.addr;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from([127, 0, 0, 7], addr).await);
    }
    // The fourth from the same address is closed at once, without a byte.
    let mut fourth = connect_from([127, 0, 0, 7], addr).await;
    assert!(
        closed_within(&mut fourth, Duration::from_secs(2)).await,
        "over the per-client cap"
    );
    // The three it holds still work, and another address is served.
    assert_served(&mut held[0], "a connection within the cap").await;
    assert_served(
        &mut connect_from([127, 0, 0, 8], addr).await,
        "another address",
    )
    .await;
    // Once one of the three closes, the address may connect again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_served(
        &mut connect_from([127, 0, 0, 7], addr).await,
        "after one closed",
    )
    .await;
    let metrics = running.metrics();
    assert_eq!(
        sample(
            &metrics,
            "corsica_connections_shed_total{reason=\"per_client\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    running.shutdown().await;
}
