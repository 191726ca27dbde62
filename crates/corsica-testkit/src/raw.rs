//! Exact bytes over TCP: requests written as they are, responses read off the wire.
//!
//! For what a hyper client would normalize away: repeated headers, odd targets, framing,
//! oversized heads. Every read is bounded by [`STEP`].

use std::io::{Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::STEP;

/// A request text: the request line, `headers` in order, `Connection: close` and the
/// blank line.
///
/// ```
/// let r = corsica_testkit::raw::request("GET", "/x", &[("host", "a"), ("origin", "https://a.example")]);
/// assert_eq!(r, "GET /x HTTP/1.1\r\nhost: a\r\norigin: https://a.example\r\nconnection: close\r\n\r\n");
/// ```
pub fn request(method: &str, target: &str, headers: &[(&str, &str)]) -> String {
    let mut r = format!("{method} {target} HTTP/1.1\r\n");
    for (n, v) in headers {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    r.push_str("connection: close\r\n\r\n");
    r
}

/// A `GET` of `target` with `host: a` and `origin`, closing the connection.
///
/// ```
/// let r = corsica_testkit::raw::get("/x", "https://a.example");
/// assert!(r.starts_with("GET /x HTTP/1.1\r\nhost: a\r\norigin: https://a.example\r\n"));
/// ```
pub fn get(target: &str, origin: &str) -> String {
    request("GET", target, &[("host", "a"), ("origin", origin)])
}

/// Writes `request` and reads until the server closes (within [`STEP`]); the whole
/// response, lower-cased.
///
/// ```no_run
/// # async fn f(addr: std::net::SocketAddr) {
/// let text = corsica_testkit::raw::text(addr, &corsica_testkit::raw::get("/", "https://a.example")).await;
/// assert!(text.starts_with("http/1.1 200"));
/// # }
/// ```
pub async fn text(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(STEP, s.read_to_end(&mut out))
        .await
        .unwrap_or_else(|_| panic!("raw: the connection stayed open for {STEP:?}"))
        .unwrap();
    String::from_utf8_lossy(&out).to_ascii_lowercase()
}

/// [`text`] without a runtime: writes `request`, reads until the server closes (or 5 s
/// of silence); the whole response, lower-cased.
///
/// ```no_run
/// let text = corsica_testkit::raw::blocking_text("127.0.0.1:8080", &corsica_testkit::raw::get("/", "https://a.example"));
/// assert!(text.starts_with("http/1.1 200"));
/// ```
pub fn blocking_text(addr: impl ToSocketAddrs, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.to_ascii_lowercase()
}

/// A response read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header lines in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// Every value of a header, in order.
    ///
    /// ```
    /// let r = corsica_testkit::raw::parse(b"HTTP/1.1 200 OK\r\nVary: a\r\nvary: b\r\ncontent-length: 0\r\n\r\n", false).unwrap();
    /// assert_eq!(r.all("vary"), ["a", "b"]);
    /// ```
    pub fn all(&self, name: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for (n, v) in &self.headers {
            if n.eq_ignore_ascii_case(name) {
                out.push(v.as_str());
            }
        }
        out
    }

    /// The only value of a header (panics if there are several).
    ///
    /// ```
    /// let r = corsica_testkit::raw::parse(b"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n", false).unwrap();
    /// assert_eq!((r.status, r.one("x-a"), r.one("x-b")), (204, Some("1"), None));
    /// ```
    pub fn one(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(all.len() <= 1, "{name} sent {} times: {all:?}", all.len());
        all.first().copied()
    }
}

/// Sends `request` bytes as they are and reads one response (by its Content-Length,
/// chunked framing, or to the end of the connection). The request is written from a
/// separate task so a server that answers before reading everything (431) is seen.
///
/// ```no_run
/// # async fn f(addr: std::net::SocketAddr) {
/// let r = corsica_testkit::raw::exchange(addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
/// assert_eq!(r.status, 200);
/// # }
/// ```
pub async fn exchange(addr: SocketAddr, request: impl Into<Vec<u8>>) -> RawResponse {
    let request: Vec<u8> = request.into();
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&request).await;
        let _ = wr.flush().await;
        wr // keep the write half open until the response is read
    });
    let mut buf = Vec::new();
    let parsed = tokio::time::timeout(STEP, async {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(r) = parse(&buf, false) {
                return Some(r);
            }
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => return parse(&buf, true),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("raw: no complete response within {STEP:?}: {buf:?}"));
    writer.abort();
    parsed.unwrap_or_else(|| {
        panic!(
            "raw: incomplete response: {:?}",
            String::from_utf8_lossy(&buf)
        )
    })
}

/// Parses a complete response, or `None` while it is incomplete; `eof` says the
/// connection ended (a body without framing ends there).
///
/// ```
/// use corsica_testkit::raw::parse;
/// let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
/// assert_eq!(parse(wire, false).unwrap().body, b"ok");
/// assert!(parse(&wire[..wire.len() - 2], false).is_none());
/// ```
pub fn parse(buf: &[u8], eof: bool) -> Option<RawResponse> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            Some((n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect();
    let rest = &buf[end + 4..];
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let body = if status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if let Some(len) = header("content-length") {
        let len: usize = len.parse().ok()?;
        if rest.len() < len {
            return None;
        }
        rest[..len].to_vec()
    } else if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        dechunk(rest)?
    } else if eof {
        rest.to_vec()
    } else {
        return None;
    };
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

/// Decodes a complete chunked body (trailers ignored), or `None` if incomplete.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            // Trailers end with an empty line.
            return rest.windows(2).any(|w| w == b"\r\n").then_some(out);
        }
        if rest.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}
