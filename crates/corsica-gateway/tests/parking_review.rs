//! Parking, tried as an attacker would (a review of issue 14's parking and upstream-fault
//! changes): a request body answered early and still arriving is never read as a request,
//! a connection announced `connection: close` is closed, a resumed connection keeps the
//! whole header timeout, and a half-sent body is ended by the timeouts.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use corsica_testkit::gateway::{self, APP, LISTEN, cors_route, sample};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An upstream that answers every request head at once with a small keep-alive 401,
/// without reading the request body (as an auth check or a 413 does), and records each
/// request line it saw.
async fn early_answer_upstream() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                loop {
                    let mut head = Vec::new();
                    let mut b = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match s.read(&mut b).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => head.push(b[0]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head);
                    let line = text
                        .lines()
                        .find(|l| l.contains(" HTTP/1.1"))
                        .unwrap_or("")
                        .to_owned();
                    log.lock().unwrap().push(line);
                    // Answered at once, the request body (if any) left unread.
                    if s.write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\n\r\nno")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

async fn read_response(s: &mut TcpStream, what: &str) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Some(head);
            }
        }
        match tokio::time::timeout(Duration::from_secs(3), s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return None,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => panic!("{what}: nothing within 3 s"),
        }
    }
}

/// What the client sends after the first bytes of its body: the rest of the declared
/// body, which reads like a request.
const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nhost: a\r\n\r\n";

/// A gateway with `limits` in front of [`early_answer_upstream`], and a client that has
/// sent the head of a POST declaring `declared` body bytes (with the first 10 of them) and
/// read the upstream's early 401. Also what the upstream saw.
async fn early_answer_post(
    limits: &str,
    declared: usize,
) -> (gateway::Running, TcpStream, Arc<Mutex<Vec<String>>>) {
    let (up, seen) = early_answer_upstream().await;
    let text = format!("{LISTEN}[limits]\n{limits}\n")
        + &cors_route(&format!("http://{up}"), &format!("origins = [\"{APP}\"]"));
    let running = gateway::start(&text).await;
    let mut a = TcpStream::connect(running.addr).await.unwrap();
    a.write_all(
        format!(
            "POST /upload HTTP/1.1\r\nhost: a\r\norigin: {APP}\r\ncontent-type: text/plain\r\ncontent-length: {declared}\r\n\r\n0123456789"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let head = read_response(&mut a, "the 401").await.expect("the 401");
    assert!(head.starts_with("http/1.1 401"), "{head}");
    (running, a, seen)
}

/// The POST of [`early_answer_post`] declaring 10 bytes and [`SMUGGLED`]: sends the rest
/// of its body, then returns what the client got back (if anything) and every request
/// line the upstream saw, and shuts the gateway down.
async fn send_the_rest(
    running: gateway::Running,
    mut a: TcpStream,
    seen: Arc<Mutex<Vec<String>>>,
) -> (Option<String>, Vec<String>) {
    eprintln!(
        "parked gauge: {:?}",
        sample(&running.metrics(), "corsica_client_connections_parked")
    );
    let _ = a.write_all(SMUGGLED.as_bytes()).await;
    let second = read_response(&mut a, "after the body").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen = seen.lock().unwrap().clone();
    running.shutdown().await;
    (second, seen)
}

async fn scenario(pause_to_park: bool) -> (Option<String>, Vec<String>) {
    let limits = "header_read_timeout_ms = 10000\nbody_read_timeout_ms = 10000";
    let (running, a, seen) = early_answer_post(limits, 10 + SMUGGLED.len()).await;
    if pause_to_park {
        // Longer than PARK_AFTER: the gateway "parks" the connection, whose request body
        // is still unread.
        tokio::time::sleep(Duration::from_millis(1600)).await;
    }
    // Another request to the same upstream takes the pooled connection that still holds
    // A's request body, finds it busy and drops it.
    let mut b = TcpStream::connect(running.addr).await.unwrap();
    b.write_all(format!("GET /trigger HTTP/1.1\r\nhost: a\r\norigin: {APP}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    read_response(&mut b, "the trigger's response").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The rest of A's request body: bytes the client declared as body.
    send_the_rest(running, a, seen).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_body_bytes_are_never_served_as_a_request() {
    let (second, seen) = scenario(true).await;
    eprintln!("with parking: second response on A = {second:?}; upstream saw {seen:?}");
    assert!(
        !seen.iter().any(|l| l.contains("/smuggled")),
        "body bytes of the POST were parsed and forwarded as a request: {seen:?}"
    );
    assert!(second.is_none(), "a response to body bytes: {second:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_without_the_pause() {
    let (second, seen) = scenario(false).await;
    eprintln!("without parking: second response on A = {second:?}; upstream saw {seen:?}");
    assert!(!seen.iter().any(|l| l.contains("/smuggled")), "{seen:?}");
}

/// A head that arrives in three pieces over two pauses longer than PARK_AFTER: the second
/// hyper connection (resumed, never idle) is asked to shut down gracefully, which only
/// disables keep-alive: the response says `connection: close`, yet the socket is parked
/// again and serves the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_close_is_announced_but_the_socket_keeps_serving() {
    let text = format!("{LISTEN}[limits]\nheader_read_timeout_ms = 10000\n")
        + &cors_route("echo", &format!("origins = [\"{APP}\"]"));
    let running = gateway::start(&text).await;
    let mut c = TcpStream::connect(running.addr).await.unwrap();
    let get = |p: &str| format!("GET {p} HTTP/1.1\r\nhost: a\r\norigin: {APP}\r\n\r\n");
    c.write_all(get("/one").as_bytes()).await.unwrap();
    read_response(&mut c, "/one").await.unwrap();
    let two = get("/two");
    let (a, rest) = two.split_at(10);
    let (b, rest) = rest.split_at(10);
    c.write_all(a.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    c.write_all(b.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    c.write_all(rest.as_bytes()).await.unwrap();
    let head = read_response(&mut c, "/two").await.unwrap();
    eprintln!("/two: {head}");
    let closing = head.contains("connection: close");
    // Despite `connection: close`, the gateway keeps reading this socket.
    let _ = c.write_all(get("/three").as_bytes()).await;
    let third = read_response(&mut c, "/three").await;
    eprintln!("after connection: close -> {third:?}");
    running.shutdown().await;
    assert!(
        !(closing && third.is_some()),
        "a request served after the gateway announced connection: close"
    );
}

/// A connection resumed close to its idle deadline keeps that short remainder as hyper's
/// header timeout for every later request head: the next idle period is cut from
/// `header_read_timeout_ms` (3 s) to what was left at the resume (~300 ms).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_resume_shortens_every_later_idle_period() {
    let text = format!("{LISTEN}[limits]\nheader_read_timeout_ms = 3000\n")
        + &cors_route("echo", &format!("origins = [\"{APP}\"]"));
    let running = gateway::start(&text).await;
    let mut c = TcpStream::connect(running.addr).await.unwrap();
    let get = |p: &str| format!("GET {p} HTTP/1.1\r\nhost: a\r\norigin: {APP}\r\n\r\n");
    c.write_all(get("/one").as_bytes()).await.unwrap();
    read_response(&mut c, "/one").await.unwrap();
    // Parked after 1 s; resumed 2.7 s after the last activity (0.3 s before the deadline).
    tokio::time::sleep(Duration::from_millis(2700)).await;
    c.write_all(get("/two").as_bytes()).await.unwrap();
    read_response(&mut c, "/two").await.expect("/two is served");
    // Well within the 3 s idle timeout, and before the 1 s park delay.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let _ = c.write_all(get("/three").as_bytes()).await;
    let third = read_response(&mut c, "/three").await;
    running.shutdown().await;
    assert!(
        third.is_some(),
        "closed 700 ms after a response, with header_read_timeout_ms = 3000"
    );
}

/// An upstream that answers before reading the request body: the client connection, its
/// body half sent, is held open past every timeout (the upstream connection holding the
/// body sits unpolled in the idle pool).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_body_after_an_early_answer_holds_the_connection_past_every_timeout() {
    let limits = "header_read_timeout_ms = 1500\nbody_read_timeout_ms = 1500";
    let (running, mut a, _seen) = early_answer_post(limits, 100).await;
    let mut buf = [0u8; 16];
    let still_open = tokio::time::timeout(Duration::from_secs(6), a.read(&mut buf))
        .await
        .is_err();
    eprintln!(
        "connections: {:?}",
        sample(&running.metrics(), "corsica_client_connections")
    );
    running.shutdown().await;
    assert!(
        !still_open,
        "still open 6 s later, with 1.5 s header and body timeouts"
    );
}

/// The idle-pool sweeper drops the busy upstream connection by itself: no other request
/// is needed to trigger it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggling_without_a_trigger_once_the_sweeper_drops_the_busy_connection() {
    let limits = "header_read_timeout_ms = 10000\nbody_read_timeout_ms = 2000";
    let (running, a, seen) = early_answer_post(limits, 10 + SMUGGLED.len()).await;
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let (second, seen) = send_the_rest(running, a, seen).await;
    eprintln!("second = {second:?}; upstream saw {seen:?}");
    assert!(!seen.iter().any(|l| l.contains("/smuggled")), "{seen:?}");
}
