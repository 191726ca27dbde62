//! A scripted HTTP/1.1 test server (HTTPS with feature `tls`) on 127.0.0.1.
//!
//! It answers each request with a [`Reply`] chosen by a handler — a closure or a
//! [`Script`] that picks by path and method — and records what it saw: the requests whose
//! head arrived, the body bytes as they stream in, and every completed request as a
//! [`Seen`]. Its accept loop stops when the [`TestServer`] is dropped.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Uri, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Errors inside bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type of the test server and the test client.
pub type Body = BoxBody<Bytes, BoxError>;

/// A whole body.
///
/// ```
/// let _body = corsica_testkit::server::full("hello");
/// ```
pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

/// An empty body.
///
/// ```
/// use http_body_util::BodyExt;
/// assert!(hyper::body::Body::is_end_stream(&corsica_testkit::server::empty()));
/// ```
pub fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

/// A body fed chunk by chunk through a channel; it ends when the sender is dropped.
struct ChannelBody {
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

/// A channel-driven body and its sender: each chunk sent is one frame; the body ends when
/// the sender is dropped.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use http_body_util::BodyExt;
/// let (tx, body) = corsica_testkit::server::channel_body(1);
/// tokio::spawn(async move { tx.send("chunk".into()).await.unwrap() });
/// assert_eq!(body.collect().await.unwrap().to_bytes(), "chunk");
/// # });
/// ```
pub fn channel_body(capacity: usize) -> (mpsc::Sender<Bytes>, Body) {
    let (tx, rx) = mpsc::channel(capacity);
    (tx, ChannelBody { rx }.boxed())
}

/// What the server saw of one completed request.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The method.
    pub method: Method,
    /// The request target.
    pub uri: Uri,
    /// The HTTP version.
    pub version: Version,
    /// Every header, as received.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Seen {
    /// The first value of a header, or `""` when it is absent (or not text).
    ///
    /// ```
    /// let mut seen = corsica_testkit::server::Seen::get("/x");
    /// seen.headers.insert("origin", "https://a.example".parse().unwrap());
    /// assert_eq!(seen.header("origin"), "https://a.example");
    /// assert_eq!(seen.header("cookie"), "");
    /// ```
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Every value of a header, in order.
    ///
    /// ```
    /// let mut seen = corsica_testkit::server::Seen::get("/x");
    /// seen.headers.append("cookie", "a=1".parse().unwrap());
    /// seen.headers.append("cookie", "b=2".parse().unwrap());
    /// assert_eq!(seen.header_all("cookie"), ["a=1", "b=2"]);
    /// ```
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or(""))
            .collect()
    }

    /// The `Origin` header, or `""`.
    ///
    /// ```
    /// assert_eq!(corsica_testkit::server::Seen::get("/").origin(), "");
    /// ```
    pub fn origin(&self) -> &str {
        self.header("origin")
    }

    /// Whether the method is `OPTIONS` (what a preflight looks like to a server).
    ///
    /// ```
    /// let mut seen = corsica_testkit::server::Seen::get("/");
    /// assert!(!seen.is_options());
    /// seen.method = http::Method::OPTIONS;
    /// assert!(seen.is_options());
    /// ```
    pub fn is_options(&self) -> bool {
        self.method == Method::OPTIONS
    }

    /// The path and query of the target.
    ///
    /// ```
    /// assert_eq!(corsica_testkit::server::Seen::get("/a?b=1").path_and_query(), "/a?b=1");
    /// ```
    pub fn path_and_query(&self) -> &str {
        self.uri.path_and_query().map_or("", |p| p.as_str())
    }

    /// A bodiless HTTP/1.1 `GET` of `target` with no headers (for handler unit tests).
    ///
    /// ```
    /// assert_eq!(corsica_testkit::server::Seen::get("/x").uri.path(), "/x");
    /// ```
    pub fn get(target: &str) -> Seen {
        Seen {
            method: Method::GET,
            uri: target.parse().unwrap(),
            version: Version::HTTP_11,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }
}

/// An answer: a status, headers in order (repeats kept), a body, and an optional delay
/// before the head is sent.
///
/// ```
/// use corsica_testkit::server::Reply;
/// let r = Reply::new(204)
///     .header("access-control-allow-origin", "*")
///     .header("vary", "Origin")
///     .delay(std::time::Duration::from_millis(10));
/// assert_eq!(r.status(), 204);
/// ```
#[derive(Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: ReplyBody,
    delay: Option<Duration>,
}

#[derive(Clone)]
enum ReplyBody {
    Full(Bytes),
    /// Given to the first request answered with this reply.
    Stream(Arc<Mutex<Option<Body>>>),
}

impl Reply {
    /// An empty answer with `status`.
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: ReplyBody::Full(Bytes::new()),
            delay: None,
        }
    }

    /// `200 OK` with `body`.
    ///
    /// ```
    /// assert_eq!(corsica_testkit::server::Reply::ok("hi").status(), 200);
    /// ```
    pub fn ok(body: impl Into<Bytes>) -> Reply {
        Reply::new(200).body(body)
    }

    /// Adds a header line (a repeated name adds another line).
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Adds header lines.
    ///
    /// ```
    /// let r = corsica_testkit::server::Reply::new(200).headers([("vary", "Origin".to_owned())]);
    /// assert_eq!(r.status(), 200);
    /// ```
    pub fn headers<N: AsRef<str>>(mut self, lines: impl IntoIterator<Item = (N, String)>) -> Reply {
        for (n, v) in lines {
            self.headers.push((n.as_ref().to_owned(), v));
        }
        self
    }

    /// Replaces the status.
    pub fn status_code(mut self, status: u16) -> Reply {
        self.status = status;
        self
    }

    /// Replaces the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Reply {
        self.body = ReplyBody::Full(body.into());
        self
    }

    /// A streaming body (for example from [`channel_body`]); it is given to the first
    /// request answered with this reply.
    ///
    /// ```
    /// let (_tx, body) = corsica_testkit::server::channel_body(1);
    /// let _r = corsica_testkit::server::Reply::new(200).stream(body);
    /// ```
    pub fn stream(mut self, body: Body) -> Reply {
        self.body = ReplyBody::Stream(Arc::new(Mutex::new(Some(body))));
        self
    }

    /// Waits `delay` before answering.
    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    fn into_response(self) -> Response<Body> {
        let body = match self.body {
            ReplyBody::Full(b) => full(b),
            ReplyBody::Stream(s) => s.lock().unwrap().take().unwrap_or_else(empty),
        };
        let mut r = Response::new(body);
        *r.status_mut() = StatusCode::from_u16(self.status).unwrap();
        for (n, v) in self.headers {
            r.headers_mut().append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(&v).unwrap(),
            );
        }
        r
    }
}

/// What answers requests: a closure from [`Seen`] to [`Reply`], a [`Script`], or a fixed
/// [`Reply`] (for every request).
pub trait Respond: Send + Sync + 'static {
    /// The answer to `seen`.
    fn respond(&self, seen: &Seen) -> Reply;
}

impl<F: Fn(&Seen) -> Reply + Send + Sync + 'static> Respond for F {
    fn respond(&self, seen: &Seen) -> Reply {
        self(seen)
    }
}

impl Respond for Reply {
    fn respond(&self, _: &Seen) -> Reply {
        self.clone()
    }
}

/// Which methods a [`Script`] rule takes.
#[derive(Clone, Copy)]
enum Methods {
    Any,
    Options,
    NotOptions,
}

/// Answers by path: the first rule whose path prefix (and method kind) matches decides;
/// otherwise `404` with no body (or what [`Script::otherwise`] says).
///
/// ```
/// use corsica_testkit::server::{Reply, Respond, Script, Seen};
/// let script = Script::new()
///     .preflight("/api/", Reply::new(204).header("access-control-allow-origin", "*"))
///     .actual("/api/", |s: &Seen| Reply::ok(s.origin().to_owned()));
/// let mut seen = Seen::get("/api/x");
/// seen.headers.insert("origin", "https://a.example".parse().unwrap());
/// assert_eq!(script.respond(&seen).status(), 200);
/// seen.method = http::Method::OPTIONS;
/// assert_eq!(script.respond(&seen).status(), 204);
/// assert_eq!(script.respond(&Seen::get("/other")).status(), 404);
/// ```
pub struct Script {
    rules: Vec<(Methods, String, Box<dyn Respond>)>,
    otherwise: Box<dyn Respond>,
}

impl Default for Script {
    fn default() -> Script {
        Script::new()
    }
}

impl Script {
    /// No rule: everything is `404`.
    pub fn new() -> Script {
        Script {
            rules: Vec::new(),
            otherwise: Box::new(Reply::new(404)),
        }
    }

    /// Any method under `prefix`.
    pub fn on(self, prefix: &str, r: impl Respond) -> Script {
        self.rule(Methods::Any, prefix, r)
    }

    /// `OPTIONS` under `prefix`.
    pub fn preflight(self, prefix: &str, r: impl Respond) -> Script {
        self.rule(Methods::Options, prefix, r)
    }

    /// Every method but `OPTIONS` under `prefix`.
    pub fn actual(self, prefix: &str, r: impl Respond) -> Script {
        self.rule(Methods::NotOptions, prefix, r)
    }

    /// What answers when no rule matches.
    pub fn otherwise(mut self, r: impl Respond) -> Script {
        self.otherwise = Box::new(r);
        self
    }

    fn rule(mut self, methods: Methods, prefix: &str, r: impl Respond) -> Script {
        self.rules.push((methods, prefix.to_owned(), Box::new(r)));
        self
    }
}

impl Respond for Script {
    fn respond(&self, seen: &Seen) -> Reply {
        let rule = self.rules.iter().find(|(m, prefix, _)| {
            let method_ok = match m {
                Methods::Any => true,
                Methods::Options => seen.is_options(),
                Methods::NotOptions => !seen.is_options(),
            };
            method_ok && seen.uri.path().starts_with(prefix.as_str())
        });
        match rule {
            Some((_, _, r)) => r.respond(seen),
            None => self.otherwise.respond(seen),
        }
    }
}

/// The record of a server.
#[derive(Debug, Default)]
struct Log {
    heads: AtomicUsize,
    body_bytes: AtomicU64,
    seen: Mutex<Vec<Seen>>,
}

/// A running test server.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use corsica_testkit::server::{Reply, TestServer};
/// let server = TestServer::start(Reply::ok("hello")).await;
/// let text = corsica_testkit::raw::text(server.addr(), &corsica_testkit::raw::get("/x", "https://a.example")).await;
/// assert!(text.starts_with("http/1.1 200") && text.ends_with("hello"));
/// assert_eq!(server.seen()[0].origin(), "https://a.example");
/// # });
/// ```
pub struct TestServer {
    addr: SocketAddr,
    log: Arc<Log>,
    task: JoinHandle<()>,
    /// The runtime of a server started with [`TestServer::blocking`].
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl TestServer {
    /// Serves plain HTTP/1.1 on a fresh port of 127.0.0.1.
    pub async fn start(handler: impl Respond) -> TestServer {
        Self::listen(handler, |stream| async move { Some(stream) }).await
    }

    /// Serves HTTPS (HTTP/1.1 over TLS) with `leaf`'s certificate.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use corsica_testkit::{client::HttpClient, server::{Reply, TestServer}, tls::Ca};
    /// let ca = Ca::new("test CA");
    /// let server = TestServer::start_tls(&ca.leaf(&["localhost"]), Reply::ok("secure")).await;
    /// let url = format!("https://localhost:{}/", server.addr().port());
    /// let r = HttpClient::https(ca.pem()).get(&url, &[]).await;
    /// assert_eq!(r.text(), "secure");
    /// # });
    /// ```
    #[cfg(feature = "tls")]
    pub async fn start_tls(leaf: &crate::tls::Leaf, handler: impl Respond) -> TestServer {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(leaf.server_config()));
        Self::listen(handler, move |stream| {
            let acceptor = acceptor.clone();
            async move { acceptor.accept(stream).await.ok() }
        })
        .await
    }

    /// [`TestServer::start`] for tests that are not `async`: the server runs on a runtime
    /// of its own, stopped when the server is dropped.
    ///
    /// ```
    /// use corsica_testkit::server::{Reply, TestServer};
    /// let server = TestServer::blocking(Reply::new(204));
    /// let text = corsica_testkit::raw::blocking_text(server.addr(), &corsica_testkit::raw::get("/", "null"));
    /// assert!(text.starts_with("http/1.1 204"));
    /// ```
    pub fn blocking(handler: impl Respond) -> TestServer {
        let rt = crate::runtime();
        let mut server = rt.block_on(TestServer::start(handler));
        server.runtime = Some(rt);
        server
    }

    /// [`TestServer::start_tls`] on a runtime of its own (see [`TestServer::blocking`]).
    ///
    /// ```
    /// use corsica_testkit::{server::{Reply, TestServer}, tls::Leaf};
    /// let server = TestServer::blocking_tls(&Leaf::self_signed(&["localhost"]), Reply::ok("ok"));
    /// assert_ne!(server.addr().port(), 0);
    /// ```
    #[cfg(feature = "tls")]
    pub fn blocking_tls(leaf: &crate::tls::Leaf, handler: impl Respond) -> TestServer {
        let rt = crate::runtime();
        let mut server = rt.block_on(TestServer::start_tls(leaf, handler));
        server.runtime = Some(rt);
        server
    }

    async fn listen<S, F, Fut>(handler: impl Respond, wrap: F) -> TestServer
    where
        F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Option<S>> + Send + 'static,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Log::default());
        let handler: Arc<dyn Respond> = Arc::new(handler);
        let l = log.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (handler, log, conn) = (handler.clone(), l.clone(), wrap(stream));
                tokio::spawn(async move {
                    let Some(io) = conn.await else { return };
                    let service = service_fn(move |req| {
                        let (handler, log) = (handler.clone(), log.clone());
                        async move { Ok::<_, Infallible>(answer(req, &*handler, &log).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(io), service)
                        .await;
                });
            }
        });
        TestServer {
            addr,
            log,
            task,
            runtime: None,
        }
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests' heads arrived (counted before their bodies are read).
    pub fn count(&self) -> usize {
        self.log.heads.load(Ordering::SeqCst)
    }

    /// Body bytes received so far over all requests (counted as frames arrive).
    pub fn body_bytes(&self) -> u64 {
        self.log.body_bytes.load(Ordering::SeqCst)
    }

    /// The completed requests, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.log.seen.lock().unwrap().clone()
    }
}

async fn answer(req: hyper::Request<Incoming>, handler: &dyn Respond, log: &Log) -> Response<Body> {
    log.heads.fetch_add(1, Ordering::SeqCst);
    let (parts, mut body) = req.into_parts();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Some(d) = frame.data_ref() {
            bytes.extend_from_slice(d);
            log.body_bytes.fetch_add(d.len() as u64, Ordering::SeqCst);
        }
    }
    let seen = Seen {
        method: parts.method,
        uri: parts.uri,
        version: parts.version,
        headers: parts.headers,
        body: bytes.into(),
    };
    log.seen.lock().unwrap().push(seen.clone());
    let reply = handler.respond(&seen);
    if let Some(d) = reply.delay {
        tokio::time::sleep(d).await;
    }
    reply.into_response()
}
