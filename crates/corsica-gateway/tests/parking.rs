//! Idle HTTP/1.1 keep-alive connections are parked without hyper's buffers (issue 14,
//! finding 8) and resumed at the next byte, invisibly to the client: the same connection
//! serves the next request, bytes read ahead are kept in order, a response to a slow
//! reader is never cut, and a parked connection still closes at the idle timeout.

use std::time::{Duration, Instant};

use corsica_testkit::gateway::{self, APP, LISTEN, cors_route, sample};
use corsica_testkit::server::{Reply, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longer than the gateway's park delay (1 s).
const PARKED: Duration = Duration::from_millis(1600);

fn keep_alive_get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: a\r\norigin: {APP}\r\n\r\n")
}

/// A client connection that reads responses with `content-length` bodies one at a time,
/// keeping what it read of the next.
struct Client {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr) -> Client {
        Client {
            s: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, text: &str) {
        self.s.write_all(text.as_bytes()).await.unwrap();
    }

    async fn fill(&mut self, what: &str) {
        let mut chunk = vec![0u8; 64 * 1024];
        let n = tokio::time::timeout(Duration::from_secs(5), self.s.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("{what} arrives"))
            .unwrap();
        assert!(n > 0, "closed before {what}");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// The next response: its head, lower-cased, and its body.
    async fn response(&mut self) -> (String, Vec<u8>) {
        let end = loop {
            match self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                Some(end) => break end,
                None => self.fill("a response head").await,
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).to_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while self.buf.len() < end + 4 + len {
            self.fill("the body").await;
        }
        let rest = self.buf.split_off(end + 4 + len);
        let body = self.buf[end + 4..].to_vec();
        self.buf = rest;
        (head, body)
    }
}

/// The gauge of parked connections.
fn parked(running: &gateway::Running) -> Option<f64> {
    sample(&running.metrics(), "corsica_client_connections_parked")
}

fn config(limits: &str, upstream: &str) -> String {
    format!("{LISTEN}[limits]\n{limits}\n")
        + &cors_route(upstream, &format!("origins = [\"{APP}\"]"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_connection_serves_the_next_request_and_keeps_bytes_read_ahead() {
    let running = gateway::start(&config("header_read_timeout_ms = 10000", "echo")).await;
    let mut c = Client::connect(running.addr).await;
    c.send(&keep_alive_get("/one")).await;
    let (head, _) = c.response().await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");
    // Parked, then resumed by the next request.
    tokio::time::sleep(PARKED).await;
    assert_eq!(parked(&running), Some(1.0), "the idle connection is parked");
    c.send(&keep_alive_get("/two")).await;
    let (head, body) = c.response().await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains(&format!("access-control-allow-origin: {APP}")),
        "{head}"
    );
    assert!(
        String::from_utf8_lossy(&body).contains("/two"),
        "the echo of /two"
    );
    // Two pipelined requests in one write, answered in order.
    let both = keep_alive_get("/three") + &keep_alive_get("/four");
    c.send(&both).await;
    for path in ["/three", "/four"] {
        let (head, body) = c.response().await;
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(
            String::from_utf8_lossy(&body).contains(path),
            "{path} in order"
        );
    }
    // Half a request head, a pause long enough to park, then the rest: the half read
    // ahead is put back in front.
    tokio::time::sleep(PARKED).await;
    let five = keep_alive_get("/five");
    let (first, rest) = five.split_at(12);
    c.send(first).await;
    tokio::time::sleep(PARKED).await;
    // Parked with the first half read ahead (hyper had it): not waiting for a first byte.
    assert_eq!(parked(&running), Some(0.0));
    c.send(rest).await;
    let (head, body) = c.response().await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        String::from_utf8_lossy(&body).contains("/five"),
        "/five whole"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_to_a_slow_reader_is_never_cut_by_parking() {
    let big = vec![b'x'; 8 * 1024 * 1024];
    let upstream = TestServer::start(Reply::ok(big.clone())).await;
    let running = gateway::start(&config("header_read_timeout_ms = 10000", &upstream.base())).await;
    let mut c = Client::connect(running.addr).await;
    c.send(&keep_alive_get("/big")).await;
    // The socket buffers fill up; nothing is read for longer than the park delay.
    tokio::time::sleep(PARKED).await;
    let (head, body) = c.response().await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body.len(), big.len(), "the whole body");
    // And the connection still serves.
    c.send(&keep_alive_get("/big")).await;
    let (head, body) = c.response().await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body.len(), big.len());
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_connection_closes_at_the_idle_timeout() {
    let running = gateway::start(&config("header_read_timeout_ms = 2500", "echo")).await;
    let mut c = Client::connect(running.addr).await;
    c.send(&keep_alive_get("/")).await;
    c.response().await;
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(6), c.s.read(&mut buf))
        .await
        .expect("closed at the idle timeout");
    assert!(matches!(n, Ok(0) | Err(_)));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(2000) && waited < Duration::from_millis(4500),
        "{waited:?}"
    );
    running.shutdown().await;
}
