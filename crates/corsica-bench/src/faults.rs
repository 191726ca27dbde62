//! `corsica-bench faults --port P [--slow-ms MS]`: an upstream that fails on purpose, for
//! `cargo xtask soak`'s upstream-fault and shutdown scenarios. It speaks raw HTTP/1.1 over
//! TCP (no HTTP library between it and the bytes it breaks) and answers by path:
//!
//! - `/fault/hang`: reads the request and never answers (holds the socket until the peer
//!   closes it);
//! - `/fault/reset`: sends part of the response head, then resets the connection (RST);
//! - `/fault/reset-body`: sends the head (`Content-Length: 1000`) and 100 bytes of the body,
//!   then resets the connection;
//! - `/fault/short`: declares `Content-Length: 100`, sends 10 bytes, then closes (FIN);
//! - `/fault/garbage`: answers with a status line that is not HTTP;
//! - `/fault/pooled`: a complete keep-alive answer, then closes the socket once it has been
//!   idle for [`POOLED_IDLE`] (the connection dies while the proxy keeps it in its pool);
//! - `/fault/pooled-race`: a complete keep-alive answer to the connection's first request;
//!   the next request on it (within [`RACE_IDLE`]) is read and the connection closed
//!   without an answer (the
//!   upstream's keep-alive timeout racing the proxy's reuse: an idempotent request may be
//!   sent again on a new connection);
//! - `/fault/slow`: a complete answer after `--slow-ms` (1000 by default);
//! - anything else: a complete answer, `Connection: close`.
//!
//! Every complete answer is `200` with the body [`OK_BODY`], so a client can tell a whole
//! response from a cut one.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The body of every complete answer.
pub const OK_BODY: &[u8] = b"fault upstream: complete body\n";
/// How long a `/fault/pooled` connection may stay idle before the upstream closes it.
pub const POOLED_IDLE: Duration = Duration::from_millis(100);
/// How long a `/fault/pooled-race` connection may stay idle after its first answer.
pub const RACE_IDLE: Duration = Duration::from_secs(1);
/// The largest request head read.
const MAX_HEAD: usize = 64 * 1024;

/// Serves the faults on 127.0.0.1:`port` until killed.
pub fn serve(port: u16, slow: Duration) -> Result<(), String> {
    let rt = crate::current_thread()?;
    rt.block_on(async move {
        let listener = crate::listen(port).await?;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::task::spawn(async move {
                let _ = connection(stream, slow).await;
            });
        }
    })
}

/// A whole answer with [`OK_BODY`].
fn ok_response(keep_alive: bool) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
        OK_BODY.len(),
        if keep_alive { "keep-alive" } else { "close" }
    )
    .into_bytes();
    r.extend_from_slice(OK_BODY);
    r
}

/// Reads one request (head, and a `Content-Length` body) from `stream`, `buf` holding what
/// was read ahead; returns its path, or `None` when the peer closed first.
async fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<String>> {
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    buf.drain(..end + length);
    Ok(Some(path))
}

/// Serves one connection: each request's path picks the fault.
async fn connection(mut stream: TcpStream, slow: Duration) -> std::io::Result<()> {
    let mut buf = Vec::new();
    // How long the connection may stay idle before the next request (`None`: no limit).
    let mut idle: Option<Duration> = None;
    let mut answered = 0;
    loop {
        let path = match idle {
            None => read_request(&mut stream, &mut buf).await?,
            // A pooled connection: the next request must come within POOLED_IDLE, else the
            // upstream closes the socket under the proxy's pool.
            Some(limit) => {
                match tokio::time::timeout(limit, read_request(&mut stream, &mut buf)).await {
                    Ok(r) => r?,
                    Err(_) => return Ok(()),
                }
            }
        };
        let Some(path) = path else {
            return Ok(());
        };
        answered += 1;
        match path.as_str() {
            "/fault/hang" => {
                // Never answer; hold the socket until the peer gives up.
                let mut sink = [0u8; 1024];
                while stream.read(&mut sink).await? > 0 {}
                return Ok(());
            }
            "/fault/reset" => {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: te")
                    .await?;
                return reset(stream).await;
            }
            "/fault/reset-body" => {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n")
                    .await?;
                stream.write_all(&[b'x'; 100]).await?;
                return reset(stream).await;
            }
            "/fault/short" => {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\nConnection: close\r\n\r\n0123456789")
                    .await?;
                stream.shutdown().await?;
                return Ok(());
            }
            "/fault/garbage" => {
                stream
                    .write_all(b"HTPT/1.1 2OO KO\r\nthis is not http\r\n\r\n")
                    .await?;
                stream.shutdown().await?;
                return Ok(());
            }
            "/fault/pooled" => {
                stream.write_all(&ok_response(true)).await?;
                idle = Some(POOLED_IDLE);
            }
            "/fault/pooled-race" if answered == 1 => {
                stream.write_all(&ok_response(true)).await?;
                // Longer than the soak clients' 300 ms between requests.
                idle = Some(RACE_IDLE);
            }
            "/fault/pooled-race" => {
                // The request came as the upstream closed the connection: never answered.
                return Ok(());
            }
            "/fault/slow" => {
                tokio::time::sleep(slow).await;
                stream.write_all(&ok_response(false)).await?;
                stream.shutdown().await?;
                return Ok(());
            }
            _ => {
                stream.write_all(&ok_response(false)).await?;
                stream.shutdown().await?;
                return Ok(());
            }
        }
    }
}

/// Lets the bytes written go out, then closes `stream` with RST instead of FIN.
async fn reset(mut stream: TcpStream) -> std::io::Result<()> {
    stream.flush().await?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Linger 0 never blocks on drop (the deprecation's concern): the socket is reset at once.
    #[allow(deprecated)]
    stream.set_linger(Some(Duration::ZERO))?;
    drop(stream);
    Ok(())
}
