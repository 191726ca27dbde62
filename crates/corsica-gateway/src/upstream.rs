//! Upstream HTTP/1.1 connections, pooled per upstream and driven by the request that uses
//! them.
//!
//! hyper-util's legacy client runs each upstream connection in a task of its own: every
//! request crosses a channel to that task and its response comes back through another
//! (one more task wake-up each way, and one more spawned task per request to give the
//! connection back to its pool). Here the request's own task polls the connection, from
//! sending the request to the end of the response body; then the connection goes back to
//! an idle list, unpolled, until the next request takes it.
//!
//! What the legacy client did and this keeps: `https://` upstreams through rustls (the
//! system's roots plus `[tls] upstream_ca`), the connect timeout, reuse, at most
//! `max_idle` idle connections per upstream, an idle timeout, and one retry on a fresh
//! connection for a request that a pooled connection could not send because it was
//! closed meanwhile (the upstream's keep-alive timeout ended it).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{Request, Response, Uri};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tower_service::Service;

use crate::proxy::BoxError;

/// An upstream connection's I/O.
type Io = MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>;

/// Where a connection goes: scheme and authority.
type Key = (Scheme, Authority);

/// One HTTP/1.1 connection to an upstream: the sender of its requests and the connection
/// itself, which whoever uses it polls (`None` once finished).
struct Conn {
    sender: http1::SendRequest<ClientBody>,
    conn: Option<http1::Connection<Io, ClientBody>>,
}

/// The client's request body, forwarded as it arrives. An error reading it is the
/// client's (malformed chunked framing, a connection cut mid-body, nothing sent for
/// `[limits] body_read_timeout_ms`): it comes out as a [`ClientBodyError`], which the
/// upstream exchange's error keeps as its source, so the gateway answers 400 (or 408) and
/// not 502.
pub struct ClientBody {
    /// `None`: no body (a request replayed on a fresh connection, see [`Upstreams::send`]).
    body: Option<Incoming>,
    /// Time allowed between two frames.
    timeout: Duration,
    /// When the body times out: reset on each frame (allocated once per request with a
    /// body, none for the bodiless ones).
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl ClientBody {
    /// `body`, failing with [`ClientBodyError`] if the client sends nothing of it for
    /// `timeout`.
    pub fn new(body: Incoming, timeout: Duration) -> ClientBody {
        ClientBody {
            body: Some(body),
            timeout,
            deadline: None,
        }
    }

    /// No body, for a copy of a bodiless request.
    fn empty() -> ClientBody {
        ClientBody {
            body: None,
            timeout: Duration::ZERO,
            deadline: None,
        }
    }
}

/// The client's request body could not be read.
#[derive(Debug)]
pub enum ClientBodyError {
    /// Reading it failed (malformed framing, the connection cut).
    Read(hyper::Error),
    /// The client sent nothing of it for this long.
    Timeout(Duration),
}

impl std::fmt::Display for ClientBodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientBodyError::Read(e) => {
                write!(f, "the client's request body could not be read: {e}")
            }
            ClientBodyError::Timeout(t) => write!(
                f,
                "the client sent nothing of its request body for {} ms",
                t.as_millis()
            ),
        }
    }
}

impl std::error::Error for ClientBodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientBodyError::Read(e) => Some(e),
            ClientBodyError::Timeout(_) => None,
        }
    }
}

impl HttpBody for ClientBody {
    type Data = Bytes;
    type Error = ClientBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ClientBodyError>>> {
        let this = self.get_mut();
        let Some(body) = &mut this.body else {
            return Poll::Ready(None);
        };
        match Pin::new(body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                // Time starts again for the next frame.
                if let Some(d) = &mut this.deadline {
                    d.as_mut().reset(tokio::time::Instant::now() + this.timeout);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(ClientBodyError::Read(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let timeout = this.timeout;
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(ClientBodyError::Timeout(timeout)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(Incoming::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Incoming::size_hint)
    }
}

/// A copy of a request that can be sent again as it was: an idempotent method (RFC 9110
/// § 9.2.2) and no body; `None` for any other.
fn replayable(req: &Request<ClientBody>) -> Option<Request<ClientBody>> {
    use http::Method;
    let idempotent = matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    );
    if !idempotent || !req.body().is_end_stream() {
        return None;
    }
    let mut copy = Request::new(ClientBody::empty());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    Some(copy)
}

/// Whether a request failed because its connection closed or was reset before any of the
/// response came: what an upstream's keep-alive timeout does to a connection reused just
/// as it expires. (Not an invalid response, nor a timeout.)
fn closed_before_response(e: &hyper::Error) -> bool {
    if e.is_incomplete_message() || e.is_canceled() {
        return true;
    }
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            );
        }
        cause = c.source();
    }
    false
}

impl Conn {
    /// Polls the connection: `Ready` once it is finished (closed, or failed). A finished
    /// connection is dropped at once, which fails the requests it had not sent (with the
    /// request given back, see [`Upstreams::send`]).
    fn poll_conn(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(conn) = &mut self.conn else {
            return Poll::Ready(());
        };
        if conn.poll_without_shutdown(cx).is_ready() {
            self.conn = None;
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Whether the connection is still open.
    fn is_open(&self) -> bool {
        self.conn.is_some()
    }
}

/// An idle connection and when it became idle.
struct Idle {
    conn: Box<Conn>,
    since: Instant,
}

impl Idle {
    /// Whether the connection is within `timeout` of becoming idle and still open: one
    /// poll, in which a connection the upstream closed meanwhile reads its end of file and
    /// finishes.
    fn still_open(&mut self, timeout: Duration) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        self.since.elapsed() < timeout && self.conn.poll_conn(&mut cx).is_pending()
    }
}

/// The pool of upstream connections of one generation of the configuration (kept across
/// reloads that change nothing it depends on).
pub struct Upstreams {
    connector: HttpsConnector<HttpConnector>,
    idle: Mutex<HashMap<Key, VecDeque<Idle>>>,
    max_idle: usize,
    idle_timeout: Duration,
}

/// Why an upstream exchange failed (the gateway answers 502).
#[derive(Debug)]
pub struct UpstreamError {
    error: BoxError,
    /// Whether no connection could be made (refused, unreachable, TLS handshake).
    connecting: bool,
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl UpstreamError {
    /// No connection could be made.
    fn connecting(error: impl Into<BoxError>) -> UpstreamError {
        UpstreamError {
            error: error.into(),
            connecting: true,
        }
    }

    /// The exchange failed on an open connection.
    fn exchanging(error: impl Into<BoxError>) -> UpstreamError {
        UpstreamError {
            error: error.into(),
            connecting: false,
        }
    }

    /// Whether the exchange failed because no connection could be made to the upstream
    /// (rather than on a connection made: an invalid response, a connection closed
    /// before the response, or the client's body).
    pub fn is_connect(&self) -> bool {
        self.connecting
    }

    /// Whether the exchange failed because the client's request body could not be read
    /// (the client's error, not the upstream's).
    pub fn is_client_body(&self) -> bool {
        self.client_body().is_some()
    }

    /// Whether the exchange failed because the client sent nothing of its request body
    /// for `[limits] body_read_timeout_ms`.
    pub fn is_client_body_timeout(&self) -> bool {
        matches!(self.client_body(), Some(ClientBodyError::Timeout(_)))
    }

    /// The client body error that failed the exchange, if one did.
    fn client_body(&self) -> Option<&ClientBodyError> {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&*self.error);
        while let Some(e) = cause {
            if let Some(b) = e.downcast_ref::<ClientBodyError>() {
                return Some(b);
            }
            cause = e.source();
        }
        None
    }
}

impl std::error::Error for UpstreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.error)
    }
}

impl Upstreams {
    /// A pool connecting with `connector`, keeping at most `max_idle` idle connections per
    /// upstream, each for at most `idle_timeout`.
    pub fn new(
        connector: HttpsConnector<HttpConnector>,
        max_idle: usize,
        idle_timeout: Duration,
    ) -> Upstreams {
        Upstreams {
            connector,
            idle: Mutex::new(HashMap::new()),
            max_idle,
            idle_timeout,
        }
    }

    /// Sends `req` (origin-form target, `Host` set) to `target` (an absolute URI: scheme
    /// and authority) on a pooled connection, or a new one, and returns the response head;
    /// its body keeps the connection and gives it back to the pool once read to the end.
    pub async fn send(
        self: &std::sync::Arc<Self>,
        target: &Uri,
        mut req: Request<ClientBody>,
    ) -> Result<Response<crate::proxy::Body>, UpstreamError> {
        let key: Key = match (target.scheme(), target.authority()) {
            (Some(s), Some(a)) => (s.clone(), a.clone()),
            _ => {
                return Err(UpstreamError::connecting(
                    "the upstream has no scheme or authority",
                ));
            }
        };
        // A request on a reused connection that the upstream closed just as it went out
        // (its keep-alive timeout) is sent once more on a new connection, if it can be:
        // what browsers and nginx do for idempotent requests.
        let mut replayed = false;
        loop {
            let pooled = if replayed { None } else { self.take(&key) };
            let (mut conn, reused) = match pooled {
                Some(c) => (c, true),
                // Boxed: a rare path, kept out of the request's future (smaller, so cheaper
                // to move).
                None => (Box::pin(self.connect(target)).await?, false),
            };
            let copy = if reused { replayable(&req) } else { None };
            let sent = conn.sender.try_send_request(req);
            match drive(&mut conn, sent).await {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    let body = PooledBody {
                        body,
                        conn: conn.is_open().then_some(conn),
                        pool: self.clone(),
                        key,
                        watch: None,
                        deadline: None,
                        failed: None,
                    };
                    return Ok(Response::from_parts(
                        parts,
                        crate::proxy::Body::Upstream(body),
                    ));
                }
                Err(mut e) => match (e.take_message(), copy) {
                    // A pooled connection closed before the request went out: once more,
                    // on another.
                    (Some(again), _) if reused => req = again,
                    // Closed as it went out: once more, on a new connection.
                    (None, Some(copy)) if closed_before_response(e.error()) => {
                        tracing::debug!(target: "corsica::gateway", error = %e.error(), "a reused upstream connection closed as the request went out: sent again on a new one");
                        req = copy;
                        replayed = true;
                    }
                    _ => return Err(UpstreamError::exchanging(e.into_error())),
                },
            }
        }
    }

    /// Every `every`, drops the idle connections the upstream has closed (or that are past
    /// the idle timeout), so that they do not sit in `CLOSE_WAIT`, holding a file
    /// descriptor, until a request would have taken them. Runs while the pool lives (it
    /// holds only a weak reference); nothing without a tokio runtime.
    pub fn sweep_idle(self: &std::sync::Arc<Self>, every: Duration) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let pool = std::sync::Arc::downgrade(self);
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(pool) = pool.upgrade() else {
                    return;
                };
                pool.drop_closed();
            }
        });
    }

    /// Polls each idle connection once: those the upstream closed read their end of file
    /// and finish; they are dropped, with those past the idle timeout.
    fn drop_closed(&self) {
        let mut lists = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        lists.retain(|_, list| {
            list.retain_mut(|idle| idle.still_open(self.idle_timeout));
            !list.is_empty()
        });
    }

    /// An idle connection to `key` that is still open, if any.
    fn take(&self, key: &Key) -> Option<Box<Conn>> {
        loop {
            let mut idle = {
                let mut lists = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                lists.get_mut(key)?.pop_back()?
            };
            // An open one becomes ready for a request by that poll.
            if idle.still_open(self.idle_timeout) && idle.conn.sender.is_ready() {
                return Some(idle.conn);
            }
        }
    }

    /// Gives a connection whose response was read to the end back to the pool.
    fn give_back(&self, key: Key, conn: Box<Conn>) {
        let now = Instant::now();
        let mut lists = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = lists.entry(key).or_default();
        // Oldest at the front (connections are given back at the back and taken from it):
        // drop those past the idle timeout, then make room.
        while list
            .front()
            .is_some_and(|i| now.duration_since(i.since) >= self.idle_timeout)
        {
            list.pop_front();
        }
        if list.len() >= self.max_idle {
            list.pop_front();
        }
        if self.max_idle > 0 {
            list.push_back(Idle { conn, since: now });
        }
    }

    /// A new connection to `target` (its TCP connect bounded by the connector's timeout).
    async fn connect(&self, target: &Uri) -> Result<Box<Conn>, UpstreamError> {
        let mut connector = self.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(UpstreamError::connecting)?;
        let io = connector
            .call(target.clone())
            .await
            .map_err(UpstreamError::connecting)?;
        let (sender, conn) = http1::Builder::new()
            .handshake(io)
            .await
            .map_err(UpstreamError::connecting)?;
        // Boxed once here: what holds it (the idle list, a response body) stays small.
        Ok(Box::new(Conn {
            sender,
            conn: Some(conn),
        }))
    }
}

/// Polls the connection and the response future together until the response head comes
/// (or the connection fails it).
async fn drive<F, T>(conn: &mut Conn, sent: F) -> T
where
    F: Future<Output = T>,
{
    let mut sent = std::pin::pin!(sent);
    std::future::poll_fn(|cx| {
        let _ = conn.poll_conn(cx);
        sent.as_mut().poll(cx)
    })
    .await
}

/// A response body that polls its upstream connection while it is read, and gives the
/// connection back to the pool once read to the end (or closes it if dropped before).
/// Once [watched](PooledBody::watch), an upstream that sends nothing of it for a while
/// ends it with an [`UpstreamBodyTimeout`] (and the connection is closed).
pub struct PooledBody {
    body: Incoming,
    conn: Option<Box<Conn>>,
    pool: std::sync::Arc<Upstreams>,
    key: Key,
    /// Time allowed between two frames, the counter of the bodies it ends, and the counter
    /// of the bodies that fail otherwise (cut short, reset) (`None`: not watched).
    watch: Option<(Duration, prometheus::IntCounter, prometheus::IntCounter)>,
    /// When the body times out: reset on each frame (allocated at the first wait only).
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The error that ended the body, held back for one poll (see `poll_frame`).
    failed: Option<BoxError>,
}

/// The upstream sent nothing of its response body for `[limits] upstream_body_timeout_ms`.
#[derive(Debug)]
pub struct UpstreamBodyTimeout(Duration);

impl std::fmt::Display for UpstreamBodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the upstream sent nothing of its response body for {} ms",
            self.0.as_millis()
        )
    }
}

impl std::error::Error for UpstreamBodyTimeout {}

impl PooledBody {
    /// Ends the body with an [`UpstreamBodyTimeout`] (counted in `timeouts`) if the
    /// upstream sends nothing of it for `timeout`; counts in `failures` a body that fails
    /// otherwise (shorter than its `Content-Length`, the connection reset).
    pub fn watch(
        &mut self,
        timeout: Duration,
        timeouts: prometheus::IntCounter,
        failures: prometheus::IntCounter,
    ) {
        self.watch = Some((timeout, timeouts, failures));
    }

    /// Whether the upstream has sent nothing for the watched time (then the body fails
    /// and the connection, mid-response, is dropped: it closes).
    fn timed_out(&mut self, cx: &mut Context<'_>) -> Option<UpstreamBodyTimeout> {
        let (timeout, timeouts, _) = self.watch.as_ref()?;
        let timeout = *timeout;
        let deadline = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        deadline.as_mut().poll(cx).is_ready().then(|| {
            timeouts.inc();
            self.conn = None;
            UpstreamBodyTimeout(timeout)
        })
    }

    /// A frame came: time starts again for the next.
    fn reset_deadline(&mut self) {
        if let (Some((timeout, _, _)), Some(d)) = (&self.watch, &mut self.deadline) {
            d.as_mut().reset(tokio::time::Instant::now() + *timeout);
        }
    }

    /// Polls the connection (it reads the upstream's body into `body`); forgets it once
    /// finished.
    fn poll_conn(&mut self, cx: &mut Context<'_>) {
        if let Some(c) = &mut self.conn {
            if c.poll_conn(cx).is_ready() {
                self.conn = None;
            }
        }
    }

    /// The body is read to the end: the connection goes back to the pool.
    fn release(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.give_back(self.key.clone(), conn);
        }
    }
}

impl HttpBody for PooledBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(e) = this.failed.take() {
            return Poll::Ready(Some(Err(e)));
        }
        // The body first (it asks the connection for more), then the connection (it reads
        // what was asked), then the body again (what the connection read).
        let mut polled = Pin::new(&mut this.body).poll_frame(cx);
        if polled.is_pending() {
            this.poll_conn(cx);
            polled = Pin::new(&mut this.body).poll_frame(cx);
        }
        match polled {
            Poll::Pending => match this.timed_out(cx) {
                Some(e) => {
                    tracing::warn!(target: "corsica::gateway", error = %e, "upstream body timed out");
                    Poll::Ready(Some(Err(e.into())))
                }
                None => Poll::Pending,
            },
            Poll::Ready(None) => {
                this.release();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => {
                this.reset_deadline();
                if this.body.is_end_stream() {
                    this.release();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                // Held back for one poll: the server flushes what it has (the head and the
                // data so far) when a body is pending, but drops it when the body fails in
                // the same turn, and the client would get an empty reply instead of a
                // response visibly cut.
                this.conn = None;
                if let Some((_, _, failures)) = &this.watch {
                    failures.inc();
                }
                this.failed = Some(e.into());
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        // Not read to the end (the client went away): the connection is in the middle of
        // a response and cannot serve another; it closes. Read to the end (or without a
        // body, which a server may drop unread): it goes back.
        if self.body.is_end_stream() {
            self.release();
        }
    }
}
