//! Helpers of the end-to-end tests: tiny hyper upstream servers, a gateway started from
//! TOML text, a hyper client (HTTP/1.1 and h2c) and a raw HTTP/1.1 client for exact bytes.
//! Every wait is bounded.

#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use corsica_gateway::config::Config;
use corsica_gateway::gateway::{self, Running};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Errors inside bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type of the test clients and upstreams.
pub type Body = BoxBody<Bytes, BoxError>;

/// The origin the allowing policies allow.
pub const APP: &str = "https://app.example.com";
/// An origin no policy allows (unless said otherwise).
pub const EVIL: &str = "https://evil.example.net";

/// The longest any single network step of a test may take.
pub const STEP: Duration = Duration::from_secs(15);

pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

pub fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

/// A body fed chunk by chunk through a channel; it ends when the sender is dropped.
pub struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

/// A channel-driven body and its sender.
pub fn channel_body(capacity: usize) -> (mpsc::Sender<Bytes>, Body) {
    let (tx, rx) = mpsc::channel(capacity);
    (tx, ChannelBody { rx }.boxed())
}

// ---------------------------------------------------------------------------------------
// Upstream servers
// ---------------------------------------------------------------------------------------

/// An upstream HTTP/1.1 server on 127.0.0.1; its accept loop stops when dropped.
pub struct Upstream {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `handler` on a fresh port.
pub async fn serve<F, Fut>(handler: F) -> Upstream
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Upstream { addr, task }
}

/// What an upstream saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    pub body_len: u64,
}

/// The record of a recording upstream.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Requests whose head arrived.
    pub count: AtomicUsize,
    /// Body bytes received so far, over all requests (updated as frames arrive).
    pub body_bytes: AtomicU64,
    /// Completed requests.
    pub seen: Mutex<Vec<Seen>>,
}

impl Recorder {
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// An upstream that records every request (streaming its body, counting bytes) and answers
/// 200 with its own CORS headers (`Access-Control-Allow-Origin: *`, credentials, an exposed
/// header), `Vary: Accept-Encoding`, `X-Upstream: <name>` and, on paths under `/hop`,
/// hop-by-hop headers of its own.
pub async fn recording_upstream(name: &'static str) -> (Upstream, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let r = rec.clone();
    let up = serve(move |req: Request<Incoming>| {
        let rec = r.clone();
        async move {
            rec.count.fetch_add(1, Ordering::SeqCst);
            let (parts, mut body) = req.into_parts();
            let mut n = 0u64;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { break };
                if let Some(d) = frame.data_ref() {
                    n += d.len() as u64;
                    rec.body_bytes.fetch_add(d.len() as u64, Ordering::SeqCst);
                }
            }
            let hop = parts.uri.path().starts_with("/hop");
            rec.seen.lock().unwrap().push(Seen {
                method: parts.method,
                uri: parts.uri,
                version: parts.version,
                headers: parts.headers,
                body_len: n,
            });
            let mut r = Response::new(full(format!("{name} got {n} bytes\n")));
            let h = r.headers_mut();
            h.insert("content-type", HeaderValue::from_static("text/plain"));
            h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
            h.insert(
                "access-control-allow-credentials",
                HeaderValue::from_static("true"),
            );
            h.insert(
                "access-control-expose-headers",
                HeaderValue::from_static("x-upstream-secret"),
            );
            h.insert("vary", HeaderValue::from_static("Accept-Encoding"));
            h.insert("x-upstream", HeaderValue::from_static(name));
            if hop {
                h.insert("connection", HeaderValue::from_static("x-up-hop"));
                h.insert("x-up-hop", HeaderValue::from_static("1"));
                h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
            }
            r
        }
    })
    .await;
    (up, rec)
}

/// An upstream that waits `delay` before answering 200 `slow done`; the counter counts the
/// requests whose head arrived.
pub async fn slow_upstream(delay: Duration) -> (Upstream, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let up = serve(move |_req: Request<Incoming>| {
        let c = c.clone();
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            let mut r = Response::new(full("slow done"));
            r.headers_mut()
                .insert("access-control-allow-origin", HeaderValue::from_static("*"));
            r
        }
    })
    .await;
    (up, count)
}

/// An upstream that answers every request at once with a head and a body the test feeds
/// through the sender it receives from the returned channel (one sender per request).
pub async fn streaming_upstream() -> (Upstream, mpsc::UnboundedReceiver<mpsc::Sender<Bytes>>) {
    let (senders_tx, senders_rx) = mpsc::unbounded_channel();
    let up = serve(move |_req: Request<Incoming>| {
        let senders_tx = senders_tx.clone();
        async move {
            let (tx, body) = channel_body(4);
            let _ = senders_tx.send(tx);
            let mut r = Response::new(body);
            r.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("application/octet-stream"),
            );
            r
        }
    })
    .await;
    (up, senders_rx)
}

/// A port on 127.0.0.1 nothing listens on (bound, then released).
pub fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------
// Gateway
// ---------------------------------------------------------------------------------------

/// The head of a test configuration: free ports for both listeners, then `limits` lines.
pub fn head(limits: &str) -> String {
    format!("listen = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n\n[limits]\n{limits}\n")
}

/// A `[[route]]` with a `[route.cors]` table; `matching` are the route's host/path/methods
/// lines and `cors` the policy's lines.
pub fn route(name: &str, matching: &str, upstream: &str, cors: &str) -> String {
    format!(
        "\n[[route]]\nname = \"{name}\"\n{matching}\nupstream = \"{upstream}\"\n\n[route.cors]\n{cors}\n"
    )
}

/// The policy most tests use: origin [`APP`], with credentials.
pub const APP_CORS: &str = r#"origins = ["https://app.example.com"]
credentials = true
methods = ["GET", "POST", "PUT", "DELETE"]
headers = ["content-type", "x-api-key"]
expose = ["x-request-id"]
max_age = 600"#;

/// Starts a gateway on a configuration text (no file).
pub async fn gateway(text: &str) -> Running {
    let config = Config::parse(text, "test.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    gateway::start(config, None).await.unwrap()
}

/// Starts a gateway from a configuration file written in `dir`.
pub async fn gateway_from_file(dir: &Path, text: &str) -> (Running, PathBuf) {
    let path = dir.join("gateway.toml");
    write_atomically(&path, text);
    let config = Config::parse(text, "gateway.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let running = gateway::start(config, Some(path.clone())).await.unwrap();
    (running, path)
}

/// Replaces a file's content at once (write a sibling, rename), so a reader never sees a
/// half-written file.
pub fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The value of a Prometheus sample (`name{labels}` exactly as rendered), if present.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

// ---------------------------------------------------------------------------------------
// hyper client
// ---------------------------------------------------------------------------------------

pub type HttpClient = Client<HttpConnector, Body>;

/// An HTTP/1.1 client.
pub fn h1_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// An HTTP/2 prior-knowledge (h2c) client.
pub fn h2_client() -> HttpClient {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// A request to the gateway at `addr`.
pub fn request(
    method: &str,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: Body,
) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(body).unwrap()
}

/// A whole response.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    /// The only value of a header (panics if there are several).
    pub fn one(&self, name: &str) -> Option<&str> {
        let all: Vec<&HeaderValue> = self.headers.get_all(name).iter().collect();
        assert!(all.len() <= 1, "{name} sent {} times: {all:?}", all.len());
        all.first().map(|v| v.to_str().unwrap())
    }
    pub fn count(&self, name: &str) -> usize {
        self.headers.get_all(name).iter().count()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The `Vary` tokens, lower-case, over every `Vary` line.
    pub fn vary(&self) -> Vec<String> {
        vary_tokens(
            self.headers
                .get_all("vary")
                .iter()
                .map(|v| v.to_str().unwrap()),
        )
    }
}

pub fn vary_tokens<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    lines
        .flat_map(|l| l.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Sends a request and reads the whole response (bounded).
pub async fn send(client: &HttpClient, req: Request<Body>) -> Resp {
    let what = format!("{} {}", req.method(), req.uri());
    tokio::time::timeout(STEP, async {
        let r = client
            .request(req)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e:?}"));
        let (parts, body) = r.into_parts();
        let body = body
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{what}: body: {e}"))
            .to_bytes();
        Resp {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body,
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: no answer within {STEP:?}"))
}

/// Sends and returns the error or the response (bounded).
pub async fn try_send(client: &HttpClient, req: Request<Body>) -> Result<Resp, String> {
    let r = tokio::time::timeout(STEP, async {
        let r = client.request(req).await.map_err(|e| format!("{e:?}"))?;
        let (parts, body) = r.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(Resp {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body,
        })
    })
    .await;
    r.unwrap_or_else(|_| Err(format!("no answer within {STEP:?}")))
}

/// Polls `check` every `every` until it returns true, at most `tries` times.
pub async fn eventually<F, Fut>(tries: usize, every: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..tries {
        if check().await {
            return true;
        }
        tokio::time::sleep(every).await;
    }
    false
}

// ---------------------------------------------------------------------------------------
// Raw HTTP/1.1 client
// ---------------------------------------------------------------------------------------

/// A response read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header lines in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn one(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(all.len() <= 1, "{name} sent {} times: {all:?}", all.len());
        all.first().copied()
    }
}

/// Sends `request` bytes as they are and reads one response (by its Content-Length,
/// chunked framing, or to the end of the connection). The request is written from a
/// separate task so a server that answers before reading everything (431) is seen.
pub async fn raw(addr: SocketAddr, request: Vec<u8>) -> RawResponse {
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
            if let Some(r) = parse_response(&buf, false) {
                return Some(r);
            }
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => return parse_response(&buf, true),
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

/// Parses a complete response; `eof` says the connection ended (a body without framing
/// ends there).
fn parse_response(buf: &[u8], eof: bool) -> Option<RawResponse> {
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
